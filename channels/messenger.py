"""Facebook Messenger: the Graph API webhook in, the Send API out.

Rasa's Facebook connector checks only the SHA-1 X-Hub-Signature and answers 200 when it fails;
here X-Hub-Signature-256 must match the app secret or the request is refused.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import OutputChannel, UserMessage
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.common import ChannelError, WebhookInput, call_platform, numbered, parse_json, rejected, without_prefix
from channels.signatures import verify_facebook

logger = logging.getLogger(__name__)

PREFIX = "messenger_"
QUICK_REPLIES_MAX, QUICK_REPLY_TITLE_MAX = 13, 20  # Messenger's limits


class MessengerOutput(OutputChannel):
    def __init__(self, page_access_token: str, app_secret: str, api_base: str, api_version: str) -> None:
        self.token, self.app_secret = page_access_token, app_secret
        self.api_base, self.api_version = api_base.rstrip("/"), api_version

    @classmethod
    def name(cls) -> str:
        return "messenger"

    async def send(self, recipient_id: str, message: dict) -> None:
        psid = without_prefix(PREFIX, recipient_id)
        if not self.token:
            raise ChannelError("MESSENGER_PAGE_ACCESS_TOKEN is not set: cannot send")
        # appsecret_proof: a leaked page token alone cannot send as the page.
        proof = hmac.new(self.app_secret.encode(), self.token.encode(), hashlib.sha256).hexdigest()
        answer = await call_platform("Messenger Send API", "POST", f"{self.api_base}/{self.api_version}/me/messages",
                                     params={"access_token": self.token, "appsecret_proof": proof},
                                     json={"recipient": {"id": psid}, "messaging_type": "RESPONSE",
                                           "message": message})
        if "error" in answer:
            raise ChannelError(f"Messenger Send API: {answer['error']}")

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.send(recipient_id, {"text": text})

    async def send_text_with_buttons(self, recipient_id: str, text: str, buttons: list[dict], **kwargs: Any) -> None:
        # Quick replies: up to 13, and the pressed one comes back as a message with our payload.
        # Titles over 20 characters are cut, so then the whole titles are listed in the text too.
        titles = [b.get("title") or b.get("payload", "") for b in buttons[:QUICK_REPLIES_MAX]]
        replies = [{"content_type": "text", "title": short(t), "payload": b.get("payload") or t}
                   for t, b in zip(titles, buttons)]
        if any(len(t) > QUICK_REPLY_TITLE_MAX for t in titles):
            text = numbered(text, buttons[:QUICK_REPLIES_MAX])
        await self.send(recipient_id, {"text": text, "quick_replies": replies})

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self.send(recipient_id, {"attachment": {"type": "image", "payload": {"url": image, "is_reusable": True}}})


def short(title: str) -> str:
    return title if len(title) <= QUICK_REPLY_TITLE_MAX else title[:QUICK_REPLY_TITLE_MAX - 1] + "…"


class MessengerInput(WebhookInput):
    SETTINGS = {"app_secret": ("MESSENGER_APP_SECRET", ""), "page_access_token": ("MESSENGER_PAGE_ACCESS_TOKEN", ""),
                "verify_token": ("MESSENGER_VERIFY_TOKEN", ""),
                "api_base": ("MESSENGER_API_BASE", "https://graph.facebook.com"),
                "api_version": ("MESSENGER_API_VERSION", "v19.0")}
    REQUIRED = ("app_secret", "page_access_token", "verify_token")

    @classmethod
    def name(cls) -> str:
        return "messenger"

    def get_output_channel(self) -> MessengerOutput:
        s = self.settings
        return MessengerOutput(s["page_access_token"], s["app_secret"], s["api_base"], s["api_version"])

    async def handle_get(self, request: Request) -> HTTPResponse:
        """Facebook's subscription check: echo hub.challenge when hub.verify_token is ours."""
        token = request.args.get("hub.verify_token") or ""
        if request.args.get("hub.mode") != "subscribe" or \
                not hmac.compare_digest(token.encode(), self.settings["verify_token"].encode()):
            return rejected(403, "messenger: wrong verify token")
        return response.text(request.args.get("hub.challenge") or "")

    async def handle(self, request: Request, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> HTTPResponse:
        signature = request.headers.get("X-Hub-Signature-256")
        if not signature:
            return rejected(401, "messenger: no X-Hub-Signature-256")
        if not verify_facebook(self.settings["app_secret"], request.body, signature):
            return rejected(403, "messenger: wrong signature")
        body = parse_json(request.body)
        if not isinstance(body, dict) or not isinstance(body.get("entry"), list):
            return rejected(400, "messenger: no entry list")
        if body.get("object") != "page":
            return response.text("EVENT_RECEIVED")  # another product's webhook (Instagram...)
        messages = []  # all read before any is handled: a malformed batch is refused whole
        for entry in body["entry"]:
            events = entry.get("messaging", []) if isinstance(entry, dict) else None
            if not isinstance(events, list):
                return rejected(400, "messenger: entry without a messaging list")
            for event in events:
                sender = event.get("sender") if isinstance(event, dict) else None
                if not isinstance(sender, dict) or not sender.get("id") or not isinstance(sender["id"], (str, int)):
                    return rejected(400, "messenger: event without a sender")
                found = read_event(event)
                if found:
                    messages.append((f"{PREFIX}{sender['id']}", *found))
        for sender_id, text, message_id, locale in messages:
            await self.deliver(on_new_message, sender_id, text, message_id=message_id,
                               metadata={"locale": locale} if locale else None)
        return response.text("EVENT_RECEIVED")


def read_event(event: dict) -> tuple[str, str | None, str | None] | None:
    """(text, message id, locale) of a message or a pressed button; None for what we do not
    handle (our own echoes, deliveries, reads, reactions, attachments)."""
    locale = event.get("locale") or event["sender"].get("locale")
    message, postback = event.get("message"), event.get("postback")
    if isinstance(message, dict) and not message.get("is_echo"):
        quick = message.get("quick_reply")
        text = quick.get("payload") if isinstance(quick, dict) else message.get("text")
        if isinstance(text, str) and text.strip():
            return text, message.get("mid"), locale if isinstance(locale, str) else None
    if isinstance(postback, dict) and isinstance(postback.get("payload"), str) and postback["payload"]:
        return postback["payload"], postback.get("mid"), locale if isinstance(locale, str) else None
    return None
