"""The web app of the foundation: /healthz and the start page (no patient data; whole-store
figures for admins only)."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from guardian.bootstrap import build_app, import_extract, init_database
from guardian.config import Settings
from guardian.domain.identifiers import format_nhs_number
from guardian.orgs import load_orgs, read_org_file
from guardian.web.app import create_app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def settings(database_url, tmp_path):
    settings = Settings(database_url=database_url, var_dir=tmp_path / "var")
    guardian = build_app(settings)
    init_database(guardian)
    load_orgs(guardian.engine, read_org_file(EXAMPLES / "orgs-example.csv"))
    shutil.copy(EXAMPLES / "ptl-example.csv", tmp_path / "ptl.csv")
    import_extract(guardian, tmp_path / "ptl.csv", dt.date(2026, 3, 31))
    guardian.close()
    return settings


@pytest.fixture
def admin(settings) -> dict[str, str]:
    """An admin's bearer token header, and a coordinator's."""
    from guardian import users

    guardian = build_app(settings)
    try:
        users.add_user(guardian.engine, "admin@example.test", "admin", [], "a long passphrase")
        users.add_user(guardian.engine, "sam@example.test", "coordinator", ["U99001"],
                       "a long passphrase")
        return {role: "Bearer " + users.create_token(guardian.engine, email)
                for role, email in (("admin", "admin@example.test"),
                                    ("coordinator", "sam@example.test"))}
    finally:
        guardian.close()


def test_healthz_answers_when_the_database_does(settings, admin):
    with TestClient(create_app(settings)) as client:
        anonymous = client.get("/healthz")
        coordinator = client.get("/healthz", headers={"Authorization": admin["coordinator"]})
        forged = client.get("/healthz", headers={"Authorization": "Bearer gdn_forged"})
        full = client.get("/healthz", headers={"Authorization": admin["admin"]})
    # Anyone: the status and each read model's lag, nothing about the store or its runners.
    for r in (anonymous, coordinator, forged):
        assert r.status_code == 200
        body = r.json()
        assert body["status"] == "ok" and set(body) == {"status", "read_models"}
        assert set(body["read_models"]["worklist"]) == {"events_behind", "seconds_behind"}
    # A signed-in admin: the whole picture.
    assert full.status_code == 200
    body = full.json()
    assert body["status"] == "ok" and body["events"] > 0
    assert {"database", "read_models", "scheduler"} <= set(body)
    assert "position" in body["read_models"]["worklist"]


def test_healthz_is_503_when_the_database_is_not_initialised(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path}/empty.sqlite")
    with TestClient(create_app(settings)) as client:
        r = client.get("/healthz")
    assert r.status_code == 503
    assert r.json()["status"] == "unavailable"


def test_the_start_page_shows_store_counts_to_admins_only(settings, admin):
    with TestClient(create_app(settings)) as client:
        anonymous = client.get("/")
        coordinator = client.get("/", headers={"Authorization": admin["coordinator"]})
        r = client.get("/", headers={"Authorization": admin["admin"]})
    for other in (anonymous, coordinator):
        assert other.status_code == 200 and "Guardian Service" in other.text
        assert "In this store" not in other.text and "Referral pathways" not in other.text
    assert r.status_code == 200
    html = r.text
    assert "Referral pathways" in html and ">7<" in html  # 7 pathways imported
    with open(EXAMPLES / "ptl-example.csv", newline="", encoding="utf-8") as f:
        first = next(csv.DictReader(f))
    nhs = first["NHS_NUMBER"]
    for shown in (nhs, format_nhs_number(nhs), first["PATIENT_PATHWAY_IDENTIFIER"]):
        assert shown not in html


@pytest.mark.one_backend
def test_security_headers_on_every_response(settings):
    with TestClient(create_app(settings)) as client:
        r = client.get("/")
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"]


def test_an_unexpected_error_shows_a_reference_not_a_traceback(settings, admin,
                                                               monkeypatch):
    import guardian.web.app as web

    def boom(_):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(web, "store_counts", boom)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        r = client.get("/", headers={"Authorization": admin["admin"]})
    assert r.status_code == 500
    assert "reference" in r.text and "secret internals" not in r.text
    assert "Traceback" not in r.text
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"
