"""Fixtures for the browser tests: a live `guardian serve` on 127.0.0.1 and Debian's Chromium.

- ``live``: one store per test session (``guardian db init`` + ``guardian demo --patients
  600 --seed 3`` in a temporary directory), served by ``guardian serve`` as a subprocess on
  a free port. It waits for /healthz, for the start-up sweeps of the in-process scheduler
  and for the read models to catch up, so that nothing writes behind the tests' backs.
- ``chromium``: Playwright driving /usr/bin/chromium headless (never ``playwright
  install``). Without that binary, or without Playwright, the browser tests are skipped
  with the reason; ``make test`` installs Debian's chromium when tests/browser exists.
- ``signed_in(role)``: a new browser context (its own cookies) signed in as a demo user,
  returning the page on that role's home.

Screenshots for the README are written to tests/browser/screenshots/ (``shoot``).
"""

from __future__ import annotations

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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from live_server import run_guardian, stop

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic", "--disable-dev-shm-usage"]
SCREENSHOTS = Path(__file__).parent / "screenshots"
VIEWPORT = {"width": 1280, "height": 900}
# A bigger store gives fuller reports in the screenshots (slower start-up): e.g.
# GUARDIAN_BROWSER_PATIENTS=4000 .venv/bin/pytest -q tests/browser
PATIENTS = int(os.environ.get("GUARDIAN_BROWSER_PATIENTS", "600"))
SEED = 3
START_TIMEOUT = 90.0  # seconds for the server, its start-up sweeps and the read models
HOMES = {"coordinator": "/worklist", "gp": "/gp", "place-lead": "/reports",
         "admin": "/admin/audit"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist (``make test``), every browser test runs in the same worker
    (``--dist loadgroup``): they share one live server and one Chromium."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.xdist_group("browser"))


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


def _free_port() -> int:
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


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    from aiosmtpd.controller import Controller

    root = tmp_path_factory.mktemp("guardian-live")
    db_path = root / "guardian.sqlite"
    sink = MailSink()
    smtp = Controller(sink, hostname="127.0.0.1", port=_free_port())
    smtp.start()
    env = {**os.environ,
           "GUARDIAN_SMTP_URL": f"smtp://127.0.0.1:{smtp.port}",
           "GUARDIAN_BASE_URL": "http://guardian.test",
           "GUARDIAN_DATABASE_URL": f"sqlite:///{db_path}",
           "GUARDIAN_VAR_DIR": str(root / "var"),
           "GUARDIAN_SECRET_KEY": "browser-tests-" + os.urandom(16).hex(),
           "PYTHONUNBUFFERED": "1"}
    env.pop("GUARDIAN_STANDARDS_FILE", None)
    out = run_guardian(["db", "init"],
                       ["demo", "--patients", str(PATIENTS), "--seed", str(SEED)],
                       ["users", "token", "--email", "admin@demo.invalid", "--json"],
                       env=env, cwd=root)
    token = next(json.loads(line)["token"] for line in out.splitlines()
                 if line.startswith('{"token"'))
    password, emails, orgs = _parse_logins((root / "var" / "demo-logins.txt").read_text())

    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = root / "serve.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "guardian.cli", "serve", "--host", "127.0.0.1",
             "--port", str(port)],
            env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = Live(base_url, password, db_path, log_path, emails, orgs, sink.messages)
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
        smtp.stop()


@pytest.fixture(scope="session")
def chromium() -> Iterator:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (`make chromium`, "
                    "run by `make test`) to run the browser tests")
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="Playwright for Python is not installed")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def new_context(chromium, live) -> Iterator[Callable]:
    """Fresh browser contexts (separate cookie jars), closed after the test."""
    made = []

    def make(width: int | None = None):
        viewport = VIEWPORT if width is None else {"width": width, "height": 900}
        context = chromium.new_context(base_url=live.base_url, viewport=viewport,
                                       locale="en-GB", timezone_id="Europe/London")
        context.set_default_timeout(15_000)
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()


@pytest.fixture
def signed_in(new_context, live) -> Callable:
    """signed_in("gp") → a page in a new context, signed in, on the role's home page;
    signed_in("gp", width=390) → the same on a phone-sized viewport (1366: a desktop)."""
    from playwright.sync_api import expect

    def sign_in(role: str, page=None, width: int | None = None):
        page = page or new_context(width).new_page()
        page.goto("/sign-in")
        page.fill("#email", live.emails[role])
        page.fill("#password", live.password)
        with page.expect_navigation():
            page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(live.url(HOMES[role]) if role in HOMES else re.compile("."))
        expect(page.locator("header")).to_contain_text(live.emails[role])
        return page

    return sign_in


@pytest.fixture(scope="session")
def shoot(tmp_path_factory) -> Callable:
    """shoot(page, "02-worklist"): a full-page PNG. Into tests/browser/screenshots/ (the
    README's) with GUARDIAN_SCREENSHOTS=1, else into a temporary directory, so that a test
    run leaves the checked-in images alone."""
    folder = SCREENSHOTS if os.environ.get("GUARDIAN_SCREENSHOTS") == "1" else \
        tmp_path_factory.mktemp("screenshots")
    folder.mkdir(exist_ok=True)

    def save(page, name: str) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True, animations="disabled")
        return path

    return save
