"""The referral routes of the JSON API, on SQLite and PostgreSQL (docs/api.md): given the
users of tests/web/conftest.py and a few referrals posted through the API, a coordinator or
an admin records a referral by the importer's rules (422 naming each bad field, 404 for
other roles), and each role reads a referral's status within exactly its scope.
"""

from __future__ import annotations

import datetime as dt
from uuid import UUID

from api_helpers import HOME, NHS, THURROCK, entries, locs, post, row, today
from web_helpers import ACCOUNTS, csrf_of, sign_in

# ---------------------------------------------------------------------------- POST


def test_a_coordinator_posts_a_referral_and_reads_its_own_write(client, engine, tokens):
    coordinator = tokens["coordinator"]
    body = row(NHS[10], "NEW/1", HOME)
    created = post(client, coordinator, body, expect=201)
    href = "/api/v1/referrals/NEW%2F1?provider=RAJ"
    assert created.json() == {"result": "created", "provider": "RAJ", "pathway_id": "NEW/1",
                              "provider_name": "Mid and South Essex NHS Foundation Trust",
                              "href": href}
    assert created.headers["location"] == href
    status = client.get(href, headers=coordinator)
    assert status.status_code == 200, status.text
    assert status.headers["cache-control"] == "no-store"
    view = status.json()
    assert view["stage"] == "awaiting-first-appointment" and view["waited_days"] == 30
    assert view["patient"]["nhs_number"] == NHS[10]
    assert view["patient"]["family_name"] == "TesterNEW/1"
    assert view["pcn_code"] == "U90001" and view["practice_code"] == HOME
    assert view["history"] and view["history"][0]["by"] == "hospital"
    # the same row again writes nothing; a booked appointment is an update
    assert post(client, coordinator, body, expect=200).json()["result"] == "unchanged"
    booked = dict(body, outpatient_future_appointment_date=(today() + dt.timedelta(days=9))
                  .isoformat())
    assert post(client, coordinator, booked, expect=200).json()["result"] == "updated"
    assert client.get(href, headers=coordinator).json()["stage"] == "first-appointment-booked"
    # the worklist shows it at once too
    rows = client.get("/api/v1/worklists/U90001", headers=coordinator).json()["rows"]
    assert [r["stage"] for r in rows if r["pathway_id"] == "NEW/1"] == [
        "first-appointment-booked"]
    written = entries(engine, "submit-referral")
    assert [e.detail for e in written] == ["updated", "unchanged", "created"]
    assert {(e.user_email, e.provider, e.pathway_id) for e in written} == {
        ("sam@guardian.test", "RAJ", "NEW/1")}
    assert written[0].patient_id == client.app.state.guardian.patient_id(NHS[10]).hex


def test_keys_are_matched_without_regard_to_case_and_unknown_keys_are_ignored(client, tokens):
    body = {k.upper(): v for k, v in row(NHS[11], "UPPER-1", HOME).items()}
    body["SOMETHING_ELSE"] = "ignored"
    assert post(client, tokens["admin"], body, expect=201).json()["pathway_id"] == "UPPER-1"


def test_a_session_post_needs_the_csrf_token(client):
    sign_in(client, "coordinator")
    body = row(NHS[12], "CSRF-1", HOME)
    refused = client.post("/api/v1/referrals", json=body)
    assert refused.status_code == 403 and "security token" in refused.json()["detail"]
    ok = client.post("/api/v1/referrals", json=body, headers={"X-CSRF-Token": csrf_of(client)})
    assert ok.status_code == 201, ok.text




BAD_VALUES = [
    ({"nhs_number": "9434765918"}, "nhs_number"),
    ({"person_birth_date": "1958-02-30"}, "person_birth_date"),
    ({"referral_request_received_date": (dt.date.today() + dt.timedelta(days=3)).isoformat()},
     "referral_request_received_date"),
    ({"organisation_identifier_code_of_provider": "R!"},
     "organisation_identifier_code_of_provider"),
    ({"general_medical_practice_code": "Z99999"}, "general_medical_practice_code"),
    ({"activity_treatment_function_code": "11"}, "activity_treatment_function_code"),
    ({"priority_type_code": "9"}, "priority_type_code"),
    ({"priority_type_code": 1}, "priority_type_code"),  # a number, not a string
    ({"referral_to_treatment_period_start_date": ""},
     "referral_to_treatment_period_start_date"),
    # a NUL would poison the read models on PostgreSQL; a lone surrogate cannot be stored
    ({"patient_given_name": "A\u0000B"}, "patient_given_name"),
    ({"local_patient_identifier": "L1\ud800"}, "local_patient_identifier"),
    ({"patient_phone": "0123\n456"}, "patient_phone"),
]


def test_bad_values_are_422_naming_the_field(client, tokens):
    for change, field in BAD_VALUES:
        r = post(client, tokens["coordinator"], row(NHS[13], "BAD-1", HOME, **change))
        assert ["body", field] in locs(r), change
        assert all(e["msg"] for e in r.json()["detail"])
    assert client.get("/api/v1/referrals/BAD-1", headers=tokens["admin"]).status_code == 404


def test_missing_fields_are_each_named(client, tokens):
    body = row(NHS[13], "BAD-2", HOME)
    del body["nhs_number"], body["priority_type_code"]
    assert sorted(locs(post(client, tokens["coordinator"], body))) == [
        ["body", "nhs_number"], ["body", "priority_type_code"]]


def test_a_body_that_is_not_a_json_object_is_422(client, tokens):
    for content in ["not json", "[1, 2]", "", '"a string"']:
        r = client.post("/api/v1/referrals", content=content,
                        headers={**tokens["coordinator"], "Content-Type": "application/json"})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"][0] == "body", content


def test_a_practice_outside_the_coordinators_pcns_is_a_field_error(client, engine, tokens):
    r = post(client, tokens["coordinator"], row(NHS[14], "OUT-1", THURROCK))
    assert locs(r) == [["body", "general_medical_practice_code"]]
    assert "outside the practices you may record" in r.json()["detail"][0]["msg"]
    assert client.get("/api/v1/referrals/OUT-1", headers=tokens["admin"]).status_code == 404


def test_a_coordinator_cannot_change_or_take_over_another_pcns_referral(seeded, engine,
                                                                       tokens):
    # API-3 is registered in Thurrock: moving it to the coordinator's practice is refused
    moved = row(NHS[2], "API-3", HOME, waited=22)
    r = post(seeded, tokens["coordinator"], moved)
    assert locs(r) == [["body", "patient_pathway_identifier"]]
    view = seeded.get("/api/v1/referrals/API-3", headers=tokens["admin"]).json()
    assert view["practice_code"] == THURROCK
    assert entries(engine, "denied-patient")[0].user_email == "sam@guardian.test"
    # an admin may
    assert post(seeded, tokens["admin"], moved, expect=200).json()["result"] == "updated"


def test_a_known_pathway_under_another_nhs_number_is_rejected(seeded, tokens):
    r = post(seeded, tokens["coordinator"], row(NHS[20], "API-1", HOME, waited=20))
    assert locs(r) == [["body", "nhs_number"]]


def test_only_coordinators_and_admins_post_referrals(client, tokens):
    for role in ("gp", "place-lead"):
        r = post(client, tokens[role], row(NHS[15], "ROLE-1", HOME))
        assert r.status_code == 404 and r.json()["detail"] == "Not Found", role
    assert client.get("/api/v1/referrals/ROLE-1", headers=tokens["admin"]).status_code == 404


# ---------------------------------------------------------------------------- GET referral


def test_the_status_has_stage_waits_outstanding_workup_diagnostics_and_history(seeded,
                                                                              tokens):
    guardian = seeded.app.state.guardian
    pid = guardian.patient_id(NHS[0])
    guardian.require_workup_item(pid, "RAJ", "API-1", "bloods", "Full blood count", "practice")
    guardian.order_diagnostic(pid, "RAJ", "API-1", "t1", "mri")
    seeded.app.state.runner.run_once()
    view = seeded.get("/api/v1/referrals/API-1", headers=tokens["gp"]).json()
    assert view["stage"] == "awaiting-workup" and view["stage_label"]
    assert view["waited_days"] == 20 and view["waited_weeks"] == 2
    assert view["as_of"] == today().isoformat()
    owners = {o["what"]: o["owner"] for o in view["outstanding"]}
    assert owners == {"Workup: Full blood count": "practice", "Test result: MRI": "hospital"}
    assert [(w["item_id"], w["completed_on"]) for w in view["workup"]] == [("bloods", None)]
    assert [(d["test"], d["test_name"], d["resulted_on"]) for d in view["diagnostics"]] == [
        ("mri", "MRI", None)]
    assert view["deadlines"] and all(d["breach_on"] for d in view["deadlines"])
    assert view["breaches"] == []
    assert len(view["history"]) >= 3
    assert view["expected_wait"]["known"] is False  # no completed waits to go by


REFERRAL_SCOPE = [
    ("coordinator", "API-1", 200), ("coordinator", "API-2", 200),
    ("coordinator", "API-3", 404),  # another PCN
    ("gp", "API-1", 200), ("gp", "API-2", 404),  # another practice
    ("place-lead", "API-3", 404), ("place-lead", "API-1", 404),  # never patient-level
    ("admin", "API-3", 200),
]


def test_referral_scope(seeded, engine, tokens):
    for role, pathway_id, expected in REFERRAL_SCOPE:
        case = (role, pathway_id)
        views, denials = (len(entries(engine, a)) for a in ("view-referral", "denied-patient"))
        r = seeded.get(f"/api/v1/referrals/{pathway_id}", headers=tokens[role])
        assert r.status_code == expected, (case, r.text)
        if expected == 200:
            assert r.json()["pathway_id"] == pathway_id
            seen = entries(engine, "view-referral")[0]
            assert (seen.user_email, seen.provider, seen.pathway_id) == (
                ACCOUNTS[role][0], "RAJ", pathway_id)
            assert UUID(seen.patient_id)
        else:
            assert r.json()["detail"] == "Not Found", case
            assert len(entries(engine, "view-referral")) == views, case
            if role != "place-lead":  # a place lead is turned away before any lookup
                denied = entries(engine, "denied-patient")
                assert len(denied) == denials + 1, case
                assert denied[0].user_email == ACCOUNTS[role][0]


def test_an_unknown_pathway_is_404(seeded, tokens):
    for path in ("NOPE", "API-1?provider=RQW", "x" * 80):
        assert seeded.get(f"/api/v1/referrals/{path}", headers=tokens["admin"]).status_code \
            == 404
    for path in ("%00", "API%00-1", "API%C2%85-1"):  # control characters: bad input, 422
        assert locs(seeded.get(f"/api/v1/referrals/{path}", headers=tokens["admin"])) == [
            ["path", "pathway_id"]]


def test_a_pathway_id_two_providers_use_is_409_naming_the_ones_in_scope(seeded, tokens):
    coordinator = tokens["coordinator"]
    r = seeded.get("/api/v1/referrals/SHARED-1", headers=coordinator)
    assert r.status_code == 409
    assert r.json()["providers"] == ["RAJ", "RQW"] and "?provider=" in r.json()["detail"]
    chosen = seeded.get("/api/v1/referrals/SHARED-1?provider=rqw", headers=coordinator)
    assert chosen.status_code == 200 and chosen.json()["provider"] == "RQW"
    assert chosen.json()["patient"]["nhs_number"] == NHS[4]
    # the GP sees one of the two: answered without asking
    gp = seeded.get("/api/v1/referrals/SHARED-1", headers=tokens["gp"])
    assert gp.status_code == 200 and gp.json()["provider"] == "RAJ"
    assert seeded.get("/api/v1/referrals/SHARED-1?provider=RQW",
                      headers=tokens["gp"]).status_code == 404
    # SPLIT-1's second provider is outside the coordinator's scope: never named
    split = seeded.get("/api/v1/referrals/SPLIT-1", headers=coordinator)
    assert split.status_code == 200 and split.json()["provider"] == "RAJ"
    assert seeded.get("/api/v1/referrals/SPLIT-1?provider=RQW",
                      headers=coordinator).status_code == 404
    both = seeded.get("/api/v1/referrals/SPLIT-1", headers=tokens["admin"])
    assert both.status_code == 409 and both.json()["providers"] == ["RAJ", "RQW"]


def test_a_bad_provider_parameter_is_422(seeded, tokens):
    r = seeded.get("/api/v1/referrals/SHARED-1?provider=R!", headers=tokens["coordinator"])
    assert locs(r) == [["query", "provider"]]
