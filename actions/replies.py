"""Replies that need no order data: greetings, thanks, small talk, fallback, handing over."""
from __future__ import annotations

from abc import ABCMeta, abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import Reply, after_sales, conversation_of
from bot.engine import Handoff


class LocalizedReply(Action, metaclass=ABCMeta):
    """Says one catalog message; subclasses name it."""

    @property
    @abstractmethod
    def key(self) -> str: ...

    def name(self) -> str:
        return f"action_{self.key}"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        reply = Reply(dispatcher, tracker)
        reply.say(self.key)
        return reply.events


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


class ActionAcknowledge(LocalizedReply):
    key = "acknowledge"


class ActionAskWhatToDo(LocalizedReply):
    key = "ask_what_to_do"


class ActionHandoff(Action):
    """Opens (or reuses) a case for a person, in the shopper's language, and says so."""

    def name(self) -> str:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        reply = Reply(dispatcher, tracker)
        intent = (tracker.latest_message.get("intent") or {}).get("name") or "shopper_asked"
        reason = "shopper_asked" if intent == "human_handoff" else intent
        result = after_sales().handle(None, Handoff(reason=reason), conversation_of(tracker))
        reply.say("handoff_created", case_number=result.case_number, agent_due_at=result.details["agent_due_at"])
        return reply.events
