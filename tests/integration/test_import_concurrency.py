"""Two imports into one database at once end as if run one after the other: the second
waits for the first, and says so (docs/deployment.md "Imports one at a time"). Real
`guardian import-ptl` processes, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import psycopg2
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from test_import import AS_OF, EXAMPLES, HEADER, valid_nhs_numbers

from guardian.bootstrap import build_app, import_extract, init_database
from guardian.config import Settings
from guardian.locks import IMPORT_KEY, database_lock
from guardian.orgs import load_orgs, read_org_file
from guardian.projections.bottlenecks import breach_facts, intervals
from guardian.projections.registry import runner_for
from guardian.projections.worklist import rtt_periods, worklist


def extracts(tmp_path: Path) -> tuple[Path, Path]:
    """A: patients 1–60 at practice Z90001, priority 1. B (a full snapshot): patients 1–40
    moved to Z90002 at priority 2, and 81–90, new. Which ran last decides the shared rows,
    and whether 41–60 left the list: the two orders end differently."""
    nhs = valid_nhs_numbers(90)

    def row(n: int, practice: str, priority: int) -> str:
        return f"{nhs[n - 1]},1960-01-01,C{n},RAJ,{practice},2025-01-01,2025-01-01,,110,{priority}"

    a = tmp_path / "a.csv"
    a.write_text("\n".join([HEADER, *(row(n, "Z90001", 1) for n in range(1, 61))]) + "\n")
    b = tmp_path / "b.csv"
    b.write_text("\n".join([HEADER, *(row(n, "Z90002", 2) for n in range(1, 41)),
                            *(row(n, "Z90002", 1) for n in range(81, 91))]) + "\n")
    return a, b


class Stores:
    """Fresh, initialised databases of one backend, as many as a test asks for."""

    def __init__(self, database_url: str, tmp_path: Path) -> None:
        self.first, self.tmp, self.made = database_url, tmp_path, []

    def new(self) -> str:
        if not self.made:
            url = self.first
        elif self.first.startswith("sqlite"):
            url = f"sqlite:///{self.tmp / f'store{len(self.made)}.sqlite'}"
        else:  # another schema of the test's database, dropped by close()
            schema = f"t_{secrets.token_hex(6)}"
            self.admin(f'CREATE SCHEMA "{schema}"')
            url = make_url(self.first).update_query_dict(
                {"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
        self.made.append(url)
        app = build_app(self.settings(url))
        init_database(app)
        load_orgs(app.engine, read_org_file(EXAMPLES / "orgs-example.csv"))
        app.close()
        return url

    def settings(self, url: str, **extra) -> Settings:
        return Settings(database_url=url, var_dir=self.tmp / "var", **extra)

    def admin(self, sql: str) -> None:
        base = make_url(self.first)
        conn = psycopg2.connect(**base.translate_connect_args(username="user",
                                                              database="dbname"))
        conn.autocommit = True
        try:
            conn.cursor().execute(sql)
        finally:
            conn.close()

    def close(self) -> None:
        for url in self.made[1:]:
            if url.startswith("postgresql"):
                schema = make_url(url).query["options"].split("=", 1)[1]
                self.admin(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def stores(database_url, tmp_path):
    made = Stores(database_url, tmp_path)
    yield made
    made.close()


def serially(stores: Stores, *runs: tuple[Path, bool]) -> dict:
    url = stores.new()
    app = build_app(stores.settings(url))
    for path, full in runs:
        import_extract(app, path, AS_OF, full_snapshot=full)
    app.close()
    return store_state(stores, url)


def store_state(stores: Stores, url: str) -> dict:
    """Events per patient (without their wall-clock timestamps), the pathway index and every
    read model once projected."""
    app = build_app(stores.settings(url))
    runner_for(app).run_once()
    with app.engine.connect() as conn:
        events: dict[str, list] = {}
        for originator, version, topic, state in conn.execute(text(
                "SELECT originator_id, originator_version, topic, state FROM guardian_events "
                "ORDER BY originator_id, originator_version")):
            key = originator.hex() if isinstance(originator, bytes) else str(originator)
            data = json.loads(bytes(state))
            data.pop("timestamp", None)
            events.setdefault(key.replace("-", ""), []).append((version, topic, data))
        # Patient ids are derived from the store's own namespace: compare NHS numbers.
        nhs = {key: history[0][2]["nhs_number"] for key, history in events.items()}
        tables = {
            name: sorted(tuple(nhs.get(str(v), str(v)) for v in row)
                         for row in conn.execute(text(f"SELECT * FROM {name}")))
            for name in ("pathway_index", worklist.name, rtt_periods.name, intervals.name,
                         breach_facts.name)
        }
    app.close()
    return {"events": {nhs[key]: history for key, history in events.items()}, **tables}


def cli(url: str, tmp_path: Path, *args: str, env: dict | None = None) -> subprocess.Popen:
    err = open(tmp_path / f"stderr-{secrets.token_hex(3)}.txt", "w+")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "guardian.cli", *args], cwd=tmp_path, stdout=subprocess.PIPE,
        stderr=err, text=True,
        env={**os.environ, "GUARDIAN_DATABASE_URL": url, "GUARDIAN_VAR_DIR":
             str(tmp_path / "var"), **(env or {})},
    )
    proc.err_file = err  # type: ignore[attr-defined]
    return proc


def stderr_of(proc: subprocess.Popen) -> str:
    proc.err_file.flush()  # type: ignore[attr-defined]
    return Path(proc.err_file.name).read_text()  # type: ignore[attr-defined]


def wait_for(proc: subprocess.Popen, words: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while words not in stderr_of(proc):
        assert proc.poll() is None, stderr_of(proc)
        assert time.monotonic() < deadline, f"no {words!r} on stderr: {stderr_of(proc)}"
        time.sleep(0.05)


def test_two_imports_at_once_end_as_if_one_ran_after_the_other(stores, tmp_path):
    a, b = extracts(tmp_path)
    a_then_b = serially(stores, (a, False), (b, True))
    b_then_a = serially(stores, (b, True), (a, False))
    assert a_then_b != b_then_a  # the order matters, so the test can tell them apart

    url = stores.new()
    engine = build_app(stores.settings(url)).engine
    held = database_lock(engine, IMPORT_KEY, ".import-lock", "test")
    assert held is not None and held.try_acquire()  # an import "already running"
    try:
        first = cli(url, tmp_path, "import-ptl", str(a), "--as-of", AS_OF.isoformat(),
                    "--json")
        wait_for(first, "waiting")
        second = cli(url, tmp_path, "import-ptl", str(b), "--as-of", AS_OF.isoformat(),
                     "--full-snapshot", "--json")
        wait_for(second, "waiting")
    finally:
        held.release()  # both go for the lock: one runs, the other waits for it
    for proc in (first, second):
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr_of(proc)
        assert json.loads(out)["rejected"] == 0
        said = stderr_of(proc)
        assert "another import into this database is running; waiting" in said
        assert "this import proceeds" in said and "Traceback" not in said
    engine.dispose()
    assert store_state(stores, url) in (a_then_b, b_then_a)


def test_a_wait_past_the_setting_gives_up_having_written_nothing(stores, tmp_path):
    a, _ = extracts(tmp_path)
    url = stores.new()
    engine = build_app(stores.settings(url)).engine
    held = database_lock(engine, IMPORT_KEY, ".import-lock", "test")
    assert held is not None and held.try_acquire()
    try:
        proc = cli(url, tmp_path, "import-ptl", str(a), "--as-of", AS_OF.isoformat(),
                   env={"GUARDIAN_IMPORT_WAIT_SECONDS": "1"})
        proc.communicate(timeout=60)
    finally:
        held.release()
    said = stderr_of(proc)
    assert proc.returncode == 1, said
    assert "guardian: another import into this database was still running" in said
    assert "GUARDIAN_IMPORT_WAIT_SECONDS" in said and "Traceback" not in said
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM guardian_events")).scalar_one() == 0
    engine.dispose()


def test_imports_in_two_threads_of_one_process_take_turns(stores, tmp_path):
    """The lock is per database, not per process: two threads calling import_extract at
    once (each with its own app) end as if one ran after the other."""
    import threading

    a, b = extracts(tmp_path)
    a_then_b = serially(stores, (a, False), (b, True))
    b_then_a = serially(stores, (b, True), (a, False))
    url = stores.new()
    said: list[str] = []
    failures: list[BaseException] = []
    go = threading.Barrier(2)

    def run(path: Path, full: bool) -> None:
        app = build_app(stores.settings(url))
        try:
            go.wait()
            import_extract(app, path, AS_OF, full_snapshot=full, say=said.append)
        except BaseException as e:  # reported below
            failures.append(e)
        finally:
            app.close()

    threads = [threading.Thread(target=run, args=args) for args in ((a, False), (b, True))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not failures, failures
    assert store_state(stores, url) in (a_then_b, b_then_a)
