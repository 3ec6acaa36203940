"""Verification before data, on SQLite and PostgreSQL: what proves an order is yours, what a wrong
guess reveals (nothing), the lock-out, and storefront tokens."""
from __future__ import annotations

from datetime import timedelta

import pytest

from bot.identity import Verification, Verifier, customer_from_token, orders_of, sign_customer_token

SECRET = "storefront-secret"


@pytest.fixture
def clock(now):
    class Clock:
        value = now

        def __call__(self):
            return self.value
    return Clock()


@pytest.fixture
def verifier(demo_db, clock):
    return Verifier(demo_db, clock=clock)


@pytest.mark.parametrize("email, postcode", [
    ("lucia.fernandez@example.com", None),
    ("  Lucia.Fernandez@Example.com ", None),
    (None, "28014"),
    (None, " 28014 "),
])
def test_order_number_and_email_or_postcode_verify(verifier, email, postcode):
    result = verifier.verify("c1", "sh 10003", email=email, postcode=postcode)
    assert result == Verification(True, "SH-10003", "lucia.fernandez@example.com")


def test_postcodes_are_compared_in_the_countrys_format(verifier):
    assert verifier.verify("c1", "SH-10005", postcode="nw16xe").ok  # London: NW1 6XE
    assert verifier.verify("c2", "SH-10009", postcode="1016gv").ok  # Amsterdam: 1016 GV


@pytest.mark.parametrize("order, email, postcode", [
    ("SH-10003", "someone.else@example.com", None),  # another customer's e-mail
    ("SH-10003", "emily.carter@example.com", None),  # a real customer, not this order's
    ("SH-10003", None, "10119"),
    ("SH-99999", "lucia.fernandez@example.com", None),  # no such order
    ("SH-10003", None, None),
    ("' OR 1=1 --", "x@example.com", None),
])
def test_a_wrong_answer_reveals_nothing(verifier, order, email, postcode):
    result = verifier.verify("c1", order, email=email, postcode=postcode)
    # The same neutral answer whether or not the order exists: no number, no e-mail, no hint.
    assert result == Verification(False)


def test_five_failures_lock_the_conversation(verifier, clock):
    for _ in range(4):
        assert verifier.verify("c1", "SH-10003", email="wrong@example.com") == Verification(False)
    locked = verifier.verify("c1", "SH-10003", email="wrong@example.com")
    assert not locked.ok and locked.locked_until == clock.value + timedelta(minutes=30)
    # Even the right answer is refused while locked, and for any order in this conversation.
    assert not verifier.verify("c1", "SH-10003", email="lucia.fernandez@example.com").ok
    assert not verifier.verify("c1", "SH-10001", email="emily.carter@example.com").ok
    # Another conversation is not locked for other orders.
    assert verifier.verify("c2", "SH-10001", email="emily.carter@example.com").ok
    # After the lock, the right answer works again.
    clock.value += timedelta(minutes=31)
    assert verifier.verify("c1", "SH-10003", email="lucia.fernandez@example.com").ok


def test_guessing_one_order_from_many_conversations_locks_the_order(verifier):
    for n in range(5):
        assert not verifier.verify(f"attacker-{n}", "SH-10003", postcode=f"2901{n}").ok
    assert verifier.verify("fresh", "SH-10003", postcode="28014").locked_until is not None
    assert verifier.verify("fresh", "SH-10001", postcode="97205").ok  # other orders are unaffected


def test_enumerating_order_numbers_is_locked_like_guessing_one(verifier):
    results = [verifier.verify("enumerator", f"SH-1{n:04d}", email="a@b.co") for n in range(1, 7)]
    assert all(not r.ok for r in results) and results[-1].locked_until is not None


def test_signed_tokens_identify_the_customer_until_they_expire(now):
    token = sign_customer_token("Emily.Carter@example.com", SECRET, now)
    assert customer_from_token(token, SECRET, now) == "emily.carter@example.com"
    assert customer_from_token(token, SECRET, now + timedelta(minutes=31)) is None  # expired
    assert customer_from_token(token, "another-secret", now) is None  # forged


@pytest.mark.parametrize("token", [None, "", "abc", "a.b.c", "eyJzdWIiOiJ4In0.AAAA", 42, "...", "é.é"])
def test_malformed_tokens_are_just_not_identity(now, token):
    assert customer_from_token(token, SECRET, now) is None


def test_a_tampered_token_is_refused(now):
    body, signature = sign_customer_token("emily.carter@example.com", SECRET, now).split(".")
    import base64
    import json
    forged = base64.urlsafe_b64encode(json.dumps({"sub": "wang.fang@example.com", "exp": 9999999999}).encode())
    assert customer_from_token(f"{forged.decode().rstrip('=')}.{signature}", SECRET, now) is None


def test_a_verified_customer_sees_their_own_orders_newest_first(demo_db):
    camille = orders_of(demo_db, "Camille.Dubois@example.com")
    assert camille.index("SH-10004") < camille.index("SH-10020")  # placed 5 and 15 days ago
    assert all(n in orders_of(demo_db, "emily.carter@example.com") for n in ("SH-10001", "SH-10022"))
    assert orders_of(demo_db, "nobody@example.com") == []


def test_a_signature_has_one_spelling_only(now):
    """Base64's last character carries spare bits: a variant that decodes to the same bytes is refused."""
    body, signature = sign_customer_token("emily.carter@example.com", SECRET, now).split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(signature[-1])
    twin = signature[:-1] + alphabet[last ^ 1]  # flips a spare bit: same 32 bytes once decoded
    import base64
    assert base64.urlsafe_b64decode(twin + "=") == base64.urlsafe_b64decode(signature + "=")
    assert customer_from_token(f"{body}.{twin}", SECRET, now) is None
    assert customer_from_token(f"{body}.{signature}", SECRET, now) == "emily.carter@example.com"
