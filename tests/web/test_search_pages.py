"""The search page, `GET /search?q=`, and the search box in the header, on SQLite and
PostgreSQL: results open the patient, one NHS number in scope goes straight to the patient,
another PCN's patient reads exactly as an unknown one, bad input gets a message on the
page (never an error page), and only coordinators and admins may search.
"""

from __future__ import annotations

import re

import pytest
from web_helpers import referred_patient, sign_in, without_csrf

from guardian import audit
from guardian.domain.identifiers import format_nhs_number

# One backend: the search pages; the search's SQL runs on both in tests/projections/test_search.py.
pytestmark = pytest.mark.one_backend

MINE, OTHERS, UNKNOWN = "9995260182", "9434765919", "9434765870"
THURROCK = "Y90141"


@pytest.fixture
def patients(client):
    guardian = client.app.state.guardian
    mine, _ = referred_patient(guardian, "SEARCH-1", MINE)
    others, _ = referred_patient(guardian, "SEARCH-2", OTHERS, practice=THURROCK)
    client.app.state.runner.run_once()
    return mine, others


def search(client, q, status=200):
    r = client.get("/search", params={"q": q}, follow_redirects=False)
    assert r.status_code == status, r.text
    return r


def test_the_header_has_the_search_box_for_coordinators_and_admins_only(client, patients):
    for role, has_box in (("coordinator", True), ("admin", True), ("gp", False),
                          ("place-lead", False)):
        sign_in(client, role)
        page = client.get("/").text
        assert ('id="search-field"' in page) is has_box, role
        if has_box:
            assert re.search(r'<label[^>]*for="search-field"[^>]*>Find a patient', page)
            assert 'action="/search"' in page


def test_a_name_finds_the_patient_with_a_link_to_their_page(client, patients):
    mine, _ = patients
    sign_in(client, "coordinator")
    page = search(client, "example").text
    assert "1 patient found" in page and f'href="/patients/{mine}"' in page
    assert format_nhs_number(MINE) in page and "1 May 1960" in page
    assert "EXAMPLE, Ada" in page and "Trauma and Orthopaedics at" in page
    assert "Pathway SEARCH-1" in page and "SEARCH-2" not in page  # Thurrock's


def test_one_nhs_number_in_scope_opens_the_patient(client, patients, engine):
    mine, _ = patients
    sign_in(client, "coordinator")
    r = search(client, format_nhs_number(MINE), status=303)
    assert r.headers["location"] == f"/patients/{mine}"
    (entry,) = audit.entries(engine, action="find-patient")
    assert entry.patient_id == mine


def test_another_pcns_patient_reads_as_an_unknown_one(client, patients, engine):
    sign_in(client, "coordinator")
    outside = without_csrf(search(client, OTHERS).text).replace(OTHERS, "NUMBER")
    unknown = without_csrf(search(client, UNKNOWN).text).replace(UNKNOWN, "NUMBER")
    assert outside == unknown and "No patient found" in outside
    assert len(audit.entries(engine, action="find-patient-none")) == 2


def test_an_admin_finds_every_pcns_patient(client, patients):
    _, others = patients
    sign_in(client, "admin")
    assert search(client, OTHERS, status=303).headers["location"] == f"/patients/{others}"


def test_a_partial_or_malformed_number_is_explained_on_the_page(client, patients):
    sign_in(client, "coordinator")
    page = search(client, "999 526").text
    assert "No patient found" in page
    assert "An NHS number has 10 digits and a UBRN 12: “999 526” has 6." in page
    page = search(client, "999 526 0183").text
    assert "its check digit does not match" in page


def test_too_short_a_search_is_a_message_beside_the_field(client, patients):
    sign_in(client, "coordinator")
    page = search(client, "e", status=422).text
    assert "There is a problem" in page and "Type at least 2 characters" in page
    assert 'aria-describedby="q-hint q-error"' in page
    empty = search(client, "").text
    assert "Find a patient" in empty and "There is a problem" not in empty


@pytest.mark.parametrize("role", ["gp", "place-lead"])
def test_other_roles_get_404(client, patients, role):
    sign_in(client, role)
    search(client, "example", status=404)
