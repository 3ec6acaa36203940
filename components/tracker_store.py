"""Where Rasa keeps conversations: its SQL tracker store on TRACKER_STORE_URL (an SQLAlchemy URL;
default an embedded SQLite file, var/tracker.db). A database of its own, never the case database:
Rasa's `events` table would collide with an SQL event broker's (see README: Analytics)."""
from __future__ import annotations

import os
from typing import Any

from rasa.core.tracker_store import SQLTrackerStore
from sqlalchemy import create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import QueuePool

from bot.config import tracker_store_url


class ShopTrackerStore(SQLTrackerStore):
    def __init__(self, domain=None, event_broker=None, host: Any = None, **kwargs: Any) -> None:
        url = make_url(tracker_store_url())
        sqlite_file = url.drivername.startswith("sqlite") and url.database not in (None, "", ":memory:")
        if sqlite_file:
            os.makedirs(os.path.dirname(os.path.abspath(url.database)), exist_ok=True)
        super().__init__(domain=domain, dialect=url.drivername, host=url.host, port=url.port, db=url.database,
                         username=url.username, password=url.password, event_broker=event_broker,
                         query=dict(url.query) or None, **kwargs)
        if sqlite_file:
            self._reuse_sqlite_connections()

    def _reuse_sqlite_connections(self) -> None:
        """Rasa opens a new SQLite connection for each read and write of a conversation, and each
        commit waits for the disk. Here connections stay open in a pool and the file is in WAL
        mode with synchronous=NORMAL: a crash of the server loses nothing, a power cut at most the
        last moments (PostgreSQL is the production store, README: Scale-out)."""
        url = self.engine.url
        self.engine.dispose()
        self.engine = create_engine(url, poolclass=QueuePool,
                                    connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(self.engine, "connect")
        def _pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        self.sessionmaker = sessionmaker(bind=self.engine)
