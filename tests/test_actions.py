"""Custom actions run with rasa_sdk's own Tracker and CollectingDispatcher (no Rasa server)."""
from __future__ import annotations

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.replies import ActionFallback, ActionGoodbye, ActionGreet
from bot.i18n import render


def tracker(language: str | None) -> Tracker:
    return Tracker(sender_id="s1", slots={"language": language}, latest_message={"text": "hi"}, events=[],
                   paused=False, followup_action=None, active_loop={}, latest_action_name="action_listen")


@pytest.mark.parametrize("action, key", [(ActionGreet(), "greet"), (ActionFallback(), "fallback")])
async def test_replies_come_from_the_catalog_in_the_conversation_language(action, key):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker("en"), {})
    assert events == []
    assert [m["text"] for m in dispatcher.messages] == [render(key, "en")]
    assert action.name() == f"action_{key}"


async def test_a_language_without_a_catalog_offline_gets_english_and_a_note_once():
    dispatcher = CollectingDispatcher()
    events = await ActionGreet().run(dispatcher, tracker("sw"), {})
    assert [m["text"] for m in dispatcher.messages] == [render("unsupported_language", "en"), render("greet", "en")]
    assert events == [{"event": "slot", "timestamp": None, "name": "unsupported_language_noted", "value": True}]
    noted = tracker("sw")
    noted.slots["unsupported_language_noted"] = True
    dispatcher = CollectingDispatcher()
    await ActionGreet().run(dispatcher, noted, {})
    assert [m["text"] for m in dispatcher.messages] == [render("greet", "en")]


async def test_no_language_yet_means_english():
    dispatcher = CollectingDispatcher()
    await ActionGreet().run(dispatcher, tracker(None), {})
    assert [m["text"] for m in dispatcher.messages] == [render("greet", "en")]


@pytest.mark.parametrize("earlier_turns, key", [(0, "greet"), (1, "goodbye")])
async def test_a_farewell_that_opens_the_conversation_is_answered_as_a_greeting(earlier_turns, key):
    """"iyi günler" is hello and goodbye; as the first thing a shopper says it can only be hello."""
    def user(text):
        return {"event": "user", "text": text, "parse_data": {"intent": {"name": "goodbye"}}}
    events = [{"event": "user", "text": "eski oturum"}, {"event": "action", "name": "action_session_start"},
              {"event": "session_started"}]
    events += [user("siparişim nerede"), {"event": "bot", "text": "..."}] * earlier_turns + [user("iyi günler")]
    conversation = Tracker(sender_id="s1", slots={"language": "tr"}, latest_message=events[-1], events=events,
                           paused=False, followup_action=None, active_loop={}, latest_action_name="action_listen")
    dispatcher = CollectingDispatcher()
    await ActionGoodbye().run(dispatcher, conversation, {})
    assert [m["text"] for m in dispatcher.messages] == [render(key, "tr")]


# ---- the flow actions, on a real demo shop ------------------------------------------------------

@pytest.fixture
def shop(tmp_path, monkeypatch):
    """A demo shop the actions' services point at (DATABASE_URL), fresh for each test."""
    from actions.common import after_sales, verifier
    from tests.servers import demo_shop

    monkeypatch.setenv("DATABASE_URL", demo_shop(tmp_path))
    after_sales.cache_clear(), verifier.cache_clear()
    yield after_sales()
    after_sales().db.dispose()
    after_sales.cache_clear(), verifier.cache_clear()


def form_tracker(slots: dict, text: str, intent: str, entities=(), confidence: float = 0.9, ranking=()) -> Tracker:
    """The tracker validate_request_form gets right after a shopper's message."""
    message = {"text": text, "intent": {"name": intent, "confidence": confidence}, "entities": list(entities),
               "intent_ranking": [{"name": name, "confidence": p} for name, p in ranking]}
    events = [{"event": "user", "text": text, "parse_data": message}, {"event": "action", "name": "request_form"}]
    return Tracker(sender_id="conv-1", slots={"language": "en", **slots}, latest_message=message, events=events,
                   paused=False, followup_action=None, active_loop={"name": "request_form"},
                   latest_action_name="request_form")


def slot_events(events) -> dict:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


async def test_the_form_verifies_then_asks_what_the_policy_needs(shop):
    from actions.flows import ValidateRequestForm

    dispatcher = CollectingDispatcher()
    tracker = form_tracker({"request": "cancel", "requested_slot": "proof", "order_number": "SH-10003"},
                           "lucia.fernandez@example.com", "inform",
                           [{"entity": "email", "value": "lucia.fernandez@example.com"}])
    events = slot_events(await ValidateRequestForm().run(dispatcher, tracker, {}))
    assert events["current_order"] == "SH-10003" and events["verified_orders"] == ["SH-10003"]
    assert events["requested_slot"] == "cancel_reason" and events["proof"] is None
    assert dispatcher.messages[-1]["text"] == render("ask_cancel_reason", "en")
    assert len(dispatcher.messages[-1]["buttons"]) == 4


async def test_a_shipped_order_is_not_asked_to_confirm_a_cancellation(shop):
    from actions.flows import ValidateRequestForm

    dispatcher = CollectingDispatcher()
    tracker = form_tracker({"request": "cancel", "requested_slot": "cancel_reason", "current_order": "SH-10004"},
                           "it takes too long", "cancel_order", confidence=0.7)
    events = slot_events(await ValidateRequestForm().run(dispatcher, tracker, {}))
    assert events == {"cancel_reason": "delivery_too_slow", "requested_slot": None}  # read by meaning; done


async def test_a_greeting_mid_form_is_left_to_the_rules(shop):
    from actions.flows import ValidateRequestForm

    dispatcher = CollectingDispatcher()
    tracker = form_tracker({"request": "track", "requested_slot": "proof", "order_number": "SH-10003"}, "hello", "greet")
    assert await ValidateRequestForm().run(dispatcher, tracker, {}) == []
    assert dispatcher.messages == []


async def test_a_city_read_as_out_of_scope_is_still_the_answer_to_the_city_question(shop):
    from actions.flows import ValidateRequestForm

    dispatcher = CollectingDispatcher()
    tracker = form_tracker({"request": "change_address", "requested_slot": "addr_city", "current_order": "SH-10003",
                            "addr_line1": "Calle Mayor 12"}, "Madrid", "out_of_scope", confidence=0.97)
    events = slot_events(await ValidateRequestForm().run(dispatcher, tracker, {}))
    assert events["addr_city"] == "Madrid" and events["requested_slot"] == "addr_postcode"


async def test_out_of_scope_mid_form_is_left_to_the_rules_where_the_answer_is_a_choice(shop):
    from actions.flows import ValidateRequestForm

    dispatcher = CollectingDispatcher()
    tracker = form_tracker({"request": "track", "requested_slot": "proof", "order_number": "SH-10003"},
                           "what's the weather tomorrow", "out_of_scope", confidence=0.97)
    assert await ValidateRequestForm().run(dispatcher, tracker, {}) == []


async def test_a_wrong_proof_gets_the_neutral_answer_and_no_data(shop):
    from actions.flows import ValidateRequestForm

    dispatcher = CollectingDispatcher()
    tracker = form_tracker({"request": "track", "requested_slot": "proof", "order_number": "SH-10003"},
                           "someone@example.com", "inform", [{"entity": "email", "value": "someone@example.com"}])
    events = slot_events(await ValidateRequestForm().run(dispatcher, tracker, {}))
    assert "current_order" not in events and events["requested_slot"] == "proof"
    assert [m["text"] for m in dispatcher.messages] == [render("verification_failed", "en")]


@pytest.mark.parametrize("ranking, confirmed", [
    ([("cancel_order", 0.52), ("deny", 0.48)], False),  # "no" a likely reading, though second: no
    ([("nlu_fallback", 0.3), ("cancel_order", 0.4), ("deny", 0.35)], False),
    ([("affirm", 0.5), ("deny", 0.45)], False),  # an unsure yes with a likely no
    ([("affirm", 0.65), ("deny", 0.33)], True),
    ([("affirm", 0.45), ("deny", 0.1)], True),
    ([("nlu_fallback", 0.3), ("affirm", 0.29), ("cancel_order", 0.28)], None),  # a yes the bot is unsure of: asked again
    ([("cancel_order", 0.5), ("affirm", 0.3), ("deny", 0.2)], None),
])
async def test_at_a_confirmation_a_likely_no_is_a_no_and_an_unsure_yes_is_asked_again(shop, ranking, confirmed):
    from actions.flows import ValidateRequestForm

    dispatcher = CollectingDispatcher()
    [(intent, confidence), *_] = ranking
    tracker = form_tracker({"request": "cancel", "requested_slot": "confirmed", "current_order": "SH-10003",
                            "verified_orders": ["SH-10003"], "cancel_reason": "found_cheaper"},
                           "actually please don't cancel it", intent, confidence=confidence, ranking=ranking)
    events = slot_events(await ValidateRequestForm().run(dispatcher, tracker, {}))
    assert events.get("confirmed") is confirmed
    if confirmed is None:
        assert dispatcher.messages[0]["text"] == render("not_understood", "en")
        assert events["requested_slot"] == "confirmed"


async def test_carrying_out_a_cancellation_changes_the_shop(shop):
    from sqlalchemy import select

    from actions.flows import ActionCarryOutRequest
    from bot.models import Order

    dispatcher = CollectingDispatcher()
    tracker = form_tracker({"request": "cancel", "current_order": "SH-10003", "cancel_reason": "found_cheaper",
                            "confirmed": True}, "yes", "affirm")
    events = slot_events(await ActionCarryOutRequest().run(dispatcher, tracker, {}))
    with shop.db.transaction() as session:
        order = session.execute(select(Order).where(Order.number == "SH-10003")).scalar_one()
        assert order.status.value == "cancelled" and order.cancel_reason == "found_cheaper"
    assert events["request"] is None and events["case_number"].startswith("CS-")
    assert dispatcher.messages[0]["text"].startswith("Done: order SH-10003 is cancelled.")


async def test_a_verified_customer_picks_an_order_by_its_place_in_the_list(shop):
    from actions.flows import ValidateRequestForm
    from bot.identity import orders_of

    second = orders_of(shop.db, "camille.dubois@example.com")[1]
    dispatcher = CollectingDispatcher()
    tracker = form_tracker({"request": "track", "requested_slot": "order_number",
                            "customer_email": "camille.dubois@example.com"}, "2", "inform")
    events = slot_events(await ValidateRequestForm().run(dispatcher, tracker, {}))
    assert events["current_order"] == second and events["requested_slot"] is None


async def test_a_second_fallback_in_a_row_brings_in_a_person_and_pauses(shop):
    from rasa_sdk.events import ConversationPaused
    once = [{"event": "user", "text": "blorp", "parse_data": {"intent": {"name": "nlu_fallback"}}},
            {"event": "action", "name": "action_fallback"}, {"event": "action", "name": "action_listen"},
            {"event": "user", "text": "blorp again", "parse_data": {"intent": {"name": "nlu_fallback"}}}]
    after_greeting = [{"event": "user", "text": "hi"}, {"event": "action", "name": "action_greet"},
                      {"event": "action", "name": "action_listen"}, once[-1]]
    for events, person in ((once, True), (after_greeting, False)):
        t = Tracker(sender_id="s-fallback", slots={"language": "es"}, latest_message={"text": "blorp"}, events=events,
                    paused=False, followup_action=None, active_loop={}, latest_action_name="action_listen")
        dispatcher = CollectingDispatcher()
        result = await ActionFallback().run(dispatcher, t, {})
        texts = [m["text"] for m in dispatcher.messages]
        if person:
            assert texts[0] == render("fallback_handoff", "es") and "CS-" in texts[1]
            assert ConversationPaused() in result
        else:
            assert texts == [render("fallback", "es")] and result == []
