"""What every action shares: the conversation's language, localized replies, the case services."""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable, Sequence

from rasa_sdk import Tracker
from rasa_sdk.events import ConversationPaused, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError

from bot.db import Database
from bot.engine import OrderSnapshot, Request
from bot.explain import Button, Explainer, Message
from bot.i18n import render
from bot.identity import Verifier
from bot.language import DEFAULT_LANGUAGE, is_supported
from bot.policy import load_policy
from bot.service import AfterSales, Conversation, OrderNotFound
from bot.translation import TranslationUnavailable, Translator


@lru_cache(maxsize=1)
def after_sales() -> AfterSales:
    return AfterSales(Database(), load_policy())


@lru_cache(maxsize=1)
def translator() -> Translator:
    return Translator()


def language_of(tracker: Tracker) -> str:
    return tracker.get_slot("language") or DEFAULT_LANGUAGE


@lru_cache(maxsize=1)
def verifier() -> Verifier:
    return Verifier(after_sales().db)


def conversation_of(tracker: Tracker) -> Conversation:
    return Conversation(id=tracker.sender_id, language=language_of(tracker),
                        channel=tracker.get_latest_input_channel() or None,
                        case_number=tracker.get_slot("case_number"), summary=summary_of(tracker))


def carry_out(reply: "Reply", tracker: Tracker, number: str | None,
              request_for: Callable[[OrderSnapshot | None], Request]) -> list[dict[str, Any]]:
    """Decide the request on the order (if any), carry the decision out, explain it to the shopper;
    the case it opened or updated goes in the `case_number` slot."""
    try:
        result = after_sales().handle(number, request_for, conversation_of(tracker))
    except (SQLAlchemyError, OrderNotFound):
        reply.say("service_unavailable")
        return []
    # Without an order to say where the shopper is, times are the support team's.
    explainer = Explainer(reply.catalog_language, result.order,
                          zone=after_sales().policy.business_hours.timezone.key)
    for message in explainer.explain(result):
        reply.send(message)
    events = [SlotSet("case_number", result.case_number)] if result.case_number else []
    if result.decision.action("escalate"):
        events += hand_to_people(reply, explainer.zone)
    return events


def hand_to_people(reply: "Reply", zone: str) -> list[dict[str, Any]]:
    """The bot steps back: it answers nothing until an agent hands the conversation back (the
    shopper's messages still reach the agent's console live)."""
    hours = after_sales().policy.business_hours
    now = after_sales().clock()
    if hours.is_open(now):
        reply.say("paused.open")
    else:
        reply.say("paused.closed", zone=zone, back_at=hours.next_open(now))
    return [ConversationPaused()]


def summary_of(tracker: Tracker, messages: int = 6) -> str:
    """What an agent reads first: the request, the order, the latest case, the shopper's last words."""
    said = [e.get("text") for e in tracker.events if e.get("event") == "user" and e.get("text")][-messages:]
    facts = [f"{name}: {tracker.get_slot(slot)}" for name, slot in
             (("request", "request"), ("order", "current_order"), ("case", "case_number"), ("language", "language"))
             if tracker.get_slot(slot)]
    return "\n".join([" · ".join(facts), *(f"> {text[:300]}" for text in said)]).strip()


class Reply:
    """Collects an action's messages in the conversation's language.

    Languages without a catalog get the English text machine-translated; when no translation
    service answers they get English, and once per conversation a note that a person can help
    in their language.
    """

    def __init__(self, dispatcher: CollectingDispatcher, tracker: Tracker):
        self.dispatcher, self.tracker = dispatcher, tracker
        self.language = language_of(tracker)
        self.catalog_language = self.language if is_supported(self.language) else "en"
        self.events: list[dict[str, Any]] = []

    def text(self, key: str, **params: Any) -> str:
        """A catalog message in the language replies are written in (before any translation)."""
        return render(key, self.catalog_language, **params)

    def say(self, key: str, buttons: Sequence[Button] = (), zone: str | None = None, **params: Any) -> None:
        self.send(Message(render(key, self.catalog_language, zone, **params), tuple(buttons)))

    def send(self, message: Message) -> None:
        text = message.text
        if not is_supported(self.language):
            try:
                text = translator().translate(text, "en", self.language)
            except TranslationUnavailable:
                if not self.tracker.get_slot("unsupported_language_noted") and not self.events:
                    self.dispatcher.utter_message(text=render("unsupported_language", "en"))
                    self.events.append(SlotSet("unsupported_language_noted", True))
        self.dispatcher.utter_message(text=text, buttons=[{"title": b.title, "payload": b.payload}
                                                          for b in message.buttons])
