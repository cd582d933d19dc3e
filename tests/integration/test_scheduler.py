"""`guardian scheduler`: one acting scheduler per database, take-over, catch-up, run records;
and the `check-waits` / `check-ins` command lines."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select, text

from guardian.bootstrap import build_app, init_database
from guardian.config import Settings
from guardian.demo import ORGS_FILE
from guardian.domain.report import ReferralReport
from guardian.job_runs import scheduler_runs, status, write_run
from guardian.orgs import load_orgs, read_org_file
from guardian.scheduler import (
    CHECK_INS_JOB,
    LEADER,
    WAITS_JOB,
    lock_for,
    missed_since,
    run,
)

GUARDIAN = [sys.executable, "-m", "guardian.cli"]
ONE = dt.timedelta(days=1)


def prepared(url: str, tmp_path: Path, **settings):
    """A store with one patient whose RTT clock started 200 days ago (18 weeks breached)."""
    app = build_app(Settings(database_url=url, var_dir=tmp_path, **settings))
    init_database(app)
    load_orgs(app.engine, read_org_file(ORGS_FILE))
    today = app.today()
    app.apply_reports([ReferralReport(
        provider="RAJ", pathway_id="PPI-1", nhs_number="9995260182",
        birth_date=dt.date(1958, 3, 14), practice_code="Y90001", treatment_function="110",
        priority=1, waiting_list_type="ORTT", received_on=today - 200 * ONE,
        clock_start=today - 200 * ONE, as_of=today)])
    return app


def runs(app) -> dict[str, dict]:
    with app.engine.connect() as conn:
        return {r["job"]: dict(r) for r in conn.execute(select(scheduler_runs)).mappings()}


def breaches(app) -> int:
    with app.engine.connect() as conn:
        return conn.execute(text(
            "SELECT count(*) FROM guardian_events WHERE topic = 'guardian.Patient.WaitBreached'"
        )).scalar_one()


def wait_for(condition, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


# ------------------------------------------------------------------ two real schedulers


@pytest.mark.slow
def test_a_second_scheduler_stands_by_and_takes_over_when_the_first_is_killed(
        database_url, tmp_path):
    app = prepared(database_url, tmp_path)
    env = {**os.environ, "GUARDIAN_DATABASE_URL": database_url,
           "GUARDIAN_VAR_DIR": str(tmp_path), "GUARDIAN_SCHEDULER_INTERVAL": "0.5"}

    def start(name: str) -> subprocess.Popen:
        log = open(tmp_path / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        return subprocess.Popen([*GUARDIAN, "scheduler"], env=env, stdout=log,
                                stderr=subprocess.STDOUT)

    first = start("first")
    try:
        wait_for(lambda: runs(app).get(WAITS_JOB, {}).get("status") == "ok",
                 what="the first scheduler's sweep")
        leader = runs(app)[LEADER]["runner"]
        assert leader.endswith(f":{first.pid}")
        recorded = breaches(app)
        assert recorded >= 1  # 18 weeks (and its at-risk warnings) on the first run

        second = start("second")
        wait_for(lambda: "standing by" in (tmp_path / "second.log").read_text(),
                 what="the second scheduler to stand by")
        time.sleep(1)
        assert second.poll() is None  # standing by, not exiting
        assert runs(app)[LEADER]["runner"] == leader
        assert runs(app)[WAITS_JOB]["runner"] == leader

        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        killed_at = dt.datetime.now(dt.UTC)
        wait_for(lambda: runs(app)[LEADER]["runner"].endswith(f":{second.pid}"),
                 what="the second scheduler to take over")

        def second_swept():
            r = runs(app)[WAITS_JOB]
            started = r["started_at"].replace(tzinfo=r["started_at"].tzinfo or dt.UTC)
            return (r["runner"].endswith(f":{second.pid}") and r["status"] == "ok"
                    and started > killed_at)

        wait_for(second_swept, what="a sweep by the second scheduler")
        assert breaches(app) == recorded  # exactly once, whoever sweeps

        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0
    finally:
        for proc in (first, locals().get("second")):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    log = (tmp_path / "second.log").read_text()
    assert "standing by" in log and "now acts for this database" in log
    assert "job check-waits started" in log and "job check-waits finished" in log
    app.close()


# ------------------------------------------------------------------ in process


def test_one_scheduler_per_database_records_its_runs_and_stops_cleanly(database_url, tmp_path):
    app = prepared(database_url, tmp_path)
    settings = Settings(database_url=database_url, var_dir=tmp_path, scheduler_interval=0.3)
    stop = threading.Event()
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(run(settings, stop, False)))
    thread.start()
    try:
        wait_for(lambda: {WAITS_JOB, CHECK_INS_JOB, "projection-lag"} <= {
            job for job, r in runs(app).items() if r["status"] == "ok"}, what="every job")
        other = lock_for(app.engine)
        assert other.acquire() is False  # held by the running scheduler
        assert breaches(app) >= 1
        # A job's row has no summary while a run of it is under way (every 0.3 s here).
        shown = wait_for(lambda: (found := status(app.engine))[WAITS_JOB]["summary"]
                         and found["projection-lag"]["summary"] and found,
                         what="a finished run of each job shown")
        assert {"as_of", "checked", "breaches_recorded"} <= set(shown[WAITS_JOB]["summary"])
        assert set(shown["projection-lag"]["summary"]) >= {"worklist"}
        assert shown[LEADER]["status"] == "acting"
    finally:
        stop.set()
        thread.join(timeout=30)
    assert codes == [0]
    assert other.acquire() is True  # released on stop
    other.release()
    app.close()


@pytest.mark.postgres
def test_a_scheduler_that_loses_its_lock_stops_acting(pg_url, tmp_path):
    app = prepared(pg_url, tmp_path)
    settings = Settings(database_url=pg_url, var_dir=tmp_path, scheduler_interval=0.3)
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(run(settings, None, False)))
    thread.start()
    wait_for(lambda: LEADER in runs(app), what="the scheduler to act")
    with app.engine.begin() as conn:  # e.g. the server dropped the lock's connection
        # only this test's own connections (its URL names them): the server's other
        # databases belong to tests running at the same time in other workers
        conn.execute(text(
            "SELECT pg_terminate_backend(l.pid) FROM pg_locks l "
            "JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.pid <> pg_backend_pid() "
            "AND a.datname = current_database() "
            "AND a.application_name = current_setting('application_name')"))
    thread.join(timeout=30)
    assert codes == [1]
    app.close()


def test_the_healthz_shows_the_scheduler(sqlite_url, tmp_path):
    from fastapi.testclient import TestClient

    from guardian.web.app import create_app

    app = prepared(sqlite_url, tmp_path)
    now = dt.datetime.now(dt.UTC)
    write_run(app.engine, job=WAITS_JOB, runner="host:1", started_at=now, finished_at=now,
              seconds=0.5, status="ok", summary=json.dumps({"breaches_recorded": 2}))
    from guardian import users

    users.add_user(app.engine, "admin@example.test", "admin", [], "a long passphrase")
    token = users.create_token(app.engine, "admin@example.test")
    settings = Settings(database_url=sqlite_url, var_dir=tmp_path)
    with TestClient(create_app(settings, follow_events=False)) as client:
        # the scheduler's runs are for admins (docs/access.md); anyone gets the status
        anonymous = client.get("/healthz").json()
        body = client.get("/healthz", headers={"Authorization": f"Bearer {token}"}).json()
    assert anonymous["status"] == "ok" and "scheduler" not in anonymous
    assert body["scheduler"][WAITS_JOB]["summary"] == {"breaches_recorded": 2}
    assert body["scheduler"][WAITS_JOB]["runner"] == "host:1"
    app.close()


def test_a_missed_cron_time_means_one_catch_up_run():
    from apscheduler.triggers.cron import CronTrigger

    zone = Settings().zone
    hourly = CronTrigger(minute=5, timezone=zone)
    now = dt.datetime(2026, 3, 29, 13, 0, tzinfo=zone)  # the day the clocks go forward
    assert missed_since(hourly, None, now)
    assert not missed_since(hourly, dt.datetime(2026, 3, 29, 12, 5, 1, tzinfo=zone), now)
    assert missed_since(hourly, dt.datetime(2026, 3, 29, 9, 5, tzinfo=zone), now)
    # stored as UTC, compared in local time: 00:05 BST on 30 March is 23:05 UTC on the 29th
    daily = CronTrigger(hour=0, minute=5, timezone=zone)
    ran = dt.datetime(2026, 3, 29, 23, 5, 30, tzinfo=dt.UTC)
    assert not missed_since(daily, ran, dt.datetime(2026, 3, 30, 23, 0, tzinfo=zone))
    assert missed_since(daily, ran, dt.datetime(2026, 3, 31, 0, 6, tzinfo=zone))


# ------------------------------------------------------------------ the command line


def cli(url: str, *args: str, tmp_path: Path, **env: str):
    full = {**os.environ, "GUARDIAN_DATABASE_URL": url, "GUARDIAN_VAR_DIR": str(tmp_path),
            **env}
    return subprocess.run([*GUARDIAN, *args], env=full, capture_output=True, text=True,
                          timeout=120)


def test_check_waits_and_check_ins_print_the_documented_json(sqlite_url, tmp_path):
    # (the sweep itself runs on both backends in test_waits.py)
    app = prepared(sqlite_url, tmp_path)
    first = cli(sqlite_url, "check-waits", "--json", tmp_path=tmp_path)
    assert first.returncode == 0, first.stderr
    body = json.loads(first.stdout)
    assert list(body) == ["checked", "breaches_recorded", "at_risk"]
    assert body == {"checked": 1, "breaches_recorded": 1, "at_risk": 0}
    earlier = (app.today() - 30 * ONE).isoformat()
    back = cli(sqlite_url, "check-waits", "--as-of", earlier, "--json", tmp_path=tmp_path)
    assert back.returncode == 0
    assert json.loads(back.stdout) == {"checked": 0, "breaches_recorded": 0, "at_risk": 0}
    assert "before the last run" in back.stderr
    ins = cli(sqlite_url, "check-ins", "--json", tmp_path=tmp_path)
    assert json.loads(ins.stdout) == {"checked": 1, "check_ins_due": 1}
    app.close()


def test_bad_input_to_check_waits_fails_clearly(sqlite_url, tmp_path):
    empty = cli(sqlite_url, "check-waits", tmp_path=tmp_path)
    assert empty.returncode == 1 and "guardian db init" in empty.stderr
    app = prepared(sqlite_url, tmp_path)
    future = (app.today() + ONE).isoformat()
    later = cli(sqlite_url, "check-waits", "--as-of", future, tmp_path=tmp_path)
    assert later.returncode == 1 and "after today" in later.stderr
    bad = cli(sqlite_url, "check-waits", "--as-of", "2026-02-30", tmp_path=tmp_path)
    assert bad.returncode == 2
    standards = tmp_path / "standards.toml"
    standards.write_text("[rtt-18]\nat_risk_days = -14\n")
    wrong = cli(sqlite_url, "check-waits", tmp_path=tmp_path,
                GUARDIAN_STANDARDS_FILE=str(standards))
    assert wrong.returncode == 1
    assert "rtt-18.at_risk_days must not be negative" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    standards.write_text("[procedure-p9]\nlast_day_within = 10\n")
    unknown = cli(sqlite_url, "scheduler", tmp_path=tmp_path,
                  GUARDIAN_STANDARDS_FILE=str(standards))
    assert unknown.returncode == 1 and "'p9' is not a procedure priority" in unknown.stderr
    app.close()


def test_a_deployment_s_standards_file_changes_the_worklist_and_the_sweep(sqlite_url, tmp_path):
    standards = tmp_path / "standards.json"
    standards.write_text(json.dumps({"rtt-18": {"last_day_within": 300}}))
    app = prepared(sqlite_url, tmp_path, standards_file=standards)
    from guardian.waits import check_waits

    result = check_waits(app, app.today())
    assert result.breaches_recorded == 0  # day 200 is within a 300-day standard
    with app.engine.connect() as conn:
        row = conn.execute(text("SELECT next_standard, next_deadline FROM worklist")).one()
    assert row.next_standard == "rtt-18"
    assert str(row.next_deadline) == (app.today() + 100 * ONE).isoformat()
    app.close()

