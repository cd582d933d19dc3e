"""How a place report's read transaction is bounded in the database (docs/deployment.md
"Reports beside the worklists"): a statement timeout for every query of the transaction
(PostgreSQL's `SET LOCAL statement_timeout`; on SQLite a progress handler that interrupts
the query), whether an error is that timeout, and which PostgreSQL backend serves the
connection (so the report pool can tell its own CPU from everyone else's).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError


@contextlib.contextmanager
def time_limit(conn: Connection, seconds: float) -> Iterator[None]:
    """Stops any query of `conn`'s transaction running past `seconds` (an OperationalError
    that `timed_out` recognises)."""
    if conn.dialect.name == "postgresql":
        ms = max(1, int(seconds * 1000))
        conn.exec_driver_sql(f"SET LOCAL statement_timeout = {ms}")
        yield
        return
    deadline = time.monotonic() + seconds
    raw = conn.connection.driver_connection
    raw.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
    try:
        yield
    finally:
        raw.set_progress_handler(None, 0)


def timed_out(error: OperationalError) -> bool:
    """PostgreSQL's statement timeout (57014) or SQLite's interrupted query."""
    code = getattr(error.orig, "pgcode", None)
    return code == "57014" or "interrupted" in str(error.orig)


def backend_pid(conn: Connection) -> int | None:
    """The PostgreSQL backend serving `conn` (its CPU is this report's, not others');
    None on SQLite (the queries run in this process)."""
    if conn.dialect.name != "postgresql":
        return None
    return conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
