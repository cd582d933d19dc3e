"""The event store's recorder and infrastructure factory (eventsourcing-sqlalchemy, tuned).

`GuardianRecorder` is the library's application recorder with the writes done at the driver
level (COPY on PostgreSQL, executemany on SQLite), the rows that must commit with the
events (pathway index, audit entry) written in the same transaction, and SQLite writers of
several processes queued on a lock file. `GuardianFactory` builds it on `EVENTS_TABLE`, with
a PostgreSQL pool sized to the web threads. `open_factory` is how the repository gets one.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import ApplicationRecorder, IntegrityError, StoredEvent
from eventsourcing.utils import Environment, strtobool
from eventsourcing_sqlalchemy.factory import SQLAlchemyFactory
from eventsourcing_sqlalchemy.recorders import SQLAlchemyApplicationRecorder
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from guardian.store.bulk import copy_from, upsert
from guardian.store.tables import APP_NAME, EVENTS_TABLE, pathway_index

_EVENT_COLUMNS = ("originator_id", "originator_version", "topic", "state")


class GuardianRecorder(SQLAlchemyApplicationRecorder):
    """The application recorder, with three changes.

    - Events are inserted at the driver level (COPY on PostgreSQL, executemany on SQLite)
      rather than through the ORM's unit of work.
    - Pathway index rows passed to `insert_events(..., index_rows=…)`, and any `extra_rows`
      (the audit entry of the action that wrote the events), are written in the same
      transaction as the events, so they and the events can never disagree.
    - On an SQLite file, writers from several processes queue on a lock file instead of
      SQLite's busy handler, which polls with sleeps of up to 100 ms and so leaves the
      database idle while writers wait.
    """

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any):
        lock_path = self._sqlite_lock_path()
        if lock_path is None:
            return super().insert_events(stored_events, **kwargs)
        with open(lock_path, "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                return super().insert_events(stored_events, **kwargs)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _sqlite_lock_path(self) -> str | None:
        engine = self.datastore.engine
        if engine is None or engine.dialect.name != "sqlite":
            return None
        database = engine.url.database
        if not database or database == ":memory:" or database.startswith("file:"):
            return None
        return database + ".write-lock"

    def _insert_events(self, session: Session, stored_events: Sequence[StoredEvent], **kw: Any):
        upsert(session, pathway_index, kw.get("index_rows") or (), ("provider", "pathway_id"))
        # rows that must commit with the events (an audit entry of the action): `extra_rows`
        # is a sequence of (table, rows)
        for table, rows in kw.get("extra_rows") or ():
            if rows:
                session.execute(table.insert(), list(rows))
        return None

    def _insert_stored_events(
        self, session: Session, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int]:
        """Insert with the driver's executemany: the ORM costs more than the database here.

        The table lock (PostgreSQL) or the single writer (SQLite) makes the new ids one
        contiguous run, in insertion order.
        """
        if not stored_events:
            return []
        self._lock_table(session)
        table = self.events_table_name
        dbapi = session.connection().connection.driver_connection
        cur = dbapi.cursor()
        try:
            if session.get_bind().dialect.name == "postgresql":
                ids = _copy_events(cur, table, stored_events)
            else:
                rows = [
                    (e.originator_id.bytes, e.originator_version, e.topic, e.state)  # type: ignore[union-attr]
                    for e in stored_events
                ]
                cur.executemany(
                    f"INSERT INTO {table} ({', '.join(_EVENT_COLUMNS)}) VALUES (?, ?, ?, ?)",
                    rows,
                )
                cur.execute(f"SELECT max(id) FROM {table}")
                last = cur.fetchone()[0]
                ids = list(range(last - len(rows) + 1, last + 1))
        except Exception as e:
            _raise_integrity(e)
            raise
        finally:
            cur.close()
        self._notify_channel(session)
        return ids


def _copy_events(cur: Any, table: str, stored_events: Sequence[StoredEvent]) -> list[int]:
    """COPY the events in (about twice as fast as multi-row INSERT here).

    The caller holds LOCK TABLE … IN EXCLUSIVE MODE, so no other session takes ids from the
    sequence meanwhile: the new ids are the last `n` values of this session's sequence.
    """
    data = "".join(
        [
            f"{e.originator_id}\t{e.originator_version}\t{e.topic}\t\\\\x{e.state.hex()}\n"
            for e in stored_events
        ]
    )
    copy_from(cur, table, _EVENT_COLUMNS, data)
    cur.execute(f"SELECT currval(pg_get_serial_sequence('{table}', 'id'))")
    last = cur.fetchone()[0]
    return list(range(last - len(stored_events) + 1, last + 1))


def _raise_integrity(error: Exception) -> None:
    """Report a duplicate (aggregate id, version) as eventsourcing's IntegrityError."""
    import sqlite3

    try:
        import psycopg2
        pg_integrity: tuple[type[Exception], ...] = (psycopg2.IntegrityError,)
    except ImportError:  # pragma: no cover
        pg_integrity = ()
    if isinstance(error, (sqlite3.IntegrityError, *pg_integrity)):
        raise IntegrityError(str(error)) from error


class GuardianFactory(SQLAlchemyFactory):
    application_recorder_class = GuardianRecorder

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        # On PostgreSQL, a pool as large as the threads that may each hold one connection
        # (GUARDIAN_WEB_THREADS), with a few spare for the process's own work; the library's
        # engine has SQLAlchemy's default 5 + 10. Engines connect lazily: nothing is opened
        # by the one replaced here.
        engine = self.datastore.engine
        size = self.env.get("GUARDIAN_POOL_SIZE")
        if size and isinstance(engine, Engine) and engine.dialect.name == "postgresql":
            engine.dispose()
            self.datastore = self.datastore_class(
                url=engine.url.render_as_string(hide_password=False),
                autoflush=strtobool(self.env.get(self.SQLALCHEMY_AUTOFLUSH) or "True"),
                pool_size=int(size), max_overflow=4, pool_timeout=30,
            )

    def application_recorder(self) -> ApplicationRecorder:
        """The recorder on `EVENTS_TABLE` (never created here: `guardian db init` does)."""
        return self.application_recorder_class(
            datastore=self.datastore, events_table_name=EVENTS_TABLE,
            schema_name=self._schema_name,
        )


def open_factory(database_url: str, pool_size: int) -> GuardianFactory:
    """The infrastructure factory for this database, configured as the library's
    `Application` would be: the process environment, then these values over it."""
    env = {**os.environ, "PERSISTENCE_MODULE": f"{__name__}:GuardianFactory",
           "SQLALCHEMY_URL": database_url, "CREATE_TABLE": "no",
           "GUARDIAN_POOL_SIZE": str(pool_size)}
    return GuardianFactory(Environment(APP_NAME, env))
