"""Credentials and the schema of the JSON API, on SQLite and PostgreSQL (docs/api.md): no, bad,
revoked or ended credentials are 401 on every route, a session works like a token, and the
OpenAPI schema documents every route's answers.
"""

from __future__ import annotations

import datetime as dt

import pytest
from api_helpers import HOME, NHS, row
from fastapi.testclient import TestClient
from sqlalchemy import update
from web_helpers import ACCOUNTS, csrf_of, sign_in

from guardian import users

# ---------------------------------------------------------------------------- credentials

ROUTES = [
    ("post", "/api/v1/referrals"),
    ("get", "/api/v1/referrals/API-1"),
    ("get", "/api/v1/worklists/U90001"),
    ("get", "/api/v1/reports/bottlenecks?place=Thurrock"),
]


def call(client: TestClient, method: str, path: str, headers=None):
    if method == "post":
        return client.post(path, json=row(NHS[30], "CRED-1", HOME), headers=headers or {})
    return client.get(path, headers=headers or {})


def test_no_or_bad_credentials_are_401(client, engine):
    revoked = users.create_token(engine, ACCOUNTS["admin"][0])
    users.revoke_token(engine, revoked)
    credentials = {
        "none": {}, "bad-token": {"Authorization": "Bearer gdn_not-a-real-token"},
        "revoked-token": {"Authorization": f"Bearer {revoked}"},
        "malformed": {"Authorization": "Basic YWRtaW46YWRtaW4="},
        "forged-cookie": {"Cookie": "guardian_session=forged.value"},
    }
    for method, path in ROUTES:
        for name, headers in credentials.items():
            r = call(client, method, path, headers)
            assert r.status_code == 401, (method, path, name)
            assert r.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("how", ["expired", "signed-out"])
def test_an_ended_session_is_401(client, engine, how):
    for method, path in ROUTES:
        role = "place-lead" if "reports" in path else "admin"
        sign_in(client, role)
        csrf = csrf_of(client)
        cookies = dict(client.cookies)
        if how == "expired":
            old = users.utcnow() - dt.timedelta(hours=13)
            with engine.begin() as conn:
                conn.execute(update(users.user_sessions).values(created_at=old,
                                                                last_seen_at=old))
        else:
            client.post("/sign-out", data={"csrf_token": csrf}, follow_redirects=False)
        api = TestClient(client.app, cookies=cookies)
        assert call(api, method, path, {"X-CSRF-Token": csrf}).status_code == 401, path


def test_a_session_works_like_a_token(seeded):
    sign_in(seeded, "gp")
    r = seeded.get("/api/v1/referrals/API-1")
    assert r.status_code == 200 and r.json()["patient"]["nhs_number"] == NHS[0]


# ---------------------------------------------------------------------------- OpenAPI


@pytest.mark.one_backend
def test_every_route_documents_its_answers(client):
    schema = client.get("/openapi.json").json()
    every = {"401", "403", "404", "413", "422", "429", "500"}  # answers.COMMON
    expected = {
        ("post", "/api/v1/referrals"): every | {"200", "201", "409", "415"},
        ("get", "/api/v1/referrals/{pathway_id}"): every | {"200", "409"},
        ("get", "/api/v1/worklists/{pcn_code}"): every | {"200"},
        ("get", "/api/v1/reports/bottlenecks"): every | {"200", "503"},
    }
    for (method, path), codes in expected.items():
        op = schema["paths"][path][method]
        assert set(op["responses"]) == codes, (method, path)
        assert op["summary"] and op["description"]
        assert all(answer["description"] for answer in op["responses"].values())
        assert op["security"] == [{"bearer": []}]
        ok = op["responses"]["201" if method == "post" else "200"]
        assert "$ref" in ok["content"]["application/json"]["schema"]
    components = schema["components"]["schemas"]
    assert {"ReferralRow", "ReferralWritten", "ReferralView", "WorklistPage",
            "BottleneckReport", "ValidationProblem", "AmbiguousPathway"} <= set(components)
    assert set(components["ReferralRow"]["required"]) >= {"nhs_number", "priority_type_code"}
    worklist = schema["paths"]["/api/v1/worklists/{pcn_code}"]["get"]
    names = {p["name"] for p in worklist["parameters"]}
    assert {"filter", "sort", "practice", "provider", "treatment_function", "priority",
            "stage", "after", "limit"} <= names
