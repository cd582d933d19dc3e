"""The JSON API under /api/v1, on SQLite and PostgreSQL.

Given the users of conftest (a coordinator of PCNs U90001 and U90002, a GP at Y90001 in
U90001, a place lead of Thurrock, an admin) and a few referrals posted through the API,
when each route is asked by each role, then each gets exactly its scope: out of scope is
404 (and audited), no or bad credentials 401, bad input 422 naming the field or parameter.
"""

from __future__ import annotations

import datetime as dt
import json
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from web_helpers import ACCOUNTS, csrf_of, sign_in

from guardian import audit, users
from guardian.domain.identifiers import nhs_check_digit
from guardian.projections.worklist import FILTERS

HOME = "Y90001"  # U90001: the coordinator's and the GP's
NEIGHBOUR = "Y90009"  # U90002: the coordinator's, not the GP's
THURROCK = "Y90141"  # U90024 in Thurrock: the place lead's place, nobody else's


def nhs_numbers():
    for n in range(999300001, 999999999):
        check = nhs_check_digit(str(n))
        if check is not None:
            yield f"{n}{check}"


NUMBERS = list(zip(range(40), nhs_numbers(), strict=False))
NHS = [number for _, number in NUMBERS]


def today() -> dt.date:
    return dt.date.today()


def days_ago(n: int) -> str:
    return (today() - dt.timedelta(days=n)).isoformat()


def row(nhs: str, pathway_id: str, practice: str, provider: str = "RAJ", waited: int = 30,
        **extra: str) -> dict[str, str]:
    body = {
        "nhs_number": nhs, "person_birth_date": "1958-03-14",
        "patient_pathway_identifier": pathway_id,
        "organisation_identifier_code_of_provider": provider,
        "general_medical_practice_code": practice,
        "referral_request_received_date": days_ago(waited),
        "referral_to_treatment_period_start_date": days_ago(waited),
        "activity_treatment_function_code": "110", "priority_type_code": "1",
        "patient_given_name": "Ada", "patient_family_name": f"Tester{pathway_id}",
    }
    body.update(extra)
    return body


def bearer(engine, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {users.create_token(engine, ACCOUNTS[role][0])}"}


@pytest.fixture
def tokens(engine):
    return {role: bearer(engine, role) for role in ACCOUNTS}


def post(client, headers, body, expect: int | None = None):
    # json.dumps escapes what is not ASCII, so even a lone surrogate can be sent
    r = client.post("/api/v1/referrals", content=json.dumps(body),
                    headers={**headers, "Content-Type": "application/json"})
    if expect is not None:
        assert r.status_code == expect, r.text
    return r


# The referrals most tests read: one per scope, a pathway id two providers share (both in
# the coordinator's scope), and one shared across scopes.
SEED = [
    ("API-1", HOME, "RAJ", NHS[0]),
    ("API-2", NEIGHBOUR, "RAJ", NHS[1]),
    ("API-3", THURROCK, "RAJ", NHS[2]),
    ("SHARED-1", HOME, "RAJ", NHS[3]),
    ("SHARED-1", NEIGHBOUR, "RQW", NHS[4]),
    ("SPLIT-1", HOME, "RAJ", NHS[5]),
    ("SPLIT-1", THURROCK, "RQW", NHS[6]),
]


@pytest.fixture
def seeded(client, tokens):
    for n, (pathway_id, practice, provider, nhs) in enumerate(SEED):
        post(client, tokens["admin"], row(nhs, pathway_id, practice, provider, waited=20 + n),
             expect=201)
    return client


def entries(engine, action):
    return audit.entries(engine, action=action, limit=200)


# ---------------------------------------------------------------------------- POST


def test_a_coordinator_posts_a_referral_and_reads_its_own_write(client, engine, tokens):
    coordinator = tokens["coordinator"]
    body = row(NHS[10], "NEW/1", HOME)
    created = post(client, coordinator, body, expect=201)
    href = "/api/v1/referrals/NEW%2F1?provider=RAJ"
    assert created.json() == {"result": "created", "provider": "RAJ", "pathway_id": "NEW/1",
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


def locs(response) -> list[list]:
    assert response.status_code == 422, response.text
    return [e["loc"] for e in response.json()["detail"]]


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
        assert r.status_code == 404 and r.json() == {"detail": "Not Found"}, role
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
            assert r.json() == {"detail": "Not Found"}, case
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


# ---------------------------------------------------------------------------- worklists


@pytest.fixture
def worklist(client, tokens):
    """Seven referrals in U90001 (two practices), one in U90002, one in Thurrock."""
    admin = tokens["admin"]
    for n in range(7):
        practice = HOME if n % 2 == 0 else "Y90002"
        post(client, admin, row(NHS[n], f"WL-{n}", practice, waited=10 + 3 * n,
                                priority_type_code="2" if n == 3 else "1"), expect=201)
    post(client, admin, row(NHS[7], "WL-7", NEIGHBOUR), expect=201)
    post(client, admin, row(NHS[8], "WL-8", THURROCK), expect=201)
    return client


def test_a_coordinator_reads_a_pcn_worklist_with_counts(worklist, engine, tokens):
    r = worklist.get("/api/v1/worklists/U90001", headers=tokens["coordinator"])
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["pcn_code"] == "U90001" and page["sort"] == "next-deadline"
    assert r.headers["cache-control"] == "no-store"
    assert page["as_of"] == today().isoformat() and page["next"] is None
    assert sorted(x["pathway_id"] for x in page["rows"]) == [f"WL-{n}" for n in range(7)]
    assert page["counts"]["all"] == 7 and set(FILTERS) <= set(page["counts"])
    assert page["counts"]["unassigned"] == 7
    first = next(x for x in page["rows"] if x["pathway_id"] == "WL-2")
    assert first["days_waiting"] == 16 and first["nhs_number"] == NHS[2]
    assert first["breached"] is False and first["pcn_code"] == "U90001"
    assert "deadline_sort" not in first and "wait_from" not in first
    (seen,) = entries(engine, "view-worklist")
    assert seen.user_email == "sam@guardian.test" and "pcn=U90001" in seen.detail


def test_attribute_filters_and_sorts(worklist, tokens):
    coordinator = tokens["coordinator"]

    def ids(**params):
        r = worklist.get("/api/v1/worklists/u90001", params=params, headers=coordinator)
        assert r.status_code == 200, r.text
        return [x["pathway_id"] for x in r.json()["rows"]]

    assert sorted(ids(practice="y90001")) == ["WL-0", "WL-2", "WL-4", "WL-6"]
    assert ids(priority=2) == ["WL-3"]
    assert ids(provider="RQW") == [] and len(ids(provider="raj")) == 7
    assert len(ids(treatment_function="110", stage="awaiting-first-appointment")) == 7
    assert ids(sort="days-waiting") == [f"WL-{n}" for n in range(6, -1, -1)]
    assert ids(filter=["unassigned", "workup-incomplete"]) == []
    r = worklist.get("/api/v1/worklists/U90001", params={"practice": HOME, "priority": 1},
                     headers=coordinator)
    assert r.json()["counts"]["all"] == 4
    assert r.json()["attributes"] == {"practice_code": HOME, "priority": 1}


@pytest.mark.parametrize("sort", ["next-deadline", "days-waiting"])
def test_keyset_pages_cover_the_list_once(worklist, tokens, sort):
    coordinator = tokens["coordinator"]
    whole = worklist.get("/api/v1/worklists/U90001", params={"sort": sort, "limit": 200},
                         headers=coordinator).json()["rows"]
    seen, after, pages = [], None, 0
    while True:
        params = {"sort": sort, "limit": 3, **({"after": after} if after else {})}
        page = worklist.get("/api/v1/worklists/U90001", params=params,
                            headers=coordinator).json()
        seen += [x["pathway_id"] for x in page["rows"]]
        pages += 1
        after = page["next"]
        if after is None:
            break
    assert seen == [x["pathway_id"] for x in whole] and len(seen) == 7 and pages == 3


BAD_PARAMETERS = [
    ({"filter": "nonsense"}, ["query", "filter", 0]),
    ({"filter": ["breached", "nonsense"]}, ["query", "filter", 1]),
    ({"sort": "alphabetical"}, ["query", "sort"]),
    ({"limit": 0}, ["query", "limit"]),
    ({"limit": 201}, ["query", "limit"]),
    ({"limit": "ten"}, ["query", "limit"]),
    ({"priority": 4}, ["query", "priority"]),
    ({"stage": "asleep"}, ["query", "stage"]),
    ({"practice": "nowhere"}, ["query", "practice"]),
    ({"provider": "R!"}, ["query", "provider"]),
    ({"treatment_function": "1100"}, ["query", "treatment_function"]),
    ({"after": "not-a-cursor"}, ["query", "after"]),
    ({"after": "W10="}, ["query", "after"]),  # base64 of "[]"
    ({"after": "WyJuZXh0LWRlYWRsaW5lIiwiMjAyNi0wMi0zMCIsIlJBSiIsIngiXQ=="},
     ["query", "after"]),  # ["next-deadline","2026-02-30","RAJ","x"]
    ({"after": "WyJuZXh0LWRlYWRsaW5lIiwiMjAyNi0wMi0yOCIsIlJcdTAwMDAiLCJ4Il0="},
     ["query", "after"]),  # a NUL in the provider
]


def test_bad_worklist_parameters_are_422_naming_the_parameter(worklist, tokens):
    for params, loc in BAD_PARAMETERS:
        r = worklist.get("/api/v1/worklists/U90001", params=params,
                         headers=tokens["coordinator"])
        assert locs(r) == [loc], params


def test_a_cursor_from_another_sort_is_422(worklist, tokens):
    coordinator = tokens["coordinator"]
    cursor = worklist.get("/api/v1/worklists/U90001", params={"limit": 2},
                          headers=coordinator).json()["next"]
    r = worklist.get("/api/v1/worklists/U90001", headers=coordinator,
                     params={"after": cursor, "sort": "days-waiting"})
    assert locs(r) == [["query", "after"]] and "sort=next-deadline" in r.json()["detail"][0][
        "msg"]


WORKLIST_SCOPE = [
    ("coordinator", "U90001", 200), ("coordinator", "U90002", 200),
    ("coordinator", "U90024", 404),  # another PCN
    ("gp", "U90001", 404),  # a GP's view is their practice, not the PCN worklist
    ("place-lead", "U90024", 404),
    ("admin", "U90024", 200), ("admin", "U99999", 404),  # no such PCN
    ("admin", "U900011111", 404),
    ("admin", "U9%000", 422),  # a control character: refused as input (docs/api.md)
]


def test_worklist_scope(worklist, engine, tokens):
    for role, pcn, expected in WORKLIST_SCOPE:
        views = len(entries(engine, "view-worklist"))
        r = worklist.get(f"/api/v1/worklists/{pcn}", headers=tokens[role])
        assert r.status_code == expected, (role, pcn)
        if expected == 200:
            assert {x["pcn_code"] for x in r.json()["rows"]} == {pcn}
            assert len(entries(engine, "view-worklist")) == views + 1
        else:
            assert r.json() == ({"detail": "Not Found"} if expected == 404 else {"detail": [
                {"loc": ["path", "pcn_code"], "type": "value_error",
                 "msg": "contains a control character (U+0000), which is not allowed"}]})
            assert len(entries(engine, "view-worklist")) == views


# ---------------------------------------------------------------------------- reports


def test_a_place_lead_gets_their_places_report_suppressed(worklist, engine, tokens):
    r = worklist.get("/api/v1/reports/bottlenecks", headers=tokens["place-lead"])
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["place"] == "Thurrock" and report["suppressed"] is True
    assert report["as_of"] == today().isoformat()
    (grays,) = report["equity_by_pcn"]
    assert grays["group"] == "U90024"
    assert grays["waiting"] == "*" and grays["median_weeks"] == "*"  # one pathway: hidden
    assert NHS[8] not in r.text and "TesterWL-8" not in r.text and "WL-8" not in r.text
    same = worklist.get("/api/v1/reports/bottlenecks",
                        params={"place": "thurrock", "as_of": days_ago(7)},
                        headers=tokens["place-lead"])
    assert same.status_code == 200 and same.json()["as_of"] == days_ago(7)
    assert [e.detail for e in entries(engine, "view-report")][-1].startswith(
        "bottlenecks place=Thurrock")


REPORT_SCOPE = [
    ("place-lead", "Mid Essex", 404),  # another place
    ("place-lead", "Atlantis", 404),  # no such place
    ("coordinator", "Basildon and Brentwood", 404),
    ("coordinator", None, 404),
    ("gp", "Basildon and Brentwood", 404),
    ("admin", "Mid Essex", 200), ("admin", "Atlantis", 404),
]


def test_report_scope(worklist, tokens):
    for role, place, expected in REPORT_SCOPE:
        r = worklist.get("/api/v1/reports/bottlenecks",
                         params={"place": place} if place else {}, headers=tokens[role])
        assert r.status_code == expected, (role, place, r.text)
        if expected == 200:
            assert r.json()["place"] == place and r.json()["suppressed"] is True


def test_report_parameters(worklist, tokens):
    assert locs(worklist.get("/api/v1/reports/bottlenecks", headers=tokens["admin"])) == [
        ["query", "place"]]
    bad_date = worklist.get("/api/v1/reports/bottlenecks",
                            params={"place": "Thurrock", "as_of": "2026-02-30"},
                            headers=tokens["place-lead"])
    assert locs(bad_date) == [["query", "as_of"]]


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


def test_every_route_documents_its_answers(client):
    schema = client.get("/openapi.json").json()
    expected = {
        ("post", "/api/v1/referrals"): {"200", "201", "401", "403", "404", "409", "422"},
        ("get", "/api/v1/referrals/{pathway_id}"): {"200", "401", "403", "404", "409", "422"},
        ("get", "/api/v1/worklists/{pcn_code}"): {"200", "401", "403", "404", "422"},
        ("get", "/api/v1/reports/bottlenecks"): {"200", "401", "403", "404", "422", "503"},
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
