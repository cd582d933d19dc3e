"""Driver-level reads and writes: many rows per round trip, on SQLite and PostgreSQL.

Bulk loads and read models write thousands of rows a batch, and the importer looks up
thousands of keys; SQLAlchemy Core's executemany and ORM rows cost more there than the
database does. These helpers go to the driver's cursor in the caller's transaction (or a
connection of their own for reads): multi-row INSERT (… ON CONFLICT for an upsert), COPY
on PostgreSQL, and `IN (…)` selects over pages of values. `dialect_insert` gives Core's
INSERT … ON CONFLICT for the backend in use.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Engine, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def dialect_insert(engine_or_session: Any, table: Table) -> Any:
    """INSERT … ON CONFLICT for the backend in use (SQLite and PostgreSQL both support it)."""
    bind = engine_or_session
    if isinstance(bind, Session):
        bind = bind.get_bind()
    if bind.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def param_mark(bind: Any) -> str:
    """The driver's placeholder: %s for psycopg2, ? for sqlite3."""
    return "%s" if bind.dialect.name == "postgresql" else "?"


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
    try:
        copy_from(cur, table.name, columns, data)
    finally:
        cur.close()


def copy_from(cur: Any, table: str, columns: Sequence[str], data: str) -> None:
    """COPY `data` (COPY's text format) into `table` with the driver's cursor `cur`.

    One read of the whole buffer: psycopg2 reads the file object in `size` chunks, and each
    chunk needs the GIL, which the thread preparing the next batch may be holding.
    """
    cur.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN",
                    io.StringIO(data), size=len(data) + 1)


def select_in(engine: Engine, sql: str, values: Sequence[Any], page: int = 1000,
              prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run `sql IN (…)` over pages of `values` with the driver's cursor (no ORM rows).

    `sql` ends where the list begins (e.g. "SELECT … WHERE provider = ? AND pathway_id");
    `prefix` holds the values of its own placeholders, written with `param_mark`.
    """
    if not values:
        return []
    out: list[tuple[Any, ...]] = []
    mark = param_mark(engine)
    with engine.connect() as conn:
        cur = conn.connection.driver_connection.cursor()
        try:
            for start in range(0, len(values), page):
                part = values[start : start + page]
                cur.execute(f"{sql} IN ({', '.join([mark] * len(part))})", [*prefix, *part])
                out.extend(cur.fetchall())
        finally:
            cur.close()
    return out


def chunks(items: Iterable[Any], size: int) -> Iterable[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
