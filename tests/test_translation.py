"""The translation interface against a local LibreTranslate stand-in (the real services are
unreachable from here): masking, direction, failure and timeout behaviour."""
from __future__ import annotations

import pytest

from bot.translation import TranslationUnavailable, Translator, TranslatorConfig, mask, unmask
from tests.standins.libretranslate import LibreTranslateStandIn


@pytest.fixture
def libre():
    server = LibreTranslateStandIn()
    yield server
    server.close()


def test_protected_parts_are_masked_and_restored():
    text = "Order SH-10482 to maria.lopez@mail.es, +34 612 34 56 78, 28014, €49.99, track 1Z999AA10123456784"
    masked, kept = mask(text)
    for part in ("SH-10482", "maria.lopez@mail.es", "+34 612 34 56 78", "28014", "1Z999AA10123456784"):
        assert part in kept and part not in masked
    assert unmask(masked, kept) == text


def test_a_dropped_placeholder_is_never_lost():
    masked, kept = mask("where is SH-10482")
    assert unmask("where is it", kept) == "where is it (SH-10482)"


def test_translation_goes_through_the_configured_service(libre):
    translator = Translator(TranslatorConfig(backend="libre", base_url=libre.url))
    assert translator.translate("var är mitt paket SH-10482?", "sv", "en") == "where is my parcel SH-10482?"
    assert libre.requests[-1]["q"] == "var är mitt paket ⟦0⟧?"  # the order number never left
    assert (libre.requests[-1]["source"], libre.requests[-1]["target"]) == ("sv", "en")
    assert translator.translate("same", "en", "en") == "same" and len(libre.requests) == 1


def test_an_unreachable_or_failing_service_raises_translation_unavailable(libre):
    libre.fail = True
    with pytest.raises(TranslationUnavailable):
        Translator(TranslatorConfig(backend="libre", base_url=libre.url)).translate("hej", "sv", "en")
    with pytest.raises(TranslationUnavailable):
        Translator(TranslatorConfig(backend="libre", base_url="http://127.0.0.1:9")).translate("hej", "sv", "en")
    with pytest.raises(TranslationUnavailable):
        Translator(TranslatorConfig(backend="none")).translate("hej", "sv", "en")


def test_a_silent_service_times_out(tmp_path):
    import socket
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the connection, never answers
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        with pytest.raises(TranslationUnavailable, match="no answer within"):
            Translator(TranslatorConfig(backend="libre", base_url=url, timeout_seconds=0.5)).translate("hej", "sv", "en")
    finally:
        listener.close()


def test_names_and_addresses_given_are_kept_out_of_translation(libre):
    translator = Translator(TranslatorConfig(backend="libre", base_url=libre.url))
    result = translator.translate("I will send it to Calle Mayor 12, Madrid today", "en", "es",
                                  keep=["Calle Mayor 12", "Madrid"])
    assert libre.requests[-1]["q"] == "I will send it to ⟦0⟧, ⟦1⟧ today"
    assert result == "[es] I will send it to Calle Mayor 12, Madrid today"


def test_translations_are_cached_in_the_database_across_processes(libre, db):
    first = Translator(TranslatorConfig(backend="libre", base_url=libre.url), db=db)
    assert first.translate("hej", "sv", "en") == "hello"
    again = Translator(TranslatorConfig(backend="libre", base_url=libre.url), db=db)  # e.g. another process
    libre.fail = True  # the service is down now: the cached translation still answers
    assert again.translate("hej", "sv", "en") == "hello"
    assert len(libre.requests) == 1
    with pytest.raises(TranslationUnavailable):
        again.translate("tack så mycket", "sv", "en")


def test_after_a_failure_the_service_is_left_alone_for_a_while(libre):
    translator = Translator(TranslatorConfig(backend="libre", base_url=libre.url, retry_seconds=60))
    libre.fail = True
    with pytest.raises(TranslationUnavailable):
        translator.translate("hej", "sv", "en")
    libre.fail = False
    with pytest.raises(TranslationUnavailable, match="not asked again yet"):
        translator.translate("hej", "sv", "en")
    assert len(libre.requests) == 1
