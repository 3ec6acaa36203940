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


async def test_a_language_without_a_catalog_is_answered_in_english():
    dispatcher = CollectingDispatcher()
    await ActionGreet().run(dispatcher, tracker("sw"), {})
    assert dispatcher.messages[0]["text"] == render("greet", "en")
    dispatcher = CollectingDispatcher()
    await ActionGreet().run(dispatcher, tracker(None), {})
    assert dispatcher.messages[0]["text"] == render("greet", "en")
