"""Faults on real servers: the action server killed mid-conversation, the case database (PostgreSQL)
going away, the translation service down during a handoff, the Rasa server restarted. The shopper
is told in their language, nothing is half-written, and the conversation goes on once it is back."""
from __future__ import annotations

import shutil
import subprocess
import tempfile

import pytest
from sqlalchemy import func, select

from bot.config import PROJECT_ROOT
from bot.db import Database
from bot.demo import load_demo
from bot.i18n import render
from bot.migrate import upgrade
from bot.models import Case, Order, Refund
from tests.conftest import create_postgres_database
from tests.servers import RasaStack
from tests.standins.libretranslate import LibreTranslateStandIn
from tests.test_flows_e2e import pattern

POSTGRES = str(PROJECT_ROOT / "scripts" / "postgres.sh")


@pytest.fixture(scope="module")
def own_postgres():
    """A PostgreSQL of this module's own, so it can be stopped without disturbing other tests."""
    home = tempfile.mkdtemp(prefix="shop-test-pg-faults-")
    admin = subprocess.run([POSTGRES, "start", home], check=True, capture_output=True, text=True).stdout.strip()
    yield home, admin
    subprocess.run([POSTGRES, "stop", home], check=False)
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def libre():
    server = LibreTranslateStandIn(fail=True)  # the translation service is down for this whole module
    yield server
    server.close()


@pytest.fixture(scope="module")
def shop(tmp_path_factory, trained_model, own_postgres, libre):
    _, admin = own_postgres
    url = create_postgres_database(admin)
    upgrade(url)
    db = Database(url)
    load_demo(db)
    stack = RasaStack(trained_model, tmp_path_factory.mktemp("faults"),
                      {"DATABASE_URL": url, "TRANSLATION_BACKEND": "libre", "TRANSLATION_BASE_URL": libre.url,
                       "TRANSLATION_RETRY_SECONDS": "0"}).start()
    yield stack, db
    stack.stop()
    db.dispose()


def test_the_action_server_killed_mid_conversation(shop):
    stack, _ = shop
    sender = stack.new_sender()
    assert pattern("ask_order_number", "es").match(stack.send(sender, "¿dónde está mi paquete?")[0])
    stack.stop_actions()
    try:
        assert stack.send(sender, "SH-10018") == [render("service_unavailable", "es")]  # once, in Spanish
    finally:
        stack.start_actions()
    # Back: the shopper says it again and the conversation goes on where it was.
    assert pattern("ask_proof", "es").match(stack.send(sender, "SH-10018")[0])
    assert pattern("decision.track.in_transit", "es").match(stack.send(sender, "liam.tremblay@example.com")[0])


def test_the_database_unreachable_then_back(shop, own_postgres):
    stack, db = shop
    home, _ = own_postgres
    sender = stack.new_sender()
    stack.send(sender, "quiero cancelar mi pedido SH-10003")
    assert stack.tracker(sender)["slots"]["current_order"] is None  # not verified yet
    with db.transaction() as session:
        before = session.execute(select(func.count()).select_from(Case)).scalar_one()
    subprocess.run([POSTGRES, "stop", home], check=True)
    try:
        replies = stack.send(sender, "lucia.fernandez@example.com")
        assert replies == [render("service_unavailable", "es")], replies
    finally:
        subprocess.run([POSTGRES, "resume", home], check=True)
    db.engine.dispose()  # the pool's connections died with the server
    with db.transaction() as session:
        assert session.execute(select(func.count()).select_from(Case)).scalar_one() == before  # nothing half-written
        order = session.execute(select(Order).where(Order.number == "SH-10003")).scalar_one()
        assert order.status.value == "paid" and not session.execute(
            select(Refund).where(Refund.order_id == order.id)).first()
    # The database is back: the request stopped cleanly, the shopper asks again and it goes through
    # (asked for the proof again unless the e-mail was checked before the failure).
    replies = stack.send(sender, "quiero cancelar mi pedido SH-10003")
    if pattern("ask_proof", "es").match(replies[0]):
        replies = stack.send(sender, "lucia.fernandez@example.com")
    assert pattern("ask_cancel_reason", "es").match(replies[0]), replies


def test_a_handoff_while_translation_is_down(shop, libre):
    stack, db = shop
    sender = stack.new_sender()
    first = stack.send(sender, "Hej, var är mitt paket? Jag har väntat länge nu")
    assert first[0] == render("unsupported_language", "en")  # English, and a person offered
    replies = stack.send(sender, "agent")
    assert pattern("handoff_created", "en").match(replies[0]), replies
    assert stack.tracker(sender)["paused"] is True
    with db.transaction() as session:
        case = session.execute(select(Case).where(Case.conversation_id == sender)).scalar_one()
    assert case.status.value == "escalated" and case.language == "sv"
    assert libre.requests  # the service was asked, and its failure did not block anything


def test_the_rasa_server_restarted_mid_conversation(shop):
    stack, _ = shop
    sender = stack.new_sender()
    stack.send(sender, "wo ist mein Paket?")
    stack.send(sender, "SH-10018")
    stack.kill("rasa")
    stack.start_rasa("rasa", port=stack.rasa_port)
    tracker = stack.tracker(sender)  # kept in the tracker store, not in the dead process
    assert tracker["slots"]["language"] == "de" and tracker["slots"]["requested_slot"] == "proof"
    assert pattern("decision.track.in_transit", "de").match(stack.send(sender, "liam.tremblay@example.com")[0])
