"""Three costs Rasa 3.6 pays on every message that buy nothing, removed without changing what it
does (measured with py-spy under the benchmark, scripts/benchmark.py; README: Benchmark).

- Action server replies: Rasa validates each with `jsonschema.validate`, which re-checks the schema
  itself against the JSON Schema metaschema every time, then tries every event against all 23 event
  schemas (`oneOf`): 70% of the Rasa server's CPU. Here the schemas are checked once, at import,
  and each event is validated against the one schema its `event` name selects (the others cannot
  match: each requires its own name), which accepts exactly what Rasa's schema accepts. A reply
  that fails goes to Rasa's own check, which raises its usual error.
- Connections: Rasa opens a new HTTP session, so a new TCP connection, for every call to the
  action server (three a message). Here each endpoint keeps one session per event loop. Idle
  connections are dropped after 2 s, before the action server's keep-alive timeout (Sanic: 5 s)
  can close one just as it is reused; one broken by an action server restart fails that call (the
  shopper is told to retry, components/resilience.py) and the next call reconnects.
- Events: reading a conversation back from the tracker store looks each event's class up by
  walking every subclass of Event, for every event. Here a name, once found, is remembered.
"""
from __future__ import annotations

import asyncio

import aiohttp
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import Event
from rasa.shared.utils.schemas.events import EVENT_SCHEMA
from rasa.utils.endpoints import DEFAULT_REQUEST_TIMEOUT, EndpointConfig

IDLE_CONNECTION_SECONDS = 2.0


# -- action server replies ----------------------------------------------------------------------------

def _validator(schema: dict):
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


_response = RemoteAction.action_response_format_spec()
_reply = _validator({**_response, "properties": {**_response["properties"], "events": {"type": "array"}}})
_common = {key: value for key, value in EVENT_SCHEMA.items() if key != "oneOf"}
_by_event = {schema["properties"]["event"]["const"]: _validator({**_common, "allOf": [schema]})
             for schema in EVENT_SCHEMA["oneOf"]}
_rasa_validate = RemoteAction._validate_action_result


def is_valid_reply(result) -> bool:
    if not _reply.is_valid(result):
        return False
    for event in result.get("events") or []:
        name = event.get("event") if isinstance(event, dict) else None
        validator = _by_event.get(name) if isinstance(name, str) else None
        if validator is None or not validator.is_valid(event):
            return False
    return True


def _validate_action_result(self, result) -> bool:
    return is_valid_reply(result) or _rasa_validate(self, result)


# -- connections to the action server ------------------------------------------------------------------

class _Borrowed:
    """`async with` on it yields the shared session and leaves it open."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def __aenter__(self) -> aiohttp.ClientSession:
        return self.session

    async def __aexit__(self, *exc) -> None:
        return None


def _shared_session(self: EndpointConfig) -> _Borrowed:
    loop = asyncio.get_running_loop()
    cached = getattr(self, "_shared_session", None)
    if cached is None or cached[0] is not loop or cached[1].closed:
        auth = aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"]) if self.basic_auth else None
        session = aiohttp.ClientSession(
            headers=self.headers, auth=auth, timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
            connector=aiohttp.TCPConnector(keepalive_timeout=IDLE_CONNECTION_SECONDS))
        cached = self._shared_session = (loop, session)
    return _Borrowed(cached[1])


# -- event classes -------------------------------------------------------------------------------------

_event_classes: dict[str, type] = {}
_resolve_by_type = Event.resolve_by_type


def _cached_resolve_by_type(type_name, default=None):
    cls = _event_classes.get(type_name)
    if cls is None:
        cls = _resolve_by_type(type_name, default)
        if cls is not None and cls is not default:
            _event_classes[type_name] = cls
    return cls


RemoteAction._validate_action_result = _validate_action_result
EndpointConfig.session = _shared_session
Event.resolve_by_type = staticmethod(_cached_resolve_by_type)
