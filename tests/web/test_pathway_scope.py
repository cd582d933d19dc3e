"""Access by pathway, not by patient (docs/access.md, "By pathway"), on SQLite and PostgreSQL.

Given a patient referred from a Thurrock practice (outside the coordinator's PCNs), with a
contact logged for that referral: when the coordinator posts a referral of their own for the
same NHS number, they get their own pathway, and nothing more: not the other referral, not
its contact, not the patient's details as the other PCN knows them, which stay as they were.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from web_helpers import ACCOUNTS, sign_in

from guardian import audit, users

HOME = "Y90001"  # U90001: the coordinator's and the GP's
THURROCK = "Y90141"  # U90024: nobody's but the admin's (and a Thurrock place lead's)
NHS = "9990000018"  # a 999-range number with a valid check digit


def days_ago(n: int) -> str:
    return (dt.date.today() - dt.timedelta(days=n)).isoformat()


def referral(pathway_id: str, practice: str, **extra: str) -> dict[str, str]:
    body = {
        "nhs_number": NHS, "person_birth_date": "1958-03-14",
        "patient_pathway_identifier": pathway_id,
        "organisation_identifier_code_of_provider": "RAJ",
        "general_medical_practice_code": practice,
        "referral_request_received_date": days_ago(40),
        "referral_to_treatment_period_start_date": days_ago(40),
        "activity_treatment_function_code": "330", "priority_type_code": "1",
        "patient_given_name": "Ada", "patient_family_name": "Lovelace",
        "patient_phone": "01632 960001",
    }
    body.update(extra)
    return body


def bearer(engine, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {users.create_token(engine, ACCOUNTS[role][0])}",
            "Content-Type": "application/json"}


def post(client, headers, body):
    return client.post("/api/v1/referrals", content=json.dumps(body), headers=headers)


@pytest.fixture
def theirs(client, engine):
    """The Thurrock referral, posted by an admin, with a contact logged for it."""
    r = post(client, bearer(engine, "admin"), referral("THU-1", THURROCK))
    assert r.status_code == 201, r.text
    guardian = client.app.state.guardian
    pid = guardian.patient_id(NHS)
    guardian.log_contact(pid, "c-thurrock", "phone", "Discussed the lesion with Ada",
                         "thurrock.coordinator@example.nhs.uk", provider="RAJ",
                         pathway_id="THU-1")
    return pid


@pytest.fixture
def mine(client, engine, theirs):
    """The coordinator's own referral for the same NHS number, with other details."""
    r = post(client, bearer(engine, "coordinator"),
             referral("MINE-1", HOME, person_birth_date="1970-01-01",
                      patient_given_name="Mallory", patient_family_name="Mallet",
                      patient_phone="01632 960999"))
    assert r.status_code == 201, r.text
    return theirs


def test_a_referral_from_another_scope_never_overwrites_the_patient(client, mine):
    patient = client.app.state.guardian.get_patient(mine)
    assert (patient.given_name, patient.family_name) == ("Ada", "Lovelace")
    assert patient.birth_date == dt.date(1958, 3, 14)
    assert patient.phone == "01632 960001"
    # the details it carried are kept with its own pathway
    assert patient.reported[("RAJ", "MINE-1")]["family_name"] == "Mallet"


def test_the_coordinator_sees_their_pathway_and_nothing_of_the_other(client, mine):
    sign_in(client, "coordinator")
    page = client.get(f"/patients/{mine.hex}")
    assert page.status_code == 200
    assert "MINE-1" in page.text
    for secret in ("THU-1", "Discussed the lesion", "Lovelace", "01632 960001", "14 March 1958"):
        assert secret not in page.text, secret
    assert "MALLET" in page.text  # the details as their own referral gave them
    assert "differ from the patient" not in page.text  # not even that others differ


def test_the_gp_of_the_coordinators_practice_sees_only_that_pathway(client, mine):
    sign_in(client, "gp")
    page = client.get(f"/patients/{mine.hex}")
    assert page.status_code == 200
    assert "MINE-1" in page.text
    assert "THU-1" not in page.text and "Discussed the lesion" not in page.text
    assert "Lovelace" not in page.text


def test_the_api_shows_the_details_of_the_callers_own_referral(client, engine, mine):
    view = client.get("/api/v1/referrals/MINE-1?provider=RAJ",
                      headers=bearer(engine, "coordinator")).json()
    assert view["patient"]["family_name"] == "Mallet"
    assert view["patient"]["birth_date"] == "1970-01-01"
    assert "Discussed the lesion" not in json.dumps(view)
    assert client.get("/api/v1/referrals/THU-1?provider=RAJ",
                      headers=bearer(engine, "coordinator")).status_code == 404
    # the worklist row shows the patient as their own referral gave them too
    rows = client.get("/api/v1/worklists/U90001", headers=bearer(engine, "coordinator")
                      ).json()["rows"]
    assert [(r["pathway_id"], r["family_name"]) for r in rows] == [("MINE-1", "Mallet")]


def test_an_admin_sees_everything_and_what_to_reconcile(client, mine):
    sign_in(client, "admin")
    page = client.get(f"/patients/{mine.hex}").text
    for seen in ("MINE-1", "THU-1", "Discussed the lesion", "LOVELACE"):
        assert seen in page, seen
    assert "differ from the patient" in page and "Mallet" in page


def test_a_contact_is_logged_for_a_referral_the_user_may_see(client, mine):
    sign_in(client, "coordinator")
    page = client.get(f"/patients/{mine.hex}").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    form = {"csrf_token": token, "version": version, "channel": "phone",
            "summary": "Rang about the rash"}
    # the other PCN's referral: 404, audited, nothing written
    r = client.post(f"/patients/{mine.hex}/actions/contact",
                    data={**form, "referral": "RAJ|THU-1"}, follow_redirects=False)
    assert r.status_code == 404
    r = client.post(f"/patients/{mine.hex}/actions/contact",
                    data={**form, "referral": "RAJ|MINE-1"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    patient = client.app.state.guardian.get_patient(mine)
    [logged] = [c for c in patient.contacts.values() if c.summary == "Rang about the rash"]
    assert logged.pathway == ("RAJ", "MINE-1")
    # the GP of the Thurrock practice would not see it; the coordinator does
    assert "Rang about the rash" in client.get(f"/patients/{mine.hex}").text


def test_a_coordinator_cannot_review_a_flag_raised_for_another_scope(client, mine):
    guardian = client.app.state.guardian
    guardian.flag_deterioration(mine, "f-thurrock", "Worse pain", "gp", "RAJ", "THU-1")
    sign_in(client, "coordinator")
    page = client.get(f"/patients/{mine.hex}").text
    assert "Worse pain" not in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    r = client.post(f"/patients/{mine.hex}/actions/deterioration-reviewed",
                    data={"csrf_token": token, "version": version, "flag_id": "f-thurrock",
                          "outcome": "monitor"}, follow_redirects=False)
    assert r.status_code == 404
    assert guardian.get_patient(mine).flags["f-thurrock"].reviewed_on is None


def test_an_out_of_scope_pathway_is_refused_only_once_the_referral_is_valid(client, engine,
                                                                          theirs):
    coordinator = bearer(engine, "coordinator")
    # an invalid referral naming the other PCN's pathway: the date error, nothing else
    bad = post(client, coordinator, referral("THU-1", HOME,
                                             referral_request_received_date="2026-02-30"))
    assert [d["loc"] for d in bad.json()["detail"]] == [
        ["body", "referral_request_received_date"]]
    # a valid one: refused on the pathway, audited, nothing written
    r = post(client, coordinator, referral("THU-1", HOME))
    assert r.status_code == 422
    assert [d["loc"] for d in r.json()["detail"]] == [["body", "patient_pathway_identifier"]]
    denied = audit.entries(engine, action="denied-patient", limit=10)
    assert denied and denied[0].user_email == ACCOUNTS["coordinator"][0]
    patient = client.app.state.guardian.get_patient(theirs)
    assert patient.pathways[("RAJ", "THU-1")].practice_code == THURROCK


def test_a_coordinator_whose_scope_takes_in_the_whole_patient_may_update_details(
        client, engine):
    coordinator = bearer(engine, "coordinator")
    assert post(client, coordinator, referral("OWN-1", HOME)).status_code == 201
    r = post(client, coordinator, referral("OWN-1", HOME, patient_family_name="Byron"))
    assert r.status_code == 200 and r.json()["result"] == "updated"
    patient = client.app.state.guardian.get_patient(
        client.app.state.guardian.patient_id(NHS))
    assert patient.family_name == "Byron"


def test_patient_level_records_from_before_carry_no_pathway_and_go_with_the_whole_patient(
        client, mine):
    guardian = client.app.state.guardian
    guardian.log_contact(mine, "c-legacy", "letter", "Old letter about everything", "x")
    sign_in(client, "coordinator")
    assert "Old letter about everything" not in client.get(f"/patients/{mine.hex}").text
    sign_in(client, "admin")
    assert "Old letter about everything" in client.get(f"/patients/{mine.hex}").text
