"""The service layer: look an order up, ask the policy engine, carry the decision out.

Each request runs in one database transaction with the order row locked (SELECT ... FOR UPDATE on
PostgreSQL, BEGIN IMMEDIATE on SQLite), so repeated or concurrent requests see each other's effects:
two simultaneous cancels refund once. The case and its append-only event trail are written in the
same transaction as the effects, so there is never an effect without its audit record.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.address import Address
from bot.db import Database
from bot.engine import (Action, Decision, Handoff, ItemSnapshot, OrderSnapshot, Override, RefundSnapshot,
                        Request, ReturnItems, ScanSnapshot, decide)
from bot.models import (Case, CaseEvent, CaseStatus, Order, OrderStatus, PaymentStatus, Priority, Product,
                        Refund, Return, ReturnItem, utcnow)
from bot.policy import PRIORITIES, Policy

# Which case a request opens when the engine does not name one.
_CASE_TYPE = {"cancel": "cancellation", "change_address": "address_change", "return": "return",
              "refund_status": "refund", "customs": "customs", "complaint": "complaint",
              "handoff": "handoff", "track": "delivery_delay", "override": "handoff"}
# Informational answers that change nothing and need no case.
_INFORMATIONAL = {"track", "refund_status", "customs"}


class OrderNotFound(LookupError):
    pass


def order_key(number: str) -> str:
    """How order numbers are compared: '#sh-10482', 'SH 10482' and 'SH10482' are one order."""
    return re.sub(r"[^0-9A-Za-z]", "", number or "").upper()


def jsonable(value: Any) -> Any:
    """Facts and actions as JSON for the case event log (amounts as strings: no float rounding)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Address):
        return value.as_dict()
    if isinstance(value, Enum):
        return value.value
    return value


@dataclass
class Result:
    """What happened: the decision, and what carrying it out created (case, refund, return)."""

    decision: Decision
    case_number: str | None = None
    refund_id: int | None = None
    rma_number: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    order: OrderSnapshot | None = None  # the order as the decision saw it, before carrying it out


@dataclass(frozen=True)
class Conversation:
    """Who is asking, for the case record."""

    id: str | None = None
    language: str = "en"
    channel: str | None = None
    actor: str = "bot"
    case_number: str | None = None  # the case the conversation is about: a handoff escalates it
    summary: str | None = None  # what the shopper asked, for the agent who picks the case up


class AfterSales:
    def __init__(self, db: Database, policy: Policy, clock: Callable[[], datetime] = utcnow):
        self.db, self.policy, self.clock = db, policy, clock

    # -- reading ----------------------------------------------------------------------------------

    def snapshot(self, order_number: str) -> OrderSnapshot:
        with self.db.transaction() as session:
            return snapshot_of(session, self._load(session, order_number, lock=False))

    # -- deciding and doing -----------------------------------------------------------------------

    def handle(self, order_number: str | None, request: Request | Callable[[OrderSnapshot | None], Request],
               who: Conversation = Conversation()) -> Result:
        """Decide `request` for the order and carry the decision out, in one transaction. A request
        that depends on the order (which items, how much) can be given as a function of it: the
        order is then read once, locked."""
        for attempt in range(2):
            try:
                with self.db.transaction() as session:
                    return self._handle(session, order_number, request, who)
            except IntegrityError:
                # A concurrent request won the race on a unique key (refund, return): decide again,
                # now seeing its effect.
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _handle(self, session: Session, order_number: str | None, request, who: Conversation) -> Result:
        now = self.clock()
        order = self._load(session, order_number, lock=True) if order_number else None
        snapshot = snapshot_of(session, order) if order else None
        if callable(request):
            request = request(snapshot)
        decision = decide(snapshot, request, now, self.policy)
        result = Result(decision, order=snapshot)
        if decision.request in _INFORMATIONAL and not decision.actions:
            return result

        case = self._case_for(session, order, decision, request, who, now)
        result.case_number = case.number
        session.add(CaseEvent(case=case, at=now, actor=who.actor, kind="decision", rule_id=decision.rule_id,
                              policy_version=decision.policy_version,
                              data=jsonable({"request": request.kind, "request_params": _request_params(request),
                                             "outcome": decision.outcome, "reason": decision.reason,
                                             "facts": decision.facts, "actions": [a.__dict__ for a in decision.actions],
                                             "offers": decision.offers})))
        if isinstance(request, Override):
            session.add(CaseEvent(case=case, at=now, actor=who.actor, kind="override", rule_id=decision.rule_id,
                                  policy_version=decision.policy_version,
                                  data=jsonable({"agent": request.agent, "action": request.action,
                                                 "note": request.note, "overrides_rule": request.overrides_rule,
                                                 "outcome": decision.outcome})))
        for action in decision.actions:
            done = self._carry_out(session, order, case, action, now)
            if done is not None:
                result.details.update(done)
                session.add(CaseEvent(case=case, at=now, actor=who.actor, kind="action", rule_id=decision.rule_id,
                                      policy_version=decision.policy_version,
                                      data=jsonable({"action": action.kind, **done})))
        result.refund_id = result.details.get("refund_id")
        result.rma_number = result.details.get("rma_number")
        return result

    def _load(self, session: Session, number: str, lock: bool) -> Order:
        query = select(Order).where(Order.number_key == order_key(number))
        if lock:
            query = query.with_for_update(of=Order)
        order = session.execute(query).scalar_one_or_none()
        if order is None:
            raise OrderNotFound(number)
        return order

    def _case_for(self, session, order, decision: Decision, request: Request, who: Conversation, now) -> Case:
        opened = decision.action("open_case")
        case_type = opened.params["type"] if opened else _CASE_TYPE[decision.request]
        if isinstance(request, ReturnItems) and request.reason in self.policy.seller_fault_reasons:
            case_type = "item_problem"
        case = None
        if isinstance(request, Override):
            # An agent decides on the case they hold; its status is theirs to change when they hand back.
            case = session.execute(select(Case).where(Case.number == who.case_number)).scalar_one()
            case.outcome, case.rule_id = decision.outcome.value, decision.rule_id
            return case
        if isinstance(request, Handoff) and who.case_number and who.id:
            # Asking for a person about a case just decided: escalate that case, with its history.
            case = session.execute(
                select(Case).where(Case.number == who.case_number, Case.conversation_id == who.id,
                                   Case.status != CaseStatus.CLOSED)).scalar_one_or_none()
        if case is None and order is not None:
            # One open case per order and type: asking twice about a late parcel is one case.
            case = session.execute(
                select(Case).where(Case.order_id == order.id, Case.type == case_type,
                                   Case.status.in_([CaseStatus.OPEN, CaseStatus.ESCALATED, CaseStatus.IN_PROGRESS]))
                .order_by(Case.id.desc()).limit(1)).scalar_one_or_none()
        if case is None:
            case = Case(number=_new_number("CS-", 6), type=case_type, status=CaseStatus.OPEN,
                        order_id=order.id if order else None, customer_id=order.customer_id if order else None,
                        conversation_id=who.id, channel=who.channel, language=who.language,
                        priority=opened.params["priority"] if opened else "normal", created_at=now)
            session.add(case)
            session.flush()
            session.add(CaseEvent(case=case, at=now, actor=who.actor, kind="created",
                                  data={"conversation_id": who.id, "channel": who.channel, "language": who.language}))
        reason = getattr(request, "reason", None)
        if reason and not isinstance(request, Handoff):
            case.reason = reason
        if who.summary:
            case.summary = who.summary
        case.outcome, case.rule_id = decision.outcome.value, decision.rule_id
        if decision.outcome.value in ("allowed", "allowed_with_conditions") and case_type in (
                "cancellation", "address_change") and not decision.action("intercept_and_reship"):
            case.status = CaseStatus.RESOLVED
        elif decision.outcome.value == "denied" and not decision.action("escalate"):
            case.status = CaseStatus.RESOLVED
        return case

    def _carry_out(self, session: Session, order: Order, case: Case, action: Action, now: datetime) -> dict | None:
        p = action.params
        if action.kind == "cancel_order":
            order.status, order.cancelled_at, order.cancel_reason = OrderStatus.CANCELLED, now, p["reason"]
            return {"order_status": "cancelled"}
        if action.kind == "refund":
            # A cancellation refunds once per order; other refunds are numbered per order, so two
            # concurrent requests computing the same number collide instead of paying twice.
            key = f"{p['reason']}:{order.id}"
            if p["reason"] != "cancellation":
                key += f":{sum(r.reason == p['reason'] for r in order.refunds) + 1}"
            for item_id, qty in p.get("items", ()):
                _settle(order, item_id, qty)  # refunded without return: cannot be claimed again
            refund = Refund(order_id=order.id, case_id=case.id, amount=p["amount"], currency=p["currency"],
                            reason=p["reason"], due_at=p["due_at"], created_at=now, idempotency_key=key)
            session.add(refund)
            session.flush()
            return {"refund_id": refund.id, "refund_amount": refund.amount, "refund_due_at": refund.due_at}
        if action.kind in ("update_address", "intercept_and_reship"):
            old = order.shipping_address
            order.shipping_address = p["address"]
            if action.kind == "intercept_and_reship":
                for shipment in order.shipments:
                    if shipment.delivered_at is None:
                        shipment.intercepted = True
            return {"old_address": old, "new_address": p["address"]}
        if action.kind == "create_return":
            rma = Return(rma_number=_new_number("RMA-", 8, digits=True), order_id=order.id, case_id=case.id,
                         reason=p["reason"], resolution=p["resolution"], method=None,
                         shipping_paid_by=p["shipping_paid_by"], created_at=now,
                         idempotency_key=f"return:{order.id}:{len(order.returns) + 1}")
            session.add(rma)
            for item_id, qty in p["items"]:
                _settle(order, item_id, qty)
                rma.items.append(ReturnItem(order_item_id=item_id, quantity=qty))
            session.flush()
            return {"rma_number": rma.rma_number, "return_methods": p["methods"]}
        if action.kind == "escalate":
            # Escalating never lowers a case's priority nor pushes its due time back.
            current = case.priority.value if isinstance(case.priority, Priority) else case.priority
            if current and PRIORITIES.index(current) < PRIORITIES.index(p["priority"]):
                priority, due = current, min(filter(None, (case.sla_due_at, p["sla_due_at"])))
            else:
                priority, due = p["priority"], p["sla_due_at"]
            if case.status not in (CaseStatus.ESCALATED, CaseStatus.IN_PROGRESS):
                case.escalated_at = now  # waiting for a person from now (asking again keeps the place)
            if case.status != CaseStatus.IN_PROGRESS:
                case.status = CaseStatus.ESCALATED  # an agent already on it keeps it
            case.priority, case.sla_due_at = priority, due
            return {"priority": priority, "agent_due_at": due}
        if action.kind == "open_case":
            return None  # the case itself is the effect
        raise ValueError(f"unknown action {action.kind}")


def _settle(order: Order, item_id: int, quantity: int) -> None:
    item = next(i for i in order.items if i.id == item_id)
    if item.returned_quantity + quantity > item.quantity:
        raise ValueError(f"order item {item_id} has only {item.quantity - item.returned_quantity} left to settle")
    item.returned_quantity += quantity


def snapshot_of(session: Session, order: Order) -> OrderSnapshot:
    skus = {i.sku for i in order.items}
    stock = dict(session.execute(select(Product.sku, Product.stock).where(Product.sku.in_(skus))).all()) if skus else {}
    shipment = order.shipments[-1] if order.shipments else None
    last_event = shipment.events[-1] if shipment and shipment.events else None
    return OrderSnapshot(
        number=order.number,
        status=order.status.value,
        currency=order.currency,
        total=order.total,
        paid=sum((p.amount for p in order.payments if p.status == PaymentStatus.CAPTURED), Decimal("0")),
        destination_country=order.ship_country,
        placed_at=order.placed_at,
        items=tuple(ItemSnapshot(id=i.id, sku=i.sku, name=i.name, category=i.category,
                                 returnability=i.returnability.value, quantity=i.quantity,
                                 returned_quantity=i.returned_quantity, unit_price=i.unit_price,
                                 in_stock=stock.get(i.sku, 0) > 0) for i in order.items),
        refunds=tuple(RefundSnapshot(id=r.id, amount=r.amount, currency=r.currency, reason=r.reason,
                                     status=r.status.value, due_at=r.due_at, issued_at=r.issued_at)
                      for r in order.refunds),
        shipped_at=shipment.shipped_at if shipment else None,
        promised_delivery_date=shipment.promised_delivery_date if shipment else None,
        delivered_at=shipment.delivered_at if shipment else None,
        last_scan_at=last_event.occurred_at if last_event else None,
        last_scan_code=last_event.code if last_event else None,
        carrier=shipment.carrier if shipment else None,
        tracking_number=shipment.tracking_number if shipment else None,
        scans=tuple(ScanSnapshot(e.occurred_at, e.code, e.location) for e in shipment.events) if shipment else (),
        shipping_address=order.shipping_address,
    )


def _request_params(request: Request) -> dict:
    return {k: v for k, v in request.__dict__.items()}


_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read out over the phone


def _new_number(prefix: str, length: int, digits: bool = False) -> str:
    alphabet = "0123456789" if digits else _ALPHABET
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))
