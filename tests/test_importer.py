"""Importing a shop's orders (Shopify's order export) and tracking updates, on SQLite and PostgreSQL."""
from __future__ import annotations

import csv
import re
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import joinedload, selectinload

from bot.__main__ import main as cli
from bot.engine import Cancel, ReturnItems, Track
from bot.importer import FileRejected, import_shopify_orders, import_tracking
from bot.models import (Customer, Order, OrderItem, Payment, Product, Refund, Returnability, Shipment,
                        TrackingEvent)
from bot.service import AfterSales

DATA = Path(__file__).parent / "data"
EXPORT = DATA / "shopify_orders_export.csv"
TRACKING = DATA / "tracking_updates.csv"
MALFORMED = DATA / "shopify_orders_malformed.csv"
IMPORTED_AT = datetime(2026, 11, 18, 9, 0, tzinfo=timezone.utc)
TABLES = ["customers", "products", "orders", "order_items", "payments", "refunds", "shipments", "tracking_events"]


def utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


def order(db, number) -> Order:
    """The order with everything an import writes, loaded for reading after the session."""
    with db.transaction() as s:
        return s.execute(select(Order).where(Order.number == number).options(
            joinedload(Order.customer), selectinload(Order.items), selectinload(Order.payments),
            selectinload(Order.refunds), selectinload(Order.shipments).selectinload(Shipment.events))).scalar_one()


def count(db, model) -> int:
    with db.transaction() as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


def dump(db) -> dict:
    """Every row of the tables an import writes: "the same database" means these are equal."""
    with db.engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT * FROM {t} ORDER BY 1")).all() for t in TABLES}


def edited_export(tmp_path, changes: dict[tuple, str], name="export.csv") -> Path:
    """The sample export with some cells changed: {(order, column): value} on the order's first row
    (where its order-level columns are), {(order, line, column): value} on its line item `line` (from 0)."""
    with open(EXPORT, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows, header = list(reader), reader.fieldnames
    lines: dict[str, int] = {}
    for row in rows:
        line = lines[row["Name"]] = lines.get(row["Name"], -1) + 1
        for key, value in changes.items():
            number, at, column = key if len(key) == 3 else (key[0], 0, key[1])
            if (row["Name"], line) == (number, at):
                row[column] = value
    path = tmp_path / name
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, header)
        writer.writeheader()
        writer.writerows(rows)
    return path


# -- the Shopify export ------------------------------------------------------------------------------

def test_a_shopify_export_imports_every_order_with_its_money_items_and_address(db):
    report = import_shopify_orders(db, EXPORT, now=IMPORTED_AT)

    assert (len(report.created), report.updated, report.unchanged, report.errors) == (12, [], [], [])
    assert report.created[0] == "#1001"
    statuses = {n: order(db, n).status.value for n in report.created}
    assert statuses == {"#1001": "paid", "#1002": "shipped", "#1003": "shipped", "#1004": "shipped",
                        "#1005": "shipped", "#1006": "cancelled", "#1007": "shipped", "#1008": "shipped",
                        "#1009": "pending_payment", "#1010": "pending_payment", "#1011": "shipped",
                        "#1012": "shipped"}
    # Emma's two orders (the second with a capitalised e-mail) are one customer, named as billed.
    assert count(db, Customer) == 11
    emma = order(db, "#1012")
    assert emma.customer.email == "emma.johnson@example.com" and emma.customer.name == "Emma Johnson"
    assert emma.customer.language is None and emma.customer.country == "US"
    assert emma.customer_id == order(db, "#1001").customer_id
    assert (emma.ship_name, emma.ship_line1, emma.ship_line2, emma.ship_city, emma.ship_region,
            emma.ship_postcode) == ("Mark Johnson", "55 Water Street", "Harbor Books", "Boston", "Massachusetts",
                                    "02109")

    lukas = order(db, "#1002")  # tax-inclusive prices, a discount code, two line items
    assert (lukas.number_key, lukas.currency, lukas.subtotal, lukas.shipping_fee, lukas.total) == \
        ("1002", "EUR", Decimal("101.70"), Decimal("4.90"), Decimal("106.60"))
    assert lukas.placed_at == utc(2026, 11, 3, 13, 22, 5)
    assert [(i.sku, i.name, i.quantity, i.unit_price, i.category, i.returnability.value) for i in lukas.items] == [
        ("SNK-TRAIL-42", "Trail Running Shoe - Moss / 42", 1, Decimal("89.00"), "general", "returnable"),
        ("SCK-MER-3", "Merino Socks (3 pairs)", 2, Decimal("12.00"), "general", "returnable")]
    assert lukas.shipping_address.line1 == "Schönhauser Allee 36" and lukas.ship_line2 == "Hinterhaus, 2. OG"
    [payment] = lukas.payments
    assert (payment.status.value, payment.amount, payment.currency, payment.method, payment.paid_at) == \
        ("captured", Decimal("106.60"), "EUR", "Shopify Payments", utc(2026, 11, 3, 13, 22, 7))

    hanako = order(db, "#1004")  # yen, Japanese script, a postcode written without its hyphen
    assert hanako.total == Decimal("19100.00") and hanako.currency == "JPY"
    assert (hanako.ship_name, hanako.ship_line1, hanako.ship_city, hanako.ship_region, hanako.ship_postcode,
            hanako.ship_country) == ("田中 花子", "神南1-2-3", "渋谷区", "Tokyo", "150-0041", "JP")
    fatima = order(db, "#1011")
    assert (fatima.ship_city, fatima.ship_postcode, fatima.ship_country) == ("دبي", None, "AE")
    assert order(db, "#1006").ship_postcode == "NW1 6XE" and order(db, "#1010").ship_postcode == "H3B 1A1"
    assert order(db, "#1008").ship_postcode == "01304-001"

    cancelled = order(db, "#1006")
    assert cancelled.cancelled_at == utc(2026, 11, 12, 10, 2, 13)
    assert [(r.amount, r.currency, r.reason, r.status.value, r.issued_at) for r in cancelled.refunds] == [
        (Decimal("119.00"), "GBP", "cancellation", "issued", utc(2026, 11, 12, 10, 2, 13))]
    assert [(r.amount, r.reason, r.issued_at) for r in order(db, "#1007").refunds] == [
        (Decimal("54.95"), "shop_refund", IMPORTED_AT)]
    partly = order(db, "#1008")
    assert [r.amount for r in partly.refunds] == [Decimal("39.90")] and partly.status.value == "shipped"
    assert [(i.sku, i.quantity, i.unit_price) for i in partly.items] == [
        ("TEE-ORG-M", 1, Decimal("59.90")), ("CAS-PHN-14", 2, Decimal("39.90"))]

    for number in ("#1009", "#1010"):  # pending and authorized: nothing taken yet
        [payment] = order(db, number).payments
        assert payment.status.value == "pending" and payment.paid_at is None
    assert order(db, "#1009").payments[0].amount == Decimal("298.99")
    assert count(db, Payment) == 12 and count(db, Refund) == 3 and count(db, OrderItem) == 19

    # Unknown SKUs become products with unknown stock (0); a line without a SKU gets a stable one.
    assert count(db, Product) == 15
    wrap = next(i for i in order(db, "#1009").items if i.name == "Gift wrapping")
    assert wrap.sku.startswith("NOSKU-") and wrap.unit_price == Decimal("0.00")
    with db.transaction() as s:
        assert {p.stock for p in s.execute(select(Product)).scalars()} == {0}


def test_a_known_product_gives_the_item_its_category_and_returnability(db):
    with db.transaction() as s:
        s.add(Product(sku="MUG-CST-01", name="Mug with a name", category="home",
                      returnability=Returnability.CUSTOMISED, stock=7))
    import_shopify_orders(db, EXPORT, now=IMPORTED_AT)
    mug, earbuds = order(db, "#1011").items
    assert (mug.sku, mug.quantity, mug.category, mug.returnability.value) == ("MUG-CST-01", 2, "home", "customised")
    assert (earbuds.category, earbuds.returnability.value) == ("general", "returnable")
    with db.transaction() as s:
        product = s.get(Product, "MUG-CST-01")
    assert (product.name, product.stock) == ("Mug with a name", 7)  # the shop's own product is left alone


def test_a_malformed_export_reports_each_bad_row_and_imports_only_the_good_orders(db):
    report = import_shopify_orders(db, MALFORMED, now=IMPORTED_AT)

    assert [(e.row, e.column, e.order) for e in report.errors] == [
        (4, "Email", "#2002"), (6, "Lineitem quantity", "#2003"), (7, "Created at", "#2004"),
        (8, "Currency", "#2005"), (9, "Shipping Country", "#2006"), (10, "Total", "#2007"),
        (12, "Name", None),  # a line item without an order (row 11's note spans three lines)
        (13, "Financial Status", "#2009"), (13, "Lineitem price", "#2009"), (15, "Email", "#2011")]
    reasons = {(e.row, e.column): e.reason for e in report.errors}
    assert reasons[(4, "Email")] == "missing e-mail"
    assert reasons[(6, "Lineitem quantity")] == "negative quantity -1"
    assert "unparseable date '03/11/2026 14:22'" in reasons[(7, "Created at")]
    assert "unknown currency code 'EURO'" in reasons[(8, "Currency")]
    assert "unknown country code 'Germany'" in reasons[(9, "Shipping Country")]
    assert reasons[(10, "Total")].startswith("100.00 does not add up") and "= 85.00" in reasons[(10, "Total")]
    assert "not an amount: '12,50'" in reasons[(13, "Lineitem price")]
    assert str(report.errors[0]) == "row 4, Email: missing e-mail (nothing imported for order #2002)"

    assert report.created == ["#2001", "#2008", "#2010"] and report.rows_rejected == 9
    assert report.not_imported == ["#2002", "#2003", "#2004", "#2005", "#2006", "#2007", "#2009", "#2011"]
    with db.transaction() as s:
        assert s.execute(select(Order.number).order_by(Order.number)).scalars().all() == ["#2001", "#2008", "#2010"]
        emails = set(s.execute(select(Customer.email)).scalars())
        assert "per@example.se" not in emails and "nils@example.se" not in emails  # nothing half-written
        assert s.get(Product, "BTN-1") is None
    assert [i.sku for i in order(db, "#2001").items] == ["SCF-WOOL", "MIT-WOOL"]


# -- tracking ------------------------------------------------------------------------------------

def test_tracking_updates_create_shipments_add_events_and_move_the_orders(db):
    import_shopify_orders(db, EXPORT, now=IMPORTED_AT)
    report = import_tracking(db, TRACKING)

    assert (report.shipments_created, report.events_added, len(report.updated), report.errors) == (8, 28, 8, [])
    statuses = {n: order(db, n).status.value for n in ("#1001", "#1002", "#1003", "#1004", "#1005", "#1007",
                                                         "#1008", "#1011", "#1012")}
    assert statuses == {"#1001": "paid", "#1002": "delivered", "#1003": "in_transit", "#1004": "out_for_delivery",
                        "#1005": "held_at_customs", "#1007": "delivered", "#1008": "delivered",
                        "#1011": "in_transit", "#1012": "in_transit"}
    [lukas] = order(db, "#1002").shipments
    assert (lukas.carrier, lukas.tracking_number) == ("DHL", "00340434161094042557")
    assert lukas.shipped_at == utc(2026, 11, 5, 15, 40) and lukas.delivered_at == utc(2026, 11, 6, 12, 47)
    assert lukas.promised_delivery_date == date(2026, 11, 8)  # from the file
    # Events in time order although the file lists "delivered" before "out for delivery".
    assert [e.code for e in lukas.events] == ["label_created", "picked_up", "in_transit", "out_for_delivery",
                                              "delivered"]
    assert lukas.events[2].location == "Großbeeren, DE"
    [camille] = order(db, "#1003").shipments  # no promised date in the file: shipped + 10 days
    assert camille.shipped_at == utc(2026, 11, 11, 9) and camille.promised_delivery_date == date(2026, 11, 21)
    assert camille.events[-1].occurred_at == utc(2026, 11, 13, 5)

    again = import_tracking(db, TRACKING)
    assert (again.shipments_created, again.events_added, again.updated, len(again.unchanged)) == (0, 0, [], 8)
    assert count(db, Shipment) == 8 and count(db, TrackingEvent) == 28


def test_bad_tracking_rows_are_reported_and_their_orders_left_alone(db, tmp_path):
    import_shopify_orders(db, EXPORT, now=IMPORTED_AT)
    path = tmp_path / "tracking.csv"
    path.write_text(
        "Order,Carrier,Tracking_Number,Event_Time,Status,Location,Promised_Delivery_Date,Note\n"
        "#1001,DHL,111,2026-11-17T10:00:00+01:00,label_created,Leipzig,,extra column ignored\n"
        "#9999,DHL,222,2026-11-17T10:00:00+01:00,label_created,Leipzig,,\n"
        "#1003,Colissimo,333,2026-11-17T10:00:00+01:00,picked_up,Leipzig,,\n"
        "#1003,Colissimo,333,2026-11-17T12:00:00+01:00,shipped,Leipzig,,\n"
        "#1009,DHL,444,2026-11-17 10:00,label_created,Leipzig,,\n"
        "#1010,DHL,555,2026-11-17T10:00:00+01:00,label_created,Leipzig,next week,\n"
        "#1011,DHL,111,2026-11-17T10:00:00+01:00,label_created,Leipzig,,\n", encoding="utf-8")
    report = import_tracking(db, path)

    assert [(e.row, e.column) for e in report.errors] == [
        (3, "order"), (5, "status"), (6, "event_time"), (7, "promised_delivery_date"), (8, "tracking_number")]
    reasons = [e.reason for e in report.errors]
    assert reasons[0].startswith("no order '#9999' in the database")
    assert reasons[1].startswith("unknown tracking status 'shipped'")
    assert reasons[2] == "date without a UTC offset: '2026-11-17 10:00'"
    assert reasons[4] == "111 is another order's parcel"
    assert report.updated == ["#1001"] and report.events_added == 1
    assert order(db, "#1001").status.value == "shipped"
    assert order(db, "#1003").shipments == []  # its good row is not imported without the bad one
    assert order(db, "#1003").status.value == "shipped"


# -- importing again ---------------------------------------------------------------------------------

def test_importing_the_same_files_again_changes_nothing(db):
    import_shopify_orders(db, EXPORT, now=IMPORTED_AT)
    import_tracking(db, TRACKING)
    before = dump(db)

    again = import_shopify_orders(db, EXPORT, now=datetime(2026, 11, 19, tzinfo=timezone.utc))
    import_tracking(db, TRACKING)

    assert (again.created, again.updated, len(again.unchanged), again.errors) == ([], [], 12, [])
    assert dump(db) == before
    # The export still says "fulfilled": the parcel the tracking import delivered stays delivered.
    assert order(db, "#1002").status.value == "delivered"


def test_a_changed_export_updates_exactly_the_orders_that_changed(db, tmp_path):
    import_shopify_orders(db, EXPORT, now=IMPORTED_AT)
    import_tracking(db, TRACKING)
    items_before = count(db, OrderItem)
    changed = edited_export(tmp_path, {
        ("#1001", "Cancelled at"): "2026-11-17 08:00:00 -0800", ("#1001", "Financial Status"): "refunded",
        ("#1001", "Refunded Amount"): "84.00",
        ("#1003", "Shipping Address1"): "3 place Bellecour", ("#1003", "Shipping Address2"): "",
        ("#1003", "Shipping Zip"): "69002",
        ("#1008", "Refunded Amount"): "79.80", ("#1008", "Financial Status"): "partially_refunded",
        ("#1009", "Financial Status"): "paid", ("#1009", "Paid at"): "2026-11-18 09:30:00 +0100",
    })
    later = datetime(2026, 11, 19, tzinfo=timezone.utc)
    report = import_shopify_orders(db, changed, now=later)

    assert (report.created, report.updated, len(report.unchanged)) == ([], ["#1001", "#1003", "#1008", "#1009"], 8)
    emma = order(db, "#1001")
    assert emma.status.value == "cancelled" and emma.cancelled_at == utc(2026, 11, 17, 16)
    assert [(r.amount, r.reason, r.status.value) for r in emma.refunds] == [
        (Decimal("84.00"), "cancellation", "issued")]
    camille = order(db, "#1003")
    assert (camille.ship_line1, camille.ship_line2, camille.ship_postcode) == ("3 place Bellecour", None, "69002")
    assert camille.status.value == "in_transit"  # the tracking import's status is kept
    joao = order(db, "#1008")
    assert [(r.amount, r.issued_at) for r in joao.refunds] == [(Decimal("39.90"), IMPORTED_AT),
                                                                 (Decimal("39.90"), later)]
    zofia = order(db, "#1009")  # the bank transfer arrived
    assert zofia.status.value == "paid"
    assert [(p.status.value, p.amount, p.paid_at) for p in zofia.payments] == [
        ("captured", Decimal("298.99"), utc(2026, 11, 18, 8, 30))]
    assert count(db, OrderItem) == items_before and count(db, Payment) == 12

    after = dump(db)
    assert import_shopify_orders(db, changed, now=later).updated == []
    assert dump(db) == after


def test_an_export_cannot_take_back_an_issued_refund(db, tmp_path):
    import_shopify_orders(db, EXPORT, now=IMPORTED_AT)
    before = dump(db)
    report = import_shopify_orders(db, edited_export(tmp_path, {("#1008", "Refunded Amount"): "10.00"}))
    assert [(e.row, e.column, e.order) for e in report.errors] == [(12, "Refunded Amount", "#1008")]
    assert "less than the 39.90 already imported" in report.errors[0].reason
    assert dump(db) == before


def test_edited_line_items_replace_the_old_ones_unless_a_return_is_recorded(db, policy, now, tmp_path):
    import_shopify_orders(db, EXPORT, now=IMPORTED_AT)
    import_tracking(db, TRACKING)
    three_tees = {("#1001", 1, "Lineitem quantity"): "3", ("#1001", "Subtotal"): "100.00",
                  ("#1001", "Total"): "108.00"}
    report = import_shopify_orders(db, edited_export(tmp_path, three_tees), now=IMPORTED_AT)
    assert report.updated == ["#1001"]
    emma = order(db, "#1001")
    assert [(i.sku, i.quantity, i.unit_price) for i in emma.items] == [
        ("BEANIE-CHR", 1, Decimal("28.00")), ("TEE-ORG-M", 3, Decimal("24.00"))]
    assert emma.total == Decimal("108.00") and emma.payments[0].amount == Decimal("108.00")
    assert count(db, OrderItem) == 19

    # Once a return is recorded on #1002, an import may not swap the items it refers to.
    shoe = order(db, "#1002").items[0]
    assert AfterSales(db, policy, clock=lambda: now).handle(
        "1002", ReturnItems(((shoe.id, 1),), "doesnt_fit")).rma_number
    before = dump(db)
    one_pair = {("#1002", 1, "Lineitem quantity"): "1", ("#1002", "Subtotal"): "89.70", ("#1002", "Total"): "94.60"}
    report = import_shopify_orders(db, edited_export(tmp_path, {**three_tees, **one_pair}, "again.csv"))
    assert [(e.row, e.column, e.order) for e in report.errors] == [(4, "Lineitem quantity", "#1002")]
    assert "after a return was recorded" in report.errors[0].reason
    assert dump(db) == before


# -- the assistant on imported orders --------------------------------------------------------------

def test_the_assistant_serves_an_imported_order(db, policy, now):
    import_shopify_orders(db, EXPORT, now=IMPORTED_AT)
    import_tracking(db, TRACKING)
    service = AfterSales(db, policy, clock=lambda: now)

    for typed in ("1001", "#1001", " # 1001 "):
        snapshot = service.snapshot(typed)
        assert (snapshot.number, snapshot.status, snapshot.paid, snapshot.destination_country) == \
            ("#1001", "paid", Decimal("84.00"), "US")
    assert service.handle("1005", Track()).decision.rule_id == "track.held_at_customs"
    assert service.handle("#1002", Track()).decision.rule_id == "track.delivered"
    assert service.handle("1004", Track()).decision.rule_id == "track.in_transit"

    result = service.handle("1001", Cancel("changed_mind"))
    assert result.decision.rule_id == "cancel.before_shipment"
    cancelled = order(db, "#1001")
    assert cancelled.status.value == "cancelled"
    [refund] = cancelled.refunds
    assert (refund.amount, refund.currency, refund.status.value) == (Decimal("84.00"), "USD", "pending")
    # Shipped (partly): no plain cancellation any more.
    assert service.handle("1012", Cancel("changed_mind")).decision.rule_id == "cancel.after_shipment"
    # Refunded already: nothing more to refund on cancel.
    assert service.handle("1006", Cancel("changed_mind")).decision.rule_id == "cancel.already_cancelled"


# -- the file itself ---------------------------------------------------------------------------------

@pytest.mark.parametrize("content, message", [
    (b"", "the file is empty"),
    (b"\n \n", "the file is empty"),
    (b"Name,Email,Total\n#1,a@b.c,1.00\n", "missing required columns: Financial Status, Fulfillment Status, "
                                          "Currency, Subtotal, Shipping, Created at, Lineitem quantity"),
    (b"Name;Email;Total\n", "separated by ';' or tabs"),
    ("Name,Email\n#1,m\xfcller@example.de\n".encode("latin-1"), "not UTF-8 text (byte 0xfc at offset 15)"),
    (b"PK\x03\x04\x14\x00\x06\x00", "spreadsheet workbook (xlsx), not a CSV"),
    (b"Name,Email\n#1,\x00\x00\n", "binary data"),
])
def test_a_file_that_cannot_be_read_is_refused_with_the_reason(tmp_path, content, message):
    path = tmp_path / "orders.csv"
    path.write_bytes(content)
    with pytest.raises(FileRejected, match=re.escape(message)):
        import_shopify_orders(None, path)


def test_a_bom_and_extra_columns_are_fine(db, tmp_path):
    path = tmp_path / "excel.csv"
    with open(EXPORT, newline="", encoding="utf-8") as src, open(path, "w", newline="", encoding="utf-8-sig") as out:
        rows = list(csv.reader(src))
        csv.writer(out).writerows([row + ["extra"] for row in rows])
    report = import_shopify_orders(db, path, now=IMPORTED_AT)
    assert len(report.created) == 12 and report.errors == []
    assert order(db, "#1001").total == Decimal("84.00")


def test_a_header_without_rows_imports_nothing(db, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("order,carrier,tracking_number,event_time,status,location\n", encoding="utf-8")
    report = import_tracking(db, path)
    assert (report.updated, report.errors) == ([], [])


# -- the command line ------------------------------------------------------------------------------

def test_the_cli_prints_a_summary_and_exits_by_outcome(db, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("DATABASE_URL", db.engine.url.render_as_string(hide_password=False))

    assert cli(["import", "shopify", str(EXPORT)]) == 0
    out = capsys.readouterr().out
    assert "orders: 12 created, 0 updated, 0 unchanged" in out and "rows rejected: 0" in out
    assert cli(["import", "shopify", str(EXPORT)]) == 0
    assert "orders: 0 created, 0 updated, 12 unchanged" in capsys.readouterr().out
    assert cli(["import", "tracking", str(TRACKING)]) == 0
    assert "8 shipments created, 28 events added" in capsys.readouterr().out

    assert cli(["import", "shopify", str(MALFORMED)]) == 1
    out = capsys.readouterr().out
    assert "orders: 3 created, 0 updated, 0 unchanged, 8 orders not imported (#2002," in out
    assert "rows rejected: 9" in out
    assert "  row 6, Lineitem quantity: negative quantity -1 (nothing imported for order #2003)" in out

    bad = tmp_path / "bad.csv"
    bad.write_text("order,carrier\n#1001,DHL\n", encoding="utf-8")
    assert cli(["import", "tracking", str(bad)]) == 2
    assert "missing required columns: tracking_number, event_time, status" in capsys.readouterr().err
    assert cli(["import", "shopify", str(tmp_path / "missing.csv")]) == 2
    assert "cannot read the file" in capsys.readouterr().err
