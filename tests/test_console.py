"""The agent console's API against the real thing: a Rasa server and action server on a demo shop,
the console process (`python -m console`), and a LibreTranslate stand-in at the network edge.

Shoppers talk over the REST channel here; tests/test_console_browser.py does it in the widget.
"""
from __future__ import annotations

import subprocess
import threading
from datetime import datetime, timedelta, timezone

import pytest
import requests

from sqlalchemy import select

from bot import satisfaction
from bot.db import Database
from bot.i18n import catalog, render
from bot.models import Rating
from tests.servers import VENV_BIN, PROJECT_ROOT, RasaStack, WebApp, demo_shop
from tests.standins.libretranslate import LibreTranslateStandIn

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def libre():
    server = LibreTranslateStandIn()
    yield server
    server.close()


@pytest.fixture(scope="module")
def shop(tmp_path_factory, trained_model, libre):
    work = tmp_path_factory.mktemp("console")
    url = demo_shop(work)
    env = {"DATABASE_URL": url, "TRANSLATION_BACKEND": "libre", "TRANSLATION_BASE_URL": libre.url,
           "TRANSLATION_RETRY_SECONDS": "0"}
    for username, name, language in (("maria", "Maria", "en"), ("jun", "Jun", "ja")):
        subprocess.run([str(VENV_BIN / "python"), "-m", "bot", "agent", "add", username, "--name", name,
                        "--language", language, "--password-stdin"], input=PASSWORD + "\n", text=True, check=True,
                       cwd=PROJECT_ROOT, env={**env, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT_ROOT)},
                       capture_output=True)
    stack = RasaStack(trained_model, work, env).start()
    console = WebApp("console", work, {**env, "RASA_URL": stack.url, "RASA_AUTH_TOKEN": stack.token,
                                      "TRACKER_STORE_URL": stack.env["TRACKER_STORE_URL"]},
                     "CONSOLE_PORT")
    yield stack, console
    console.stop()
    stack.stop()


@pytest.fixture(scope="module")
def stack(shop):
    return shop[0]


@pytest.fixture(scope="module")
def console(shop):
    return shop[1]


def logged_in(console, username="maria") -> requests.Session:
    session = requests.Session()
    response = session.post(f"{console.url}/api/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return session


def ask_for_a_person(stack, text="hola, necesito hablar con una persona", **metadata) -> tuple[str, list[str]]:
    sender = stack.new_sender()
    return sender, stack.send(sender, text, metadata or None)


def case_of(session, console, sender) -> dict:
    cases = session.get(f"{console.url}/api/queue").json()["cases"]
    return next(c for c in cases if c["conversation_id"] == sender)


def bot_texts_after(tracker: dict, index: int) -> list[str]:
    return [e["text"] for e in tracker["events"][index:] if e["event"] == "bot"]


# -- login and access -------------------------------------------------------------------------------

API_ROUTES = [("GET", "/api/me"), ("GET", "/api/queue"), ("GET", "/api/canned"), ("GET", "/api/cases/CS-X"),
              ("POST", "/api/cases/CS-X/claim"), ("POST", "/api/cases/CS-X/release"),
              ("POST", "/api/cases/CS-X/reply"), ("POST", "/api/cases/CS-X/decide"),
              ("POST", "/api/cases/CS-X/hand-back"), ("POST", "/api/logout")]


@pytest.mark.parametrize("method, path", API_ROUTES)
def test_every_api_route_needs_a_login(console, method, path):
    anonymous = requests.request(method, f"{console.url}{path}", json={})
    assert anonymous.status_code == 401 and anonymous.json() == {"error": "log in first"}
    forged = requests.request(method, f"{console.url}{path}", json={}, cookies={"console_session": "forged"})
    assert forged.status_code == 401


def test_the_console_page_sends_strangers_to_the_login_page(console):
    response = requests.get(f"{console.url}/", allow_redirects=False)
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert requests.get(f"{console.url}/login").status_code == 200


def test_login_sets_a_safe_cookie_and_logout_ends_it(console):
    wrong = requests.post(f"{console.url}/api/login", json={"username": "maria", "password": "nope"})
    assert wrong.status_code == 401 and "wrong username or password" in wrong.json()["error"]
    assert requests.post(f"{console.url}/api/login", data="not json").status_code == 400
    response = requests.post(f"{console.url}/api/login", json={"username": "maria", "password": PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    session = requests.Session()
    session.cookies.update(response.cookies)
    assert session.get(f"{console.url}/api/me").json()["agent"]["language"] == "en"
    assert session.post(f"{console.url}/api/logout").status_code == 200
    session.cookies.update(response.cookies)  # even a copy of the old cookie no longer works
    assert session.get(f"{console.url}/api/me").status_code == 401


def test_shoppers_channels_cannot_reach_the_console(stack, console):
    # The console is its own server; the Rasa server's routes know nothing of it.
    assert requests.get(f"{stack.url}/api/queue").status_code == 404


# -- a takeover from start to end -------------------------------------------------------------------

def test_an_escalated_conversation_pauses_the_bot_and_reaches_the_queue(stack, console):
    sender, replies = ask_for_a_person(stack)
    assert any("CS-" in r for r in replies)
    assert replies[-1] == render("paused.open", "es") or replies[-1].startswith(
        catalog("es")["paused.closed"].split("{back_at}")[0])  # open or closed: it depends on the hour
    assert stack.send(sender, "sigo esperando") == []  # paused: the bot answers nothing
    assert stack.tracker(sender)["paused"] is True

    session = logged_in(console)
    case = case_of(session, console, sender)
    assert case["status"] == "escalated" and case["language"] == "es" and case["type"] == "handoff"
    assert case["sla_due_at"] and case["priority"] == "normal"
    view = session.get(f"{console.url}/api/cases/{case['number']}").json()
    shopper = [line for line in view["transcript"] if line["from"] == "shopper"]
    assert shopper[0]["text"] == "hola, necesito hablar con una persona"
    assert shopper[0]["translation"] == "hi, I need to talk to a person"
    assert shopper[0]["translation_label"] == "Machine translation"
    assert shopper[1]["translation"] == "I'm still waiting"  # what was written while paused reaches the agent
    decision = next(step for step in view["trace"] if step["kind"] == "decision")
    assert decision["rule_id"] == "handoff.requested" and decision["outcome_label"] == "Needs an agent"
    assert decision["explanation"] and case["number"] in decision["explanation"][0]


def test_claim_reply_decide_and_hand_back(stack, console, libre):
    sender, _ = ask_for_a_person(stack)
    maria = logged_in(console)
    number = case_of(maria, console, sender)["number"]
    base = f"{console.url}/api/cases/{number}"

    assert maria.post(f"{base}/reply", json={"text": "hello"}).status_code == 409  # not claimed yet
    claimed = maria.post(f"{base}/claim")
    assert claimed.status_code == 200 and claimed.json()["case"]["assignee"] == "maria"
    assert logged_in(console, "jun").post(f"{base}/claim").status_code == 409
    tracker = stack.tracker(sender)
    assert render("agent_joined", "es", agent="Maria") in bot_texts_after(tracker, 0)

    mark = len(tracker["events"])
    sent = maria.post(f"{base}/reply", json={"text": "I have checked your order and everything is fine."}).json()
    assert sent == {"sent": "He revisado tu pedido y todo está en orden.", "translated": True, "label": None}
    assert (libre.requests[-1]["source"], libre.requests[-1]["target"]) == ("en", "es")
    event = [e for e in stack.tracker(sender)["events"][mark:] if e["event"] == "bot"][-1]
    assert event["text"] == "He revisado tu pedido y todo está en orden."
    assert event["metadata"]["agent"] == "maria" and event["metadata"]["original_text"].startswith("I have checked")

    canned = maria.post(f"{base}/reply", json={"canned": "canned.anything_else"}).json()
    assert canned["sent"] == render("canned.anything_else", "es")  # written natively, not machine-translated
    view = maria.get(base).json()
    agent_lines = [line for line in view["transcript"] if line["from"] == "agent"]
    assert agent_lines[-2]["text"] == "I have checked your order and everything is fine."
    assert agent_lines[-2]["sent"] == "He revisado tu pedido y todo está en orden."
    assert [s["kind"] for s in view["trace"]].count("agent_reply") == 2

    mark = len(stack.tracker(sender)["events"])
    back = maria.post(f"{base}/hand-back", json={"note": "answered"})
    assert back.status_code == 200 and back.json()["case"]["status"] == "resolved"
    tracker = stack.tracker(sender)
    assert tracker["paused"] is False and tracker["slots"]["case_status"] == "resolved"
    assert tracker["slots"]["case_number"] == number
    assert bot_texts_after(tracker, mark) == [render("handed_back.resolved", "es", agent="Maria", case_number=number),
                                              render("rating.ask", "es")]
    asked = [e for e in tracker["events"] if e["event"] == "bot"][-1]
    assert [b["title"] for b in asked["data"]["buttons"]] == [b["title"] for b in satisfaction.buttons()]
    # The bot is back, in Spanish, and takes the rating.
    assert stack.send(sender, asked["data"]["buttons"][4]["payload"]) == [render("rating.thanks", "es")]
    assert stack.send(sender, "gracias") == [render("thank", "es")]  # asked once only
    with Database(stack.env["DATABASE_URL"]).transaction() as session:
        rating = session.execute(select(Rating).where(Rating.conversation_id == sender)).scalar_one()
        assert (rating.score, rating.language, rating.case_number) == (5, "es", number)
    assert all(c["conversation_id"] != sender for c in maria.get(f"{console.url}/api/queue").json()["cases"])


def test_two_agents_claiming_at_the_same_moment(stack, console):
    sender, _ = ask_for_a_person(stack)
    sessions = [logged_in(console, "maria"), logged_in(console, "jun")]
    number = case_of(sessions[0], console, sender)["number"]
    barrier, codes = threading.Barrier(2), []

    def claim(session):
        barrier.wait()
        codes.append(session.post(f"{console.url}/api/cases/{number}/claim").status_code)

    threads = [threading.Thread(target=claim, args=(s,)) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200, 409]


def test_an_agent_overrides_the_policy_and_the_shopper_is_told(stack, console):
    # SH-10002 was delivered 40 days ago: past the quality-claim window, the bot hands a fault to a person.
    sender = stack.new_sender()
    stack.send(sender, "hallo, meine Kopfhörer von SH-10002 sind kaputt")
    stack.send(sender, "lukas.schneider@example.com")
    stack.send(sender, "Funktioniert nicht")
    assert stack.tracker(sender)["paused"]
    maria = logged_in(console)
    case = case_of(maria, console, sender)
    assert case["rule_id"] == "return.fault_outside_window" and case["order_number"] == "SH-10002"
    base = f"{console.url}/api/cases/{case['number']}"
    assert maria.post(f"{base}/decide", json={"action": "refund", "note": "goodwill"}).status_code == 409
    maria.post(f"{base}/claim")

    assert maria.post(f"{base}/decide", data="{").status_code == 400
    assert maria.post(f"{base}/decide", json={"action": "teleport", "note": "x"}).status_code == 400
    assert maria.post(f"{base}/decide", json={"action": "refund", "note": "x", "amount": "lots"}).status_code == 400
    assert maria.post(f"{base}/decide", json={"action": "refund", "note": ""}).status_code == 400
    too_much = maria.post(f"{base}/decide", json={"action": "refund", "note": "x", "amount": "99999"})
    assert too_much.status_code == 422 and too_much.json()["rule_id"] == "override.refund_not_possible"

    mark = len(stack.tracker(sender)["events"])
    done = maria.post(f"{base}/decide", json={"action": "refund", "note": "loyal customer", "amount": "25"})
    assert done.status_code == 200 and done.json()["rule_id"] == "override.refund"
    told = bot_texts_after(stack.tracker(sender), mark)
    assert told == done.json()["told_shopper"] and "25,00" in told[0]  # German amount format
    trace = maria.get(base).json()["trace"]
    refused, override = [s for s in trace if s["kind"] == "override"]  # a refused try is on the record too
    assert refused["data"]["outcome"] == "denied" and override["data"]["outcome"] == "allowed"
    assert override["actor"] == "agent:maria" and override["data"]["note"] == "loyal customer"
    assert override["data"]["overrides_rule"] == "return.fault_outside_window"


def test_agents_read_in_their_own_language(stack, console):
    sender, _ = ask_for_a_person(stack)
    jun = logged_in(console, "jun")
    view = jun.get(f"{console.url}/api/cases/{case_of(jun, console, sender)['number']}").json()
    first = view["transcript"][0]
    assert first["translation"] == "[ja] hola, necesito hablar con una persona"  # es -> ja through the service
    decision = next(step for step in view["trace"] if step["kind"] == "decision")
    assert decision["outcome_label"] == render("outcome.needs_agent", "ja")
    canned = jun.get(f"{console.url}/api/canned").json()["replies"]
    assert canned[0]["text"] == render("canned.looking_into_it", "ja")


def test_without_translation_the_agent_still_sees_and_replies(stack, console, libre):
    sender, _ = ask_for_a_person(stack, "hola, necesito hablar con una persona ya mismo")
    maria = logged_in(console)
    number = case_of(maria, console, sender)["number"]
    libre.fail = True
    try:
        view = maria.get(f"{console.url}/api/cases/{number}").json()
        first = view["transcript"][0]
        assert first["text"] == "hola, necesito hablar con una persona ya mismo" and "translation" not in first
        assert first["translation_label"] == "Not translated: the translation service is unavailable"
        maria.post(f"{console.url}/api/cases/{number}/claim")
        sent = maria.post(f"{console.url}/api/cases/{number}/reply", json={"text": "One moment please"}).json()
        assert sent["translated"] is False and sent["sent"] == "One moment please"
        assert sent["label"] == "Sent untranslated: the translation service is unavailable"
        assert stack.tracker(sender)["events"][-1]["text"] == "One moment please"
    finally:
        libre.fail = False


def test_bad_requests_get_clear_errors(console):
    maria = logged_in(console)
    assert maria.get(f"{console.url}/api/cases/CS-NOPE").status_code == 404
    assert maria.post(f"{console.url}/api/cases/CS-NOPE/claim").status_code == 404
    huge = maria.post(f"{console.url}/api/cases/CS-NOPE/reply", json={"text": "x" * 100_000})
    assert huge.status_code == 413


def test_not_understanding_twice_in_a_row_brings_in_a_person(stack, console):
    # "/nlu_fallback" is what the classifier says of a message it cannot place (a test of the
    # dialogue, not of the classifier).
    sender = stack.new_sender()
    first = stack.send(sender, "/nlu_fallback")
    assert first == [render("fallback", "en")] and stack.tracker(sender)["paused"] is False
    second = stack.send(sender, "/nlu_fallback")
    assert render("fallback_handoff", "en") in second and any("CS-" in r for r in second)
    assert stack.tracker(sender)["paused"] is True
    case = case_of(logged_in(console), console, sender)
    assert case["type"] == "handoff" and case["rule_id"] == "handoff.requested"


def test_after_a_request_the_bot_asks_for_a_rating_once(stack):
    sender = stack.new_sender()
    stack.send(sender, "where is my order SH-10018?")
    stack.send(sender, "liam.tremblay@example.com")
    replies = stack.send_full(sender, "thanks!")
    assert [r["text"] for r in replies] == [render("thank", "en"), render("rating.ask", "en")]
    assert len(replies[-1]["buttons"]) == 5
    assert stack.send(sender, "2") == [render("rating.thanks_low", "en")]  # typed, not pressed
    assert stack.send(sender, "bye") == [render("goodbye", "en")]


def test_a_shops_own_orders_imported_talked_about_and_counted(stack, console):
    """The shop loads its Shopify export, a shopper cancels one of those orders, the dashboard counts it."""
    imported = subprocess.run([str(VENV_BIN / "python"), "-m", "bot", "import", "shopify",
                               "tests/data/shopify_orders_export.csv"], cwd=PROJECT_ROOT, capture_output=True,
                              text=True, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT_ROOT),
                                              "DATABASE_URL": stack.env["DATABASE_URL"]})
    assert imported.returncode == 0, imported.stdout + imported.stderr
    sender = stack.new_sender()
    assert stack.send(sender, "I want to cancel my order #1001") == [render("ask_proof", "en")]
    reasons = stack.send_full(sender, "emma.johnson@example.com")
    assert reasons[0]["text"] == render("ask_cancel_reason", "en")
    found_cheaper = next(b for b in reasons[0]["buttons"] if b["title"] == render("cancel_reason.found_cheaper", "en"))
    confirm = stack.send(sender, found_cheaper["payload"])
    assert confirm[0].startswith("Just to confirm: shall I cancel order #1001")
    done = stack.send(sender, "yes")
    assert done[0].startswith("Done: order #1001 is cancelled. You'll get $84.00 back"), done

    today = datetime.now(timezone.utc).date()  # the analytics count days in UTC; a day either side of midnight
    window = {"from": str(today - timedelta(days=1)), "to": str(today + timedelta(days=1))}
    figures = logged_in(console).get(f"{console.url}/api/analytics", params=window).json()
    assert figures["by_country"]["US"]["automated"] >= 1
    assert {"sku": "BEANIE-CHR", "product": "Merino Wool Beanie - Charcoal", "case_type": "cancellation",
            "reason": "found_cheaper", "count": 1} in figures["reasons_by_product"]
