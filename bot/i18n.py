"""Shopper-facing messages in every supported language, with locale-aware dates and money.

Messages live in bot/locales/<lang>.yml (key -> text with {placeholders}); `render` fills them,
formatting dates, amounts and numbers with Babel for the shopper's locale. Values put into a
right-to-left message are wrapped in Unicode isolates so order numbers and e-mails read correctly.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from string import Formatter
from typing import Any

import yaml
from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime, format_time, get_timezone
from babel.numbers import format_currency, format_decimal

LOCALES_DIR = Path(__file__).parent / "locales"
DEFAULT_LANGUAGE = "en"
RTL_LANGUAGES = {"ar"}
_FSI, _PDI = "\u2068", "\u2069"  # first-strong isolate / pop directional isolate


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class Country:
    """A country, shown by its name in the shopper's language ("CH" -> "Suiza", "スイス")."""

    code: str


@lru_cache(maxsize=None)
def catalog(language: str) -> dict[str, str]:
    path = LOCALES_DIR / f"{language}.yml"
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {str(k): str(v).strip() for k, v in data.items()}


def placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in Formatter().parse(text) if field}


def format_value(value: Any, language: str, timezone: str | None = None) -> str:
    try:
        locale = Locale.parse(language)
    except (ValueError, UnknownLocaleError):
        locale = Locale.parse(DEFAULT_LANGUAGE)
    if isinstance(value, Money):
        return format_currency(value.amount, value.currency, locale=locale)
    if isinstance(value, Country):
        return locale.territories.get(value.code, value.code)
    if isinstance(value, datetime):
        # Date and hour:minute in the locale's order, with the zone: "Nov 23, 2026, 10:00 CET".
        tz = get_timezone(timezone or "UTC")
        combined = str(locale.datetime_formats["medium"])
        text = combined.replace("{1}", format_date(value.astimezone(tz), "medium", locale=locale)).replace(
            "{0}", format_time(value, "short", tzinfo=tz, locale=locale))
        return f"{text} {format_datetime(value, 'z', tzinfo=tz, locale=locale)}"
    if isinstance(value, date):
        return format_date(value, "long", locale=locale)
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return format_decimal(value, locale=locale)
    return str(value)


def render(key: str, language: str, zone: str | None = None, **params: Any) -> str:
    """The message `key` in `language` (English when the language has no catalog or lacks the key).

    Times are shown in `zone` (an IANA name, e.g. the destination's), else in UTC.
    """
    text = catalog(language).get(key)
    if text is None:
        language = DEFAULT_LANGUAGE
        text = catalog(DEFAULT_LANGUAGE)[key]  # KeyError: a message every language must have is missing
    values = {}
    for name in placeholders(text):
        if name not in params:
            raise KeyError(f"message {key!r} needs {{{name}}}")
        shown = format_value(params[name], language, zone)
        values[name] = f"{_FSI}{shown}{_PDI}" if language in RTL_LANGUAGES else shown
    return text.format(**values)
