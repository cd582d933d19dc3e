"""Place-lead reports cannot stall everyone else (guardian/web/report_pool.py,
docs/deployment.md "Reports beside the worklists"): they are computed on a bounded pool of
their own, identical requests share one computation, a request waits a bounded time and is
then told the report is being prepared, and a runaway query is stopped."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from concurrent.futures import BrokenExecutor, ThreadPoolExecutor
from types import SimpleNamespace

import pytest
from api_helpers import bearer
from fastapi.testclient import TestClient
from web_helpers import sign_in

from guardian.bootstrap import build_app
from guardian.config import Settings
from guardian.projections import bottlenecks as bn
from guardian.web import reports
from guardian.web.app import create_app
from guardian.web.report_pool import ReportBusy, ReportPool, ReportTooSlow


def run_async(coroutine):
    """`asyncio.run` on a thread of its own: the browser tests' Playwright keeps an event
    loop running on the main thread for the whole session."""
    with ThreadPoolExecutor(max_workers=1) as runner:
        return runner.submit(asyncio.run, coroutine).result()

THREADS = 4  # request threads of the app under test (GUARDIAN_WEB_THREADS)
WORKERS = 2  # report workers (GUARDIAN_REPORT_WORKERS)


@pytest.fixture
def blocked(settings, monkeypatch):
    """An app whose report computations block until released, counting how many run at
    once and how many were started."""
    release = threading.Event()
    seen = {"now": 0, "most": 0, "started": 0}
    lock = threading.Lock()
    real_build, real_report = reports.build, bn.report

    def blocking(real):
        def computation(*args, **kwargs):
            with lock:
                seen["now"] += 1
                seen["started"] += 1
                seen["most"] = max(seen["most"], seen["now"])
            try:
                assert release.wait(60), "never released"
                return real(*args, **kwargs)
            finally:
                with lock:
                    seen["now"] -= 1
        return computation

    monkeypatch.setattr(reports, "build", blocking(real_build))
    monkeypatch.setattr(bn, "report", blocking(real_report))
    tuned = Settings(**{**settings.model_dump(), "web_threads": THREADS,
                        "report_workers": WORKERS, "report_wait_seconds": 30.0,
                        "report_slots": 4, "report_processes": False})
    with TestClient(create_app(tuned, follow_events=False)) as client:
        yield client, release, seen
        release.set()


def test_more_report_requests_than_threads_leave_the_worklists_alone(blocked):
    client, release, seen = blocked
    engine = client.app.state.guardian.engine
    place_lead, coordinator = bearer(engine, "place-lead"), bearer(engine, "coordinator")
    asks = THREADS + WORKERS + 1  # uncached: each its own date
    with ThreadPoolExecutor(asks) as requests:
        answers = [requests.submit(client.get, "/api/v1/reports/bottlenecks",
                                   params={"as_of": f"2026-03-{day:02d}"}, headers=place_lead)
                   for day in range(1, asks + 1)]
        deadline = time.monotonic() + 30
        while seen["now"] < WORKERS and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # every request has arrived; the pool holds WORKERS of them
        worklist = client.get("/api/v1/worklists/U90001", headers=coordinator)
        assert worklist.status_code == 200, worklist.text
        # Answered while every report is held (until `release`, or until its wait runs
        # out): had the worklist queued behind any of them, that one would be done first.
        assert not any(a.done() for a in answers)  # the reports are all still waiting
        assert seen["most"] == WORKERS
        release.set()
        codes = [a.result(timeout=60).status_code for a in answers]
    assert codes == [200] * asks
    assert seen["most"] == WORKERS and seen["started"] == asks


def test_identical_requests_share_one_computation(blocked):
    client, release, seen = blocked
    place_lead = bearer(client.app.state.guardian.engine, "place-lead")
    with ThreadPoolExecutor(5) as requests:
        answers = [requests.submit(client.get, "/api/v1/reports/bottlenecks",
                                   params={"as_of": "2026-03-20"}, headers=place_lead)
                   for _ in range(5)]
        time.sleep(0.5)
        release.set()
        bodies = [a.result(timeout=60).json() for a in answers]
    assert seen["started"] == 1
    assert all(body == bodies[0] for body in bodies)


def test_a_report_not_ready_in_time_is_being_prepared_and_kept_for_the_retry(
        settings, monkeypatch):
    release = threading.Event()
    started = []
    real_build = reports.build

    def slow_build(*args, **kwargs):
        started.append(1)
        release.wait(60)
        return real_build(*args, **kwargs)

    monkeypatch.setattr(reports, "build", slow_build)
    tuned = Settings(**{**settings.model_dump(), "report_wait_seconds": 0.2,
                        "report_processes": False})
    with TestClient(create_app(tuned, follow_events=False)) as client:
        assert sign_in(client, "place-lead").status_code == 303
        page = client.get("/reports?as_of=2026-03-20")
        assert page.status_code == 503 and page.headers["retry-after"] == "5"
        assert "This report is being prepared" in page.text
        assert 'href="/reports?as_of=2026-03-20"' in page.text
        fragment = client.get("/reports?as_of=2026-03-20&by=provider",
                              headers={"HX-Request": "true", "HX-Target": "stages-results"})
        assert fragment.status_code == 202 and 'id="stages-results"' in fragment.text
        assert "<html" not in fragment.text
        download = client.get("/reports/trend.csv?as_of=2026-03-20")
        assert download.status_code == 503 and "being prepared" in download.text
        release.set()
        deadline = time.monotonic() + 30
        while client.app.state.report_pool.running() and time.monotonic() < deadline:
            time.sleep(0.05)
        computed = len(started)
        again = client.get("/reports?as_of=2026-03-20")
        assert again.status_code == 200 and "Where most pathways are stuck" in again.text
        assert len(started) == computed  # the retry found what was prepared meanwhile


@pytest.mark.parametrize("endless", [True, False], ids=["runaway", "quick"])
def test_a_runaway_report_query_is_stopped(database_url, tmp_path, endless):
    app = build_app(Settings(database_url=database_url, var_dir=tmp_path / "var"))
    pool = ReportPool(app.engine, workers=1, wait_seconds=30, timeout_seconds=0.5,
                      processes=False)
    if app.engine.dialect.name == "postgresql":
        sql = "SELECT pg_sleep(30)" if endless else "SELECT 1"
    else:
        sql = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c"
               + ("" if endless else " WHERE x < 10") + ") SELECT count(*) FROM c")
    try:
        if endless:
            with pytest.raises(ReportTooSlow):
                run_async(pool.run("q", lambda conn: conn.exec_driver_sql(sql).scalar()))
            assert pool.running() == 0  # stopped, not left running behind the answer
        else:
            assert run_async(pool.run("q", lambda conn: conn.exec_driver_sql(sql).scalar()))
        # the connection goes back to the pool without the limit
        with app.engine.connect() as conn:
            if app.engine.dialect.name == "postgresql":
                assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "0"
            assert conn.exec_driver_sql("SELECT 2").scalar() == 2
    finally:
        pool.close()
        app.close()


def test_too_many_waiting_computations_are_refused_at_once(sqlite_url, tmp_path):
    app = build_app(Settings(database_url=sqlite_url, var_dir=tmp_path / "var"))
    pool = ReportPool(app.engine, workers=1, wait_seconds=0.05, timeout_seconds=5,
                      processes=False)
    release = threading.Event()

    async def ask_many() -> list[str]:
        outcomes = []
        for n in range(12):
            try:
                await pool.run(n, lambda conn: release.wait(30))
                outcomes.append("done")
            except ReportBusy as e:
                outcomes.append(str(e))
        return outcomes

    try:
        outcomes = run_async(ask_many())
        assert outcomes[:8] == ["the report is still being prepared"] * 8
        assert outcomes[8:] == ["too many reports are being prepared"] * 4
    finally:
        release.set()
        pool.close()
        app.close()


def niceness_and_slot(conn, wait: float) -> tuple[int, float, float]:
    """A report job for the helper process: its priority, and when it held its slot (the
    system-wide monotonic clock, the same in every process)."""
    started = time.monotonic()
    time.sleep(wait)
    return os.nice(0), started, time.monotonic()


def test_helper_processes_compute_at_the_lowest_priority_one_slot_at_a_time(
        database_url, tmp_path):
    """The default: helper processes (nice 19) of each web worker; two pools (two web
    workers) share the database's one report slot."""
    app = build_app(Settings(database_url=database_url, var_dir=tmp_path / "var"))
    pools = [ReportPool(app.engine, workers=1, slots=1) for _ in range(2)]

    async def both() -> list:
        return await asyncio.gather(*[pool.run("same key", niceness_and_slot, 0.5)
                                      for pool in pools])

    try:
        (nice_a, start_a, end_a), (nice_b, start_b, end_b) = run_async(both())
        assert nice_a == nice_b == 19
        assert end_a <= start_b or end_b <= start_a  # one waited for the other's slot
    finally:
        for pool in pools:
            pool.close()
        app.close()


def die(conn) -> None:
    os._exit(3)  # a helper killed mid-report (out of memory, say)


def answer(conn) -> int:
    return conn.exec_driver_sql("SELECT 42").scalar()


def test_a_helper_that_died_is_replaced(sqlite_url, tmp_path):
    app = build_app(Settings(database_url=sqlite_url, var_dir=tmp_path / "var"))
    pool = ReportPool(app.engine, workers=1)
    try:
        with pytest.raises(BrokenExecutor):
            run_async(pool.run("dies", die))
        assert run_async(pool.run("after", answer)) == 42
    finally:
        pool.close()
        app.close()


def test_a_report_gives_way_while_other_work_keeps_the_machine_busy(monkeypatch):
    from guardian.web import report_pool

    ticks = {"busy": 0, "total": 0}
    monkeypatch.setattr(report_pool, "_cpu_times", lambda: (ticks["busy"], ticks["total"]))
    slept: list[float] = []
    # a clock that stands still: the report works only as long as `pacer.at` says below
    monkeypatch.setattr(report_pool, "time", SimpleNamespace(monotonic=lambda: 100.0,
                                                             sleep=slept.append))
    pacer = report_pool.Pacer()
    ticks.update(busy=10, total=100)  # others kept 10 % of the CPUs busy: no rest
    pacer.rest()
    assert slept == []
    pacer.at -= 0.2  # the report worked 0.2 s while others kept 60 % busy: it rests 0.2 s
    ticks.update(busy=70, total=200)
    pacer.rest()
    assert slept and 0.19 < slept[0] < 0.3
    pacer.at -= 5  # never more than MAX_REST_SECONDS at once
    ticks.update(busy=170, total=300)
    pacer.rest()
    assert slept[-1] == report_pool.MAX_REST_SECONDS


def test_db_init_replaces_the_older_report_index(database_url, tmp_path):
    from sqlalchemy import inspect

    from guardian.bootstrap import init_database

    app = build_app(Settings(database_url=database_url, var_dir=tmp_path / "var"))
    try:
        init_database(app)
        with app.engine.begin() as conn:  # as an earlier version left it
            conn.exec_driver_sql("DROP INDEX pathway_intervals_report")
            conn.exec_driver_sql("CREATE INDEX pathway_intervals_kind_place "
                                 "ON pathway_intervals (kind, place, started_on)")
        init_database(app)
        names = {i["name"] for i in inspect(app.engine).get_indexes("pathway_intervals")}
        assert "pathway_intervals_report" in names
        assert "pathway_intervals_kind_place" not in names
    finally:
        app.close()
