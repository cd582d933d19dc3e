"""The audit log and a GP practice's overview through the JSON API (docs/api.md): the
admin page's and the GP page's own listings, with the same filters, paging, scope and
audit entries; 404 for a role they are not for, 422 naming the parameter."""

from __future__ import annotations

import pytest
from api_helpers import NEIGHBOUR, entries
from web_helpers import ACCOUNTS, referred_patient

pytestmark = pytest.mark.one_backend
AUDIT = "/api/v1/admin/audit"


def test_the_audit_log_filtered_and_paged(client, tokens):
    guardian = client.app.state.guardian
    pid, _ = referred_patient(guardian, "AUD-1")
    for _ in range(2):
        client.get(f"/api/v1/patients/{pid}", headers=tokens["coordinator"])
    admin = tokens["admin"]
    r = client.get(AUDIT, headers=admin, params={"patient": pid, "action": "view-patient"})
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    found = r.json()["entries"]
    assert len(found) == 2 and found[0]["id"] > found[1]["id"]
    assert found[0]["patient"].startswith("EXAMPLE, Ada") and found[0]["user_name"]
    assert found[0]["user_email"] == ACCOUNTS["coordinator"][0]
    by_number = client.get(AUDIT, headers=admin, params={"patient": "999 526 0182"}).json()
    assert {e["patient_id"] for e in by_number["entries"]} == {pid}
    [looked] = entries(guardian.engine, "view-audit")[:1]
    assert looked.user_email == ACCOUNTS["admin"][0]
    before = len(entries(guardian.engine, "view-audit"))
    paged = client.get(AUDIT, headers=admin, params={"before": found[0]["id"]}).json()
    assert all(e["id"] < found[0]["id"] for e in paged["entries"])
    assert len(entries(guardian.engine, "view-audit")) == before  # turning pages: not audited
    r = client.get(AUDIT, headers=admin, params={"patient": "12"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "patient"]
    assert client.get(AUDIT, headers=admin, params={"before": 0}).status_code == 422
    for role in ("coordinator", "gp", "place-lead"):
        assert client.get(AUDIT, headers=tokens[role]).status_code == 404


def test_a_practice_overview_in_scope(client, tokens):
    guardian = client.app.state.guardian
    pid, _ = referred_patient(guardian, "GPO-1")
    referred_patient(guardian, "GPO-2", nhs_number="9995260190",
                     practice=NEIGHBOUR)
    done = client.post(f"/api/v1/patients/{pid}/pathways/RAJ/GPO-1/workup-required",
                       headers=tokens["admin"],
                       json={"description": "Bloods", "requested_from": "practice"})
    assert done.status_code == 201, done.text
    url = "/api/v1/practices/Y90001/referrals"
    for role in ("gp", "coordinator", "admin"):
        r = client.get(url, headers=tokens[role])
        assert r.status_code == 200, (role, r.text)
    body = r.json()
    assert body["practice_name"] != "Y90001" and body["pcn_code"] == "U90001"
    [row] = body["referrals"]
    assert row["pathway_id"] == "GPO-1" and row["provider_name"] and row["patient_id"] == pid
    assert body["owed"][0]["owed"][0]["what"] and "owes workup" in body["owed_summary"]
    assert body["counts"][0] == "1 referral is waiting."
    seen = entries(guardian.engine, "view-practice-overview")
    assert len(seen) == 3 and seen[0].detail == "practice Y90001"
    assert client.get(f"/api/v1/practices/{NEIGHBOUR}/referrals",
                      headers=tokens["gp"]).status_code == 404  # another practice
    assert client.get("/api/v1/practices/Y90141/referrals",
                      headers=tokens["coordinator"]).status_code == 404  # not their PCN
    assert client.get(url, headers=tokens["place-lead"]).status_code == 404
    assert client.get("/api/v1/practices/Y99999/referrals",
                      headers=tokens["admin"]).status_code == 404  # unknown
    r = client.get("/api/v1/practices/not%20a%20code/referrals", headers=tokens["admin"])
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["path", "practice_code"]
