"""Where Rasa keeps conversations: its SQL tracker store on TRACKER_STORE_URL (an SQLAlchemy URL;
default an embedded SQLite file, var/tracker.db). A database of its own, never the case database:
Rasa's `events` table would collide with an SQL event broker's (see README: Analytics)."""
from __future__ import annotations

import os
from typing import Any

from rasa.core.tracker_store import SQLTrackerStore
from sqlalchemy.engine import make_url

from bot.config import tracker_store_url


class ShopTrackerStore(SQLTrackerStore):
    def __init__(self, domain=None, event_broker=None, host: Any = None, **kwargs: Any) -> None:
        url = make_url(tracker_store_url())
        if url.drivername.startswith("sqlite") and url.database:
            os.makedirs(os.path.dirname(os.path.abspath(url.database)), exist_ok=True)
        super().__init__(domain=domain, dialect=url.drivername, host=url.host, port=url.port, db=url.database,
                         username=url.username, password=url.password, event_broker=event_broker,
                         query=dict(url.query) or None, **kwargs)
