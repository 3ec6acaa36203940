"""The production configuration for real: the case database and Rasa's tracker store on
PostgreSQL (two databases), Redis as the lock store and socket.io's message bus, two Rasa servers
(the first with two worker processes, as on a machine with several cores) and an action server;
100 concurrent conversations in five languages, each message sent to the other server than the one
before; the second Rasa server killed mid-run and started again. The test plays
the load balancer: a request the dead server cannot take goes to the other one."""
from __future__ import annotations

import threading
import time
import urllib.error
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine, select, text

from bot.db import Database
from bot.demo import load_demo
from bot.migrate import upgrade
from bot.i18n import catalog, render
from bot.models import Case, CaseStatus, Customer, Order
from tests.conftest import create_postgres_database, drop_postgres_database
from tests.servers import RasaStack, WebApp, http_json
from tests.test_flows_e2e import SAY, pattern

LANGUAGES = ("en", "es", "de", "ar", "zh")
CONVERSATIONS = 100


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, trained_model, postgres_admin_url, redis_url):
    cases_url, tracker_url = (create_postgres_database(postgres_admin_url) for _ in range(2))
    upgrade(cases_url)
    db = Database(cases_url)
    load_demo(db)
    env = {"DATABASE_URL": cases_url, "TRACKER_STORE_URL": tracker_url, "REDIS_URL": redis_url}
    stack = RasaStack(trained_model, tmp_path_factory.mktemp("scale-out"), env).start(workers=2)
    second = stack.start_rasa("rasa-2")
    yield stack, [stack.url, second], db, tracker_url
    stack.stop()
    db.dispose()
    for url in (cases_url, tracker_url):
        drop_postgres_database(postgres_admin_url, url)


class Balancer:
    """Round robin per conversation; a server that refuses the connection is skipped."""

    def __init__(self, servers: list[str]):
        self.servers = servers

    def send(self, sender: str, turn: int, message: str) -> tuple[str, list[str]]:
        first = turn % len(self.servers)
        for attempt in range(60):
            server = self.servers[(first + attempt) % len(self.servers)]
            try:
                # Named, as a retry after a broken connection may reach a message already handled.
                replies = http_json(f"{server}/webhooks/rest/webhook",
                                    {"sender": sender, "message": message, "message_id": f"{sender}-{turn}"}, 120)
                return server, [r.get("text", "") for r in replies]
            except (urllib.error.URLError, ConnectionError) as failure:
                if isinstance(failure, urllib.error.HTTPError):
                    raise
                time.sleep(0.5)  # both down for a moment: wait as a load balancer's retry would
        raise RuntimeError("no Rasa server answered")


def script(language: str, order: str, email: str) -> list[tuple[str, str]]:
    """What each shopper writes, and the catalog message (or family of them) each reply must be."""
    return [(SAY[language]["track"], "ask_order_number"), (order, "ask_proof"), (email, "decision.track."),
            (SAY[language]["handoff"], "handoff_created")]


def matches(key: str, language: str, reply: str) -> bool:
    keys = [k for k in catalog(language) if k.startswith(key)] if key.endswith(".") else [key]
    return any(pattern(k, language).match(reply) for k in keys)


def test_a_hundred_conversations_on_two_servers_one_of_them_restarted(cluster):
    stack, servers, db, tracker_url = cluster
    balancer = Balancer(servers)
    with db.transaction() as session:  # each shopper asks about one of the shop's orders, with its e-mail
        orders = session.execute(select(Order.number, Customer.email).join(Customer).order_by(Order.id)).all()
    senders = [f"scale-{n:03d}" for n in range(CONVERSATIONS)]
    plan = {s: script(LANGUAGES[n % len(LANGUAGES)], *orders[n % len(orders)]) for n, s in enumerate(senders)}
    answered: dict[str, list[tuple[str, list[str]]]] = {s: [] for s in senders}
    progress = threading.Event()
    done_messages = []

    def converse(sender: str) -> None:
        for turn, (message, _) in enumerate(plan[sender]):
            answered[sender].append(balancer.send(sender, turn, message))
            done_messages.append(1)
            if len(done_messages) >= CONVERSATIONS:
                progress.set()

    with ThreadPoolExecutor(CONVERSATIONS) as pool:
        futures = [pool.submit(converse, s) for s in senders]
        # A quarter of the way through, the second server dies; it comes back while the rest goes on.
        assert progress.wait(600), "the conversations did not get going"
        stack.kill("rasa-2")
        stack.start_rasa("rasa-2", port=int(servers[1].rsplit(":", 1)[1]))
        for future in futures:
            future.result(timeout=900)

    for n, sender in enumerate(senders):
        language, (order, _) = LANGUAGES[n % len(LANGUAGES)], orders[n % len(orders)]
        turns = answered[sender]
        assert len(turns) == 4, sender
        for (message, key), (_, replies) in zip(plan[sender], turns):
            assert replies and matches(key, language, replies[0]), (sender, message, replies)
        tracker = http_json(f"{servers[0]}/conversations/{sender}/tracker?token={stack.token}")
        said = [e["text"] for e in tracker["events"] if e["event"] == "user"]
        assert said == [m for m, _ in plan[sender]], sender  # every message once, in order
        assert tracker["slots"]["language"] == language and tracker["slots"]["current_order"] == order
        assert tracker["paused"] is True
        kinds = [e["event"] for e in tracker["events"] if e["event"] in ("user", "bot")]
        assert all(a != "user" or b == "bot" for a, b in zip(kinds, kinds[1:] + ["end"])), sender  # each answered
    assert {server for turns in answered.values() for server, _ in turns} == set(servers)  # both served

    # Each conversation's case (a handoff, or the delay or customs case its tracking opened, now
    # escalated) is about the order it verified; and concurrent handoffs about one order never made
    # two handoff cases of it (the order row is locked while a case is found or made).
    with db.transaction() as session:
        about = {c.number: (session.get(Order, c.order_id).number, c.status, c.type.value)
                 for c in session.execute(select(Case)).scalars()}
    for n, sender in enumerate(senders):
        number = http_json(f"{servers[0]}/conversations/{sender}/tracker?token={stack.token}")["slots"]["case_number"]
        assert about[number][:2] == (orders[n % len(orders)][0], CaseStatus.ESCALATED), sender
    handoffs = [order for order, _, kind in about.values() if kind == "handoff"]
    assert len(handoffs) == len(set(handoffs))

    engine = create_engine(tracker_url, future=True)  # Rasa's conversations are in their own database
    with engine.connect() as connection:
        kept = connection.execute(text("SELECT count(DISTINCT sender_id) FROM events WHERE sender_id LIKE 'scale-%'"))
        assert kept.scalar_one() == CONVERSATIONS
    engine.dispose()


def test_an_agents_push_reaches_a_widget_on_the_other_server(cluster, browser, tmp_path):
    """Socket.io through Redis: the shopper's widget is connected to one server, an agent's reply is
    pushed through the other (as the console does), and it shows up in the widget."""
    stack, servers, _, _ = cluster
    storefront = WebApp("storefront", tmp_path, {"RASA_PUBLIC_URL": servers[1]}, "STOREFRONT_PORT")
    page = browser.new_context().new_page()
    try:
        page.goto(f"{storefront.url}/?lang=en")
        page.click(".rw-launcher")
        page.locator(".rw-response", has_text=render("greet", "en")[:12]).first.wait_for(timeout=60_000)
        session = page.evaluate("() => JSON.parse(localStorage.getItem('chat_session')).session_id")
        pushed = f"{servers[0]}/conversations/{session}/tracker/events?token={stack.token}" \
                 "&output_channel=latest&execute_side_effects=true"
        http_json(pushed, [{"event": "bot", "text": "Hi, Maria here from the team."}])
        page.locator(".rw-response", has_text="Hi, Maria here from the team.").wait_for(timeout=30_000)
    finally:
        page.context.close()
        storefront.stop()
