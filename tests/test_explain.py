"""Every decision the demo shop can produce is explained in every language: no placeholder left,
the facts it rests on (amounts, dates, case and return numbers) shown, offers as buttons."""
from __future__ import annotations

import pytest

from bot.address import Address
from bot.db import Database
from bot.engine import Cancel, ChangeAddress, Complaint, Customs, Handoff, RefundStatus, ReturnItems, Track
from bot.explain import Explainer
from bot.i18n import Money, format_value
from bot.language import SUPPORTED
from bot.service import AfterSales, Conversation
from tests.servers import demo_shop

# (order, request) -> the rule it must reach on the demo shop: one case per message the bot can explain.
REQUESTS = [
    ("SH-10014", Track(), "track.not_shipped"),
    ("SH-10018", Track(), "track.in_transit"),
    ("SH-10001", Track(), "track.delivered"),
    ("SH-10008", Track(), "track.delayed"),
    ("SH-10007", Track(), "track.no_scan_investigation"),
    ("SH-10006", Track(), "track.held_at_customs"),
    ("SH-10010", Track(), "track.closed"),
    ("SH-10003", Cancel("changed_mind"), "cancel.before_shipment"),
    ("SH-10015", Cancel("changed_mind"), "cancel.before_shipment"),  # unpaid: nothing to refund
    ("SH-10004", Cancel("found_cheaper"), "cancel.after_shipment"),
    ("SH-10001", Cancel("changed_mind"), "cancel.delivered"),
    ("SH-10010", Cancel("changed_mind"), "cancel.already_cancelled"),
    ("SH-10009", Cancel("changed_mind"), "cancel.closed"),
    ("SH-10014", "new address", "address.before_shipment"),
    ("SH-10004", "new address", "address.intercept_and_reship"),
    ("SH-10005", "new address", "address.shipped_high_value"),
    ("SH-10001", "new address", "address.too_late"),
    ("SH-10001", "return first item", "return.within_window"),
    ("SH-10020", "return first item", "return.within_statutory_withdrawal"),
    ("SH-10022", "return first item", "return.window_expired"),
    ("SH-10019", "return first item", "return.not_returnable"),
    ("SH-10003", "return first item", "return.not_shipped"),
    ("SH-10004", "return first item", "return.not_delivered"),
    ("SH-10012", "damaged first item", "return.fault_keep_it"),
    ("SH-10016", "wrong first item", "return.fault_return"),
    ("SH-10002", "damaged first item", "return.fault_outside_window"),
    ("SH-10003", RefundStatus(), "refund.none"),
    ("SH-10010", RefundStatus(), "refund.on_time"),
    ("SH-10017", RefundStatus(), "refund.issued"),
    ("SH-10009", RefundStatus(), "refund.overdue"),
    ("SH-10006", Customs(), "customs.held"),
    ("SH-10003", Customs(), "customs.terms_ddp"),
    ("SH-10018", Customs(), "customs.terms_ddu"),
    (None, Complaint(), "complaint.escalate"),
    (None, Complaint(legal_threat=True), "complaint.legal_threat"),
    (None, Handoff(), "handoff.requested"),
]


def request_for(service: AfterSales, number: str | None, request):
    if not isinstance(request, str):
        return request
    order = service.snapshot(number)
    if request == "new address":
        a = order.shipping_address
        return ChangeAddress(Address(name=a.name, line1="Neue Straße 5", city=a.city, country=a.country,
                                     postcode=a.postcode, region=a.region or "Region"))
    first = order.items[0]
    reason = {"return": "changed_mind", "damaged": "damaged", "wrong": "wrong_item"}[request.split()[0]]
    return ReturnItems(((first.id, first.quantity),), reason)


@pytest.fixture
def decided(tmp_path, policy, now):
    """Each request decided and carried out on its own fresh demo shop (SQLite: explaining does not
    depend on the database, which tests/test_service.py covers on both)."""
    service = AfterSales(Database(demo_shop(tmp_path, now)), policy, clock=lambda: now)

    def run(number, request):
        order = service.snapshot(number) if number else None
        result = service.handle(number, request_for(service, number, request), Conversation(id="c1"))
        return result, order
    return run


@pytest.mark.parametrize("number, request_, rule", REQUESTS, ids=[r for _, _, r in REQUESTS])
def test_each_decision_is_explained_in_every_language(decided, number, request_, rule):
    result, order = decided(number, request_)
    assert result.decision.rule_id == rule
    for language in SUPPORTED:
        messages = Explainer(language, order).explain(result)
        assert messages and all(m.text.strip() for m in messages), language
        text = "\n".join(m.text for m in messages)
        assert "{" not in text and "}" not in text and "None" not in text, (language, text)
        # The shopper's reference: the return number, or the case a person or the back office follows up.
        follow_up = result.decision.action("open_case") or result.decision.action("escalate")
        reference = result.rma_number or (result.case_number if follow_up else None)
        if reference:
            assert reference in text, (language, rule, reference)
        if result.refund_id:
            amount = Money(result.details["refund_amount"], order.currency)
            assert format_value(amount, language) in text, (language, text)
        for button in (b for m in messages for b in m.buttons):
            assert button.title and button.payload.startswith("/")


def test_a_return_explains_who_pays_how_to_send_it_and_what_happens_next(decided):
    result, order = decided("SH-10020", "return first item")
    text = " ".join(m.text for m in Explainer("en", order).explain(result))
    assert "14-day legal right of withdrawal" in text
    assert "Return shipping is on you" in text  # a change of mind: the customer pays
    assert "at a post office, from a parcel locker, or with a courier pick-up" in text  # France's methods
    assert f"write {result.rma_number} on the parcel" in text


def test_tracking_shows_the_latest_scans_in_the_shoppers_language(decided):
    result, order = decided("SH-10018", Track())
    english = "\n".join(m.text for m in Explainer("en", order).explain(result))
    spanish = "\n".join(m.text for m in Explainer("es", order).explain(result))
    assert "Latest updates" in english and order.tracking_number in english
    assert english.count("•") == min(3, len(order.scans))
    assert "Latest updates" not in spanish and order.tracking_number in spanish


def test_a_declined_address_change_offers_a_person(decided):
    result, order = decided("SH-10005", "new address")
    messages = Explainer("de", order).explain(result)
    assert [b.payload for b in messages[-1].buttons] == ["/human_handoff"]


def test_an_unsupported_language_is_explained_in_english(decided):
    result, order = decided("SH-10018", Track())
    assert Explainer("sv", order).explain(result) == Explainer("en", order).explain(result)
