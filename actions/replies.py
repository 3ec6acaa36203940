"""Replies that need no order data (greetings, thanks, small talk, fallback) and handing over to people."""
from __future__ import annotations

from abc import ABCMeta, abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError

from actions.common import Reply, after_sales, carry_out
from bot import satisfaction
from bot.engine import Complaint, Handoff
from bot.explain import Button
from bot.flows import LEGAL_THREAT


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


class EndOfConversation(LocalizedReply):
    """Bye or thanks: after something was resolved, the bot asks once for a 1-5 rating."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        reply = Reply(dispatcher, tracker)
        reply.say(self.key)
        if _something_was_resolved(tracker) and tracker.get_slot("rating_asked") is None:
            reply.say("rating.ask", buttons=[Button(b["title"], b["payload"]) for b in satisfaction.buttons()])
            reply.events.append(SlotSet("rating_asked", True))
        return reply.events


def _something_was_resolved(tracker: Tracker) -> bool:
    """A request carried out by the bot, or a case an agent resolved and handed back."""
    return tracker.get_slot("case_status") == "resolved" or any(
        e.get("event") == "action" and e.get("name") == "action_carry_out_request" for e in tracker.events)


class ActionGoodbye(EndOfConversation):
    """"İyi günler", "buenas", "good day" open a chat as often as they close one: a farewell that is
    the shopper's first message in the conversation is answered as the greeting it is."""

    key = "goodbye"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        if _opens_the_conversation(tracker):
            return await ActionGreet().run(dispatcher, tracker, domain)
        return await super().run(dispatcher, tracker, domain)


def _opens_the_conversation(tracker: Tracker) -> bool:
    turns = 0
    for event in reversed(tracker.events):
        if event.get("event") == "session_started":
            break
        turns += event.get("event") == "user"
    return turns <= 1


class ActionThank(EndOfConversation):
    key = "thank"


class ActionOutOfScope(LocalizedReply):
    key = "out_of_scope"


class ActionAcknowledge(LocalizedReply):
    key = "acknowledge"


class ActionAskWhatToDo(LocalizedReply):
    """Data with nothing pending: the rating the bot asked for, or else "what shall I do with it?"."""

    key = "ask_what_to_do"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        entity = next((e.get("value") for e in tracker.latest_message.get("entities", []) if e.get("entity") == "rating"),
                      None)
        score = satisfaction.rating_from(tracker.latest_message.get("text"), entity) \
            if tracker.get_slot("rating_asked") else None
        if score is None:
            return await super().run(dispatcher, tracker, domain)
        reply = Reply(dispatcher, tracker)
        try:
            satisfaction.record(after_sales().db, tracker.sender_id, score, reply.language,
                                tracker.get_latest_input_channel() or None, tracker.get_slot("case_number"),
                                after_sales().clock())
        except SQLAlchemyError:
            pass  # a lost rating is no reason to fail the shopper: they still get thanked
        reply.say("rating.thanks" if score >= 4 else "rating.thanks_low")
        return reply.events + [SlotSet("rating_asked", False)]


class PersonNeeded(Action, metaclass=ABCMeta):
    """Hands the conversation to people: a case (the conversation's own, when it has one) with a
    summary, priority and SLA from the policy, explained to the shopper in their language."""

    @abstractmethod
    def request(self, tracker: Tracker) -> Handoff | Complaint: ...

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        reply = Reply(dispatcher, tracker)
        events = carry_out(reply, tracker, tracker.get_slot("current_order"), lambda _order: self.request(tracker))
        return reply.events + events

class ActionHandoff(PersonNeeded):
    def name(self) -> str:
        return "action_handoff"

    def request(self, tracker: Tracker) -> Handoff:
        intent = (tracker.latest_message.get("intent") or {}).get("name") or "human_handoff"
        return Handoff(reason="shopper_asked" if intent == "human_handoff" else intent)


class ActionFallback(PersonNeeded):
    """Asks again; when the bot did not understand twice in a row, a person takes over."""

    def name(self) -> str:
        return "action_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        if not _previous_turn_fell_back(tracker):
            reply = Reply(dispatcher, tracker)
            reply.say("fallback")
            return reply.events
        Reply(dispatcher, tracker).say("fallback_handoff")
        return await super().run(dispatcher, tracker, domain)

    def request(self, tracker: Tracker) -> Handoff:
        return Handoff(reason="repeated_fallback")


def _previous_turn_fell_back(tracker: Tracker) -> bool:
    """Whether the bot's answer to the shopper's previous message was this fallback too."""
    turns = 0
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            turns += 1
            if turns == 2:
                break
        elif turns == 1 and event.get("event") == "action" and event.get("name") not in ("action_listen", None):
            if event["name"] == "action_fallback":
                return True
    return False


class ActionComplaint(PersonNeeded):
    def name(self) -> str:
        return "action_complaint"

    def request(self, tracker: Tracker) -> Complaint:
        return Complaint(legal_threat=bool(LEGAL_THREAT.search(tracker.latest_message.get("text") or "")))
