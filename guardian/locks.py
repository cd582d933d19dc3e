"""Locks held per database by one process at a time, released however that process ends.

PostgreSQL: a session-level advisory lock, held on a dedicated connection (not pooled) for
as long as the lock is held; the key is a two-letter class in the high 32 bits and a crc32 of
the database and schema below, so each database (and schema) has its own. SQLite: `flock` on
a file next to the database. Either way the server or the operating system releases the lock
when its holder dies, however it dies.

- `guardian scheduler`: one scheduler acts per database (`guardian/scheduler.py`).
- `guardian import-ptl`: one import at a time per database; a second one waits, and says so
  (`one_import_at_a_time`; docs/deployment.md "Imports one at a time").
- place-lead reports: at most `GUARDIAN_REPORT_SLOTS` computed at once per database, by every
  `serve` worker on every host together (`report_slot`; guardian/web/report_pool.py). Held
  for one computation: a transaction-level advisory lock on PostgreSQL.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import random
import socket
import time
import zlib
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Connection, Engine

from guardian.domain.errors import DomainError

log = logging.getLogger("guardian.locks")

SCHEDULER_KEY = 0x6773  # 'gs'
IMPORT_KEY = 0x6769  # 'gi'
REPORT_KEY = 0x6772  # 'gr'
WAIT_POLL_SECONDS = (0.05, 0.5)  # a waiting import looks again after this, doubling to that


def runner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class PostgresLock:
    """A session-level advisory lock on a dedicated connection kept open."""

    def __init__(self, engine: Engine, key_class: int = SCHEDULER_KEY,
                 purpose: str = "scheduler") -> None:
        self.engine = engine
        self.key_class = key_class
        self.purpose = purpose
        self.conn: Any = None
        self.key: int | None = None

    def _connect(self) -> Any:
        cargs, cparams = self.engine.dialect.create_connect_args(self.engine.url)
        conn = self.engine.dialect.loaded_dbapi.connect(*cargs, **cparams)
        conn.autocommit = True
        return conn

    def try_acquire(self) -> bool:
        """Take the lock if it is free; a database that cannot be reached raises."""
        if self.conn is None:
            self.conn = self._connect()
            with self.conn.cursor() as cur:
                cur.execute("SELECT current_database(), current_schema()")
                database, schema = cur.fetchone()
            self.key = (self.key_class << 32) | zlib.crc32(f"{database}/{schema}".encode())
        with self.conn.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_lock(%s)", (self.key,))
            return bool(cur.fetchone()[0])

    def acquire(self) -> bool:
        """As `try_acquire`, but a database that is down is "not acquired" (stand by)."""
        try:
            return self.try_acquire()
        except Exception as e:  # the database is down: stand by and retry
            log.warning("cannot reach the database for the %s lock: %s", self.purpose, e)
            self.release()
            return False

    def held(self) -> bool:
        try:
            with self.conn.cursor() as cur:
                cur.execute("SELECT 1")
            return True
        except Exception:
            return False

    def release(self) -> None:
        """Unlock before closing: the server frees a closed session's locks a moment after
        the close returns, and a successor asking at once must find the lock free."""
        if self.conn is not None:
            with contextlib.suppress(Exception):  # already gone
                if self.key is not None:
                    with self.conn.cursor() as cur:
                        cur.execute("SELECT pg_advisory_unlock_all()")
            with contextlib.suppress(Exception):
                self.conn.close()
        self.conn = None


class FileLock:
    """`flock` on a file next to the SQLite database; released when the process dies."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd: int | None = None

    def acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{runner_name()}\n".encode())
        self.fd = fd
        return True

    try_acquire = acquire

    def held(self) -> bool:
        return self.fd is not None

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def database_lock(engine: Engine, key_class: int, suffix: str, purpose: str
                  ) -> PostgresLock | FileLock | None:
    """The lock of this kind for this database; None for an in-memory SQLite database (only
    one process can reach it)."""
    if engine.dialect.name == "postgresql":
        return PostgresLock(engine, key_class, purpose)
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return FileLock(database + suffix)


class ImportWaitTimeout(DomainError):
    """Another import held the database for longer than the configured wait."""


@contextlib.contextmanager
def one_import_at_a_time(engine: Engine, wait_seconds: float,
                         say: Callable[[str], None]) -> Iterator[None]:
    """Hold the database's import lock for the block: a second import waits for the first
    to finish (telling `say` that it waits, and when it proceeds), for at most
    `wait_seconds` (GUARDIAN_IMPORT_WAIT_SECONDS), then gives up before writing anything."""
    lock = database_lock(engine, IMPORT_KEY, ".import-lock", "import")
    if lock is None:
        yield
        return
    try:
        if not lock.try_acquire():
            say("another import into this database is running; waiting for it to finish "
                f"(at most {wait_seconds:g} s, GUARDIAN_IMPORT_WAIT_SECONDS)")
            started = time.monotonic()
            delay, longest = WAIT_POLL_SECONDS
            while not lock.try_acquire():
                waited = time.monotonic() - started
                if waited >= wait_seconds:
                    raise ImportWaitTimeout(
                        f"another import into this database was still running after "
                        f"{waited:.0f} s of waiting; nothing was imported — run this import "
                        "again once it has finished (or raise GUARDIAN_IMPORT_WAIT_SECONDS)")
                time.sleep(min(delay, wait_seconds - waited))
                delay = min(delay * 2, longest)
            say(f"the other import has finished; this import proceeds (waited "
                f"{time.monotonic() - started:.1f} s)")
        yield
    finally:
        lock.release()


@contextlib.contextmanager
def report_slot(conn: Connection, slots: int) -> Iterator[None]:
    """Hold one of the database's `slots` report slots for the block, waiting for one to be
    free: the first free slot, or else the queue of a slot picked at random. On PostgreSQL
    a transaction-level advisory lock taken in `conn`'s transaction (so released when it
    ends, however it ends); on SQLite an `flock` on `<database>.report-slot-N`."""
    if conn.dialect.name == "postgresql":
        database, schema = conn.exec_driver_sql(
            "SELECT current_database(), current_schema()").one()
        keys = [(REPORT_KEY << 32) | zlib.crc32(f"{database}/{schema}/{n}".encode())
                for n in range(slots)]
        if not any(conn.exec_driver_sql("SELECT pg_try_advisory_xact_lock(%s)",
                                        (key,)).scalar() for key in keys):
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (random.choice(keys),))
        yield
        return
    database = conn.engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    fds = [os.open(f"{database}.report-slot-{n}", os.O_RDWR | os.O_CREAT, 0o644)
           for n in range(slots)]
    try:
        for fd in fds:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                continue
        else:
            fcntl.flock(random.choice(fds), fcntl.LOCK_EX)
        yield
    finally:
        for fd in fds:  # closing releases whichever was held
            os.close(fd)
