"""The storefront widget's socket.io channel, shared across Rasa servers when REDIS_URL is set.

Rasa 3.6's own channel keeps its sockets in the process: with several servers, a message pushed
into a conversation (an agent's reply, through any server) reaches the shopper only if the shopper's
socket happens to be on that server. With REDIS_URL, every server's socket.io talks through Redis
(socketio.AsyncRedisManager), so any server can deliver to any shopper. One server: Rasa's channel as is.
"""
from __future__ import annotations

import json
import logging
import os
from typing import Any

import rasa.core.channels.socketio as rasa_socketio
import socketio

from channels.common import guarded, with_server_limits

logger = logging.getLogger(__name__)


def _message_event(data: Any) -> dict | None:
    """A user_uttered payload as Rasa's handler reads it, or None: an object whose message is text,
    whose session id, if any, is text, and whose metadata (`customData`) is an object or its JSON
    (metadata that is neither is left out; the message still counts)."""
    if not isinstance(data, dict) or not isinstance(data.get("message", ""), str) \
            or not isinstance(data.get("session_id", ""), (str, type(None))):
        return None
    data = dict(data)
    metadata = data.get("customData")
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except ValueError:
            metadata = None
    if not isinstance(metadata, dict):
        data.pop("customData", None)
    else:
        data["customData"] = metadata
    return data


def _session_event(data: Any) -> dict | None:
    """A session_request payload: nothing (Rasa makes a session id), or an object whose session id,
    if any, is text."""
    if data is None:
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("session_id", ""), (str, type(None))):
        return None
    return dict(data)


class SocketIOInput(rasa_socketio.SocketIOInput):
    def blueprint(self, on_new_message):
        on_new_message = guarded(on_new_message)  # the gate every channel's message passes (README "Limits")
        blueprint = self._blueprint(on_new_message)
        self._check_events()
        return with_server_limits(blueprint)

    def _check_events(self) -> None:
        """Rasa's event handlers take the widget's payloads on trust: a message that is a number,
        a string for the payload or metadata that is not JSON raised inside them, a traceback per
        event in the log. Such an event is dropped here with one line."""
        handlers = self.sio.handlers[self.namespace or "/"]
        for event, check in ((self.user_message_evt, _message_event), ("session_request", _session_event)):
            async def checked(sid, *args, _handle=handlers[event], _check=check, _event=event):
                data = _check(args[0] if args else None)
                if data is None or len(args) > 1:
                    logger.info("socket.io: dropped a malformed %s event", _event)
                    return None
                return await _handle(sid, data)
            handlers[event] = checked

    def _blueprint(self, on_new_message):
        url = os.environ.get("REDIS_URL")
        if not url:
            return super().blueprint(on_new_message)
        plain = rasa_socketio.AsyncServer

        def shared_server(*args, **kwargs):
            return plain(*args, client_manager=socketio.AsyncRedisManager(url, channel="shop-socketio"), **kwargs)

        # Rasa builds its AsyncServer inside blueprint(); hand it one that talks through Redis.
        rasa_socketio.AsyncServer = shared_server
        try:
            return super().blueprint(on_new_message)
        finally:
            rasa_socketio.AsyncServer = plain
