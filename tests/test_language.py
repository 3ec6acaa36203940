"""Language detection and the conversation's language (no Rasa server needed)."""
from __future__ import annotations

import pytest

from bot.language import Detection, LanguageDetector, conversation_language, language_hint, normalise_code


@pytest.fixture(scope="module")
def detector():
    d = LanguageDetector()
    d.warm_up()
    return d


@pytest.mark.parametrize("text, language", [
    ("dónde está mi pedido, lo compré hace dos semanas", "es"),
    ("donde esta mi pedido SH-10482 ya paso una semana", "es"),
    ("wo bleibt mein paket, ich warte schon seit zehn tagen", "de"),
    ("ou est ma commande, je l'attends depuis lundi", "fr"),
    ("il mio pacco non è ancora arrivato", "it"),
    ("ainda não recebi a minha encomenda", "pt"),
    ("mijn pakketje is nog steeds niet bezorgd", "nl"),
    ("gdzie jest moja paczka, czekam juz tydzien", "pl"),
    ("siparisim hala gelmedi ne zaman gelir", "tr"),
    ("where is my parcel, it has been two weeks", "en"),
    ("где мой заказ", "ru"),
    ("وين طلبي", "ar"),
    ("注文した荷物がまだ届きません", "ja"),
    ("택배 언제 와요", "ko"),
    ("我的快递到哪了", "zh"),
    ("我的订单什么时候发货", "zh"),  # Chinese read as Korean is langdetect's known bug
])
def test_detects_each_language(detector, text, language):
    found = detector.detect(text)
    assert (found.language, found.reliable) == (language, True)


@pytest.mark.parametrize("text", ["ok", "no", "merci", "SH-10482", "#10482", "👍", "maria@mail.com", "  "])
def test_messages_that_say_too_little_are_not_reliable(detector, text):
    assert not detector.detect(text).reliable


def test_unsupported_languages_are_recognised_not_forced_into_ours(detector):
    assert detector.detect("var är mitt paket, jag har väntat i två veckor").language == "sv"
    assert detector.detect("де моє замовлення, чекаю вже тиждень").language == "uk"
    assert detector.detect("Πού είναι το δέμα μου;").language == "el"


def test_a_message_made_of_our_shoppers_words_is_not_given_to_another_language(detector):
    # fastText's small model alone reads these as Finnish, Hungarian, Slovenian, Romanian (with 0.8+).
    import bot.language as language
    cases = {"ja, die bedoel ik": "nl", "nem a pau": "pt", "mein päckli isch no nöd da": "de",
             "pacote barrado na alfândega 😩": "pt"}
    others = language._SCRIPTS_ALL[language.OTHER_LATIN]
    for text, ours in cases.items():
        other, confidence = language._rank_among(others, language._letters(text))
        assert other in language.OTHER_LATIN and confidence >= 0.8  # the trap is real
        assert detector.detect(text).language == ours
    assert detector.detect("hyvää päivää, missä pakettini viipyy").language == "fi"


def test_shoppers_words_decide_between_close_languages(detector):
    # Mostly English shop words, but German or Dutch grammar words.
    assert detector.detect("hallo, mein tracking ist seit einer woche nicht updated").language == "de"
    assert detector.detect("hoi, mijn tracking is al een week niet geupdate").language == "nl"


def test_detection_is_deterministic(detector):
    texts = ["hola", "ciao", "ok merci", "nao chegou", "paket?", "返品", "tak", "danke schön"]
    first = [detector.detect(t) for t in texts]
    assert all(LanguageDetector().detect(t) == f for t, f in zip(texts, first))


def test_hints_decide_when_the_text_cannot(detector):
    assert detector.detect("ok", hint="es-MX") == Detection("es", 0.0, False, "hint")
    assert detector.detect("返品", hint="ja").language == "ja"  # kanji-only Japanese
    assert detector.detect("返品したいです", hint="zh").language == "ja"  # kana outweigh a wrong hint


def test_a_spanish_conversation_stays_spanish_until_a_real_german_sentence(detector):
    language = None
    for text, expected in [("hola, quiero saber dónde está mi pedido", "es"), ("ok", "es"), ("merci", "es"),
                           ("SH-10482", "es"), ("no", "es"),
                           ("Entschuldigung, ich möchte lieber auf Deutsch weiterschreiben", "de"), ("ja", "de")]:
        language = conversation_language(language, detector.detect(text))
        assert language == expected, text


def test_a_new_conversation_takes_the_storefront_language_first(detector):
    assert conversation_language(None, detector.detect("ok"), hint="fr-FR") == "fr"
    assert conversation_language(None, detector.detect("SH-10482")) == "en"


@pytest.mark.parametrize("metadata, hint", [
    ({"customData": {"language": "pt-BR"}}, "pt"),
    ({"language_code": "de"}, "de"),
    ({"locale": "zh_CN"}, "zh"),
    ({"customData": {"language": 42}}, None),
    ("garbage", None),
    (None, None),
])
def test_language_hints_from_channel_metadata(metadata, hint):
    assert language_hint(metadata) == hint


@pytest.mark.parametrize("code, normalised", [("es-MX", "es"), ("PT_br", "pt"), ("no", "nb"), ("x", None),
                                              ("<script>", None), (None, None)])
def test_language_codes_are_normalised(code, normalised):
    assert normalise_code(code) == normalised
