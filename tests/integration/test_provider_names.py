"""Provider names (`guardian orgs load` with a PROVIDER_CODE,PROVIDER_NAME file): a good file
loads and updates, a bad header or bad rows refuse the whole file naming each problem, and
`guardian db init` adds the shipped names without overwriting a loaded one (docs/formats.md
"Provider names")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from guardian.orgs import (
    PROVIDERS_FILE,
    OrgFileError,
    is_providers_file,
    load_providers,
    read_providers_file,
)
from guardian.store import providers

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "providers.csv"
    path.write_text(text, encoding="utf-8")
    return path


def names(engine) -> dict[str, str]:
    with engine.connect() as conn:
        q = select(providers.c.provider_code, providers.c.provider_name)
        return {code: name for code, name in conn.execute(q)}


def test_a_good_file_is_read_in_any_column_order_and_case(tmp_path):
    bhr = "Barking, Havering and Redbridge University Hospitals NHS Trust"
    path = write(tmp_path, "\ufeffprovider_name,Provider_Code,NOTE\n"
                           "Mid and South Essex NHS Foundation Trust, raj ,x\n\n"
                           f'"{bhr}",RF4,\n')
    assert is_providers_file(path)
    found = {p.provider_code: p.provider_name for p in read_providers_file(path)}
    assert found == {"RAJ": "Mid and South Essex NHS Foundation Trust",
                     "RF4": bhr}


def test_the_practice_file_is_not_a_providers_file():
    assert not is_providers_file(EXAMPLES / "orgs-example.csv")
    assert is_providers_file(EXAMPLES / "providers-example.csv")


def test_a_bad_header_is_named(tmp_path):
    with pytest.raises(OrgFileError, match="missing column\\(s\\) PROVIDER_NAME"):
        read_providers_file(write(tmp_path, "PROVIDER_CODE,NAME\nRAJ,Trust\n"))
    with pytest.raises(OrgFileError, match="the file is empty"):
        read_providers_file(write(tmp_path, ""))


def test_bad_rows_refuse_the_whole_file_each_named_by_line(tmp_path):
    path = write(tmp_path, "PROVIDER_CODE,PROVIDER_NAME\n"
                           "RAJ,Mid and South Essex NHS Foundation Trust\n"
                           "R-1,Bad code\n"
                           "RQW,\n"
                           "RDE,East Suffolk,extra\n"
                           "RAJ,Again\n")
    with pytest.raises(OrgFileError) as refused:
        read_providers_file(path)
    message = str(refused.value)
    assert "nothing loaded" in message
    assert "line 3: provider code 'R-1' is not an ODS code" in message
    assert "line 4: PROVIDER_NAME is empty" in message
    assert "line 5: 3 fields, header has 2" in message
    assert "line 6: provider RAJ appears twice" in message


def test_the_shipped_file_names_every_provider_the_demo_reports():
    from guardian.demo.cohort import PROVIDERS

    shipped = {p.provider_code: p.provider_name for p in read_providers_file(PROVIDERS_FILE)}
    assert shipped["RAJ"] == "Mid and South Essex NHS Foundation Trust"
    assert set(PROVIDERS.values) <= set(shipped)


def test_loading_inserts_then_updates_and_db_init_only_adds_missing(database_url, tmp_path):
    from guardian.bootstrap import build_app, init_database
    from guardian.config import Settings

    app = build_app(Settings(database_url=database_url, var_dir=tmp_path / "var"))
    try:
        init_database(app)
        shipped = names(app.engine)
        assert shipped["RAJ"] == "Mid and South Essex NHS Foundation Trust"
        assert shipped["RPY"] == "The Royal Marsden NHS Foundation Trust"
        path = write(tmp_path, "PROVIDER_CODE,PROVIDER_NAME\nRAJ,MSE renamed\nZZ1,New Trust\n")
        assert load_providers(app.engine, read_providers_file(path)) == 2
        after = names(app.engine)
        assert after["RAJ"] == "MSE renamed" and after["ZZ1"] == "New Trust"
        assert after["RQW"] == shipped["RQW"]  # providers missing from the file are kept
        init_database(app)  # idempotent: keeps the loaded name
        assert names(app.engine)["RAJ"] == "MSE renamed"
    finally:
        app.close()


def test_the_command_loads_a_providers_file_and_refuses_a_bad_one(sqlite_url, tmp_path):
    env = {**os.environ, "GUARDIAN_DATABASE_URL": sqlite_url,
           "GUARDIAN_VAR_DIR": str(tmp_path / "var")}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "guardian.cli", *args], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=120)

    assert run("db", "init").returncode == 0
    loaded = run("orgs", "load", str(EXAMPLES / "providers-example.csv"), "--json")
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout) == {"providers": 3}
    bad = write(tmp_path, "PROVIDER_CODE,PROVIDER_NAME\nRAJ,\n")
    refused = run("orgs", "load", str(bad))
    assert refused.returncode == 1
    assert "line 2: PROVIDER_NAME is empty" in refused.stderr
    assert "Traceback" not in refused.stderr
