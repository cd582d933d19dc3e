"""Fixtures for the web tests: an initialised database with the organisation reference,
one user per role with a known password (web_helpers.ACCOUNTS)."""

from __future__ import annotations

import threading
import traceback
from contextlib import contextmanager
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import event
from web_helpers import ACCOUNTS, PASSWORD

from guardian import users
from guardian.bootstrap import build_app, init_database
from guardian.config import Settings
from guardian.orgs import load_orgs, read_org_file
from guardian.web.app import create_app

ORGS = Path(__file__).resolve().parents[2] / "guardian" / "data" / "mse-orgs.csv"


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch):
    """argon2 with small costs: the same code paths, a fraction of the time."""
    monkeypatch.setattr(users.passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024,
                                                                   parallelism=1))


@pytest.fixture
def settings(database_url, tmp_path) -> Settings:
    # Reports on threads of the app (GUARDIAN_REPORT_PROCESSES=0): a helper process per app
    # costs seconds to start; tests/web/test_report_pool.py tests the processes themselves.
    settings = Settings(database_url=database_url, var_dir=tmp_path / "var",
                        secret_key="test-secret-key", report_processes=False)
    guardian = build_app(settings)
    try:
        init_database(guardian)
        load_orgs(guardian.engine, read_org_file(ORGS))
        for role, (email, orgs) in ACCOUNTS.items():
            users.add_user(guardian.engine, email, role, orgs, PASSWORD)
    finally:
        guardian.close()
    return settings


@pytest.fixture
def app(settings):
    return create_app(settings, follow_events=False)


@pytest.fixture
def client(app):
    with TestClient(app) as c, one_connection_per_thread(c.app.state.guardian.engine):
        yield c


@contextmanager
def one_connection_per_thread(engine):
    """Fails the test if any thread checks out a second pooled connection while it holds
    one. Under load every thread holding one and waiting for another exhausts the pool
    (each request thread may count on exactly one: config.py, web_threads)."""
    held = threading.local()
    nested: list[str] = []

    def checkout(dbapi_conn, record, proxy):
        held.n = getattr(held, "n", 0) + 1
        if held.n > 1:
            nested.append("".join(traceback.format_stack(limit=14)))

    def checkin(dbapi_conn, record):
        held.n = max(0, getattr(held, "n", 0) - 1)

    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", checkin)
    try:
        yield
    finally:
        event.remove(engine, "checkout", checkout)
        event.remove(engine, "checkin", checkin)
    assert not nested, f"a second connection taken while holding one:\n{nested[0]}"


@pytest.fixture
def engine(client):
    return client.app.state.guardian.engine


@pytest.fixture
def demo(client):
    """The demo cohort (300 patients, seed 11) in the client's store, read models current."""
    from guardian.demo import load_demo

    guardian = client.app.state.guardian
    load_demo(guardian, patients=300, seed=11)
    client.app.state.runner.run_once()
    return guardian
