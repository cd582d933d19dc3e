"""Live pacing: a bulk writer (the PTL import) keeps within reach of a live follower.

A follower (`guardian project --follow`, or the one inside `guardian serve` on SQLite)
announces itself for as long as it runs: on PostgreSQL by a shared session-level advisory
lock on a connection of its own, on SQLite by a shared `flock` on a file next to the
database. Both vanish with the process, however it ends.

While a follower is present, the import writes smaller batches and, before each, waits until
every read model has projected what is already committed. The worklists coordinators are
working from then stay within about a second of the log while an extract of any size goes in
(the live-lag target of bench/README.md), and a coordinator's own edit never queues behind a whole
extract. The price is that the import runs at the projector's pace. Finishing the import
first and then catching up takes about as long overall, but the worklists would be stale for
that whole time. With no follower present, nothing waits: a first load of a store, or
`bench/import_ptl.py`, runs at full speed and `guardian project` catches up afterwards.

A follower that is present but makes no progress for `STALL_SECONDS` (a batch failing over
and over) is reported once and no longer waited for, so an import never hangs on it.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
import zlib
from typing import Any

from sqlalchemy import Engine

from guardian.projections.tracking import tracking
from guardian.store import EVENTS_TABLE

log = logging.getLogger("guardian.projections")

LIVE_BATCH_SIZE = 200  # import rows per transaction while a follower is present
STALL_SECONDS = 10.0  # no progress for this long: stop waiting for the follower
POLL_SECONDS = 0.01  # first look again after this; doubles to MAX_POLL_SECONDS
MAX_POLL_SECONDS = 0.05
_CLASS = 0x6770  # 'gp': the high half of the advisory-lock key


_keys: dict[str, tuple[int, int]] = {}


def _pg_key(dbapi_conn: Any, url: Any) -> tuple[int, int]:
    """One key per database and schema (as the scheduler's lock): 'gp', then a crc."""
    cached = _keys.get(str(url))
    if cached is None:
        with dbapi_conn.cursor() as cur:
            cur.execute("SELECT current_database(), current_schema()")
            database, schema = cur.fetchone()
        cached = _keys[str(url)] = (_CLASS, zlib.crc32(f"{database}/{schema}".encode()))
    return cached


def _presence_path(engine: Engine) -> str | None:
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return None
    return database + ".followers"


class Presence:
    """A follower's announcement, renewed if it was lost (PostgreSQL dropped its connection,
    say): best effort, a follower that cannot announce itself still follows; imports then
    simply do not wait for it."""

    RECHECK_SECONDS = 5.0

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._release: Any = None
        self._alive: Any = None
        self._checked = 0.0

    def __enter__(self) -> Presence:
        self._open()
        return self

    def __exit__(self, *exc: object) -> None:
        self._close()

    def renew(self) -> None:
        """Re-announce if the announcement was lost; looks at most every RECHECK_SECONDS."""
        now = time.monotonic()
        if now - self._checked < self.RECHECK_SECONDS:
            return
        self._checked = now
        if self._alive is not None and self._alive():
            return
        self._close()
        self._open()
        if self._alive is not None:
            log.info("follower announced again")

    def _open(self) -> None:
        self._checked = time.monotonic()
        try:
            self._release, self._alive = _announce(self.engine)
        except Exception as e:  # the database is unreachable right now
            log.warning("cannot announce the follower (%s); imports will not pace themselves "
                        "until it can", first_line(e))

    def _close(self) -> None:
        if self._release is not None:
            with contextlib.suppress(Exception):  # already gone
                self._release()
        self._release = self._alive = None


def announce_follower(engine: Engine) -> Presence:
    """Announce a live follower for the duration of a `with` block (renew() to keep it)."""
    return Presence(engine)


def _announce(engine: Engine) -> tuple[Any, Any]:
    """(release, alive) for a new announcement; (None, None) where there is nothing to
    announce on (an in-memory database)."""
    if engine.dialect.name == "postgresql":
        cargs, cparams = engine.dialect.create_connect_args(engine.url)
        conn = engine.dialect.loaded_dbapi.connect(*cargs, **cparams)
        conn.autocommit = True
        high, low = _pg_key(conn, engine.url)
        key = (high << 32) | low
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock_shared(%s)", (key,))

        def release() -> None:
            try:  # at once: a closed connection's backend may linger a moment
                with conn.cursor() as cur:
                    cur.execute("SELECT pg_advisory_unlock_shared(%s)", (key,))
            finally:
                conn.close()

        def alive() -> bool:
            try:
                with conn.cursor() as cur:
                    cur.execute("SELECT 1")
                return True
            except Exception:
                return False

        return release, alive
    path = _presence_path(engine)
    if path is None:
        return None, None
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_SH)  # waits out an importer's momentary look
    return (lambda: os.close(fd)), (lambda: True)


def first_line(error: BaseException) -> str:
    """An error's first line, for a one-line log message."""
    text = str(error).strip()
    return (text.splitlines() or [type(error).__name__])[0]


def follower_present(engine: Engine) -> bool:
    """Whether a follower has announced itself on this database."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            dbapi = conn.connection.driver_connection
            high, low = _pg_key(dbapi, engine.url)
            with dbapi.cursor() as cur:
                cur.execute(
                    "SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_database d "
                    "ON d.oid = l.database WHERE d.datname = current_database() "
                    "AND l.locktype = 'advisory' AND l.classid = %s AND l.objid = %s "
                    "AND l.objsubid = 1 AND l.granted)",
                    (high, low),
                )
                return bool(cur.fetchone()[0])
    path = _presence_path(engine)
    if path is None or not os.path.exists(path):
        return False
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also releases the lock taken just now
    return False


class Pacer:
    """What a bulk writer calls before each write transaction (one per process)."""

    def __init__(self, app: Any, stall_seconds: float = STALL_SECONDS) -> None:
        self.app = app
        self.stall_seconds = stall_seconds
        self.given_up = False
        self.waited = 0.0  # seconds spent waiting, for the import's own report

    def live(self) -> bool:
        """A follower is present and worth waiting for."""
        return not self.given_up and follower_present(self.app.engine)

    def backlog(self) -> tuple[int, int]:
        """(head of the log, lowest position among the live read models)."""
        with self.app.engine.connect() as conn:
            dbapi = conn.connection.driver_connection
            cur = dbapi.cursor()
            try:
                cur.execute(
                    f"SELECT (SELECT max(id) FROM {EVENTS_TABLE}), (SELECT min(position) FROM "
                    f"{tracking.name} WHERE name NOT LIKE '%@%')"
                )
                head, low = cur.fetchone()
            finally:
                cur.close()
        return int(head or 0), int(low if low is not None else 0)

    def wait(self) -> None:
        """Return once the read models have caught up with the log, or at once when no
        follower is present (or the present one has stalled)."""
        if not self.live():
            return
        started = time.monotonic()
        progress_at, last_low = started, None
        delay = POLL_SECONDS
        while True:
            head, low = self.backlog()
            if low >= head:
                break
            now = time.monotonic()
            if low != last_low:
                progress_at, last_low = now, low
            elif now - progress_at > self.stall_seconds:
                log.warning("the live follower has made no progress for %.0f s (%s events "
                            "behind); the import goes on without waiting for it",
                            self.stall_seconds, head - low)
                self.given_up = True
                break
            if not follower_present(self.app.engine):
                break
            time.sleep(delay)
            delay = min(delay * 2, MAX_POLL_SECONDS)
        self.waited += time.monotonic() - started
