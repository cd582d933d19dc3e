"""Following new events: LISTEN/NOTIFY on PostgreSQL, polling on SQLite.

The PostgreSQL tests give the follower an hour-long fallback poll, so a read model updated
at all while a test runs can only have been woken by the NOTIFY sent at commit.
"""

from __future__ import annotations

import datetime as dt
import logging
import select
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import psycopg2
import pytest
from sqlalchemy import select as sql_select
from sqlalchemy.engine import make_url

from guardian.bootstrap import build_app, init_database
from guardian.config import Settings
from guardian.demo import load_demo
from guardian.projections import follow
from guardian.projections import worklist as wl
from guardian.projections.registry import runner_for

AS_OF = dt.date(2026, 3, 31)
FALLBACK = 3600.0  # far longer than any wait below: only a notification can wake the follower
postgres = pytest.mark.postgres


def _app(url: str, tmp_path):
    return build_app(Settings(database_url=url, var_dir=tmp_path))


def _store(url: str, tmp_path) -> Iterator[tuple]:
    """A small demo store: (the follower's app, a writer's app), each with its own engine."""
    reader = _app(url, tmp_path)
    init_database(reader)
    load_demo(reader, patients=40, seed=7, as_of=AS_OF)
    runner_for(reader).run_once()  # the worklist rows the writer picks from
    writer = _app(url, tmp_path)
    yield reader, writer
    writer.close()
    reader.close()


@pytest.fixture
def store(database_url, tmp_path):
    yield from _store(database_url, tmp_path)


@pytest.fixture
def pg_store(pg_url, tmp_path):
    yield from _store(pg_url, tmp_path)


class Follower:
    """runner.follow on a thread, stopped (and checked to stop) at the end."""

    def __init__(self, app, **kwargs):
        self.runner = runner_for(app)
        self.stop = threading.Event()
        self.thread = threading.Thread(
            target=self.runner.follow, args=(self.stop,), kwargs=kwargs, daemon=True
        )

    def __enter__(self) -> Follower:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        assert not self.thread.is_alive(), "follower did not stop"

    def wait_for(self, position: int, timeout: float) -> float:
        """Seconds until the worklist's position reaches `position` (fails after `timeout`)."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.runner.position("worklist") >= position:
                return time.monotonic() - started
            assert self.thread.is_alive(), "follower died"
            time.sleep(0.01)
        pytest.fail(f"worklist not at {position} after {timeout} s "
                    f"(at {self.runner.position('worklist')})")


class Workup:
    """Writes one new event at a time (a workup item on one open pathway)."""

    def __init__(self, writer):
        with writer.engine.connect() as conn:
            row = conn.execute(sql_select(wl.worklist).limit(1)).one()
        self.writer, self.row = writer, row
        self.patient_id, self.pathway_id = uuid.UUID(row.patient_id), row.pathway_id

    def __call__(self) -> int:
        """Write the event; return its notification id."""
        return self.writer.require_workup_item(
            self.patient_id, self.row.provider, self.pathway_id, f"w-{uuid.uuid4().hex[:8]}",
            "Bloods", "practice", on=AS_OF)

    def outstanding(self, app) -> int:
        """The pathway's outstanding workup items in `app`'s worklist."""
        with app.engine.connect() as conn:
            return [r for r in wl.patient_rows(conn, self.patient_id)
                    if r["pathway_id"] == self.pathway_id][0]["workup_outstanding"]


def listen_backends(url: str) -> list[int]:
    """Backend pids of this test's connections that are LISTENing."""
    u = make_url(url)
    conn = psycopg2.connect(host=u.host, port=u.port, user=u.username, password=u.password,
                            dbname=u.database)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s "
                        "AND query LIKE 'LISTEN%%'", (u.query["application_name"],))
            return [pid for (pid,) in cur.fetchall()]
    finally:
        conn.close()


def wait_until(check: Callable[[], object], timeout: float) -> object:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    pytest.fail(f"not true after {timeout} s")


@pytest.fixture
def listen_conn(pg_url) -> Iterator:
    u = make_url(pg_url)
    conn = psycopg2.connect(host=u.host, port=u.port, user=u.username, password=u.password,
                            dbname=u.database, **u.query)
    conn.autocommit = True
    yield conn
    conn.close()


# ---------------------------------------------------------------------------- PostgreSQL
@postgres
def test_a_committed_write_notifies_the_events_channel(pg_store, listen_conn):
    _, writer = pg_store
    channel = writer.recorder.channel_name
    with listen_conn.cursor() as cur:
        cur.execute(f'LISTEN "{channel}"')
    Workup(writer)()
    assert select.select([listen_conn], [], [], 5)[0], "no notification after the commit"
    listen_conn.poll()
    assert [n.channel for n in listen_conn.notifies] == [channel]


@postgres
def test_follower_is_woken_by_notify_not_the_fallback_poll(pg_store):
    reader, writer = pg_store
    write = Workup(writer)
    before = write.outstanding(reader)
    with Follower(reader, fallback=FALLBACK) as f:
        f.wait_for(f.runner.head(), timeout=30)
        wait_until(lambda: listen_backends(reader.settings.database_url), 5)
        for _ in range(3):
            time.sleep(0.3)  # let it settle into its wait
            f.wait_for(write(), timeout=60)  # long before FALLBACK: the notification woke it
    assert write.outstanding(reader) == before + 3


@postgres
def test_follower_stops_promptly(pg_store):
    reader, _ = pg_store
    with Follower(reader, fallback=FALLBACK) as f:
        f.wait_for(f.runner.head(), timeout=30)
        wait_until(lambda: listen_backends(reader.settings.database_url), 5)
        time.sleep(0.2)
        f.stop.set()
        f.thread.join(timeout=60)  # long before FALLBACK: `stop` ended its wait
        assert not f.thread.is_alive()
    assert listen_backends(reader.settings.database_url) == []  # its connection is closed


@postgres
def test_follower_survives_its_listen_connection_being_killed(pg_store, listen_conn, caplog):
    reader, writer = pg_store
    write = Workup(writer)
    url = reader.settings.database_url
    with Follower(reader, fallback=FALLBACK) as f:
        f.wait_for(f.runner.head(), timeout=30)
        (old,) = wait_until(lambda: listen_backends(url), 5)
        with caplog.at_level(logging.WARNING, logger="guardian.projections"):
            with listen_conn.cursor() as cur:
                cur.execute("SELECT pg_terminate_backend(%s)", (old,))
            f.wait_for(write(), timeout=10)  # written as the follower lost its connection
            new = wait_until(lambda: [p for p in listen_backends(url) if p != old], 10)
        assert any("lost the LISTEN connection" in r.message for r in caplog.records)
        time.sleep(0.3)
        # Woken through the new connection, not the fallback poll.
        f.wait_for(write(), timeout=60)  # long before FALLBACK
        assert listen_backends(url) == new


@postgres
def test_follower_retries_a_failed_batch(pg_store, monkeypatch, caplog):
    reader, writer = pg_store
    write = Workup(writer)
    with Follower(reader, fallback=FALLBACK) as f:
        f.wait_for(f.runner.head(), timeout=30)
        projection = f.runner.projections[0]
        real, calls = projection.prepare, []

        def flaky(*args, **kwargs):
            calls.append(1)
            if len(calls) == 1:
                raise RuntimeError("database hiccup")
            return real(*args, **kwargs)

        monkeypatch.setattr(projection, "prepare", flaky)
        with caplog.at_level(logging.ERROR, logger="guardian.projections"):
            f.wait_for(write(), timeout=10)  # failed once, retried after a short back-off
        assert len(calls) == 2
        assert any("projection batch failed" in r.message for r in caplog.records)


# ---------------------------------------------------------------------------- both
def test_follow_catches_up_new_events(store):
    """SQLite polls; PostgreSQL is notified (with a short fallback: both paths work)."""
    reader, writer = store
    write = Workup(writer)
    before = write.outstanding(reader)
    with Follower(reader, poll=0.05, fallback=1.0) as f:
        f.wait_for(write(), timeout=10)
        f.wait_for(write(), timeout=10)
    assert write.outstanding(reader) == before + 2


def test_sqlite_follower_stops_promptly(sqlite_url, tmp_path, monkeypatch):
    monkeypatch.setattr(follow, "IDLE_MAX", FALLBACK)  # an idle follower waits an hour
    for reader, _ in _store(sqlite_url, tmp_path):
        with Follower(reader, poll=FALLBACK) as f:
            time.sleep(1.0)  # idle: in its hour-long wait
            f.stop.set()
            f.thread.join(timeout=60)  # long before the wait ends: `stop` ended it
            assert not f.thread.is_alive()


def test_catch_up_within_a_time_budget(database_url, tmp_path):
    """A web request's read-your-writes never carries a whole backlog: it stops between
    batches when its time is up, and says whether it got to the head."""
    from guardian.bootstrap import build_app, init_database
    from guardian.config import Settings
    from guardian.demo import load_demo
    from guardian.projections.registry import runner_for

    app = build_app(Settings(database_url=database_url, var_dir=tmp_path))
    init_database(app)
    load_demo(app, patients=200, seed=4)
    runner = runner_for(app, batch_size=50)
    assert runner.catch_up_within(0.0) is False  # out of time: at most a batch done
    behind = runner.head() - runner.position("worklist")
    assert 0 < behind <= runner.head()
    assert runner.catch_up_within(60.0) is True
    assert runner.position("worklist") == runner.head()
    app.close()
