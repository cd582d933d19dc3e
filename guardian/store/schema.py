"""Creating and upgrading the schema, and per-connection settings.

Nothing creates tables at import or request time: `create_schema` is called by
`guardian db init` (and is idempotent: a newer version's columns and indexes are added to
an existing database). `prepare_engine` sets SQLite's pragmas on every connection;
`read_namespace` reads the deployment's id namespace, which `create_schema` makes once.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from eventsourcing_sqlalchemy.recorders import SQLAlchemyApplicationRecorder
from sqlalchemy import Engine, event, insert, select
from sqlalchemy.engine import make_url

from guardian.store.tables import meta_table, metadata


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
    if engine.dialect.name == "sqlite":
        # WAL before the first table: in the default rollback-journal mode each DDL
        # statement commits with its own fsyncs (about a second for the whole schema).
        with engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA journal_mode=WAL")
    from sqlalchemy import inspect

    present = set(inspect(engine).get_table_names())
    recorder.create_table()
    metadata.create_all(engine)
    # CREATE TABLE never touches a table that exists: columns and indexes added by a newer
    # version are created here (read models: a missing column resets them, bootstrap.py).
    # Tables created just now have them all already (no catalogue reads for a new database).
    add_missing_columns(engine, present)
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            if table.name not in present:
                continue
            for index in table.indexes:
                index.create(conn, checkfirst=True)
    with engine.begin() as conn:
        found = conn.execute(
            select(meta_table.c.value).where(meta_table.c.key == "id_namespace")
        ).scalar()
        if found is None:
            found = str(uuid.uuid4())
            conn.execute(insert(meta_table).values(key="id_namespace", value=found))
    return uuid.UUID(found)


def add_missing_columns(engine: Engine, present: set[str] | None = None) -> list[str]:
    """`ALTER TABLE … ADD COLUMN` for each column a newer version added to a table that
    exists (of `present`, when given: the tables there before this run); returns them as
    "table.column". Such a column must be nullable or have a server default (the rows
    already there need a value)."""
    from sqlalchemy import inspect
    from sqlalchemy.schema import CreateColumn

    inspector = inspect(engine)
    present = set(inspector.get_table_names()) if present is None else present
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
