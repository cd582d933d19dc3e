"""A real import process killed mid-way loses nothing accepted, and a rerun finishes the job."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from guardian.bootstrap import build_app, init_database
from guardian.config import Settings
from guardian.demo import ORGS_FILE, write_extract
from guardian.orgs import load_orgs, read_org_file

AS_OF = dt.date(2026, 3, 31)
pytestmark = pytest.mark.slow


def prepared(url: str):
    app = build_app(Settings(database_url=url))
    init_database(app)
    load_orgs(app.engine, read_org_file(ORGS_FILE))
    return app


def topic_counts(app) -> dict[str, int]:
    with app.engine.connect() as conn:
        rows = conn.execute(text("SELECT topic, count(*) FROM guardian_events GROUP BY topic"))
        return dict(rows.tuples().all())


def import_command(path: Path) -> list[str]:
    return [sys.executable, "-m", "guardian.cli", "import-ptl", str(path), "--as-of",
            AS_OF.isoformat(), "--json"]


def test_killing_an_import_then_rerunning_gives_exactly_a_clean_import(database_url, tmp_path):
    path = tmp_path / "ptl.csv"
    write_extract(path, 21_000, 7, AS_OF, read_org_file(ORGS_FILE))  # > 20,000: 2 workers

    clean = prepared(f"sqlite:///{tmp_path}/clean.sqlite")
    env = {**os.environ, "GUARDIAN_DATABASE_URL": str(clean.engine.url.render_as_string(False))}
    subprocess.run(import_command(path), env=env, check=True, capture_output=True)
    expected = topic_counts(clean)
    clean.close()

    app = prepared(database_url)
    env = {**os.environ, "GUARDIAN_DATABASE_URL": database_url}
    proc = subprocess.Popen(import_command(path), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and sum(topic_counts(app).values()) < 5_000:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the import and its worker processes
    proc.wait()
    partial = sum(topic_counts(app).values())
    assert 0 < partial < sum(expected.values()), "the kill should land mid-import"

    rerun = subprocess.run(import_command(path), env=env, capture_output=True,
                           text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert topic_counts(app) == expected
    with app.engine.connect() as conn:
        indexed = conn.execute(text("SELECT count(*) FROM pathway_index")).scalar_one()
    assert indexed == len(path.read_text().splitlines()) - 1
    app.close()
