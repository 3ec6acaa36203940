"""Import a real shop's orders: Shopify's "Export orders" CSV, then tracking updates from a simple CSV.

Both imports read and check the whole file first, then write one order per transaction: an order
with a bad row is not imported at all, the good ones are, and every problem is reported with its
row (as a spreadsheet numbers it: the header is row 1), its column and the reason. Importing the
same file again changes nothing; an export in which orders changed updates exactly those orders.
An import never moves an order backwards: a parcel the tracking import marked delivered stays
delivered when the next Shopify export still says "fulfilled", and a cancelled order stays cancelled.
"""
from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

from babel import Locale
from babel.numbers import list_currencies
from sqlalchemy import select
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from bot.address import Address, normalise_postcode
from bot.db import Database
from bot.models import (Customer, Order, OrderItem, OrderStatus, Payment, PaymentStatus, Product, Refund,
                        RefundStatus, Returnability, Shipment, TrackingEvent, utcnow)
from bot.service import order_key

SHOPIFY_REQUIRED = ("Name", "Email", "Financial Status", "Fulfillment Status", "Currency", "Subtotal", "Shipping",
                    "Total", "Created at", "Lineitem quantity", "Lineitem name", "Lineitem price", "Lineitem sku",
                    "Shipping Name", "Shipping Address1", "Shipping City", "Shipping Zip", "Shipping Country")
TRACKING_REQUIRED = ("order", "carrier", "tracking_number", "event_time", "status")

# Shopify's financial statuses: money taken; not taken (yet); never coming.
CAPTURED = ("paid", "partially_refunded", "refunded")
AWAITING = ("pending", "authorized", "partially_paid")
VOID = ("voided", "expired")
# Fulfillment statuses. "partial": something has left the warehouse, so the order can no longer
# simply be cancelled, which is what "shipped" tells the policy.
SHIPPED = ("fulfilled", "partial")
NOT_SHIPPED = ("", "unfulfilled", "restocked", "pending", "open", "scheduled", "on_hold", "in_progress")

TRACKING_STATUS = {  # the order status after each tracking event
    "label_created": OrderStatus.SHIPPED, "picked_up": OrderStatus.SHIPPED, "in_transit": OrderStatus.IN_TRANSIT,
    "export_customs": OrderStatus.IN_TRANSIT, "arrived_destination": OrderStatus.IN_TRANSIT,
    "held_at_customs": OrderStatus.HELD_AT_CUSTOMS, "customs_cleared": OrderStatus.IN_TRANSIT,
    "out_for_delivery": OrderStatus.OUT_FOR_DELIVERY, "delivered": OrderStatus.DELIVERED,
    # A failed attempt or a parcel on its way back is still with the carrier: agents take it from there.
    "delivery_failed": OrderStatus.IN_TRANSIT, "returned_to_sender": OrderStatus.IN_TRANSIT,
}
TRACKING_CODES = list(TRACKING_STATUS)
# Without a promised_delivery_date column: shipped + this many days (our demo's cross-border promise).
DEFAULT_TRANSIT_DAYS = 10

_RANK = {OrderStatus.PENDING_PAYMENT: 0, OrderStatus.PAID: 1, OrderStatus.PROCESSING: 2, OrderStatus.SHIPPED: 3,
         OrderStatus.IN_TRANSIT: 4, OrderStatus.HELD_AT_CUSTOMS: 4, OrderStatus.OUT_FOR_DELIVERY: 5,
         OrderStatus.DELIVERED: 6}
_CLOSED = (OrderStatus.CANCELLED, OrderStatus.RETURNED)
CURRENCIES = frozenset(list_currencies())
# ISO 3166 alpha-2 codes (Babel also lists regions such as 419 and pseudo-codes such as ZZ and EU).
COUNTRIES = frozenset(c for c in Locale("en").territories if len(c) == 2 and c.isalpha()) - {
    "ZZ", "EU", "EZ", "UN", "QO", "XA", "XB"}
CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("1e10")  # what NUMERIC(12, 2) holds
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class FileRejected(Exception):
    """The file as a whole cannot be read: not a CSV, wrong encoding, required columns missing."""


@dataclass(frozen=True)
class RowError:
    row: int  # as a spreadsheet numbers it: the header is row 1
    column: str | None
    reason: str
    order: str | None = None  # the order it belongs to, which is then not imported

    def __str__(self) -> str:
        where = f"row {self.row}, {self.column}" if self.column else f"row {self.row}"
        return f"{where}: {self.reason}" + (f" (nothing imported for order {self.order})" if self.order else "")


class _Rejected(Exception):
    """Raised inside an order's transaction to roll it back (a problem only the database shows)."""

    def __init__(self, error: RowError):
        self.error = error


@dataclass
class Report:
    kind: str  # "orders" or "tracking"
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    not_imported: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    shipments_created: int = 0
    events_added: int = 0

    @property
    def rows_rejected(self) -> int:
        return len({e.row for e in self.errors})

    def summary(self) -> str:
        if self.kind == "orders":
            head = f"orders: {len(self.created)} created, {len(self.updated)} updated, {len(self.unchanged)} unchanged"
        else:
            head = (f"tracking: {len(self.updated)} orders updated, {len(self.unchanged)} unchanged; "
                    f"{self.shipments_created} shipments created, {self.events_added} events added")
        if self.not_imported:
            what = "orders not imported" if self.kind == "orders" else "orders' tracking not imported"
            head += f", {len(self.not_imported)} {what} ({', '.join(self.not_imported)})"
        lines = [head, f"rows rejected: {self.rows_rejected}"]
        return "\n".join(lines + [f"  {e}" for e in self.errors])


# -- reading a CSV ---------------------------------------------------------------------------------

@dataclass
class _Row:
    """One record's values by column, and the problems found reading them."""

    number: int
    values: dict[str, str]
    errors: list[RowError] = field(default_factory=list)

    def get(self, column: str) -> str:
        return self.values.get(column, "")

    def fail(self, column: str | None, reason: str) -> None:
        self.errors.append(RowError(self.number, column, reason))

    def text(self, column: str, max_len: int, required: str | None = None) -> str | None:
        """The value, or None; `required` names what is missing when it must be there."""
        value = self.get(column)
        if not value:
            if required:
                self.fail(column, f"missing {required}")
            return None
        if len(value) > max_len:
            self.fail(column, f"longer than {max_len} characters")
            return None
        return value

    def money(self, column: str, required: bool = False) -> Decimal | None:
        value = self.get(column)
        if not value:
            if required:
                self.fail(column, "missing amount")
                return None
            return Decimal("0.00")
        try:
            amount = Decimal(value)
        except InvalidOperation:
            amount = Decimal("NaN")
        if not amount.is_finite():
            self.fail(column, f"not an amount: {value!r}")
        elif amount < 0:
            self.fail(column, f"negative amount {value}")
        elif amount >= MAX_AMOUNT:
            self.fail(column, f"too large an amount: {value}")
        elif amount != amount.quantize(CENT):
            self.fail(column, f"more than two decimals: {value}")
        else:
            return amount.quantize(CENT)
        return None

    def when(self, column: str, required: bool = False) -> datetime | None:
        value = self.get(column)
        if not value:
            if required:
                self.fail(column, "missing date")
            return None
        try:
            at = parse_datetime(value)
        except ValueError:
            self.fail(column, f"unparseable date {value!r} (expected e.g. 2026-11-03 14:22:05 +0100)")
            return None
        if at.tzinfo is None:
            self.fail(column, f"date without a UTC offset: {value!r}")
            return None
        return at

    def choice(self, column: str, known, what: str) -> str | None:
        value = self.get(column).lower()
        if value not in known:
            self.fail(column, f"unknown {what} {value!r} (expected one of: {', '.join(k for k in known if k)})")
            return None
        return value

    def code(self, column: str, known: frozenset, what: str, example: str) -> str | None:
        value = self.get(column).upper()
        if not value:
            self.fail(column, f"missing {what}")
        elif value not in known:
            self.fail(column, f"unknown {what} {self.get(column)!r} (expected e.g. {example})")
        else:
            return value
        return None


def parse_datetime(value: str) -> datetime:
    """Shopify's "2026-11-03 14:22:05 +0100", or ISO 8601 ("2026-11-03T14:22:05+01:00", "...Z")."""
    try:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S %z")
    except ValueError:
        return datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)


def read_csv(path: str | Path, required: tuple[str, ...], fold=str.strip) -> list[_Row]:
    """The file's records (blank ones skipped), or FileRejected saying why there are none to read."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise FileRejected(f"cannot read the file: {exc.strerror}") from None
    if raw.startswith(b"PK\x03\x04"):
        raise FileRejected("this is a spreadsheet workbook (xlsx), not a CSV: export or save it as CSV (UTF-8)")
    try:
        text = raw.decode("utf-8-sig")  # Shopify writes UTF-8; Excel adds a byte-order mark
    except UnicodeDecodeError as exc:
        raise FileRejected(f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}): "
                           "export or save it again as CSV UTF-8") from None
    if not text.strip():
        raise FileRejected("the file is empty")
    if "\x00" in text:
        raise FileRejected("not a CSV file (it contains binary data)")
    reader = csv.reader(io.StringIO(text, newline=""))
    records = []
    try:
        header = [fold(name) for name in next(reader)]
        for number, record in enumerate(reader, start=2):  # records, not lines: a note may span lines
            if any(value.strip() for value in record):
                values: dict[str, str] = {}
                for name, value in zip(header, record):
                    values.setdefault(name, value.strip())
                records.append(_Row(number, values))
    except csv.Error as exc:
        raise FileRejected(f"not a CSV file: {exc} (row {reader.line_num})") from None
    missing = [name for name in required if name not in header]
    if missing:
        hint = " (the columns are separated by ';' or tabs: export it separated by commas)" \
            if len(header) == 1 and re.search(r"[;\t]", header[0]) else ""
        raise FileRejected(f"missing required columns: {', '.join(missing)}{hint}")
    return records


def _set(obj, **values) -> bool:
    """Set the attributes that differ; whether anything changed (how re-imports count as unchanged)."""
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


def _forward(current: OrderStatus | None, incoming: OrderStatus) -> OrderStatus:
    """The later of the two: an import never un-cancels, un-returns or un-delivers an order."""
    if current is None or incoming == OrderStatus.CANCELLED:
        return incoming
    if current in _CLOSED or _RANK[incoming] <= _RANK[current]:
        return current
    return incoming


# -- Shopify's order export ------------------------------------------------------------------------

@dataclass
class _Item:
    sku: str
    name: str
    quantity: int
    unit_price: Decimal


@dataclass
class _ShopifyOrder:
    number: str
    key: str
    row: int
    email: str
    customer_name: str
    phone: str | None
    status: OrderStatus
    placed_at: datetime
    cancelled_at: datetime | None
    currency: str
    subtotal: Decimal
    shipping: Decimal
    total: Decimal
    payment_method: str
    payment_status: PaymentStatus
    payment_amount: Decimal
    paid_at: datetime | None
    refunded: Decimal
    address: Address
    items: list[_Item]


def import_shopify_orders(db: Database, path: str | Path, now: datetime | None = None) -> Report:
    """Create or update the orders of a Shopify "Export orders" CSV (one row per line item)."""
    now = now or utcnow()
    report = Report("orders")
    groups: dict[str, list[_Row]] = {}
    for row in read_csv(path, SHOPIFY_REQUIRED):
        key = order_key(row.get("Name"))
        if key:
            groups.setdefault(key, []).append(row)
        else:
            row.fail("Name", "missing order number")
            report.errors += row.errors
    for key, rows in groups.items():
        number = rows[0].get("Name")
        parsed = _parse_shopify_order(key, rows)
        errors = [e for row in rows for e in row.errors]
        if not errors:
            try:
                with db.transaction() as session:
                    outcome = _write_shopify_order(session, parsed, now)
                getattr(report, outcome).append(number)  # once committed
                continue
            except _Rejected as exc:
                errors = [exc.error]
            except (IntegrityError, DataError) as exc:
                errors = [RowError(rows[0].number, None, f"the database refused the order: {exc.orig}")]
        report.not_imported.append(number)
        report.errors += [RowError(e.row, e.column, e.reason, number) for e in errors]
    report.errors.sort(key=lambda e: e.row)
    return report


def _parse_shopify_order(key: str, rows: list[_Row]) -> _ShopifyOrder | None:
    """Order-level columns from the order's first row (Shopify leaves them blank on the others)."""
    first = rows[0]
    number = first.text("Name", 32)
    email = first.text("Email", 254, required="e-mail")
    if email and not _EMAIL.fullmatch(email):
        first.fail("Email", f"not an e-mail address: {email!r}")
    financial = first.choice("Financial Status", CAPTURED + AWAITING + VOID, "financial status")
    fulfillment = first.choice("Fulfillment Status", SHIPPED + NOT_SHIPPED, "fulfillment status")
    currency = first.code("Currency", CURRENCIES, "currency code", "EUR")
    placed_at = first.when("Created at", required=True)
    paid_at = first.when("Paid at")
    cancelled_at = first.when("Cancelled at")
    subtotal, total = first.money("Subtotal", required=True), first.money("Total", required=True)
    shipping, taxes, duties = first.money("Shipping"), first.money("Taxes"), first.money("Duties")
    refunded = first.money("Refunded Amount")
    if None not in (subtotal, shipping, total, taxes, duties):
        # Prices may include tax (Taxes is then only the share inside them) or not.
        without_tax = subtotal + shipping + duties
        if total not in (without_tax + taxes, without_tax):
            first.fail("Total", f"{total} does not add up: Subtotal {subtotal} + Shipping {shipping} + Taxes "
                                f"{taxes} + Duties {duties} = {without_tax + taxes} ({without_tax} if the prices "
                                "include the taxes)")
    if total is not None and refunded is not None and refunded > total:
        first.fail("Refunded Amount", f"{refunded} is more than the order total {total}")
    payment = _payment(first, financial, total)
    address = _address(first)
    items = [item for row in rows if (item := _item(row)) and item.quantity > 0]  # 0: removed by an order edit
    if any(row.errors for row in rows):
        return None
    billing_name = first.get("Billing Name")[:200]
    return _ShopifyOrder(
        number=number, key=key, row=first.number, email=email.lower(),
        customer_name=billing_name or address.name, phone=(first.get("Phone") or address.phone or "")[:40] or None,
        status=_shopify_status(financial, fulfillment, cancelled_at), placed_at=placed_at, cancelled_at=cancelled_at,
        currency=currency, subtotal=subtotal, shipping=shipping, total=total,
        payment_method=first.get("Payment Method")[:32] or "unknown", payment_status=payment[0],
        payment_amount=payment[1], paid_at=(paid_at or placed_at) if payment[0] == PaymentStatus.CAPTURED else None,
        refunded=refunded, address=address, items=items)


def _payment(row: _Row, financial: str | None, total: Decimal | None) -> tuple[PaymentStatus, Decimal] | None:
    """The order's one payment: its status and the amount it took (or will take)."""
    if financial == "partially_paid":  # the deposit is taken, so a cancellation refunds it
        outstanding = row.money("Outstanding Balance", required=True)
        if outstanding is None or total is None:
            return None
        if outstanding > total:
            row.fail("Outstanding Balance", f"{outstanding} is more than the order total {total}")
            return None
        return PaymentStatus.CAPTURED, total - outstanding
    if financial in CAPTURED:
        return PaymentStatus.CAPTURED, total
    return (PaymentStatus.FAILED if financial in VOID else PaymentStatus.PENDING), total


def _shopify_status(financial: str, fulfillment: str, cancelled_at: datetime | None) -> OrderStatus:
    # OrderStatus has no "refunded": the refund rows carry it, the status says where the goods are.
    if cancelled_at:
        return OrderStatus.CANCELLED
    if fulfillment in SHIPPED:  # delivered only when a tracking import says so
        return OrderStatus.SHIPPED
    return OrderStatus.PAID if financial in CAPTURED else OrderStatus.PENDING_PAYMENT


def _address(row: _Row) -> Address | None:
    # Orders that ship nothing (gift cards, downloads) have only a billing address.
    kind = "Shipping" if any(row.get(f"Shipping {c}") for c in ("Address1", "Street", "City", "Country")) \
        else "Billing"
    country = row.code(f"{kind} Country", COUNTRIES, "country code", "DE")
    line1 = row.get(f"{kind} Address1") or row.get(f"{kind} Street")
    if not line1:
        row.fail(f"{kind} Address1", "missing street address")
    city = row.text(f"{kind} City", 100, required="city")
    # No company field of our own: it goes first on the second line, as on a parcel label.
    line2 = ", ".join(v for v in (row.get(f"{kind} Company"), row.get(f"{kind} Address2")) if v)
    zip_code = row.get(f"{kind} Zip").lstrip("'")  # a spreadsheet's "keep the leading zero" mark
    postcode = normalise_postcode(country or "", zip_code) or ""
    name = row.get(f"{kind} Name") or row.get("Billing Name") or row.get("Email").split("@")[0]
    phone = (row.get(f"{kind} Phone") or row.get("Phone")).lstrip("'")
    # The name, as the shopper reads it back: Shopify's codes can be "JP-13" or "M" (Madrid).
    region = row.get(f"{kind} Province Name") or row.get(f"{kind} Province")
    for column, value, max_len in ((f"{kind} Name", name, 200), (f"{kind} Address1", line1, 200),
                                   (f"{kind} Address2", line2, 200),
                                   (f"{kind} Zip", postcode, 20), (f"{kind} Phone", phone, 40),
                                   (f"{kind} Province", region, 100)):
        if len(value) > max_len:
            row.fail(column, f"longer than {max_len} characters")
    if not (country and line1 and city):
        return None
    return Address(name=name, line1=line1, line2=line2 or None, city=city, region=region or None,
                   postcode=postcode or None, country=country, phone=phone or None)


def _item(row: _Row) -> _Item | None:
    name = row.text("Lineitem name", 200, required="line item name")
    price = row.money("Lineitem price", required=True)
    value = row.get("Lineitem quantity")
    quantity = int(value) if re.fullmatch(r"-?\d+", value) else None
    if quantity is None:
        row.fail("Lineitem quantity", f"not a whole number: {value!r}" if value else "missing quantity")
    elif quantity < 0:
        row.fail("Lineitem quantity", f"negative quantity {quantity}")
    sku = row.text("Lineitem sku", 64)
    if name and not row.get("Lineitem sku"):
        # Shopify allows products without a SKU; ours are keyed by one, so derive a stable one.
        sku = "NOSKU-" + hashlib.sha1(name.encode()).hexdigest()[:10].upper()
    if name and price is not None and quantity is not None and quantity >= 0 and sku:
        return _Item(sku, name, quantity, price)
    return None


def _write_shopify_order(session: Session, o: _ShopifyOrder, now: datetime) -> str:
    """Create or update one order; "created", "updated" or "unchanged"."""
    customer = session.execute(select(Customer).where(Customer.email == o.email)).scalar_one_or_none()
    if customer is None:  # language unknown: the assistant takes it from the conversation
        customer = Customer(email=o.email, name=o.customer_name, phone=o.phone, country=o.address.country)
        session.add(customer)
    products = {p.sku: p for p in session.execute(
        select(Product).where(Product.sku.in_({i.sku for i in o.items}))).scalars()}
    for item in o.items:
        if item.sku not in products:
            # Stock unknown: 0, so the assistant never promises an exchange or replacement from it.
            products[item.sku] = Product(sku=item.sku, name=item.name, category="general",
                                         returnability=Returnability.RETURNABLE, stock=0)
            session.add(products[item.sku])
    order = session.execute(select(Order).where(Order.number_key == o.key).with_for_update(of=Order)) \
        .scalar_one_or_none()
    created = order is None
    if created:
        order = Order(number_key=o.key)
        session.add(order)
    changed = _set(order, number=o.number, customer=customer, status=_forward(order.status, o.status),
                   placed_at=o.placed_at, cancelled_at=o.cancelled_at or order.cancelled_at, currency=o.currency,
                   subtotal=o.subtotal, shipping_fee=o.shipping, total=o.total)
    if created or order.shipping_address != o.address:
        order.shipping_address, changed = o.address, True

    wanted = [(i.sku, i.name, i.quantity, i.unit_price) for i in o.items]
    if wanted != [(i.sku, i.name, i.quantity, i.unit_price) for i in order.items]:
        if order.returns or any(i.returned_quantity for i in order.items):
            raise _Rejected(RowError(o.row, "Lineitem quantity", "the line items changed after a return was "
                                                                 "recorded: change the order by hand"))
        for old in list(order.items):
            order.items.remove(old)
            session.delete(old)
        for i in o.items:  # category and returnability as the shop's product says (as sold)
            order.items.append(OrderItem(sku=i.sku, name=i.name, quantity=i.quantity, unit_price=i.unit_price,
                                         category=products[i.sku].category,
                                         returnability=products[i.sku].returnability))
        changed = True

    payment = order.payments[0] if order.payments else None  # an imported order has one
    if payment is None:
        payment = Payment()
        order.payments.append(payment)
    changed |= _set(payment, method=o.payment_method, amount=o.payment_amount, currency=o.currency,
                    status=o.payment_status, paid_at=o.paid_at)

    # Shopify gives the refunded total; each increase becomes an issued refund, keyed by the new total.
    prefix = f"import:shopify:{o.key}:"
    imported = sum((r.amount for r in order.refunds if r.idempotency_key.startswith(prefix)), Decimal("0"))
    if o.refunded < imported:
        raise _Rejected(RowError(o.row, "Refunded Amount", f"{o.refunded} is less than the {imported} already "
                                                           "imported: an issued refund cannot be taken back"))
    if o.refunded > imported:
        at = o.cancelled_at or now  # the export has no refund date
        order.refunds.append(Refund(
            amount=o.refunded - imported, currency=o.currency, status=RefundStatus.ISSUED,
            reason="cancellation" if o.status == OrderStatus.CANCELLED else "shop_refund",
            created_at=at, due_at=at, issued_at=at, idempotency_key=f"{prefix}{o.refunded}"))
        changed = True
    return "created" if created else "updated" if changed else "unchanged"


# -- tracking updates ------------------------------------------------------------------------------

@dataclass
class _Scan:
    row: int
    carrier: str
    tracking_number: str
    at: datetime
    code: str
    location: str | None
    description: str | None
    promised: date | None


def import_tracking(db: Database, path: str | Path) -> Report:
    """Add tracking events (creating shipments) and move the orders' status with them."""
    report = Report("tracking")
    rows = read_csv(path, TRACKING_REQUIRED, fold=lambda name: name.strip().lower())
    with db.transaction() as session:  # what the file refers to: orders, and whose tracking numbers are whose
        keys = {order_key(r.get("order")) for r in rows} - {""}
        known = dict(session.execute(select(Order.number_key, Order.number).where(Order.number_key.in_(keys))).all())
        owner = dict(session.execute(select(Shipment.tracking_number, Order.number_key).join(Shipment.order)
                                     .where(Shipment.tracking_number.in_({r.get("tracking_number") for r in rows})))
                     .all())
    groups: dict[str, list[tuple[_Row, _Scan | None]]] = {}
    for row in rows:
        key = order_key(row.get("order"))
        scan = _parse_scan(row)
        if not key:
            row.fail("order", "missing order number")
            report.errors += row.errors
            continue
        if key not in known:
            row.fail("order", f"no order {row.get('order')!r} in the database: import the shop's orders first")
        elif scan and owner.setdefault(scan.tracking_number, key) != key:
            row.fail("tracking_number", f"{scan.tracking_number} is another order's parcel")
        groups.setdefault(key, []).append((row, scan))
    for key, entries in groups.items():
        number = known.get(key) or entries[0][0].get("order")
        errors = [e for row, _ in entries for e in row.errors]
        if not errors:
            try:
                with db.transaction() as session:
                    outcome, shipments, events = _write_tracking(session, key, [s for _, s in entries])
                getattr(report, outcome).append(number)
                report.shipments_created += shipments
                report.events_added += events
                continue
            except (IntegrityError, DataError) as exc:
                errors = [RowError(entries[0][0].number, None, f"the database refused the update: {exc.orig}")]
        report.not_imported.append(number)
        report.errors += [RowError(e.row, e.column, e.reason, number) for e in errors]
    report.errors.sort(key=lambda e: e.row)
    return report


def _parse_scan(row: _Row) -> _Scan | None:
    carrier = row.text("carrier", 64, required="carrier")
    tracking_number = row.text("tracking_number", 64, required="tracking number")
    at = row.when("event_time", required=True)
    code = row.choice("status", TRACKING_CODES, "tracking status")
    location = row.text("location", 120)
    description = row.text("description", 300)
    promised = None
    if row.get("promised_delivery_date"):
        try:
            promised = date.fromisoformat(row.get("promised_delivery_date"))
        except ValueError:
            row.fail("promised_delivery_date", f"unparseable date {row.get('promised_delivery_date')!r} "
                                               "(expected e.g. 2026-11-20)")
    if row.errors:
        return None
    return _Scan(row.number, carrier, tracking_number, at, code, location, description, promised)


def _write_tracking(session: Session, key: str, scans: list[_Scan]) -> tuple[str, int, int]:
    """One order's scans: its outcome ("updated" or "unchanged"), shipments created, events added."""
    order = session.execute(select(Order).where(Order.number_key == key).with_for_update(of=Order)).scalar_one()
    changed, shipments_created, events_added = False, 0, 0
    parcels: dict[str, list[_Scan]] = {}
    for scan in scans:
        parcels.setdefault(scan.tracking_number, []).append(scan)
    for tracking_number, group in parcels.items():
        first_at = min(s.at for s in group)
        promised = next((s.promised for s in reversed(group) if s.promised), None)
        shipment = next((s for s in order.shipments if s.tracking_number == tracking_number), None)
        if shipment is None:
            shipment = Shipment(carrier=group[-1].carrier, tracking_number=tracking_number, shipped_at=first_at,
                                promised_delivery_date=promised or (first_at + timedelta(days=DEFAULT_TRANSIT_DAYS))
                                .date())
            order.shipments.append(shipment)
            shipments_created, changed = shipments_created + 1, True
        else:
            changed |= _set(shipment, carrier=group[-1].carrier, shipped_at=min(shipment.shipped_at, first_at),
                            promised_delivery_date=promised or shipment.promised_delivery_date)
        # An event is its time and code: the same scan in a later file is the same event.
        events = {(e.occurred_at, e.code): e for e in shipment.events}
        for scan in group:
            event = events.get((scan.at, scan.code))
            if event is None:
                event = events[(scan.at, scan.code)] = TrackingEvent(occurred_at=scan.at, code=scan.code)
                shipment.events.append(event)
                events_added, changed = events_added + 1, True
            changed |= _set(event, location=scan.location, description=scan.description)
        delivered = [e.occurred_at for e in events.values() if e.code == "delivered"]
        if delivered:
            changed |= _set(shipment, delivered_at=max(delivered))
    # The status follows the latest scan of any parcel (customs can hold and then clear it).
    latest = max((e for s in order.shipments for e in s.events),
                 key=lambda e: (e.occurred_at, TRACKING_CODES.index(e.code) if e.code in TRACKING_STATUS else -1))
    if order.status not in _CLOSED and latest.code in TRACKING_STATUS:
        changed |= _set(order, status=TRACKING_STATUS[latest.code])
    return ("updated" if changed else "unchanged"), shipments_created, events_added
