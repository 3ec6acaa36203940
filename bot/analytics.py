"""After-sales insight for a date range, from the case database and Rasa's tracker store.

Definitions (README: Analytics):
- a conversation: a sender with at least one shopper message in the range; its language is the
  last value of its `language` slot, its country the destination of the orders its cases are about;
- with a request: the bot carried a request out (`action_carry_out_request`) or the conversation
  went to a person; handed off: one of its cases was escalated; automated: with a request and
  not handed off; automation rate = automated / with a request; handoff rate = handed off / all;
- fallback rate: shopper messages the classifier could not place (`nlu_fallback`) / all messages;
- refund compliance: refunds due in the range issued by their deadline / those issued or overdue;
- first agent reply: from escalation to the first agent_reply on the case, against its SLA.
"""
from __future__ import annotations

import json
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, create_engine, select
from sqlalchemy.orm import selectinload

from bot.db import Database
from bot.models import Case, CaseEvent, Order, OrderItem, Rating, Refund, Return, ReturnItem

# Rasa's SQL tracker store table (rasa.core.tracker_store.SQLTrackerStore.SQLEvent), read only.
_EVENTS = Table("events", MetaData(), Column("id", Integer, primary_key=True), Column("sender_id", String(255)),
                Column("type_name", String(255)), Column("timestamp", Float), Column("intent_name", String(255)),
                Column("action_name", String(255)), Column("data", Text))
UNKNOWN = "?"


@dataclass
class Conversation:
    sender: str
    language: str = UNKNOWN
    country: str = UNKNOWN
    first_day: date | None = None
    messages: int = 0
    fallbacks: int = 0
    carried_out: bool = False
    handed_off: bool = False

    @property
    def with_request(self) -> bool:
        return self.carried_out or self.handed_off


@dataclass
class Report:
    start: date
    end: date  # inclusive
    totals: dict[str, Any] = field(default_factory=dict)
    by_language: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_country: dict[str, dict[str, Any]] = field(default_factory=dict)
    daily: list[dict[str, Any]] = field(default_factory=list)
    handoff_reasons: dict[str, int] = field(default_factory=dict)
    cases_by_type: dict[str, int] = field(default_factory=dict)
    cases_by_reason: dict[str, int] = field(default_factory=dict)
    reasons_by_product: list[dict[str, Any]] = field(default_factory=list)  # sku, product, reason, count
    outcomes: list[dict[str, Any]] = field(default_factory=list)  # rule_id, outcome, count
    overrides: dict[str, int] = field(default_factory=dict)  # overridden rule -> count
    refunds: dict[str, Any] = field(default_factory=dict)
    agent_reply: dict[str, Any] = field(default_factory=dict)
    ratings: dict[str, Any] = field(default_factory=dict)


def _rates(conversations: list[Conversation]) -> dict[str, Any]:
    total = len(conversations)
    with_request = [c for c in conversations if c.with_request]
    handed = sum(c.handed_off for c in conversations)
    messages = sum(c.messages for c in conversations)
    return {"conversations": total, "with_request": len(with_request),
            "automated": sum(not c.handed_off for c in with_request), "handed_off": handed,
            "automation_rate": _ratio(sum(not c.handed_off for c in with_request), len(with_request)),
            "handoff_rate": _ratio(handed, total), "messages": messages,
            "fallback_rate": _ratio(sum(c.fallbacks for c in conversations), messages)}


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    return (datetime.combine(start, time(0), timezone.utc),
            datetime.combine(end + timedelta(days=1), time(0), timezone.utc))


def conversations(tracker_url: str, start: date, end: date) -> dict[str, Conversation]:
    """Every conversation with a shopper message in the range, from the tracker store's events."""
    since, until = _day_bounds(start, end)
    engine = create_engine(tracker_url, future=True)
    found: dict[str, Conversation] = {}
    try:
        with engine.connect() as connection:
            if not engine.dialect.has_table(connection, "events"):
                return {}
            rows = connection.execute(
                select(_EVENTS.c.sender_id, _EVENTS.c.type_name, _EVENTS.c.timestamp, _EVENTS.c.intent_name,
                       _EVENTS.c.action_name, _EVENTS.c.data)
                .where(_EVENTS.c.timestamp >= since.timestamp(), _EVENTS.c.timestamp < until.timestamp())
                .order_by(_EVENTS.c.id))
            for sender, kind, stamp, intent, action, data in rows:
                if kind == "user":
                    c = found.setdefault(sender, Conversation(sender))
                    c.messages += 1
                    c.fallbacks += intent == "nlu_fallback"
                    c.first_day = c.first_day or datetime.fromtimestamp(stamp, timezone.utc).date()
                elif sender in found and kind == "action" and action == "action_carry_out_request":
                    found[sender].carried_out = True
                elif kind == "slot" and data:
                    slot = json.loads(data)
                    if slot.get("name") == "language" and slot.get("value"):
                        found.setdefault(sender, Conversation(sender)).language = slot["value"]
    finally:
        engine.dispose()
    return {s: c for s, c in found.items() if c.messages}


def build(db: Database, tracker_url: str, start: date, end: date, now: datetime | None = None) -> Report:
    now = now or datetime.now(timezone.utc)
    since, until = _day_bounds(start, end)
    report = Report(start, end)
    talks = conversations(tracker_url, start, end)

    with db.transaction() as session:
        cases = session.execute(
            select(Case).where(Case.created_at >= since, Case.created_at < until)
            .options(selectinload(Case.events))).scalars().all()
        orders = {o.id: o for o in session.execute(
            select(Order).where(Order.id.in_({c.order_id for c in cases if c.order_id}))
            .options(selectinload(Order.items))).scalars()}
        returned = defaultdict(list)  # case id -> [(sku, name)]
        for case_id, sku, name in session.execute(
                select(Return.case_id, OrderItem.sku, OrderItem.name).join(ReturnItem, ReturnItem.return_id == Return.id)
                .join(OrderItem, OrderItem.id == ReturnItem.order_item_id)
                .where(Return.case_id.in_([c.id for c in cases]))):
            returned[case_id].append((sku, name))
        refunds = session.execute(select(Refund).where(Refund.due_at >= since, Refund.due_at < until)).scalars().all()
        ratings = session.execute(select(Rating).where(Rating.at >= since, Rating.at < until)).scalars().all()

        reasons: Counter = Counter()
        handoff_reasons: Counter = Counter()
        first_replies: list[tuple[float, bool]] = []
        unanswered = 0
        for case in cases:
            order = orders.get(case.order_id)
            talk = talks.get(case.conversation_id or "")
            if talk and order:
                talk.country = order.ship_country
            escalations = [a for e in case.events if e.kind == "decision" and e.actor == "bot"
                           for a in (e.data or {}).get("actions", []) if a.get("kind") == "escalate"]
            if case.escalated_at:
                if talk:
                    talk.handed_off = True
                for escalation in escalations[:1]:
                    handoff_reasons[escalation["params"].get("reason", UNKNOWN)] += 1
                reply = next((e for e in case.events if e.kind == "agent_reply"), None)
                if reply is None:
                    unanswered += 1
                else:
                    minutes = (reply.at - case.escalated_at).total_seconds() / 60
                    first_replies.append((minutes, case.sla_due_at is None or reply.at <= case.sla_due_at))
            if case.reason and case.type.value in ("return", "item_problem", "cancellation"):
                items = returned.get(case.id) or ([(i.sku, i.name) for i in order.items] if order else [])
                for sku, name in items:
                    reasons[(sku, name, case.type.value, case.reason)] += 1
            for e in case.events:
                if e.kind == "override" and (e.data or {}).get("outcome") == "allowed":
                    report.overrides[e.data.get("overrides_rule") or UNKNOWN] = \
                        report.overrides.get(e.data.get("overrides_rule") or UNKNOWN, 0) + 1

        outcomes = Counter((e.rule_id, (e.data or {}).get("outcome")) for c in cases for e in c.events
                           if e.kind == "decision")

    every = list(talks.values())
    report.totals = {**_rates(every), "cases": len(cases)}
    for attribute, target in (("language", report.by_language), ("country", report.by_country)):
        groups = defaultdict(list)
        for c in every:
            groups[getattr(c, attribute)].append(c)
        target.update({k: _rates(v) for k, v in sorted(groups.items())})
    days = defaultdict(list)
    for c in every:
        days[c.first_day].append(c)
    report.daily = [{"day": start + timedelta(days=n), **_rates(days.get(start + timedelta(days=n), []))}
                    for n in range((end - start).days + 1)]
    report.handoff_reasons = dict(handoff_reasons.most_common())
    report.cases_by_type = dict(Counter(c.type.value for c in cases).most_common())
    report.cases_by_reason = dict(Counter(c.reason for c in cases if c.reason).most_common())
    report.reasons_by_product = [{"sku": sku, "product": name, "case_type": kind, "reason": reason, "count": n}
                                 for (sku, name, kind, reason), n in reasons.most_common()]
    report.outcomes = [{"rule_id": rule, "outcome": outcome, "count": n} for (rule, outcome), n in
                       sorted(outcomes.items(), key=lambda kv: (-kv[1], kv[0][0] or ""))]

    on_time = sum(1 for r in refunds if r.issued_at and r.issued_at <= r.due_at)
    late = sum(1 for r in refunds if r.issued_at and r.issued_at > r.due_at)
    overdue = sum(1 for r in refunds if not r.issued_at and r.due_at < now)
    report.refunds = {"due": len(refunds), "issued_on_time": on_time, "issued_late": late, "overdue": overdue,
                      "pending_on_time": len(refunds) - on_time - late - overdue,
                      "compliance": _ratio(on_time, on_time + late + overdue)}
    report.agent_reply = {
        "escalated": len(first_replies) + unanswered, "answered": len(first_replies), "unanswered": unanswered,
        "median_minutes": round(statistics.median(m for m, _ in first_replies), 1) if first_replies else None,
        "within_sla": _ratio(sum(ok for _, ok in first_replies), len(first_replies))}
    scores = [r.score for r in ratings]
    per_language = defaultdict(list)
    for r in ratings:
        per_language[r.language].append(r.score)
    report.ratings = {"count": len(scores), "average": round(statistics.mean(scores), 2) if scores else None,
                      "distribution": {s: scores.count(s) for s in range(1, 6)},
                      "by_language": {k: round(statistics.mean(v), 2) for k, v in sorted(per_language.items())}}
    return report
