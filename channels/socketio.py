"""The storefront widget's socket.io channel, shared across Rasa servers when REDIS_URL is set.

Rasa 3.6's own channel keeps its sockets in the process: with several servers, a message pushed
into a conversation (an agent's reply, through any server) reaches the shopper only if the shopper's
socket happens to be on that server. With REDIS_URL, every server's socket.io talks through Redis
(socketio.AsyncRedisManager), so any server can deliver to any shopper. One server: Rasa's channel as is.
"""
from __future__ import annotations

import os

import rasa.core.channels.socketio as rasa_socketio
import socketio

from channels.common import guarded, with_server_limits


class SocketIOInput(rasa_socketio.SocketIOInput):
    def blueprint(self, on_new_message):
        on_new_message = guarded(on_new_message)  # the gate every channel's message passes (README "Limits")
        return with_server_limits(self._blueprint(on_new_message))

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
