"""Schema by migration, and the demo shop, on SQLite and PostgreSQL."""
from __future__ import annotations

import re
from collections import Counter

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, inspect, select

from bot.address import Address
from bot.config import PROJECT_ROOT
from bot.demo import CUSTOMERS, SCENARIOS, load_demo
from bot.engine import Cancel, ChangeAddress, Customs, RefundStatus, ReturnItems, Track, decide
from bot.models import Base, Customer, Order, OrderStatus, Returnability
from bot.service import AfterSales


def test_migrations_build_exactly_the_models_schema(db):
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
        tables = set(inspect(conn).get_table_names())
    assert diff == []
    assert set(Base.metadata.tables) <= tables and "alembic_version" in tables


def test_migrating_twice_is_harmless(database_url):
    from bot.migrate import upgrade
    upgrade(database_url)
    upgrade(database_url)


def test_demo_shop_covers_every_status_and_market(demo_db):
    with demo_db.transaction() as s:
        orders = s.execute(select(Order)).scalars().all()
        statuses = Counter(o.status for o in orders)
        countries = {o.ship_country for o in orders}
        multi_item = [o for o in orders if len(o.items) > 1]
        final_sale = [o for o in orders if any(i.returnability == Returnability.FINAL_SALE for i in o.items)]
        customers = s.execute(select(func.count()).select_from(Customer)).scalar_one()
        for o in orders:
            # every shipping address is complete and valid for its country
            assert o.shipping_address.problems() == [], (o.number, o.shipping_address)
            assert sum(i.unit_price * i.quantity for i in o.items) == o.subtotal
    assert len(orders) >= 60 and len(countries) >= 10 and customers == len(CUSTOMERS)
    assert set(statuses) == set(OrderStatus)
    assert multi_item and final_sale


@pytest.mark.parametrize("number, request_, rule", [
    ("SH-10001", None, "track.delivered"),
    ("SH-10002", ReturnItems(((0, 1),), "changed_mind"), "return.window_expired"),
    ("SH-10003", Cancel("changed_mind"), "cancel.before_shipment"),
    ("SH-10004", "address", "address.intercept_and_reship"),
    ("SH-10005", "address", "address.shipped_high_value"),
    ("SH-10006", Customs(), "customs.held"),
    ("SH-10007", Track(), "track.no_scan_investigation"),
    ("SH-10008", Track(), "track.delayed"),
    ("SH-10009", RefundStatus(), "refund.overdue"),
    ("SH-10010", RefundStatus(), "refund.on_time"),
    ("SH-10011", ReturnItems(((0, 1),), "changed_mind"), "return.not_returnable"),
    ("SH-10012", ReturnItems(((0, 1),), "damaged"), "return.fault_keep_it"),
    ("SH-10016", ReturnItems(((0, 1),), "wrong_item", "exchange"), "return.fault_return"),
    ("SH-10017", RefundStatus(), "refund.issued"),
    ("SH-10018", Track(), "track.in_transit"),
    ("SH-10019", ReturnItems(((0, 1),), "changed_mind"), "return.not_returnable"),
    ("SH-10020", ReturnItems(((0, 1),), "changed_mind"), "return.within_statutory_withdrawal"),
])
def test_demo_scenarios_show_the_edge_case_they_promise(demo_db, policy, now, number, request_, rule):
    """The README's demo table is only useful if each order really triggers its rule."""
    snap = AfterSales(demo_db, policy).snapshot(number)
    if request_ == "address":
        request_ = ChangeAddress(Address(name="New Recipient", line1="1 New Street", city="Newtown",
                                         country=snap.destination_country,
                                         postcode={"FR": "69002", "GB": "M3 1AZ"}[snap.destination_country]))
    if isinstance(request_, ReturnItems):
        request_ = ReturnItems(((snap.items[request_.items[0][0]].id, 1),), request_.reason, request_.resolution)
    assert decide(snap, request_ or Track(), now, policy).rule_id == rule


def test_readme_lists_the_demo_orders_as_they_are():
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (SH-\d{5}) \| (\S+@example\.com) \|", readme, flags=re.M)
    emails = {c.email.split("@")[0]: c.email for c in CUSTOMERS}
    expected = [(s.number, emails[s.customer]) for s in SCENARIOS]
    assert rows == expected


def test_demo_loads_only_into_an_empty_database(demo_db):
    with pytest.raises(RuntimeError, match="already holds orders"):
        load_demo(demo_db)
