"""The projection runner: keeps every read model up to date with the notification log.

What is the library's and what is ours. From eventsourcing we take the notification log
(the recorder's head, its notifications), the tracking notion (`Tracking`,
`TrackingRecorder`: `tracking.py`) and event topics as what a read model reads by
(`readmodel.py`). Its `ProjectionRunner` and `Projection` we do not use. That runner builds
its own application from a class and an environment and hands a projection one decoded
event at a time (`process_event(event, tracking)`), each event a transaction of its own:
the per-event baseline of bench/projections.py, which batching beats 40 to 100 times over
(bench/README.md). Its subscription exists on PostgreSQL only (eventsourcing-sqlalchemy
raises on SQLite) and ends when its LISTEN connection drops, and it has no rebuild. A
`Projection`'s `topics` are those it allows (the subscription filters on them in SQL); a
read model here names instead the topics that change none of its rows, so that an event
type added later is projected by default. Ours, one runner for every read model,
guarantees:

- Batches: notifications are read `batch_size` at a time (id, aggregate and topic only, no
  event state); the read models at one position share each batch, each patient it touches
  loaded once for all of them, its rows rebuilt (`readmodel.py`).
- One transaction per batch: each read model's rows and its position commit together, so a
  crash never leaves rows without their position or the reverse.
- Compare-and-set: a position moves only from where it was read (`tracking.py`), so two
  runners on one database never apply a batch twice (the loser rolls back and reads on
  from the winner's position).
- Pipelined: batch N is written on a writer thread while batch N+1 is read and prepared.
- Rebuild aside and swap: a rebuild writes tables aside and swaps them in one transaction,
  so readers never see a half-built read model.
- Every core: a rebuild, and a catch-up more than PARTITION_AFTER events behind on
  PostgreSQL, are shared out by patient among worker processes (`partition.py`).
- Following: LISTEN/NOTIFY with a fallback poll and reconnection back-off on PostgreSQL,
  polling on SQLite (`follow.py`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any

from eventsourcing.persistence import Tracking
from sqlalchemy import Connection, select
from sqlalchemy.exc import OperationalError

from guardian.orgs import all_practices
from guardian.projections.follow import follow_notified, follow_polling
from guardian.projections.pacing import announce_follower
from guardian.projections.partition import (
    PartitionFailed,
    create_aside,
    index_aside,
    replace_rows,
    run_partitioned,
)
from guardian.projections.readmodel import Changes, Notice, ReadModel, SharedLoads
from guardian.projections.tracking import PositionRecorder, PositionTaken, tracking
from guardian.store import EVENTS_TABLE, as_uuid

log = logging.getLogger("guardian.projections")


def apply(projection: ReadModel, conn: Connection, app: Any, batch: Sequence[Notice],
          suffix: str = "") -> None:
    """One read model, one batch, in the caller's transaction."""
    changes = projection.prepare(app, batch, all_practices(conn))
    replace_rows(conn, projection.tables(suffix), changes)


# Events projected (per read model) in one catch-up above which its tables are analysed.
ANALYZE_AFTER = 20_000
# Events behind above which a catch-up with several processes shares the backlog out by
# patient (`partition.py`); below it, or following, one process catches up in batches.
PARTITION_AFTER = 100_000
# How long a web request's catch-up waits for positions another runner holds.
LOCK_WAIT, LOCK_NOT_AVAILABLE = "1s", "55P03"


def default_processes() -> int:
    """Worker processes for a rebuild or a large catch-up: one per core. On SQLite too:
    its single writer queues the workers' writes, but they spend most of their time
    building rows (bench/README.md, "Rebuild across processes")."""
    return os.cpu_count() or 1


class ProjectionRunner:
    def __init__(self, app: Any, projections: Iterable[ReadModel], batch_size: int = 1000,
                 processes: int = 1):
        self.app = app
        self.projections = list(projections)
        self.batch_size = batch_size
        self.processes = processes  # > 1: rebuild and large catch-ups by patient
        self.positions = PositionRecorder(app.engine)

    # ------------------------------------------------------------------ positions
    def position(self, name: str) -> int:
        return self.positions.max_tracking_id(name) or 0

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
        batches) once it is set. With several processes on PostgreSQL, a backlog of more
        than PARTITION_AFTER events is first shared out by patient (`_catch_up_partitioned`).
        After a large catch-up the planner's statistics of the tables written are
        refreshed (`_refresh_statistics`)."""
        processed = self._catch_up_partitioned(stop)
        processed += self._together({p.name: p for p in self.projections}, "", stop)
        if processed >= ANALYZE_AFTER * len(self.projections):
            self._refresh_statistics()
        return processed

    def _catch_up_partitioned(self, stop: threading.Event | None) -> int:
        """Catch the read models more than PARTITION_AFTER events behind up to the head in
        worker processes, each taking a share of the patients (`partition.py`), while this
        transaction holds their positions locked (another runner's batch waits, then finds
        its position taken); then move the positions, in the same transaction. PostgreSQL
        only: on SQLite the workers would wait for this transaction's write lock."""
        if self.processes <= 1 or self.app.engine.dialect.name != "postgresql":
            return 0
        head = self.head()
        positions = {p.name: self.position(p.name) for p in self.projections}
        behind = [p for p in self.projections if head - positions[p.name] > PARTITION_AFTER]
        if not behind:
            return 0
        names = [p.name for p in behind]
        for name in names:
            self.positions.ensure(name)
        with self.app.engine.begin() as conn:
            locked = dict(conn.execute(select(tracking.c.name, tracking.c.position)
                                       .where(tracking.c.name.in_(names))
                                       .with_for_update()).all())
            if any(locked.get(name) != positions[name] for name in names):
                return 0  # another runner moved on meanwhile: catch up in batches
            log.info("catching up %s from %s to %s in %s processes", ", ".join(names),
                     min(positions[n] for n in names), head, self.processes)
            try:
                run_partitioned(self.app, [(p, positions[p.name]) for p in behind], "",
                                head, self.processes, stop)
            except PartitionFailed:
                if stop is not None and stop.is_set():
                    return 0  # stopped: the positions stay where they were
                raise
            for name in names:
                self.positions.advance(conn, name, positions[name], head)
        return sum(head - positions[name] for name in names)

    def follow(self, stop: threading.Event, poll: float = 0.2, fallback: float = 1.0,
               listen: bool | None = None) -> None:
        """Keep following new events until `stop` is set (`follow.py`).

        On PostgreSQL with psycopg2 (unless `listen` is False) woken by the NOTIFY every
        write transaction sends at commit, and catching up at least every `fallback`
        seconds; otherwise polling every `poll` seconds. While it follows, it announces
        itself, and bulk imports keep pace with it."""
        if listen is None:
            dialect = self.app.engine.dialect
            listen = dialect.name == "postgresql" and dialect.driver == "psycopg2"
        # Present while following: a bulk import paces itself to this follower (pacing.py).
        with announce_follower(self.app.engine) as presence:
            if listen:
                follow_notified(self, stop, fallback, presence)
            else:
                follow_polling(self, stop, poll, presence)

    def rebuild(self) -> int:
        """Rebuild every projection aside from the whole log, then swap each in, in one
        transaction, and catch up what arrived meanwhile.

        With one process, the log is read in batches as run_once does. With several, the
        patients are shared out among worker processes up to the head as it was when the
        rebuild began, each patient loaded once (`partition.py`): the same rows
        (tests/projections/test_parallel_rebuild.py)."""
        if self.processes > 1:
            return self._rebuild_partitioned()
        suffix = "_rebuild"
        aside = {f"{p.name}@rebuild": p for p in self.projections}
        with self.app.engine.begin() as conn:
            for name, p in aside.items():
                for table in p.tables(suffix):
                    table.drop(conn, checkfirst=True)
                    table.create(conn)
                self.positions.forget(conn, name)
        total = self._together(aside, suffix)
        with self.app.engine.begin() as conn:
            for name, p in aside.items():
                position = self.positions.read(conn, name) or 0
                p.swap(conn, suffix)
                self.positions.forget(conn, name)
                self.positions.put(conn, Tracking(p.name, position))
        self._refresh_statistics()
        return total + self.run_once()  # whatever arrived during the swap

    def _rebuild_partitioned(self) -> int:
        """The rebuild in worker processes: tables aside without their indexes, filled
        by the workers, indexed, then swapped in with every position at the head. A
        worker that fails leaves the live tables as they were (the aside ones dropped)."""
        suffix = "_rebuild"
        engine = self.app.engine
        head = self.head()
        tables = [t for p in self.projections for t in p.tables(suffix)]
        with engine.begin() as conn:
            for table in tables:
                create_aside(conn, table)
        try:
            run_partitioned(self.app, [(p, 0) for p in self.projections], suffix, head,
                            self.processes)
            started = time.perf_counter()
            index_aside(engine, tables, self.processes)
            if engine.dialect.name == "postgresql":  # SQLite's are built at the swap
                log.info("rebuild: indexed and analysed aside in %.1f s",
                         time.perf_counter() - started)
        except BaseException:
            with engine.begin() as conn:
                for table in tables:
                    table.drop(conn, checkfirst=True)
            raise
        started = time.perf_counter()
        with engine.begin() as conn:
            for p in self.projections:
                p.swap(conn, suffix)
                self.positions.forget(conn, f"{p.name}@rebuild")
                self.positions.put(conn, Tracking(p.name, head))
        log.info("rebuild: swapped in in %.1f s", time.perf_counter() - started)
        return head * len(self.projections) + self.run_once()

    def _refresh_statistics(self) -> None:
        """ANALYZE every read model's tables (PostgreSQL), so a table just filled or
        rebuilt is read along its indexes at once, not scanned whole until autovacuum's
        next pass (or never, where autovacuum is off)."""
        if self.app.engine.dialect.name != "postgresql":
            return
        with self.app.engine.begin() as conn:
            for p in self.projections:
                for table in p.tables(""):
                    conn.exec_driver_sql(f"ANALYZE {table.name}")

    # ------------------------------------------------------------------ batches
    def _together(self, named: dict[str, ReadModel], suffix: str,
                  stop: threading.Event | None = None, pipelined: bool = True) -> int:
        """Advance the tracking positions `named` (position name → projection, writing
        tables with `suffix`) to the head, sharing each batch among those at one position.

        Pipelined: batch N is written (rows and positions, one transaction) on a writer
        thread while this thread reads and prepares batch N+1, so the database works while
        Python loads patients and builds rows. If batch N loses its positions to another
        runner, the prepared batch N+1 is dropped and the positions are read again."""
        for name in named:
            self.positions.ensure(name)
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
                shared = SharedLoads(self.app)
                # Read before the write transaction opens: a runner (or a web request
                # catching up) never holds two pooled connections on one thread.
                orgs = all_practices(self.app.engine)
                changes = [named[name].prepare(shared, batch, orgs) for name in group]
                if not settle():
                    expected = None  # prepared from positions another runner moved
                    continue
                job = partial(self._write, named, group, suffix, changes, low, batch[-1].id,
                              waits=pipelined)
                if writer is None:
                    try:
                        job()
                    except PositionTaken as taken:
                        log.info("%s: another runner took position %s; reading on", taken, low)
                        expected = None
                        continue
                    except OperationalError as e:
                        if getattr(e.orig, "pgcode", None) != LOCK_NOT_AVAILABLE:
                            raise
                        log.info("positions held by a catch-up across processes; not waiting")
                        if stop is not None:
                            stop.set()  # not caught up: the caller reads the positions
                        break
                    processed += len(batch) * len(group)
                else:
                    pending = (writer.submit(job), len(batch) * len(group))
                expected = {**positions, **{name: batch[-1].id for name in group}}
            settle()
        finally:
            if writer is not None:
                writer.shutdown(wait=True)
        return processed

    def _write(self, named: dict[str, ReadModel], group: list[str], suffix: str,
               changes: list[Changes], old: int, new: int, waits: bool = True) -> None:
        """One batch's rows and positions, in one transaction. Unless it `waits`, it gives
        up (LOCK_NOT_AVAILABLE) after LOCK_WAIT when a catch-up across processes holds the
        positions (PostgreSQL): a web request's catch-up never waits out a whole backlog."""
        with self.app.engine.begin() as conn:
            if not waits and conn.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'")
            # The positions first: a second runner writing the same batch at once (two web
            # requests catching up) waits on the position's row and then finds it taken,
            # before it writes a row the first one is writing too.
            for name in group:
                self.positions.advance(conn, name, old, new)
            for name, change in zip(group, changes, strict=True):
                replace_rows(conn, named[name].tables(suffix), change)

    def _notices(self, after: int) -> list[Notice]:
        """The next batch of notifications: ids, aggregates and topics only (no ORM, no state)."""
        engine = self.app.engine
        mark = "%s" if engine.dialect.name == "postgresql" else "?"
        with engine.connect() as conn:
            cur = conn.connection.driver_connection.cursor()
            try:
                cur.execute(
                    f"SELECT id, originator_id, topic FROM {EVENTS_TABLE} WHERE id > {mark} "
                    f"ORDER BY id LIMIT {mark}",
                    (after, self.batch_size),
                )
                rows = cur.fetchall()
            finally:
                cur.close()
        return [Notice(i, as_uuid(o), t) for i, o, t in rows]

