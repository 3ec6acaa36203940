"""How much a shopper's message may carry, in one place (README "Limits"). No Rasa imports.

Every channel hands its messages through `clean_message` (channels/common.py: `guarded`), and the
NLU pipeline's first component (components/message_limit.py) applies `clean_text` again to
whatever else reaches it (the HTTP API's /model/parse and /conversations/<id>/messages).
"""
from __future__ import annotations

import json
import re
from typing import Any

MAX_MESSAGE_CHARS = 2000  # characters of a chat message kept and understood (Messenger's own limit)
MAX_SENDER_CHARS = 128  # a conversation id (cases.conversation_id is 128 characters)
MAX_METADATA_BYTES = 8 * 1024  # a message's metadata as JSON; above it only the keys we read are kept
MAX_METADATA_DEPTH = 8  # nesting: Rasa copies metadata recursively, and [[[[...]]]] overflows the stack
MAX_HINT_CHARS = 35  # a language hint (BCP 47 tags are short)
MAX_TOKEN_CHARS = 1024  # a signed storefront token (customer_token)
RASA_MAX_REQUEST_BYTES = 1024 * 1024  # a request body to the Rasa server (413 above)

# Control characters other than tab and line breaks, and lone UTF-16 surrogates (a JSON "\ud800"):
# nothing a keyboard types, and what breaks encoders, tokenizers and databases downstream.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
HINT_KEYS = ("language", "locale", "language_code")  # bot/language.py reads these
TOKEN_KEY = "customer_token"
METADATA_CONTAINER = "customData"  # the widget's metadata key


def clean_text(text: Any, limit: int = MAX_MESSAGE_CHARS) -> str | None:
    """The message as the bot reads it: no control characters or lone surrogates, at most `limit`
    characters; None when it is not text at all."""
    if not isinstance(text, str):
        return None
    text = _SURROGATE.sub("\ufffd", _CONTROL.sub("", text))
    return text[:limit]


# A conversation id names the conversation in Rasa's URL paths (/conversations/<id>/...), which
# Rasa 3.6 does not decode: only characters that need no escaping there, as every channel makes.
_SENDER = re.compile(r"[A-Za-z0-9._:@+=~-]{1,%d}" % MAX_SENDER_CHARS)


def clean_sender(sender: Any) -> str | None:
    """A usable conversation id: 1 to MAX_SENDER_CHARS letters, digits and ._:@+=~- ; else None."""
    if isinstance(sender, int) and not isinstance(sender, bool):
        sender = str(sender)
    return sender if isinstance(sender, str) and _SENDER.fullmatch(sender) else None


def _clean_values(data: dict) -> dict:
    """Language hints and the token only as short text (anything else is dropped)."""
    cleaned = dict(data)
    for key in HINT_KEYS + (TOKEN_KEY,):
        if key in cleaned:
            value = cleaned[key]
            limit = MAX_TOKEN_CHARS if key == TOKEN_KEY else MAX_HINT_CHARS
            if not isinstance(value, str) or len(value) > limit or _SURROGATE.search(value):
                del cleaned[key]
    return cleaned


def _depth(value: Any, limit: int = MAX_METADATA_DEPTH + 1) -> int:
    """How deep lists and objects nest (counting stops past `limit`)."""
    if limit <= 0 or not isinstance(value, (dict, list)):
        return 0
    children = value.values() if isinstance(value, dict) else value
    return 1 + max((_depth(child, limit - 1) for child in children), default=0)


def clean_metadata(metadata: Any) -> dict | None:
    """A message's metadata as the bot may read it: an object or nothing; hints and the token only
    as short text; over MAX_METADATA_BYTES, only the keys the bot reads are kept."""
    if not isinstance(metadata, dict) or not metadata:
        return None
    cleaned = _clean_values(metadata)
    container = cleaned.get(METADATA_CONTAINER)
    if container is not None:
        if isinstance(container, dict):
            cleaned[METADATA_CONTAINER] = _clean_values(container)
        else:
            del cleaned[METADATA_CONTAINER]
    try:
        size = len(json.dumps(cleaned, ensure_ascii=False, default=str).encode("utf-8", "replace"))
    except (ValueError, TypeError, RecursionError):
        size = MAX_METADATA_BYTES + 1
    if size > MAX_METADATA_BYTES or _depth(cleaned) > MAX_METADATA_DEPTH:
        keep = HINT_KEYS + (TOKEN_KEY,)
        small = {k: cleaned[k] for k in keep if k in cleaned}
        if isinstance(cleaned.get(METADATA_CONTAINER), dict):
            inner = {k: cleaned[METADATA_CONTAINER][k] for k in keep if k in cleaned[METADATA_CONTAINER]}
            if inner:
                small[METADATA_CONTAINER] = inner
        cleaned = small
    return cleaned or None
