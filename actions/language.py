"""Keeps the conversation's language in the `language` slot, after every shopper message."""
from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker, ValidationAction
from rasa_sdk.executor import CollectingDispatcher

from bot.language import Detection, conversation_language, language_hint


class ValidateSlotMappings(ValidationAction):
    """Rasa runs this after each user message (global slot mappings)."""

    def name(self) -> str:
        return "action_validate_slot_mappings"

    async def extract_language(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: dict[str, Any]) -> dict[str, Any]:
        parsed = tracker.latest_message or {}
        detection = Detection(language=parsed.get("language"), confidence=parsed.get("language_confidence") or 0.0,
                              reliable=bool(parsed.get("language_reliable")), method="nlu")
        current = tracker.get_slot("language")
        language = conversation_language(current, detection, language_hint(parsed.get("metadata")))
        return {"language": language} if language != current else {}
