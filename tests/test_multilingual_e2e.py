"""Real servers, real model: each language is understood and answered in kind; the conversation's
language is sticky; an unsupported language is translated when a service answers, and otherwise
answered in English with a person offered."""
from __future__ import annotations

import pytest

from bot.i18n import catalog, render
from tests.servers import RasaStack, demo_shop
from tests.standins.libretranslate import LibreTranslateStandIn

GREETINGS = {"en": "hi there", "es": "hola, buenas", "fr": "bonjour", "de": "hallo zusammen", "it": "ciao a tutti",
             "pt": "olá, bom dia", "nl": "hoi, goedemiddag", "pl": "dzień dobry", "ru": "здравствуйте",
             "tr": "merhaba", "ar": "مرحبا", "ja": "こんにちは", "ko": "안녕하세요", "zh": "你好"}
SENTENCES = {"en": "where is my parcel, it should have arrived by now",
             "es": "hola, quiero saber dónde está mi pedido",
             "fr": "bonjour, je voudrais annuler ma commande",
             "de": "ich möchte die Lieferadresse meiner Bestellung ändern",
             "it": "il pacco è arrivato tutto rotto",
             "pt": "ainda não recebi o reembolso da devolução",
             "nl": "ik wil deze schoenen graag terugsturen",
             "pl": "chcę zwrócić buty, są za małe",
             "ru": "где моя посылка, жду уже две недели",
             "tr": "gümrük vergisini kim ödüyor",
             "ar": "أبغى أتكلم مع موظف خدمة العملاء",
             "ja": "注文をキャンセルしたいです",
             "ko": "배송 주소를 변경하고 싶어요",
             "zh": "我想退货，尺码不合适"}


@pytest.fixture(scope="module")
def shop_url(tmp_path_factory):
    return demo_shop(tmp_path_factory.mktemp("shop"))


@pytest.fixture(scope="module")
def stack(trained_model, shop_url, tmp_path_factory):
    servers = RasaStack(trained_model, tmp_path_factory.mktemp("stack"), {"DATABASE_URL": shop_url}).start()
    yield servers
    servers.stop()


@pytest.mark.parametrize("language", sorted(SENTENCES))
def test_parse_returns_the_language_at_the_top_level(stack, language):
    parsed = stack.parse(SENTENCES[language])
    assert (parsed["language"], parsed["language_reliable"]) == (language, True)


@pytest.mark.parametrize("language", sorted(GREETINGS))
def test_a_greeting_is_answered_in_the_shoppers_language(stack, language):
    sender = stack.new_sender()
    assert stack.send(sender, GREETINGS[language], {"customData": {"language": language}}) == [render("greet", language)]
    assert stack.tracker(sender)["slots"]["language"] == language


@pytest.mark.parametrize("language", sorted(SENTENCES))
def test_a_request_in_each_language_is_understood_and_answered_in_it(stack, language):
    sender = stack.new_sender()
    replies = stack.send(sender, SENTENCES[language])
    tracker = stack.tracker(sender)
    assert tracker["slots"]["language"] == language
    assert tracker["latest_message"]["intent"]["name"] in {
        "track_order", "cancel_order", "change_address", "item_problem", "refund_status", "return_item",
        "customs_duties", "human_handoff"}
    # A request starts its flow, which first asks which order; a person is a case right away.
    intent = tracker["latest_message"]["intent"]["name"]
    key = "handoff_created" if intent == "human_handoff" else "ask_order_number"
    assert replies[0].startswith(catalog(language)[key].split("{")[0]), replies
    # Handed to a person, the bot says it steps back until they join (the wording depends on the hour).
    assert len(replies) == (2 if key == "handoff_created" else 1), replies
    if key == "handoff_created":
        assert replies[1] == render("paused.open", language) or replies[1].startswith(
            catalog(language)["paused.closed"].split("{")[0])


def test_the_conversation_language_is_sticky(stack):
    sender = stack.new_sender()
    turns = [("hola, quiero saber dónde está mi pedido", "es"), ("ok", "es"), ("merci", "es"), ("SH-10482", "es"),
             ("Entschuldigung, ich schreibe lieber auf Deutsch weiter, danke schön", "de"), ("ja", "de")]
    for text, language in turns:
        replies = stack.send(sender, text)
        assert stack.tracker(sender)["slots"]["language"] == language, text
        assert replies and all(r in _all_rendered(language) for r in replies), (text, replies)


def test_the_storefront_locale_decides_a_message_that_says_too_little(stack):
    sender = stack.new_sender()
    stack.send(sender, "ok 👍", {"customData": {"language": "fr-FR"}})
    assert stack.tracker(sender)["slots"]["language"] == "fr"


def test_an_unsupported_language_offline_gets_english_and_the_offer_of_a_person(stack):
    sender = stack.new_sender()
    replies = stack.send(sender, "Hej! Var är mitt paket? Jag har väntat i två veckor nu.")
    assert stack.tracker(sender)["slots"]["language"] == "sv"
    assert replies[0] == render("unsupported_language", "en")
    assert all(r in _all_rendered("en") for r in replies[1:]) and len(replies) >= 2
    # The note comes once per conversation, not on every reply.
    again = stack.send(sender, "Tack så mycket för hjälpen, det var allt för idag")
    assert render("unsupported_language", "en") not in again and again


def test_an_unsupported_language_is_translated_both_ways_when_a_service_answers(trained_model, shop_url,
                                                                                  tmp_path):
    libre = LibreTranslateStandIn()
    servers = RasaStack(trained_model, tmp_path, {"DATABASE_URL": shop_url, "TRANSLATION_BACKEND": "libre",
                                                  "TRANSLATION_BASE_URL": libre.url}).start()
    try:
        sender = servers.new_sender()
        replies = servers.send(sender, "Hej, jag vill prata med en människa tack")
        tracker = servers.tracker(sender)
        assert tracker["latest_message"]["intent"]["name"] == "human_handoff"
        assert tracker["latest_message"]["translated_from"] == "sv"
        assert len(replies) == 2 and replies[0].startswith("[sv] " + catalog("en")["handoff_created"].split("{")[0])
        assert ("sv", "en") in {(r["source"], r["target"]) for r in libre.requests}
        assert ("en", "sv") in {(r["source"], r["target"]) for r in libre.requests}
    finally:
        servers.stop()
        libre.close()


def _all_rendered(language: str) -> set[str]:
    """Every message of the catalog that needs no parameters, as the shopper would see it."""
    return {render(key, language) for key, text in catalog(language).items() if "{" not in text}


# Measured on the held-out split by scripts/evaluate_nlu.py (README: Understanding): intent accuracy
# 94.7% (tr) to 99.0% (en, nl, ko), language ID on 3+ words 99.2% to 100%. The floors sit a little under the
# weakest language so a regression in data, pipeline or detector fails here (without the e5 encoder
# tr falls to 90.6%); the intent target (95%) is not met in every language yet.
INTENT_ACCURACY_FLOOR = 0.93
LANGUAGE_ID_FLOOR = 0.98


@pytest.mark.parametrize("language", sorted(SENTENCES))
def test_held_out_messages_are_understood(stack, language):
    from rasa.shared.nlu.training_data.loading import load_data
    from bot.config import PROJECT_ROOT
    from components.tokenizer import split_words

    examples = load_data(str(PROJECT_ROOT / "tests" / "nlu_heldout" / f"{language}.yml")).training_examples
    parsed = [(m, stack.parse(m.get("text"))) for m in examples]
    accuracy = sum(p["intent"]["name"] == m.get("intent") for m, p in parsed) / len(parsed)
    long_ = [(m, p) for m, p in parsed if sum(any(c.isalpha() for c in w) for w in split_words(m.get("text"))) >= 3]
    language_id = sum(p["language"] == language for _, p in long_) / len(long_)
    assert accuracy >= INTENT_ACCURACY_FLOOR, f"{language}: intent accuracy {accuracy:.1%}"
    assert language_id >= LANGUAGE_ID_FLOOR, f"{language}: language ID {language_id:.1%} on 3+ words"
