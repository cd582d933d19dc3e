"""Following the log: woken by LISTEN/NOTIFY on PostgreSQL, polling on SQLite.

On PostgreSQL every write transaction NOTIFYs the events table's channel at commit
(`GuardianRecorder`), and the follower LISTENs on a connection of its own (psycopg2,
autocommit, outside the pool, with TCP keepalives), so it catches up as soon as a write
commits; it also catches up at least every `fallback` seconds (a notification missed while
its connection was down). A lost LISTEN connection is re-opened with back-off (0.5 s
doubling to 30 s, back to 0.5 s once one has lived a minute), polling meanwhile. SQLite has
no LISTEN/NOTIFY: it polls every `poll` seconds, backing off to 2 s when idle. Either way a
failed batch is logged and retried, and the follower announces itself while it runs, so
that bulk imports keep pace with it (`pacing.py`).

The library's own subscription (`SQLAlchemyApplicationRecorder.subscribe`) is not used: it
exists only on PostgreSQL, and a dropped LISTEN connection ends it with an error.
"""

from __future__ import annotations

import contextlib
import logging
import select as _select
import threading
import time
from typing import TYPE_CHECKING, Any

from guardian.projections.pacing import Presence, first_line

if TYPE_CHECKING:
    from guardian.projections.runner import ProjectionRunner

log = logging.getLogger("guardian.projections")

STOP_CHECK = 0.5  # longest wait between looks at `stop`
RECONNECT_MIN, RECONNECT_MAX = 0.5, 30.0  # LISTEN reconnection back-off (s)
ERROR_MAX = 5.0  # longest wait before retrying a failed batch (s)
IDLE_MAX = 2.0  # longest wait between polls when nothing arrives (s)


def follow_polling(runner: ProjectionRunner, stop: threading.Event, poll: float,
                   presence: Presence) -> None:
    """Catch up every `poll` seconds, backing off to IDLE_MAX while nothing arrives."""
    idle = poll
    while not stop.is_set():
        presence.renew()
        try:
            done = runner.run_once(stop)
        except Exception:  # keep following: log, wait, retry
            log.exception("projection batch failed; retrying")
            done = 0
        idle = poll if done else min(idle * 2, IDLE_MAX)
        stop.wait(0 if done else idle)


def follow_notified(runner: ProjectionRunner, stop: threading.Event, fallback: float,
                    presence: Presence) -> None:
    """Catch up whenever a NOTIFY arrives on the events channel, and every `fallback` s."""
    listening = _Listening(runner.app.engine, runner.app.recorder.channel_name, fallback)
    error_delay = RECONNECT_MIN
    try:
        while not stop.is_set():
            presence.renew()
            listening.open_when_due()
            # Catch up after LISTEN: a write committed before it is read now, any later
            # one is notified.
            try:
                runner.run_once(stop)
                error_delay = RECONNECT_MIN
            except Exception:  # keep following: log, wait, retry
                log.exception("projection batch failed; retrying in %.1f s", error_delay)
                stop.wait(error_delay)
                error_delay = min(error_delay * 2, ERROR_MAX)
                continue
            listening.wait(stop, time.monotonic() + fallback)
    finally:
        listening.close()


class _Listening:
    """The LISTEN connection, re-opened with back-off when it cannot open or drops."""

    def __init__(self, engine: Any, channel: str, fallback: float):
        self.engine, self.channel, self.fallback = engine, channel, fallback
        self.listener: _Listener | None = None
        self.connected_at = 0.0
        self.reconnect_at = 0.0  # when to (re)open the LISTEN connection
        self.delay = RECONNECT_MIN

    def open_when_due(self) -> None:
        if self.listener is not None or time.monotonic() < self.reconnect_at:
            return
        try:
            self.listener = _Listener(self.engine, self.channel)
            self.connected_at = time.monotonic()
        except Exception as e:
            log.warning("cannot LISTEN %s (%s); polling every %.1f s, retrying in %.1f s",
                        self.channel, first_line(e), self.fallback, self.delay)
            self._retry_later()

    def wait(self, stop: threading.Event, deadline: float) -> None:
        """Until a notification, `deadline`, `stop`, the connection dropping, or (while
        there is none) the time to reconnect."""
        while not stop.is_set():
            now = time.monotonic()
            if now >= deadline:
                return
            if self.listener is None:
                if now >= self.reconnect_at:
                    return
                stop.wait(min(deadline, self.reconnect_at, now + STOP_CHECK) - now)
                continue
            try:
                if self.listener.wait(min(deadline - now, STOP_CHECK)):
                    return
            except Exception as e:  # the connection dropped: catch up, reconnect
                if time.monotonic() - self.connected_at > 60:
                    self.delay = RECONNECT_MIN
                log.warning("lost the LISTEN connection (%s); reconnecting in %.1f s",
                            first_line(e), self.delay)
                self.close()
                self._retry_later()
                return

    def _retry_later(self) -> None:
        self.reconnect_at = time.monotonic() + self.delay
        self.delay = min(self.delay * 2, RECONNECT_MAX)

    def close(self) -> None:
        if self.listener is not None:
            self.listener.close()
            self.listener = None


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
