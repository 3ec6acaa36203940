"""Webhook signature checks of the messaging platforms (pure functions, standard library only).

Every check returns False when the secret is not configured: an unconfigured channel must reject
everything rather than accept unsigned requests. Comparisons are constant-time.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Iterable
from urllib.parse import urlsplit, urlunsplit

SLACK_REPLAY_WINDOW = 5 * 60  # seconds; Slack's own recommendation


def _equal(expected: str, given: str | None) -> bool:
    if not given:
        return False
    try:  # a header's bytes that are not UTF-8 arrive as surrogate escapes
        given_bytes = given.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(expected.encode(), given_bytes)


# ---- Twilio: base64(HMAC-SHA1(auth token, full URL + each POST param's name and value, sorted by name))

def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    text = url + "".join(name + value for name, value in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), text.encode(), hashlib.sha1).digest()).decode()


def verify_twilio(auth_token: str, url: str, params: Iterable[tuple[str, str]], signature: str | None) -> bool:
    """Twilio signs the URL sometimes with the default port and sometimes without (its own SDK checks
    both), so both forms are accepted."""
    params = list(params)
    return bool(auth_token) and any(_equal(twilio_signature(auth_token, u, params), signature)
                                    for u in _with_and_without_default_port(url))


def _with_and_without_default_port(url: str) -> list[str]:
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    if default is None or (parts.port not in (None, default)):
        return [url]
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""
    return [urlunsplit(parts._replace(netloc=f"{prefix}{host}")),
            urlunsplit(parts._replace(netloc=f"{prefix}{host}:{default}"))]


# ---- Telegram: the secret_token given to setWebhook comes back in X-Telegram-Bot-Api-Secret-Token

def verify_telegram(secret_token: str, header: str | None) -> bool:
    return bool(secret_token) and _equal(secret_token, header)


# ---- Facebook (Messenger): X-Hub-Signature-256 = "sha256=" + hex HMAC-SHA256(app secret, raw body)

def facebook_signature(app_secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def verify_facebook(app_secret: str, body: bytes, header: str | None) -> bool:
    return bool(app_secret) and _equal(facebook_signature(app_secret, body), header)


# ---- Slack: X-Slack-Signature = "v0=" + hex HMAC-SHA256(signing secret, "v0:{timestamp}:{raw body}")

def slack_signature(signing_secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


def verify_slack(signing_secret: str, timestamp: str | None, body: bytes, header: str | None,
                 now: float | None = None) -> bool:
    """Also refuses a timestamp more than five minutes off: a captured request cannot be replayed."""
    if not signing_secret or not timestamp or not (timestamp.isascii() and timestamp.isdigit()):  # not "²"
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > SLACK_REPLAY_WINDOW:
        return False
    return _equal(slack_signature(signing_secret, timestamp, body), header)
