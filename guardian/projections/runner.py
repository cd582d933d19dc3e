"""The projection runner: reads the notification log in batches and keeps read models current.

Each batch's rows and the projection's tracking position are written in one transaction, so
a crash never leaves rows without their position or the reverse. The position advances by
compare-and-set: two runners on one database never apply a batch twice (the loser rolls back
and reads on from the winner's position). A rebuild writes into tables aside and swaps them
in one transaction, so readers never see a half-built read model.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    String,
    Table,
    select,
    update,
)

from guardian.store import dialect_insert, metadata

log = logging.getLogger("guardian.projections")

tracking = Table(
    "projection_tracking",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("position", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


class Projection(Protocol):
    """A read model: tables it owns and how a batch of notifications changes them."""

    name: str

    def tables(self, suffix: str = "") -> list[Table]:
        """Its tables (with `suffix` for a rebuild aside); each is created when missing."""

    def apply(self, conn: Connection, app: Any, batch: Sequence[Notice], suffix: str) -> None:
        """Bring its rows up to date with these notifications (same transaction as the position)."""

    def swap(self, conn: Connection, suffix: str) -> None:
        """Replace its live tables with the ones built aside."""


@dataclass(frozen=True)
class Notice:
    """One notification: its position, aggregate and topic (projections reload aggregates)."""

    id: int
    originator_id: UUID
    topic: str


class PositionTaken(Exception):
    """Another runner advanced the projection first: this batch was rolled back."""


class ProjectionRunner:
    def __init__(self, app: Any, projections: Iterable[Projection], batch_size: int = 1000):
        self.app = app
        self.projections = list(projections)
        self.batch_size = batch_size

    # ------------------------------------------------------------------ positions
    def position(self, name: str) -> int:
        with self.app.engine.connect() as conn:
            value = conn.execute(
                select(tracking.c.position).where(tracking.c.name == name)
            ).scalar()
        return int(value or 0)

    def head(self) -> int:
        return int(self.app.recorder.max_notification_id() or 0)

    def lag(self) -> dict[str, dict[str, Any]]:
        """Events behind and seconds behind (age of the oldest unprojected event), per model."""
        head = self.head()
        out: dict[str, dict[str, Any]] = {}
        for p in self.projections:
            position = self.position(p.name)
            behind = max(0, head - position)
            seconds = 0.0
            if behind:
                first = self.app.recorder.select_notifications(start=position + 1, limit=1)
                try:
                    event = self.app.mapper.to_domain_event(first[0])
                    seconds = max(0.0, (self.app.now() - event.timestamp).total_seconds())
                except Exception:  # an event this version cannot read: age unknown
                    seconds = float("nan")
            out[p.name] = {"position": position, "events_behind": behind,
                           "seconds_behind": None if seconds != seconds else round(seconds, 3)}
        return out

    # ------------------------------------------------------------------ running
    def run_once(self) -> int:
        """Bring every projection up to the current head; return notifications processed."""
        return sum(self._catch_up(p, p.name, "") for p in self.projections)

    def follow(self, stop: threading.Event, poll: float = 0.2) -> None:
        """Keep following new events until `stop` is set (polling, backing off when idle)."""
        idle = poll
        while not stop.is_set():
            try:
                done = self.run_once()
            except Exception:  # keep following: log, wait, retry
                log.exception("projection batch failed; retrying")
                done = 0
            idle = poll if done else min(idle * 2, 2.0)
            stop.wait(0 if done else idle)

    def rebuild(self) -> int:
        """Rebuild every projection aside from the whole log, then swap it in."""
        total = 0
        for p in self.projections:
            name, suffix = f"{p.name}@rebuild", "_rebuild"
            with self.app.engine.begin() as conn:
                for table in p.tables(suffix):
                    table.drop(conn, checkfirst=True)
                    table.create(conn)
                conn.execute(tracking.delete().where(tracking.c.name == name))
            total += self._catch_up(p, name, suffix)
            with self.app.engine.begin() as conn:
                position = conn.execute(
                    select(tracking.c.position).where(tracking.c.name == name)
                ).scalar() or 0
                p.swap(conn, suffix)
                conn.execute(tracking.delete().where(tracking.c.name == name))
                self._set(conn, p.name, position)
            total += self._catch_up(p, p.name, "")  # whatever arrived during the swap
        return total

    def _catch_up(self, projection: Projection, name: str, suffix: str) -> int:
        self._ensure(name)
        processed = 0
        while True:
            position = self.position(name)
            batch = self._notices(position)
            if not batch:
                return processed
            try:
                with self.app.engine.begin() as conn:
                    projection.apply(conn, self.app, batch, suffix)
                    self._advance(conn, name, position, batch[-1].id)
            except PositionTaken:
                log.info("%s: another runner took position %s; reading on", name, position)
                continue
            processed += len(batch)

    def _notices(self, after: int) -> list[Notice]:
        """The next batch of notifications: ids, aggregates and topics only (no ORM, no state)."""
        engine = self.app.engine
        table = self.app.recorder.events_table_name
        mark = "%s" if engine.dialect.name == "postgresql" else "?"
        with engine.connect() as conn:
            cur = conn.connection.driver_connection.cursor()
            try:
                cur.execute(
                    f"SELECT id, originator_id, topic FROM {table} WHERE id > {mark} "
                    f"ORDER BY id LIMIT {mark}",
                    (after, self.batch_size),
                )
                rows = cur.fetchall()
            finally:
                cur.close()
        return [Notice(i, _uuid(o), t) for i, o, t in rows]

    # ------------------------------------------------------------------ tracking rows
    def _ensure(self, name: str) -> None:
        with self.app.engine.begin() as conn:
            stmt = dialect_insert(conn, tracking).values(
                name=name, position=0, updated_at=_now()
            )
            conn.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))

    @staticmethod
    def _advance(conn: Connection, name: str, old: int, new: int) -> None:
        result = conn.execute(
            update(tracking)
            .where(tracking.c.name == name, tracking.c.position == old)
            .values(position=new, updated_at=_now())
        )
        if result.rowcount != 1:
            raise PositionTaken(name)

    @staticmethod
    def _set(conn: Connection, name: str, position: int) -> None:
        stmt = dialect_insert(conn, tracking).values(
            name=name, position=position, updated_at=_now()
        )
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["name"],
                set_={"position": stmt.excluded.position, "updated_at": stmt.excluded.updated_at},
            )
        )


def _uuid(value: Any) -> UUID:
    if isinstance(value, UUID):
        return value
    if isinstance(value, (bytes, memoryview)):
        return UUID(bytes=bytes(value))
    return UUID(value)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
