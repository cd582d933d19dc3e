"""What a patient does online is what the same thing by phone records (docs/patients.md "What
a patient can do"), on SQLite and PostgreSQL: patient A answers a Waiting Well check-in
online, and a coordinator records patient B's same answer from the phone with the patient
page's check-in action; for each of the four answers the events are the same (apart from
ids, times and who answered), a "worse" flag reads the same, and so the worklist rows the
projections make from them are the same. A patient's message lands in the pathway's thread
and on the coordinator's worklist as one unanswered message, found by that filter."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import select
from test_my_pages import OTHER, refer, sign_in
from web_helpers import csrf_of
from web_helpers import sign_in as staff_sign_in

from guardian.projections import worklist as wl
from guardian.waits import check_ins
from guardian.web.routes.my import BY_PATIENT, ONLINE_ANSWERS

# What differs between two patients' records of the same thing: ids, times and who.
NOT_COMPARED = {"originator_id", "originator_version", "timestamp", "provider", "pathway_id",
                "flag_id", "by"}
# The worklist's columns that say who the patient is, not what is happening.
IDENTITY = {"provider", "pathway_id", "patient_id", "nhs_number", "given_name", "family_name",
            "birth_date"}


def recorded_since(guardian, pid: uuid.UUID, version: int) -> list[tuple[str, dict]]:
    return [(type(e).__name__, {k: v for k, v in vars(e).items() if k not in NOT_COMPARED})
            for e in guardian.events.get(pid) if e.originator_version > version]


def row(guardian, pathway_id: str) -> dict | None:
    with guardian.engine.connect() as conn:
        found = conn.execute(select(wl.worklist).where(
            wl.worklist.c.pathway_id == pathway_id)).first()
    return {k: v for k, v in found._mapping.items() if k not in IDENTITY} if found else None


@pytest.mark.parametrize("answer", list(ONLINE_ANSWERS))
def test_an_online_answer_records_what_a_phone_answer_does(client, answer):
    guardian = client.app.state.guardian
    online = refer(guardian, pathway_id="ONLINE")
    phoned = refer(guardian, nhs=OTHER, pathway_id="PHONED", family="Sample")
    assert check_ins(guardian, guardian.today()).check_ins_due == 2
    client.app.state.runner.run_once()
    assert row(guardian, "ONLINE") == row(guardian, "PHONED")  # alike to begin with
    versions = {pid: guardian.get_patient(pid).version for pid in (online, phoned)}

    token = sign_in(client, guardian)
    done = client.post("/my/referrals/RAJ/ONLINE/check-in",
                       data={"answer": answer, "csrf_token": token}, follow_redirects=False)
    assert done.status_code == 303, done.text[:300]

    assert staff_sign_in(client, "coordinator").status_code == 303
    page = client.get(f"/patients/{phoned.hex}").text
    assert re.search(r'action="/patients/[^"]+/actions/check-in"', page)  # the phone form
    taken = client.post(f"/patients/{phoned.hex}/actions/check-in", data={
        "pathway": "RAJ|PHONED", "outcome": answer, "note": "", "stop_reason": "", "on": "",
        "version": guardian.get_patient(phoned).version, "csrf_token": csrf_of(client)},
        follow_redirects=False)
    assert taken.status_code == 303, taken.text[:300]

    by_web = recorded_since(guardian, online, versions[online])
    by_phone = recorded_since(guardian, phoned, versions[phoned])
    assert by_web == by_phone
    assert by_web[0][0] == "CheckInOutcomeRecorded" and by_web[0][1]["outcome"] == answer
    kinds = [kind for kind, _ in by_web]
    assert ("DeteriorationFlagged" in kinds) is (answer == "worse")
    assert ("ClockStopped" in kinds) is (answer in ("no-longer-needed", "treated-elsewhere"))
    # who answered, and how, is kept apart from what they said
    [web_event] = [e for e in guardian.events.get(online)
                   if type(e).__name__ == "CheckInOutcomeRecorded"]
    assert (web_event.by, web_event.note) == (BY_PATIENT, "")

    flags = [list(guardian.get_patient(pid).flags.values()) for pid in (online, phoned)]
    assert [[f.summary for f in fs] for fs in flags] == (
        [["Reported worse at a Waiting Well check-in"]] * 2 if answer == "worse" else [[], []])
    assert [[f.source for f in fs] for fs in flags] == [[f.source for f in flags[1]]] * 2

    client.app.state.runner.run_once()
    online_row, phoned_row = row(guardian, "ONLINE"), row(guardian, "PHONED")
    assert online_row == phoned_row
    if online_row is not None:
        assert online_row["check_in_due"] is None  # answered, either way
        assert (online_row["deterioration_since"] is not None) is (answer == "worse")


def test_a_patients_message_is_one_unanswered_message_on_the_worklist(client):
    guardian = client.app.state.guardian
    pid = refer(guardian)
    refer(guardian, nhs=OTHER, pathway_id="QUIET", family="Sample")
    token = sign_in(client, guardian)
    sent = client.post("/my/referrals/RAJ/P-1/message",
                       data={"body": "When is my appointment?", "csrf_token": token},
                       follow_redirects=False)
    assert sent.status_code == 303

    [message] = guardian.get_patient(pid).pathway("RAJ", "P-1").messages.values()
    assert (message.party, message.direction, message.body) == (
        "patient", "in", "When is my appointment?")
    client.app.state.runner.run_once()
    mine, quiet = row(guardian, "P-1"), row(guardian, "QUIET")
    assert (mine["unanswered_messages"], mine["oldest_unanswered_on"]) == (1, guardian.today())
    assert quiet["unanswered_messages"] == 0

    assert staff_sign_in(client, "coordinator").status_code == 303
    thread = client.get(f"/patients/{pid.hex}").text
    assert "When is my appointment?" in thread and "Not answered yet" in thread
    everyone = client.get("/worklist?pcn=U90001").text
    assert "Example" in everyone and "Sample" in everyone
    filtered = client.get("/worklist?pcn=U90001&filter=unanswered-messages")
    assert filtered.status_code == 200
    assert "Example" in filtered.text and "Sample" not in filtered.text
    assert "Messages unanswered: 1 (0 days)" in filtered.text
