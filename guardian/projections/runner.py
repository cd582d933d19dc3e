"""The projection runner: reads the notification log in batches and keeps read models current.

Each batch's rows and the projection's tracking position are written in one transaction, so
a crash never leaves rows without their position or the reverse. The position advances by
compare-and-set: two runners on one database never apply a batch twice (the loser rolls back
and reads on from the winner's position). A rebuild writes into tables aside and swaps them
in one transaction, so readers never see a half-built read model.

Following: on PostgreSQL every write transaction NOTIFYs the events table's channel at
commit (`GuardianRecorder`), and a follower LISTENs on a connection of its own, so it
catches up as soon as a write commits; SQLite has no LISTEN/NOTIFY, so it polls.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import select as _select
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    String,
    Table,
    delete,
    select,
    update,
)

from guardian.orgs import all_practices
from guardian.projections.pacing import Presence, announce_follower
from guardian.store import bulk_insert, dialect_insert, metadata

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
        """Its tables (with `suffix` for a rebuild aside); each is created when missing.
        Every table has a `patient_id` column: a patient's rows are replaced whole."""

    def prepare(self, app: Any, batch: Sequence[Notice], orgs: dict[str, Any]) -> Changes:
        """Every row, in each of its tables, of the patients these notifications touch.

        Reads only (no transaction is open): aggregates from `app.load_patients` may be
        shared with the other read models brought up to date with the same batch: read
        them, never change them."""

    def swap(self, conn: Connection, suffix: str) -> None:
        """Replace its live tables with the ones built aside."""


@dataclass(frozen=True)
class Notice:
    """One notification: its position, aggregate and topic (projections reload aggregates)."""

    id: int
    originator_id: UUID
    topic: str


@dataclass
class Changes:
    """What a batch does to a read model: every row of these patients (hex ids), per table
    in the order of `tables()`, replacing the rows they had."""

    patients: list[str]
    rows: list[list[dict[str, Any]]]


def batch_patients(app: Any, batch: Sequence[Notice]) -> list[Any]:
    """The patients a batch touches, in id order (loaded once for all the read models)."""
    ids = sorted({n.originator_id for n in batch if n.topic.startswith("guardian.")})
    if not ids:
        return []
    patients = app.load_patients(ids)
    return [patients[i] for i in ids if i in patients]


def replace_rows(conn: Connection, tables: Sequence[Table], changes: Changes) -> None:
    """Write a read model's changes in the caller's transaction."""
    for table in tables:
        for start in range(0, len(changes.patients), 500):
            chunk = changes.patients[start : start + 500]
            conn.execute(delete(table).where(table.c.patient_id.in_(chunk)))
    for table, rows in zip(tables, changes.rows, strict=True):
        bulk_insert(conn, table, rows)


def apply(projection: Projection, conn: Connection, app: Any, batch: Sequence[Notice],
          suffix: str = "") -> None:
    """One read model, one batch, in the caller's transaction."""
    changes = projection.prepare(app, batch, all_practices(conn))
    replace_rows(conn, projection.tables(suffix), changes)


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
    def catch_up_within(self, seconds: float = 2.0) -> bool:
        """Read-your-writes for a web request: bring the read models up to date, but spend
        at most about `seconds` on it (between batches), so that a request never carries a
        bulk import's backlog. True when nothing is left behind."""
        stop = threading.Event()
        timer = threading.Timer(seconds, stop.set)
        timer.daemon = True
        timer.start()
        try:  # on this thread only: a request thread holds one connection at a time
            self._together({p.name: p for p in self.projections}, "", stop, pipelined=False)
        finally:
            timer.cancel()
        return not stop.is_set() or all(
            self.position(p.name) >= self.head() for p in self.projections)

    def run_once(self, stop: threading.Event | None = None) -> int:
        """Bring every projection up to the current head; return notifications processed
        (summed over the projections).

        The projections furthest behind go first; those at the same position share each
        batch: it is read once, each of its patients loaded once, and their rows and
        positions are written in one transaction. With `stop`, returns early (between
        batches) once it is set."""
        return self._together({p.name: p for p in self.projections}, "", stop)

    def _together(self, named: dict[str, Projection], suffix: str,
                  stop: threading.Event | None = None, pipelined: bool = True) -> int:
        """Advance the tracking positions `named` (position name → projection, writing
        tables with `suffix`) to the head, sharing each batch among those at one position.

        Pipelined: batch N is written (rows and positions, one transaction) on a writer
        thread while this thread reads and prepares batch N+1, so the database works while
        Python loads patients and builds rows. If batch N loses its positions to another
        runner, the prepared batch N+1 is dropped and the positions are read again."""
        for name in named:
            self._ensure(name)
        processed = 0
        expected: dict[str, int] | None = None  # positions once the write in flight commits
        pending: tuple[Future, int] | None = None  # that write, and what it counts for
        writer = ThreadPoolExecutor(1, thread_name_prefix="projection-writer") if pipelined \
            else None

        def settle() -> bool:
            """Wait for the write in flight; False if another runner took its position."""
            nonlocal pending, processed
            if pending is None:
                return True
            future, count = pending
            pending = None
            try:
                future.result()
            except PositionTaken as taken:
                log.info("%s: another runner advanced it first; reading on", taken)
                return False
            processed += count
            return True

        try:
            while stop is None or not stop.is_set():
                positions = expected or {name: self.position(name) for name in named}
                low = min(positions.values(), default=0)
                group = [name for name in named if positions[name] == low]
                batch = self._notices(low)
                if not batch:
                    break
                shared = _SharedLoads(self.app)
                # Read before the write transaction opens: a runner (or a web request
                # catching up) never holds two pooled connections on one thread.
                orgs = all_practices(self.app.engine)
                changes = [named[name].prepare(shared, batch, orgs) for name in group]
                if not settle():
                    expected = None  # prepared from positions another runner moved
                    continue
                job = partial(self._write, named, group, suffix, changes, low, batch[-1].id)
                if writer is None:
                    try:
                        job()
                    except PositionTaken as taken:
                        log.info("%s: another runner took position %s; reading on", taken, low)
                        expected = None
                        continue
                    processed += len(batch) * len(group)
                else:
                    pending = (writer.submit(job), len(batch) * len(group))
                expected = {**positions, **{name: batch[-1].id for name in group}}
            settle()
        finally:
            if writer is not None:
                writer.shutdown(wait=True)
        return processed

    def _write(self, named: dict[str, Projection], group: list[str], suffix: str,
               changes: list[Changes], old: int, new: int) -> None:
        with self.app.engine.begin() as conn:
            for name, change in zip(group, changes, strict=True):
                replace_rows(conn, named[name].tables(suffix), change)
            for name in group:
                self._advance(conn, name, old, new)

    def follow(
        self,
        stop: threading.Event,
        poll: float = 0.2,
        fallback: float = 1.0,
        listen: bool | None = None,
    ) -> None:
        """Keep following new events until `stop` is set.

        On PostgreSQL with psycopg2 (unless `listen` is False) it waits for the NOTIFY that
        every write transaction sends at commit, and catches up at least every `fallback`
        seconds too (a notification missed while its connection was down). Otherwise it polls
        every `poll` seconds, backing off to 2 s when idle. A failed batch is logged and
        retried; a lost LISTEN connection is re-opened with back-off, polling meanwhile.
        While it follows, it announces itself, and bulk imports keep pace with it.
        """
        if listen is None:
            dialect = self.app.engine.dialect
            listen = dialect.name == "postgresql" and dialect.driver == "psycopg2"
        # Present while following: a bulk import paces itself to this follower (pacing.py).
        with announce_follower(self.app.engine) as presence:
            if listen:
                self._follow_notified(stop, fallback, presence)
            else:
                self._follow_polling(stop, poll, presence)

    def _follow_polling(self, stop: threading.Event, poll: float, presence: Presence) -> None:
        idle = poll
        while not stop.is_set():
            presence.renew()
            try:
                done = self.run_once(stop)
            except Exception:  # keep following: log, wait, retry
                log.exception("projection batch failed; retrying")
                done = 0
            idle = poll if done else min(idle * 2, 2.0)
            stop.wait(0 if done else idle)

    def _follow_notified(self, stop: threading.Event, fallback: float,
                         presence: Presence) -> None:
        channel = self.app.recorder.channel_name
        listener: _Listener | None = None
        connected_at = 0.0
        reconnect_at = 0.0  # when to (re)open the LISTEN connection
        reconnect_delay = _RECONNECT_MIN
        error_delay = _RECONNECT_MIN
        try:
            while not stop.is_set():
                presence.renew()
                if listener is None and time.monotonic() >= reconnect_at:
                    try:
                        listener = _Listener(self.app.engine, channel)
                        connected_at = time.monotonic()
                    except Exception as e:
                        log.warning("cannot LISTEN %s (%s); polling every %.1f s, retrying in "
                                    "%.1f s", channel, _first_line(e), fallback, reconnect_delay)
                        reconnect_at = time.monotonic() + reconnect_delay
                        reconnect_delay = min(reconnect_delay * 2, _RECONNECT_MAX)
                # Catch up after LISTEN: a write committed before it is read now, any later
                # one is notified.
                try:
                    self.run_once(stop)
                    error_delay = _RECONNECT_MIN
                except Exception:  # keep following: log, wait, retry
                    log.exception("projection batch failed; retrying in %.1f s", error_delay)
                    stop.wait(error_delay)
                    error_delay = min(error_delay * 2, _ERROR_MAX)
                    continue
                deadline = time.monotonic() + fallback
                while not stop.is_set():
                    now = time.monotonic()
                    if now >= deadline:
                        break
                    if listener is None:
                        if now >= reconnect_at:
                            break
                        stop.wait(min(deadline, reconnect_at, now + _STOP_CHECK) - now)
                        continue
                    try:
                        if listener.wait(min(deadline - now, _STOP_CHECK)):
                            break
                    except Exception as e:  # the connection dropped: catch up, reconnect
                        lived = time.monotonic() - connected_at
                        reconnect_delay = _RECONNECT_MIN if lived > 60 else reconnect_delay
                        log.warning("lost the LISTEN connection (%s); reconnecting in %.1f s",
                                    _first_line(e), reconnect_delay)
                        listener.close()
                        listener = None
                        reconnect_at = time.monotonic() + reconnect_delay
                        reconnect_delay = min(reconnect_delay * 2, _RECONNECT_MAX)
                        break
        finally:
            if listener is not None:
                listener.close()

    def rebuild(self) -> int:
        """Rebuild every projection aside from the whole log (sharing each batch, as
        run_once does), then swap each in, in one transaction, and catch up what arrived
        meanwhile."""
        suffix = "_rebuild"
        aside = {f"{p.name}@rebuild": p for p in self.projections}
        with self.app.engine.begin() as conn:
            for name, p in aside.items():
                for table in p.tables(suffix):
                    table.drop(conn, checkfirst=True)
                    table.create(conn)
                conn.execute(tracking.delete().where(tracking.c.name == name))
        total = self._together(aside, suffix)
        with self.app.engine.begin() as conn:
            for name, p in aside.items():
                position = conn.execute(
                    select(tracking.c.position).where(tracking.c.name == name)
                ).scalar() or 0
                p.swap(conn, suffix)
                conn.execute(tracking.delete().where(tracking.c.name == name))
                self._set(conn, p.name, position)
        return total + self.run_once()  # whatever arrived during the swap

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


_STOP_CHECK = 0.5  # longest wait between looks at `stop`
_RECONNECT_MIN, _RECONNECT_MAX = 0.5, 30.0  # LISTEN reconnection back-off (s)
_ERROR_MAX = 5.0  # longest wait before retrying a failed batch (s)


class _SharedLoads:
    """The application, with each patient loaded once for all the read models of a batch."""

    def __init__(self, app: Any):
        self._app = app
        self._patients: dict[UUID, Any] = {}
        self._loaded: set[UUID] = set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._app, name)

    def load_patients(self, patient_ids: Iterable[UUID]) -> dict[UUID, Any]:
        wanted = list(patient_ids)
        missing = [i for i in wanted if i not in self._loaded]
        if missing:
            self._patients.update(self._app.load_patients(missing))
            self._loaded.update(missing)
        return {i: self._patients[i] for i in wanted if i in self._patients}


class _Listener:
    """A dedicated psycopg2 connection (autocommit, outside the pool) LISTENing on a channel."""

    def __init__(self, engine: Any, channel: str):
        cargs, cparams = engine.dialect.create_connect_args(engine.url)
        # Keepalives: a silently dropped connection is noticed in about a minute.
        cparams = {"connect_timeout": 10, "keepalives": 1, "keepalives_idle": 30,
                   "keepalives_interval": 10, "keepalives_count": 3, **cparams}
        self.conn = engine.dialect.loaded_dbapi.connect(*cargs, **cparams)
        try:
            self.conn.autocommit = True
            with self.conn.cursor() as cur:
                cur.execute(f'LISTEN "{channel}"')
        except BaseException:
            self.conn.close()
            raise

    def wait(self, timeout: float) -> bool:
        """Whether a notification came within `timeout` seconds; drains every pending one.

        Raises the driver's error when the connection has dropped."""
        conn = self.conn
        if not conn.notifies and _select.select([conn], [], [], max(0.0, timeout))[0]:
            conn.poll()
        conn.poll()  # anything else already in the socket buffer
        got = bool(conn.notifies)
        conn.notifies.clear()
        return got

    def close(self) -> None:
        with contextlib.suppress(Exception):  # already gone
            self.conn.close()


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return (text.splitlines() or [type(error).__name__])[0]


def _uuid(value: Any) -> UUID:
    if isinstance(value, UUID):
        return value
    if isinstance(value, (bytes, memoryview)):
        return UUID(bytes=bytes(value))
    return UUID(value)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
