"""`guardian users add|token` and the demo users, as scripts and operators use them."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

ORGS = Path(__file__).resolve().parents[2] / "guardian" / "data" / "mse-orgs.csv"


def run(url: str, *args: str, cwd: Path, stdin: str | None = None):
    """The command in this process (typer's runner: exit code, standard output and error
    as a script sees them); tests/integration/test_cli.py runs real processes."""
    from typer.testing import CliRunner

    from guardian.cli import app

    env = {"GUARDIAN_DATABASE_URL": url, "GUARDIAN_VAR_DIR": str(cwd / "var")}
    result = CliRunner().invoke(app, list(args), env=env, input=stdin or "")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return SimpleNamespace(returncode=result.exit_code, stdout=result.stdout,
                           stderr=result.stderr)


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


def test_a_display_name_is_optional_and_shown_in_the_list(sqlite_db, tmp_path):
    named = run(sqlite_db, "users", "add", "--email", "sam.t@example.test", "--role",
                "coordinator", "--org", "U90001", "--name", "  Sam   O'Brien-Taylor ",
                "--json", cwd=tmp_path)
    assert named.returncode == 0, named.stderr
    assert json.loads(named.stdout)["display_name"] == "Sam O'Brien-Taylor"
    plain = run(sqlite_db, "users", "add", "--email", "robin.lee@example.test", "--role",
                "admin", cwd=tmp_path)
    assert plain.returncode == 0 and "created admin robin.lee@example.test" in plain.stdout
    text = run(sqlite_db, "users", "list", cwd=tmp_path).stdout
    assert "Sam O'Brien-Taylor" in text and "Robin Lee" in text  # made from the address
    listed = json.loads(run(sqlite_db, "users", "list", "--json", cwd=tmp_path).stdout)
    names = {u["email"]: u["display_name"] for u in listed["users"]}
    assert names == {"sam.t@example.test": "Sam O'Brien-Taylor", "robin.lee@example.test": None}
    too_long = run(sqlite_db, "users", "add", "--email", "x@example.test", "--role", "admin",
                   "--name", "x" * 121, cwd=tmp_path)
    assert too_long.returncode == 1 and "at most 120 characters" in too_long.stderr

    from guardian import audit
    from guardian.users import display_names

    guardian = engine_of(sqlite_db, tmp_path)
    try:
        assert display_names(guardian.engine) == {
            "sam.t@example.test": "Sam O'Brien-Taylor", "robin.lee@example.test": "Robin Lee"}
        entry, = audit.entries(guardian.engine, email="sam.t@example.test", action="add-user")
        assert entry.detail == "orgs: U90001; name: Sam O'Brien-Taylor"
    finally:
        guardian.close()


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
    assert bad.returncode == 1 and "is not an email address" in bad.stderr
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
        assert found["coordinator@demo.invalid"].name == "Sam Taylor"
        assert len({u.name for u in found.values()}) == 5  # everyone has their own name
    finally:
        guardian.close()


# ---------------------------------------------------------------------------- life cycle


def engine_of(url: str, tmp_path: Path):
    from guardian.bootstrap import build_app
    from guardian.config import Settings

    return build_app(Settings(database_url=url, var_dir=tmp_path / "var"))


def test_an_account_life_cycle_from_the_command_line(sqlite_db, tmp_path):
    """add → token → list → disable (sessions and tokens end) → enable → reset-password →
    revoke-token, each answering one JSON object and each audited."""
    # SQLite only (a process per command): the same account changes run on both backends
    # in tests/web/test_accounts.py
    db = sqlite_db
    from guardian import audit, users

    for email, role in (("boss@example.test", "admin"), ("sam@example.test", "coordinator")):
        args = ["--org", "U90001"] if role == "coordinator" else []
        assert run(db, "users", "add", "--email", email, "--role", role, *args,
                   cwd=tmp_path).returncode == 0
    token = run(db, "users", "token", "--email", "sam@example.test", cwd=tmp_path)
    token = token.stdout.strip()
    guardian = engine_of(db, tmp_path)
    try:
        user = users.find_user(guardian.engine, "sam@example.test")
        users.start_session(guardian.engine, user)

        listed = run(db, "users", "list", "--json", cwd=tmp_path)
        assert listed.returncode == 0, listed.stderr
        found = {u["email"]: u for u in json.loads(listed.stdout)["users"]}
        assert found["sam@example.test"] | {"created_at": None} == {
            "email": "sam@example.test", "display_name": None, "role": "coordinator",
            "orgs": ["U90001"], "enabled": True, "created_at": None, "last_sign_in": None,
            "tokens": 1, "sessions": 1, "last_token_use": None}
        text = run(db, "users", "list", cwd=tmp_path).stdout
        assert "sam@example.test" in text and "coordinator" in text and "U90001" in text

        disabled = run(db, "users", "disable", "--email", "Sam@Example.test", "--json",
                       cwd=tmp_path)
        assert disabled.returncode == 0, disabled.stderr
        assert json.loads(disabled.stdout) == {
            "email": "sam@example.test", "changed": True, "sessions_ended": 1,
            "tokens_revoked": 1, "enabled": False}
        assert users.user_for_token(guardian.engine, token) is None
        assert users.authenticate(guardian.engine, "sam@example.test", "x" * 10).outcome \
            == "bad"
        again = run(db, "users", "disable", "--email", "sam@example.test", cwd=tmp_path)
        assert again.returncode == 0 and "already disabled" in again.stdout

        enabled = run(db, "users", "enable", "--email", "sam@example.test", "--json",
                      cwd=tmp_path)
        assert json.loads(enabled.stdout) == {"email": "sam@example.test", "changed": True,
                                              "enabled": True}

        reset = run(db, "users", "reset-password", "--email", "sam@example.test",
                    "--password-stdin", "--json", cwd=tmp_path, stdin="a new passphrase\n")
        assert reset.returncode == 0, reset.stderr
        assert "password" not in json.loads(reset.stdout)
        assert users.authenticate(guardian.engine, "sam@example.test",
                                  "a new passphrase").outcome == "ok"
        generated = run(db, "users", "reset-password", "--email", "sam@example.test",
                        cwd=tmp_path)
        assert "password (shown once): " in generated.stdout

        first = run(db, "users", "token", "--email", "sam@example.test", cwd=tmp_path)
        run(db, "users", "token", "--email", "sam@example.test", cwd=tmp_path)
        one = run(db, "users", "revoke-token", "--email", "sam@example.test",
                  "--token-stdin", "--json", cwd=tmp_path, stdin=first.stdout)
        assert json.loads(one.stdout) == {"email": "sam@example.test", "tokens_revoked": 1}
        assert users.user_for_token(guardian.engine, first.stdout.strip()) is None
        every = run(db, "users", "revoke-token", "--email", "sam@example.test", "--all",
                    "--json", cwd=tmp_path)
        assert json.loads(every.stdout)["tokens_revoked"] == 1

        actions = [e.action for e in audit.entries(guardian.engine, email="sam@example.test")
                   if not e.action.startswith("sign-in")]
        assert actions[::-1] == [
            "add-user", "create-token", "disable-user", "enable-user", "reset-password",
            "reset-password", "create-token", "create-token", "revoke-token", "revoke-token"]
        entry = audit.entries(guardian.engine, action="disable-user")[0]
        assert entry.client == "cli" and "guardian users disable (run by " in entry.user_agent
    finally:
        guardian.close()


def test_account_changes_refused_with_a_reason(sqlite_db, tmp_path):
    assert run(sqlite_db, "users", "add", "--email", "boss@example.test", "--role", "admin",
               cwd=tmp_path).returncode == 0
    last = run(sqlite_db, "users", "disable", "--email", "boss@example.test", cwd=tmp_path)
    assert last.returncode == 1
    assert "boss@example.test is the last enabled admin" in last.stderr
    assert last.stdout == "" and "Traceback" not in last.stderr
    for args in (("disable",), ("enable",), ("reset-password",), ("revoke-token", "--all")):
        r = run(sqlite_db, "users", *args, "--email", "nobody@example.test", cwd=tmp_path)
        assert r.returncode == 1 and "no user nobody@example.test" in r.stderr, args
    none = run(sqlite_db, "users", "revoke-token", "--email", "boss@example.test",
               cwd=tmp_path)
    assert none.returncode == 1 and "has no live token" in none.stderr
    for _ in range(2):
        run(sqlite_db, "users", "token", "--email", "boss@example.test", cwd=tmp_path)
    which = run(sqlite_db, "users", "revoke-token", "--email", "boss@example.test",
                cwd=tmp_path)
    assert which.returncode == 1 and "has 2 live tokens" in which.stderr
    empty = run(sqlite_db, "users", "revoke-token", "--email", "boss@example.test",
                "--token-stdin", cwd=tmp_path, stdin="")
    assert empty.returncode == 1 and "no token on standard input" in empty.stderr
    stranger = run(sqlite_db, "users", "revoke-token", "--email", "boss@example.test",
                   "--token-stdin", cwd=tmp_path, stdin="gdn_not-theirs\n")
    assert stranger.returncode == 1 and "not a token of boss@example.test" in stranger.stderr
    short = run(sqlite_db, "users", "reset-password", "--email", "boss@example.test",
                "--password-stdin", cwd=tmp_path, stdin="short\n")
    assert short.returncode == 1 and "at least 8 characters" in short.stderr
    usage = run(sqlite_db, "users", "disable", cwd=tmp_path)
    assert usage.returncode == 2  # --email is required
    both = run(sqlite_db, "users", "revoke-token", "--email", "boss@example.test", "--all",
               "--token-stdin", cwd=tmp_path)
    assert both.returncode == 2 and "not both" in both.stderr


def test_tokens_expire_after_guardian_token_days(sqlite_db, tmp_path, monkeypatch):
    from sqlalchemy import select

    from guardian import users

    run(sqlite_db, "users", "add", "--email", "boss@example.test", "--role", "admin",
        cwd=tmp_path)
    monkeypatch.setenv("GUARDIAN_TOKEN_DAYS", "7")
    assert run(sqlite_db, "users", "token", "--email", "boss@example.test",
               cwd=tmp_path).returncode == 0
    monkeypatch.setenv("GUARDIAN_TOKEN_DAYS", "0")
    bad = run(sqlite_db, "users", "token", "--email", "boss@example.test", cwd=tmp_path)
    assert bad.returncode == 1 and "GUARDIAN_TOKEN_DAYS must be 1 to 3650" in bad.stderr
    monkeypatch.delenv("GUARDIAN_TOKEN_DAYS")
    guardian = engine_of(sqlite_db, tmp_path)
    try:
        with guardian.engine.connect() as conn:
            row = conn.execute(select(users.api_tokens)).one()
        life = users.aware(row.expires_at) - users.aware(row.created_at)
        assert life.days == 7
    finally:
        guardian.close()


def test_users_change_sets_role_orgs_and_name_and_keeps_the_last_admin(sqlite_db, tmp_path):
    assert run(sqlite_db, "users", "add", "--email", "boss@example.test", "--role", "admin",
               cwd=tmp_path).returncode == 0
    assert run(sqlite_db, "users", "add", "--email", "kim@example.test", "--role",
               "coordinator", "--org", "U90001", cwd=tmp_path).returncode == 0
    named = run(sqlite_db, "users", "change", "--email", "kim@example.test", "--name",
                "Kim Lee", "--json", cwd=tmp_path)
    assert named.returncode == 0, named.stderr
    assert json.loads(named.stdout) == {
        "email": "kim@example.test", "changed": True, "role": "coordinator",
        "orgs": ["U90001"], "display_name": "Kim Lee"}
    moved = run(sqlite_db, "users", "change", "--email", "kim@example.test", "--role", "gp",
                "--org", "Y90013", cwd=tmp_path)
    assert moved.returncode == 0 and "changed kim@example.test: Kim Lee, gp (Y90013)" \
        in moved.stdout
    no_org = run(sqlite_db, "users", "change", "--email", "kim@example.test", "--role",
                 "place-lead", cwd=tmp_path)
    assert no_org.returncode == 1 and "exactly one --org" in no_org.stderr
    last = run(sqlite_db, "users", "change", "--email", "boss@example.test", "--role", "gp",
               "--org", "Y90001", cwd=tmp_path)
    assert last.returncode == 1 and "last enabled admin" in last.stderr
    same = run(sqlite_db, "users", "change", "--email", "kim@example.test", "--name",
               "Kim Lee", cwd=tmp_path)
    assert same.returncode == 0 and "nothing changed" in same.stdout

    from guardian import audit

    guardian = engine_of(sqlite_db, tmp_path)
    try:
        details = [e.detail for e in audit.entries(guardian.engine, action="change-user")]
        assert details == ["role: coordinator → gp; orgs: U90001 → Y90013",
                           "name: none → Kim Lee"]
        assert audit.entries(guardian.engine, action="change-user")[0].client == "cli"
    finally:
        guardian.close()
