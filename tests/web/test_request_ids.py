"""Request ids (docs/api.md "Request ids"): a well-formed incoming X-Request-ID is kept,
anything else replaced; every answer carries it, every JSON error body has it, the 500's
reference is it (JSON and page), and every log record made during the request carries it,
guardian's and uvicorn's alike. And compression: a large answer is gzipped when asked, a
small one is not."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from guardian.web import request_ids

pytestmark = pytest.mark.one_backend


@pytest.fixture
def noisy(app):
    """The app with routes that log and that fail."""

    def logs() -> dict[str, str]:
        logging.getLogger("guardian.web").warning("from guardian")
        logging.getLogger("uvicorn.error").warning("from uvicorn")
        return {"ok": "yes"}

    def fails() -> None:
        raise RuntimeError("boom")

    app.add_api_route("/api/v1/test-logs", logs)
    app.add_api_route("/api/v1/test-fails", fails)
    app.add_api_route("/test-fails", fails)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_ids_are_kept_or_made_and_in_every_error_body(noisy):
    r = noisy.get("/api/v1/worklists/U90001", headers={"X-Request-ID": "abc-DEF-12345"})
    assert r.status_code == 401
    assert r.headers["X-Request-ID"] == "abc-DEF-12345"
    assert r.json()["request_id"] == "abc-DEF-12345"
    for bad in ("short", "has space in it", "x" * 65, "semi;colon12"):
        r = noisy.get("/healthz", headers={"X-Request-ID": bad})
        made = r.headers["X-Request-ID"]
        assert made != bad and request_ids.WELL_FORMED.fullmatch(made)
    assert noisy.get("/api/v1/nothing-here").json()["request_id"]
    r = noisy.get("/api/v1/worklists/U90001", headers={"Authorization": "Bearer nope"})
    assert r.json()["request_id"] == r.headers["X-Request-ID"]
    r = noisy.get("/api/v1/patients?q=%00", headers={"X-Request-ID": "query-check-1"})
    assert r.status_code == 422 and r.json()["request_id"] == "query-check-1"


def test_the_500_reference_is_the_request_id(noisy, caplog):
    r = noisy.get("/api/v1/test-fails", headers={"X-Request-ID": "failing-call-1"})
    assert r.status_code == 500
    assert r.json() == {"detail": "internal error", "reference": "failing-call-1",
                        "request_id": "failing-call-1"}
    assert r.headers["X-Request-ID"] == "failing-call-1"
    page = noisy.get("/test-fails", headers={"X-Request-ID": "failing-page-1"})
    assert page.status_code == 500 and "failing-page-1" in page.text
    missing = noisy.get("/no-such-page", headers={"X-Request-ID": "missing-page-1"})
    assert missing.status_code == 404 and "reference: <span class=\"guardian-reference\">" \
        "missing-page-1</span>" in missing.text
    logged = [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert {rec.request_id for rec in logged} >= {"failing-call-1", "failing-page-1"}


def test_every_log_record_carries_the_request_id(noisy, caplog):
    caplog.set_level(logging.INFO)
    r = noisy.get("/api/v1/test-logs", headers={"X-Request-ID": "logging-call-1"})
    assert r.status_code == 200
    mine = {rec.name: rec.request_id for rec in caplog.records
            if rec.getMessage().startswith("from ")}
    assert mine == {"guardian.web": "logging-call-1", "uvicorn.error": "logging-call-1"}
    outside = logging.getLogger("guardian").makeRecord("guardian", logging.INFO, "x", 1,
                                                       "outside", (), None)
    assert outside.request_id == "-"


def test_serve_log_lines_carry_the_request_id():
    config = request_ids.uvicorn_log_config()
    assert "%(request_id)s" in config["formatters"]["access"]["fmt"]
    assert "%(request_id)s" in config["formatters"]["guardian"]["format"]  # every other
    assert config["root"]["handlers"] == ["guardian"]
    assert all(h["filters"] == ["request_id"] for h in config["handlers"].values())


def test_large_answers_are_compressed_small_ones_not(client):
    big = client.get("/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert len(big.content) > 1024 and big.headers["content-encoding"] == "gzip"
    small = client.get("/api/v1/worklists/U90001", headers={"Accept-Encoding": "gzip"})
    assert small.status_code == 401 and "content-encoding" not in small.headers
    plain = client.get("/openapi.json", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
