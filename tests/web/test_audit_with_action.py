"""An action and its audit entry commit together (docs/access.md, "Audit"), on both backends.

Given a coordinator about to log a contact, when the audit entry cannot be written (the
database refuses it, as a crash between the two would leave it), then the action is not
written either; and when it can, both are there.
"""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import event, text
from web_helpers import ACCOUNTS, sign_in

from guardian import audit, users

NHS = "9990000018"


@pytest.fixture
def patient(client, engine):
    token = users.create_token(engine, ACCOUNTS["admin"][0])
    body = {"nhs_number": NHS, "person_birth_date": "1958-03-14",
            "patient_pathway_identifier": "AUD-1",
            "organisation_identifier_code_of_provider": "RAJ",
            "general_medical_practice_code": "Y90001",
            "referral_request_received_date": "2026-01-05",
            "referral_to_treatment_period_start_date": "2026-01-05",
            "activity_treatment_function_code": "110", "priority_type_code": "1"}
    r = client.post("/api/v1/referrals", content=json.dumps(body),
                    headers={"Authorization": f"Bearer {token}",
                             "Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    return client.app.state.guardian.patient_id(NHS)


def events_of(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM guardian_events")).scalar_one()


def log_contact(client, pid) -> int:
    page = client.get(f"/patients/{pid.hex}").text
    form = {"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page).group(1),
            "version": re.search(r'name="version" value="(\d+)"', page).group(1),
            "referral": "RAJ|AUD-1", "channel": "phone", "summary": "Rang the patient"}
    return client.post(f"/patients/{pid.hex}/actions/contact", data=form,
                       follow_redirects=False).status_code


def test_no_action_is_written_without_its_audit_entry(client, engine, patient):
    sign_in(client, "coordinator")
    before = events_of(engine)

    def refuse_audit(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO AUDIT_LOG"):
            raise RuntimeError("the audit log is unavailable")

    event.listen(engine, "before_cursor_execute", refuse_audit)
    try:
        with pytest.raises(RuntimeError, match="audit log is unavailable"):
            log_contact(client, patient)
    finally:
        event.remove(engine, "before_cursor_execute", refuse_audit)
    assert events_of(engine) == before  # the contact went with its entry
    assert not client.app.state.guardian.get_patient(patient).contacts

    assert log_contact(client, patient) == 303
    assert events_of(engine) == before + 1
    [entry] = audit.entries(engine, action="contact")
    assert (entry.user_email, entry.pathway_id) == (ACCOUNTS["coordinator"][0], "AUD-1")
