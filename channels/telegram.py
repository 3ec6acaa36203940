"""Telegram, without aiogram (Rasa's connector needs aiogram 2.15, broken here; 2.25 conflicts with
Rasa's aiohttp pin): the Update JSON is read here and replies go out by plain Bot API calls.

Set the webhook yourself (nothing is registered at start-up), with the same secret:
  {api_base}/bot{token}/setWebhook?url=https://<host>/webhooks/telegram/webhook&secret_token=<secret>
Telegram then sends it back in X-Telegram-Bot-Api-Secret-Token on every update.
"""
from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import OutputChannel, UserMessage
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.common import ChannelError, WebhookInput, call_platform, parse_json, rejected, without_prefix
from channels.signatures import verify_telegram

logger = logging.getLogger(__name__)

PREFIX = "telegram_"
CALLBACK_DATA_LIMIT = 64  # bytes, Telegram's limit for an inline button's callback_data
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def dig(value: Any, *keys: str) -> Any:
    """value[k1][k2]..., or None where a level is missing or not an object."""
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def chat_of(recipient_id: str) -> int | str:
    chat = without_prefix(PREFIX, recipient_id)
    return int(chat) if chat.lstrip("-").isdigit() else chat


class TelegramOutput(OutputChannel):
    def __init__(self, token: str, api_base: str) -> None:
        self.token, self.api_base = token, api_base.rstrip("/")

    @classmethod
    def name(cls) -> str:
        return "telegram"

    async def call(self, method: str, payload: dict) -> dict:
        if not self.token:
            raise ChannelError("TELEGRAM_BOT_TOKEN is not set: cannot send")
        answer = await call_platform(f"Telegram {method}", "POST", f"{self.api_base}/bot{self.token}/{method}",
                                     json=payload)
        if answer.get("ok") is False:
            raise ChannelError(f"Telegram {method}: {answer.get('description')}")
        return answer

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.call("sendMessage", {"chat_id": chat_of(recipient_id), "text": text})

    async def send_text_with_buttons(self, recipient_id: str, text: str, buttons: list[dict], **kwargs: Any) -> None:
        # One button per row: titles are sentences in the shopper's language, not short labels.
        keyboard = [[{"text": b.get("title") or b.get("payload", ""), "callback_data": self.callback_data(b)}]
                    for b in buttons]
        await self.call("sendMessage", {"chat_id": chat_of(recipient_id), "text": text,
                                        "reply_markup": {"inline_keyboard": keyboard}})

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self.call("sendPhoto", {"chat_id": chat_of(recipient_id), "photo": image})

    @staticmethod
    def callback_data(button: dict) -> str:
        """The payload comes back as the pressed button's text; one too long for Telegram sends the
        title instead, which the bot reads like a typed answer."""
        payload = str(button.get("payload") or button.get("title") or "")
        if len(payload.encode()) <= CALLBACK_DATA_LIMIT:
            return payload
        logger.warning("Telegram: button payload over %d bytes, sending its title", CALLBACK_DATA_LIMIT)
        return str(button.get("title", "")).encode()[:CALLBACK_DATA_LIMIT].decode(errors="ignore")


class TelegramInput(WebhookInput):
    SETTINGS = {"token": ("TELEGRAM_BOT_TOKEN", ""), "secret_token": ("TELEGRAM_SECRET_TOKEN", ""),
                "api_base": ("TELEGRAM_API_BASE", "https://api.telegram.org")}
    REQUIRED = ("token", "secret_token")

    @classmethod
    def name(cls) -> str:
        return "telegram"

    def get_output_channel(self) -> TelegramOutput:
        return TelegramOutput(self.settings["token"], self.settings["api_base"])

    async def handle(self, request: Request, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> HTTPResponse:
        secret = request.headers.get(SECRET_HEADER)
        if not secret:
            return rejected(401, f"telegram: no {SECRET_HEADER}")
        if not verify_telegram(self.settings["secret_token"], secret):
            return rejected(403, "telegram: wrong secret token")
        update = parse_json(request.body)
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            return rejected(400, "telegram: not an Update")

        if "message" in update:
            message = update["message"]
            if not isinstance(dig(message, "chat", "id"), int):
                return rejected(400, "telegram: message without a chat")
            user = message["from"] if isinstance(message.get("from"), dict) else {}
            text = message.get("text")
            if not isinstance(text, str) or not text.strip() or user.get("is_bot"):
                return response.json({"ignored": True})  # stickers, photos, service messages
            if text.split("@")[0].split(" ")[0] == "/start":
                text = "/greet"  # the first thing every new chat sends; the language comes from the hint
            chat = message["chat"]["id"]
        elif "callback_query" in update:  # an inline button was pressed: its data is the payload
            query = update["callback_query"]
            if not isinstance(query, dict) or not isinstance(query.get("from"), dict) or "id" not in query:
                return rejected(400, "telegram: callback_query without a sender")
            user, text = query["from"], query.get("data")
            chat = dig(query, "message", "chat", "id") or user.get("id")  # the chat the button was in
            if not isinstance(chat, int):
                return rejected(400, "telegram: callback_query without a chat")
            await self.answer_callback(query["id"])
            if not isinstance(text, str) or not text:
                return response.json({"ignored": True})  # a game button, no data
        else:  # edited messages, channel posts, membership changes...
            return response.json({"ignored": True})

        language = user.get("language_code") if isinstance(user, dict) else None
        await self.deliver(on_new_message, f"{PREFIX}{chat}", text, message_id=f"telegram-{update['update_id']}",
                           metadata={"language_code": language} if language else None)
        return response.json({"ok": True})

    async def answer_callback(self, query_id: str) -> None:
        """Stops the button's spinner in the app; nothing depends on it, so a failure is only logged."""
        try:
            await self.get_output_channel().call("answerCallbackQuery", {"callback_query_id": query_id})
        except ChannelError as error:
            logger.warning("%s", error)
