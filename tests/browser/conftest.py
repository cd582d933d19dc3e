"""Fixtures for the browser tests: a live `guardian serve` on 127.0.0.1 and Debian's Chromium.

- ``live``: one store per test session (``guardian db init`` + ``guardian demo --patients
  600 --seed 3`` in a temporary directory), served by ``guardian serve`` as a subprocess on
  a free port, e-mailing a real local SMTP server (browser_servers.py). It waits for
  /healthz, for the start-up sweeps of the in-process scheduler and for the read models to
  catch up, so that nothing writes behind the tests' backs.
- ``chromium``: Playwright driving /usr/bin/chromium headless (never ``playwright
  install``). Without that binary, or without Playwright, the browser tests are skipped
  with the reason; ``make test`` installs Debian's chromium when tests/browser exists.
- ``signed_in(role)``: a new browser context (its own cookies) signed in as a demo user,
  returning the page on that role's home.

Screenshots for the README are written to tests/browser/screenshots/ (``shoot``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from browser_servers import HOMES, Live, MailSink, free_port, live_server, server_env

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic", "--disable-dev-shm-usage"]
SCREENSHOTS = Path(__file__).parent / "screenshots"
VIEWPORT = {"width": 1280, "height": 900}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist (``make test``), every browser test runs in the same worker
    (``--dist loadgroup``): they share one live server and one Chromium."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.xdist_group("browser"))


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    from aiosmtpd.controller import Controller

    root = tmp_path_factory.mktemp("guardian-live")
    sink = MailSink()
    smtp = Controller(sink, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        env = server_env(root, GUARDIAN_SMTP_URL=f"smtp://127.0.0.1:{smtp.port}")
        with live_server(root, env) as server:
            server.mail = sink.messages
            yield server
    finally:
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
