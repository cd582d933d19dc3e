"""Bad bodies and too many requests (docs/api.md "Answers every route may give", "Rate
limit"): a body over GUARDIAN_MAX_BODY_BYTES is 413 before anything parses it (declared or
streamed), a JSON route sent another type is 415, and more than
GUARDIAN_API_RATE_PER_MINUTE requests with one credential is 429 with Retry-After; other
credentials, and requests without valid ones, are not counted against it."""

from __future__ import annotations

import pytest
from api_helpers import bearer
from fastapi.testclient import TestClient
from web_helpers import csrf_of, sign_in

from guardian.web.app import create_app
from guardian.web.rate_limit import Buckets

pytestmark = pytest.mark.one_backend
LIMIT = 2048


@pytest.fixture
def strict(settings):
    tight = settings.model_copy(update={"api_rate_per_minute": 3, "max_body_bytes": LIMIT})
    with TestClient(create_app(tight, follow_events=False)) as c:
        yield c


def test_large_and_foreign_bodies(strict):
    engine = strict.app.state.guardian.engine
    token = bearer(engine, "coordinator")
    json_type = {**token, "Content-Type": "application/json"}
    r = strict.post("/api/v1/referrals", content=b"{" + b" " * LIMIT + b"}", headers=json_type)
    assert r.status_code == 413 and "larger than 2048 bytes" in r.json()["detail"]
    assert r.json()["request_id"] == r.headers["X-Request-ID"]

    def chunks():  # no Content-Length: counted as it is read
        for _ in range(4):
            yield b" " * 1000

    r = strict.post("/api/v1/referrals", content=chunks(), headers=json_type)
    assert r.status_code == 413 and r.json()["request_id"]
    page = strict.post("/sign-in", content=b"a=" + b"b" * LIMIT,
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert page.status_code == 413

    r = strict.post("/api/v1/referrals", content=b"nhs_number=1",
                    headers={**token, "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415 and "application/json" in r.json()["detail"]
    r = strict.post("/api/v1/referrals", content=b"{}", headers={**token,
                                                                 "Content-Type": "text/plain"})
    assert r.status_code == 415 and r.json()["request_id"]
    r = strict.post("/api/v1/referrals", content=b'{"nhs_number": "\xff\xfe"}',
                    headers=json_type)  # not UTF-8: bad input, not FastAPI's bare 400
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body"]
    ok = strict.post("/api/v1/referrals", content=b"{}",
                     headers={**token, "Content-Type": "application/json; charset=utf-8"})
    assert ok.status_code == 422  # JSON, but not a referral


def test_requests_a_minute_per_token_and_per_user(strict):
    engine = strict.app.state.guardian.engine
    first, second = bearer(engine, "coordinator"), bearer(engine, "coordinator")
    for _ in range(3):
        strict.get("/api/v1/worklists/U90001", headers={"Authorization": "Bearer wrong"})
        strict.get("/api/v1/worklists/U90001")  # 401s count against nobody
        assert strict.get("/api/v1/worklists/U90001", headers=first).status_code == 200
    r = strict.get("/api/v1/worklists/U90001", headers=first)
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) >= 1
    body = r.json()
    assert body["limit_per_minute"] == 3 and body["retry_after"] == int(r.headers["Retry-After"])
    assert body["request_id"] == r.headers["X-Request-ID"] and "3 requests" in body["detail"]
    assert strict.get("/api/v1/worklists/U90001", headers=second).status_code == 200

    assert sign_in(strict, "coordinator").status_code == 303  # a session: per user
    no_csrf = strict.post("/api/v1/inbox/read-all")  # refused before it is counted
    assert no_csrf.status_code == 403 and no_csrf.json()["request_id"]
    for _ in range(3):
        assert strict.get("/api/v1/worklists/U90001").status_code == 200
    assert strict.get("/api/v1/worklists/U90001").status_code == 429
    assert strict.get("/worklist?pcn=U90001").status_code == 200  # pages are not limited
    csrf = csrf_of(strict)
    assert strict.post("/api/v1/inbox/read-all", headers={"X-CSRF-Token": csrf}
                       ).status_code == 429


def test_the_bucket_refills_over_the_minute():
    now = [0.0]
    buckets = Buckets(60, clock=lambda: now[0])
    assert all(buckets.take("k") == 0 for _ in range(60))
    assert buckets.take("k") == pytest.approx(1.0)
    now[0] += 1.0
    assert buckets.take("k") == 0 and buckets.take("k") > 0
    assert Buckets(0).take("k") == 0  # 0: no limit


def test_fhir_reads_count_against_the_same_allowance(strict):
    """The FHIR routes share the API's credentials and so its limit; the 429 is an
    OperationOutcome (docs/fhir.md "Errors"). The public CapabilityStatement is not counted."""
    token = bearer(strict.app.state.guardian.engine, "coordinator")
    search = "/fhir/R4/ServiceRequest?identifier=https://fhir.nhs.uk/Id/nhs-number|9990000018"
    for _ in range(3):
        assert strict.get(search, headers=token).status_code == 200
        assert strict.get("/fhir/R4/metadata").status_code == 200
    r = strict.get(search, headers=token)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert r.json()["resourceType"] == "OperationOutcome"
    assert r.json()["issue"][0]["code"] == "throttled"
    assert strict.get("/fhir/R4/metadata").status_code == 200
