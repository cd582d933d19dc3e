"""Persistence: the event store (eventsourcing-sqlalchemy) and Guardian's reference tables.

One SQLAlchemy engine per process serves the event store and every table here. Nothing
creates tables at import or request time: `create_schema` is called by `guardian db init`.
"""

from __future__ import annotations

import fcntl
import io
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.utils import strtobool
from eventsourcing_sqlalchemy.factory import SQLAlchemyFactory
from eventsourcing_sqlalchemy.recorders import SQLAlchemyApplicationRecorder
from sqlalchemy import (
    Column,
    Date,
    Engine,
    Index,
    MetaData,
    String,
    Table,
    Text,
    event,
    insert,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

metadata = MetaData()

meta_table = Table(
    "guardian_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

organisations = Table(
    "organisations",
    metadata,
    Column("practice_code", String(8), primary_key=True),
    Column("practice_name", Text, nullable=False),
    Column("pcn_code", String(8), nullable=False),
    Column("pcn_name", Text, nullable=False),
    Column("place", Text, nullable=False),
    Index("organisations_pcn", "pcn_code"),
    Index("organisations_place", "place"),
)

# Where each known pathway lives and a digest of what its provider last reported.
# Written in the same transaction as the events; rebuildable from them (`rebuild_pathway_index`).
pathway_index = Table(
    "pathway_index",
    metadata,
    Column("provider", String(8), primary_key=True),
    Column("pathway_id", String(64), primary_key=True),
    Column("patient_id", String(32), nullable=False),
    Column("fingerprint", String(24), nullable=False),
    # O: on the waiting list; L: left the list (full snapshot); S: clock stopped or closed
    Column("state", String(1), nullable=False),
    # `GET /api/v1/referrals/{pathway_id}` finds a pathway by its id alone
    Index("pathway_index_pathway_id", "pathway_id"),
)

# The latest extract applied per provider (an older one is refused whole).
provider_extracts = Table(
    "provider_extracts",
    metadata,
    Column("provider", String(8), primary_key=True),
    Column("last_as_of", Date, nullable=False),
)


def dialect_insert(engine_or_session: Any, table: Table) -> Any:
    """INSERT … ON CONFLICT for the backend in use (SQLite and PostgreSQL both support it)."""
    bind = engine_or_session
    if isinstance(bind, Session):
        bind = bind.get_bind()
    if bind.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def upsert(session: Session, table: Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]):
    """Insert or update many rows at the driver level, in the session's transaction."""
    if rows:
        updates = [c for c in rows[0] if c not in keys]
        conflict = f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET " + ", ".join(
            f"{c} = excluded.{c}" for c in updates
        )
        bulk_insert(session.connection(), table, rows, conflict)


def bulk_insert(
    conn: Any, table: Table, rows: Sequence[dict[str, Any]], suffix: str = ""
) -> None:
    """Insert many rows at the driver level, in the caller's transaction (SQLAlchemy
    Connection): one round trip per 1,000 rows. Bulk loads and read models write thousands
    of rows a batch; Core's executemany spends more time building parameters than the
    database spends inserting. `suffix` is SQL after the VALUES (e.g. ON CONFLICT …)."""
    if not rows:
        return
    columns = list(rows[0])
    if conn.dialect.name == "postgresql" and not suffix:
        copy_rows(conn, table, columns, rows)
        return
    values = [tuple(r[c] for c in columns) for r in rows]
    into = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES"
    cur = conn.connection.driver_connection.cursor()
    try:
        if conn.dialect.name == "postgresql":
            from psycopg2.extras import execute_values

            execute_values(cur, f"{into} %s {suffix}", values, page_size=1000)
        else:
            marks = ", ".join("?" for _ in columns)
            cur.executemany(f"{into} ({marks}) {suffix}", values)
    finally:
        cur.close()


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: Any) -> str:
    """One value in COPY's text format: NULL as \\N, strings escaped, the rest by str()
    (int, float, Decimal, ISO dates and timestamps)."""
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES)
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value)


def copy_rows(conn: Any, table: Table, columns: Sequence[str],
              rows: Sequence[dict[str, Any]]) -> None:
    """COPY rows into a PostgreSQL table in the caller's transaction: the read models'
    bulk path (the server parses COPY's text far faster than a multi-row INSERT, and no
    SQL text is built)."""
    data = "".join(["\t".join([_copy_text(r[c]) for c in columns]) + "\n" for r in rows])
    cur = conn.connection.driver_connection.cursor()
    try:  # one read of the whole buffer (see _copy_events)
        cur.copy_expert(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN",
                        io.StringIO(data), size=len(data) + 1)
    finally:
        cur.close()


class GuardianRecorder(SQLAlchemyApplicationRecorder):
    """The application recorder, with three changes.

    - Events are inserted at the driver level (COPY on PostgreSQL, executemany on SQLite)
      rather than through the ORM's unit of work.
    - Pathway index rows passed to `save(..., index_rows=…)`, and any `extra_rows` (the
      audit entry of the action that wrote the events), are written in the same
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
                    f"INSERT INTO {table} (originator_id, originator_version, topic, state) "
                    "VALUES (?, ?, ?, ?)",
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
    # One read of the whole buffer: psycopg2 reads the file object in `size` chunks, and
    # each chunk needs the GIL, which the thread preparing the next batch is holding.
    cur.copy_expert(
        f"COPY {table} (originator_id, originator_version, topic, state) FROM STDIN",
        io.StringIO(data),
        size=len(data) + 1,
    )
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


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def prepare_engine(engine: Engine) -> None:
    """Per-connection settings: WAL and a busy timeout on SQLite."""
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)


def ensure_sqlite_directory(url: str) -> None:
    u = make_url(url)
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        Path(u.database).parent.mkdir(parents=True, exist_ok=True)


def create_schema(engine: Engine, recorder: SQLAlchemyApplicationRecorder) -> uuid.UUID:
    """Create every table (idempotent) and the deployment's id namespace; return it."""
    recorder.create_table()
    metadata.create_all(engine)
    # CREATE TABLE never touches a table that exists: columns and indexes added by a newer
    # version are created here (read models: a missing column resets them, bootstrap.py).
    add_missing_columns(engine)
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            for index in table.indexes:
                index.create(conn, checkfirst=True)
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        found = conn.execute(
            select(meta_table.c.value).where(meta_table.c.key == "id_namespace")
        ).scalar()
        if found is None:
            found = str(uuid.uuid4())
            conn.execute(insert(meta_table).values(key="id_namespace", value=found))
    return uuid.UUID(found)


def add_missing_columns(engine: Engine) -> list[str]:
    """`ALTER TABLE … ADD COLUMN` for each column a newer version added to a table that
    exists; returns them as "table.column". Such a column must be nullable or have a
    server default (the rows already there need a value)."""
    from sqlalchemy import inspect
    from sqlalchemy.schema import CreateColumn

    inspector = inspect(engine)
    present = set(inspector.get_table_names())
    added = []
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            if table.name not in present:
                continue
            have = {c["name"] for c in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name in have:
                    continue
                if not column.nullable and column.server_default is None:
                    raise RuntimeError(f"column {table.name}.{column.name} cannot be added "
                                       "to an existing table: it needs a server default")
                conn.exec_driver_sql(
                    f"ALTER TABLE {conn.dialect.identifier_preparer.format_table(table)} "
                    f"ADD COLUMN {CreateColumn(column).compile(dialect=conn.dialect)}"
                )
                added.append(f"{table.name}.{column.name}")
    return added


def read_namespace(engine: Engine) -> uuid.UUID | None:
    with engine.connect() as conn:
        value = conn.execute(
            select(meta_table.c.value).where(meta_table.c.key == "id_namespace")
        ).scalar()
    return uuid.UUID(value) if value else None


def chunks(items: Iterable[Any], size: int) -> Iterable[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
