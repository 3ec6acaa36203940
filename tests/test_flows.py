"""The flows' pure parts: what each request asks on each kind of order, and how answers are read."""
from __future__ import annotations

import pytest

from bot.engine import ItemSnapshot
from bot.flows import Slots, build_request, choose, choose_items, mentions_all, questions
from bot.service import AfterSales

REASONS = {"changed_mind": "I changed my mind", "doesnt_fit": "It doesn't fit", "arrived_late": "It arrived too late"}


@pytest.mark.parametrize("number, kind, asked", [
    ("SH-10003", "cancel", ["cancel_reason", "confirmed"]),  # paid: why, then are you sure
    ("SH-10004", "cancel", ["cancel_reason"]),  # shipped: why (recorded), nothing to confirm
    ("SH-10001", "cancel", []),  # delivered: the answer is "return it", nothing to ask
    ("SH-10014", "change_address", ["addr_line1", "addr_city", "addr_postcode", "addr_region", "confirmed"]),
    ("SH-10004", "change_address", ["addr_line1", "addr_city", "addr_postcode", "confirmed"]),  # FR: no region
    ("SH-10005", "change_address", []),  # shipped and valuable: declined before asking
    ("SH-10001", "return", ["items", "return_reason", "resolution"]),
    ("SH-10020", "return", ["return_reason", "resolution"]),  # one item: nothing to pick
    ("SH-10022", "return", []),  # window closed
    ("SH-10019", "return", []),  # personalised: not returnable
    ("SH-10002", "item_problem", ["return_reason"]),  # past the claim window: an agent decides
    ("SH-10012", "item_problem", ["items", "return_reason", "resolution"]),
    ("SH-10018", "track", []), ("SH-10009", "refund_status", []), ("SH-10006", "customs", []),
])
def test_each_request_asks_only_what_its_decision_needs(demo_db, policy, now, number, kind, asked):
    order = AfterSales(demo_db, policy, clock=lambda: now).snapshot(number)
    assert questions(kind, order, policy, now) == asked


@pytest.mark.parametrize("answer, code", [
    ("2", "doesnt_fit"), ("It doesn't fit", "doesnt_fit"), ("doesn't fit!", "doesnt_fit"),
    ("changed_mind", "changed_mind"), ("i changed my mind 🙈", "changed_mind"), ("9", None), ("", None),
])
def test_a_choice_is_read_by_number_label_or_code(answer, code):
    assert choose(answer, REASONS) == code


@pytest.mark.parametrize("answer, code", [
    ("it's too small", "doesnt_fit"), ("zu klein", "doesnt_fit"), ("es muy pequeño", "doesnt_fit"),
    ("came three weeks late", "arrived_late"), ("blah", None),
])
def test_a_choice_in_other_words_is_read_by_meaning_or_not_at_all(answer, code):
    assert choose(answer, REASONS) is None  # only when asked to read the meaning
    assert choose(answer, REASONS, by_meaning=True) == code


ITEMS = [ItemSnapshot(11, "SNK", "Trail running sneakers", "footwear", "returnable", 1, 0, 0, True),
         ItemSnapshot(12, "TEE", "Organic cotton T-shirt", "apparel", "returnable", 2, 0, 0, True),
         ItemSnapshot(13, "SCK", "Merino socks, 3 pairs", "apparel", "returnable", 1, 0, 0, True)]


@pytest.mark.parametrize("answer, language, ids", [
    ("1 and 3", "en", (11, 13)), ("the socks", "en", (13,)), ("merino socks", "en", (13,)),
    ("both the sneakers and the t-shirt", "en", (11, 12, 13)), ("todos", "es", (11, 12, 13)),
    ("the small one", "en", None), ("4", "en", None), ("全部", "zh", (11, 12, 13)), ("둘 다요", "ko", (11, 12, 13)),
])
def test_items_are_picked_by_number_name_or_all(answer, language, ids):
    assert choose_items(answer, ITEMS, language, "All of them") == ids


def test_all_is_a_word_not_a_substring():
    assert not mentions_all("a small problem", "en", "All of them")
    assert mentions_all("alle beide", "de", "Alle")


def test_an_address_not_asked_for_is_the_order_as_it_is(demo_db, policy, now):
    order = AfterSales(demo_db, policy, clock=lambda: now).snapshot("SH-10005")
    assert build_request("change_address", Slots(), order, policy).address == order.shipping_address
    asked = Slots(addr_line1="1 New Road", addr_city="Leeds", addr_postcode="LS1 4AP")
    new = build_request("change_address", asked, order, policy).address
    assert (new.line1, new.city, new.postcode, new.country, new.name) == ("1 New Road", "Leeds", "LS1 4AP", "GB",
                                                                         order.shipping_address.name)
