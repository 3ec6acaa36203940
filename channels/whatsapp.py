"""WhatsApp through Twilio: Twilio's signed form posts in, Twilio's Messages API out.

Rasa's Twilio connector checks no signature. Here X-Twilio-Signature is checked against the URL
Twilio called: behind a proxy that is not the URL this server sees, so PUBLIC_BASE_URL (e.g.
https://bot.example.com) gives the public origin.
"""
from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qsl

import aiohttp
from rasa.core.channels.channel import OutputChannel, UserMessage
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.common import ChannelError, WebhookInput, call_platform, numbered, rejected, without_prefix
from channels.signatures import verify_twilio

logger = logging.getLogger(__name__)

TWILIO_PREFIX = "whatsapp:"  # Twilio's address of a WhatsApp user: whatsapp:+34600111222
PREFIX = "whatsapp_"  # our sender id for it: whatsapp_34600111222
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'  # no reply inline: we send ours

# A phone number's country calling code -> the language most of its holders write (a prior only:
# what they write decides). Codes are prefix-free (E.164), so the longest match is the only one.
# Countries with several big languages (BE, CH, CA's French...) are left to the text.
CALLING_CODE_LANGUAGE = {
    "1": "en", "44": "en", "353": "en", "61": "en", "64": "en", "27": "en", "65": "en",
    "34": "es", "52": "es", "54": "es", "56": "es", "57": "es", "51": "es", "58": "es", "593": "es",
    "502": "es", "591": "es", "595": "es", "598": "es", "506": "es", "507": "es", "503": "es",
    "33": "fr", "49": "de", "43": "de", "39": "it", "351": "pt", "55": "pt", "244": "pt", "258": "pt",
    "31": "nl", "48": "pl", "7": "ru", "90": "tr", "81": "ja", "82": "ko",
    "86": "zh", "886": "zh", "852": "zh", "853": "zh",
    "966": "ar", "971": "ar", "20": "ar", "962": "ar", "965": "ar", "974": "ar", "973": "ar",
    "968": "ar", "964": "ar", "961": "ar", "212": "ar", "213": "ar", "216": "ar",
}


def language_of_number(number: str) -> str | None:
    """'whatsapp:+34600111222' -> 'es'; an unknown or unlisted code -> None."""
    digits = number.removeprefix(TWILIO_PREFIX).strip()
    if not digits.startswith("+"):
        return None
    digits = digits[1:]
    for length in (3, 2, 1):
        if digits[:length] in CALLING_CODE_LANGUAGE:
            return CALLING_CODE_LANGUAGE[digits[:length]]
    return None


class WhatsAppOutput(OutputChannel):
    def __init__(self, account_sid: str, auth_token: str, sender: str, api_base: str) -> None:
        self.account_sid, self.auth_token, self.sender = account_sid, auth_token, sender
        self.api_base = api_base.rstrip("/")

    @classmethod
    def name(cls) -> str:
        return "whatsapp"

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        number = without_prefix(PREFIX, recipient_id)
        if not (number.isascii() and number.isdigit()):
            raise ChannelError(f"recipient {recipient_id!r} is not a phone number")
        if not (self.account_sid and self.sender):
            raise ChannelError("TWILIO_ACCOUNT_SID or TWILIO_WHATSAPP_FROM is not set: cannot send")
        await call_platform("Twilio Messages", "POST",
                            f"{self.api_base}/2010-04-01/Accounts/{self.account_sid}/Messages.json",
                            data={"From": self.sender, "To": f"{TWILIO_PREFIX}+{number}", "Body": text},
                            auth=aiohttp.BasicAuth(self.account_sid, self.auth_token))

    async def send_text_with_buttons(self, recipient_id: str, text: str, buttons: list[dict], **kwargs: Any) -> None:
        # WhatsApp free-form messages have no buttons: the titles as numbered lines, which the
        # shopper answers in words ("start a return") that the bot understands.
        await self.send_text_message(recipient_id, numbered(text, buttons))

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self.send_text_message(recipient_id, image)


class WhatsAppInput(WebhookInput):
    SETTINGS = {"account_sid": ("TWILIO_ACCOUNT_SID", ""), "auth_token": ("TWILIO_AUTH_TOKEN", ""),
                "whatsapp_from": ("TWILIO_WHATSAPP_FROM", ""), "public_base_url": ("PUBLIC_BASE_URL", ""),
                "api_base": ("TWILIO_API_BASE", "https://api.twilio.com")}
    REQUIRED = ("account_sid", "auth_token", "whatsapp_from")

    @classmethod
    def name(cls) -> str:
        return "whatsapp"

    def get_output_channel(self) -> WhatsAppOutput:
        s = self.settings
        return WhatsAppOutput(s["account_sid"], s["auth_token"], s["whatsapp_from"], s["api_base"])

    def signed_url(self, request: Request) -> str:
        """The URL Twilio signed: the public origin when one is configured, else what we were called at."""
        base = self.settings["public_base_url"].rstrip("/")
        if not base:
            return request.url
        return base + request.path + (f"?{request.query_string}" if request.query_string else "")

    async def handle(self, request: Request, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> HTTPResponse:
        signature = request.headers.get("X-Twilio-Signature")
        if not signature:
            return rejected(401, "whatsapp: no X-Twilio-Signature")
        try:  # the params exactly as posted (blank values too): the signature covers them all
            params = parse_qsl(request.body.decode(), keep_blank_values=True, strict_parsing=bool(request.body))
        except (UnicodeDecodeError, ValueError):
            return rejected(400, "whatsapp: body is not a form")
        if not verify_twilio(self.settings["auth_token"], self.signed_url(request), params, signature):
            return rejected(403, "whatsapp: wrong signature")
        form = dict(params)
        if "MessageStatus" in form:  # a delivery receipt (sent, delivered, read...)
            return self.twiml()
        if "From" not in form or "Body" not in form:
            return rejected(400, "whatsapp: not a message (no From or Body)")
        sender, text = form["From"], form["Body"].strip()
        number = sender.removeprefix(f"{TWILIO_PREFIX}+")
        if not sender.startswith(f"{TWILIO_PREFIX}+") or not (number.isascii() and number.isdigit()):
            logger.info("whatsapp: ignoring a message from %r (not a WhatsApp number)", sender)
            return self.twiml()
        if not text:  # media only, a location...
            return self.twiml()
        language = language_of_number(sender)
        await self.deliver(on_new_message, f"{PREFIX}{number}", text, message_id=form.get("MessageSid"),
                           metadata={"language": language} if language else None)
        return self.twiml()

    @staticmethod
    def twiml() -> HTTPResponse:
        return response.text(EMPTY_TWIML, content_type="text/xml")
