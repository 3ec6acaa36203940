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


def _readable(data: Any, event: str) -> dict | None:
    """The event's payload in the shape Rasa's handler reads without raising, or None: an object
    (session_request may send nothing) whose session id, if any, is text and, for a message, whose
    message is text. customData that is text but not JSON is left out; what it holds is for the
    channels' gate (`guarded`) to clean."""
    if data is None and event == "session_request":
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("session_id", ""), (str, type(None))) \
            or not isinstance(data.get("message", ""), str):
        return None
    data = dict(data)
    if isinstance(data.get("customData"), str):  # the widget may send it as JSON text; Rasa would parse it
        try:
            data["customData"] = json.loads(data["customData"])
        except (ValueError, RecursionError):
            del data["customData"]
    return data


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
        for event in (self.user_message_evt, "session_request"):
            async def checked(sid, data=None, *_, _handle=handlers[event], _event=event):
                readable = _readable(data, _event)
                if readable is None:
                    logger.info("socket.io: dropped a malformed %s event", _event)
                    return None
                return await _handle(sid, readable)
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
