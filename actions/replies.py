"""Replies that need no data: rendered from the message catalog in the conversation's language."""
from __future__ import annotations

from abc import ABCMeta, abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.i18n import DEFAULT_LANGUAGE, render


def conversation_language(tracker: Tracker) -> str:
    return tracker.get_slot("language") or DEFAULT_LANGUAGE


class LocalizedReply(Action, metaclass=ABCMeta):
    """Says one catalog message; subclasses name it."""

    @property
    @abstractmethod
    def key(self) -> str: ...

    def name(self) -> str:
        return f"action_{self.key}"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        dispatcher.utter_message(text=render(self.key, conversation_language(tracker)))
        return []


class ActionGreet(LocalizedReply):
    key = "greet"


class ActionGoodbye(LocalizedReply):
    key = "goodbye"


class ActionThank(LocalizedReply):
    key = "thank"


class ActionOutOfScope(LocalizedReply):
    key = "out_of_scope"


class ActionFallback(LocalizedReply):
    key = "fallback"
