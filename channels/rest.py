"""The REST channel (POST /webhooks/rest/webhook {"sender": "...", "message": "...", "metadata": {...}}),
Rasa's own with its input checked: Rasa 3.6's answers 500 to a body that is not a JSON object, takes
any sender (also another platform's conversation id) and lets the body name its input channel.

Here: a body that is not a JSON object, a missing or unusable sender, a message that is not text or
is empty, metadata that is not an object: 400 with {"error": ...}. A sender id of a messaging
platform's form (telegram_..., whatsapp_...) is refused with 403: those conversations belong to
their verified webhooks, and a REST client must not continue a WhatsApp shopper's conversation by
naming their number. The input channel is always "rest". Messages then pass the same gate as
every channel's (channels/common.py `guarded`, README "Limits").
"""
from __future__ import annotations

import logging
from asyncio import CancelledError
from typing import Any, Awaitable, Callable

import rasa.utils.endpoints
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput as RasaRestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.limits import MAX_SENDER_CHARS, clean_sender, clean_text
from channels.common import PLATFORM_PREFIXES, guarded, parse_json, with_server_limits
from components.redelivery import CLIENT_ID_PREFIX

logger = logging.getLogger(__name__)


def _refused(status: int, error: str) -> HTTPResponse:
    return response.json({"error": error}, status=status)


class RestInput(RasaRestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        on_new_message = guarded(on_new_message)
        hook = with_server_limits(Blueprint("custom_webhook_RestInput", __name__))

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            body = parse_json(request.body)
            if not isinstance(body, dict):
                return _refused(400, "the body must be a JSON object")
            sender = clean_sender(body.get("sender"))
            if sender is None:
                return _refused(400, f"sender must be 1 to {MAX_SENDER_CHARS} letters, digits or ._:@+=~-")
            if sender.startswith(PLATFORM_PREFIXES):
                return _refused(403, "this sender id belongs to a messaging channel")
            text = clean_text(body.get("message"))
            if text is None:
                return _refused(400, "message must be text")
            if not text.strip():
                return _refused(400, "message is empty")
            metadata = body.get("metadata")
            if metadata is not None and not isinstance(metadata, dict):
                return _refused(400, "metadata must be a JSON object")
            message_id = body.get("message_id")  # a retry with the same id is answered once
            if message_id is not None and clean_sender(message_id) is None:
                return _refused(400, f"message_id must be 1 to {MAX_SENDER_CHARS} letters, digits or ._:@+=~-")
            named = {"message_id": CLIENT_ID_PREFIX + message_id} if message_id is not None else {}

            if rasa.utils.endpoints.bool_arg(request, "stream", default=False):
                return response.stream(self.stream_response(on_new_message, text, sender, self.name(), metadata),
                                       content_type="text/event-stream")
            collector = CollectingOutputChannel()
            try:
                await on_new_message(UserMessage(text, collector, sender, input_channel=self.name(),
                                                 metadata=metadata, **named))
            except CancelledError:
                logger.error("rest: handling a message from %s timed out", sender)
            except Exception:  # noqa: BLE001 - as Rasa's: the client gets what was said so far
                logger.exception("rest: handling a message from %s failed", sender)
            return response.json(collector.messages)

        return hook
