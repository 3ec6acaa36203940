"""What every action shares: the conversation's language, localized replies, the case services."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.db import Database
from bot.i18n import render
from bot.language import DEFAULT_LANGUAGE, is_supported
from bot.policy import load_policy
from bot.service import AfterSales, Conversation
from bot.translation import TranslationUnavailable, Translator


@lru_cache(maxsize=1)
def after_sales() -> AfterSales:
    return AfterSales(Database(), load_policy())


@lru_cache(maxsize=1)
def translator() -> Translator:
    return Translator()


def language_of(tracker: Tracker) -> str:
    return tracker.get_slot("language") or DEFAULT_LANGUAGE


def conversation_of(tracker: Tracker) -> Conversation:
    return Conversation(id=tracker.sender_id, language=language_of(tracker),
                        channel=tracker.get_latest_input_channel() or None)


class Reply:
    """Collects an action's messages in the conversation's language.

    Languages without a catalog get the English text machine-translated; when no translation
    service answers they get English, and once per conversation a note that a person can help
    in their language.
    """

    def __init__(self, dispatcher: CollectingDispatcher, tracker: Tracker):
        self.dispatcher, self.tracker = dispatcher, tracker
        self.language = language_of(tracker)
        self.events: list[dict[str, Any]] = []

    def say(self, key: str, **params: Any) -> None:
        if is_supported(self.language):
            self.dispatcher.utter_message(text=render(key, self.language, **params))
            return
        english = render(key, "en", **params)
        try:
            self.dispatcher.utter_message(text=translator().translate(english, "en", self.language))
        except TranslationUnavailable:
            if not self.tracker.get_slot("unsupported_language_noted") and not self.events:
                self.dispatcher.utter_message(text=render("unsupported_language", "en"))
                self.events.append(SlotSet("unsupported_language_noted", True))
            self.dispatcher.utter_message(text=english)
