"""Live pacing: an import keeps within reach of a live follower, and never waits without one."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest

from guardian.bootstrap import build_app, import_extract, init_database
from guardian.config import Settings
from guardian.demo import ORGS_FILE, write_extract
from guardian.orgs import load_orgs, read_org_file
from guardian.projections import pacing
from guardian.projections.registry import runner_for

AS_OF = dt.date(2026, 3, 31)


@pytest.fixture
def app(database_url, tmp_path):
    app = build_app(Settings(database_url=database_url, var_dir=tmp_path))
    init_database(app)
    load_orgs(app.engine, read_org_file(ORGS_FILE))
    yield app
    app.close()


@pytest.fixture
def second(app, database_url, tmp_path):
    """Another process's view of the same database (its own engine)."""
    other = build_app(Settings(database_url=database_url, var_dir=tmp_path))
    yield other
    other.close()


def test_a_follower_is_present_only_while_it_announces_itself(app, second):
    assert not pacing.follower_present(second.engine)
    with pacing.announce_follower(app.engine):
        assert pacing.follower_present(second.engine)
        with pacing.announce_follower(second.engine):  # several followers may announce
            assert pacing.follower_present(app.engine)
        assert pacing.follower_present(second.engine)
    assert not pacing.follower_present(second.engine)


def test_a_follower_stays_present_after_an_importer_has_looked(app, second):
    with pacing.announce_follower(app.engine):
        for _ in range(3):
            assert pacing.follower_present(second.engine)


def test_with_no_follower_the_import_does_not_wait(app, tmp_path):
    path = tmp_path / "ptl.csv"
    rows = write_extract(path, 300, 11, AS_OF, read_org_file(ORGS_FILE))
    pacer = pacing.Pacer(app)
    assert not pacer.live()
    pacer.wait()  # read models far behind nothing: returns at once
    assert pacer.waited == 0  # it returned before waiting at all
    result = import_extract(app, path, AS_OF, workers=1)
    assert result.accepted == rows
    head, low = pacer.backlog()
    assert head > 0 and low == 0  # nothing projected, nobody waited for it


def test_a_present_follower_is_waited_for_until_it_has_caught_up(app, second, tmp_path):
    path = tmp_path / "ptl.csv"
    write_extract(path, 200, 12, AS_OF, read_org_file(ORGS_FILE))
    import_extract(app, path, AS_OF, workers=1)  # no follower yet: a backlog
    runner = runner_for(second)
    pacer = pacing.Pacer(app)
    with pacing.announce_follower(second.engine):
        assert pacer.live()
        events: list[str] = []

        def project() -> None:
            events.append("projector started")
            runner.run_once()

        catch_up = threading.Timer(0.4, project)
        catch_up.start()
        pacer.wait()
        events.append("wait returned")
        catch_up.join()
    head, low = pacer.backlog()
    assert low == head > 0
    assert events == ["projector started", "wait returned"]  # it did wait for the projector


class Clock:
    """pacing's `time` in a test: a clock of its own, which a sleep moves on at once."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_stalled_follower_is_given_up_on(app, second, tmp_path, caplog, monkeypatch):
    path = tmp_path / "ptl.csv"
    write_extract(path, 50, 13, AS_OF, read_org_file(ORGS_FILE))
    import_extract(app, path, AS_OF, workers=1)  # a backlog nobody projects
    clock = Clock()
    monkeypatch.setattr(pacing, "time", clock)
    pacer = pacing.Pacer(app, stall_seconds=0.3)
    with pacing.announce_follower(second.engine):  # present, but it never projects
        started = clock.monotonic()
        pacer.wait()
        assert 0.3 <= clock.monotonic() - started < 3
        assert pacer.given_up and not pacer.live()
    assert "no progress" in caplog.text


def test_an_import_alongside_a_live_follower_keeps_the_read_models_close(app, second,
                                                                           tmp_path):
    """The backlog never exceeds about two small batches' events while the import runs;
    without pacing it would hold everything the import wrote ahead of the projector."""
    path = tmp_path / "ptl.csv"
    rows = write_extract(path, 5 * pacing.LIVE_BATCH_SIZE, 14, AS_OF, read_org_file(ORGS_FILE))
    runner = runner_for(second)
    stop, done = threading.Event(), threading.Event()
    follower = threading.Thread(target=runner.follow, args=(stop,),
                                kwargs={"poll": 0.05, "fallback": 0.2}, daemon=True)
    follower.start()
    pacer = pacing.Pacer(app)
    deadline = time.monotonic() + 10
    while not pacer.live() and time.monotonic() < deadline:
        time.sleep(0.05)
    worst = [0]

    def sample() -> None:
        while not done.is_set():
            head, low = pacer.backlog()
            worst[0] = max(worst[0], head - low)
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        result = import_extract(app, path, AS_OF, workers=1)
    finally:
        done.set()
        sampler.join()
        stop.set()
        follower.join(timeout=10)
    assert result.accepted == rows
    head, _ = pacer.backlog()
    # Each accepted row of a new referral writes a few events; one batch in flight at most,
    # plus the one being written while the projector catches up with the last.
    assert 0 < worst[0] <= 2 * pacing.LIVE_BATCH_SIZE * (head / rows), (worst[0], head)
    assert worst[0] < head / 2


@pytest.mark.postgres
def test_a_follower_announces_itself_again_after_losing_its_connection(pg_url, tmp_path,
                                                                        monkeypatch):
    import psycopg2
    from sqlalchemy.engine import make_url

    monkeypatch.setattr(pacing.Presence, "RECHECK_SECONDS", 0.2)
    app = build_app(Settings(database_url=pg_url, var_dir=tmp_path))
    init_database(app)
    stop = threading.Event()
    follower = threading.Thread(target=runner_for(app).follow, args=(stop,),
                                kwargs={"fallback": 0.2}, daemon=True)
    follower.start()
    url = make_url(pg_url)
    admin = psycopg2.connect(host=url.host, port=url.port or 5432, user=url.username,
                             dbname=url.database)
    admin.autocommit = True

    def holders() -> list[int]:
        high, low = pacing._keys[str(app.engine.url)]
        with admin.cursor() as cur:
            cur.execute("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = %s "
                        "AND objid = %s AND objsubid = 1 AND granted", (high, low))
            return [r[0] for r in cur.fetchall()]

    def wait_for(check, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = check()
            if found:
                return found
            time.sleep(0.05)
        raise AssertionError("timed out")

    try:
        wait_for(lambda: pacing.follower_present(app.engine))
        (old,) = holders()
        with admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(%s)", (old,))
        new = wait_for(lambda: [p for p in holders() if p != old])
        assert len(new) == 1 and pacing.follower_present(app.engine)
    finally:
        stop.set()
        follower.join(timeout=10)
        admin.close()
        app.close()
    assert not follower.is_alive()
