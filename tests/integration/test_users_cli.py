"""`guardian users add|token` and the demo users, as scripts and operators use them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ORGS = Path(__file__).resolve().parents[2] / "guardian" / "data" / "mse-orgs.csv"
GUARDIAN = [sys.executable, "-m", "guardian.cli"]


def run(url: str, *args: str, cwd: Path, stdin: str | None = None):
    env = {**os.environ, "GUARDIAN_DATABASE_URL": url, "GUARDIAN_VAR_DIR": str(cwd / "var")}
    return subprocess.run(
        [*GUARDIAN, *args], cwd=cwd, env=env, capture_output=True, text=True,
        input=stdin or "", timeout=120,
    )


def initialised(url: str, tmp_path: Path) -> str:
    """`guardian db init` and `guardian orgs load`, in-process (their CLI has its own tests)."""
    from guardian.bootstrap import build_app, init_database
    from guardian.config import Settings
    from guardian.orgs import load_orgs, read_org_file

    guardian = build_app(Settings(database_url=url, var_dir=tmp_path / "var"))
    try:
        init_database(guardian)
        load_orgs(guardian.engine, read_org_file(ORGS))
    finally:
        guardian.close()
    return url


@pytest.fixture
def db(database_url, tmp_path) -> str:
    return initialised(database_url, tmp_path)


@pytest.fixture
def sqlite_db(sqlite_url, tmp_path) -> str:
    """The checks of role and orgs do not depend on the backend: SQLite only, for speed."""
    return initialised(sqlite_url, tmp_path)


def test_add_a_user_with_a_generated_password_then_a_token(db, tmp_path):
    r = run(db, "users", "add", "--email", "Sam@Example.NHS.uk", "--role", "coordinator",
            "--org", "U90001", "--org", "u90002", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    body = json.loads(r.stdout)
    assert body["email"] == "sam@example.nhs.uk" and body["role"] == "coordinator"
    assert body["orgs"] == ["U90001", "U90002"] and len(body["password"]) >= 16

    again = run(db, "users", "add", "--email", "sam@example.nhs.uk", "--role", "gp",
                "--org", "Y90001", cwd=tmp_path)
    assert again.returncode == 1 and "already exists" in again.stderr

    token = run(db, "users", "token", "--email", "sam@example.nhs.uk", cwd=tmp_path)
    assert token.returncode == 0
    assert token.stdout.count("\n") == 1 and token.stdout.startswith("gdn_")
    as_json = run(db, "users", "token", "--email", "sam@example.nhs.uk", "--json", cwd=tmp_path)
    value = json.loads(as_json.stdout)["token"]
    assert value.startswith("gdn_") and value != token.stdout.strip()


def test_the_generated_password_is_printed_once_in_text(db, tmp_path):
    r = run(db, "users", "add", "--email", "admin2@example.test", "--role", "admin",
            cwd=tmp_path)
    assert r.returncode == 0
    assert "created admin admin2@example.test" in r.stdout
    assert "password (shown once): " in r.stdout


def test_a_password_from_standard_input_signs_in(db, tmp_path):
    r = run(db, "users", "add", "--email", "gp@example.test", "--role", "gp", "--org",
            "Y90001", "--password-stdin", "--json", cwd=tmp_path, stdin="a long passphrase\n")
    assert r.returncode == 0, r.stderr
    assert "password" not in json.loads(r.stdout)

    from guardian.bootstrap import build_app
    from guardian.config import Settings
    from guardian.users import authenticate

    guardian = build_app(Settings(database_url=db, var_dir=tmp_path / "var"))
    try:
        assert authenticate(guardian.engine, "gp@example.test", "a long passphrase").outcome \
            == "ok"
    finally:
        guardian.close()


@pytest.mark.parametrize(
    "args, message",
    [
        (("--role", "nurse"), "unknown role 'nurse'"),
        (("--role", "coordinator"), "needs at least one --org PCN code"),
        (("--role", "coordinator", "--org", "U99999"), "no PCN U99999"),
        (("--role", "coordinator", "--org", "Y90001"), "is not 'U' and 5 digits"),
        (("--role", "gp", "--org", "Y99999"), "no practice Y99999"),
        (("--role", "gp", "--org", "Y90001", "--org", "Y90002"), "exactly one --org"),
        (("--role", "place-lead", "--org", "Atlantis"), "no place 'Atlantis'"),
        (("--role", "admin", "--org", "U90001"), "an admin has no --org"),
    ],
)
def test_bad_roles_and_orgs_are_refused_naming_the_problem(sqlite_db, tmp_path, args,
                                                           message):
    r = run(sqlite_db, "users", "add", "--email", "x@example.test", *args, cwd=tmp_path)
    assert r.returncode == 1, r.stdout
    assert message in r.stderr and "Traceback" not in r.stderr
    from guardian.bootstrap import build_app
    from guardian.config import Settings
    from guardian.users import list_users

    guardian = build_app(Settings(database_url=sqlite_db, var_dir=tmp_path / "var"))
    try:
        assert list_users(guardian.engine) == []  # nothing half-written
    finally:
        guardian.close()


def test_other_failures_are_clear(sqlite_url, tmp_path):
    run(sqlite_url, "db", "init", cwd=tmp_path)
    empty = run(sqlite_url, "users", "add", "--email", "x@example.test", "--role", "gp",
                "--org", "Y90001", cwd=tmp_path)
    assert empty.returncode == 1 and "organisation reference is empty" in empty.stderr
    run(sqlite_url, "orgs", "load", str(ORGS), cwd=tmp_path)
    short = run(sqlite_url, "users", "add", "--email", "x@example.test", "--role", "admin",
                "--password-stdin", cwd=tmp_path, stdin="short\n")
    assert short.returncode == 1 and "at least 8 characters" in short.stderr
    none = run(sqlite_url, "users", "add", "--email", "x@example.test", "--role", "admin",
               "--password-stdin", cwd=tmp_path, stdin="")
    assert none.returncode == 1 and "no password on standard input" in none.stderr
    bad = run(sqlite_url, "users", "add", "--email", "not-an-address", "--role", "admin",
              cwd=tmp_path)
    assert bad.returncode == 1 and "is not an e-mail address" in bad.stderr
    unknown = run(sqlite_url, "users", "token", "--email", "nobody@example.test", cwd=tmp_path)
    assert unknown.returncode == 1 and "no user nobody@example.test" in unknown.stderr
    missing = run(sqlite_url, "users", "add", "--email", "x@example.test", cwd=tmp_path)
    assert missing.returncode == 2  # --role is required: a usage error


def test_demo_users_are_created_once_and_their_log_ins_written(database_url, tmp_path):
    assert run(database_url, "db", "init", cwd=tmp_path).returncode == 0
    first = run(database_url, "demo", "--patients", "20", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    logins = tmp_path / "var" / "demo-logins.txt"
    text = logins.read_text()
    password = next(line.split(":", 1)[1].strip() for line in text.splitlines()
                    if line.startswith("password:"))
    assert f"password: {password}" in first.stdout  # printed once, on creation
    assert oct(logins.stat().st_mode & 0o777) == "0o600"
    for email in ("coordinator@demo.invalid", "robin.coordinator@demo.invalid",
                  "gp@demo.invalid", "place-lead@demo.invalid", "admin@demo.invalid"):
        assert email in text

    second = run(database_url, "demo", "--patients", "20", "--json", cwd=tmp_path)
    assert second.returncode == 0
    assert json.loads(second.stdout)["demo_logins"] == str(logins)
    assert password not in second.stdout and logins.read_text() == text

    from guardian.bootstrap import build_app
    from guardian.config import Settings
    from guardian.users import authenticate, list_users

    guardian = build_app(Settings(database_url=database_url, var_dir=tmp_path / "var"))
    try:
        found = {u.email: u for u in list_users(guardian.engine)}
        assert len(found) == 5
        coordinator = found["coordinator@demo.invalid"]
        assert len(coordinator.orgs) == 2
        assert found["robin.coordinator@demo.invalid"].orgs == coordinator.orgs
        from guardian.orgs import all_practices

        practices = all_practices(guardian.engine).values()
        places = {p.place for p in practices if p.pcn_code in coordinator.orgs}
        assert len(places) == 1  # two PCNs of one place
        assert found["place-lead@demo.invalid"].orgs == tuple(places)
        gp_pcn = next(p.pcn_code for p in practices
                      if p.practice_code == found["gp@demo.invalid"].orgs[0])
        assert gp_pcn in coordinator.orgs
        assert found["admin@demo.invalid"].orgs == ()
        for email in found:
            assert authenticate(guardian.engine, email, password).outcome == "ok"
    finally:
        guardian.close()
