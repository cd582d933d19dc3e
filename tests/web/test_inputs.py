"""The one text rule at the web app's edge (docs/api.md "Input rules"): control characters,
lone surrogates, over-long values and out-of-range numbers and dates are bad input — 400
(pages) or 422 (API) naming the parameter — never a 500, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from sqlalchemy import func, select
from web_helpers import csrf_of, referred_patient, sign_in, sign_in_token

from guardian import audit
from guardian.domain.text import LIMITS


def bad_request(r, *names: str) -> None:
    """The site's bad-request page, naming each parameter."""
    assert r.status_code == 400, r.text[:500]
    assert "Sorry, that" in r.text
    for name in names:
        assert f"{name}: " in r.text, name


def locs(r) -> list[list]:
    assert r.status_code == 422, r.text[:500]
    return [e["loc"] for e in r.json()["detail"]]


def audit_rows(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(audit.audit_log)).scalar_one()


# ---------------------------------------------------------------------------- query, path


@pytest.mark.parametrize("role, url, name", [
    ("coordinator", "/worklist?practice_code=Y9%00", "practice_code"),
    ("coordinator", "/worklist?provider=RA%00J", "provider"),
    ("coordinator", "/worklist?treatment_function=1%001", "treatment_function"),
    ("coordinator", "/worklist?pcn=A%00", "pcn"),  # was: the denial's audit write failed
    ("coordinator", "/worklist?filter=breached&filter=%C2%85", "filter"),  # C1 control
    ("admin", "/admin/audit?user=a%00%40b.c", "user"),
    ("admin", "/admin/audit?patient=999%00", "patient"),
    ("admin", "/admin/audit?action=view%7F", "action"),  # DEL
    ("gp", "/gp?nhs_number=999%09526", "nhs_number"),  # a tab: not in a one-line value
    ("place-lead", "/reports?as_of=2026-01-01%00", "as_of"),
    ("place-lead", "/reports/trend.csv?by=%1B", "by"),
    ("coordinator", f"/patients/{'0' * 31}%00", "patient_ref"),
    ("coordinator", "/worklist?%00=1", "\\x00"),  # the name itself, shown escaped
])
def test_a_control_character_in_a_page_parameter_is_a_bad_request(
        client, engine, role, url, name):
    sign_in(client, role)
    before = audit_rows(engine)
    bad_request(client.get(url), name)
    assert "control character" in client.get(url).text
    assert audit_rows(engine) == before  # refused before anything was read or written


@pytest.mark.parametrize("url, loc", [
    ("/api/v1/worklists/U90001?practice=Y9%00", ["query", "practice"]),
    ("/api/v1/worklists/U90001?provider=R%00J", ["query", "provider"]),
    ("/api/v1/worklists/U90001?treatment_function=%C2%9F", ["query", "treatment_function"]),
    ("/api/v1/worklists/U90001?after=%00", ["query", "after"]),
    ("/api/v1/worklists/U90001%00", ["path", "pcn_code"]),
    ("/api/v1/referrals/X?provider=R%00J", ["query", "provider"]),
    ("/api/v1/reports/bottlenecks?place=Thurrock%00", ["query", "place"]),
])
def test_a_control_character_in_an_api_parameter_is_422_naming_it(client, url, loc):
    sign_in(client, "admin")
    r = client.get(url)
    assert locs(r) == [loc]
    assert r.json()["detail"][0]["type"] == "value_error"
    assert "control character" in r.json()["detail"][0]["msg"]


def test_a_long_parameter_is_a_bad_request(client):
    sign_in(client, "coordinator")
    bad_request(client.get("/worklist", params={"provider": "R" * (LIMITS["parameter"] + 1)}),
                "provider")
    assert client.get("/worklist", params={"provider": "R" * LIMITS["parameter"]}
                      ).status_code == 200


@pytest.mark.parametrize("url, name", [
    ("/admin/audit?before=9223372036854775808", "before"),  # was: 500 on SQLite
    ("/admin/audit?before=" + "9" * 5000, "before"),
    ("/worklist?assigned=9223372036854775808", "assigned"),
    ("/sign-in?ended=99999999999999999999", "ended"),
])
def test_integers_beyond_64_bits_are_a_bad_request(client, url, name):
    sign_in(client, "admin")
    bad_request(client.get(url), name)


def test_the_largest_integer_is_still_a_page(client):
    sign_in(client, "admin")
    assert client.get("/admin/audit?before=9223372036854775807").status_code == 200


@pytest.mark.parametrize("role", ["place-lead", "admin"])
def test_the_report_api_takes_the_report_pages_date_range(client, role):
    # One app for every date: each report computed starts the report helpers (report_pool).
    sign_in(client, role)
    for as_of in ["9999-12-31", "0001-01-01", "1999-12-31", "2999-01-01"]:
        r = client.get("/api/v1/reports/bottlenecks",
                       params={"place": "Thurrock", "as_of": as_of})
        assert locs(r) == [["query", "as_of"]], as_of
        assert client.get("/reports", params={"as_of": as_of}
                          | ({"place": "Thurrock"} if role == "admin" else {})
                          ).status_code == 400, as_of
    assert client.get("/api/v1/reports/bottlenecks",
                      params={"place": "Thurrock", "as_of": "2000-01-01"}).status_code == 200


def cursor(*values: str) -> str:
    """A worklist cursor in the one format (guardian/web/cursor.py), holding `values`."""
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


def test_a_worklist_page_link_holding_a_control_character_is_a_bad_page_link(client):
    """The page comes back to the list's first page, saying the link was not valid."""
    sign_in(client, "coordinator")
    bad = cursor("next-deadline", "2026-01-01", "R\x00J", "x")
    nested = base64.urlsafe_b64encode(b"[" * 1500).decode()  # deeper than Python recurses
    for after in (bad, nested):
        r = client.get("/worklist", params={"sort": "next-deadline", "after": after,
                                            "page": 2}, follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"] == "/worklist?sort=next-deadline&notice=bad-page"
    sign_in(client, "admin")
    assert locs(client.get("/api/v1/worklists/U90001", params={"after": nested})) == [
        ["query", "after"]]


# ---------------------------------------------------------------------------- forms


def sign_in_form(client, **fields: str):
    data = {"email": "sam@guardian.test", "password": "x", "csrf_token": sign_in_token(client),
            **fields}
    return client.post("/sign-in", data=data, follow_redirects=False)


@pytest.mark.parametrize("fields, name", [
    ({"email": "sam\x00@guardian.test"}, "email"),  # was: 500 on PostgreSQL
    ({"password": "pass\x00word"}, "password"),
    ({"email": "a@" + "b" * LIMITS["email"]}, "email"),
    ({"next": "/worklist\x1b"}, "next"),
])
def test_sign_in_refuses_bad_text_before_anything_is_looked_up(client, engine, fields, name):
    before = audit_rows(engine)
    r = sign_in_form(client, **fields)
    bad_request(r, name)
    assert "form could not be accepted" in r.text
    assert audit_rows(engine) == before  # not even a failed sign-in: nothing looked up


def test_a_sign_in_token_that_is_not_ascii_is_refused_not_a_crash(client):
    sign_in_token(client)  # the cookie half
    r = client.post("/sign-in", data={"email": "a@b.c", "password": "x", "csrf_token": "é"},
                    follow_redirects=False)
    assert r.status_code == 403


def test_a_session_csrf_token_that_is_not_ascii_is_refused_not_a_crash(client):
    sign_in(client, "coordinator")
    r = client.post("/sign-out", data={"csrf_token": "ünïcode"}, follow_redirects=False)
    assert r.status_code == 403


@pytest.fixture
def patient(client):
    guardian = client.app.state.guardian
    pid, pathway = referred_patient(guardian)
    client.app.state.runner.run_once()
    sign_in(client, "coordinator")
    return guardian, pid, pathway


def flag(client, patient, summary: str):
    guardian, pid, pathway = patient
    version = guardian.get_patient(uuid.UUID(pid)).version
    return client.post(f"/patients/{pid}/actions/deterioration-flagged", data={
        "csrf_token": csrf_of(client), "version": str(version), "pathway": pathway,
        "summary": summary}, follow_redirects=False)


def flags_of(patient) -> list[str]:
    guardian, pid, _ = patient
    return [f.summary for f in guardian.get_patient(uuid.UUID(pid)).flags.values()]


def test_a_note_takes_line_breaks_and_tabs_up_to_its_limit(client, patient):
    note = "Worse at night.\r\n\tCannot sleep." + "x" * (LIMITS["note"] - 31)
    assert len(note) == LIMITS["note"]
    assert flag(client, patient, note).status_code == 303
    assert flags_of(patient) == [note.strip()]


@pytest.mark.parametrize("summary, message", [
    ("x" * (LIMITS["note"] + 1), "at most 2000"),  # was: 1 MB notes taken and shown
    ("Worse\x00", "control character (U+0000)"),
    ("Worse\x0b at night", "control character (U+000B)"),
    ("Worse \x9b at night", "control character (U+009B)"),  # a C1 control
])
def test_a_form_field_breaking_the_rule_is_refused_and_nothing_recorded(
        client, patient, summary, message):
    r = flag(client, patient, summary)
    bad_request(r, "summary")
    assert message in r.text
    assert flags_of(patient) == []


def test_every_text_field_of_the_action_forms_carries_its_limit(client, patient):
    _, pid, _ = patient
    page = client.get(f"/patients/{pid}").text
    assert f'name="summary" rows="3" maxlength="{LIMITS["note"]}"' in page
    assert 'maxlength="200"' in page  # a one-line field (the workup item)
    sign_in(client, "admin")
    assert f'name="user" type="email" value="" maxlength="{LIMITS["email"]}"' in client.get(
        "/admin/audit").text


def test_a_json_body_value_breaking_the_rule_is_422_naming_it(client):
    sign_in(client, "admin")
    headers = {"X-CSRF-Token": csrf_of(client), "Content-Type": "application/json"}
    for field, value in [("patient_given_name", "Ann\x85e"), ("patient_family_name", "\x7f"),
                         ("patient_pathway_identifier", "P" * (LIMITS["identifier"] + 1)),
                         ("patient_family_name", "\ud800")]:
        r = client.post("/api/v1/referrals", headers=headers,
                        content=json.dumps({"nhs_number": "9995260182", field: value}))
        assert ["body", field] in locs(r), field  # a lone surrogate too: not echoed back
