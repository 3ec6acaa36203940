"""The messaging channels (channels/): Telegram, WhatsApp through Twilio, Messenger and Slack.

End to end: payloads shaped as each platform sends them, signed as it signs them (Twilio's and
Slack's own SDKs compute the signatures), posted to a real Rasa server's /webhooks/<name>/webhook;
each platform's outbound API is a capture server on loopback (tests/standins/messaging.py), where
the replies are read back: text, language (against the catalog), recipient, buttons. Forged,
missing and stale signatures are refused with nothing reaching the bot or the platform. An agent's
message pushed through Rasa's tracker API reaches the shopper on their platform.

Without Rasa: the signature checks, the settings, and that unconfigured channels start and refuse
everything.
"""
from __future__ import annotations

import asyncio
import contextlib
import base64
import hashlib
import hmac
import json
import random
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from types import SimpleNamespace
from urllib.parse import parse_qsl, quote, urlencode

import pytest
from slack_sdk.signature import SignatureVerifier
from twilio.request_validator import RequestValidator

from bot.i18n import catalog, render
from channels.common import resolve_settings
from channels.signatures import (facebook_signature, slack_signature, twilio_signature, verify_facebook, verify_slack,
                                 verify_telegram, verify_twilio)
from channels.whatsapp import language_of_number
from tests.servers import RasaStack, demo_shop
from tests.standins.messaging import MessagingCapture

TELEGRAM_TOKEN, TELEGRAM_SECRET = "7012345678:AAH-test-token", "tg_secret-123"
TWILIO_SID, TWILIO_TOKEN, TWILIO_NUMBER = "AC" + "0" * 32, "twilio-auth-token", "whatsapp:+14155238886"
PUBLIC_BASE_URL = "https://assistant.shop.example"  # what Twilio calls; the server itself sees 127.0.0.1
FB_SECRET, FB_PAGE_TOKEN, FB_VERIFY = "fb-app-secret", "EAAB-page-token", "fb-verify-me"
SLACK_SECRET, SLACK_TOKEN = "slack-signing-secret", "xoxb-test-token"
CHANNEL_VARIABLES = ("TELEGRAM_BOT_TOKEN", "TELEGRAM_SECRET_TOKEN", "TELEGRAM_API_BASE", "TWILIO_ACCOUNT_SID",
                     "TWILIO_AUTH_TOKEN", "TWILIO_WHATSAPP_FROM", "PUBLIC_BASE_URL", "TWILIO_API_BASE",
                     "MESSENGER_APP_SECRET", "MESSENGER_PAGE_ACCESS_TOKEN", "MESSENGER_VERIFY_TOKEN",
                     "MESSENGER_API_BASE", "MESSENGER_API_VERSION", "SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN",
                     "SLACK_API_BASE")


def catalog_pattern(key: str, language: str) -> re.Pattern:
    """A catalog message as a pattern: its words fixed, its {placeholders} anything."""
    parts = re.split(r"\{[a-z_]+\}", catalog(language)[key])
    return re.compile(".+?".join(re.escape(p) for p in parts), re.DOTALL)


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, body, headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


# ---- the platforms, as they call us and as we call them ---------------------------------------------

class Platform:
    """One shopper on one platform: builds signed webhook requests and reads the replies the
    channel sent to the platform's API (normalised to recipient, text, buttons)."""

    name = ""
    sender = recipient = ""  # the Rasa conversation id; the platform's id of the shopper's chat

    def __init__(self, stack: RasaStack, capture: MessagingCapture | None):
        self.stack, self.capture = stack, capture
        self.webhook = f"{stack.url}/webhooks/{self.name}/webhook"

    def send(self, body: bytes, headers: dict[str, str]) -> int:
        return post(self.webhook, body, headers)[0]

    def says(self, text: str) -> int:
        return self.send(*self.message(text))

    def replies(self) -> list[tuple[str, str, list[tuple[str, str]]]]:
        return [r for r in map(self.reply_of, self.capture.taken()) if r]

    def wait_replies(self, count: int = 1) -> list[tuple[str, str, list[tuple[str, str]]]]:
        self.capture.wait_for(count, where=lambda r: self.reply_of(r) is not None)
        return self.replies()

    def user_events(self) -> list[dict]:
        return [e for e in self.stack.tracker(quote(self.sender, safe=""))["events"] if e["event"] == "user"]

    def push(self, events: list[dict]) -> int:
        """What the agent console does: events into the conversation, side effects on its channel."""
        url = (f"{self.stack.url}/conversations/{quote(self.sender, safe='')}/tracker/events"
               f"?output_channel=latest&execute_side_effects=true&token={self.stack.token}")
        return post(url, json.dumps(events).encode(), {"Content-Type": "application/json"})[0]

    # per platform

    def message(self, text: str) -> tuple[bytes, dict[str, str]]:
        raise NotImplementedError

    def unhandled(self) -> tuple[bytes, dict[str, str]]:
        """A signed event of a kind the channel does not handle (a receipt, an edit...)."""
        raise NotImplementedError

    def malformed(self) -> list[bytes]:
        """Bodies that are not JSON, or lack the fields a message needs (each gets signed)."""
        return [b"{not json", b"[]", b'{"unexpected": true}']

    def signed(self, body: bytes) -> tuple[bytes, dict[str, str]]:
        return body, self.sign(body, {"Content-Type": "application/json"})

    def sign(self, body: bytes, headers: dict[str, str]) -> dict[str, str]:
        raise NotImplementedError

    def forged(self, body: bytes, headers: dict[str, str]) -> dict[str, str]:
        raise NotImplementedError

    def unsigned(self, headers: dict[str, str]) -> dict[str, str]:
        raise NotImplementedError

    def reply_of(self, request) -> tuple[str, str, list[tuple[str, str]]] | None:
        raise NotImplementedError


class Telegram(Platform):
    name = "telegram"

    def __init__(self, stack, capture, language_code: str | None = "es"):
        super().__init__(stack, capture)
        self.chat_id, self.language_code = random.randint(10 ** 8, 10 ** 10), language_code
        self.sender, self.recipient = f"telegram_{self.chat_id}", str(self.chat_id)

    def user(self) -> dict:
        return {"id": self.chat_id, "is_bot": False, "first_name": "Lucía", "username": "lucia_f",
                **({"language_code": self.language_code} if self.language_code else {})}

    def update(self, **content) -> tuple[bytes, dict[str, str]]:
        body = json.dumps({"update_id": random.randint(10 ** 8, 10 ** 9), **content}).encode()
        return body, self.sign(body, {"Content-Type": "application/json"})

    def message(self, text: str):
        return self.update(message={"message_id": random.randint(1, 10 ** 5), "from": self.user(),
                                    "chat": {"id": self.chat_id, "first_name": "Lucía", "username": "lucia_f",
                                             "type": "private"},
                                    "date": int(time.time()), "text": text})

    def press(self, callback_data: str):
        return self.update(callback_query={"id": str(random.randint(10 ** 15, 10 ** 16)), "from": self.user(),
                                           "message": {"message_id": 41, "from": {"id": 7012345678, "is_bot": True,
                                                                                  "first_name": "Shop"},
                                                       "chat": {"id": self.chat_id, "type": "private"},
                                                       "date": int(time.time()), "text": "..."},
                                           "chat_instance": "-52372891827", "data": callback_data})

    def unhandled(self):
        return self.update(edited_message={"message_id": 7, "from": self.user(), "date": int(time.time()),
                                           "chat": {"id": self.chat_id, "type": "private"},
                                           "edit_date": int(time.time()), "text": "hola!!"})

    def malformed(self):
        return super().malformed() + [b'{"update_id": 5, "message": {"message_id": 1, "text": "hola"}}',  # no chat
                                      b'{"update_id": 6, "callback_query": {"data": "/greet"}}']  # no sender

    def sign(self, body, headers):
        return {**headers, "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}

    def forged(self, body, headers):
        return {**headers, "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET + "x"}

    def unsigned(self, headers):
        return {k: v for k, v in headers.items() if k != "X-Telegram-Bot-Api-Secret-Token"}

    def reply_of(self, request):
        if not request.path.endswith("/sendMessage"):
            return None
        assert request.path == f"/bot{TELEGRAM_TOKEN}/sendMessage"
        keyboard = request.json.get("reply_markup", {}).get("inline_keyboard", [])
        return (str(request.json["chat_id"]), request.json["text"],
                [(b["text"], b["callback_data"]) for row in keyboard for b in row])


class WhatsApp(Platform):
    name = "whatsapp"

    def __init__(self, stack, capture, country_code: str = "34"):
        super().__init__(stack, capture)
        self.number = f"+{country_code}6{random.randint(10 ** 7, 10 ** 8 - 1)}"
        self.sender, self.recipient = f"whatsapp_{self.number[1:]}", f"whatsapp:{self.number}"
        self.public_url = PUBLIC_BASE_URL + "/webhooks/whatsapp/webhook"

    def form(self, **params) -> tuple[bytes, dict[str, str]]:
        body = urlencode(params).encode()
        return body, self.sign(body, {"Content-Type": "application/x-www-form-urlencoded"})

    def message(self, text: str):
        sid = "SM" + "%032x" % random.getrandbits(128)
        return self.form(SmsMessageSid=sid, NumMedia="0", ProfileName="Lucía", MessageType="text",
                         SmsSid=sid, WaId=self.number[1:], SmsStatus="received", Body=text, To=TWILIO_NUMBER,
                         NumSegments="1", ReferralNumMedia="0", MessageSid=sid, AccountSid=TWILIO_SID,
                         From=self.recipient, ApiVersion="2010-04-01")

    def unhandled(self):  # the status callback of a reply: delivered
        sid = "SM" + "%032x" % random.getrandbits(128)
        return self.form(ChannelPrefix="whatsapp", ApiVersion="2010-04-01", MessageStatus="delivered",
                         SmsSid=sid, SmsStatus="delivered", ChannelInstallSid="XE" + "0" * 32,
                         To=self.recipient, From=TWILIO_NUMBER, MessageSid=sid, AccountSid=TWILIO_SID,
                         ChannelToAddress=self.number)

    def malformed(self):  # Twilio posts forms: ones without From or Body, and one that is no form
        return [f"AccountSid={TWILIO_SID}&MessageSid=SM1".encode(), b"Body=hola&NumMedia=0", b"%%%&&=="]

    def signed(self, body):
        return body, self.sign(body, {"Content-Type": "application/x-www-form-urlencoded"})

    def signature(self, url: str, body: bytes) -> str:
        return RequestValidator(TWILIO_TOKEN).compute_signature(url, dict(parse_qsl(body.decode())))

    def sign(self, body, headers):
        return {**headers, "X-Twilio-Signature": self.signature(self.public_url, body)}

    def forged(self, body, headers):
        return {**headers, "X-Twilio-Signature": RequestValidator("not-the-token").compute_signature(
            self.public_url, {})}

    def unsigned(self, headers):
        return {k: v for k, v in headers.items() if k != "X-Twilio-Signature"}

    def reply_of(self, request):
        if not request.path.endswith("/Messages.json"):
            return None
        assert request.path == f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
        assert request.headers["authorization"] == "Basic " + base64.b64encode(
            f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
        assert request.form["From"] == TWILIO_NUMBER
        return request.form["To"], request.form["Body"], []


class Messenger(Platform):
    name = "messenger"
    page_id = "104538291872345"

    def __init__(self, stack, capture):
        super().__init__(stack, capture)
        self.psid = str(random.randint(10 ** 15, 10 ** 16))
        self.sender, self.recipient = f"messenger_{self.psid}", self.psid

    def entry(self, *events: dict) -> tuple[bytes, dict[str, str]]:
        now = int(time.time() * 1000)
        body = json.dumps({"object": "page", "entry": [{"id": self.page_id, "time": now, "messaging": [
            {"sender": {"id": self.psid}, "recipient": {"id": self.page_id}, "timestamp": now, **e}
            for e in events]}]}).encode()
        return body, self.sign(body, {"Content-Type": "application/json"})

    def message(self, text: str):
        return self.entry({"message": {"mid": "m_" + "%x" % random.getrandbits(96), "text": text}})

    def press(self, title: str, payload: str):
        return self.entry({"message": {"mid": "m_" + "%x" % random.getrandbits(96), "text": title,
                                       "quick_reply": {"payload": payload}}})

    def unhandled(self):  # a delivery receipt and a read receipt
        return self.entry({"delivery": {"mids": ["m_abc"], "watermark": int(time.time() * 1000)}},
                          {"read": {"watermark": int(time.time() * 1000)}})

    def malformed(self):
        return super().malformed() + [b'{"object": "page"}',  # no entry
                                      b'{"object": "page", "entry": [{"messaging": [{"message": {"text": "x"}}]}]}']

    def sign(self, body, headers):
        digest = hmac.new(FB_SECRET.encode(), body, hashlib.sha256).hexdigest()
        return {**headers, "X-Hub-Signature-256": f"sha256={digest}"}

    def forged(self, body, headers):
        digest = hmac.new(b"guessed-secret", body, hashlib.sha256).hexdigest()
        return {**headers, "X-Hub-Signature-256": f"sha256={digest}"}

    def unsigned(self, headers):
        return {k: v for k, v in headers.items() if k != "X-Hub-Signature-256"}

    def reply_of(self, request):
        if not request.path.endswith("/me/messages"):
            return None
        assert request.path == "/v19.0/me/messages" and request.query["access_token"] == FB_PAGE_TOKEN
        assert request.query["appsecret_proof"] == hmac.new(FB_SECRET.encode(), FB_PAGE_TOKEN.encode(),
                                                            hashlib.sha256).hexdigest()
        message = request.json["message"]
        return (request.json["recipient"]["id"], message.get("text", ""),
                [(q["title"], q["payload"]) for q in message.get("quick_replies", [])])


class Slack(Platform):
    name = "slack"

    def __init__(self, stack, capture):
        super().__init__(stack, capture)
        self.user, self.channel = f"U{random.randint(10 ** 9, 10 ** 10)}", f"D{random.randint(10 ** 9, 10 ** 10)}"
        self.sender, self.recipient = f"slack_{self.channel}_{self.user}", self.channel

    def event(self, event: dict, timestamp: int | None = None) -> tuple[bytes, dict[str, str]]:
        body = json.dumps({"token": "legacy-verification-token", "team_id": "T0SHOP", "api_app_id": "A0SHOP",
                           "event": event, "type": "event_callback", "event_id": f"Ev{random.getrandbits(40)}",
                           "event_time": int(time.time()), "authorizations": [
                               {"team_id": "T0SHOP", "user_id": "U0BOT", "is_bot": True}]}).encode()
        return body, self.sign(body, {"Content-Type": "application/json"}, timestamp)

    def message(self, text: str, **extra):
        ts = f"{time.time():.6f}"
        return self.event({"client_msg_id": "%032x" % random.getrandbits(128), "type": "message", "text": text,
                           "user": self.user, "ts": ts, "team": "T0SHOP", "channel": self.channel,
                           "event_ts": ts, "channel_type": "im", **extra})

    def press(self, title: str, value: str):
        payload = {"type": "block_actions", "user": {"id": self.user, "username": "lucia", "team_id": "T0SHOP"},
                   "api_app_id": "A0SHOP", "token": "legacy-verification-token",
                   "container": {"type": "message", "message_ts": "1700000000.000100", "channel_id": self.channel},
                   "trigger_id": "123.456.abc", "team": {"id": "T0SHOP", "domain": "shop"},
                   "channel": {"id": self.channel, "name": "directmessage"},
                   "response_url": "https://hooks.slack.com/actions/T0SHOP/1/abc",
                   "actions": [{"action_id": "button_0", "block_id": "b1", "type": "button", "value": value,
                                "text": {"type": "plain_text", "text": title}, "action_ts": f"{time.time():.6f}"}]}
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return body, self.sign(body, {"Content-Type": "application/x-www-form-urlencoded"})

    def unhandled(self):  # the shopper edited a message
        return self.event({"type": "message", "subtype": "message_changed", "channel": self.channel,
                           "channel_type": "im", "hidden": True, "ts": f"{time.time():.6f}",
                           "message": {"type": "message", "user": self.user, "text": "hola!!"}})

    def malformed(self):
        return super().malformed() + [
            b'{"type": "event_callback"}',  # no event
            b'{"type": "event_callback", "event": {"type": "message", "channel_type": "im", "text": "hola"}}',
            urlencode({"payload": json.dumps({"type": "block_actions", "actions": []})}).encode()]

    def signed(self, body):
        kind = "application/x-www-form-urlencoded" if body.startswith(b"payload=") else "application/json"
        return body, self.sign(body, {"Content-Type": kind})

    def sign(self, body, headers, timestamp: int | None = None):
        timestamp = str(int(time.time()) if timestamp is None else timestamp)
        signature = SignatureVerifier(SLACK_SECRET).generate_signature(timestamp=timestamp, body=body)
        return {**headers, "X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}

    def forged(self, body, headers):
        timestamp = headers["X-Slack-Request-Timestamp"]
        return {**headers, "X-Slack-Signature": SignatureVerifier("guessed").generate_signature(
            timestamp=timestamp, body=body)}

    def unsigned(self, headers):
        return {k: v for k, v in headers.items() if k != "X-Slack-Signature"}

    def reply_of(self, request):
        if not request.path.endswith("/chat.postMessage"):
            return None
        assert request.headers["authorization"] == f"Bearer {SLACK_TOKEN}"
        buttons = [(e["text"]["text"], e["value"]) for block in request.json.get("blocks", [])
                   if block["type"] == "actions" for e in block["elements"]]
        return request.json["channel"], request.json["text"], buttons


PLATFORMS = {p.name: p for p in (Telegram, WhatsApp, Messenger, Slack)}


# ---- one Rasa stack for the module ------------------------------------------------------------------

@pytest.fixture(scope="module")
def captures():
    servers = {name: MessagingCapture() for name in PLATFORMS}
    yield servers
    for server in servers.values():
        server.close()


@pytest.fixture(scope="module")
def stack(trained_model, tmp_path_factory, captures):
    env = {"TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN, "TELEGRAM_SECRET_TOKEN": TELEGRAM_SECRET,
           "TELEGRAM_API_BASE": captures["telegram"].url,
           "TWILIO_ACCOUNT_SID": TWILIO_SID, "TWILIO_AUTH_TOKEN": TWILIO_TOKEN, "TWILIO_WHATSAPP_FROM": TWILIO_NUMBER,
           "PUBLIC_BASE_URL": PUBLIC_BASE_URL, "TWILIO_API_BASE": captures["whatsapp"].url,
           "MESSENGER_APP_SECRET": FB_SECRET, "MESSENGER_PAGE_ACCESS_TOKEN": FB_PAGE_TOKEN,
           "MESSENGER_VERIFY_TOKEN": FB_VERIFY, "MESSENGER_API_BASE": captures["messenger"].url,
           "SLACK_SIGNING_SECRET": SLACK_SECRET, "SLACK_BOT_TOKEN": SLACK_TOKEN, "SLACK_API_BASE": captures["slack"].url}
    servers = RasaStack(trained_model, tmp_path_factory.mktemp("channels"), env)
    servers.env["DATABASE_URL"] = demo_shop(tmp_path_factory.mktemp("channels-shop"))
    servers.start()
    yield servers
    servers.stop()


@pytest.fixture
def platform(request, stack, captures):
    """A new shopper on the platform named by the test's parameter, with an empty capture server."""
    capture = captures[request.param]
    capture.clear()
    return PLATFORMS[request.param](stack, capture)


each_platform = pytest.mark.parametrize("platform", list(PLATFORMS), indirect=True)


def only(platform_name: str):
    return pytest.mark.parametrize("platform", [platform_name], indirect=True)


def nothing_happened(platform: Platform) -> None:
    time.sleep(0.5)  # were anything handed to the bot, its replies would be out by now
    assert platform.capture.taken() == []
    assert platform.user_events() == []


# ---- every platform ---------------------------------------------------------------------------------

@each_platform
def test_a_spanish_hola_gets_the_spanish_greeting_on_the_platform(platform):
    assert platform.says("hola") == 200
    (recipient, text, _), = platform.wait_replies()
    assert recipient == platform.recipient
    assert text == render("greet", "es")
    event, = platform.user_events()
    assert event["text"] == "hola" and event["input_channel"] == platform.name
    assert platform.stack.tracker(quote(platform.sender, safe=""))["slots"]["language"] == "es"


@each_platform
def test_a_forged_or_missing_signature_is_refused_and_reaches_nobody(platform):
    body, headers = platform.message("hola")
    assert platform.send(body, platform.forged(body, headers)) == 403
    assert platform.send(body, platform.unsigned(headers)) == 401
    nothing_happened(platform)


@pytest.mark.parametrize("platform", ["whatsapp", "messenger", "slack"], indirect=True)  # Telegram signs no body
def test_a_signed_body_changed_on_the_way_is_refused(platform):
    body, headers = platform.message("hola")
    tampered = body.replace(b"hola", b"HOLA")
    assert platform.send(tampered, headers) == 403
    nothing_happened(platform)


@each_platform
def test_malformed_bodies_are_400_not_500(platform):
    for body in platform.malformed():
        assert platform.send(*platform.signed(body)) == 400, body
    nothing_happened(platform)


@each_platform
def test_signed_events_we_do_not_handle_are_acknowledged_and_ignored(platform):
    assert platform.send(*platform.unhandled()) == 200
    nothing_happened(platform)


@each_platform
def test_an_agents_message_pushed_into_the_conversation_reaches_the_shopper(platform):
    assert platform.says("hola") == 200
    platform.wait_replies()
    platform.capture.clear()
    text = "Hola Lucía, soy Marta del equipo de atención: ya he revisado tu pedido."
    assert platform.push([{"event": "bot", "text": text}]) == 200
    (recipient, sent, _), = platform.wait_replies()
    assert (recipient, sent) == (platform.recipient, text)


@each_platform
def test_buttons_are_native_and_pressing_one_answers_the_question(platform):
    """A cancellation up to its reason: the reasons come as the platform's buttons (numbered lines
    on WhatsApp); pressing one (typing its title on WhatsApp) moves on to the confirmation."""
    platform.says("quiero cancelar mi pedido SH-10003")
    platform.says("lucia.fernandez@example.com")
    replies = platform.wait_replies(2)
    recipient, text, buttons = replies[-1]
    assert recipient == platform.recipient and catalog_pattern("ask_cancel_reason", "es").match(text)
    titles = [render(f"cancel_reason.{c}", "es") for c in ("changed_mind", "found_cheaper")]
    if platform.name == "whatsapp":
        assert buttons == [] and f"1. {titles[0]}" in text and f"2. {titles[1]}" in text
        press = platform.message(titles[1])
    else:
        assert [p for _, p in buttons[:2]] == ['/inform{"choice":"changed_mind"}', '/inform{"choice":"found_cheaper"}']
        if platform.name == "messenger":  # quick reply titles stop at 20 characters: the text lists them whole
            assert all(len(t) <= 20 and title.startswith(t.rstrip("…")) for (t, _), title in zip(buttons, titles))
            assert f"2. {titles[1]}" in text
        else:
            assert [t for t, _ in buttons[:2]] == titles
        press = platform.press(*buttons[1]) if platform.name != "telegram" else platform.press(buttons[1][1])
    platform.capture.clear()
    assert platform.send(*press) == 200
    (_, text, buttons), = platform.wait_replies()
    assert catalog_pattern("ask_confirm_cancel", "es").match(text), text
    assert platform.stack.tracker(quote(platform.sender, safe=""))["slots"]["cancel_reason"] == "found_cheaper"


# ---- what is particular to each platform -----------------------------------------------------------

@only("telegram")
def test_telegram_start_greets_in_the_apps_language(platform):
    platform.language_code = "ja"
    assert platform.says("/start") == 200
    (_, text, _), = platform.wait_replies()
    assert text == render("greet", "ja")
    assert platform.user_events()[0]["metadata"]["language_code"] == "ja"


@only("telegram")
def test_telegram_button_press_is_acknowledged(platform):
    assert platform.send(*platform.press("/greet")) == 200
    answered = platform.capture.wait_for(where=lambda r: r.path.endswith("/answerCallbackQuery"))
    assert answered and answered[0].path == f"/bot{TELEGRAM_TOKEN}/answerCallbackQuery"
    (_, text, _), = platform.wait_replies()
    assert text == render("greet", "es")  # the pressing user's language_code


@only("whatsapp")
def test_whatsapp_the_number_country_is_the_language_prior(platform):
    german = WhatsApp(platform.stack, platform.capture, country_code="49")
    assert german.says("hi") == 200  # too short to tell: the +49 number decides
    (recipient, text, _), = german.wait_replies()
    assert recipient == german.recipient and text == render("greet", "de")


@only("whatsapp")
def test_whatsapp_signature_is_over_the_public_url_not_the_one_the_server_sees(platform):
    body, headers = platform.message("hola")
    local = {**headers, "X-Twilio-Signature": platform.signature(platform.webhook, body)}
    assert platform.send(body, local) == 403
    with_port = {**headers, "X-Twilio-Signature": platform.signature(
        platform.public_url.replace(".example/", ".example:443/"), body)}
    assert platform.send(body, with_port) == 200  # Twilio sometimes signs with the port; its SDK accepts both
    platform.wait_replies()


@only("messenger")
def test_messenger_subscription_check_echoes_the_challenge_only_with_our_verify_token(platform):
    url = platform.webhook + "?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token="
    with urllib.request.urlopen(url + FB_VERIFY) as answer:
        assert answer.read() == b"1158201444"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url + "guess")
    assert refused.value.code == 403


@only("messenger")
def test_messenger_sha1_signature_alone_is_not_enough(platform):
    body, headers = platform.message("hola")
    sha1 = "sha1=" + hmac.new(FB_SECRET.encode(), body, hashlib.sha1).hexdigest()
    assert platform.send(body, {**platform.unsigned(headers), "X-Hub-Signature": sha1}) == 401
    nothing_happened(platform)


@only("messenger")
def test_messenger_our_own_echo_is_ignored(platform):
    assert platform.send(*platform.entry({"message": {"mid": "m_echo", "is_echo": True, "app_id": 1517776481860111,
                                                      "text": "hola"}})) == 200
    nothing_happened(platform)


@only("slack")
def test_slack_replayed_request_older_than_five_minutes_is_refused(platform):
    old = int(time.time()) - 6 * 60
    body, headers = platform.message("hola")
    assert platform.send(body, platform.sign(body, {"Content-Type": "application/json"}, old)) == 403
    nothing_happened(platform)


@only("slack")
def test_slack_retries_and_bot_messages_are_not_answered(platform):
    body, headers = platform.message("hola")
    assert platform.send(body, {**headers, "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}) == 200
    assert platform.send(*platform.message("hola", bot_id="B0SHOP", app_id="A0SHOP")) == 200
    assert platform.send(*platform.message("hola", subtype="bot_message")) == 200
    nothing_happened(platform)


@only("slack")
def test_slack_url_verification_and_mentions_in_a_channel(platform):
    body = json.dumps({"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                       "type": "url_verification"}).encode()
    status, answer = post(platform.webhook, body, platform.sign(body, {"Content-Type": "application/json"}))
    assert status == 200 and json.loads(answer)["challenge"].startswith("3eZbrw1aBm")
    # In a channel, Slack sends an @mention both as "message" and as "app_mention": one answer.
    platform.channel = "C0SUPPORT"
    platform.sender, platform.recipient = f"slack_C0SUPPORT_{platform.user}", "C0SUPPORT"
    ts = f"{time.time():.6f}"
    event = {"type": "message", "text": "<@U0BOT> hola", "user": platform.user, "ts": ts, "channel": "C0SUPPORT",
             "event_ts": ts, "channel_type": "channel"}
    assert platform.send(*platform.event(event)) == 200
    assert platform.send(*platform.event({**event, "type": "app_mention"})) == 200
    (recipient, text, _), = platform.wait_replies()
    time.sleep(0.5)
    assert len(platform.replies()) == 1 and recipient == "C0SUPPORT" and text == render("greet", "es")
    assert [e["text"] for e in platform.user_events()] == ["hola"]


# ---- without Rasa: the checks themselves ------------------------------------------------------------

def test_twilio_signature_agrees_with_twilios_sdk():
    url = "https://assistant.shop.example/webhooks/whatsapp/webhook"
    params = {"Body": "¿dónde está mi pedido?", "From": "whatsapp:+34600111222", "To": TWILIO_NUMBER,
              "NumMedia": "0", "ProfileName": ""}
    expected = RequestValidator(TWILIO_TOKEN).compute_signature(url, params)
    assert twilio_signature(TWILIO_TOKEN, url, params.items()) == expected
    assert verify_twilio(TWILIO_TOKEN, url, params.items(), expected)
    assert verify_twilio(TWILIO_TOKEN, url.replace(".example/", ".example:443/"), params.items(), expected)
    assert not verify_twilio(TWILIO_TOKEN, url, {**params, "Body": "cancel SH-10004"}.items(), expected)
    assert not verify_twilio(TWILIO_TOKEN, url + "?x=1", params.items(), expected)
    assert not verify_twilio("another-token", url, params.items(), expected)
    assert not verify_twilio(TWILIO_TOKEN, url, params.items(), None)


def test_telegram_secret_token():
    assert verify_telegram(TELEGRAM_SECRET, TELEGRAM_SECRET)
    assert not verify_telegram(TELEGRAM_SECRET, TELEGRAM_SECRET[:-1])
    assert not verify_telegram(TELEGRAM_SECRET, None)
    assert not verify_telegram("", "")


def test_facebook_signature():
    body = b'{"object":"page","entry":[]}'
    header = "sha256=" + hmac.new(FB_SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert facebook_signature(FB_SECRET, body) == header
    assert verify_facebook(FB_SECRET, body, header)
    assert not verify_facebook(FB_SECRET, body + b" ", header)
    assert not verify_facebook("wrong-secret", body, header)
    assert not verify_facebook(FB_SECRET, body, header.replace("sha256=", "sha1="))
    assert not verify_facebook(FB_SECRET, body, None)


def test_slack_signature_and_its_replay_window():
    body, now = b'{"type":"event_callback"}', time.time()
    timestamp = str(int(now))
    header = SignatureVerifier(SLACK_SECRET).generate_signature(timestamp=timestamp, body=body)
    assert slack_signature(SLACK_SECRET, timestamp, body) == header
    assert verify_slack(SLACK_SECRET, timestamp, body, header, now=now)
    assert verify_slack(SLACK_SECRET, timestamp, body, header, now=now + 299)
    assert not verify_slack(SLACK_SECRET, timestamp, body, header, now=now + 301)  # replayed later
    assert not verify_slack(SLACK_SECRET, timestamp, body, header, now=now - 301)  # from the future
    assert not verify_slack(SLACK_SECRET, timestamp, body + b" ", header, now=now)
    assert not verify_slack("wrong-secret", timestamp, body, header, now=now)
    assert not verify_slack(SLACK_SECRET, str(int(now) + 1), body, header, now=now)  # timestamp is signed
    assert not verify_slack(SLACK_SECRET, "not-a-number", body, header, now=now)


def test_no_secret_means_nothing_verifies_not_even_a_signature_made_with_an_empty_key():
    body, timestamp = b"{}", str(int(time.time()))
    assert not verify_twilio("", "https://x/y", [], twilio_signature("", "https://x/y", []))
    assert not verify_facebook("", body, facebook_signature("", body))
    assert not verify_slack("", timestamp, body, slack_signature("", timestamp, body))
    assert not verify_telegram("", "")


def test_language_of_a_whatsapp_number():
    expected = {"+34600111222": "es", "+4915112345678": "de", "+819012345678": "ja", "+966501234567": "ar",
                "+905321234567": "tr", "+5511987654321": "pt", "+351912345678": "pt", "+79161234567": "ru",
                "+821012345678": "ko", "+8613812345678": "zh", "+33612345678": "fr", "+393331234567": "it",
                "+31612345678": "nl", "+48501234567": "pl", "+447700900123": "en", "+14155238886": "en",
                "+41791234567": None, "+32470123456": None, "34600111222": None}
    assert {n: language_of_number(f"whatsapp:{n}") for n in expected} == expected


def test_settings_come_from_the_variables_credentials_yml_names(monkeypatch):
    spec = {"secret": ("SHOP_TEST_SECRET", ""), "api_base": ("SHOP_TEST_API", "https://api.example")}
    monkeypatch.setenv("SHOP_TEST_SECRET", "s3cret")
    monkeypatch.delenv("SHOP_TEST_API", raising=False)
    assert resolve_settings({"secret": "$SHOP_TEST_SECRET", "api_base": "$SHOP_TEST_API"}, spec) == \
        {"secret": "s3cret", "api_base": "https://api.example"}
    assert resolve_settings(None, spec) == {"secret": "s3cret", "api_base": "https://api.example"}
    assert resolve_settings({"secret": "literal", "api_base": "http://127.0.0.1:9"}, spec) == \
        {"secret": "literal", "api_base": "http://127.0.0.1:9"}
    monkeypatch.setenv("SHOP_TEST_SECRET", "")
    assert resolve_settings({"secret": "$SHOP_TEST_SECRET"}, spec)["secret"] == ""


@contextlib.contextmanager
def channels_alone(monkeypatch, env: dict[str, str]):
    """The channels of credentials.yml, built as Rasa builds them with exactly `env` of their
    variables set, in a Sanic app of their own on a thread (no model, no bot behind them: a
    message that got through would fail inside and be logged). Yields a stand-in for RasaStack
    with the app's URL."""
    for variable in CHANNEL_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    from rasa.core.channels.channel import register
    from rasa.core.run import _create_single_channel
    from rasa.shared.utils.io import read_config_file
    from sanic import Sanic

    from bot.config import PROJECT_ROOT

    # The whole file is read as Rasa reads it (an unset ${VAR} anywhere would fail here); only our
    # channels are built, so the widget's socketio entry has no say in these tests.
    credentials = read_config_file(str(PROJECT_ROOT / "credentials.yml"))
    channels = [_create_single_channel(key, value) for key, value in credentials.items()
                if key.startswith("channels.") and key.split(".")[1] in PLATFORMS]  # not channels.rest, .socketio
    assert {c.name() for c in channels} == set(PLATFORMS)
    # Sanic's test mode lets a process start more than one app (it rewrites a class's methods once).
    monkeypatch.setattr(Sanic, "test_mode", True)
    app = Sanic(f"channels_alone_{random.getrandbits(32)}", configure_logging=False)
    register(channels, app, route="/webhooks/")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    loop, started = asyncio.new_event_loop(), threading.Event()

    def serve():
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True))
        loop.run_until_complete(server.startup())
        started.set()
        loop.run_forever()
        server.close()
        loop.run_until_complete(server.wait_closed())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(30)
    try:
        yield SimpleNamespace(url=f"http://127.0.0.1:{port}")
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def test_with_no_messaging_variables_the_channels_load_and_refuse_everything(monkeypatch):
    """What `scripts/run.sh` does: credentials.yml with none of the variables set. The channels
    load (Rasa would refuse to start on an unset ${VAR}), and even a request signed with an empty
    secret is refused."""
    with channels_alone(monkeypatch, {}) as app:
        base, timestamp = f"{app.url}/webhooks", str(int(time.time()))
        body = b'{"update_id": 1, "message": {"chat": {"id": 1}, "text": "hola"}}'
        form = b"From=whatsapp%3A%2B34600111222&Body=hola"
        signed_with_nothing = {
            "telegram": (body, {"X-Telegram-Bot-Api-Secret-Token": ""}),
            "whatsapp": (form, {"X-Twilio-Signature": twilio_signature(
                "", f"{base}/whatsapp/webhook", [("From", "whatsapp:+34600111222"), ("Body", "hola")])}),
            "messenger": (body, {"X-Hub-Signature-256": facebook_signature("", body)}),
            "slack": (body, {"X-Slack-Request-Timestamp": timestamp,
                             "X-Slack-Signature": slack_signature("", timestamp, body)}),
        }
        for name, (payload, headers) in signed_with_nothing.items():
            assert post(f"{base}/{name}/webhook", payload, headers)[0] == 403, name
            with urllib.request.urlopen(f"{base}/{name}/") as answer:
                assert json.load(answer) == {"status": "ok", "configured": False}
        with pytest.raises(urllib.error.HTTPError) as refused:  # Messenger's subscription check too
            urllib.request.urlopen(f"{base}/messenger/webhook?hub.mode=subscribe&hub.challenge=1&hub.verify_token=")
        assert refused.value.code == 403


def test_signed_bodies_of_any_shape_never_get_a_500(monkeypatch):
    """Every level of each platform's payload replaced by null, a number, a string, a list or an
    empty object, correctly signed: 400 or 200, never a server error."""
    env = {"TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN, "TELEGRAM_SECRET_TOKEN": TELEGRAM_SECRET,
           "TELEGRAM_API_BASE": "http://127.0.0.1:9", "MESSENGER_APP_SECRET": FB_SECRET,
           "MESSENGER_PAGE_ACCESS_TOKEN": FB_PAGE_TOKEN, "MESSENGER_VERIFY_TOKEN": FB_VERIFY,
           "MESSENGER_API_BASE": "http://127.0.0.1:9", "SLACK_SIGNING_SECRET": SLACK_SECRET,
           "SLACK_BOT_TOKEN": SLACK_TOKEN, "SLACK_API_BASE": "http://127.0.0.1:9"}
    shapes = {
        "telegram": {"update_id": 1, "message": {"message_id": 2, "from": {"id": 3, "language_code": "es"},
                                                 "chat": {"id": 3, "type": "private"}, "text": "/start"},
                     "callback_query": {"id": "4", "from": {"id": 3}, "message": {"chat": {"id": 3}}, "data": "x"}},
        "messenger": {"object": "page", "entry": [{"id": "1", "messaging": [
            {"sender": {"id": "5"}, "message": {"mid": "m", "text": "hola", "quick_reply": {"payload": "p"}},
             "postback": {"payload": "p"}}]}]},
        "slack": {"type": "event_callback", "event": {"type": "app_mention", "user": "U1", "channel": "C1",
                                                      "text": "<@U0> hola", "channel_type": "channel"}},
    }
    actions = {"type": "block_actions", "user": {"id": "U1"}, "channel": {"id": "D1"}, "actions": [{"value": "v"}]}
    weird = [None, 0, "x", [], {}, [{}], True]

    def variants(value):
        """`value` with each sub-value in turn replaced by each weird value."""
        yield value
        if isinstance(value, dict):
            for key in value:
                for replacement in weird:
                    yield {**value, key: replacement}
                for inner in variants(value[key]):
                    yield {**value, key: inner}
        elif isinstance(value, list) and value:
            for inner in variants(value[0]):
                yield [inner]

    with channels_alone(monkeypatch, env) as app:
        statuses = []
        for name, shape in shapes.items():
            platform = PLATFORMS[name](app, None)
            bodies = [json.dumps(v).encode() for v in variants(shape)]
            if name == "slack":
                bodies += [urlencode({"payload": json.dumps(v)}).encode() for v in variants(actions)]
            for body in bodies:
                status = platform.send(*platform.signed(body))
                assert status in (200, 400), (name, status, body)
                statuses.append(status)
        assert len(statuses) > 300 and {200, 400} <= set(statuses)
