"""The production topology on one PostgreSQL database, as real processes
(docs/deployment.md, docs/runbook.md): `guardian serve --workers 2`, a projector per group
of read models (`--read-models worklist`, `--read-models bottlenecks,patient_search`),
`guardian scheduler` and `guardian notify --follow` sending to a real SMTP server.

Given that topology, when a PTL extract with breaches is imported, then the worklist API
shows its rows, the scheduler's sweep records the breaches and the coordinator is emailed.
When a second extract is imported and the worklist projector and the dispatcher are killed
(SIGKILL) mid-work and started again, then they catch up: the read models equal a fresh
rebuild's, every breach is recorded once, every notification row is sent once, and the only
e-mails the mail server holds twice are those the killed dispatcher had in flight, with
the same Message-ID (docs/notifications.md "Sending": a receiver can tell). When a web
worker is killed under load, then only requests in flight on it fail, uvicorn starts
another, and serving goes on.
"""

from __future__ import annotations

import asyncio
import collections
import csv
import datetime as dt
import email.policy  # noqa: F401 - notify_helpers' MailServer parses with it
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest
from argon2 import PasswordHasher
from notify_helpers import MailServer, free_port
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from guardian import users
from guardian.bootstrap import build_app, import_extract, init_database
from guardian.config import Settings
from guardian.demo import ORGS_FILE
from guardian.domain.identifiers import nhs_check_digit
from guardian.notifications.channels.email import message_id
from guardian.notifications.dispatcher import AT_MOST_TWICE
from guardian.notifications.schema import notification_attempts, notifications
from guardian.orgs import load_orgs, read_org_file
from guardian.projections.registry import all_projections, runner_for
from guardian.projections.tracking import tracking

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
GUARDIAN = [sys.executable, "-m", "guardian.cli"]
PCN = "U90001"  # Demo Basildon Central PCN: practices Y90001-Y90004 (guardian/data)
COORDINATOR = "coordinator@guardian.test"
MAIL_FROM = "Guardian Service <guardian@guardian.test>"
FIRST, SECOND = 6, 150  # rows of each extract; every third row breached
THREADS = 4  # concurrent clients while a web worker is killed


def nhs(n: int) -> str:
    """The n-th valid NHS number of the 999 test range from 999100000."""
    k = 100_000 + n * 20
    while (digit := nhs_check_digit(f"999{k:06d}")) is None:
        k += 1
    return f"999{k:06d}{digit}"


def extract(path: Path, first: int, count: int, today: dt.date) -> int:
    """A PTL extract of `count` pathways at RAJ; every third one's 18-week clock started
    130 days ago (breached 3 days ago: news), the others 20 days ago. Its breached count."""
    columns = ["NHS_NUMBER", "PERSON_BIRTH_DATE", "PATIENT_PATHWAY_IDENTIFIER",
               "ORGANISATION_IDENTIFIER_CODE_OF_PROVIDER", "GENERAL_MEDICAL_PRACTICE_CODE",
               "REFERRAL_REQUEST_RECEIVED_DATE", "REFERRAL_TO_TREATMENT_PERIOD_START_DATE",
               "ACTIVITY_TREATMENT_FUNCTION_CODE", "PRIORITY_TYPE_CODE", "WAITING_LIST_TYPE"]
    breached = 0
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(columns)
        for n in range(first, first + count):
            late = n % 3 == 0
            breached += late
            start = (today - dt.timedelta(days=130 if late else 20)).isoformat()
            out.writerow([nhs(n), "1960-01-01", f"TOPO-{n:05d}", "RAJ", f"Y9000{1 + n % 4}",
                          start, start, "320", "1", "ORTT"])
    return breached


def wait_for(condition, what: str, timeout: float = 60.0, step: float = 0.1):
    """Poll until `condition()` is truthy (its value), failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(step)


class SlowMailServer(MailServer):
    """The SMTP server taking `delay` seconds over each message, so that the dispatcher is
    caught mid-batch."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)

    def ids(self) -> list[str]:
        return [m["Message-ID"] for m in list(self.messages)]


class Processes:
    """Guardian processes by name, each logging to `<name>.log`; all stopped at the end."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder, self.env = folder, env
        self.running: dict[str, subprocess.Popen] = {}

    def start(self, name: str, *args: str) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "a")  # noqa: SIM115 - closed with the process
        self.running[name] = subprocess.Popen(
            [*GUARDIAN, *args], env=self.env, cwd=self.folder, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        return self.running[name]

    def kill(self, name: str) -> None:
        proc = self.running.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*GUARDIAN, *args], env=self.env, cwd=self.folder,
                              capture_output=True, text=True, timeout=120)

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text()

    def stop_all(self) -> None:
        for proc in self.running.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.running.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        self.running.clear()


@pytest.fixture
def topology(pg_url, tmp_path, monkeypatch):
    """The database with the shipped organisation reference and a coordinator of PCN
    U90001 with an e-mail address (immediate e-mail, the default); the mail server; the
    processes' environment."""
    monkeypatch.setattr(users.passwords, "_hasher", PasswordHasher(
        time_cost=1, memory_cost=1024, parallelism=1))
    mail = SlowMailServer(delay=0.04).start()
    env = {**os.environ, "GUARDIAN_DATABASE_URL": pg_url, "GUARDIAN_VAR_DIR": str(tmp_path),
           "GUARDIAN_SECRET_KEY": "topology-test", "GUARDIAN_SMTP_URL": mail.url,
           "GUARDIAN_MAIL_FROM": MAIL_FROM, "GUARDIAN_SMTP_CONNECTIONS": "1",
           "GUARDIAN_SCHEDULER_INTERVAL": "1", "GUARDIAN_WEB_THREADS": "4",
           "GUARDIAN_REPORT_PROCESSES": "0"}
    for name in ("GUARDIAN_TRUSTED_PROXIES", "GUARDIAN_STANDARDS_FILE", "GUARDIAN_DEBUG"):
        env.pop(name, None)
    app = build_app(Settings(database_url=pg_url, var_dir=tmp_path, mail_from=MAIL_FROM))
    init_database(app)
    load_orgs(app.engine, read_org_file(ORGS_FILE))
    users.add_user(app.engine, COORDINATOR, "coordinator", [PCN], "pw-123456789")
    token = users.create_token(app.engine, COORDINATOR)
    processes = Processes(tmp_path, env)
    try:
        yield app, processes, mail, token
    finally:
        processes.stop_all()
        mail.stop()
        app.close()


# ---------------------------------------------------------------------------- reading


def position(app, name: str) -> int:
    with app.engine.connect() as conn:
        return conn.execute(select(tracking.c.position).where(tracking.c.name == name)
                            ).scalar_one_or_none() or 0


def head(app) -> int:
    return runner_for(app).head()


def email_rows(app) -> list:
    n = notifications
    with app.engine.connect() as conn:
        return list(conn.execute(select(n.c.id, n.c.key, n.c.status, n.c.kind)
                                 .where(n.c.channel == "email")))


def unsent(app) -> int:
    n = notifications
    with app.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(n).where(
            n.c.status.in_(["queued", "sending"]))).scalar_one()


def breach_events(app) -> int:
    with app.engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM guardian_events "
                                 "WHERE topic = 'guardian.Patient.WaitBreached'")).scalar_one()


def read_models(app) -> dict[str, list[tuple]]:
    """Every row of every read-model table, sorted, as plain values."""
    out = {}
    with app.engine.connect() as conn:
        for model in all_projections():
            for table in model.tables():
                rows = conn.execute(select(table)).all()
                out[table.name] = sorted(tuple(map(repr, row)) for row in rows)
    return out


def worklist(base: str, token: str) -> dict | None:
    try:
        r = httpx.get(f"{base}/api/v1/worklists/{PCN}", params={"limit": 1},
                      headers={"Authorization": f"Bearer {token}"}, timeout=10)
    except httpx.TransportError:
        return None
    return r.json()["counts"] if r.status_code == 200 else None


def shows(counts: dict | None, **expected: int) -> bool:
    return counts is not None and all(counts.get(k) == v for k, v in expected.items())


# ---------------------------------------------------------------------------- the test


def test_the_topology_survives_killed_processes_and_loses_nothing(topology, tmp_path):
    app, procs, mail, token = topology
    started = time.monotonic()
    today = app.today()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    serve = procs.start("web", "serve", "--port", str(port), "--workers", "2")
    # Small batches, so that the second extract takes the worklist projector many
    # transactions: it is caught between two of them.
    worklist_projector = ("project", "--follow", "--read-models", "worklist",
                          "--batch-size", "5")
    procs.start("projector-worklist", *worklist_projector)
    procs.start("projector-others", "project", "--follow", "--read-models",
                "bottlenecks,patient_search")
    procs.start("scheduler", "scheduler")
    procs.start("notify", "notify", "--follow", "--poll", "0.2")

    def healthy() -> bool:
        assert serve.poll() is None, procs.log("web")
        try:
            return httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    wait_for(healthy, "guardian serve to answer", timeout=60, step=0.2)
    phases = {"started": time.monotonic() - started}

    # 1. An extract with breaches: the worklist shows it, the sweep records the breaches,
    # the coordinator is e-mailed about each.
    first_breached = extract(tmp_path / "first.csv", 0, FIRST, today)
    done = procs.run("import-ptl", str(tmp_path / "first.csv"), "--json")
    assert done.returncode == 0, done.stderr
    wait_for(lambda: shows(worklist(base, token), all=FIRST),
             "the worklist API to show the first extract")
    wait_for(lambda: shows(worklist(base, token), breached=first_breached),
             "the scheduler's sweep to record the breaches")
    wait_for(lambda: len(mail.to(COORDINATOR)) == first_breached,
             "the breach e-mails to reach the mail server")
    mails_before = len(mail.messages)
    phases["first extract"] = time.monotonic() - started

    # 2. A second extract: kill the worklist projector while it is being projected, and
    # the dispatcher while it is sending the breach e-mails it leads to.
    second_breached = extract(tmp_path / "second.csv", FIRST, SECOND, today)
    from_position = position(app, "worklist")
    importing = subprocess.Popen(
        [*GUARDIAN, "import-ptl", str(tmp_path / "second.csv"), "--json"], env=procs.env,
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: position(app, "worklist") > from_position or importing.poll() is not None,
             "the worklist projector to start on the second extract", step=0.01)
    killed_at = {"position": position(app, "worklist"), "head": head(app),
                 "importing": importing.poll() is None}
    procs.kill("projector-worklist")
    assert killed_at["position"] < killed_at["head"], (
        f"the projector was not caught mid-work: {killed_at}")
    procs.start("projector-worklist", *worklist_projector)

    wait_for(lambda: len(mail.messages) >= mails_before + 5,
             "the dispatcher to send the second wave", step=0.02)
    procs.kill("notify")
    in_flight = {r.key for r in email_rows(app) if r.status == "sending"}
    assert in_flight, "the dispatcher was not caught mid-batch"
    # Its claim would run out after five minutes (dispatcher.CLAIM_SECONDS); the test
    # does not wait for them.
    with app.engine.begin() as conn:
        conn.execute(notifications.update().where(notifications.c.status == "sending")
                     .values(claimed_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    procs.start("notify", "notify", "--follow", "--poll", "0.2")

    out, err = importing.communicate(timeout=120)
    assert importing.returncode == 0, err
    breached = first_breached + second_breached
    wait_for(lambda: shows(worklist(base, token), all=FIRST + SECOND, breached=breached),
             "the worklist API to show both extracts")
    wait_for(lambda: all(v["events_behind"] == 0 for v in runner_for(app).lag().values()),
             "every read model to catch up")
    wait_for(lambda: len(email_rows(app)) == breached and unsent(app) == 0,
             "every breach e-mail to be sent", timeout=90)
    wait_for(lambda: set(mail.ids()) == {message_id(r.key, MAIL_FROM) for r in email_rows(app)},
             "the mail server to hold every e-mail")

    # Nothing lost, nothing twice: each breach recorded once, each row sent once (one
    # attempt recorded as sent), and only what the killed dispatcher had in flight was
    # sent again, under the same Message-ID.
    assert breach_events(app) == breached
    assert {r.status for r in email_rows(app)} == {"sent"}
    with app.engine.connect() as conn:
        sent_attempts = collections.Counter(conn.execute(
            select(notification_attempts.c.notification_id)
            .where(notification_attempts.c.outcome == "sent")).scalars())
    assert sorted(sent_attempts.values()) == [1] * len(sent_attempts)
    seen = collections.Counter(mail.ids())
    twice = {mid for mid, count in seen.items() if count > 1}
    assert twice <= {message_id(key, MAIL_FROM) for key in in_flight}
    # the chunks in flight: one being recorded, the next on its way
    assert len(twice) <= AT_MOST_TWICE, f"{len(twice)} e-mails sent twice"
    assert max(seen.values()) <= 2

    phases["second extract"] = time.monotonic() - started

    # 3. A web worker killed under load: only requests in flight on it fail.
    load = Load(base, token)
    workers = wait_for(lambda: uvicorn_workers(serve.pid, 2), "two web workers")
    load.start()
    wait_for(lambda: load.ok >= 20, "requests to be served", step=0.05)
    os.kill(workers[0], signal.SIGKILL)
    served_before_kill = load.ok
    wait_for(lambda: load.ok >= served_before_kill + 40, "requests served after the kill",
             step=0.05)
    replaced = wait_for(lambda: (found := uvicorn_workers(serve.pid, 2))
                        and workers[0] not in found and found, "uvicorn to start a worker")
    wait_for(lambda: load.ok >= served_before_kill + 60, "requests served by the new worker",
             step=0.05)
    load.stop()
    assert load.failed <= THREADS, load.errors
    assert serve.poll() is None, procs.log("web")
    assert workers[1] in replaced, procs.log("web")  # the other worker served on
    wait_for(healthy, "serving to go on", timeout=30)

    phases["web worker"] = time.monotonic() - started

    # 4. The read models the killed and restarted projectors made equal a fresh
    # single-process rebuild's.
    procs.stop_all()
    live = read_models(app)
    runner_for(app).rebuild()
    assert read_models(app) == live
    elapsed = time.monotonic() - started
    print(f"topology: {elapsed:.1f} s {phases}; projector killed at {killed_at}; "
          f"{len(in_flight)} e-mails in flight at the dispatcher's kill, {len(twice)} sent "
          f"again; {load.failed} of {load.ok + load.failed} requests failed at the worker's "
          f"kill")


def uvicorn_workers(pid: int, count: int) -> list[int] | None:
    """The pids of the serve process's uvicorn workers, when there are `count`."""
    found = []
    for child in psutil.Process(pid).children():
        try:  # a worker just killed is a zombie until reaped: it has no command line
            if child.status() != psutil.STATUS_ZOMBIE and "spawn_main" in " ".join(
                    child.cmdline()):
                found.append(child.pid)
        except psutil.Error:
            continue
    return found if len(found) == count else None


class Load:
    """THREADS clients asking for the worklist, a new connection per request."""

    def __init__(self, base: str, token: str) -> None:
        self.url = f"{base}/api/v1/worklists/{PCN}"
        self.headers = {"Authorization": f"Bearer {token}", "Connection": "close"}
        self.ok = self.failed = 0
        self.errors: list[str] = []
        self.halt = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.client, daemon=True)
                        for _ in range(THREADS)]

    def client(self) -> None:
        while not self.halt.is_set():
            try:
                r = httpx.get(self.url, params={"limit": 5}, headers=self.headers,
                              timeout=15)
                good, why = r.status_code == 200, f"{r.status_code}"
            except httpx.TransportError as e:
                good, why = False, f"{type(e).__name__}: {e}"
            with self.lock:
                if good:
                    self.ok += 1
                else:
                    self.failed += 1
                    self.errors.append(why)

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def stop(self) -> None:
        self.halt.set()
        for t in self.threads:
            t.join(timeout=20)


# ---------------------------------------------------------------------------- backups


def test_a_backup_restores_into_a_new_database_with_its_read_models_rebuilt(pg_url,
                                                                              tmp_path):
    """infra/backup.sh keeps the newest dumps; infra/restore.sh makes a new database from
    one, initialised and with every read model rebuilt from the events (docs/runbook.md)."""
    if not (shutil.which("pg_dump") and shutil.which("pg_restore") and shutil.which("psql")):
        pytest.skip("needs PostgreSQL's client programs (pg_dump, pg_restore, psql)")
    app = build_app(Settings(database_url=pg_url, var_dir=tmp_path))
    init_database(app)
    load_orgs(app.engine, read_org_file(ORGS_FILE))
    today = app.today()
    extract(tmp_path / "extract.csv", 0, 12, today)
    import_extract(app, tmp_path / "extract.csv", today, False, None)
    runner_for(app).run_once()
    before = read_models(app)
    assert len(before["worklist"]) == 12
    backups = tmp_path / "backups"
    backups.mkdir()
    (backups / "guardian-20260101T020000Z.dump").write_bytes(b"an older dump")
    env = {**os.environ, "GUARDIAN_DATABASE_URL": pg_url, "GUARDIAN_VAR_DIR": str(tmp_path),
           "GUARDIAN_BACKUP_DIR": str(backups), "GUARDIAN_BACKUP_KEEP": "1",
           "GUARDIAN_BIN": str(Path(sys.executable).with_name("guardian"))}

    def script(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([str(ROOT / "infra" / args[0]), *args[1:]], env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done

    dump = script("backup.sh").stdout.strip()
    assert [p.name for p in backups.iterdir()] == [Path(dump).name]  # the older one rotated out

    url = make_url(pg_url)
    restored_name = f"{url.database}_restored"
    restored = url.set(database=restored_name).render_as_string(hide_password=False)
    try:
        script("restore.sh", dump, restored)
        again = build_app(Settings(database_url=restored, var_dir=tmp_path))
        try:
            assert read_models(again) == before
        finally:
            again.close()
    finally:
        with app.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :name"), {"name": restored_name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{restored_name}"'))
        app.close()
