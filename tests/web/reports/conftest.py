"""Fixtures of the place report tests: one SQLite store with the demo loaded once for the
whole folder (`demo_settings`), and a client of an app on it (`demo`).
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from report_helpers import prepare

from guardian.config import Settings
from guardian.web.app import create_app


@pytest.fixture(scope="package")
def demo_settings(tmp_path_factory) -> Settings:
    """One SQLite store with 600 demo patients for every report test here."""
    where = tmp_path_factory.mktemp("reports")
    settings = Settings(database_url=f"sqlite:///{where / 'guardian.sqlite'}",
                        var_dir=where / "var", secret_key="test-secret-key")
    prepare(settings, patients=600, seed=21)
    return settings


@pytest.fixture
def demo(demo_settings):
    with TestClient(create_app(demo_settings, follow_events=False)) as c:
        yield c
