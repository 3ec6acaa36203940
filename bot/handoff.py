"""People taking over from the bot: agent accounts and console sessions, the queue of escalated
cases, claiming one, replying, deciding where the policy could not, and handing back.

Database only (no Rasa, no web): the console (console/app.py) calls this, and the Rasa side of a
takeover (pause, live messages, resume) is the console's job.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Callable

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from bot.address import Address
from bot.db import Database
from bot.engine import OVERRIDE_ACTIONS, Override
from bot.language import SUPPORTED
from bot.models import Agent, AgentSession, Case, CaseEvent, CaseStatus, Order, utcnow
from bot.policy import PRIORITIES
from bot.service import AfterSales, Conversation, Result, jsonable

PASSWORD_MIN_LENGTH = 10
LOGIN_FAILURES_BEFORE_LOCK = 5
LOGIN_LOCK = timedelta(minutes=15)
USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
WAITING = (CaseStatus.ESCALATED, CaseStatus.IN_PROGRESS)  # what the queue shows


class NotFound(LookupError):
    pass


class Conflict(RuntimeError):
    """The case is not in a state for this: claimed by someone else, not claimed, already closed."""


class LoginRefused(PermissionError):
    pass


# -- passwords ----------------------------------------------------------------------------------------

_SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return "scrypt$" + "$".join(base64.b64encode(x).decode() for x in (salt, digest))


def password_matches(password: str, stored: str) -> bool:
    try:
        scheme, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), dklen=len(expected), **_SCRYPT)
    except (ValueError, TypeError):
        return False
    return scheme == "scrypt" and hmac.compare_digest(actual, expected)


_DUMMY_HASH = hash_password("no such agent")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class AgentInfo:
    id: int
    username: str
    name: str
    language: str

    @classmethod
    def of(cls, agent: Agent) -> "AgentInfo":
        return cls(agent.id, agent.username, agent.name, agent.language)


class Agents:
    """Accounts and logins. Sessions expire after AGENT_SESSION_HOURS (default 8); five wrong
    passwords lock an account for 15 minutes."""

    def __init__(self, db: Database, clock: Callable[[], datetime] = utcnow, session_hours: float | None = None):
        self.db, self.clock = db, clock
        self.session_length = timedelta(hours=session_hours or float(os.environ.get("AGENT_SESSION_HOURS", "8")))

    def add(self, username: str, name: str, language: str, password: str) -> AgentInfo:
        username = username.strip().lower()
        if not USERNAME.fullmatch(username):
            raise ValueError("a username is 2-64 lower-case letters, digits, dots, dashes or underscores")
        if language not in SUPPORTED:
            raise ValueError(f"the working language must be one of {', '.join(sorted(SUPPORTED))}")
        if len(password) < PASSWORD_MIN_LENGTH:
            raise ValueError(f"a password has at least {PASSWORD_MIN_LENGTH} characters")
        with self.db.transaction() as session:
            if session.execute(select(Agent.id).where(Agent.username == username)).first():
                raise ValueError(f"agent {username!r} already exists")
            agent = Agent(username=username, name=name.strip() or username, language=language,
                          password_hash=hash_password(password), created_at=self.clock())
            session.add(agent)
            session.flush()
            return AgentInfo.of(agent)

    def login(self, username: str, password: str) -> tuple[str, AgentInfo]:
        """A new session token for the agent; LoginRefused (same message whatever was wrong)."""
        now = self.clock()
        refused = None
        with self.db.transaction() as session:  # a failure is counted, so it must commit: raise after
            agent = session.execute(select(Agent).where(Agent.username == (username or "").strip().lower())
                                    ).scalar_one_or_none()
            if agent is None:
                password_matches(password or "", _DUMMY_HASH)  # the same work as a real check
                refused = "wrong username or password"
            elif agent.locked_until and agent.locked_until > now:
                refused = "too many wrong passwords: try again later"
            elif not password_matches(password or "", agent.password_hash):
                agent.failed_logins += 1
                if agent.failed_logins >= LOGIN_FAILURES_BEFORE_LOCK:
                    agent.failed_logins, agent.locked_until = 0, now + LOGIN_LOCK
                refused = "wrong username or password"
            else:
                agent.failed_logins, agent.locked_until = 0, None
                token = secrets.token_urlsafe(32)
                session.add(AgentSession(token_hash=_token_hash(token), agent_id=agent.id, created_at=now,
                                         expires_at=now + self.session_length))
                session.execute(delete(AgentSession).where(AgentSession.expires_at < now))
                info = AgentInfo.of(agent)
        if refused:
            raise LoginRefused(refused)
        return token, info

    def session(self, token: str | None) -> AgentInfo | None:
        if not token:
            return None
        with self.db.transaction() as session:
            row = session.execute(select(AgentSession).where(AgentSession.token_hash == _token_hash(token))
                                  ).scalar_one_or_none()
            if row is None or row.expires_at <= self.clock():
                return None
            return AgentInfo.of(row.agent)

    def logout(self, token: str) -> None:
        with self.db.transaction() as session:
            session.execute(delete(AgentSession).where(AgentSession.token_hash == _token_hash(token)))


# -- the desk: queue, claim, reply, decide, hand back --------------------------------------------------

def _case_row(case: Case, order_number: str | None, country: str | None) -> dict[str, Any]:
    return {"number": case.number, "type": _value(case.type), "status": _value(case.status),
            "priority": _value(case.priority), "language": case.language, "channel": case.channel,
            "conversation_id": case.conversation_id, "assignee": case.assignee, "order_number": order_number,
            "country": country, "reason": case.reason, "outcome": case.outcome, "rule_id": case.rule_id,
            "summary": case.summary, "escalated_at": case.escalated_at or case.created_at,
            "sla_due_at": case.sla_due_at, "created_at": case.created_at}


def _value(v: Any) -> Any:
    return getattr(v, "value", v)


class Desk:
    def __init__(self, db: Database, after_sales: AfterSales, clock: Callable[[], datetime] = utcnow):
        self.db, self.after_sales, self.clock = db, after_sales, clock

    def queue(self) -> list[dict[str, Any]]:
        """Escalated and claimed cases: most urgent first, then the longest waiting."""
        with self.db.transaction() as session:
            rows = session.execute(
                select(Case, Order.number, Order.ship_country).outerjoin(Order, Case.order_id == Order.id)
                .where(Case.status.in_(WAITING))).all()
        entries = [_case_row(case, number, country) for case, number, country in rows]
        entries.sort(key=lambda e: (PRIORITIES.index(e["priority"]), e["sla_due_at"] or e["escalated_at"],
                                    e["escalated_at"]))
        return entries

    def claim(self, number: str, agent: AgentInfo) -> dict[str, Any]:
        """Take a waiting case; Conflict if another agent was first (one UPDATE decides the race)."""
        with self.db.transaction() as session:
            taken = session.execute(
                update(Case).where(Case.number == number, Case.status == CaseStatus.ESCALATED,
                                   Case.assignee.is_(None))
                .values(status=CaseStatus.IN_PROGRESS, assignee=agent.username, updated_at=self.clock())
                .execution_options(synchronize_session=False)).rowcount
            case = self._case(session, number)
            if not taken:
                if case.assignee == agent.username and case.status == CaseStatus.IN_PROGRESS:
                    return self._row(session, case)  # claiming one's own case again changes nothing
                raise Conflict(f"case {number} is {_value(case.status)}"
                               + (f", with {case.assignee}" if case.assignee else ""))
            self._event(session, case, agent, "claimed", {})
            return self._row(session, case)

    def release(self, number: str, agent: AgentInfo) -> dict[str, Any]:
        """Put a claimed case back in the queue for someone else."""
        with self.db.transaction() as session:
            case = self._held(session, number, agent)
            case.status, case.assignee = CaseStatus.ESCALATED, None
            self._event(session, case, agent, "released", {})
            return self._row(session, case)

    def case(self, number: str) -> dict[str, Any]:
        """The case with its whole event trail (decisions with rule ids and facts, actions, agents' steps)."""
        with self.db.transaction() as session:
            case = self._case(session, number)
            row = self._row(session, case)
            row["events"] = [{"at": e.at, "actor": e.actor, "kind": e.kind, "rule_id": e.rule_id,
                              "policy_version": e.policy_version, "data": e.data} for e in case.events]
            return row

    def held(self, number: str, agent: AgentInfo) -> dict[str, Any]:
        """The case, if `agent` holds it (Conflict otherwise): replying and deciding need a claim."""
        with self.db.transaction() as session:
            return self._row(session, self._held(session, number, agent))

    def record_reply(self, number: str, agent: AgentInfo, data: dict[str, Any]) -> None:
        with self.db.transaction() as session:
            self._event(session, self._held(session, number, agent), agent, "agent_reply", data)

    def override(self, number: str, agent: AgentInfo, action: str, note: str,
                 amount: Decimal | None = None, address: Address | None = None) -> Result:
        """The agent's decision, carried out by the same service layer as the bot's."""
        if action not in OVERRIDE_ACTIONS:
            raise ValueError(f"action must be one of {', '.join(OVERRIDE_ACTIONS)}")
        with self.db.transaction() as session:
            case = self._held(session, number, agent)
            order = session.get(Order, case.order_id) if case.order_id else None
            if action == "reship" and address is None:
                address = self._requested_address(case)
            who = Conversation(id=case.conversation_id, language=case.language, channel=case.channel,
                               actor=f"agent:{agent.username}", case_number=case.number)
            request = Override(action=action, agent=agent.username, note=note or "",
                               overrides_rule=self._policy_rule(case), amount=amount, address=address)
            order_number = order.number if order else None
        return self.after_sales.handle(order_number, request, who)

    def hand_back(self, number: str, agent: AgentInfo, note: str, close: bool = False) -> dict[str, Any]:
        """Done: the case is resolved (or closed) and the conversation goes back to the bot."""
        with self.db.transaction() as session:
            case = self._held(session, number, agent)
            case.status = CaseStatus.CLOSED if close else CaseStatus.RESOLVED
            self._event(session, case, agent, "handed_back", {"status": _value(case.status), "note": note})
            return self._row(session, case)

    # -- helpers --------------------------------------------------------------------------------------

    @staticmethod
    def _case(session: Session, number: str) -> Case:
        case = session.execute(select(Case).where(Case.number == number)).scalar_one_or_none()
        if case is None:
            raise NotFound(number)
        return case

    def _held(self, session: Session, number: str, agent: AgentInfo) -> Case:
        case = self._case(session, number)
        if case.status != CaseStatus.IN_PROGRESS or case.assignee != agent.username:
            raise Conflict(f"case {number} is not claimed by {agent.username}: claim it first")
        return case

    def _row(self, session: Session, case: Case) -> dict[str, Any]:
        order = session.get(Order, case.order_id) if case.order_id else None
        return _case_row(case, order.number if order else None, order.ship_country if order else None)

    def _event(self, session: Session, case: Case, agent: AgentInfo, kind: str, data: dict) -> None:
        now = self.clock()
        case.updated_at = now
        session.add(CaseEvent(case=case, at=now, actor=f"agent:{agent.username}", kind=kind, data=jsonable(data)))

    @staticmethod
    def _policy_rule(case: Case) -> str | None:
        """The policy's latest say on the case: the outcome an agent's decision changes (asking for a
        person afterwards is not a policy outcome)."""
        for event in reversed(case.events):
            if event.kind == "decision" and event.rule_id and not event.rule_id.startswith(("handoff.", "override.")):
                return event.rule_id
        return case.rule_id

    @staticmethod
    def _requested_address(case: Case) -> Address | None:
        """The address the shopper asked for, from the latest address-change decision on the case."""
        for event in reversed(case.events):
            address = (event.data or {}).get("facts", {}).get("new_address") if event.kind == "decision" else None
            if address:
                return Address(**address)
        return None
