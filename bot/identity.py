"""Who is asking: verification before any order detail is shown.

A shopper proves an order is theirs with its number plus the order's e-mail or destination
postcode, or arrives with a customer token signed by the shop's storefront. A wrong answer gets the
same neutral result whether the order exists or not; five failures lock verification for a while,
per conversation and per order number across conversations (so guessing from many conversations
does not help either).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import lazyload

from bot.address import normalise_postcode
from bot.db import Database
from bot.models import Customer, Order, VerificationAttempt, utcnow
from bot.service import order_key

MAX_FAILURES = 5
LOCK = timedelta(minutes=30)


@dataclass(frozen=True)
class Verification:
    ok: bool
    order_number: str | None = None  # canonical number, only when ok
    customer_email: str | None = None
    locked_until: datetime | None = None  # set when verification is locked


class Verifier:
    def __init__(self, db: Database, clock: Callable[[], datetime] = utcnow,
                 max_failures: int = MAX_FAILURES, lock: timedelta = LOCK):
        self.db, self.clock, self.max_failures, self.lock = db, clock, max_failures, lock

    def verify(self, conversation_id: str, order_number: str, *, email: str | None = None,
               postcode: str | None = None) -> Verification:
        now = self.clock()
        key = order_key(order_number)[:32]
        with self.db.transaction() as session:
            locked_until = self._locked_until(session, conversation_id, key, now)
            if locked_until:
                return Verification(False, locked_until=locked_until)
            # Only the order's own fields are compared: none of its parts (eager by default) is loaded.
            order = session.execute(select(Order).where(Order.number_key == key).options(lazyload("*"))) \
                .scalar_one_or_none()
            ok = order is not None and _matches(order, email, postcode)
            session.add(VerificationAttempt(conversation_id=conversation_id, order_key=key, succeeded=ok, at=now))
            if not ok:
                session.flush()
                return Verification(False, locked_until=self._locked_until(session, conversation_id, key, now))
            return Verification(True, order.number, order.customer.email)

    def _locked_until(self, session, conversation_id: str, key: str, now: datetime) -> datetime | None:
        since = now - self.lock
        for column, value in ((VerificationAttempt.conversation_id, conversation_id),
                              (VerificationAttempt.order_key, key)):
            failures = session.execute(
                select(func.count(), func.max(VerificationAttempt.at))
                .where(column == value, VerificationAttempt.succeeded.is_(False), VerificationAttempt.at > since)
            ).one()
            if failures[0] >= self.max_failures:
                latest = failures[1]
                return (latest if latest.tzinfo else latest.replace(tzinfo=now.tzinfo)) + self.lock
        return None


def _matches(order: Order, email: str | None, postcode: str | None) -> bool:
    """Constant-time comparison of what the shopper gave with what the order holds."""
    if email:
        return hmac.compare_digest(email.strip().lower().encode(), order.customer.email.lower().encode())
    if postcode and order.ship_postcode:
        given = normalise_postcode(order.ship_country, postcode) or ""
        return hmac.compare_digest(given.encode(), normalise_postcode(order.ship_country, order.ship_postcode).encode())
    return False


# ---- signed customer tokens from the storefront --------------------------------------------------

def sign_customer_token(email: str, secret: str, now: datetime, ttl: timedelta = timedelta(minutes=30)) -> str:
    """What the shop's backend gives its chat widget for a logged-in customer."""
    payload = json.dumps({"sub": email.lower(), "exp": int((now + ttl).timestamp())}, separators=(",", ":"))
    body = _b64(payload.encode())
    return f"{body}.{_b64(_mac(body, secret))}"


def customer_from_token(token: str | None, secret: str | None, now: datetime) -> str | None:
    """The customer's e-mail if the token is genuine and unexpired; None for anything else."""
    if not token or not secret or not isinstance(token, str) or token.count(".") != 1:
        return None
    body, signature = token.split(".")
    try:
        # Only the one canonical spelling of the signature: base64 leaves spare bits in its last
        # character, and a token must not have look-alike variants that still pass.
        if _b64(_unb64(signature)) != signature or not hmac.compare_digest(_unb64(signature), _mac(body, secret)):
            return None
        payload = json.loads(_unb64(body))
    except (ValueError, TypeError):
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("sub"), str) or not isinstance(payload.get("exp"), int):
        return None
    return payload["sub"] if payload["exp"] > now.timestamp() else None


def orders_of(db: Database, email: str) -> list[str]:
    """A verified customer's order numbers, newest first."""
    with db.transaction() as session:
        return list(session.execute(
            select(Order.number).join(Customer).where(Customer.email == email.lower())
            .order_by(Order.placed_at.desc())).scalars())


def _mac(body: str, secret: str) -> bytes:
    return hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
