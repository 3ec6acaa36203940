"""The after-sales policy engine: a pure function from (order, request, now, policy) to a decision.

No database, no Rasa, no clock of its own: everything it uses comes in as arguments, and
everything it used goes out in `Decision.facts`, so every decision can be replayed and audited.
The service layer (bot/service.py) carries the decision's actions out.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Union

from bot.address import Address
from bot.policy import MarketTerms, Policy

BEFORE_SHIPMENT = ("pending_payment", "paid", "processing")
IN_TRANSIT = ("shipped", "in_transit", "held_at_customs", "out_for_delivery")


class Outcome(str, enum.Enum):
    ALLOWED = "allowed"
    ALLOWED_WITH_CONDITIONS = "allowed_with_conditions"
    DENIED = "denied"
    NEEDS_AGENT = "needs_agent"


# ---- what the engine looks at -------------------------------------------------------------------

@dataclass(frozen=True)
class ItemSnapshot:
    id: int
    sku: str
    name: str
    category: str
    returnability: str  # returnable, final_sale, hygiene, customised
    quantity: int
    returned_quantity: int
    unit_price: Decimal
    in_stock: bool

    @property
    def returnable_quantity(self) -> int:
        return self.quantity - self.returned_quantity


@dataclass(frozen=True)
class RefundSnapshot:
    id: int
    amount: Decimal
    currency: str
    reason: str
    status: str  # pending, issued, failed
    due_at: datetime
    issued_at: datetime | None


@dataclass(frozen=True)
class ScanSnapshot:
    at: datetime
    code: str  # label_created, in_transit, held_at_customs, delivered... (bot/models.py TrackingEvent)
    location: str | None


@dataclass(frozen=True)
class OrderSnapshot:
    number: str
    status: str
    currency: str
    total: Decimal
    paid: Decimal  # captured payments
    destination_country: str
    placed_at: datetime
    items: tuple[ItemSnapshot, ...]
    refunds: tuple[RefundSnapshot, ...] = ()
    shipped_at: datetime | None = None
    promised_delivery_date: date | None = None
    delivered_at: datetime | None = None
    last_scan_at: datetime | None = None
    last_scan_code: str | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    scans: tuple[ScanSnapshot, ...] = ()  # the latest shipment's tracking history, oldest first
    shipping_address: Address | None = None

    @property
    def refunded(self) -> Decimal:
        return sum((r.amount for r in self.refunds if r.status != "failed"), Decimal("0"))


# ---- what the shopper asks for ------------------------------------------------------------------

@dataclass(frozen=True)
class Track:
    kind = "track"


@dataclass(frozen=True)
class Cancel:
    reason: str
    kind = "cancel"


@dataclass(frozen=True)
class ChangeAddress:
    address: Address
    kind = "change_address"


@dataclass(frozen=True)
class ReturnItems:
    """A return or exchange (no-fault reasons) or an item problem (seller-fault reasons)."""

    items: tuple[tuple[int, int], ...]  # (order item id, quantity)
    reason: str
    resolution: str = "refund"  # refund, or exchange (same item again: other size, or a replacement)
    kind = "return"


@dataclass(frozen=True)
class RefundStatus:
    kind = "refund_status"


@dataclass(frozen=True)
class Customs:
    kind = "customs"


@dataclass(frozen=True)
class Complaint:
    legal_threat: bool = False  # chargeback, lawyer, consumer agency, public review
    kind = "complaint"


@dataclass(frozen=True)
class Handoff:
    reason: str = "shopper_asked"  # shopper_asked, repeated_fallback, ...
    kind = "handoff"


@dataclass(frozen=True)
class Override:
    """An agent's decision on an escalated case, where the policy left it to a person or said no.

    refund: pay `amount` (default: all that is still refundable) as goodwill; return: take the
    remaining items back at the shop's cost, refund on arrival; reship: intercept the parcel and
    send it to `address`; approve: the agent agrees with the policy's outcome, nothing more is done.
    """

    action: str  # refund, return, reship, approve
    agent: str
    note: str  # why: recorded on the case
    overrides_rule: str | None = None  # the rule whose outcome the agent changes
    amount: Decimal | None = None
    address: Address | None = None
    kind = "override"


OVERRIDE_ACTIONS = ("refund", "return", "reship", "approve")

Request = Union[Track, Cancel, ChangeAddress, ReturnItems, RefundStatus, Customs, Complaint, Handoff, Override]


# ---- what the engine answers --------------------------------------------------------------------

@dataclass(frozen=True)
class Action:
    """Something the service layer must carry out. kinds:
    cancel_order, refund, update_address, intercept_and_reship, create_return, open_case, escalate.
    """

    kind: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    request: str
    outcome: Outcome
    rule_id: str  # the rule that decided, e.g. "cancel.after_shipment"
    reason: str  # reason code for the shopper-facing explanation
    facts: dict[str, Any]  # every input the rule looked at
    actions: tuple[Action, ...] = ()
    offers: tuple[str, ...] = ()  # what the shopper can do next: refuse_delivery, return_flow, agent...
    policy_version: str = ""

    @property
    def message_key(self) -> str:
        return f"decision.{self.rule_id}"

    @property
    def message_params(self) -> dict[str, Any]:
        return self.facts

    def action(self, kind: str) -> Action | None:
        return next((a for a in self.actions if a.kind == kind), None)


# Requests a shopper can make without naming an order.
ORDERLESS = (Complaint, Handoff, Override)


def decide(order: OrderSnapshot | None, request: Request, now: datetime, policy: Policy) -> Decision:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if order is None and not isinstance(request, ORDERLESS):
        raise ValueError(f"{request.kind} needs an order")
    terms = policy.terms_for(order.destination_country) if order else None
    ctx = _Context(order, now, policy, terms)
    handler = _HANDLERS[type(request)]
    rule_id, outcome, reason, facts, actions, offers = handler(ctx, request)
    base_facts = {
        "order_number": order.number,
        "order_status": order.status,
        "destination": order.destination_country,
        "market": terms.market,
    } if order else {}
    return Decision(request=request.kind, outcome=outcome, rule_id=rule_id, reason=reason,
                    facts={**base_facts, **facts}, actions=tuple(actions), offers=tuple(offers),
                    policy_version=policy.version)


@dataclass(frozen=True)
class _Context:
    order: OrderSnapshot | None
    now: datetime
    policy: Policy
    terms: MarketTerms | None

    @property
    def value_base(self) -> Decimal:
        return self.policy.to_base(self.order.total, self.order.currency)

    def days_since_delivery(self) -> int | None:
        if self.order.delivered_at is None:
            return None
        return (self.now.date() - self.order.delivered_at.date()).days

    def escalate(self, priority: str, reason: str) -> Action:
        if self.order and self.value_base >= self.policy.high_value_priority_from and priority in ("low", "normal"):
            priority = "high"  # much money at stake: a person looks sooner
        return Action("escalate", {"priority": priority, "reason": reason,
                                   "sla_due_at": self.policy.sla_due(self.now, priority)})

    def open_case(self, case_type: str, priority: str = "normal", **params) -> Action:
        return Action("open_case", {"type": case_type, "priority": priority, **params})

    def refund(self, amount: Decimal, reason: str) -> Action:
        return Action("refund", {"amount": amount, "currency": self.order.currency, "reason": reason,
                                 "due_at": self.now + timedelta(days=self.terms.refund_deadline_days)})

    def duties_facts(self) -> dict[str, Any]:
        t = self.terms
        return {"duties": t.duties, "import_tax_rate_percent": t.import_tax_rate_percent,
                "duty_free_threshold": t.duty_free_threshold, "base_currency": self.policy.base_currency}


A, AC, D, NA = Outcome.ALLOWED, Outcome.ALLOWED_WITH_CONDITIONS, Outcome.DENIED, Outcome.NEEDS_AGENT


def _track(ctx: _Context, _req: Track):
    o, t, now = ctx.order, ctx.terms, ctx.now
    facts: dict[str, Any] = {"carrier": o.carrier, "tracking_number": o.tracking_number,
                             "promised_delivery_date": o.promised_delivery_date}
    if o.status in BEFORE_SHIPMENT:
        return "track.not_shipped", A, "not_shipped", facts, [], []
    if o.status == "delivered":
        return "track.delivered", A, "delivered", {**facts, "delivered_at": o.delivered_at}, [], ["return_flow"]
    if o.status not in IN_TRANSIT:
        return "track.closed", A, o.status, facts, [], []
    if o.status == "held_at_customs":
        facts.update(ctx.duties_facts())
        return ("track.held_at_customs", AC, "held_at_customs", facts,
                [ctx.open_case("customs")], [])
    if o.last_scan_at is not None:
        days_silent = (now - o.last_scan_at).days
        facts.update(last_scan_at=o.last_scan_at, days_without_scan=days_silent,
                     lost_parcel_no_scan_days=t.lost_parcel_no_scan_days)
        if days_silent >= t.lost_parcel_no_scan_days:
            deadline = now + timedelta(days=t.lost_parcel_investigation_days)
            facts["investigation_deadline"] = deadline
            return ("track.no_scan_investigation", AC, "no_scan", facts,
                    [ctx.open_case("lost_parcel", "high", deadline=deadline)], ["agent"])
    if o.promised_delivery_date is not None:
        late_after = o.promised_delivery_date + timedelta(days=t.delivery_grace_days)
        facts.update(delivery_grace_days=t.delivery_grace_days, late_after=late_after)
        if now.date() > late_after:
            facts["days_late"] = (now.date() - o.promised_delivery_date).days
            return "track.delayed", AC, "delayed", facts, [ctx.open_case("delivery_delay")], []
    return "track.in_transit", A, "on_its_way", facts, [], []


def _cancel(ctx: _Context, req: Cancel):
    o = ctx.order
    facts: dict[str, Any] = {"cancel_reason": req.reason}
    if o.status == "cancelled":
        return "cancel.already_cancelled", D, "already_cancelled", facts, [], []
    if o.status in BEFORE_SHIPMENT:
        refundable = o.paid - o.refunded
        facts.update(refund_amount=refundable, currency=o.currency,
                     refund_deadline_days=ctx.terms.refund_deadline_days)
        actions = [Action("cancel_order", {"reason": req.reason})]
        if refundable > 0:
            refund = ctx.refund(refundable, "cancellation")
            facts["refund_due_at"] = refund.params["due_at"]
            actions.append(refund)
        return "cancel.before_shipment", A, "cancelled", facts, actions, []
    if o.status in IN_TRANSIT:
        return ("cancel.after_shipment", D, "already_shipped", facts, [],
                ["refuse_delivery", "return_after_delivery"])
    if o.status == "delivered":
        return "cancel.delivered", D, "delivered_use_return", facts, [], ["return_flow"]
    return "cancel.closed", D, o.status, facts, [], []


def _change_address(ctx: _Context, req: ChangeAddress):
    o, t = ctx.order, ctx.terms
    new = req.address.normalised()
    facts: dict[str, Any] = {"new_address": new.as_dict()}
    problems = new.problems()
    if problems:
        return "address.invalid", D, "invalid_address", {**facts, "problems": problems}, [], []
    if o.status not in BEFORE_SHIPMENT + IN_TRANSIT:
        reason = "delivered" if o.status == "delivered" else o.status
        return "address.too_late", D, reason, facts, [], []
    if new.country != o.destination_country:
        # Another country changes duties, carrier and price: not the bot's call.
        return ("address.country_change", NA, "country_change", facts,
                [ctx.open_case("address_change"), ctx.escalate("normal", "country_change")], ["agent"])
    if o.status in BEFORE_SHIPMENT:
        return "address.before_shipment", A, "updated", facts, [Action("update_address", {"address": new})], []
    value = ctx.value_base
    facts.update(order_value_base=value.quantize(Decimal("0.01")), base_currency=ctx.policy.base_currency,
                 intercept_reship_max_value=t.intercept_reship_max_value)
    if value <= t.intercept_reship_max_value:
        return ("address.intercept_and_reship", AC, "intercept_and_reship", facts,
                [Action("intercept_and_reship", {"address": new}), ctx.open_case("address_change")], [])
    return "address.shipped_high_value", D, "shipped_high_value", facts, [], ["agent"]


def _return(ctx: _Context, req: ReturnItems):
    o, t, policy = ctx.order, ctx.terms, ctx.policy
    if req.reason not in policy.return_reasons:
        raise ValueError(f"unknown return reason {req.reason!r}")
    fault = req.reason in policy.seller_fault_reasons
    facts: dict[str, Any] = {"return_reason": req.reason, "seller_fault": fault}
    if o.status in BEFORE_SHIPMENT:
        return "return.not_shipped", D, "not_shipped_cancel_instead", facts, [], ["cancel_flow"]
    if o.status in IN_TRANSIT:
        return "return.not_delivered", D, "not_delivered_refuse", facts, [], ["refuse_delivery"]
    if o.status != "delivered":
        return "return.closed", D, o.status, facts, [], []

    by_id = {i.id: i for i in o.items}
    wanted: dict[int, int] = {}  # the same item named twice is one line
    for item_id, qty in req.items:
        if item_id not in by_id or qty < 1:
            raise ValueError(f"item {item_id} x{qty} is not part of order {o.number}")
        wanted[item_id] = wanted.get(item_id, 0) + qty
    chosen = [(by_id[i], min(q, by_id[i].returnable_quantity)) for i, q in wanted.items()]
    chosen = [(i, q) for i, q in chosen if q > 0]
    facts["days_since_delivery"] = days = ctx.days_since_delivery()
    facts["delivered_at"] = o.delivered_at
    if not chosen:
        return "return.already_returned", D, "already_returned", facts, [], []

    if fault:
        facts["quality_claim_days"] = t.quality_claim_days
        value = sum((i.unit_price * q for i, q in chosen), Decimal("0"))
        value_base = policy.to_base(value, o.currency)
        facts.update(items_value=value, currency=o.currency, items_value_base=value_base.quantize(Decimal("0.01")),
                     keep_it_refund_max_value=t.keep_it_refund_max_value, base_currency=policy.base_currency)
        if days > t.quality_claim_days:
            return ("return.fault_outside_window", NA, "fault_outside_window", facts,
                    [ctx.open_case("item_problem"), ctx.escalate("normal", "fault_outside_window")], ["agent"])
        if value_base <= t.keep_it_refund_max_value and req.resolution == "refund":
            refund = ctx.refund(value, "keep_it")
            refund.params["items"] = [(i.id, q) for i, q in chosen]
            facts.update(refund_amount=value, refund_due_at=refund.params["due_at"])
            return ("return.fault_keep_it", A, "refund_without_return", facts,
                    [ctx.open_case("item_problem"), refund], [])
        resolution = "refund"
        if req.resolution == "exchange":
            resolution = "replacement" if all(i.in_stock for i, _ in chosen) else "refund"
            facts["replacement_in_stock"] = resolution == "replacement"
        facts.update(resolution=resolution, shipping_paid_by="shop", return_methods=t.return_methods,
                     refund_deadline_days=t.refund_deadline_days)
        return ("return.fault_return", A, "seller_paid_return", facts,
                [ctx.open_case("item_problem"),
                 _create_return(chosen, req.reason, resolution, "shop", t.return_methods)], [])

    excluded = [i for i, _ in chosen if i.returnability in ("final_sale", "customised")]
    chosen = [(i, q) for i, q in chosen if i not in excluded]
    facts["excluded_items"] = [{"name": i.name, "returnability": i.returnability} for i in excluded]
    if not chosen:
        return "return.not_returnable", D, "not_returnable", facts, [], []
    window = t.return_window_days
    statutory = t.statutory_withdrawal_days >= t.no_reason_return_days and t.statutory_withdrawal_days > 0
    facts.update(return_window_days=window, window_basis="statutory_withdrawal" if statutory else "shop_policy",
                 last_return_day=o.delivered_at.date() + timedelta(days=window))
    if days > window:
        return "return.window_expired", D, "window_expired", facts, [], ["agent"]
    payer = t.return_shipping_paid_by[req.reason]
    resolution = "refund"
    if req.resolution == "exchange":
        resolution = "exchange" if all(i.in_stock for i, _ in chosen) else "refund"
        facts["exchange_in_stock"] = resolution == "exchange"
    hygiene = [i.name for i, _ in chosen if i.returnability == "hygiene"]
    conditions = (["hygiene_sealed"] if hygiene else []) + (["partial"] if excluded else [])
    facts.update(resolution=resolution, shipping_paid_by=payer, return_methods=t.return_methods,
                 refund_deadline_days=t.refund_deadline_days, conditions=conditions, sealed_only_items=hygiene)
    rule = "return.within_statutory_withdrawal" if statutory else "return.within_window"
    return (rule, AC if conditions else A, "return_created", facts,
            [ctx.open_case("return"), _create_return(chosen, req.reason, resolution, payer, t.return_methods)], [])


def _create_return(chosen, reason, resolution, payer, methods) -> Action:
    return Action("create_return", {"items": [(i.id, q) for i, q in chosen], "reason": reason,
                                    "resolution": resolution, "shipping_paid_by": payer,
                                    "methods": list(methods)})


def _refund_status(ctx: _Context, _req: RefundStatus):
    refunds = [r for r in ctx.order.refunds if r.status != "failed"]
    if not refunds:
        return "refund.none", A, "no_refund", {}, [], []
    # The refund the shopper is waiting on: an overdue one first, else the latest.
    overdue = [r for r in refunds if r.status == "pending" and ctx.now > r.due_at]
    latest = min(overdue, key=lambda r: r.due_at) if overdue else max(refunds, key=lambda r: r.due_at)
    facts = {"refund_amount": latest.amount, "currency": latest.currency, "refund_due_at": latest.due_at,
             "refund_reason": latest.reason, "refund_status": latest.status}
    if latest.status == "issued":
        return "refund.issued", A, "issued", {**facts, "issued_at": latest.issued_at}, [], []
    if ctx.now <= latest.due_at:
        return "refund.on_time", A, "pending_on_time", facts, [], []
    facts["days_overdue"] = (ctx.now - latest.due_at).days
    escalate = ctx.escalate("high", "refund_overdue")
    facts["agent_due_at"] = escalate.params["sla_due_at"]
    return "refund.overdue", NA, "overdue", facts, [ctx.open_case("refund", "high"), escalate], ["agent"]


def _customs(ctx: _Context, _req: Customs):
    facts = ctx.duties_facts()
    if ctx.order.status == "held_at_customs":
        return "customs.held", AC, "held_at_customs", facts, [ctx.open_case("customs")], []
    return f"customs.terms_{ctx.terms.duties.lower()}", A, ctx.terms.duties, facts, [], []


def _complaint(ctx: _Context, req: Complaint):
    priority = "urgent" if req.legal_threat else "high"
    escalate = ctx.escalate(priority, "complaint")
    rule = "complaint.legal_threat" if req.legal_threat else "complaint.escalate"
    return (rule, NA, "complaint", {"priority": priority, "agent_due_at": escalate.params["sla_due_at"]},
            [ctx.open_case("complaint", priority), escalate], ["agent"])


def _handoff(ctx: _Context, req: Handoff):
    escalate = ctx.escalate("normal", req.reason)
    return ("handoff.requested", NA, req.reason, {"agent_due_at": escalate.params["sla_due_at"]},
            [ctx.open_case("handoff"), escalate], ["agent"])


def _override(ctx: _Context, req: Override):
    o = ctx.order
    facts: dict[str, Any] = {"agent": req.agent, "note": req.note, "overrides_rule": req.overrides_rule}
    if req.action not in OVERRIDE_ACTIONS:
        raise ValueError(f"unknown override {req.action!r}")
    if not req.note.strip():
        return "override.no_reason", D, "no_reason", facts, [], []
    if req.action == "approve":
        return "override.approve", A, "approved", facts, [], []
    if o is None:
        return "override.no_order", D, "no_order", facts, [], []
    if req.action == "refund":
        refundable = min(o.paid, o.total) - o.refunded
        amount = refundable if req.amount is None else Decimal(req.amount)
        facts.update(refund_amount=amount, currency=o.currency, refundable=refundable)
        if amount <= 0 or amount > refundable:
            return "override.refund_not_possible", D, "refund_not_possible", facts, [], []
        refund = ctx.refund(amount, "goodwill")
        facts["refund_due_at"] = refund.params["due_at"]
        return "override.refund", A, "refund", facts, [refund], []
    if req.action == "return":
        left = [(i, i.returnable_quantity) for i in o.items if i.returnable_quantity > 0]
        if o.status != "delivered" or not left:
            return "override.return_not_possible", D, "return_not_possible", facts, [], []
        t = ctx.terms
        facts.update(resolution="refund", shipping_paid_by="shop", return_methods=t.return_methods,
                     refund_deadline_days=t.refund_deadline_days)
        return "override.return", A, "return", facts, [_create_return(left, "agent_override", "refund", "shop",
                                                                         t.return_methods)], []
    # reship
    new = req.address.normalised() if req.address else None
    if new is None or new.problems() or o.status not in IN_TRANSIT + BEFORE_SHIPMENT:
        return "override.reship_not_possible", D, "reship_not_possible", facts, [], []
    facts["new_address"] = new.as_dict()
    kind = "update_address" if o.status in BEFORE_SHIPMENT else "intercept_and_reship"
    return "override.reship", A, "reship", facts, [Action(kind, {"address": new})], []


_HANDLERS = {Track: _track, Cancel: _cancel, ChangeAddress: _change_address, ReturnItems: _return,
             RefundStatus: _refund_status, Customs: _customs, Complaint: _complaint, Handoff: _handoff,
             Override: _override}
