"""Read-model positions: how far each read model has taken in the notification log.

One row per position in `projection_tracking`: a read model's name (or `<name>@rebuild`
while it is rebuilt aside) and the id of the last notification its rows hold. This is the
library's tracking notion (`eventsourcing.persistence.Tracking` and `TrackingRecorder`):
`max_tracking_id`, `has_tracking_id`, `wait` and `insert_tracking` behave as they do for any
eventsourcing view. Ours beyond it: one table for every read model, keyed by the read
model's name where the library keys a view's table by the application it follows (each read
model here follows the one application, so `Tracking.application_name` carries the position's
name), and a compare-and-set `advance` in the caller's transaction, so that the rows and
their position commit together and, of two runners, only one moves a position (the other
gets `PositionTaken` and rolls back). The library's recorder checks and then writes, in two
transactions, which two runners can both pass.
"""

from __future__ import annotations

import datetime as dt

from eventsourcing.persistence import IntegrityError, Tracking, TrackingRecorder
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Engine,
    String,
    Table,
    select,
    update,
)

from guardian.store import dialect_insert, metadata

tracking = Table(
    "projection_tracking",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("position", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


class PositionTaken(IntegrityError):
    """Another runner advanced the projection first: this batch was rolled back."""


class PositionRecorder(TrackingRecorder):
    """The positions of the read models of one database."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def max_tracking_id(self, application_name: str) -> int | None:
        """The position named so (None before it is first written)."""
        with self.engine.connect() as conn:
            return self.read(conn, application_name)

    @staticmethod
    def read(conn: Connection, name: str) -> int | None:
        """The position named so, on the caller's connection."""
        value = conn.execute(select(tracking.c.position).where(tracking.c.name == name)).scalar()
        return None if value is None else int(value)

    def insert_tracking(self, tracking: Tracking) -> None:
        """Set a position, in a transaction of its own."""
        with self.engine.begin() as conn:
            self.put(conn, tracking)

    def ensure(self, name: str) -> None:
        """Create the position at 0 unless it exists."""
        with self.engine.begin() as conn:
            stmt = dialect_insert(conn, tracking).values(name=name, position=0,
                                                         updated_at=_now())
            conn.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))

    @staticmethod
    def advance(conn: Connection, name: str, old: int, new: int) -> None:
        """Move a position from `old` to `new` in the caller's transaction, or raise
        `PositionTaken` if it is no longer at `old`."""
        result = conn.execute(
            update(tracking)
            .where(tracking.c.name == name, tracking.c.position == old)
            .values(position=new, updated_at=_now())
        )
        if result.rowcount != 1:
            raise PositionTaken(name)

    @staticmethod
    def put(conn: Connection, position: Tracking) -> None:
        """Set a position whatever it was, in the caller's transaction."""
        stmt = dialect_insert(conn, tracking).values(
            name=position.application_name, position=position.notification_id,
            updated_at=_now(),
        )
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["name"],
                set_={"position": stmt.excluded.position, "updated_at": stmt.excluded.updated_at},
            )
        )

    @staticmethod
    def forget(conn: Connection, name: str) -> None:
        """Remove a position (a rebuild's, once swapped in), in the caller's transaction."""
        conn.execute(tracking.delete().where(tracking.c.name == name))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
