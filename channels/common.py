"""What the messaging channels share: settings from credentials.yml, the webhook blueprint, outbound calls.

Settings: a value in credentials.yml written `$NAME` (no braces) is read from the environment
variable NAME here, and an unset variable is empty. Rasa's own `${NAME}` substitution refuses to
start when NAME is unset, and the server must start without any messaging secrets. A channel
missing one of its required settings answers 403 to everything.
"""
from __future__ import annotations

import json
import logging
import os
import re
from typing import Any, Awaitable, Callable

import aiohttp
from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.errorpages import JSONRenderer, exception_response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.limits import RASA_MAX_REQUEST_BYTES, clean_metadata, clean_sender, clean_text

logger = logging.getLogger(__name__)

PLATFORM_PREFIXES = ("telegram_", "whatsapp_", "messenger_", "slack_")  # each channel's PREFIX
_ENV_REFERENCE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
OUTBOUND_TIMEOUT = aiohttp.ClientTimeout(total=20)


class ChannelError(Exception):
    """A platform API refused or failed a call, or a recipient id is not this channel's."""


def resolve_settings(credentials: dict | None, spec: dict[str, tuple[str, str]]) -> dict[str, str]:
    """{key: (environment variable, default)} -> {key: value}: the credentials value (a literal or
    `$NAME`), else the variable; empty means the default."""
    credentials = credentials if isinstance(credentials, dict) else {}
    settings = {}
    for key, (variable, default) in spec.items():
        value = credentials.get(key, f"${variable}")
        if isinstance(value, str) and _ENV_REFERENCE.fullmatch(value.strip()):
            value = os.environ.get(value.strip()[1:], "")
        settings[key] = ("" if value is None else str(value).strip()) or default
    return settings


def without_prefix(prefix: str, recipient_id: str) -> str:
    """'telegram_123' -> '123'. Sender ids carry their platform so conversations never collide, and
    only characters that need no percent-encoding: Rasa 3.6 does not decode its URL paths, so an
    agent console quoting 'telegram:123' into /conversations/telegram%3A123/... would miss it."""
    if not recipient_id.startswith(prefix) or len(recipient_id) == len(prefix):
        raise ChannelError(f"recipient {recipient_id!r} is not a {prefix.rstrip('_')} conversation")
    return recipient_id[len(prefix):]


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: [[[[... nested too deep
        return None


async def call_platform(what: str, method: str, url: str, **kwargs: Any) -> dict:
    """One HTTP call to a platform API; its JSON answer, or ChannelError. `what` names the call in
    errors (URLs can carry a token, so they are never logged)."""
    try:
        async with aiohttp.ClientSession(timeout=OUTBOUND_TIMEOUT) as session:
            async with session.request(method, url, **kwargs) as answer:
                body = await answer.text()
                status = answer.status
    except (aiohttp.ClientError, TimeoutError) as error:
        raise ChannelError(f"{what}: {type(error).__name__}: {error}") from error
    if status >= 300:
        raise ChannelError(f"{what} answered {status}: {body[:300]}")
    parsed = parse_json(body.encode())
    return parsed if isinstance(parsed, dict) else {}


def apply_server_limits(app: Any, _loop: Any = None) -> None:
    """The Rasa server's request body limit (README "Limits"), set when the server starts: every
    channel of ours registers it, so it holds wherever the server runs with our credentials.yml.
    SANIC_REQUEST_MAX_SIZE in the environment, read by Sanic itself, wins. Errors Sanic answers
    itself (404, 405, 413...) are JSON whatever the client accepts: Sanic's own error pages are
    HTML for a browser, with the requested path in them."""
    if not os.environ.get("SANIC_REQUEST_MAX_SIZE"):
        app.config.REQUEST_MAX_SIZE = RASA_MAX_REQUEST_BYTES
    handler = app.error_handler
    while handler is not None:  # Sanic-CORS (--cors) wraps the app's handler in one of its own
        if not getattr(handler, "json_only", False):
            handler.default, handler.json_only = _json_errors(handler), True
        handler = getattr(handler, "orig_handler", None)


def _json_errors(handler: Any) -> Callable[[Request, Exception], HTTPResponse]:
    def default(request: Request, exception: Exception) -> HTTPResponse:
        handler.log(request, exception)
        return exception_response(request, exception, debug=handler.debug, base=JSONRenderer, fallback="json",
                                  renderer=JSONRenderer)
    return default


def with_server_limits(blueprint: Blueprint) -> Blueprint:
    blueprint.listener("before_server_start")(apply_server_limits)
    return blueprint


def checked_message(message: UserMessage) -> UserMessage | None:
    """The one gate every channel's message passes (README "Limits"): text without control
    characters, cut to MAX_MESSAGE_CHARS; a usable sender id; metadata an object of bounded size
    whose language hints are text. None: nothing for the bot (not text, empty, no usable sender)."""
    text, sender = clean_text(message.text), clean_sender(message.sender_id)
    if text is None or not text.strip() or sender is None:
        return None
    if sender.startswith(PLATFORM_PREFIXES) and not sender.startswith(f"{message.input_channel}_"):
        return None  # a platform's conversation id from another channel (the widget, REST): not theirs
    message.text, message.sender_id = text, sender
    message.metadata = clean_metadata(message.metadata)
    if message.message_id is not None:
        message.message_id = clean_text(str(message.message_id), 128)
    return message


def guarded(on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Callable[[UserMessage], Awaitable[Any]]:
    """on_new_message behind `checked_message`: what does not pass is logged and dropped."""
    async def handle(message: UserMessage) -> Any:
        checked = checked_message(message)
        if checked is None:
            logger.info("%s: dropped a message with no usable text or sender", message.input_channel)
            return None
        return await on_new_message(checked)
    return handle


class WebhookInput(InputChannel):
    """A platform's webhook at /webhooks/<name>/webhook, checked before anything reaches the bot."""

    SETTINGS: dict[str, tuple[str, str]] = {}  # key -> (environment variable, default)
    REQUIRED: tuple[str, ...] = ()  # without these the channel rejects every request

    def __init__(self, settings: dict[str, str]) -> None:
        self.settings = settings
        missing = [self.SETTINGS[k][0] for k in self.REQUIRED if not settings.get(k)]
        self.configured = not missing
        if missing:  # a warning when only part of it is set: someone meant to configure it
            log = logger.warning if len(missing) < len(self.REQUIRED) else logger.info
            log("%s channel not configured (%s unset): it rejects every request", self.name(), ", ".join(missing))

    @classmethod
    def from_credentials(cls, credentials: dict | None) -> "WebhookInput":
        return cls(resolve_settings(credentials, cls.SETTINGS))

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        hook = with_server_limits(Blueprint(f"{self.name()}_webhook", __name__))
        on_new_message = guarded(on_new_message)

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok", "configured": self.configured})

        @hook.route("/webhook", methods=["GET", "POST"])
        async def webhook(request: Request) -> HTTPResponse:
            if not self.configured:
                return response.text("channel not configured", status=403)
            if request.method == "GET":
                return await self.handle_get(request)
            return await self.handle(request, on_new_message)

        return hook

    async def handle_get(self, request: Request) -> HTTPResponse:
        return response.text("method not allowed", status=405)

    async def handle(self, request: Request, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> HTTPResponse:
        raise NotImplementedError

    async def deliver(self, on_new_message: Callable[[UserMessage], Awaitable[Any]], sender_id: str, text: str,
                      message_id: str | None = None, metadata: dict | None = None) -> None:
        """Hands one message to the bot, replies going out on this channel. A failure is logged,
        not answered with an error: the platform would retry and the shopper get answered twice."""
        message = UserMessage(text, self.get_output_channel(), sender_id, input_channel=self.name(),
                              message_id=message_id, metadata=metadata or None)
        try:
            await on_new_message(message)
        except Exception:  # noqa: BLE001 - whatever broke, the platform must get its 200
            logger.exception("%s: handling a message from %s failed", self.name(), sender_id)


def rejected(status: int, why: str) -> HTTPResponse:
    logger.warning("webhook request rejected: %s", why)
    return response.text(why, status=status)


def numbered(text: str, buttons: list[dict]) -> str:
    """Buttons as lines under the text, for platforms without buttons: '1. Start a return'."""
    lines = [f"{i}. {b.get('title') or b.get('payload', '')}" for i, b in enumerate(buttons, 1)]
    return "\n".join([text, "", *lines]) if text else "\n".join(lines)
