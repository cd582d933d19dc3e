"""Fixtures the notification tests share (docs/notifications.md): a real local SMTP server
(`mail`), Guardian wired to it with the demo's organisations and two coordinators (`app`,
notify_helpers.make_app), and argon2 at small costs for the accounts they make
(`cheap_hashes`, asked for by `pytestmark`). A module that defines its own `app` or `mail`
uses its own."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from notify_helpers import MailServer, make_app


@pytest.fixture
def cheap_hashes(monkeypatch):
    """argon2 with small costs: the accounts are made the same way, in a fraction of the time."""
    from guardian import users

    monkeypatch.setattr(users.passwords, "_hasher", PasswordHasher(
        time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def mail():
    server = MailServer().start()
    yield server
    server.stop()


@pytest.fixture
def app(database_url, tmp_path, mail):
    guardian = make_app(database_url, tmp_path, mail)
    yield guardian
    guardian.close()
