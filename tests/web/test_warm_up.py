"""A web worker's warm-up (guardian/web/warm.py): before the first request every page
template is compiled and the names are read; switched off, neither happens until asked."""

from __future__ import annotations

from fastapi.testclient import TestClient

from guardian.bootstrap import build_app, init_database
from guardian.config import Settings
from guardian.web.app import create_app


def app_for(tmp_path, warm: bool):
    url = f"sqlite:///{tmp_path / 'guardian.sqlite'}"
    settings = Settings(database_url=url, var_dir=tmp_path, secret_key="warm",
                        report_processes=False, web_warm_up=warm)
    store = build_app(settings)
    init_database(store)
    store.close()
    return create_app(settings, follow_events=False)


def compiled(app) -> set[str]:
    """The templates the app's Jinja environment has compiled so far."""
    cache = app.state.templates.env.cache
    keys = cache.keys() if cache else []  # (loader, name) pairs
    return {key[1] for key in keys}


def test_a_warmed_worker_has_compiled_every_page_and_read_the_names(tmp_path):
    app = app_for(tmp_path, warm=True)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        names = set(compiled(app))
        assert {"worklist.html", "patient.html", "my_referral.html", "search.html"} <= names
        assert getattr(app.state, "names_cache", None) is not None


def test_switched_off_nothing_is_compiled_before_it_is_asked_for(tmp_path):
    app = app_for(tmp_path, warm=False)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        assert "patient.html" not in compiled(app)
        assert getattr(app.state, "names_cache", None) is None


def test_a_database_not_answering_does_not_stop_the_worker_starting(tmp_path, caplog):
    app = app_for(tmp_path, warm=True)
    (tmp_path / "guardian.sqlite").unlink()
    (tmp_path / "guardian.sqlite").mkdir()  # no database can be opened there
    with TestClient(app):
        assert "patient.html" in compiled(app)
    assert "the names could not be read" in caplog.text
