"""The record of scheduled runs: the `scheduler_runs` table (one row per job with its last
run, plus a `leader` row with the acting scheduler and its last heartbeat) and how it is
written and read. `guardian scheduler` (guardian/scheduler.py) writes it; `/healthz` shows it.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import Column, DateTime, Engine, Float, String, Table, Text, select

from guardian.store import dialect_insert, metadata

scheduler_runs = Table(
    "scheduler_runs",
    metadata,
    Column("job", String(32), primary_key=True),
    Column("runner", String(128), nullable=False),  # host:pid of the scheduler that ran it
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("seconds", Float),
    Column("status", String(16), nullable=False),  # running, ok, failed; leader: acting
    Column("summary", Text),  # JSON: the job's counts, or the error
)


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def write_run(engine: Engine, **row: Any) -> None:
    with engine.begin() as conn:
        stmt = dialect_insert(conn, scheduler_runs).values(**row)
        conn.execute(stmt.on_conflict_do_update(
            index_elements=["job"], set_={k: stmt.excluded[k] for k in row if k != "job"}))


def status(engine: Engine) -> dict[str, dict[str, Any]]:
    """The last run of each job and the acting scheduler (for /healthz)."""
    out: dict[str, dict[str, Any]] = {}
    with engine.connect() as conn:
        for r in conn.execute(select(scheduler_runs)):
            row = dict(r._mapping)
            job = row.pop("job")
            summary = row.pop("summary")
            try:
                row["summary"] = json.loads(summary) if summary else None
            except ValueError:
                row["summary"] = summary
            for k in ("started_at", "finished_at"):
                if row[k] is not None:
                    row[k] = row[k].isoformat()
            out[job] = row
    return out


def last_started(engine: Engine, job: str) -> dt.datetime | None:
    with engine.connect() as conn:
        value = conn.execute(
            select(scheduler_runs.c.started_at).where(scheduler_runs.c.job == job)).scalar()
    if value is not None and value.tzinfo is None:  # SQLite keeps no offset: stored as UTC
        value = value.replace(tzinfo=dt.UTC)
    return value
