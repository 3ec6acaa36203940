"""Database engine and sessions. `DATABASE_URL` picks the database; embedded SQLite is the default."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from bot import config


def make_engine(url: str | None = None) -> Engine:
    url = url or config.database_url()
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # A pool of open connections (SQLAlchemy 1.4 opens a new one per transaction for files):
        # connecting, with its PRAGMAs, cost the action server a fifth of its CPU per message.
        pool = {"poolclass": QueuePool} if path and path != ":memory:" else {}
        engine = create_engine(url, future=True, connect_args={"timeout": 30, "check_same_thread": False}, **pool)
        _serialise_sqlite_writers(engine)
        return engine
    return create_engine(url, future=True, pool_pre_ping=True)


def _serialise_sqlite_writers(engine: Engine) -> None:
    """Make SQLite transactions take the write lock at BEGIN.

    pysqlite starts transactions lazily, so two read-then-write transactions can both read
    "not cancelled" and both refund. BEGIN IMMEDIATE serialises them, like SELECT ... FOR UPDATE
    does on PostgreSQL (SQLAlchemy's documented recipe).
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # let SQLAlchemy emit BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """One engine and its session factory; everything that touches the case database goes through here."""

    def __init__(self, url: str | None = None):
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, future=True, expire_on_commit=False)

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error."""
        with self.sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
