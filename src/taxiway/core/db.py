"""Database engine and transactions.

SQLite (embedded default) allows one writer at a time, so write transactions start with
BEGIN IMMEDIATE: they queue on the database lock up front instead of failing half-way
with "database is locked". Within a process they first queue on a lock of their own: a writer
that finds SQLite's lock taken sleeps in SQLite's busy handler (1, 2, 5 … 100 ms at a time,
whenever the lock is free meanwhile), so eight threads writing at once spent most of their time
asleep, and their slowest waits ran to a second; on a lock of the process, the next writer starts
as soon as the last commits. On PostgreSQL, code that must serialize (admission, claims)
takes row locks explicitly with SELECT ... FOR UPDATE.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 60_000
_READ_ONLY = "taxiway.read_only"  # session.info: opened by read() or snapshot() and has written nothing


def _sqlite_engine(url: str, begin: str) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 60})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite so BEGIN is ours to emit.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)

    return engine


class Database:
    """Owns the engines and hands out sessions bound to one transaction each."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self._write_engine = _sqlite_engine(url, "BEGIN IMMEDIATE")
            self._read_engine = _sqlite_engine(url, "BEGIN")
        else:
            self._write_engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
            self._read_engine = self._write_engine
        # Reentrant: a nested write would wait on SQLite's lock, as it always has, not on this one.
        self._write_lock: AbstractContextManager[Any] = threading.RLock() if self.is_sqlite else nullcontext()
        self._writer = sessionmaker(self._write_engine, expire_on_commit=False)
        self._reader = sessionmaker(self._read_engine, expire_on_commit=False)
        # A SQLite read transaction is one snapshot already; PostgreSQL's default (read committed)
        # takes a new one per statement.
        snapshots = (
            self._read_engine
            if self.is_sqlite
            else self._read_engine.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        )
        self._snapshot = sessionmaker(snapshots, expire_on_commit=False)

    @property
    def engine(self) -> Engine:
        return self._write_engine

    @property
    def read_engine(self) -> Engine:
        """The engine of read() and snapshot() (on PostgreSQL, the same as ``engine``)."""
        return self._read_engine

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that may write; commits on success, rolls back on error."""
        with self._write_lock, self._writer() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only transaction (never blocks on SQLite's writer lock)."""
        with self._reader() as session, session.begin():
            session.info[_READ_ONLY] = True
            yield session

    @contextmanager
    def snapshot(self) -> Iterator[Session]:
        """A read-only transaction whose statements all see one snapshot of the database."""
        with self._snapshot() as session, session.begin():
            session.info[_READ_ONLY] = True
            yield session

    def dispose(self) -> None:
        self._write_engine.dispose()
        if self._read_engine is not self._write_engine:
            self._read_engine.dispose()


def is_read_only(session: Session) -> bool:
    """Whether ``session`` is a read() or snapshot() transaction that has flushed nothing: what it
    reads is a committed state of the database."""
    return bool(session.info.get(_READ_ONLY))


@event.listens_for(Session, "after_flush")
def _no_longer_read_only(session: Session, _flush: Any) -> None:
    session.info.pop(_READ_ONLY, None)


@event.listens_for(Session, "do_orm_execute")
def _bulk_write_is_a_write(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info.pop(_READ_ONLY, None)


def after_commit(session: Session, action: Callable[[], None]) -> None:
    """Run ``action`` once ``session``'s transaction has committed; never if it rolls back (for
    what must only tell of what was kept, such as metrics)."""
    event.listen(session, "after_commit", lambda _session: action(), once=True)
