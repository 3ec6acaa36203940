"""Slots kept after every shopper message (global slot mappings): the conversation's language,
and the customer a signed storefront token vouches for."""
from __future__ import annotations

import os
from typing import Any

from rasa_sdk import Tracker, ValidationAction
from rasa_sdk.executor import CollectingDispatcher

from bot.identity import customer_from_token
from bot.language import Detection, conversation_language, language_hint
from bot.models import utcnow

TOKEN_KEY = "customer_token"  # in the message metadata or the widget's customData
# Answers written in the destination's language, whatever the shopper's.
DATA_SLOTS = ("addr_line1", "addr_city", "addr_postcode", "addr_region")


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
        if current and (tracker.active_loop or {}).get("name") and tracker.get_slot("requested_slot") in DATA_SLOTS:
            return {}  # "上海" or "Kastanienallee 7" is an address, not a change of language
        language = conversation_language(current, detection, language_hint(parsed.get("metadata")))
        return {"language": language} if language != current else {}

    async def extract_customer_email(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                     domain: dict[str, Any]) -> dict[str, Any]:
        """A genuine, unexpired token from the shop's backend verifies the customer; anything else
        changes nothing (the shopper verifies with order number and e-mail or postcode instead)."""
        metadata = (tracker.latest_message or {}).get("metadata") or {}
        if not isinstance(metadata, dict):
            return {}
        custom = metadata.get("customData") if isinstance(metadata.get("customData"), dict) else {}
        token = metadata.get(TOKEN_KEY) or custom.get(TOKEN_KEY)
        email = customer_from_token(token, os.environ.get("CUSTOMER_TOKEN_SECRET"), utcnow())
        return {"customer_email": email} if email and email != tracker.get_slot("customer_email") else {}
