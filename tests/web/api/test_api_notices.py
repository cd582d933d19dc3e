"""The notification settings, the print queue and the outbox through the JSON API
(docs/api.md "Inbox, letters and the outbox"): the pages' own functions and rules, audited
as the pages are; 404 for a role they are not for, 422 naming the field."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from api_helpers import entries
from sqlalchemy import insert

from guardian.notifications.schema import letters, notifications

pytestmark = pytest.mark.one_backend
SETTINGS = "/api/v1/inbox/settings"


def test_settings_read_and_written_by_the_pages_rules(client, tokens):
    engine = client.app.state.guardian.engine
    gp = tokens["gp"]
    assert client.get(SETTINGS, headers=gp).json() == {
        "email_mode": "immediate", "quiet_from": None, "quiet_until": None}
    assert entries(engine, "view-notification-settings")
    wanted = {"email_mode": "daily", "quiet_from": "22:00", "quiet_until": "07:30"}
    r = client.put(SETTINGS, headers=gp, json=wanted)
    assert r.status_code == 200 and r.json() == wanted
    assert client.get(SETTINGS, headers=gp).json() == wanted
    [entry] = entries(engine, "change-notification-settings")
    assert entry.detail == "email daily; quiet hours 22:00-07:30"
    for body, field in (({**wanted, "quiet_until": None}, "quiet_until"),
                        ({**wanted, "quiet_from": "25:00"}, "quiet_from"),
                        ({**wanted, "email_mode": "weekly"}, "email_mode"),
                        ({**wanted, "colour": "red"}, "colour")):
        refused = client.put(SETTINGS, headers=gp, json=body)
        assert refused.status_code == 422, body
        assert refused.json()["detail"][0]["loc"] == ["body", field]
    assert client.get(SETTINGS, headers=gp).json() == wanted  # nothing refused was written
    assert client.get(SETTINGS, headers=tokens["place-lead"]).status_code == 404
    assert client.put(SETTINGS, headers=tokens["place-lead"], json=wanted).status_code == 404


def _letter(engine, pcn: str) -> int:
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        made = conn.execute(insert(notifications).values(
            key=f"letter|{pcn}", kind="patient-check-in", channel="letter",
            recipient="patient", patient_id=uuid.uuid4().hex, provider="RAJ",
            pathway_id="P-1", context="{}", created_at=now, due_at=now, status="sent",
            attempts=0)).inserted_primary_key[0]
        conn.execute(insert(letters).values(notification_id=made, patient_id="0" * 32,
                                            pcn_code=pcn, html="<p>Dear</p>", made_at=now))
    return made


def test_the_print_queue_in_scope(client, tokens):
    engine = client.app.state.guardian.engine
    ours, theirs = _letter(engine, "U90001"), _letter(engine, "U90003")
    r = client.get("/api/v1/letters", headers=tokens["coordinator"])
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    [letter] = r.json()["letters"]
    assert letter["letter_id"] == ours and letter["pcn_name"] != "U90001"
    assert letter["what"] == "Waiting Well check-in letter"
    assert entries(engine, "view-letters")
    every = client.get("/api/v1/letters", headers=tokens["admin"]).json()["letters"]
    assert {x["letter_id"] for x in every} == {ours, theirs}
    for role in ("gp", "place-lead"):
        assert client.get("/api/v1/letters", headers=tokens[role]).status_code == 404
    client.post(f"/api/v1/letters/{ours}/printed", headers=tokens["coordinator"])
    assert client.get("/api/v1/letters", headers=tokens["coordinator"]).json() == {
        "letters": []}


def test_the_outbox_for_admins(client, tokens):
    engine = client.app.state.guardian.engine
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        parked = conn.execute(insert(notifications).values(
            key="parked|1", kind="thread-message", channel="email",
            recipient="practice:Y90001", patient_id=uuid.uuid4().hex, provider="RAJ",
            pathway_id="P-1", context="{}", created_at=now, due_at=now, status="parked",
            attempts=8, last_error="550 mailbox unavailable")).inserted_primary_key[0]
    r = client.get("/api/v1/admin/notifications", headers=tokens["admin"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["by_state"]["parked"] == 1 and body["total"] >= 1
    [row] = body["parked"]
    assert (row["notification_id"], row["channel"], row["last_error"]) == (
        parked, "email", "550 mailbox unavailable")
    assert "Y90001" not in row["recipient"]  # the practice by name
    assert entries(engine, "view-outbox")
    for role in ("coordinator", "gp", "place-lead"):
        assert client.get("/api/v1/admin/notifications",
                          headers=tokens[role]).status_code == 404
