"""`GET /api/v1/patients/{patient_id}` (docs/api.md): the patient page as JSON, by the page's
own functions; each pathway in the referral's shape, with names beside codes, its thread and
whether it has news; audited as opening the page (`view-patient`), but the news stays new;
404 out of scope or for a place lead, 422 for what is no patient id."""

from __future__ import annotations

import pytest
from api_helpers import NEIGHBOUR, entries
from web_helpers import referred_patient


def _url(pid: str) -> str:
    return f"/api/v1/patients/{pid}"


def test_the_patient_as_the_page_shows_them(client, tokens):
    """On both backends: the pathway's shape and names, its thread, the audit entry."""
    guardian = client.app.state.guardian
    pid, _ = referred_patient(guardian, "REC-1")
    admin = tokens["admin"]
    done = client.post(f"{_url(pid)}/pathways/RAJ/REC-1/message", headers=admin,
                       json={"party": "hospital", "body": "Any news?"})
    assert done.status_code == 201, done.text
    r = client.get(_url(pid), headers=tokens["coordinator"])
    assert r.status_code == 200, r.text
    assert r.headers["Cache-Control"] == "no-store"
    body = r.json()
    assert body["patient"]["patient_id"] == pid and body["patient"]["whole"]
    assert body["version"] >= 2
    [card] = body["pathways"]
    assert card["pathway_id"] == "REC-1" and card["provider_name"] != ""
    assert card["practice_name"] and card["pcn_code"] == "U90001" and card["pcn_name"]
    assert card["treatment_function_name"] and card["open"] and card["history"]
    [message] = card["messages"]
    assert (message["direction"], message["state"]) == ("out", "awaiting-reply")
    [entry] = [e for e in entries(guardian.engine, "view-patient") if e.role == "coordinator"]
    assert entry.patient_id == pid


@pytest.mark.one_backend
def test_scope_role_and_bad_ids(client, tokens):
    guardian = client.app.state.guardian
    pid, _ = referred_patient(guardian, "REC-2", practice=NEIGHBOUR)
    assert client.get(_url(pid), headers=tokens["gp"]).status_code == 404  # not their practice
    assert client.get(_url(pid), headers=tokens["place-lead"]).status_code == 404
    assert client.get(_url("0" * 32), headers=tokens["admin"]).status_code == 404
    denied = {e.patient_id for e in entries(guardian.engine, "denied-patient")}
    assert {pid, "0" * 32} <= denied
    r = client.get(_url("not-a-patient"), headers=tokens["admin"])
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["path", "patient_id"]
    assert client.get(_url(pid), headers=tokens["coordinator"]).status_code == 200


@pytest.mark.one_backend
def test_a_gp_sees_no_contact_details_and_news_stays_new(client, tokens):
    guardian = client.app.state.guardian
    pid, _ = referred_patient(guardian, "REC-3")
    admin = tokens["admin"]
    r = client.post(f"{_url(pid)}/pathways/RAJ/REC-3/deterioration-flagged", headers=admin,
                    json={"summary": "Worse pain"})
    assert r.status_code == 201, r.text
    first = client.get(_url(pid), headers=tokens["coordinator"]).json()
    assert first["pathways"][0]["new"] and first["flags"][0]["summary"] == "Worse pain"
    again = client.get(_url(pid), headers=tokens["coordinator"]).json()
    assert again["pathways"][0]["new"], "an API read does not mark the news seen"
    assert again["version"] == first["version"]
    gp = client.get(_url(pid), headers=tokens["gp"]).json()
    assert gp["patient"]["phone"] is None and gp["contacts"] == []
    assert not gp["pathways"][0]["new"]
