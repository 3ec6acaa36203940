"""Rasa's lock store, chosen by the environment: Redis on REDIS_URL when several Rasa servers share
the conversations (each message of a conversation is then handled by one server at a time, in
order), else in memory (one server, one worker process)."""
from __future__ import annotations

import os

from rasa.core.lock_store import InMemoryLockStore, LockStore, RedisLockStore
from sqlalchemy.engine import make_url


class ShopLockStore(LockStore):
    def __new__(cls, endpoint_config=None):  # Rasa instantiates the class named in endpoints.yml
        url = os.environ.get("REDIS_URL")
        if not url:
            if int(os.environ.get("SANIC_WORKERS") or 1) > 1:
                # Rasa would start the workers, each with its own locks: two messages of one
                # conversation could then be handled at once, and the later one lost.
                raise RuntimeError("SANIC_WORKERS > 1 needs a shared lock store: set REDIS_URL")
            return InMemoryLockStore()
        parsed = make_url(url)  # redis://[:password@]host:port/db
        return RedisLockStore(host=parsed.host or "localhost", port=parsed.port or 6379,
                              db=int(parsed.database or 1), password=parsed.password, key_prefix="shop")
