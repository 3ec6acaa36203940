"""The shop's case database: customers, orders, shipments, money and after-sales cases.

Plain SQLAlchemy (no Rasa imports). Schema changes go through Alembic (bot/migrations);
`Base.metadata` is what the migrations are checked against.
"""
from __future__ import annotations

import enum
from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    event,
)
from sqlalchemy.orm import declarative_base, relationship
from sqlalchemy.types import TypeDecorator

from bot.address import Address

Base = declarative_base()


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Money(TypeDecorator):
    """Exact amounts: NUMERIC(12, 2) on PostgreSQL; text on SQLite, which has no exact decimal type."""

    impl = Numeric(12, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        return dialect.type_descriptor(String(24) if dialect.name == "sqlite" else Numeric(12, 2))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = Decimal(value).quantize(Decimal("0.01"))
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        return None if value is None else Decimal(value).quantize(Decimal("0.01"))


def _enum(cls):
    # Store the readable value, as a plain string column (no native ENUM types to migrate).
    return Enum(cls, values_callable=lambda e: [m.value for m in e], native_enum=False,
                validate_strings=True, length=32)


class OrderStatus(str, enum.Enum):
    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    PROCESSING = "processing"
    SHIPPED = "shipped"
    IN_TRANSIT = "in_transit"
    HELD_AT_CUSTOMS = "held_at_customs"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    RETURNED = "returned"

    @property
    def phase(self) -> str:
        """before_shipment, in_transit, delivered or closed: the distinction the policy cares about."""
        return _PHASES[self]


_PHASES = {
    OrderStatus.PENDING_PAYMENT: "before_shipment",
    OrderStatus.PAID: "before_shipment",
    OrderStatus.PROCESSING: "before_shipment",
    OrderStatus.SHIPPED: "in_transit",
    OrderStatus.IN_TRANSIT: "in_transit",
    OrderStatus.HELD_AT_CUSTOMS: "in_transit",
    OrderStatus.OUT_FOR_DELIVERY: "in_transit",
    OrderStatus.DELIVERED: "delivered",
    OrderStatus.CANCELLED: "closed",
    OrderStatus.RETURNED: "closed",
}


class Returnability(str, enum.Enum):
    RETURNABLE = "returnable"
    FINAL_SALE = "final_sale"
    HYGIENE = "hygiene"  # returnable only sealed
    CUSTOMISED = "customised"


class PaymentStatus(str, enum.Enum):
    PENDING = "pending"
    CAPTURED = "captured"
    FAILED = "failed"


class RefundStatus(str, enum.Enum):
    PENDING = "pending"
    ISSUED = "issued"
    FAILED = "failed"


class ReturnStatus(str, enum.Enum):
    REQUESTED = "requested"
    APPROVED = "approved"
    IN_TRANSIT = "in_transit"
    RECEIVED = "received"
    CLOSED = "closed"
    REJECTED = "rejected"


class CaseType(str, enum.Enum):
    CANCELLATION = "cancellation"
    ADDRESS_CHANGE = "address_change"
    RETURN = "return"
    ITEM_PROBLEM = "item_problem"
    DELIVERY_DELAY = "delivery_delay"
    LOST_PARCEL = "lost_parcel"
    CUSTOMS = "customs"
    REFUND = "refund"
    COMPLAINT = "complaint"
    HANDOFF = "handoff"


class CaseStatus(str, enum.Enum):
    OPEN = "open"  # being handled by the bot / waiting for the shop's back office
    ESCALATED = "escalated"  # waiting for a human agent
    IN_PROGRESS = "in_progress"  # an agent has claimed it
    RESOLVED = "resolved"
    CLOSED = "closed"


class Priority(str, enum.Enum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Customer(Base):
    __tablename__ = "customers"
    id = Column(Integer, primary_key=True)
    email = Column(String(254), nullable=False, unique=True)  # stored lower-case
    name = Column(String(200), nullable=False)
    phone = Column(String(40))
    language = Column(String(8))  # ISO 639-1, the storefront locale they shop in
    country = Column(String(2))
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)

    orders = relationship("Order", back_populates="customer")


class Product(Base):
    __tablename__ = "products"
    sku = Column(String(64), primary_key=True)
    name = Column(String(200), nullable=False)
    category = Column(String(64), nullable=False)
    returnability = Column(_enum(Returnability), nullable=False, default=Returnability.RETURNABLE)
    stock = Column(Integer, nullable=False, default=0)


class Order(Base):
    __tablename__ = "orders"
    id = Column(Integer, primary_key=True)
    number = Column(String(32), nullable=False, unique=True)  # as the shop shows it, e.g. SH-10482
    number_key = Column(String(32), nullable=False, unique=True)  # normalised for look-up: SH10482
    customer_id = Column(ForeignKey("customers.id"), nullable=False, index=True)
    status = Column(_enum(OrderStatus), nullable=False)
    placed_at = Column(UTCDateTime, nullable=False)
    currency = Column(String(3), nullable=False)
    subtotal = Column(Money(), nullable=False)
    shipping_fee = Column(Money(), nullable=False, default=Decimal("0"))
    total = Column(Money(), nullable=False)
    language = Column(String(8))  # storefront locale the order was placed in
    ship_name = Column(String(200), nullable=False)
    ship_line1 = Column(String(200), nullable=False)
    ship_line2 = Column(String(200))
    ship_city = Column(String(100), nullable=False)
    ship_region = Column(String(100))
    ship_postcode = Column(String(20))
    ship_country = Column(String(2), nullable=False)  # ISO 3166-1 alpha-2, the destination
    ship_phone = Column(String(40))
    cancelled_at = Column(UTCDateTime)
    cancel_reason = Column(String(200))
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)

    customer = relationship("Customer", back_populates="orders")
    # An order is read whole (bot/service.py's snapshot), so its parts load with it, one query
    # each: half the CPU of per-query loader options, which SQLAlchemy re-processes every time.
    items = relationship("OrderItem", back_populates="order", order_by="OrderItem.id", lazy="selectin")
    shipments = relationship("Shipment", back_populates="order", order_by="Shipment.id", lazy="selectin")
    payments = relationship("Payment", back_populates="order", order_by="Payment.id", lazy="selectin")
    refunds = relationship("Refund", back_populates="order", order_by="Refund.id", lazy="selectin")
    returns = relationship("Return", back_populates="order", order_by="Return.id", lazy="selectin")

    @property
    def shipping_address(self) -> Address:
        return Address(name=self.ship_name, line1=self.ship_line1, line2=self.ship_line2,
                       city=self.ship_city, region=self.ship_region, postcode=self.ship_postcode,
                       country=self.ship_country, phone=self.ship_phone)

    @shipping_address.setter
    def shipping_address(self, address: Address) -> None:
        self.ship_name, self.ship_line1, self.ship_line2 = address.name, address.line1, address.line2
        self.ship_city, self.ship_region = address.city, address.region
        self.ship_postcode, self.ship_country, self.ship_phone = address.postcode, address.country, address.phone


class OrderItem(Base):
    __tablename__ = "order_items"
    id = Column(Integer, primary_key=True)
    order_id = Column(ForeignKey("orders.id"), nullable=False, index=True)
    sku = Column(String(64), nullable=False)
    name = Column(String(200), nullable=False)
    category = Column(String(64), nullable=False)
    returnability = Column(_enum(Returnability), nullable=False)  # as sold: later changes don't apply
    quantity = Column(Integer, nullable=False)
    unit_price = Column(Money(), nullable=False)
    # Settled after delivery: returned, on its way back, or refunded without return.
    returned_quantity = Column(Integer, nullable=False, default=0)

    order = relationship("Order", back_populates="items")


class Shipment(Base):
    __tablename__ = "shipments"
    id = Column(Integer, primary_key=True)
    order_id = Column(ForeignKey("orders.id"), nullable=False, index=True)
    carrier = Column(String(64), nullable=False)
    tracking_number = Column(String(64), nullable=False, unique=True)
    shipped_at = Column(UTCDateTime, nullable=False)
    promised_delivery_date = Column(Date, nullable=False)
    delivered_at = Column(UTCDateTime)
    intercepted = Column(Boolean, nullable=False, default=False)

    order = relationship("Order", back_populates="shipments")
    events = relationship("TrackingEvent", back_populates="shipment", order_by="TrackingEvent.occurred_at", lazy="selectin")


class TrackingEvent(Base):
    __tablename__ = "tracking_events"
    id = Column(Integer, primary_key=True)
    shipment_id = Column(ForeignKey("shipments.id"), nullable=False, index=True)
    occurred_at = Column(UTCDateTime, nullable=False)
    # label_created, picked_up, in_transit, export_customs, arrived_destination, held_at_customs,
    # customs_cleared, out_for_delivery, delivered, delivery_failed, returned_to_sender
    code = Column(String(32), nullable=False)
    location = Column(String(120))
    description = Column(String(300))

    shipment = relationship("Shipment", back_populates="events")


class Payment(Base):
    __tablename__ = "payments"
    id = Column(Integer, primary_key=True)
    order_id = Column(ForeignKey("orders.id"), nullable=False, index=True)
    method = Column(String(32), nullable=False)  # card, paypal, klarna, alipay...
    amount = Column(Money(), nullable=False)
    currency = Column(String(3), nullable=False)
    status = Column(_enum(PaymentStatus), nullable=False)
    paid_at = Column(UTCDateTime)

    order = relationship("Order", back_populates="payments")


class Refund(Base):
    __tablename__ = "refunds"
    id = Column(Integer, primary_key=True)
    order_id = Column(ForeignKey("orders.id"), nullable=False, index=True)
    case_id = Column(ForeignKey("cases.id"))
    amount = Column(Money(), nullable=False)
    currency = Column(String(3), nullable=False)
    reason = Column(String(64), nullable=False)  # cancellation, return, keep_it, goodwill
    status = Column(_enum(RefundStatus), nullable=False, default=RefundStatus.PENDING)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    due_at = Column(UTCDateTime, nullable=False)  # the deadline the shopper was told
    issued_at = Column(UTCDateTime)
    # One refund per business event: a repeated or concurrent request cannot pay twice.
    idempotency_key = Column(String(120), nullable=False, unique=True)

    order = relationship("Order", back_populates="refunds")


class Return(Base):
    __tablename__ = "returns"
    id = Column(Integer, primary_key=True)
    rma_number = Column(String(32), nullable=False, unique=True)
    order_id = Column(ForeignKey("orders.id"), nullable=False, index=True)
    case_id = Column(ForeignKey("cases.id"))
    status = Column(_enum(ReturnStatus), nullable=False, default=ReturnStatus.REQUESTED)
    reason = Column(String(64), nullable=False)
    resolution = Column(String(32), nullable=False)  # refund, exchange, replacement
    method = Column(String(32))  # post_office, courier_pickup, ... (None: keep the item)
    shipping_paid_by = Column(String(16), nullable=False)  # shop or customer
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    received_at = Column(UTCDateTime)
    idempotency_key = Column(String(120), nullable=False, unique=True)

    order = relationship("Order", back_populates="returns")
    items = relationship("ReturnItem", back_populates="return_", order_by="ReturnItem.id", lazy="selectin")


class ReturnItem(Base):
    __tablename__ = "return_items"
    id = Column(Integer, primary_key=True)
    return_id = Column(ForeignKey("returns.id"), nullable=False, index=True)
    order_item_id = Column(ForeignKey("order_items.id"), nullable=False)
    quantity = Column(Integer, nullable=False)

    return_ = relationship("Return", back_populates="items")
    order_item = relationship("OrderItem")


class Case(Base):
    __tablename__ = "cases"
    id = Column(Integer, primary_key=True)
    number = Column(String(32), nullable=False, unique=True)  # shown to the shopper, e.g. CS-7K3Q9P
    type = Column(_enum(CaseType), nullable=False)
    status = Column(_enum(CaseStatus), nullable=False, default=CaseStatus.OPEN)
    order_id = Column(ForeignKey("orders.id"), index=True)
    customer_id = Column(ForeignKey("customers.id"), index=True)
    conversation_id = Column(String(128), index=True)  # Rasa sender id
    channel = Column(String(32))
    language = Column(String(8), nullable=False)
    reason = Column(String(200))  # the shopper's stated reason (recorded for the seller's analysis)
    outcome = Column(String(32))  # the latest policy outcome: allowed, denied, needs_agent...
    rule_id = Column(String(64))
    priority = Column(_enum(Priority), nullable=False, default=Priority.NORMAL)
    assignee = Column(String(64))
    sla_due_at = Column(UTCDateTime)
    escalated_at = Column(UTCDateTime)  # when it last went to the agents' queue: waiting time counts from here
    summary = Column(Text)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)

    events = relationship("CaseEvent", back_populates="case", order_by="CaseEvent.id")

    __table_args__ = (Index("ix_cases_status_priority", "status", "priority"),)


class CaseEvent(Base):
    """Append-only audit trail: every decision with its rule id and inputs, every action taken.

    Updates and deletes are refused by the ORM here and by database triggers (see migrations).
    """

    __tablename__ = "case_events"
    id = Column(Integer, primary_key=True)
    case_id = Column(ForeignKey("cases.id"), nullable=False, index=True)
    at = Column(UTCDateTime, nullable=False, default=utcnow)
    actor = Column(String(64), nullable=False)  # bot, agent:<name>, system
    kind = Column(String(32), nullable=False)  # created, decision, action, status, note, override
    rule_id = Column(String(64))
    policy_version = Column(String(64))
    data = Column(JSON, nullable=False, default=dict)

    case = relationship("Case", back_populates="events")


class VerificationAttempt(Base):
    """Every attempt to prove an order is one's own, for the lock-out after repeated failures."""

    __tablename__ = "verification_attempts"
    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(128), nullable=False, index=True)
    order_key = Column(String(32), nullable=False, index=True)  # as typed, normalised; may not exist
    succeeded = Column(Boolean, nullable=False)
    at = Column(UTCDateTime, nullable=False, index=True)


class Agent(Base):
    """A person who answers escalated conversations in the console (created with `python -m bot agent add`)."""

    __tablename__ = "agents"
    id = Column(Integer, primary_key=True)
    username = Column(String(64), nullable=False, unique=True)  # stored lower-case
    name = Column(String(200), nullable=False)  # shown to shoppers ("Maria from our team")
    language = Column(String(8), nullable=False)  # the working language: transcripts are translated into it
    password_hash = Column(String(255), nullable=False)  # scrypt, salted (bot/handoff.py)
    failed_logins = Column(Integer, nullable=False, default=0)
    locked_until = Column(UTCDateTime)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


class AgentSession(Base):
    """A console login; the browser holds the token, the database only its hash."""

    __tablename__ = "agent_sessions"
    id = Column(Integer, primary_key=True)
    token_hash = Column(String(64), nullable=False, unique=True)
    agent_id = Column(ForeignKey("agents.id", ondelete="CASCADE"), nullable=False, index=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    expires_at = Column(UTCDateTime, nullable=False)

    agent = relationship("Agent")


class Translation(Base):
    """Machine translations already paid for: the same text is never sent to the service twice."""

    __tablename__ = "translations"
    id = Column(Integer, primary_key=True)
    text_hash = Column(String(64), nullable=False)  # sha256 of the source text
    source = Column(String(8), nullable=False)
    target = Column(String(8), nullable=False)
    backend = Column(String(16), nullable=False)
    translated = Column(Text, nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)

    __table_args__ = (Index("ux_translations_lookup", "text_hash", "source", "target", "backend", unique=True),)


class Rating(Base):
    """A shopper's 1-5 rating at the end of a resolved conversation (bot/satisfaction.py)."""

    __tablename__ = "ratings"
    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(128), nullable=False, index=True)
    case_number = Column(String(32))  # the conversation's latest case, if any
    score = Column(Integer, nullable=False)
    language = Column(String(8), nullable=False)
    channel = Column(String(32))
    at = Column(UTCDateTime, nullable=False, index=True)


class AppendOnlyError(RuntimeError):
    pass


@event.listens_for(CaseEvent, "before_update")
@event.listens_for(CaseEvent, "before_delete")
def _refuse_changes(mapper, connection, target):
    raise AppendOnlyError("case_events is append-only")

