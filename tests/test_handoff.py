"""People taking over, against real databases (SQLite and PostgreSQL): agent accounts and sessions,
the queue, claim races, agents' decisions carried out by the service layer, hand-back."""
from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from bot.__main__ import main as cli
from bot.engine import Complaint, Handoff, ReturnItems
from bot.handoff import Agents, Conflict, Desk, LoginRefused, NotFound, hash_password, password_matches
from bot.models import Agent, AgentSession, Case, Order, Refund, Return
from bot.service import AfterSales, Conversation


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def clock(now):
    return Clock(now)


@pytest.fixture
def service(demo_db, policy, clock):
    return AfterSales(demo_db, policy, clock=clock)


@pytest.fixture
def agents(demo_db, clock):
    return Agents(demo_db, clock=clock, session_hours=8)


@pytest.fixture
def desk(demo_db, service, clock):
    return Desk(demo_db, service, clock=clock)


@pytest.fixture
def maria(agents):
    return agents.add("Maria", "Maria", "en", "correct horse battery")


@pytest.fixture
def jun(agents):
    return agents.add("jun", "Jun", "ja", "another long password")


def escalate(service, order, request, conversation="conv-1", language="es"):
    return service.handle(order, request, Conversation(id=conversation, language=language, channel="socketio"))


# -- accounts and sessions --------------------------------------------------------------------------

def test_passwords_are_salted_scrypt_hashes():
    first, second = hash_password("correct horse battery"), hash_password("correct horse battery")
    assert first != second and first.startswith("scrypt$") and "correct" not in first
    assert password_matches("correct horse battery", first)
    assert not password_matches("correct horse batterz", first)
    assert not password_matches("anything", "not a hash")


def test_an_agent_logs_in_and_the_session_expires(agents, maria, clock, demo_db):
    token, who = agents.login("MARIA ", "correct horse battery")
    assert who.username == "maria" and who.language == "en"
    assert agents.session(token) == who
    with demo_db.transaction() as s:
        stored = s.execute(select(AgentSession.token_hash)).scalars().all()
    assert token not in stored  # only its hash is kept
    clock.now += timedelta(hours=8, seconds=1)
    assert agents.session(token) is None
    assert agents.session("forged") is None and agents.session(None) is None


def test_logout_ends_the_session(agents, maria):
    token, _ = agents.login("maria", "correct horse battery")
    agents.logout(token)
    assert agents.session(token) is None


def test_wrong_passwords_lock_the_account_for_a_while(agents, maria, clock):
    for _ in range(5):
        with pytest.raises(LoginRefused, match="wrong username or password"):
            agents.login("maria", "guess")
    with pytest.raises(LoginRefused, match="try again later"):
        agents.login("maria", "correct horse battery")  # even the right one, while locked
    clock.now += timedelta(minutes=16)
    assert agents.login("maria", "correct horse battery")[1].username == "maria"


def test_an_unknown_user_gets_the_same_answer(agents):
    with pytest.raises(LoginRefused, match="wrong username or password"):
        agents.login("nobody", "correct horse battery")


@pytest.mark.parametrize("username, language, password, problem", [
    ("a", "en", "correct horse battery", "username"),
    ("bob smith", "en", "correct horse battery", "username"),
    ("bob", "xx", "correct horse battery", "working language"),
    ("bob", "en", "short", "at least 10"),
])
def test_bad_accounts_are_refused(agents, username, language, password, problem):
    with pytest.raises(ValueError, match=problem):
        agents.add(username, "Bob", language, password)


def test_the_cli_creates_an_agent_with_a_hashed_password(demo_db, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", demo_db.engine.url.render_as_string(hide_password=False))
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("a very long secret\n"))
    assert cli(["agent", "add", "li", "--name", "Li", "--language", "zh", "--password-stdin"]) == 0
    assert "agent li created" in capsys.readouterr().out
    with demo_db.transaction() as s:
        agent = s.execute(select(Agent).where(Agent.username == "li")).scalar_one()
    assert agent.language == "zh" and password_matches("a very long secret", agent.password_hash)
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("a very long secret\n"))
    assert cli(["agent", "add", "li", "--name", "Li", "--language", "zh", "--password-stdin"]) == 1
    assert "already exists" in capsys.readouterr().err


# -- the queue --------------------------------------------------------------------------------------

def test_the_queue_puts_the_most_urgent_first_then_the_longest_waiting(service, desk, clock):
    waiting_longest = escalate(service, None, Handoff(), "c1").case_number
    clock.now += timedelta(minutes=5)
    later = escalate(service, None, Handoff(), "c2").case_number
    legal = escalate(service, None, Complaint(legal_threat=True), "c3").case_number
    overdue_refund = escalate(service, "SH-10009", __import__("bot.engine", fromlist=["RefundStatus"]).RefundStatus(),
                              "c4").case_number
    queue = [c["number"] for c in desk.queue()]
    assert queue == [legal, overdue_refund, waiting_longest, later]
    first = desk.queue()[0]
    assert first["priority"] == "urgent" and first["sla_due_at"] and first["language"] == "es"
    assert first["conversation_id"] == "c3" and first["type"] == "complaint"


def test_a_valuable_order_is_escalated_with_high_priority(service, desk, policy):
    # SH-10005 is worth more than the policy's high_value_priority_from: a plain request for a person is high.
    with service.db.transaction() as s:
        order = s.execute(select(Order).where(Order.number == "SH-10005")).scalar_one()
    assert policy.to_base(order.total, order.currency) >= policy.high_value_priority_from
    case = escalate(service, "SH-10005", Handoff())
    assert next(c for c in desk.queue() if c["number"] == case.case_number)["priority"] == "high"
    cheap = escalate(service, "SH-10004", Handoff(), "c9")
    assert next(c for c in desk.queue() if c["number"] == cheap.case_number)["priority"] == "normal"


def test_resolved_cases_leave_the_queue(service, desk, maria):
    number = escalate(service, None, Handoff()).case_number
    desk.claim(number, maria)
    assert [c["status"] for c in desk.queue()] == ["in_progress"]
    desk.hand_back(number, maria, "explained the delay")
    assert desk.queue() == []


# -- claiming ---------------------------------------------------------------------------------------

def test_a_claimed_case_is_the_agents_and_nobody_elses(service, desk, maria, jun):
    number = escalate(service, None, Handoff()).case_number
    claimed = desk.claim(number, maria)
    assert claimed["status"] == "in_progress" and claimed["assignee"] == "maria"
    assert desk.claim(number, maria)["assignee"] == "maria"  # again: no change, no error
    with pytest.raises(Conflict, match="with maria"):
        desk.claim(number, jun)
    with pytest.raises(Conflict, match="claim it first"):
        desk.record_reply(number, jun, {"text": "hi"})
    with pytest.raises(NotFound):
        desk.claim("CS-NOPE", jun)


def test_two_agents_claiming_at_once_one_wins(service, desk, agents):
    number = escalate(service, None, Handoff()).case_number
    team = [agents.add(f"agent{i}", f"Agent {i}", "en", "correct horse battery") for i in range(6)]
    barrier, won, lost = threading.Barrier(len(team)), [], []

    def grab(agent):
        barrier.wait()
        try:
            desk.claim(number, agent)
            won.append(agent.username)
        except Conflict:
            lost.append(agent.username)

    threads = [threading.Thread(target=grab, args=(a,)) for a in team]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1 and len(lost) == len(team) - 1
    assert desk.case(number)["assignee"] == won[0]
    assert [e["kind"] for e in desk.case(number)["events"]].count("claimed") == 1


def test_a_released_case_goes_back_to_the_queue(service, desk, maria, jun):
    number = escalate(service, None, Handoff()).case_number
    desk.claim(number, maria)
    desk.release(number, maria)
    assert desk.claim(number, jun)["assignee"] == "jun"


# -- deciding ---------------------------------------------------------------------------------------

def test_an_agent_refunds_outside_the_window_through_the_service_layer(service, desk, maria, demo_db):
    # SH-10002 was delivered 40 days ago: a fault goes to a person.
    snapshot = service.snapshot("SH-10002")
    bot = escalate(service, "SH-10002", ReturnItems(((snapshot.items[0].id, 1),), "defective"))
    assert bot.decision.rule_id == "return.fault_outside_window"
    desk.claim(bot.case_number, maria)

    result = desk.override(bot.case_number, maria, "refund", "loyal customer, goodwill", Decimal("20.00"))
    assert result.decision.rule_id == "override.refund" and result.case_number == bot.case_number
    with demo_db.transaction() as s:
        refund = s.execute(select(Refund).where(Refund.id == result.refund_id)).scalar_one()
    assert refund.amount == Decimal("20.00") and refund.reason == "goodwill" and refund.status.value == "pending"
    events = desk.case(bot.case_number)["events"]
    override = next(e for e in events if e["kind"] == "override")
    assert override["actor"] == "agent:maria" and override["data"]["note"] == "loyal customer, goodwill"
    assert override["data"]["overrides_rule"] == "return.fault_outside_window"
    assert [e["kind"] for e in events][-2:] == ["override", "action"]


def test_an_agent_cannot_refund_more_than_was_paid(service, desk, maria, demo_db):
    number = escalate(service, "SH-10002", Handoff()).case_number
    desk.claim(number, maria)
    result = desk.override(number, maria, "refund", "goodwill", Decimal("100000"))
    assert result.decision.rule_id == "override.refund_not_possible" and result.refund_id is None
    assert desk.override(number, maria, "refund", "   ").decision.rule_id == "override.no_reason"


def test_an_agent_accepts_a_late_return_at_the_shops_cost(service, desk, maria, demo_db):
    number = escalate(service, "SH-10022", Handoff()).case_number  # Emily's old order, outside every window
    desk.claim(number, maria)
    result = desk.override(number, maria, "return", "first order with us, make it right")
    assert result.decision.rule_id == "override.return" and result.rma_number
    with demo_db.transaction() as s:
        rma = s.execute(select(Return).where(Return.rma_number == result.rma_number)).scalar_one()
        assert rma.shipping_paid_by == "shop" and rma.reason == "agent_override" and len(rma.items) == 1


def test_an_agent_reships_a_valuable_parcel_to_the_address_asked_for(service, desk, maria, demo_db):
    from bot.address import Address
    from bot.engine import ChangeAddress
    new = Address(name="Oliver Bennett", line1="1 Kingsway", city="London", postcode="WC2B 6AN", country="GB")
    declined = escalate(service, "SH-10005", ChangeAddress(new))
    assert declined.decision.rule_id == "address.shipped_high_value"
    number = escalate(service, "SH-10005", Handoff()).case_number
    desk.claim(number, maria)
    # The handoff case is another case than the declined one: the agent passes the address explicitly.
    result = desk.override(number, maria, "reship", "customer moved, worth it", address=new)
    assert result.decision.rule_id == "override.reship"
    with demo_db.transaction() as s:
        order = s.execute(select(Order).where(Order.number == "SH-10005")).scalar_one()
        assert order.ship_line1 == "1 Kingsway" and all(sh.intercepted for sh in order.shipments)


def test_approving_changes_nothing_but_is_recorded(service, desk, maria):
    number = escalate(service, None, Complaint()).case_number
    desk.claim(number, maria)
    result = desk.override(number, maria, "approve", "the bot was right")
    assert result.decision.rule_id == "override.approve" and not result.decision.actions
    assert desk.case(number)["events"][-1]["kind"] == "override"


def test_deciding_needs_a_claim(service, desk, maria):
    number = escalate(service, None, Handoff()).case_number
    with pytest.raises(Conflict):
        desk.override(number, maria, "approve", "ok")
    with pytest.raises(ValueError):
        desk.claim(number, maria) and desk.override(number, maria, "teleport", "ok")


# -- handing back -----------------------------------------------------------------------------------

def test_hand_back_resolves_or_closes_and_is_recorded(service, desk, maria, demo_db):
    first = escalate(service, None, Handoff(), "c1").case_number
    second = escalate(service, None, Handoff(), "c2").case_number
    desk.claim(first, maria)
    desk.claim(second, maria)
    assert desk.hand_back(first, maria, "sorted")["status"] == "resolved"
    assert desk.hand_back(second, maria, "duplicate", close=True)["status"] == "closed"
    last = desk.case(first)["events"][-1]
    assert last["kind"] == "handed_back" and last["data"] == {"status": "resolved", "note": "sorted"}
    with pytest.raises(Conflict):
        desk.hand_back(first, maria, "again")  # no longer held


def test_asking_for_a_person_again_keeps_the_place_in_the_queue(service, desk, clock, maria):
    first = escalate(service, None, Handoff())
    waiting_since = desk.queue()[0]["escalated_at"]
    clock.now += timedelta(minutes=30)
    again = service.handle(None, Handoff(), Conversation(id="conv-1", language="es", case_number=first.case_number))
    assert again.case_number == first.case_number
    assert desk.queue()[0]["escalated_at"] == waiting_since
    desk.claim(first.case_number, maria)
    service.handle(None, Handoff(), Conversation(id="conv-1", language="es", case_number=first.case_number))
    assert desk.case(first.case_number)["status"] == "in_progress"  # the agent keeps it
