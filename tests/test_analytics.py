"""Analytics from a seeded shop with known answers: conversations written into Rasa's real SQL
tracker store (our ShopTrackerStore), cases made by the real service layer and desk, ratings; then
the figures, the report command's files, and the console's dashboard in headless Chromium."""
from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from decimal import Decimal

import pytest
import requests

from bot import satisfaction
from bot.__main__ import main as cli
from bot.analytics import build
from bot.engine import Cancel, Handoff, Track
from bot.handoff import Agents, Desk
from bot.service import AfterSales, Conversation
from tests.conftest import ARTIFACTS

START, END = date(2026, 11, 10), date(2026, 11, 30)


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


async def save_conversation(store, sender: str, language: str, turns: list[tuple[str, str | None]], at: float):
    """Shopper messages (intent) each followed by the bot's action, as Rasa stores them."""
    from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    events = []
    for n, (intent, action) in enumerate(turns):
        stamp = at + n * 10
        events.append(UserUttered("…", {"name": intent, "confidence": 0.9}, timestamp=stamp))
        events.append(SlotSet("language", language, timestamp=stamp))
        if action:
            events.append(ActionExecuted(action, timestamp=stamp + 1))
        events.append(ActionExecuted("action_listen", timestamp=stamp + 2))
    await store.save(DialogueStateTracker.from_events(sender, events))


@pytest.fixture
def seeded(demo_db, policy, now, tmp_path, monkeypatch):
    """Five conversations on the demo shop (loaded at `now`, 2026-11-18 10:00 UTC):
    c1 es: cancels SH-10003 itself (automated), rates 5;  c2 de: asks for a person about SH-10002,
    an agent answers after 30 minutes and refunds as goodwill, rates 2;  c3 en: not understood twice,
    handed to a person nobody has answered yet;  c4 es: only says hello;  c5 fr: tracks SH-10004."""
    from components.tracker_store import ShopTrackerStore

    tracker_url = f"sqlite:///{tmp_path / 'tracker.db'}"
    monkeypatch.setenv("TRACKER_STORE_URL", tracker_url)
    at = now.timestamp()

    async def save_all():
        store = ShopTrackerStore()
        await save_conversation(store, "c1", "es", [("cancel_order", "action_start_request"),
                                                    ("inform", "action_carry_out_request"), ("thank", "action_thank")], at)
        await save_conversation(store, "c2", "de", [("human_handoff", "action_handoff")], at + 100)
        await save_conversation(store, "c3", "en", [("nlu_fallback", "action_fallback"),
                                                    ("nlu_fallback", "action_fallback")], at + 200)
        await save_conversation(store, "c4", "es", [("greet", "action_greet")], at + 300)
        await save_conversation(store, "c5", "fr", [("track_order", "action_start_request"),
                                                    ("inform", "action_carry_out_request")], at + 400)
        await save_conversation(store, "old", "en", [("greet", "action_greet")], at - 40 * 86400)  # out of range

    # In a thread and loop of their own: Playwright's loop may already run in this one.
    with ThreadPoolExecutor(1) as worker:
        worker.submit(asyncio.run, save_all()).result()

    clock = Clock(now)
    service = AfterSales(demo_db, policy, clock=clock)
    service.handle("SH-10003", Cancel("found_cheaper"), Conversation(id="c1", language="es", channel="socketio"))
    handoff = service.handle("SH-10002", Handoff(), Conversation(id="c2", language="de", channel="telegram"))
    service.handle(None, Handoff("repeated_fallback"), Conversation(id="c3", language="en", channel="rest"))
    service.handle("SH-10004", Track(), Conversation(id="c5", language="fr"))

    agent = Agents(demo_db, clock=clock).add("maria", "Maria", "en", "correct horse battery")
    desk = Desk(demo_db, service, clock=clock)
    desk.claim(handoff.case_number, agent)
    clock.now = now + timedelta(minutes=30)
    desk.record_reply(handoff.case_number, agent, {"text": "Hallo!"})
    desk.override(handoff.case_number, agent, "refund", "goodwill", Decimal("10.00"))
    satisfaction.record(demo_db, "c1", 5, "es", "socketio", None, now)
    satisfaction.record(demo_db, "c2", 2, "de", "telegram", handoff.case_number, now)
    return demo_db, tracker_url, now


def test_the_figures_match_what_happened(seeded):
    db, tracker_url, now = seeded
    report = build(db, tracker_url, START, END, now=now)

    assert report.totals == {"conversations": 5, "with_request": 4, "automated": 2, "handed_off": 2,
                             "automation_rate": 0.5, "handoff_rate": 0.4, "messages": 9,
                             "fallback_rate": round(2 / 9, 4), "cases": 3}
    assert report.by_language["es"]["conversations"] == 2 and report.by_language["es"]["automation_rate"] == 1.0
    assert report.by_language["de"]["handoff_rate"] == 1.0 and report.by_language["en"]["fallback_rate"] == 1.0
    assert report.by_country["ES"]["automated"] == 1 and report.by_country["DE"]["handed_off"] == 1
    assert report.by_country["?"]["conversations"] == 3  # c3, c4, c5: no case about an order
    assert report.handoff_reasons == {"shopper_asked": 1, "repeated_fallback": 1}
    assert report.cases_by_type == {"handoff": 2, "cancellation": 1}
    assert report.cases_by_reason == {"found_cheaper": 1}
    skus = {r["sku"] for r in report.reasons_by_product}
    assert skus and all(r["reason"] == "found_cheaper" and r["case_type"] == "cancellation"
                        for r in report.reasons_by_product)
    outcomes = {(o["rule_id"], o["outcome"]): o["count"] for o in report.outcomes}
    assert outcomes == {("cancel.before_shipment", "allowed"): 1, ("handoff.requested", "needs_agent"): 2,
                        ("override.refund", "allowed"): 1}
    assert report.overrides == {"handoff.requested": 1}
    # Due in the range: the demo's five (SH-10009 overdue, SH-10010 pending, three issued on time), then
    # c1's cancellation and c2's goodwill refund, both pending within their deadline.
    assert report.refunds == {"due": 7, "issued_on_time": 3, "issued_late": 0, "overdue": 1, "pending_on_time": 3,
                              "compliance": 0.75}
    assert report.agent_reply == {"escalated": 2, "answered": 1, "unanswered": 1, "median_minutes": 30.0,
                                  "within_sla": 1.0}
    assert report.ratings == {"count": 2, "average": 3.5, "distribution": {1: 0, 2: 1, 3: 0, 4: 0, 5: 1},
                              "by_language": {"de": 2.0, "es": 5.0}}
    day = next(d for d in report.daily if d["day"] == now.date())
    assert day["conversations"] == 5 and len(report.daily) == 21


def test_an_empty_range_reports_nothing_without_failing(seeded):
    db, tracker_url, now = seeded
    report = build(db, tracker_url, date(2025, 1, 1), date(2025, 1, 31), now=now)
    assert report.totals["conversations"] == 0 and report.totals["automation_rate"] is None
    fresh = tracker_url.replace("tracker.db", "no-conversations-yet.db")  # Rasa has not written yet
    assert build(db, fresh, START, END, now=now).totals["conversations"] == 0


def test_the_report_command_writes_markdown_charts_and_tables(seeded, tmp_path, monkeypatch, capsys):
    db, tracker_url, _ = seeded
    monkeypatch.setenv("DATABASE_URL", db.engine.url.render_as_string(hide_password=False))
    out = tmp_path / "report"
    assert cli(["report", "--from", str(START), "--to", str(END), "--out", str(out)]) == 0
    assert "report for 2026-11-10 to 2026-11-30" in capsys.readouterr().out
    text = (out / "report.md").read_text()
    assert "Automation rate (resolved without a person): 50.0%" in text and "Handoff rate: 40.0%" in text
    assert "3.5 / 5 from 2 ratings" in text and "![rates_over_time](rates_over_time.png)" in text
    for chart in ("rates_over_time", "reasons_by_product", "by_language"):
        assert (out / f"{chart}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = (out / "by_language.csv").read_text().splitlines()
    assert rows[0].startswith("language,conversations") and any(r.startswith("es,2,1,1,0,1.0") for r in rows)
    assert cli(["report", "--from", "2026-12-01", "--to", "2026-11-01", "--out", str(out)]) == 2


def test_the_dashboard_in_the_console(seeded, browser):
    from tests.servers import WebApp
    db, tracker_url, _ = seeded
    console = WebApp("console", ARTIFACTS.parent / "artifacts" / "logs",
                     {"DATABASE_URL": db.engine.url.render_as_string(hide_password=False),
                      "TRACKER_STORE_URL": tracker_url, "RASA_URL": "http://127.0.0.1:9"}, "CONSOLE_PORT")
    try:
        assert requests.get(f"{console.url}/api/analytics").status_code == 401
        session = requests.Session()
        session.post(f"{console.url}/api/login", json={"username": "maria", "password": "correct horse battery"})
        data = session.get(f"{console.url}/api/analytics", params={"from": str(START), "to": str(END)}).json()
        assert data["totals"]["automation_rate"] == 0.5 and data["ratings"]["average"] == 3.5
        assert session.get(f"{console.url}/api/analytics", params={"from": "nope"}).status_code == 400
        assert session.get(f"{console.url}/api/analytics/charts/secret.png").status_code == 404

        page = browser.new_context().new_page()
        page.goto(f"{console.url}/login")
        page.fill("input[name=username]", "maria")
        page.fill("input[name=password]", "correct horse battery")
        page.click("button[type=submit]")
        page.wait_for_url(f"{console.url}/")
        page.goto(f"{console.url}/dashboard?from={START}&to={END}")
        page.locator(".figure", has_text="automation rate").wait_for()
        assert "50.0%" in page.locator(".figure", has_text="automation rate").inner_text()
        assert "3.5 / 5" in page.locator(".figure", has_text="satisfaction").inner_text()
        for chart in ("rates_over_time", "reasons_by_product", "by_language"):
            image = page.locator(f"img[data-chart={chart}]")
            image.wait_for()
            page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
        assert page.locator("table", has_text="found_cheaper").count() == 1
        page.screenshot(path=ARTIFACTS / "dashboard.png", full_page=True)
    finally:
        console.stop()


def test_a_typed_rating_counts_like_a_pressed_one():
    assert [satisfaction.rating_from(t) for t in ("5", " 4/5 ", "3 ⭐", "⭐⭐", "５", "6", "10", "great", None)] == \
        [5, 4, 3, 2, 5, None, None, None, None]
    assert satisfaction.rating_from("/inform", entity="4") == 4
    assert json.loads(satisfaction.buttons()[0]["payload"][len("/inform"):]) == {"rating": "1"}
