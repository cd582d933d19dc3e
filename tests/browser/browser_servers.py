"""The live servers of the browser tests (conftest.py's ``live``, and a second one where a
test needs other settings, e.g. NHS login in test_browser_patient_nhs_login.py):

- ``server_env(root, **settings)``: the environment of a store in ``root``, with further
  GUARDIAN_* settings;
- ``live_server(root, env, patients)``: ``guardian db init`` + ``guardian demo --patients N
  --seed 3``, then ``guardian serve`` on 127.0.0.1 as a subprocess, ready when /healthz
  answers, the start-up sweeps of its in-process scheduler have finished and the read models
  have caught up, so that nothing writes behind the tests' backs; stopped on leaving;
- ``Live``: what a test knows of one (its address, the demo's users, its store, read-only);
- ``MailSink``: a real SMTP server's handler (aiosmtpd) keeping what the server e-mails.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from live_server import run_guardian, stop

# A bigger store gives fuller reports in the screenshots (slower start-up): e.g.
# GUARDIAN_BROWSER_PATIENTS=4000 .venv/bin/pytest -q tests/browser
PATIENTS = int(os.environ.get("GUARDIAN_BROWSER_PATIENTS", "600"))
SEED = 3
START_TIMEOUT = 90.0  # seconds for the server, its start-up sweeps and the read models
HOMES = {"coordinator": "/worklist", "gp": "/gp", "place-lead": "/reports",
         "admin": "/admin/audit"}


@dataclass
class Live:
    """The running server and what the demo wrote about it."""

    base_url: str
    password: str
    db_path: Path
    log_path: Path
    emails: dict[str, str] = field(default_factory=dict)  # role → e-mail
    orgs: dict[str, list[str]] = field(default_factory=dict)  # role → PCN / practice codes
    mail: list = field(default_factory=list)  # what the server e-mailed (MailSink)

    def url(self, path: str) -> str:
        return self.base_url + path

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Read the server's SQLite store directly (read-only) to find test data."""
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _parse_logins(text: str) -> tuple[str, dict[str, str], dict[str, list[str]]]:
    """The demo-logins.txt file: the password line, then `role  e-mail  scope codes`."""
    found = re.search(r"^password:\s*(\S+)\s*$", text, re.M)
    if not found:
        pytest.fail(f"no password line in demo-logins.txt:\n{text}", pytrace=False)
    emails, orgs = {}, {}
    for line in text.splitlines():
        parts = line.split()
        # the first of each role (the demo has a second coordinator, a colleague)
        if len(parts) >= 2 and parts[0] in HOMES and "@" in parts[1] \
                and parts[0] not in emails:
            emails[parts[0]] = parts[1]
            orgs[parts[0]] = re.findall(r"\b[A-Z]\d{5}\b", " ".join(parts[2:]))
    return found.group(1), emails, orgs


def _health(base_url: str, token: str) -> dict | None:
    """/healthz as an admin sees it (anyone else gets the status and lag only)."""
    request = urllib.request.Request(base_url + "/healthz",
                                     headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as r:
            return json.loads(r.read())
    except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
        return None


def _settled(health: dict) -> bool:
    """The start-up sweeps have finished and every read model has caught up."""
    behind = [m.get("events_behind", 0) for m in (health.get("read_models") or {}).values()]
    if any(behind):
        return False
    jobs = health.get("scheduler") or {}
    return all(jobs.get(name) is None or jobs[name].get("finished_at")
               for name in ("check-waits", "check-ins"))


class MailSink:
    """A real SMTP server on 127.0.0.1 (aiosmtpd) keeping each message the server sends."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        import email
        import email.policy

        self.messages.append(email.message_from_bytes(envelope.content,
                                                      policy=email.policy.default))
        return "250 OK"


def server_env(root: Path, **settings: str) -> dict[str, str]:
    """The environment of a `guardian` run on a store in `root`; `settings` are further
    GUARDIAN_* variables, e.g. GUARDIAN_PATIENT_SIGN_IN="nhs-login"."""
    env = {**os.environ,
           "GUARDIAN_BASE_URL": "http://guardian.test",
           "GUARDIAN_DATABASE_URL": f"sqlite:///{root / 'guardian.sqlite'}",
           "GUARDIAN_VAR_DIR": str(root / "var"),
           "GUARDIAN_SECRET_KEY": "browser-tests-" + os.urandom(16).hex(),
           "PYTHONUNBUFFERED": "1", **settings}
    env.pop("GUARDIAN_STANDARDS_FILE", None)
    return env


@contextlib.contextmanager
def live_server(root: Path, env: dict[str, str], patients: int = PATIENTS,
                port: int | None = None) -> Iterator[Live]:
    """`guardian db init` + `guardian demo` in `root`, then `guardian serve` on `port` (a
    free one when not given), ready: /healthz answers, the start-up sweeps have finished
    and the read models have caught up. Stopped on leaving."""
    out = run_guardian(["db", "init"],
                       ["demo", "--patients", str(patients), "--seed", str(SEED)],
                       ["users", "token", "--email", "admin@demo.invalid", "--json"],
                       env=env, cwd=root)
    token = next(json.loads(line)["token"] for line in out.splitlines()
                 if line.startswith('{"token"'))
    password, emails, orgs = _parse_logins((root / "var" / "demo-logins.txt").read_text())

    port = port or free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = root / "serve.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "guardian.cli", "serve", "--host", "127.0.0.1",
             "--port", str(port)],
            env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = Live(base_url, password, root / "guardian.sqlite", log_path, emails, orgs)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"guardian serve exited with {proc.returncode}:\n"
                            f"{server.log_tail()}", pytrace=False)
            health = _health(base_url, token)
            if health and health.get("status") == "ok" and _settled(health):
                break
            if time.monotonic() > deadline:
                pytest.fail(f"guardian serve not ready in {START_TIMEOUT:.0f} s "
                            f"(last /healthz: {health}):\n{server.log_tail()}", pytrace=False)
            time.sleep(0.2)
        yield server
    finally:
        stop(proc)
