"""The JSON API's commands (docs/api.md "Commands"): every action of the patient page as a
JSON command by the same use case, audited as the page's action; 404 out of scope (audited),
409 on a stale `expected_version`, 422 naming the field; the contact preference and bulk
assign commands.
"""

from __future__ import annotations

import datetime as dt

import pytest
from api_helpers import NEIGHBOUR, THURROCK, entries, locs
from web_helpers import ACCOUNTS, referred_patient

from guardian import audit

COORDINATOR = ACCOUNTS["coordinator"][0]


def url(pid: str, action: str, pathway_id: str = "CMD-1", provider: str = "RAJ") -> str:
    return f"/api/v1/patients/{pid}/pathways/{provider}/{pathway_id}/{action}"


def act(client, headers, pid, action, body, expect, pathway_id="CMD-1"):
    r = client.post(url(pid, action, pathway_id), json=body, headers=headers)
    assert r.status_code == expect, (action, r.text)
    return r.json()


@pytest.fixture
def patient(client):
    pid, _ = referred_patient(client.app.state.guardian, "CMD-1")
    return pid


def test_a_command_is_the_page_action_audited_alike(client, tokens, patient):
    """On both backends: the recorded id, the new version, the audit entry the page writes,
    a stale version (409), a field the command refuses (422) and scope (404, audited)."""
    admin = tokens["admin"]
    done = act(client, admin, patient, "workup-required", {"description": "Bloods"}, 201)
    assert done["recorded"]["item_id"].startswith("w-")
    assert done["provider_name"] and done["href"].startswith("/api/v1/referrals/CMD-1")
    [entry] = entries(client.app.state.guardian.engine, "workup required")
    assert (entry.patient_id, entry.provider, entry.pathway_id) == (patient, "RAJ", "CMD-1")
    assert entry.role == "admin"

    stale = client.post(url(patient, "workup-done"), headers=admin, json={
        "item_id": done["recorded"]["item_id"], "expected_version": done["version"] - 1})
    assert stale.status_code == 409 and "changed since" in stale.json()["detail"]
    assert stale.json()["request_id"] == stale.headers["X-Request-ID"]
    act(client, admin, patient, "workup-done", {
        "item_id": done["recorded"]["item_id"], "expected_version": done["version"]}, 200)

    future = (dt.date.today() + dt.timedelta(days=2)).isoformat()
    r = client.post(url(patient, "diagnostic-ordered"), headers=admin,
                    json={"test": "mri", "on": future})
    assert locs(r) == [["body", "on"]]
    assert locs(client.post(url(patient, "diagnostic-ordered"), headers=admin,
                            json={"test": "x-ray"})) == [["body", "test"]]
    assert locs(client.post(url(patient, "diagnostic-ordered"), headers=admin,
                            json={"test": "ct", "colour": "red"})) == [["body", "colour"]]

    # another practice's patient: 404 for the GP, like an unknown one, and audited
    other, _ = referred_patient(client.app.state.guardian, "CMD-2", "9995260190", NEIGHBOUR)
    r = client.post(url(other, "message", "CMD-2"), headers=tokens["gp"], json={"body": "Hi"})
    assert r.status_code == 404 and r.json()["detail"] == "Not Found"
    denied = entries(client.app.state.guardian.engine, "denied-patient")
    assert any(e.patient_id == other for e in denied)
    unknown = client.post(url("0" * 32, "message"), headers=tokens["gp"], json={"body": "x"})
    assert unknown.status_code == 404


@pytest.mark.one_backend
def test_every_action_by_the_api(client, tokens, patient):
    admin = tokens["admin"]
    ordered = act(client, admin, patient, "diagnostic-ordered", {"test": "ct"}, 201)
    test_id = ordered["recorded"]["test_id"]
    act(client, admin, patient, "diagnostic-resulted", {"test_id": test_id,
                                                        "result": "Normal"}, 200)
    act(client, admin, patient, "result-released", {"test_id": test_id}, 200)
    act(client, admin, patient, "contact", {"channel": "phone", "summary": "Called"}, 201)
    act(client, admin, patient, "check-in", {"outcome": "no-change", "note": "Fine"}, 200)
    flag = act(client, tokens["gp"], patient, "deterioration-flagged",
               {"summary": "More pain"}, 201)["recorded"]["flag_id"]
    act(client, admin, patient, "deterioration-reviewed",
        {"flag_id": flag, "outcome": "monitor"}, 200)
    act(client, admin, patient, "support", {"kind": "alcohol"}, 201)
    assert locs(client.post(url(patient, "message"), headers=admin,
                            json={"body": "Any news?"})) == [["body", "party"]]
    act(client, admin, patient, "message", {"body": "Any news?", "party": "hospital"}, 201)
    received = act(client, tokens["gp"], patient, "message", {"body": "From the practice"},
                   201)["recorded"]["message_id"]
    act(client, admin, patient, "hospital-reply", {"body": "Booked"}, 201)
    act(client, admin, patient, "message-answered", {"message_id": received}, 200)
    assigned = act(client, admin, patient, "assign", {"coordinator": COORDINATOR}, 200)
    assert assigned["coordinator"] == COORDINATOR and assigned["coordinator_name"]
    assert locs(client.post(url(patient, "assign"), headers=admin,
                            json={"coordinator": "gp@guardian.test"})) == [["body", "coordinator"]]
    act(client, admin, patient, "clock-stop", {"reason_code": "30"}, 200)
    assert act(client, admin, patient, "close", {"reason": "treated-elsewhere"},
               200)["open"] is False
    assert client.post(url(patient, "close"), headers=tokens["gp"],
                       json={"reason": "duplicate"}).status_code == 404  # not a GP's action
    assert client.post(url(patient, "close"), headers=tokens["place-lead"],
                       json={"reason": "duplicate"}).status_code == 404
    engine = client.app.state.guardian.engine
    for name in ("contact", "support", "message", "assign", "close", "clock stop"):
        assert entries(engine, name), name


@pytest.mark.one_backend
def test_contact_preference_and_bulk_assign(client, tokens, patient):
    admin = tokens["admin"]
    pref = f"/api/v1/patients/{patient}/contact-preference"
    assert locs(client.post(pref, headers=admin, json={"preference": "email"})) == [
        ["body", "preference"]]  # no email address on record
    r = client.post(pref, headers=admin, json={"preference": "letter"})
    assert r.status_code == 200, r.text
    assert client.post(pref, headers=admin, json={
        "preference": "none", "expected_version": r.json()["version"] - 1}).status_code == 409
    assert client.post(pref, headers=tokens["gp"], json={"preference": "letter"}
                       ).status_code == 404
    assert audit.entries(client.app.state.guardian.engine, action="contact-preference")

    other, _ = referred_patient(client.app.state.guardian, "CMD-9", "9995260190", THURROCK)
    mine = {"patient_id": patient, "provider": "RAJ", "pathway_id": "CMD-1"}
    r = client.post("/api/v1/worklist/assign", headers=tokens["coordinator"],
                    json={"pathways": [mine], "coordinator": COORDINATOR})
    assert r.status_code == 200 and r.json()["assigned"] == 1, r.text
    assert locs(client.post("/api/v1/worklist/assign", headers=tokens["coordinator"],
                            json={"pathways": [mine], "coordinator": "nobody@x.test"})
                ) == [["body", "coordinator"]]
    assert locs(client.post("/api/v1/worklist/assign", headers=tokens["coordinator"],
                            json={"pathways": [], "coordinator": COORDINATOR})
                ) == [["body", "pathways"]]
    nul = {**mine, "patient_id": "a\u0000b"}  # the one text rule, before any query
    assert locs(client.post("/api/v1/worklist/assign", headers=tokens["coordinator"],
                            json={"pathways": [nul], "coordinator": COORDINATOR})
                ) == [["body", "pathways", 0, "patient_id"]]
    outside = {"patient_id": other, "provider": "RAJ", "pathway_id": "CMD-9"}
    assert client.post("/api/v1/worklist/assign", headers=tokens["coordinator"],
                       json={"pathways": [mine, outside], "coordinator": COORDINATOR}
                       ).status_code == 404
    assert client.post("/api/v1/worklist/assign", headers=tokens["gp"],
                       json={"pathways": [mine], "coordinator": COORDINATOR}
                       ).status_code == 404


@pytest.mark.one_backend
def test_inbox_letters_and_resend(client, tokens):
    coordinator = tokens["coordinator"]
    r = client.get("/api/v1/inbox", headers=coordinator)
    assert r.status_code == 200 and r.json() == {"items": [], "next_before": None,
                                                 "unread": 0}
    assert client.post("/api/v1/inbox/read-all", headers=coordinator).json() == {"marked": 0}
    assert client.post("/api/v1/inbox/7/read", headers=coordinator).status_code == 404
    assert client.post("/api/v1/letters/7/printed", headers=coordinator).status_code == 404
    assert client.post("/api/v1/letters/7/printed", headers=tokens["gp"]).status_code == 404
    r = client.post("/api/v1/admin/notifications/7/resend", headers=tokens["admin"])
    assert r.json() == {"notification_id": 7, "queued": False}
    assert client.post("/api/v1/admin/notifications/7/resend",
                       headers=coordinator).status_code == 404
    engine = client.app.state.guardian.engine
    assert entries(engine, "view-inbox") and entries(engine, "notification-resend")
