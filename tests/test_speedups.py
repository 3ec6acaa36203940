"""What components/speedups.py changes in Rasa keeps Rasa's behaviour: action server replies are
accepted and rejected exactly as Rasa's schema does, connections to the action server are reused
and recover from a restart, and events are read back as the same classes. And what the benchmark's
production set-up relies on: several worker processes refuse to share in-memory locks, and the
SQLite tracker store keeps its connections open without losing a conversation."""
from __future__ import annotations

import asyncio
import copy
import random

import jsonschema
import pytest
from aiohttp import ClientError, web
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import (ActionExecuted, ActiveLoop, AllSlotsReset, BotUttered, ConversationPaused,
                                     ConversationResumed, EntitiesAdded, FollowupAction, LoopInterrupted,
                                     ReminderScheduled, Restarted, SessionStarted, SlotSet, UserUttered)

import components  # noqa: F401  (installs the check)
from components.speedups import IDLE_CONNECTION_SECONDS, is_valid_reply
from rasa.shared.core.events import Event
from rasa.utils.endpoints import EndpointConfig

SCHEMA = RemoteAction.action_response_format_spec()


def rasa_accepts(reply) -> bool:
    try:
        jsonschema.validate(reply, SCHEMA)
        return True
    except jsonschema.ValidationError:
        return False


def real_events() -> list[dict]:
    from datetime import datetime
    return [e.as_dict() for e in (
        SlotSet("language", "es"), SlotSet("items", ["SKU-1"]), ActionExecuted("action_listen", policy="RulePolicy"),
        BotUttered("hola", {"buttons": [{"title": "1", "payload": "/inform"}]}, {"lang": "es"}),
        UserUttered("hola", {"name": "greet", "confidence": 0.9}, [{"entity": "email", "value": "a@b.c"}]),
        ActiveLoop("request_form"), ActiveLoop(None), LoopInterrupted(True), FollowupAction("action_greet"),
        ConversationPaused(), ConversationResumed(), AllSlotsReset(), Restarted(), SessionStarted(),
        EntitiesAdded([{"entity": "order_number", "value": "SH-1"}]),
        ReminderScheduled("greet", datetime(2030, 1, 1)))]


def mutations(event: dict, rng: random.Random) -> list:
    """Broken and odd variants of a real event: what a buggy or hostile action server might send."""
    out = [{k: v for k, v in event.items() if k != key} for key in event]
    for key in list(event):
        for value in (None, 1, 1.5, "x", [], {}, [1], True):
            changed = dict(event)
            changed[key] = value
            out.append(changed)
    out += [{**event, "event": name} for name in ("bot", "slot", "user", "nonsense", "", "SLOT")]
    out += [{**event, "extra": rng.random()}, [event], "slot", None, 7]
    return out


def test_the_check_agrees_with_rasas_schema_on_real_and_broken_replies():
    rng = random.Random(3)
    cases = 0
    for event in real_events():
        for candidate in [event] + mutations(event, rng):
            for reply in ({"events": [candidate]}, {"events": [real_events()[0], candidate], "responses": []},
                          {"events": [candidate], "responses": [{"text": "hi"}]}):
                assert is_valid_reply(reply) == rasa_accepts(reply), reply
                cases += 1
    for reply in ({}, {"events": None}, {"events": {}}, {"responses": "x"}, {"responses": [1]}, [], "x", None,
                  {"events": [], "responses": [{}]}):
        assert is_valid_reply(reply) == rasa_accepts(reply), reply
        cases += 1
    assert cases > 1000


def test_a_bad_reply_is_rejected_with_rasas_own_error_and_a_good_one_passes():
    action = RemoteAction("action_greet", None)
    assert action._validate_action_result({"events": real_events(), "responses": [{"text": "hola"}]}) is True
    with pytest.raises(jsonschema.ValidationError, match="Failed to validate Action server response"):
        action._validate_action_result({"events": [{"event": "slot", "value": 1}]})  # a slot without a name


def test_the_schema_is_not_checked_again_for_each_reply(monkeypatch):
    checked = []
    validator = jsonschema.validators.validator_for(SCHEMA)
    monkeypatch.setattr(validator, "check_schema", classmethod(lambda cls, schema: checked.append(schema)))
    action = RemoteAction("action_greet", None)
    for _ in range(5):
        action._validate_action_result({"events": copy.deepcopy(real_events())})
    assert checked == []


def test_calls_to_the_action_server_reuse_one_connection_and_recover_from_a_restart(unused_tcp_port):
    async def scenario():
        peers = []

        async def webhook(request):
            peers.append(request.transport.get_extra_info("peername")[1])
            return web.json_response({"events": [], "responses": [], "got": (await request.json())["n"]})

        async def serve():
            app = web.Application()
            app.router.add_post("/webhook", webhook)
            runner = web.AppRunner(app)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
            return runner

        endpoint = EndpointConfig(f"http://127.0.0.1:{unused_tcp_port}/webhook")
        runner = await serve()
        answers = [(await endpoint.request(json={"n": n}))["got"] for n in range(5)]
        assert answers == list(range(5))
        assert len(set(peers)) == 1  # one connection for five calls

        await runner.cleanup()  # the action server restarts
        runner = await serve()
        try:
            await endpoint.request(json={"n": 5})  # may fail once, on the broken connection
        except ClientError:
            pass
        assert (await endpoint.request(json={"n": 6}))["got"] == 6

        before = len(set(peers))
        await asyncio.sleep(IDLE_CONNECTION_SECONDS + 1)  # idle: dropped before the server drops it
        assert (await endpoint.request(json={"n": 7}))["got"] == 7
        assert len(set(peers)) == before + 1
        await runner.cleanup()

    asyncio.run(scenario())


def test_events_are_read_back_as_the_same_classes():
    from rasa.shared.core.events import SlotSet, UserUttered
    for _ in range(2):  # the second lookup comes from what the first found
        assert Event.resolve_by_type("slot") is SlotSet
        assert Event.resolve_by_type("user") is UserUttered
    assert Event.resolve_by_type("no such event", default=SlotSet) is SlotSet
    with pytest.raises(ValueError):
        Event.resolve_by_type("no such event")

    class LaterEvent(SlotSet):  # a class imported after the first lookups is still found
        type_name = "later_event"

    assert Event.resolve_by_type("later_event") is LaterEvent
    assert Event.from_parameters({"event": "slot", "name": "language", "value": "de"}) == SlotSet("language", "de")


def test_several_worker_processes_need_a_shared_lock_store(monkeypatch):
    from rasa.core.lock_store import InMemoryLockStore

    from components.lock_store import ShopLockStore
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("SANIC_WORKERS", "2")
    with pytest.raises(RuntimeError, match="REDIS_URL"):
        ShopLockStore()
    monkeypatch.setenv("SANIC_WORKERS", "1")
    assert isinstance(ShopLockStore(), InMemoryLockStore)


def test_the_sqlite_tracker_store_keeps_its_connections_and_its_conversations(tmp_path, monkeypatch):
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    from components.tracker_store import ShopTrackerStore
    monkeypatch.setenv("TRACKER_STORE_URL", f"sqlite:///{tmp_path / 'tracker.db'}")
    domain = Domain.load("domain.yml")
    store = ShopTrackerStore(domain)
    tracker = DialogueStateTracker.from_events("shopper", [UserUttered("hola", {"name": "greet"}),
                                                           SlotSet("language", "es")], domain.slots)
    asyncio.run(store.save(tracker))
    tracker.update(SlotSet("language", "de"))
    asyncio.run(store.save(tracker))
    again = asyncio.run(ShopTrackerStore(domain).retrieve("shopper"))  # as another process would read it
    assert again.get_slot("language") == "de" and len(again.events) == len(tracker.events)
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    assert store.engine.pool.checkedin() >= 1  # the connection went back to the pool, still open
