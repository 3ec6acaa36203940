"""Every reply exists in every language, with the same placeholders, and renders completely."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from bot.i18n import Money, catalog, placeholders, render
from bot.language import SUPPORTED

ENGLISH = catalog("en")
SAMPLE = {"case_number": "CS-7K3Q9P", "agent_due_at": datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc),
          "order_number": "SH-10482", "amount": Money(Decimal("1234.5"), "EUR"), "date": date(2026, 11, 30)}


@pytest.mark.parametrize("language", SUPPORTED)
def test_every_message_exists_in_every_language(language):
    messages = catalog(language)
    assert set(messages) == set(ENGLISH), set(messages) ^ set(ENGLISH)
    for key, text in messages.items():
        assert text.strip(), key
        assert placeholders(text) == placeholders(ENGLISH[key]), (language, key)
        if language != "en":
            assert text != ENGLISH[key] or not any(c.isalpha() for c in text), (language, key, "not translated")


@pytest.mark.parametrize("language", SUPPORTED)
def test_every_message_renders_with_no_placeholder_left(language):
    for key in ENGLISH:
        params = {name: SAMPLE.get(name, f"<{name}>") for name in placeholders(ENGLISH[key])}
        text = render(key, language, **params)
        assert "{" not in text and "}" not in text, (language, key)


def test_dates_and_money_follow_the_shoppers_locale():
    assert render("handoff_created", "de", case_number="CS-1", agent_due_at=SAMPLE["agent_due_at"]) != \
        render("handoff_created", "en", case_number="CS-1", agent_due_at=SAMPLE["agent_due_at"])
    from bot.i18n import format_value
    assert format_value(SAMPLE["amount"], "de") == "1.234,50\xa0€"
    assert format_value(SAMPLE["amount"], "en") == "€1,234.50"
    assert format_value(SAMPLE["date"], "ja") == "2026年11月30日"


def test_values_in_arabic_messages_keep_their_direction():
    text = render("handoff_created", "ar", case_number="CS-7K3Q9P", agent_due_at=SAMPLE["agent_due_at"])
    assert "\u2068CS-7K3Q9P\u2069" in text  # isolated: a Latin case number inside right-to-left text


def test_a_missing_parameter_is_an_error_not_a_silent_gap():
    with pytest.raises(KeyError, match="case_number"):
        render("handoff_created", "en", agent_due_at=SAMPLE["agent_due_at"])
