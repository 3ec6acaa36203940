"""Custom actions run with rasa_sdk's own Tracker and CollectingDispatcher (no Rasa server)."""
from __future__ import annotations

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.replies import ActionFallback, ActionGreet
from bot.i18n import render


def tracker(language: str | None) -> Tracker:
    return Tracker(sender_id="s1", slots={"language": language}, latest_message={"text": "hi"}, events=[],
                   paused=False, followup_action=None, active_loop={}, latest_action_name="action_listen")


@pytest.mark.parametrize("action, key", [(ActionGreet(), "greet"), (ActionFallback(), "fallback")])
async def test_replies_come_from_the_catalog_in_the_conversation_language(action, key):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker("en"), {})
    assert events == []
    assert [m["text"] for m in dispatcher.messages] == [render(key, "en")]
    assert action.name() == f"action_{key}"


async def test_a_language_without_a_catalog_offline_gets_english_and_a_note_once():
    dispatcher = CollectingDispatcher()
    events = await ActionGreet().run(dispatcher, tracker("sw"), {})
    assert [m["text"] for m in dispatcher.messages] == [render("unsupported_language", "en"), render("greet", "en")]
    assert events == [{"event": "slot", "timestamp": None, "name": "unsupported_language_noted", "value": True}]
    noted = tracker("sw")
    noted.slots["unsupported_language_noted"] = True
    dispatcher = CollectingDispatcher()
    await ActionGreet().run(dispatcher, noted, {})
    assert [m["text"] for m in dispatcher.messages] == [render("greet", "en")]


async def test_no_language_yet_means_english():
    dispatcher = CollectingDispatcher()
    await ActionGreet().run(dispatcher, tracker(None), {})
    assert [m["text"] for m in dispatcher.messages] == [render("greet", "en")]
