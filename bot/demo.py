"""The demo shop: 64 orders to 18 destinations, in every status, with the edge cases the policy cares about.

Dates are relative to the moment of loading, so "delivered 5 days ago" stays true whenever the
demo is loaded. The named scenarios (SCENARIOS) are the ones the README lists for people to try;
the rest is deterministic filler that makes the shop look like a shop.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select

from bot.address import Address
from bot.db import Database
from bot.models import (Customer, Order, OrderItem, OrderStatus, Payment, PaymentStatus, Product, Refund,
                        RefundStatus, Return, ReturnItem, ReturnStatus, Returnability, Shipment,
                        TrackingEvent, utcnow)
from bot.service import order_key

CURRENCY = {"US": "USD", "CA": "CAD", "MX": "MXN", "BR": "BRL", "GB": "GBP", "CH": "CHF", "PL": "PLN",
            "RU": "RUB", "TR": "TRY", "SA": "SAR", "AE": "AED", "JP": "JPY", "KR": "KRW", "CN": "CNY",
            "DE": "EUR", "FR": "EUR", "ES": "EUR", "IT": "EUR", "NL": "EUR", "PT": "EUR"}
# Local price of 1 USD, rounded the way shops price (whole yen and won).
PRICE_FACTOR = {"USD": 1, "EUR": Decimal("0.93"), "GBP": Decimal("0.79"), "CHF": Decimal("0.88"),
                "PLN": 4, "CAD": Decimal("1.37"), "MXN": 18, "BRL": Decimal("5.5"), "RUB": 90, "TRY": 34,
                "SAR": Decimal("3.75"), "AED": Decimal("3.67"), "JPY": 150, "KRW": 1380, "CNY": Decimal("7.2")}
CARRIER = {"US": "USPS", "CA": "Canada Post", "MX": "DHL Express", "BR": "Correios", "GB": "Royal Mail",
           "CH": "Swiss Post", "PL": "InPost", "RU": "Russian Post", "TR": "PTT Kargo", "SA": "Aramex",
           "AE": "Aramex", "JP": "Japan Post", "KR": "CJ Logistics", "CN": "SF Express", "DE": "DHL",
           "FR": "Colissimo", "ES": "Correos", "IT": "Poste Italiane", "NL": "PostNL", "PT": "CTT"}


@dataclass(frozen=True)
class DemoProduct:
    sku: str
    name: str
    category: str
    price_usd: Decimal
    returnability: Returnability = Returnability.RETURNABLE
    stock: int = 25


PRODUCTS = [
    DemoProduct("TEE-ORG-M", "Organic cotton T-shirt", "apparel", Decimal("24.00")),
    DemoProduct("DRS-LIN-S", "Linen summer dress", "apparel", Decimal("69.00")),
    DemoProduct("JKT-RAIN-L", "Waterproof rain jacket", "apparel", Decimal("129.00"), stock=0),
    DemoProduct("SNK-RUN-42", "Trail running sneakers", "footwear", Decimal("89.00")),
    DemoProduct("SCK-WOOL-3", "Merino socks, 3 pairs", "apparel", Decimal("12.00")),
    DemoProduct("CAS-PHN-14", "Phone case", "accessories", Decimal("9.00")),
    DemoProduct("BAG-CLR-01", "Canvas tote (clearance)", "bags", Decimal("19.00"), Returnability.FINAL_SALE),
    DemoProduct("MUG-CST-01", "Custom name mug", "home", Decimal("22.00"), Returnability.CUSTOMISED),
    DemoProduct("EAR-BT-02", "Wireless earbuds", "electronics", Decimal("59.00"), Returnability.HYGIENE),
    DemoProduct("LIP-MAT-05", "Matte lipstick", "beauty", Decimal("14.00"), Returnability.HYGIENE),
    DemoProduct("WAT-SMT-01", "Smartwatch", "electronics", Decimal("249.00")),
    DemoProduct("WAT-CLS-01", "Automatic watch", "jewellery", Decimal("450.00"), stock=2),
    DemoProduct("LMP-DSK-01", "LED desk lamp", "home", Decimal("39.00")),
    DemoProduct("BPK-TRV-30", "Travel backpack 30 L", "bags", Decimal("79.00")),
]
_PRODUCT = {p.sku: p for p in PRODUCTS}


@dataclass(frozen=True)
class DemoCustomer:
    email: str
    name: str
    language: str
    address: Address


def _addr(name, line1, city, country, postcode=None, region=None, phone=None):
    return Address(name=name, line1=line1, city=city, country=country, postcode=postcode, region=region, phone=phone)


CUSTOMERS = [
    DemoCustomer("emily.carter@example.com", "Emily Carter", "en",
                 _addr("Emily Carter", "742 Evergreen Terrace", "Portland", "US", "97205", "OR", "+1 503 555 0142")),
    DemoCustomer("oliver.bennett@example.com", "Oliver Bennett", "en",
                 _addr("Oliver Bennett", "14 Baker Street", "London", "GB", "NW1 6XE", phone="+44 20 7946 0321")),
    DemoCustomer("lukas.schneider@example.com", "Lukas Schneider", "de",
                 _addr("Lukas Schneider", "Torstraße 112", "Berlin", "DE", "10119", phone="+49 30 901820")),
    DemoCustomer("camille.dubois@example.com", "Camille Dubois", "fr",
                 _addr("Camille Dubois", "27 rue des Martyrs", "Paris", "FR", "75009", phone="+33 1 42 68 53 00")),
    DemoCustomer("lucia.fernandez@example.com", "Lucía Fernández", "es",
                 _addr("Lucía Fernández", "Calle de Alcalá 48, 3º B", "Madrid", "ES", "28014", "Madrid",
                       "+34 912 345 678")),
    DemoCustomer("giulia.romano@example.com", "Giulia Romano", "it",
                 _addr("Giulia Romano", "Via Garibaldi 15", "Torino", "IT", "10122", "TO", "+39 011 123 4567")),
    DemoCustomer("joao.silva@example.com", "João Silva", "pt",
                 _addr("João Silva", "Rua Augusta 1500, apto 42", "São Paulo", "BR", "01304-001", "SP",
                       "+55 11 91234 5678")),
    DemoCustomer("sanne.devries@example.com", "Sanne de Vries", "nl",
                 _addr("Sanne de Vries", "Prinsengracht 263", "Amsterdam", "NL", "1016 GV", phone="+31 20 555 0199")),
    DemoCustomer("katarzyna.nowak@example.com", "Katarzyna Nowak", "pl",
                 _addr("Katarzyna Nowak", "ul. Marszałkowska 84/92 m. 12", "Warszawa", "PL", "00-514",
                       phone="+48 22 123 45 67")),
    DemoCustomer("dmitry.ivanov@example.com", "Дмитрий Иванов", "ru",
                 _addr("Дмитрий Иванов", "ул. Тверская, д. 7, кв. 15", "Москва", "RU", "125009", "Москва",
                       "+7 495 123-45-67")),
    DemoCustomer("elif.yilmaz@example.com", "Elif Yılmaz", "tr",
                 _addr("Elif Yılmaz", "İstiklal Cad. No: 120 D: 5", "İstanbul", "TR", "34433", "Beyoğlu",
                       "+90 212 555 01 23")),
    DemoCustomer("ahmed.alharbi@example.com", "أحمد الحربي", "ar",
                 _addr("أحمد الحربي", "طريق الملك فهد، حي العليا", "الرياض", "SA", "12211", phone="+966 11 555 0123")),
    DemoCustomer("fatima.almansouri@example.com", "فاطمة المنصوري", "ar",
                 _addr("فاطمة المنصوري", "شارع الشيخ زايد، برج 3، شقة 1204", "دبي", "AE", phone="+971 4 555 0177")),
    DemoCustomer("yuki.tanaka@example.com", "田中 由紀", "ja",
                 _addr("田中 由紀", "神南1-2-3 ハイツ渋谷201", "渋谷区", "JP", "150-0041", "東京都", "+81 3-5555-0123")),
    DemoCustomer("minjun.kim@example.com", "김민준", "ko",
                 _addr("김민준", "테헤란로 152, 101동 1203호", "서울특별시 강남구", "KR", "06236", phone="+82 2-555-0134")),
    DemoCustomer("wang.fang@example.com", "王芳", "zh",
                 _addr("王芳", "南京西路1266号 恒隆广场 2座 1801室", "上海市", "CN", "200040", "上海",
                       "+86 138 0013 8000")),
    DemoCustomer("sofia.hernandez@example.com", "Sofía Hernández", "es",
                 _addr("Sofía Hernández", "Av. Álvaro Obregón 99, Roma Norte", "Ciudad de México", "MX", "06700",
                       "CDMX", "+52 55 5555 0123")),
    DemoCustomer("noah.mueller@example.com", "Noah Müller", "de",
                 _addr("Noah Müller", "Bahnhofstrasse 21", "Zürich", "CH", "8001", phone="+41 44 555 01 23")),
    DemoCustomer("liam.tremblay@example.com", "Liam Tremblay", "en",
                 _addr("Liam Tremblay", "350 King St W, Apt 1207", "Toronto", "CA", "M5V 3L9", "ON",
                       "+1 416 555 0178")),
    DemoCustomer("ines.costa@example.com", "Inês Costa", "pt",
                 _addr("Inês Costa", "Rua Garrett 80, 2º Esq.", "Lisboa", "PT", "1200-204", phone="+351 21 555 0123")),
]
_CUSTOMER = {c.email.split("@")[0]: c for c in CUSTOMERS}


@dataclass
class Spec:
    """One demo order, described by what happened to it; `build` derives the records."""

    number: str
    customer: str  # local part of the customer's e-mail
    status: OrderStatus
    items: list[tuple[str, int]]  # (sku, quantity)
    placed_days_ago: int
    shipped_days_ago: int | None = None
    transit_days: int = 8  # promised delivery = shipped + transit_days
    delivered_days_ago: int | None = None
    last_scan_days_ago: int | None = None  # in transit: when the parcel was last scanned
    refund: tuple[str, int, bool] | None = None  # (reason, due in days from now (negative: overdue), issued)
    story: str = ""  # what the README says it is good for
    extra: dict = field(default_factory=dict)


SCENARIOS = [
    Spec("SH-10001", "emily.carter", OrderStatus.DELIVERED, [("SNK-RUN-42", 1), ("TEE-ORG-M", 2), ("SCK-WOOL-3", 1)],
         14, 12, delivered_days_ago=5, story="multi-item order delivered 5 days ago: return or exchange one item"),
    Spec("SH-10002", "lukas.schneider", OrderStatus.DELIVERED, [("JKT-RAIN-L", 1)], 50, 47, 6,
         delivered_days_ago=40, story="delivered 40 days ago: return window closed, a fault goes to an agent"),
    Spec("SH-10003", "lucia.fernandez", OrderStatus.PAID, [("DRS-LIN-S", 1), ("LIP-MAT-05", 1)], 1,
         story="paid, not shipped: cancel with refund, or change the address"),
    Spec("SH-10004", "camille.dubois", OrderStatus.IN_TRANSIT, [("TEE-ORG-M", 1), ("CAS-PHN-14", 1)], 5, 4,
         story="shipped, low value: address change means intercept and reship; cannot cancel"),
    Spec("SH-10005", "oliver.bennett", OrderStatus.IN_TRANSIT, [("WAT-CLS-01", 1)], 4, 3,
         story="shipped, high value: address change declined, agent offered"),
    Spec("SH-10006", "noah.mueller", OrderStatus.HELD_AT_CUSTOMS, [("WAT-SMT-01", 1)], 9, 8,
         story="held at customs in Switzerland (duties paid by the buyer)"),
    Spec("SH-10007", "yuki.tanaka", OrderStatus.IN_TRANSIT, [("BPK-TRV-30", 1)], 16, 15, 14, last_scan_days_ago=10,
         story="no tracking scan for 10 days: lost-parcel investigation"),
    Spec("SH-10008", "giulia.romano", OrderStatus.IN_TRANSIT, [("LMP-DSK-01", 1), ("SCK-WOOL-3", 2)], 17, 16, 9,
         last_scan_days_ago=2, story="past the promised delivery date: delay case"),
    Spec("SH-10009", "sanne.devries", OrderStatus.RETURNED, [("SNK-RUN-42", 1)], 40, 38, 6, delivered_days_ago=32,
         refund=("return", -4, False), story="returned, refund 4 days overdue: escalated to an agent"),
    Spec("SH-10010", "katarzyna.nowak", OrderStatus.CANCELLED, [("DRS-LIN-S", 1)], 3,
         refund=("cancellation", 5, False), story="cancelled, refund on its way and on time"),
    Spec("SH-10011", "joao.silva", OrderStatus.DELIVERED, [("BAG-CLR-01", 1), ("TEE-ORG-M", 1)], 20, 18, 14,
         delivered_days_ago=3, story="final-sale tote + T-shirt: only the T-shirt can be returned"),
    Spec("SH-10012", "ahmed.alharbi", OrderStatus.DELIVERED, [("CAS-PHN-14", 1), ("EAR-BT-02", 1)], 12, 10,
         delivered_days_ago=4, story="cheap phone case arrived broken: refund without return; earbuds: hygiene"),
    Spec("SH-10013", "minjun.kim", OrderStatus.OUT_FOR_DELIVERY, [("SNK-RUN-42", 1)], 7, 6, 7,
         last_scan_days_ago=0, story="out for delivery today"),
    Spec("SH-10014", "wang.fang", OrderStatus.PROCESSING, [("WAT-SMT-01", 1), ("CAS-PHN-14", 2)], 1,
         story="being packed: cancel or change address"),
    Spec("SH-10015", "dmitry.ivanov", OrderStatus.PENDING_PAYMENT, [("JKT-RAIN-L", 1)], 0,
         story="awaiting payment: cancel needs no refund"),
    Spec("SH-10016", "elif.yilmaz", OrderStatus.DELIVERED, [("WAT-SMT-01", 1)], 11, 9, delivered_days_ago=2,
         story="wrong model delivered: seller-paid return or replacement"),
    Spec("SH-10017", "sofia.hernandez", OrderStatus.CANCELLED, [("BPK-TRV-30", 1)], 12,
         refund=("cancellation", -5, True), story="cancelled, refund already issued"),
    Spec("SH-10018", "liam.tremblay", OrderStatus.IN_TRANSIT, [("JKT-RAIN-L", 1)], 3, 2, 8, last_scan_days_ago=1,
         story="in transit, on time"),
    Spec("SH-10019", "fatima.almansouri", OrderStatus.DELIVERED, [("MUG-CST-01", 2)], 16, 14,
         delivered_days_ago=10, story="personalised mugs: no change-of-mind return"),
    Spec("SH-10020", "camille.dubois", OrderStatus.DELIVERED, [("DRS-LIN-S", 1)], 15, 13, delivered_days_ago=8,
         story="Camille's second order: EU 14-day withdrawal, day 8"),
    Spec("SH-10021", "ines.costa", OrderStatus.SHIPPED, [("EAR-BT-02", 1)], 2, 0, 5, last_scan_days_ago=0,
         story="shipped today"),
    Spec("SH-10022", "emily.carter", OrderStatus.DELIVERED, [("WAT-CLS-01", 1)], 60, 57, 5, delivered_days_ago=52,
         story="Emily's older order, outside every window"),
]


def _filler(rng: random.Random) -> list[Spec]:
    """Ordinary orders in every status so the database looks like a shop's."""
    statuses = [OrderStatus.DELIVERED] * 20 + [OrderStatus.IN_TRANSIT] * 10 + [
        OrderStatus.PAID, OrderStatus.PAID, OrderStatus.PROCESSING, OrderStatus.PROCESSING, OrderStatus.SHIPPED,
        OrderStatus.SHIPPED, OrderStatus.OUT_FOR_DELIVERY, OrderStatus.HELD_AT_CUSTOMS, OrderStatus.CANCELLED,
        OrderStatus.CANCELLED, OrderStatus.RETURNED, OrderStatus.PENDING_PAYMENT]
    returnable = [p.sku for p in PRODUCTS if p.returnability == Returnability.RETURNABLE]
    specs = []
    for n, status in enumerate(statuses, start=23):
        customer = CUSTOMERS[n % len(CUSTOMERS)].email.split("@")[0]
        items = [(sku, rng.choice([1, 1, 1, 2])) for sku in rng.sample(returnable, rng.choice([1, 1, 2, 3]))]
        spec = Spec(f"SH-100{n:02d}", customer, status, items, placed_days_ago=0)
        if status in (OrderStatus.PENDING_PAYMENT, OrderStatus.PAID, OrderStatus.PROCESSING):
            spec.placed_days_ago = rng.randint(0, 2)
        elif status == OrderStatus.CANCELLED:
            spec.placed_days_ago = rng.randint(3, 20)
            spec.refund = ("cancellation", rng.randint(-10, 6), True)
        elif status == OrderStatus.DELIVERED:
            spec.delivered_days_ago = rng.randint(1, 90)
            spec.shipped_days_ago = spec.delivered_days_ago + rng.randint(3, 9)
            spec.placed_days_ago = spec.shipped_days_ago + rng.randint(1, 3)
            spec.transit_days = 10
        elif status == OrderStatus.RETURNED:
            spec.delivered_days_ago, spec.shipped_days_ago, spec.placed_days_ago = 25, 31, 33
            spec.refund = ("return", -10, True)
        else:  # on its way, on time
            spec.shipped_days_ago = rng.randint(0, 4)
            spec.placed_days_ago = spec.shipped_days_ago + 1
            spec.transit_days = 10
            spec.last_scan_days_ago = min(spec.shipped_days_ago, 1)
        specs.append(spec)
    return specs


def all_specs() -> list[Spec]:
    return SCENARIOS + _filler(random.Random(20261122))


def _price(usd: Decimal, currency: str) -> Decimal:
    local = usd * Decimal(str(PRICE_FACTOR[currency]))
    if currency in ("JPY", "KRW", "RUB"):
        return local.quantize(Decimal("10"), ROUND_HALF_UP).quantize(Decimal("1"))
    return (local.quantize(Decimal("1"), ROUND_HALF_UP) - Decimal("0.01")) if local > 5 else local.quantize(Decimal("0.01"))


def _shipping_fee(currency: str) -> Decimal:
    return _price(Decimal("7"), currency)


def _tracking_events(spec: Spec, shipment: Shipment, now: datetime, rng: random.Random) -> list[TrackingEvent]:
    """A plausible scan history ending in the order's current state."""
    origin = "Shenzhen, CN"
    address = _CUSTOMER[spec.customer].address
    dest, country = f"{address.city}, {address.country}", address.country
    start = shipment.shipped_at
    steps = [("label_created", origin, "Shipping label created"),
             ("picked_up", origin, "Picked up by the carrier"),
             ("in_transit", "Hong Kong, HK", "Departed export hub"),
             ("arrived_destination", country, "Arrived in the destination country")]
    if spec.status == OrderStatus.HELD_AT_CUSTOMS:
        steps.append(("held_at_customs", country, "Held by customs: import duties due"))
    if spec.status in (OrderStatus.OUT_FOR_DELIVERY, OrderStatus.DELIVERED, OrderStatus.RETURNED):
        steps += [("customs_cleared", country, "Cleared customs"),
                  ("out_for_delivery", dest, "Out for delivery")]
    if spec.status in (OrderStatus.DELIVERED, OrderStatus.RETURNED):
        steps.append(("delivered", dest, "Delivered"))
    end = shipment.delivered_at or (now - timedelta(days=spec.last_scan_days_ago or 0, hours=2))
    if spec.status == OrderStatus.SHIPPED:
        steps = steps[:2]
    elif spec.status == OrderStatus.IN_TRANSIT:
        steps = steps[:3] if (spec.shipped_days_ago or 0) < 3 else steps[:4]
    span = max((end - start).total_seconds(), 3600 * len(steps))
    events = []
    for i, (code, where, text) in enumerate(steps):
        at = start + timedelta(seconds=span * i / max(len(steps) - 1, 1))
        events.append(TrackingEvent(occurred_at=min(at, end), code=code, location=where, description=text))
    return events


def build(spec: Spec, customers: dict[str, Customer], now: datetime, rng: random.Random) -> Order:
    demo_customer = _CUSTOMER[spec.customer]
    country = demo_customer.address.country
    currency = CURRENCY[country]
    day = lambda ago: datetime.combine((now - timedelta(days=ago)).date(), time(10, 30), now.tzinfo) \
        + timedelta(minutes=rng.randint(0, 480))  # noqa: E731
    placed = min(day(spec.placed_days_ago), now - timedelta(minutes=30))
    items = [OrderItem(sku=sku, name=_PRODUCT[sku].name, category=_PRODUCT[sku].category,
                       returnability=_PRODUCT[sku].returnability, quantity=qty,
                       unit_price=_price(_PRODUCT[sku].price_usd, currency)) for sku, qty in spec.items]
    subtotal = sum((i.unit_price * i.quantity for i in items), Decimal("0"))
    fee = Decimal("0") if subtotal >= _price(Decimal("60"), currency) else _shipping_fee(currency)
    order = Order(number=spec.number, number_key=order_key(spec.number), customer=customers[spec.customer],
                  status=spec.status, placed_at=placed, currency=currency, subtotal=subtotal, shipping_fee=fee,
                  total=subtotal + fee, language=demo_customer.language, items=items, updated_at=now)
    order.shipping_address = demo_customer.address
    if spec.status != OrderStatus.PENDING_PAYMENT:
        order.payments.append(Payment(method=rng.choice(["card", "card", "paypal"]), amount=order.total,
                                      currency=currency, status=PaymentStatus.CAPTURED, paid_at=placed))
    else:
        order.payments.append(Payment(method="bank_transfer", amount=order.total, currency=currency,
                                      status=PaymentStatus.PENDING))
    if spec.shipped_days_ago is not None:
        shipped = max(day(spec.shipped_days_ago), placed + timedelta(hours=3))
        shipped = min(shipped, now - timedelta(minutes=20))
        shipment = Shipment(carrier=CARRIER[country],
                            tracking_number=f"{CARRIER[country][:2].upper()}{rng.randint(10**9, 10**10 - 1)}CN",
                            shipped_at=shipped, promised_delivery_date=(shipped + timedelta(days=spec.transit_days)).date())
        if spec.delivered_days_ago is not None:
            shipment.delivered_at = min(max(day(spec.delivered_days_ago), shipped + timedelta(days=2)),
                                        now - timedelta(minutes=10))
        shipment.events = _tracking_events(spec, shipment, now, rng)
        order.shipments.append(shipment)
    if spec.status == OrderStatus.CANCELLED:
        order.cancelled_at = placed + timedelta(hours=5)
        order.cancel_reason = rng.choice(["changed_mind", "found_cheaper", "ordered_by_mistake"])
    if spec.refund:
        reason, due_in_days, issued = spec.refund
        due = now + timedelta(days=due_in_days)
        created = due - timedelta(days=7)  # the demo policy's refund deadline
        order.refunds.append(Refund(amount=order.total, currency=currency, reason=reason, created_at=created,
                                    due_at=due, status=RefundStatus.ISSUED if issued else RefundStatus.PENDING,
                                    issued_at=min(due - timedelta(days=2), now) if issued else None,
                                    idempotency_key=f"demo:{spec.number}:{reason}"))
    if spec.status == OrderStatus.RETURNED:
        for item in items:
            item.returned_quantity = item.quantity
        order.returns.append(Return(
            rma_number=f"RMA-{spec.number[-5:]}001", status=ReturnStatus.RECEIVED, reason="doesnt_fit",
            resolution="refund", method="post_office", shipping_paid_by="customer",
            created_at=order.shipments[0].delivered_at + timedelta(days=1),
            received_at=order.refunds[0].created_at,
            idempotency_key=f"demo:{spec.number}:return",
            items=[ReturnItem(order_item=i, quantity=i.quantity) for i in items]))
    return order


def load_demo(db: Database, now: datetime | None = None) -> int:
    """Load the demo shop into an empty, migrated database. Returns the number of orders."""
    now = now or utcnow()
    rng = random.Random(42)
    with db.transaction() as session:
        if session.execute(select(func.count()).select_from(Order)).scalar_one():
            raise RuntimeError("the database already holds orders: load the demo shop into an empty database")
        session.add_all(Product(sku=p.sku, name=p.name, category=p.category, returnability=p.returnability,
                                stock=p.stock) for p in PRODUCTS)
        customers = {}
        for c in CUSTOMERS:
            customers[c.email.split("@")[0]] = Customer(email=c.email, name=c.name, phone=c.address.phone,
                                                        language=c.language, country=c.address.country,
                                                        created_at=now - timedelta(days=120))
        session.add_all(customers.values())
        specs = all_specs()
        for spec in specs:
            session.add(build(spec, customers, now, rng))
    return len(specs)
