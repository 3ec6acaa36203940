"""Table-driven tests of every rule of the policy engine (bot/engine.py) against the shipped policy.yml.

No database: orders are hand-made snapshots. `now` is fixed (a Wednesday, 11:00 in Berlin).
Expected numbers are derived from the loaded policy where the rule is the point, and a few values
of policy.yml are pinned as literals so that a change of the shipped policy is noticed here.
"""
from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from bot.address import Address
from bot.engine import (BEFORE_SHIPMENT, IN_TRANSIT, Cancel, ChangeAddress, Complaint, Customs, Decision,
                        Handoff, ItemSnapshot, OrderSnapshot, Outcome, RefundSnapshot, RefundStatus,
                        ReturnItems, Track, decide)
from bot.policy import load_policy, parse_policy

POLICY_FILE = Path(__file__).resolve().parent.parent / "policy.yml"
RAW = yaml.safe_load(POLICY_FILE.read_text(encoding="utf-8"))
POLICY = load_policy(POLICY_FILE)

UTC = timezone.utc
NOW = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)  # Wednesday; 11:00 in Europe/Berlin (CET)
TODAY = NOW.date()

# SLA deadlines from NOW in the shipped policy (Mon-Fri 09:00-18:00 Europe/Berlin; 1/4/8/24 hours).
SLA_URGENT = datetime(2026, 11, 18, 11, 0, tzinfo=UTC)  # Wed 12:00 Berlin
SLA_HIGH = datetime(2026, 11, 18, 14, 0, tzinfo=UTC)  # Wed 15:00 Berlin
SLA_NORMAL = datetime(2026, 11, 19, 9, 0, tzinfo=UTC)  # 7 h Wed + 1 h Thu -> Thu 10:00 Berlin
SLA_LOW = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)  # 7 h Wed + 9 h Thu + 8 h Fri -> Fri 17:00 Berlin

A = Outcome.ALLOWED
AC = Outcome.ALLOWED_WITH_CONDITIONS
D = Outcome.DENIED
NA = Outcome.NEEDS_AGENT

SELLER_FAULT_REASONS = ("damaged", "defective", "wrong_item", "missing_part", "not_as_described")
NO_FAULT_REASONS = ("changed_mind", "doesnt_fit", "arrived_late")


# ---- factories -----------------------------------------------------------------------------------

def make_item(id: int = 1, *, returnability: str = "returnable", quantity: int = 1, returned_quantity: int = 0,
              unit_price="40.00", in_stock: bool = True, name: str | None = None,
              category: str = "apparel") -> ItemSnapshot:
    return ItemSnapshot(id=id, sku=f"SKU-{id}", name=name or f"Item {id}", category=category,
                        returnability=returnability, quantity=quantity, returned_quantity=returned_quantity,
                        unit_price=Decimal(str(unit_price)), in_stock=in_stock)


def make_refund(id: int = 1, *, amount="10.00", currency: str = "USD", reason: str = "cancellation",
                status: str = "pending", due_at: datetime = NOW + timedelta(days=2),
                issued_at: datetime | None = None) -> RefundSnapshot:
    return RefundSnapshot(id=id, amount=Decimal(str(amount)), currency=currency, reason=reason, status=status,
                          due_at=due_at, issued_at=issued_at)


def make_order(status: str = "delivered", *, country: str = "US", currency: str = "USD", items=None,
               total=None, paid=None, refunds=(), delivered_days_ago: int = 3, **overrides) -> OrderSnapshot:
    """An order snapshot with sensible defaults for `status`; any OrderSnapshot field can be overridden."""
    items = tuple(items) if items is not None else (make_item(),)
    total = Decimal(str(total)) if total is not None else sum((i.unit_price * i.quantity for i in items),
                                                              Decimal("0"))
    if paid is None:
        paid = Decimal("0") if status == "pending_payment" else total
    shipped = status in IN_TRANSIT + ("delivered", "returned")
    delivered = status in ("delivered", "returned")
    delivered_at = NOW - timedelta(days=delivered_days_ago) if delivered else None
    fields = dict(
        number="SH-10482", status=status, currency=currency, total=total, paid=Decimal(str(paid)),
        destination_country=country, placed_at=NOW - timedelta(days=delivered_days_ago + 10),
        items=items, refunds=tuple(refunds),
        shipped_at=NOW - timedelta(days=delivered_days_ago + 5) if shipped else None,
        promised_delivery_date=None, delivered_at=delivered_at,
        last_scan_at=None, last_scan_code=None,
        carrier="DHL" if shipped else None, tracking_number="JD014600012345" if shipped else None,
    )
    fields.update(overrides)
    return OrderSnapshot(**fields)


def run(order: OrderSnapshot | None, request, now: datetime = NOW, policy=POLICY) -> Decision:
    decision = decide(order, request, now, policy)
    # Every decision is stamped with the version of the policy file that produced it.
    assert decision.policy_version == RAW["version"] == policy.version
    return decision


def kinds(decision: Decision) -> list[str]:
    return [a.kind for a in decision.actions]


ADDRESSES = {
    "US": Address("Ann Lee", "1 Market St", "San Francisco", "US", "94105", region="CA"),
    "DE": Address("Jan Meyer", "Unter den Linden 1", "Berlin", "DE", "10115"),
    "FR": Address("Marie Curie", "1 Rue de Rivoli", "Paris", "FR", "75001"),
    "PL": Address("Jan Kowalski", "ul. Marszalkowska 1", "Warszawa", "PL", "00-001"),
    "GB": Address("Tom Smith", "10 Downing St", "London", "GB", "SW1A 2AA"),
}


# ---- pinned values of the shipped policy.yml -----------------------------------------------------

def test_shipped_policy_pinned_values():
    """If one of these changes, the shipped after-sales policy changed: update the tests on purpose."""
    d = POLICY.terms_for("EG")  # a country in no region and without its own market: plain defaults
    assert POLICY.base_currency == "USD"
    assert POLICY.exchange_rates["USD"] == 1
    assert POLICY.exchange_rates["EUR"] == Decimal("1.08")
    assert POLICY.exchange_rates["PLN"] == Decimal("0.25")
    assert d.no_reason_return_days == 7
    assert d.statutory_withdrawal_days == 0
    assert d.return_window_days == 7
    assert d.quality_claim_days == 30
    assert d.keep_it_refund_max_value == Decimal("15")
    assert d.intercept_reship_max_value == Decimal("100")
    assert d.refund_deadline_days == 7
    assert d.delivery_grace_days == 3
    assert d.lost_parcel_no_scan_days == 7
    assert d.lost_parcel_investigation_days == 10
    assert d.duties == "DDU"
    assert d.return_methods == ("post_office",)
    assert d.return_shipping_paid_by == {
        "changed_mind": "customer", "doesnt_fit": "customer", "arrived_late": "shop", "damaged": "shop",
        "defective": "shop", "wrong_item": "shop", "missing_part": "shop", "not_as_described": "shop"}
    assert POLICY.seller_fault_reasons == frozenset(SELLER_FAULT_REASONS)
    assert set(POLICY.return_reasons) == set(SELLER_FAULT_REASONS + NO_FAULT_REASONS)
    assert POLICY.terms_for("DE").statutory_withdrawal_days == 14
    assert POLICY.terms_for("DE").return_window_days == 14
    assert POLICY.terms_for("US").return_window_days == 30
    assert POLICY.terms_for("BR").return_window_days == 7
    assert POLICY.sla_business_hours == {"urgent": 1, "high": 4, "normal": 8, "low": 24}
    bh = POLICY.business_hours
    assert str(bh.timezone) == "Europe/Berlin"
    assert bh.days == frozenset({0, 1, 2, 3, 4})
    assert (bh.open.isoformat(), bh.close.isoformat()) == ("09:00:00", "18:00:00")


def test_every_decision_carries_the_policy_files_version():
    decisions = [
        run(make_order("in_transit"), Track()),
        run(make_order("paid"), Cancel("changed_mind")),
        run(make_order("paid"), ChangeAddress(ADDRESSES["US"])),
        run(make_order("delivered"), ReturnItems(((1, 1),), "changed_mind")),
        run(make_order("delivered"), ReturnItems(((1, 1),), "damaged")),
        run(make_order("delivered"), RefundStatus()),
        run(make_order("delivered"), Customs()),
        run(None, Complaint()),
        run(None, Handoff()),
    ]
    assert {d.policy_version for d in decisions} == {RAW["version"]}
    # A different version in the file is what the decision reports.
    other = copy.deepcopy(RAW)
    other["version"] = "test-9"
    assert decide(None, Complaint(), NOW, parse_policy(other)).policy_version == "test-9"


def test_decision_base_facts_and_message_key():
    d = run(make_order("in_transit", country="DE"), Track())
    assert d.facts["order_number"] == "SH-10482"
    assert d.facts["order_status"] == "in_transit"
    assert d.facts["destination"] == "DE"
    assert d.facts["market"] == "EU < defaults"
    assert d.request == "track"
    assert d.message_key == "decision.track.in_transit"
    assert d.message_params is d.facts
    assert d.action("escalate") is None


# ---- track ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("status", BEFORE_SHIPMENT)
def test_track_not_shipped(status):
    d = run(make_order(status), Track())
    assert (d.rule_id, d.outcome, d.reason) == ("track.not_shipped", A, "not_shipped")
    assert d.actions == () and d.offers == ()
    assert d.facts["carrier"] is None and d.facts["tracking_number"] is None


@pytest.mark.parametrize("status", ["shipped", "in_transit", "out_for_delivery"])
def test_track_in_transit_on_time(status):
    promised = TODAY + timedelta(days=2)
    d = run(make_order(status, promised_delivery_date=promised, last_scan_at=NOW - timedelta(days=1)), Track())
    assert (d.rule_id, d.outcome, d.reason) == ("track.in_transit", A, "on_its_way")
    assert d.actions == ()
    assert d.facts["carrier"] == "DHL"
    assert d.facts["tracking_number"] == "JD014600012345"
    assert d.facts["promised_delivery_date"] == promised
    assert d.facts["late_after"] == promised + timedelta(days=3)
    assert d.facts["days_without_scan"] == 1
    assert "days_late" not in d.facts


def test_track_in_transit_without_promise_or_scan():
    d = run(make_order("in_transit"), Track())
    assert (d.rule_id, d.outcome) == ("track.in_transit", A)


GRACE = POLICY.terms_for("US").delivery_grace_days


@pytest.mark.parametrize("promised, rule, outcome, days_late", [
    pytest.param(TODAY, "track.in_transit", A, None, id="promised_today"),
    pytest.param(TODAY - timedelta(days=GRACE), "track.in_transit", A, None, id="last_on_time_day"),
    pytest.param(TODAY - timedelta(days=GRACE + 1), "track.delayed", AC, GRACE + 1, id="first_late_day"),
    pytest.param(TODAY - timedelta(days=3), "track.in_transit", A, None, id="literal_3_days_grace"),
    pytest.param(TODAY - timedelta(days=4), "track.delayed", AC, 4, id="literal_4_days_past_promise"),
    pytest.param(TODAY - timedelta(days=20), "track.delayed", AC, 20, id="long_delayed"),
])
def test_track_delay_boundary(promised, rule, outcome, days_late):
    d = run(make_order("in_transit", promised_delivery_date=promised), Track())
    assert (d.rule_id, d.outcome) == (rule, outcome)
    assert d.facts["delivery_grace_days"] == GRACE == 3
    assert d.facts["late_after"] == promised + timedelta(days=3)
    if days_late is None:
        assert d.actions == ()
        assert "days_late" not in d.facts
    else:
        assert d.reason == "delayed"
        assert d.facts["days_late"] == days_late
        assert kinds(d) == ["open_case"]
        assert d.actions[0].params["type"] == "delivery_delay"


NO_SCAN = POLICY.terms_for("US").lost_parcel_no_scan_days
INVESTIGATION = POLICY.terms_for("US").lost_parcel_investigation_days


@pytest.mark.parametrize("silent_for, investigation", [
    pytest.param(timedelta(days=NO_SCAN) - timedelta(seconds=1), False, id="just_under_N_days"),
    pytest.param(timedelta(days=NO_SCAN - 1), False, id="N_minus_1_days"),
    pytest.param(timedelta(days=NO_SCAN), True, id="exactly_N_days"),
    pytest.param(timedelta(days=7), True, id="literal_7_days"),
    pytest.param(timedelta(days=6, hours=23), False, id="literal_6_days_23_hours"),
    pytest.param(timedelta(days=NO_SCAN + 5), True, id="long_silence"),
])
def test_track_no_scan_opens_lost_parcel_investigation(silent_for, investigation):
    last_scan = NOW - silent_for
    d = run(make_order("in_transit", last_scan_at=last_scan, promised_delivery_date=TODAY + timedelta(days=5)),
            Track())
    assert d.facts["last_scan_at"] == last_scan
    assert d.facts["lost_parcel_no_scan_days"] == NO_SCAN == 7
    assert d.facts["days_without_scan"] == silent_for.days
    if not investigation:
        assert (d.rule_id, d.outcome) == ("track.in_transit", A)
        assert d.actions == ()
        return
    deadline = NOW + timedelta(days=INVESTIGATION)
    assert deadline == datetime(2026, 11, 28, 10, 0, tzinfo=UTC)  # 10 days' investigation
    assert (d.rule_id, d.outcome, d.reason) == ("track.no_scan_investigation", AC, "no_scan")
    assert d.facts["investigation_deadline"] == deadline
    assert kinds(d) == ["open_case"]
    assert d.actions[0].params == {"type": "lost_parcel", "priority": "high", "deadline": deadline}
    assert d.offers == ("agent",)


def test_track_no_scan_takes_precedence_over_delay():
    d = run(make_order("in_transit", last_scan_at=NOW - timedelta(days=10),
                       promised_delivery_date=TODAY - timedelta(days=10)), Track())
    assert d.rule_id == "track.no_scan_investigation"


@pytest.mark.parametrize("country, duties, rate, threshold", [
    pytest.param("CH", "DDU", Decimal("8.1"), Decimal("70"), id="CH_DDU_with_rate_and_threshold"),
    pytest.param("CA", "DDU", Decimal("13"), Decimal("110"), id="CA_DDU"),
    pytest.param("EG", "DDU", None, None, id="defaults_DDU_unknown_rate"),
    pytest.param("DE", "DDP", None, None, id="DE_EU_DDP"),
    pytest.param("US", "DDP", None, None, id="US_DDP"),
])
def test_track_held_at_customs(country, duties, rate, threshold):
    d = run(make_order("held_at_customs", country=country, last_scan_at=NOW - timedelta(days=30)), Track())
    assert (d.rule_id, d.outcome, d.reason) == ("track.held_at_customs", AC, "held_at_customs")
    assert d.facts["duties"] == duties == POLICY.terms_for(country).duties
    assert d.facts["import_tax_rate_percent"] == rate
    assert d.facts["duty_free_threshold"] == threshold
    assert d.facts["base_currency"] == "USD"
    assert kinds(d) == ["open_case"]
    assert d.actions[0].params == {"type": "customs", "priority": "normal"}


def test_track_delivered():
    o = make_order("delivered", delivered_days_ago=2)
    d = run(o, Track())
    assert (d.rule_id, d.outcome, d.reason) == ("track.delivered", A, "delivered")
    assert d.facts["delivered_at"] == o.delivered_at
    assert d.actions == ()
    assert d.offers == ("return_flow",)


@pytest.mark.parametrize("status", ["cancelled", "returned"])
def test_track_closed(status):
    d = run(make_order(status), Track())
    assert (d.rule_id, d.outcome, d.reason) == ("track.closed", A, status)
    assert d.actions == () and d.offers == ()


# ---- cancel --------------------------------------------------------------------------------------

REFUND_DAYS = POLICY.terms_for("DE").refund_deadline_days


@pytest.mark.parametrize("status, paid, refunds, expected_refund", [
    pytest.param("paid", "80.00", (), Decimal("80.00"), id="paid_full_refund"),
    pytest.param("processing", "80.00", (), Decimal("80.00"), id="processing_full_refund"),
    pytest.param("paid", "80.00", (make_refund(amount="30.00", currency="EUR", status="issued"),),
                 Decimal("50.00"), id="paid_minus_issued_refund"),
    pytest.param("processing", "80.00", (make_refund(amount="30.00", currency="EUR", status="pending"),),
                 Decimal("50.00"), id="paid_minus_pending_refund"),
    pytest.param("paid", "80.00", (make_refund(amount="30.00", currency="EUR", status="failed"),),
                 Decimal("80.00"), id="failed_refund_not_deducted"),
])
def test_cancel_before_shipment_refunds_paid_minus_refunded(status, paid, refunds, expected_refund):
    o = make_order(status, country="DE", currency="EUR", total="80.00", paid=paid, refunds=refunds)
    d = run(o, Cancel("found_cheaper"))
    due = NOW + timedelta(days=REFUND_DAYS)
    assert due == datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # refund within 7 days
    assert (d.rule_id, d.outcome, d.reason) == ("cancel.before_shipment", A, "cancelled")
    assert kinds(d) == ["cancel_order", "refund"]
    assert d.action("cancel_order").params == {"reason": "found_cheaper"}
    assert d.action("refund").params == {"amount": expected_refund, "currency": "EUR", "reason": "cancellation",
                                         "due_at": due}
    assert d.facts["refund_amount"] == expected_refund
    assert d.facts["currency"] == "EUR"
    assert d.facts["refund_deadline_days"] == 7
    assert d.facts["refund_due_at"] == due
    assert d.facts["cancel_reason"] == "found_cheaper"


@pytest.mark.parametrize("status, paid, refunds", [
    pytest.param("pending_payment", "0", (), id="pending_payment_nothing_paid"),
    pytest.param("paid", "80.00", (make_refund(amount="80.00", status="issued"),), id="paid_already_refunded"),
])
def test_cancel_before_shipment_without_refund(status, paid, refunds):
    d = run(make_order(status, total="80.00", paid=paid, refunds=refunds), Cancel("mistake"))
    assert (d.rule_id, d.outcome) == ("cancel.before_shipment", A)
    assert kinds(d) == ["cancel_order"]
    assert d.facts["refund_amount"] == Decimal("0")
    assert "refund_due_at" not in d.facts


def test_cancel_already_cancelled():
    d = run(make_order("cancelled"), Cancel("mistake"))
    assert (d.rule_id, d.outcome, d.reason) == ("cancel.already_cancelled", D, "already_cancelled")
    assert d.actions == ()


@pytest.mark.parametrize("status", IN_TRANSIT)
def test_cancel_after_shipment(status):
    assert status in ("shipped", "in_transit", "held_at_customs", "out_for_delivery")
    d = run(make_order(status), Cancel("too_slow"))
    assert (d.rule_id, d.outcome, d.reason) == ("cancel.after_shipment", D, "already_shipped")
    assert d.actions == ()
    assert d.offers == ("refuse_delivery", "return_after_delivery")
    assert d.facts["cancel_reason"] == "too_slow"


def test_cancel_delivered():
    d = run(make_order("delivered"), Cancel("changed_mind"))
    assert (d.rule_id, d.outcome, d.reason) == ("cancel.delivered", D, "delivered_use_return")
    assert d.actions == ()
    assert d.offers == ("return_flow",)


def test_cancel_returned_order_is_closed():
    d = run(make_order("returned"), Cancel("x"))
    assert (d.rule_id, d.outcome, d.reason) == ("cancel.closed", D, "returned")


# ---- change address ------------------------------------------------------------------------------

@pytest.mark.parametrize("status", BEFORE_SHIPMENT)
def test_change_address_before_shipment(status):
    new = Address("Tom Smith", "10 Downing St", "London", "gb", " sw1a2aa ")
    d = run(make_order(status, country="GB", currency="GBP", total="500.00"), ChangeAddress(new))
    assert (d.rule_id, d.outcome, d.reason) == ("address.before_shipment", A, "updated")
    assert kinds(d) == ["update_address"]
    updated = d.action("update_address").params["address"]
    assert updated.country == "GB"
    assert updated.postcode == "SW1A 2AA"  # normalised
    assert d.facts["new_address"]["postcode"] == "SW1A 2AA"


@pytest.mark.parametrize("country, address, problems", [
    pytest.param("DE", Address("Jan Meyer", "Unter den Linden 1", "Berlin", "DE", "1011"), ["postcode"],
                 id="DE_postcode_too_short"),
    pytest.param("US", Address("Ann Lee", "1 Market St", "San Francisco", "US", "94105"), ["region"],
                 id="US_missing_state"),
    pytest.param("US", Address("Ann Lee", "1 Market St", "San Francisco", "US", "ABCDE"), ["region", "postcode"],
                 id="US_missing_state_and_bad_zip"),
    pytest.param("GB", Address("Tom Smith", "10 Downing St", "London", "GB", "12345"), ["postcode"],
                 id="GB_numeric_postcode"),
    pytest.param("DE", Address("Jan Meyer", " ", "Berlin", "DE", "10115"), ["line1"], id="DE_blank_street"),
])
@pytest.mark.parametrize("status", ["paid", "in_transit"])
def test_change_address_invalid(status, country, address, problems):
    d = run(make_order(status, country=country), ChangeAddress(address))
    assert (d.rule_id, d.outcome, d.reason) == ("address.invalid", D, "invalid_address")
    assert d.facts["problems"] == problems
    assert d.actions == ()


INTERCEPT_MAX = POLICY.terms_for("US").intercept_reship_max_value


@pytest.mark.parametrize("country, currency, total, value_base, allowed", [
    pytest.param("US", "USD", "100.00", Decimal("100.00"), True, id="USD_exactly_at_limit"),
    pytest.param("US", "USD", "100.01", Decimal("100.01"), False, id="USD_one_cent_above"),
    pytest.param("US", "USD", "12.00", Decimal("12.00"), True, id="USD_cheap"),
    # 92.59 EUR x 1.08 = 99.9972 -> 100.00 USD; 92.60 EUR x 1.08 = 100.008 -> 100.01 USD
    pytest.param("DE", "EUR", "92.59", Decimal("100.00"), True, id="EUR_converted_at_limit"),
    pytest.param("DE", "EUR", "92.60", Decimal("100.01"), False, id="EUR_converted_one_cent_above"),
    pytest.param("DE", "EUR", "100.00", Decimal("108.00"), False, id="EUR_100_is_108_USD"),
    # 400.00 PLN x 0.25 = 100.00 USD exactly; 400.04 PLN = 100.01 USD
    pytest.param("PL", "PLN", "400.00", Decimal("100.00"), True, id="PLN_exactly_at_limit"),
    pytest.param("PL", "PLN", "400.04", Decimal("100.01"), False, id="PLN_one_cent_above"),
])
def test_change_address_after_shipment_intercept_limit(country, currency, total, value_base, allowed):
    o = make_order("in_transit", country=country, currency=currency, total=total)
    d = run(o, ChangeAddress(ADDRESSES[country]))
    assert INTERCEPT_MAX == Decimal("100")
    assert d.facts["order_value_base"] == value_base
    assert d.facts["base_currency"] == "USD"
    assert d.facts["intercept_reship_max_value"] == INTERCEPT_MAX
    if allowed:
        assert (d.rule_id, d.outcome, d.reason) == ("address.intercept_and_reship", AC, "intercept_and_reship")
        assert kinds(d) == ["intercept_and_reship", "open_case"]
        assert d.action("intercept_and_reship").params == {"address": ADDRESSES[country].normalised()}
        assert d.action("open_case").params == {"type": "address_change", "priority": "normal"}
        assert d.offers == ()
    else:
        assert (d.rule_id, d.outcome, d.reason) == ("address.shipped_high_value", D, "shipped_high_value")
        assert d.actions == ()
        assert d.offers == ("agent",)


@pytest.mark.parametrize("status", IN_TRANSIT)
def test_change_address_intercept_for_each_in_transit_status(status):
    d = run(make_order(status, total="50.00"), ChangeAddress(ADDRESSES["US"]))
    assert d.rule_id == "address.intercept_and_reship"


@pytest.mark.parametrize("status", ["paid", "in_transit"])
def test_change_address_country_change_needs_agent(status):
    d = run(make_order(status, country="DE", currency="EUR", total="20.00"), ChangeAddress(ADDRESSES["FR"]))
    assert (d.rule_id, d.outcome, d.reason) == ("address.country_change", NA, "country_change")
    assert kinds(d) == ["open_case", "escalate"]
    assert d.action("open_case").params == {"type": "address_change", "priority": "normal"}
    assert d.action("escalate").params == {"priority": "normal", "reason": "country_change",
                                           "sla_due_at": SLA_NORMAL}
    assert d.offers == ("agent",)


@pytest.mark.parametrize("status, reason", [("delivered", "delivered"), ("cancelled", "cancelled"),
                                            ("returned", "returned")])
def test_change_address_too_late(status, reason):
    d = run(make_order(status), ChangeAddress(ADDRESSES["US"]))
    assert (d.rule_id, d.outcome, d.reason) == ("address.too_late", D, reason)
    assert d.actions == ()


# ---- returns without seller fault ----------------------------------------------------------------

@pytest.mark.parametrize("country, window, basis, rule", [
    pytest.param("EG", 7, "shop_policy", "return.within_window", id="defaults_7_days"),
    pytest.param("SA", 7, "shop_policy", "return.within_window", id="GCC_region_7_days"),
    pytest.param("CH", 7, "shop_policy", "return.within_window", id="CH_own_market_7_days"),
    pytest.param("DE", 14, "statutory_withdrawal", "return.within_statutory_withdrawal", id="DE_EU_statutory_14"),
    pytest.param("FR", 14, "statutory_withdrawal", "return.within_statutory_withdrawal", id="FR_EU_statutory_14"),
    pytest.param("GB", 14, "statutory_withdrawal", "return.within_statutory_withdrawal", id="GB_statutory_14"),
    pytest.param("TR", 14, "statutory_withdrawal", "return.within_statutory_withdrawal", id="TR_statutory_14"),
    pytest.param("US", 30, "shop_policy", "return.within_window", id="US_shop_30"),
    pytest.param("CA", 30, "shop_policy", "return.within_window", id="CA_shop_30"),
    pytest.param("BR", 7, "statutory_withdrawal", "return.within_statutory_withdrawal",
                 id="BR_statutory_7_equals_shop_7"),
])
@pytest.mark.parametrize("reason", ["changed_mind", "doesnt_fit"])
def test_no_fault_return_window_per_market(country, window, basis, rule, reason):
    terms = POLICY.terms_for(country)
    assert terms.return_window_days == window  # pinned literal from policy.yml
    for days in (0, window):
        o = make_order("delivered", country=country, delivered_days_ago=days)
        d = run(o, ReturnItems(((1, 1),), reason))
        assert (d.rule_id, d.outcome, d.reason) == (rule, A, "return_created"), f"day {days}"
        assert d.facts["return_window_days"] == window
        assert d.facts["window_basis"] == basis
        assert d.facts["days_since_delivery"] == days
        assert d.facts["last_return_day"] == o.delivered_at.date() + timedelta(days=window)
        assert kinds(d) == ["open_case", "create_return"]
    o = make_order("delivered", country=country, delivered_days_ago=window + 1)
    d = run(o, ReturnItems(((1, 1),), reason))
    assert (d.rule_id, d.outcome, d.reason) == ("return.window_expired", D, "window_expired")
    assert d.facts["days_since_delivery"] == window + 1
    assert d.facts["return_window_days"] == window
    assert d.facts["window_basis"] == basis
    assert d.actions == ()
    assert d.offers == ("agent",)


@pytest.mark.parametrize("country, reason, payer, methods", [
    pytest.param("EG", "changed_mind", "customer", ["post_office"], id="defaults_changed_mind_customer"),
    pytest.param("EG", "doesnt_fit", "customer", ["post_office"], id="defaults_doesnt_fit_customer"),
    pytest.param("EG", "arrived_late", "shop", ["post_office"], id="defaults_arrived_late_shop"),
    pytest.param("DE", "changed_mind", "customer", ["post_office", "parcel_locker", "courier_pickup"],
                 id="DE_changed_mind_customer"),
    pytest.param("DE", "arrived_late", "shop", ["post_office", "parcel_locker", "courier_pickup"],
                 id="DE_arrived_late_shop"),
    pytest.param("US", "changed_mind", "customer", ["post_office", "courier_pickup", "drop_off_point"],
                 id="US_changed_mind_customer"),
    pytest.param("SA", "arrived_late", "shop", ["courier_pickup"], id="GCC_arrived_late_shop"),
])
def test_no_fault_return_who_pays_shipping(country, reason, payer, methods):
    d = run(make_order("delivered", country=country, items=[make_item(1, quantity=2)]),
            ReturnItems(((1, 2),), reason))
    assert d.outcome == A
    assert d.facts["seller_fault"] is False
    assert d.facts["return_reason"] == reason
    assert d.facts["shipping_paid_by"] == payer == POLICY.terms_for(country).return_shipping_paid_by[reason]
    assert d.facts["return_methods"] == tuple(methods)
    assert d.facts["resolution"] == "refund"
    assert d.facts["refund_deadline_days"] == 7
    assert d.facts["conditions"] == []
    assert d.facts["excluded_items"] == []
    assert d.action("open_case").params == {"type": "return", "priority": "normal"}
    assert d.action("create_return").params == {"items": [(1, 2)], "reason": reason, "resolution": "refund",
                                                "shipping_paid_by": payer, "methods": methods}


@pytest.mark.parametrize("items, request_items, excluded", [
    pytest.param([make_item(1, returnability="final_sale", name="Sale tee")], ((1, 1),),
                 [{"name": "Sale tee", "returnability": "final_sale"}], id="final_sale"),
    pytest.param([make_item(1, returnability="customised", name="Engraved mug")], ((1, 1),),
                 [{"name": "Engraved mug", "returnability": "customised"}], id="customised"),
    pytest.param([make_item(1, returnability="final_sale", name="Sale tee"),
                  make_item(2, returnability="customised", name="Engraved mug")], ((1, 1), (2, 1)),
                 [{"name": "Sale tee", "returnability": "final_sale"},
                  {"name": "Engraved mug", "returnability": "customised"}], id="final_sale_and_customised"),
])
def test_no_fault_return_all_items_excluded(items, request_items, excluded):
    d = run(make_order("delivered", items=items), ReturnItems(request_items, "changed_mind"))
    assert (d.rule_id, d.outcome, d.reason) == ("return.not_returnable", D, "not_returnable")
    assert d.facts["excluded_items"] == excluded
    assert d.actions == ()


@pytest.mark.parametrize("excluded_kind", ["final_sale", "customised"])
def test_no_fault_return_mixed_items_is_partial(excluded_kind):
    items = [make_item(1, name="Jeans"), make_item(2, returnability=excluded_kind, name="Special")]
    d = run(make_order("delivered", items=items), ReturnItems(((1, 1), (2, 1)), "changed_mind"))
    assert (d.rule_id, d.outcome) == ("return.within_window", AC)
    assert d.facts["conditions"] == ["partial"]
    assert d.facts["excluded_items"] == [{"name": "Special", "returnability": excluded_kind}]
    assert d.action("create_return").params["items"] == [(1, 1)]


def test_no_fault_return_hygiene_item_must_be_sealed():
    items = [make_item(1, returnability="hygiene", name="Earbuds")]
    d = run(make_order("delivered", items=items), ReturnItems(((1, 1),), "changed_mind"))
    assert (d.rule_id, d.outcome) == ("return.within_window", AC)
    assert d.facts["conditions"] == ["hygiene_sealed"]
    assert d.facts["sealed_only_items"] == ["Earbuds"]
    assert d.action("create_return").params["items"] == [(1, 1)]


def test_no_fault_return_hygiene_and_excluded_items_carry_both_conditions():
    items = [make_item(1, returnability="hygiene", name="Earbuds"), make_item(2, returnability="final_sale")]
    d = run(make_order("delivered", items=items), ReturnItems(((1, 1), (2, 1)), "changed_mind"))
    assert d.outcome == AC
    assert d.facts["conditions"] == ["hygiene_sealed", "partial"]


@pytest.mark.parametrize("stock, resolution", [
    pytest.param((True,), "exchange", id="in_stock_exchange"),
    pytest.param((False,), "refund", id="out_of_stock_refund"),
    pytest.param((True, True), "exchange", id="all_in_stock_exchange"),
    pytest.param((True, False), "refund", id="one_out_of_stock_refund"),
])
def test_no_fault_exchange_depends_on_stock(stock, resolution):
    items = [make_item(i + 1, in_stock=s) for i, s in enumerate(stock)]
    request_items = tuple((i.id, 1) for i in items)
    d = run(make_order("delivered", items=items), ReturnItems(request_items, "doesnt_fit", resolution="exchange"))
    assert (d.rule_id, d.outcome) == ("return.within_window", A)
    assert d.facts["resolution"] == resolution
    assert d.facts["exchange_in_stock"] is (resolution == "exchange")
    assert d.action("create_return").params["resolution"] == resolution
    assert d.facts["shipping_paid_by"] == "customer"


@pytest.mark.parametrize("reason", ["changed_mind", "damaged"])
def test_return_already_fully_returned(reason):
    items = [make_item(1, quantity=2, returned_quantity=2)]
    d = run(make_order("delivered", items=items), ReturnItems(((1, 2),), reason))
    assert (d.rule_id, d.outcome, d.reason) == ("return.already_returned", D, "already_returned")
    assert d.actions == ()


def test_return_quantity_is_capped_at_what_is_left():
    items = [make_item(1, quantity=3, returned_quantity=1)]
    d = run(make_order("delivered", items=items), ReturnItems(((1, 5),), "changed_mind"))
    assert d.action("create_return").params["items"] == [(1, 2)]


@pytest.mark.parametrize("status", BEFORE_SHIPMENT)
@pytest.mark.parametrize("reason", ["changed_mind", "damaged"])
def test_return_not_shipped(status, reason):
    d = run(make_order(status), ReturnItems(((1, 1),), reason))
    assert (d.rule_id, d.outcome, d.reason) == ("return.not_shipped", D, "not_shipped_cancel_instead")
    assert d.offers == ("cancel_flow",)
    assert d.actions == ()


@pytest.mark.parametrize("status", IN_TRANSIT)
@pytest.mark.parametrize("reason", ["changed_mind", "damaged"])
def test_return_not_delivered(status, reason):
    d = run(make_order(status), ReturnItems(((1, 1),), reason))
    assert (d.rule_id, d.outcome, d.reason) == ("return.not_delivered", D, "not_delivered_refuse")
    assert d.offers == ("refuse_delivery",)
    assert d.actions == ()


@pytest.mark.parametrize("status", ["cancelled", "returned"])
def test_return_closed(status):
    d = run(make_order(status), ReturnItems(((1, 1),), "changed_mind"))
    assert (d.rule_id, d.outcome, d.reason) == ("return.closed", D, status)


@pytest.mark.parametrize("reason", ["damaged", "changed_mind"])
def test_return_same_item_listed_twice_is_not_returned_or_refunded_twice(reason):
    """One unit bought: naming it twice must not return (or refund) two units. Rejecting the request with
    ValueError, like an unknown item, is fine too."""
    o = make_order("delivered", items=[make_item(1, unit_price="10.00", quantity=1)])
    try:
        d = run(o, ReturnItems(((1, 1), (1, 1)), reason))
    except ValueError:
        return
    for action in d.actions:
        if "items" in action.params:
            assert sum(q for _, q in action.params["items"]) == 1, action
    if d.action("refund"):
        assert d.action("refund").params["amount"] == Decimal("10.00")


@pytest.mark.parametrize("request_items", [((99, 1),), ((1, 0),)], ids=["unknown_item", "zero_quantity"])
def test_return_bad_items_raise(request_items):
    with pytest.raises(ValueError):
        run(make_order("delivered"), ReturnItems(request_items, "changed_mind"))


# ---- returns with seller fault -------------------------------------------------------------------

KEEP_IT_MAX = POLICY.terms_for("US").keep_it_refund_max_value


@pytest.mark.parametrize("country, currency, unit_price, quantity, value, value_base, keep_it", [
    pytest.param("US", "USD", "15.00", 1, Decimal("15.00"), Decimal("15.00"), True, id="USD_exactly_at_limit"),
    pytest.param("US", "USD", "7.50", 2, Decimal("15.00"), Decimal("15.00"), True,
                 id="USD_two_units_at_limit"),
    pytest.param("US", "USD", "15.01", 1, Decimal("15.01"), Decimal("15.01"), False, id="USD_one_cent_above"),
    pytest.param("US", "USD", "7.51", 2, Decimal("15.02"), Decimal("15.02"), False,
                 id="USD_two_units_above"),
    # 13.88 EUR x 1.08 = 14.9904 -> 14.99 USD; 13.90 EUR x 1.08 = 15.012 -> 15.01 USD
    pytest.param("DE", "EUR", "13.88", 1, Decimal("13.88"), Decimal("14.99"), True, id="EUR_below_limit"),
    pytest.param("DE", "EUR", "13.90", 1, Decimal("13.90"), Decimal("15.01"), False, id="EUR_above_limit"),
    pytest.param("PL", "PLN", "60.00", 1, Decimal("60.00"), Decimal("15.00"), True, id="PLN_exactly_at_limit"),
    pytest.param("PL", "PLN", "60.04", 1, Decimal("60.04"), Decimal("15.01"), False, id="PLN_one_cent_above"),
])
def test_fault_keep_it_refund_limit(country, currency, unit_price, quantity, value, value_base, keep_it):
    items = [make_item(1, unit_price=unit_price, quantity=quantity), make_item(2, unit_price="500.00")]
    o = make_order("delivered", country=country, currency=currency, items=items)
    d = run(o, ReturnItems(((1, quantity),), "damaged"))
    assert KEEP_IT_MAX == Decimal("15")
    assert d.facts["seller_fault"] is True
    assert d.facts["items_value"] == value
    assert d.facts["currency"] == currency
    assert d.facts["items_value_base"] == value_base
    assert d.facts["keep_it_refund_max_value"] == KEEP_IT_MAX
    assert d.facts["base_currency"] == "USD"
    if keep_it:
        due = NOW + timedelta(days=7)
        assert (d.rule_id, d.outcome, d.reason) == ("return.fault_keep_it", A, "refund_without_return")
        assert kinds(d) == ["open_case", "refund"]
        assert d.action("open_case").params == {"type": "item_problem", "priority": "normal"}
        # the refunded items are named, so that the service settles them and they cannot be claimed twice
        assert d.action("refund").params == {"amount": value, "currency": currency, "reason": "keep_it",
                                             "due_at": due, "items": [(1, quantity)]}
        assert d.facts["refund_amount"] == value
        assert d.facts["refund_due_at"] == due
        assert d.action("create_return") is None
    else:
        assert (d.rule_id, d.outcome, d.reason) == ("return.fault_return", A, "seller_paid_return")
        assert d.action("refund") is None
        assert d.action("create_return").params["shipping_paid_by"] == "shop"


@pytest.mark.parametrize("reason", SELLER_FAULT_REASONS)
@pytest.mark.parametrize("country, methods", [
    pytest.param("EG", ["post_office"], id="defaults"),
    pytest.param("DE", ["post_office", "parcel_locker", "courier_pickup"], id="DE_EU"),
    pytest.param("US", ["post_office", "courier_pickup", "drop_off_point"], id="US"),
    pytest.param("KR", ["courier_pickup"], id="KR"),
])
def test_fault_seller_paid_return(reason, country, methods):
    d = run(make_order("delivered", country=country, items=[make_item(1, unit_price="80.00")]),
            ReturnItems(((1, 1),), reason))
    assert (d.rule_id, d.outcome, d.reason) == ("return.fault_return", A, "seller_paid_return")
    assert d.facts["seller_fault"] is True
    assert d.facts["shipping_paid_by"] == "shop"
    assert d.facts["resolution"] == "refund"
    assert d.facts["return_methods"] == tuple(methods)
    assert d.facts["refund_deadline_days"] == 7
    assert kinds(d) == ["open_case", "create_return"]
    assert d.action("open_case").params == {"type": "item_problem", "priority": "normal"}
    assert d.action("create_return").params == {"items": [(1, 1)], "reason": reason, "resolution": "refund",
                                                "shipping_paid_by": "shop", "methods": methods}


@pytest.mark.parametrize("unit_price", ["5.00", "80.00"], ids=["cheap", "expensive"])
@pytest.mark.parametrize("in_stock, resolution", [(True, "replacement"), (False, "refund")],
                         ids=["in_stock_replacement", "out_of_stock_refund"])
def test_fault_exchange_gives_replacement_when_in_stock(unit_price, in_stock, resolution):
    d = run(make_order("delivered", items=[make_item(1, unit_price=unit_price, in_stock=in_stock)]),
            ReturnItems(((1, 1),), "defective", resolution="exchange"))
    assert (d.rule_id, d.outcome) == ("return.fault_return", A)
    assert d.facts["resolution"] == resolution
    assert d.facts["replacement_in_stock"] is in_stock
    assert d.action("create_return").params["resolution"] == resolution
    assert d.action("create_return").params["shipping_paid_by"] == "shop"
    assert d.action("refund") is None


@pytest.mark.parametrize("stock, resolution", [
    pytest.param((True, True), "replacement", id="all_in_stock"),
    pytest.param((True, False), "refund", id="one_out_of_stock"),
])
def test_fault_exchange_of_several_items_needs_all_in_stock(stock, resolution):
    items = [make_item(i + 1, unit_price="50.00", in_stock=s) for i, s in enumerate(stock)]
    d = run(make_order("delivered", items=items), ReturnItems(((1, 1), (2, 1)), "wrong_item", resolution="exchange"))
    assert d.rule_id == "return.fault_return"
    assert d.facts["resolution"] == resolution
    assert d.action("create_return").params["items"] == [(1, 1), (2, 1)]


QUALITY_DAYS = POLICY.terms_for("US").quality_claim_days


@pytest.mark.parametrize("country", ["US", "DE", "EG"])
@pytest.mark.parametrize("days, unit_price, rule, outcome", [
    pytest.param(QUALITY_DAYS, "80.00", "return.fault_return", A, id="last_day_return"),
    pytest.param(QUALITY_DAYS, "10.00", "return.fault_keep_it", A, id="last_day_keep_it"),
    pytest.param(30, "80.00", "return.fault_return", A, id="literal_day_30"),
    pytest.param(QUALITY_DAYS + 1, "80.00", "return.fault_outside_window", NA, id="day_after"),
    pytest.param(QUALITY_DAYS + 1, "10.00", "return.fault_outside_window", NA, id="day_after_cheap"),
    pytest.param(31, "80.00", "return.fault_outside_window", NA, id="literal_day_31"),
])
def test_fault_quality_claim_window(country, days, unit_price, rule, outcome):
    d = run(make_order("delivered", country=country, delivered_days_ago=days,
                       items=[make_item(1, unit_price=unit_price)]),
            ReturnItems(((1, 1),), "defective"))
    assert (d.rule_id, d.outcome) == (rule, outcome)
    assert d.facts["quality_claim_days"] == QUALITY_DAYS == 30
    assert d.facts["days_since_delivery"] == days
    if outcome == NA:
        assert d.reason == "fault_outside_window"
        assert kinds(d) == ["open_case", "escalate"]
        assert d.action("open_case").params == {"type": "item_problem", "priority": "normal"}
        assert d.action("escalate").params == {"priority": "normal", "reason": "fault_outside_window",
                                               "sla_due_at": SLA_NORMAL}
        assert d.offers == ("agent",)


@pytest.mark.parametrize("returnability", ["final_sale", "customised", "hygiene"])
@pytest.mark.parametrize("unit_price, rule", [("10.00", "return.fault_keep_it"), ("80.00", "return.fault_return")],
                         ids=["keep_it", "seller_paid_return"])
def test_fault_claim_allowed_for_non_returnable_items(returnability, unit_price, rule):
    items = [make_item(1, returnability=returnability, unit_price=unit_price)]
    d = run(make_order("delivered", items=items), ReturnItems(((1, 1),), "damaged"))
    assert (d.rule_id, d.outcome) == (rule, A)


@pytest.mark.parametrize("status", ["delivered", "paid", "in_transit"])
def test_unknown_return_reason_raises(status):
    with pytest.raises(ValueError, match="unknown return reason"):
        run(make_order(status), ReturnItems(((1, 1),), "bored"))


# ---- refund status -------------------------------------------------------------------------------

def test_refund_status_none():
    d = run(make_order("delivered"), RefundStatus())
    assert (d.rule_id, d.outcome, d.reason) == ("refund.none", A, "no_refund")
    assert d.actions == ()


def test_refund_status_only_failed_refunds_is_none():
    d = run(make_order("delivered", refunds=[make_refund(status="failed", due_at=NOW - timedelta(days=5))]),
            RefundStatus())
    assert d.rule_id == "refund.none"


def test_refund_status_issued():
    issued_at = NOW - timedelta(days=1)
    r = make_refund(amount="25.00", currency="EUR", reason="keep_it", status="issued",
                    due_at=NOW + timedelta(days=3), issued_at=issued_at)
    d = run(make_order("delivered", country="DE", currency="EUR", refunds=[r]), RefundStatus())
    assert (d.rule_id, d.outcome, d.reason) == ("refund.issued", A, "issued")
    assert d.facts["issued_at"] == issued_at
    assert d.facts["refund_amount"] == Decimal("25.00")
    assert d.facts["currency"] == "EUR"
    assert d.facts["refund_reason"] == "keep_it"
    assert d.facts["refund_status"] == "issued"
    assert d.actions == ()


@pytest.mark.parametrize("due_at", [
    pytest.param(NOW, id="due_exactly_now"),
    pytest.param(NOW + timedelta(seconds=1), id="due_in_one_second"),
    pytest.param(NOW + timedelta(days=6), id="due_in_six_days"),
])
def test_refund_status_pending_on_time(due_at):
    d = run(make_order("delivered", refunds=[make_refund(due_at=due_at)]), RefundStatus())
    assert (d.rule_id, d.outcome, d.reason) == ("refund.on_time", A, "pending_on_time")
    assert d.facts["refund_due_at"] == due_at
    assert d.facts["refund_status"] == "pending"
    assert d.actions == ()


@pytest.mark.parametrize("due_at, days_overdue", [
    pytest.param(NOW - timedelta(seconds=1), 0, id="one_second_late"),
    pytest.param(NOW - timedelta(days=3), 3, id="three_days_late"),
])
def test_refund_status_overdue_escalates(due_at, days_overdue):
    d = run(make_order("delivered", refunds=[make_refund(amount="40.00", due_at=due_at)]), RefundStatus())
    assert (d.rule_id, d.outcome, d.reason) == ("refund.overdue", NA, "overdue")
    assert d.facts["days_overdue"] == days_overdue
    assert d.facts["refund_due_at"] == due_at
    assert d.facts["agent_due_at"] == SLA_HIGH
    assert kinds(d) == ["open_case", "escalate"]
    assert d.action("open_case").params == {"type": "refund", "priority": "high"}
    assert d.action("escalate").params == {"priority": "high", "reason": "refund_overdue", "sla_due_at": SLA_HIGH}
    assert d.offers == ("agent",)


def test_refund_status_reports_the_latest_refund():
    refunds = [make_refund(1, amount="10.00", status="issued", due_at=NOW - timedelta(days=10),
                           issued_at=NOW - timedelta(days=11)),
               make_refund(2, amount="20.00", status="pending", due_at=NOW + timedelta(days=4))]
    d = run(make_order("delivered", refunds=refunds), RefundStatus())
    assert d.rule_id == "refund.on_time"
    assert d.facts["refund_amount"] == Decimal("20.00")


def test_refund_status_overdue_refund_is_not_hidden_by_a_later_refund():
    """A pending refund past its deadline must be escalated (POLICY-BRIEF: a late refund is escalated,
    not answered with "please wait"), even when the order also has a later refund that was issued."""
    refunds = [make_refund(1, amount="60.00", reason="cancellation", status="pending",
                           due_at=NOW - timedelta(days=3)),
               make_refund(2, amount="5.00", reason="keep_it", status="issued", due_at=NOW + timedelta(days=5),
                           issued_at=NOW - timedelta(days=1))]
    d = run(make_order("delivered", refunds=refunds), RefundStatus())
    assert (d.rule_id, d.outcome) == ("refund.overdue", NA)
    assert d.facts["refund_amount"] == Decimal("60.00")
    assert d.action("escalate").params["priority"] == "high"


def test_refund_status_reports_the_longest_overdue_refund():
    refunds = [make_refund(1, amount="10.00", status="pending", due_at=NOW - timedelta(days=1)),
               make_refund(2, amount="20.00", status="pending", due_at=NOW - timedelta(days=4)),
               make_refund(3, amount="30.00", status="pending", due_at=NOW + timedelta(days=4))]
    d = run(make_order("delivered", refunds=refunds), RefundStatus())
    assert d.rule_id == "refund.overdue"
    assert d.facts["refund_amount"] == Decimal("20.00")
    assert d.facts["days_overdue"] == 4


# ---- customs -------------------------------------------------------------------------------------

@pytest.mark.parametrize("country, rule, duties, rate, threshold", [
    pytest.param("DE", "customs.terms_ddp", "DDP", None, None, id="DE_EU_DDP"),
    pytest.param("GB", "customs.terms_ddp", "DDP", None, None, id="GB_DDP"),
    pytest.param("US", "customs.terms_ddp", "DDP", None, None, id="US_DDP"),
    pytest.param("AU", "customs.terms_ddp", "DDP", None, None, id="AU_DDP"),
    pytest.param("CH", "customs.terms_ddu", "DDU", Decimal("8.1"), Decimal("70"), id="CH_DDU"),
    pytest.param("CA", "customs.terms_ddu", "DDU", Decimal("13"), Decimal("110"), id="CA_DDU"),
    pytest.param("BR", "customs.terms_ddu", "DDU", Decimal("60"), Decimal("50"), id="BR_DDU"),
    pytest.param("TR", "customs.terms_ddu", "DDU", Decimal("60"), None, id="TR_DDU_no_threshold"),
    pytest.param("SA", "customs.terms_ddu", "DDU", Decimal("5"), Decimal("270"), id="SA_GCC_DDU"),
    pytest.param("EG", "customs.terms_ddu", "DDU", None, None, id="defaults_DDU"),
])
@pytest.mark.parametrize("status", ["paid", "in_transit", "delivered"])
def test_customs_terms(country, rule, duties, rate, threshold, status):
    d = run(make_order(status, country=country), Customs())
    assert (d.rule_id, d.outcome, d.reason) == (rule, A, duties)
    assert d.facts["duties"] == duties
    assert d.facts["import_tax_rate_percent"] == rate
    assert d.facts["duty_free_threshold"] == threshold
    assert d.facts["base_currency"] == "USD"
    assert d.actions == ()


@pytest.mark.parametrize("country, duties", [("CH", "DDU"), ("DE", "DDP")])
def test_customs_held(country, duties):
    d = run(make_order("held_at_customs", country=country), Customs())
    assert (d.rule_id, d.outcome, d.reason) == ("customs.held", AC, "held_at_customs")
    assert d.facts["duties"] == duties
    assert kinds(d) == ["open_case"]
    assert d.action("open_case").params == {"type": "customs", "priority": "normal"}


# ---- complaints, hand-off, argument checks --------------------------------------------------------

@pytest.mark.parametrize("with_order", [True, False], ids=["with_order", "without_order"])
@pytest.mark.parametrize("legal_threat, rule, priority, due", [
    pytest.param(False, "complaint.escalate", "high", SLA_HIGH, id="complaint"),
    pytest.param(True, "complaint.legal_threat", "urgent", SLA_URGENT, id="legal_threat"),
])
def test_complaint(with_order, legal_threat, rule, priority, due):
    order = make_order("delivered") if with_order else None
    d = run(order, Complaint(legal_threat=legal_threat))
    assert (d.rule_id, d.outcome, d.reason) == (rule, NA, "complaint")
    assert d.facts["priority"] == priority
    assert d.facts["agent_due_at"] == due
    assert kinds(d) == ["open_case", "escalate"]
    assert d.action("open_case").params == {"type": "complaint", "priority": priority}
    assert d.action("escalate").params == {"priority": priority, "reason": "complaint", "sla_due_at": due}
    assert d.offers == ("agent",)
    assert ("order_number" in d.facts) is with_order


@pytest.mark.parametrize("with_order", [True, False], ids=["with_order", "without_order"])
@pytest.mark.parametrize("reason", ["shopper_asked", "repeated_fallback"])
def test_handoff(with_order, reason):
    d = run(make_order("in_transit") if with_order else None, Handoff(reason))
    assert (d.rule_id, d.outcome, d.reason) == ("handoff.requested", NA, reason)
    assert d.facts["agent_due_at"] == SLA_NORMAL
    assert kinds(d) == ["open_case", "escalate"]
    assert d.action("open_case").params == {"type": "handoff", "priority": "normal"}
    assert d.action("escalate").params == {"priority": "normal", "reason": reason, "sla_due_at": SLA_NORMAL}
    assert d.offers == ("agent",)


@pytest.mark.parametrize("request_", [
    Track(), Cancel("x"), ChangeAddress(ADDRESSES["US"]), ReturnItems(((1, 1),), "changed_mind"),
    RefundStatus(), Customs(),
], ids=lambda r: r.kind)
def test_request_needing_an_order_without_one_raises(request_):
    with pytest.raises(ValueError, match="needs an order"):
        decide(None, request_, NOW, POLICY)


@pytest.mark.parametrize("order, request_", [
    pytest.param(make_order("in_transit"), Track(), id="track"),
    pytest.param(None, Complaint(), id="complaint_without_order"),
])
def test_naive_now_raises(order, request_):
    with pytest.raises(ValueError, match="timezone-aware"):
        decide(order, request_, datetime(2026, 11, 18, 10, 0), POLICY)


def test_engine_is_pure_same_inputs_same_decision():
    o = make_order("delivered", items=[make_item(1, unit_price="80.00")])
    req = ReturnItems(((1, 1),), "changed_mind")
    assert decide(o, req, NOW, POLICY) == decide(o, req, NOW, POLICY)


# ---- SLA and business hours ----------------------------------------------------------------------

def berlin(*args) -> datetime:
    return datetime(*args, tzinfo=POLICY.business_hours.timezone)


@pytest.mark.parametrize("start, priority, due", [
    pytest.param(NOW, "urgent", SLA_URGENT, id="wed_urgent"),
    pytest.param(NOW, "high", SLA_HIGH, id="wed_high"),
    pytest.param(NOW, "normal", SLA_NORMAL, id="wed_normal_spills_to_thursday"),
    pytest.param(NOW, "low", SLA_LOW, id="wed_low_three_days"),
    pytest.param(berlin(2026, 11, 18, 7, 0), "high", berlin(2026, 11, 18, 13, 0), id="before_opening"),
    pytest.param(berlin(2026, 11, 18, 14, 0), "high", berlin(2026, 11, 18, 18, 0), id="ends_exactly_at_close"),
    pytest.param(berlin(2026, 11, 18, 18, 0), "high", berlin(2026, 11, 19, 13, 0), id="exactly_at_close"),
    pytest.param(berlin(2026, 11, 20, 16, 0), "high", berlin(2026, 11, 23, 11, 0), id="friday_afternoon_to_monday"),
    pytest.param(berlin(2026, 11, 20, 19, 0), "high", berlin(2026, 11, 23, 13, 0), id="friday_after_close"),
    pytest.param(berlin(2026, 11, 20, 19, 0), "urgent", berlin(2026, 11, 23, 10, 0), id="friday_night_urgent"),
    pytest.param(berlin(2026, 11, 21, 12, 0), "urgent", berlin(2026, 11, 23, 10, 0), id="saturday"),
    pytest.param(berlin(2026, 11, 22, 23, 59), "normal", berlin(2026, 11, 23, 17, 0), id="sunday_night"),
    # 19:00 UTC on Friday is 20:00 in Berlin: after closing
    pytest.param(datetime(2026, 11, 20, 19, 0, tzinfo=UTC), "high", datetime(2026, 11, 23, 12, 0, tzinfo=UTC),
                 id="friday_after_close_given_in_utc"),
    # Berlin leaves summer time on Sunday 2026-10-25: Monday 11:00 CET is 10:00 UTC
    pytest.param(datetime(2026, 10, 23, 14, 0, tzinfo=UTC), "high", datetime(2026, 10, 26, 10, 0, tzinfo=UTC),
                 id="over_dst_end_weekend"),
])
def test_sla_due(start, priority, due):
    result = POLICY.sla_due(start, priority)
    assert result == due
    assert result.utcoffset() == start.utcoffset()  # answered in the caller's time zone


@pytest.mark.parametrize("moment, expected, is_open", [
    pytest.param(NOW, NOW, True, id="wednesday_open"),
    pytest.param(berlin(2026, 11, 18, 9, 0), berlin(2026, 11, 18, 9, 0), True, id="at_opening"),
    pytest.param(berlin(2026, 11, 18, 8, 59), berlin(2026, 11, 18, 9, 0), False, id="before_opening"),
    pytest.param(berlin(2026, 11, 18, 18, 0), berlin(2026, 11, 19, 9, 0), False, id="at_closing"),
    pytest.param(berlin(2026, 11, 20, 18, 30), berlin(2026, 11, 23, 9, 0), False, id="friday_evening"),
    pytest.param(berlin(2026, 11, 21, 10, 0), berlin(2026, 11, 23, 9, 0), False, id="saturday"),
    pytest.param(datetime(2026, 11, 22, 23, 30, tzinfo=UTC), berlin(2026, 11, 23, 9, 0), False,
                 id="sunday_2330_utc_is_monday_0030_berlin"),
])
def test_next_open_and_is_open(moment, expected, is_open):
    bh = POLICY.business_hours
    assert bh.next_open(moment) == expected
    assert bh.is_open(moment) is is_open


# ---- per-market overrides ------------------------------------------------------------------------

def test_terms_for_region_member():
    t = POLICY.terms_for("DE")
    assert t.country == "DE"
    assert t.market == "EU < defaults"
    assert t.statutory_withdrawal_days == 14  # from EU
    assert t.duties == "DDP"
    assert t.return_methods == ("post_office", "parcel_locker", "courier_pickup")
    assert t.no_reason_return_days == 7  # from defaults
    assert t.keep_it_refund_max_value == Decimal("15")
    assert t.return_window_days == 14
    assert POLICY.terms_for("de") == t


def test_terms_for_country_with_own_market():
    t = POLICY.terms_for("CH")
    assert t.market == "CH < defaults"
    assert (t.duties, t.import_tax_rate_percent, t.duty_free_threshold) == ("DDU", Decimal("8.1"), Decimal("70"))
    assert t.return_methods == ("post_office",)  # from defaults
    assert t.statutory_withdrawal_days == 0
    assert POLICY.terms_for("US").market == "US < defaults"
    assert POLICY.terms_for("US").no_reason_return_days == 30


def test_terms_for_gcc_region_member():
    t = POLICY.terms_for("AE")
    assert t.market == "GCC < defaults"
    assert t.return_methods == ("courier_pickup",)
    assert t.import_tax_rate_percent == Decimal("5")


@pytest.mark.parametrize("country", ["EG", "NO", "NZ", "ZA"])
def test_terms_for_country_in_no_market_gets_defaults(country):
    t = POLICY.terms_for(country)
    assert t.market == "defaults"
    assert t.country == country
    for key, value in POLICY.defaults.items():
        assert getattr(t, key) == value, key


def _policy_with(markets: dict) -> object:
    raw = copy.deepcopy(RAW)
    for name, values in markets.items():
        raw["markets"].setdefault(name, {}).update(values)
    return parse_policy(raw, source="test-policy")


def test_terms_for_country_market_overrides_its_region_market():
    policy = _policy_with({"DE": {"no_reason_return_days": 21, "duties": "DDU"}})
    t = policy.terms_for("DE")
    assert t.market == "DE < EU < defaults"
    assert t.no_reason_return_days == 21  # DE
    assert t.duties == "DDU"  # DE over EU
    assert t.statutory_withdrawal_days == 14  # EU
    assert t.return_methods == ("post_office", "parcel_locker", "courier_pickup")  # EU
    assert t.quality_claim_days == 30  # defaults
    assert t.return_window_days == 21
    assert policy.terms_for("FR").no_reason_return_days == 7


def test_return_shipping_paid_by_is_merged_reason_by_reason():
    policy = _policy_with({"EU": {"return_shipping_paid_by": {"changed_mind": "shop"}},
                           "DE": {"return_shipping_paid_by": {"doesnt_fit": "shop"}}})
    de = policy.terms_for("DE").return_shipping_paid_by
    assert de == {**RAW["defaults"]["return_shipping_paid_by"], "changed_mind": "shop", "doesnt_fit": "shop"}
    fr = policy.terms_for("FR").return_shipping_paid_by
    assert fr["changed_mind"] == "shop" and fr["doesnt_fit"] == "customer" and fr["damaged"] == "shop"
    assert policy.terms_for("US").return_shipping_paid_by["changed_mind"] == "customer"
    # resolving one market leaves the others alone
    assert policy.defaults["return_shipping_paid_by"]["changed_mind"] == "customer"
    # and the engine uses the merged payer
    d = run(make_order("delivered", country="DE", currency="EUR"), ReturnItems(((1, 1),), "changed_mind"),
            policy=policy)
    assert d.facts["shipping_paid_by"] == "shop"
    assert d.action("create_return").params["shipping_paid_by"] == "shop"
    d = run(make_order("delivered", country="FR", currency="EUR"), ReturnItems(((1, 1),), "doesnt_fit"),
            policy=policy)
    assert d.facts["shipping_paid_by"] == "customer"


def test_to_base_rejects_unknown_currency():
    from bot.policy import PolicyError
    with pytest.raises(PolicyError) as err:
        POLICY.to_base(Decimal("10"), "XYZ")
    assert err.value.key == "exchange_rates.XYZ"


def test_limits_compare_the_exact_converted_value_not_a_rounded_one():
    """13.89 EUR is 15.0012 USD: above a keep-it limit of 15, though it shows as 15.00."""
    item = make_item(unit_price="13.89")
    d = run(make_order(country="DE", currency="EUR", items=[item]), ReturnItems(((item.id, 1),), "damaged"))
    assert d.rule_id == "return.fault_return"
    assert d.facts["items_value_base"] == Decimal("15.00")
