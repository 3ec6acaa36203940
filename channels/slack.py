"""Slack: the Events API (direct messages to the app and @mentions) and button clicks
(interactivity) in, chat.postMessage out. Configure both the Event Subscriptions and the
Interactivity request URL as /webhooks/slack/webhook.

Every request must carry a valid v0 signature less than five minutes old. Slack retries an event
it thinks went unanswered (X-Slack-Retry-Num): retries are acknowledged and dropped, so a reply is
never sent twice; so are messages from bots, our own included.
"""
from __future__ import annotations

import logging
import re
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qs

from rasa.core.channels.channel import OutputChannel, UserMessage
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.common import ChannelError, WebhookInput, call_platform, parse_json, rejected, without_prefix
from channels.signatures import verify_slack

logger = logging.getLogger(__name__)

PREFIX = "slack_"  # slack_<channel>_<user>: a reply goes to the channel the shopper wrote in
BUTTON_TEXT_MAX, SECTION_TEXT_MAX = 75, 3000  # Block Kit limits
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>\s*")


def sender_id(channel: str, user: str) -> str:
    return f"{PREFIX}{channel}_{user}"  # Slack ids are upper-case letters and digits


def channel_of(recipient_id: str) -> str:
    channel = without_prefix(PREFIX, recipient_id).split("_", 1)[0]
    if not channel:
        raise ChannelError(f"recipient {recipient_id!r} names no Slack channel")
    return channel


class SlackOutput(OutputChannel):
    def __init__(self, bot_token: str, api_base: str) -> None:
        self.bot_token, self.api_base = bot_token, api_base.rstrip("/")

    @classmethod
    def name(cls) -> str:
        return "slack"

    async def post(self, recipient_id: str, text: str, blocks: list[dict] | None = None) -> None:
        channel = channel_of(recipient_id)
        if not self.bot_token:
            raise ChannelError("SLACK_BOT_TOKEN is not set: cannot send")
        payload = {"channel": channel, "text": text, **({"blocks": blocks} if blocks else {})}
        answer = await call_platform("Slack chat.postMessage", "POST", f"{self.api_base}/chat.postMessage",
                                     json=payload, headers={"Authorization": f"Bearer {self.bot_token}"})
        if not answer.get("ok"):  # Slack answers 200 with ok: false on errors
            raise ChannelError(f"Slack chat.postMessage: {answer.get('error', 'no ok in the answer')}")

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.post(recipient_id, text)

    async def send_text_with_buttons(self, recipient_id: str, text: str, buttons: list[dict], **kwargs: Any) -> None:
        # plain_text, not mrkdwn: nothing a message contains is read as formatting or a link.
        elements = [{"type": "button", "action_id": f"button_{i}",
                     "text": {"type": "plain_text", "text": (b.get("title") or b.get("payload", ""))[:BUTTON_TEXT_MAX]},
                     "value": b.get("payload") or b.get("title", "")} for i, b in enumerate(buttons[:25])]
        blocks = [{"type": "section", "text": {"type": "plain_text", "text": text[:SECTION_TEXT_MAX] or " "}},
                  {"type": "actions", "elements": elements}]
        await self.post(recipient_id, text, blocks)


class SlackInput(WebhookInput):
    SETTINGS = {"signing_secret": ("SLACK_SIGNING_SECRET", ""), "bot_token": ("SLACK_BOT_TOKEN", ""),
                "api_base": ("SLACK_API_BASE", "https://slack.com/api")}
    REQUIRED = ("signing_secret", "bot_token")

    @classmethod
    def name(cls) -> str:
        return "slack"

    def get_output_channel(self) -> SlackOutput:
        return SlackOutput(self.settings["bot_token"], self.settings["api_base"])

    async def handle(self, request: Request, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> HTTPResponse:
        signature, timestamp = request.headers.get("X-Slack-Signature"), request.headers.get("X-Slack-Request-Timestamp")
        if not signature or not timestamp:
            return rejected(401, "slack: no signature or timestamp")
        if not verify_slack(self.settings["signing_secret"], timestamp, request.body, signature):
            return rejected(403, "slack: wrong or expired signature")
        if request.headers.get("X-Slack-Retry-Num"):
            return response.text("")  # the first delivery was handled (or is being handled)

        if (request.content_type or "").startswith("application/x-www-form-urlencoded"):
            try:  # interactivity: payload=<JSON>
                form = parse_qs(request.body.decode(), strict_parsing=True)
            except (UnicodeDecodeError, ValueError):
                return rejected(400, "slack: body is not a form")
            body = parse_json((form.get("payload") or [""])[0].encode())
        else:
            body = parse_json(request.body)
        if not isinstance(body, dict) or not isinstance(body.get("type"), str):
            return rejected(400, "slack: no event type")

        kind = body["type"]
        if kind == "url_verification":  # Slack's check when the Request URL is saved
            return response.json({"challenge": body.get("challenge", "")})
        try:
            if kind == "event_callback":
                found, message_id = read_event(body.get("event")), body.get("event_id")
            elif kind == "block_actions":
                found, message_id = read_action(body), None
            else:  # view submissions, shortcuts...
                return response.text("")
        except ValueError as error:
            return rejected(400, f"slack: {error}")
        if found:
            channel, user, text, locale = found
            await self.deliver(on_new_message, sender_id(channel, user), text, message_id=message_id,
                               metadata={"locale": locale} if locale else None)
        return response.text("")


def read_event(event: Any) -> tuple[str, str, str, str | None] | None:
    """(channel, user, text, locale) of a shopper's direct message or @mention; None for bots,
    edits, deletions, joins and everything else; ValueError when fields are missing."""
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise ValueError("event_callback without an event")
    if event.get("bot_id") or event.get("subtype"):
        return None  # bot messages (ours too) and message_changed, message_deleted, channel_join...
    # A direct message is a "message" in an im; in a channel only an @mention is for us (Slack
    # sends a mention as both "message" and "app_mention": taking one avoids answering twice).
    if not (event["type"] == "app_mention" or (event["type"] == "message" and event.get("channel_type") == "im")):
        return None
    channel, user, text = event.get("channel"), event.get("user"), event.get("text")
    if not all(isinstance(v, str) and v for v in (channel, user)) or not isinstance(text, str):
        raise ValueError(f"{event['type']} event without channel, user or text")
    text = _MENTION.sub("", text).strip()
    locale = event.get("locale")
    return (channel, user, text, locale if isinstance(locale, str) else None) if text else None


def read_action(body: dict) -> tuple[str, str, str, str | None] | None:
    """(channel, user, payload, locale) of a pressed button; ValueError when fields are missing."""
    user, channel, actions = body.get("user"), body.get("channel"), body.get("actions")
    if not (isinstance(user, dict) and isinstance(channel, dict) and isinstance(actions, list) and actions
            and isinstance(actions[0], dict) and user.get("id") and channel.get("id")):
        raise ValueError("block_actions without user, channel or action")
    value = actions[0].get("value")
    locale = user.get("locale") or body.get("locale")
    if not isinstance(value, str) or not value:
        return None
    return channel["id"], user["id"], value, locale if isinstance(locale, str) else None
