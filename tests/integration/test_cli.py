"""The `guardian` command line as scripts use it: exit codes, one JSON object, clear errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
GUARDIAN = [sys.executable, "-m", "guardian.cli"]


def run(url: str, *args: str, cwd: Path, stdin: str | None = None):
    env = {**os.environ, "GUARDIAN_DATABASE_URL": url, "GUARDIAN_VAR_DIR": str(cwd / "var")}
    return subprocess.run(
        [*GUARDIAN, *args], cwd=cwd, env=env, capture_output=True, text=True, input=stdin,
        timeout=120,
    )


def test_the_documented_workflow(database_url, tmp_path):
    assert run(database_url, "db", "init", cwd=tmp_path).returncode == 0
    assert run(database_url, "db", "init", "--json", cwd=tmp_path).stdout.strip() == (
        '{"status": "ok"}'
    )
    loaded = run(database_url, "orgs", "load", str(EXAMPLES / "orgs-example.csv"), "--json",
                 cwd=tmp_path)
    assert json.loads(loaded.stdout) == {"practices": 3, "pcns": 2, "places": 2}

    shutil.copy(EXAMPLES / "ptl-example.csv", tmp_path / "ptl.csv")
    first = run(database_url, "import-ptl", "ptl.csv", "--as-of", "2026-03-31", "--json",
                cwd=tmp_path)
    assert first.returncode == 3, first.stderr
    body = json.loads(first.stdout)
    assert {k: body[k] for k in ("rows", "accepted", "unchanged", "rejected")} == {
        "rows": 10, "accepted": 7, "unchanged": 0, "rejected": 3
    }
    assert Path(tmp_path / body["errors_file"]).exists() or Path(body["errors_file"]).exists()

    again = run(database_url, "import-ptl", "ptl.csv", "--as-of", "2026-03-31", "--json",
                "--errors", str(tmp_path / "errs.csv"), cwd=tmp_path)
    assert json.loads(again.stdout)["unchanged"] == 7
    assert json.loads(again.stdout)["errors_file"] == str(tmp_path / "errs.csv")

    older = run(database_url, "import-ptl", "ptl.csv", "--as-of", "2026-03-01", cwd=tmp_path)
    assert older.returncode == 1 and "older than the last one" in older.stderr
    assert "Traceback" not in older.stderr


def test_a_clean_import_exits_0_with_null_errors_file(sqlite_url, tmp_path):
    run(sqlite_url, "db", "init", cwd=tmp_path)
    run(sqlite_url, "orgs", "load", str(EXAMPLES / "orgs-example.csv"), cwd=tmp_path)
    lines = (EXAMPLES / "ptl-example.csv").read_text().splitlines()[:8]
    (tmp_path / "good.csv").write_text("\n".join(lines) + "\n")
    r = run(sqlite_url, "import-ptl", "good.csv", "--as-of", "2026-03-31", "--json",
            cwd=tmp_path)
    assert r.returncode == 0
    assert json.loads(r.stdout)["errors_file"] is None
    assert not (tmp_path / "good.csv.errors.csv").exists()
    # a stale errors file from an earlier run of the same file is removed
    (tmp_path / "good.csv.errors.csv").write_text("line,column,reason\n2,,old\n")
    r = run(sqlite_url, "import-ptl", "good.csv", "--as-of", "2026-03-31", cwd=tmp_path)
    assert r.returncode == 0 and not (tmp_path / "good.csv.errors.csv").exists()


@pytest.mark.parametrize(
    "args, code, message",
    [
        (("import-ptl", "missing.csv"), 1, "no such file"),
        (("import-ptl", "x.csv", "--as-of", "31/03/2026"), 2, "YYYY-MM-DD"),
        (("orgs", "load", "missing.csv"), 1, "cannot read"),
        (("frobnicate",), 2, "No such command"),
    ],
)
def test_failures_name_the_problem(sqlite_url, tmp_path, args, code, message):
    run(sqlite_url, "db", "init", cwd=tmp_path)
    r = run(sqlite_url, *args, cwd=tmp_path)
    assert r.returncode == code
    assert message in r.stderr
    assert "Traceback" not in r.stderr


def test_an_uninitialised_database_is_named(sqlite_url, tmp_path):
    r = run(sqlite_url, "import-ptl", str(EXAMPLES / "ptl-example.csv"), cwd=tmp_path)
    assert r.returncode == 1
    assert "guardian db init" in r.stderr


def test_project_and_export_rtt_from_the_command_line(database_url, tmp_path):
    run(database_url, "db", "init", cwd=tmp_path)
    run(database_url, "orgs", "load", str(EXAMPLES / "orgs-example.csv"), cwd=tmp_path)
    shutil.copy(EXAMPLES / "ptl-example.csv", tmp_path / "ptl.csv")
    run(database_url, "import-ptl", "ptl.csv", "--as-of", "2026-03-31", cwd=tmp_path)
    # export brings the read models up to date itself
    r = run(database_url, "export", "rtt", "--as-of", "2026-03-31", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("Provider Org Code,Treatment Function Code,Gt 00 To 01 Weeks")
    assert lines[-1].startswith("RAJ,C_999,") and len(lines) == 8
    suppressed = run(database_url, "export", "rtt", "--as-of", "2026-03-31", "--suppress",
                     cwd=tmp_path)
    assert ",*," in suppressed.stdout
    projected = run(database_url, "project", "--json", cwd=tmp_path)
    body = json.loads(projected.stdout)
    assert body["processed"] == 0 and body["lag"]["worklist"]["events_behind"] == 0
    rebuilt = run(database_url, "project", "--rebuild", "--json", cwd=tmp_path)
    assert json.loads(rebuilt.stdout)["processed"] > 0
    one = run(database_url, "project", "--rebuild", "--read-models", "patient_search",
              "--processes", "1", "--json", cwd=tmp_path)
    assert set(json.loads(one.stdout)["lag"]) == {"patient_search"}, one.stderr
    wrong = run(database_url, "project", "--read-models", "worklist,nonsense", cwd=tmp_path)
    assert wrong.returncode == 2 and "unknown read model nonsense" in wrong.stderr
    assert "patient_search" in wrong.stderr
    assert run(database_url, "export", "rtt", "--as-of", "2026-03-31",
               cwd=tmp_path).stdout == r.stdout
    unknown = run(database_url, "export", "rtt", "--as-of", "2026-03-31", "--place", "Narnia",
                  cwd=tmp_path)
    assert unknown.returncode == 1 and "no place 'Narnia'" in unknown.stderr
    missing = run(database_url, "export", "rtt", cwd=tmp_path)
    assert missing.returncode == 2 and "--as-of" in missing.stderr


def imported_events(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM guardian_events")).scalar_one()
    finally:
        engine.dispose()


@pytest.mark.parametrize("errors", ["a-directory", "no-such-folder/e.csv"])
def test_an_unwritable_errors_path_exits_1_before_anything_is_imported(
        sqlite_url, tmp_path, errors):
    run(sqlite_url, "db", "init", cwd=tmp_path)
    run(sqlite_url, "orgs", "load", str(EXAMPLES / "orgs-example.csv"), cwd=tmp_path)
    (tmp_path / "a-directory").mkdir()
    r = run(sqlite_url, "import-ptl", str(EXAMPLES / "ptl-example.csv"), "--as-of",
            "2026-03-31", "--errors", str(tmp_path / errors), cwd=tmp_path)
    assert r.returncode == 1, r.stdout
    assert "errors file" in r.stderr and "Traceback" not in r.stderr
    assert imported_events(sqlite_url) == 0


def test_a_column_named_twice_exits_1_naming_it(sqlite_url, tmp_path):
    run(sqlite_url, "db", "init", cwd=tmp_path)
    lines = (EXAMPLES / "ptl-example.csv").read_text().splitlines()
    (tmp_path / "twice.csv").write_text(
        "\n".join([lines[0] + ",Nhs_Number", *(line + "," for line in lines[1:])]) + "\n")
    r = run(sqlite_url, "import-ptl", "twice.csv", "--as-of", "2026-03-31", cwd=tmp_path)
    assert r.returncode == 1
    assert "more than once" in r.stderr and "NHS_NUMBER" in r.stderr
    assert imported_events(sqlite_url) == 0
