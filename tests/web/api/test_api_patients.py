"""`GET /api/v1/patients?q=`, the patient search, on SQLite and PostgreSQL (docs/api.md,
"Finding a patient"): every way of searching, scope by pathway (another PCN's patient is
answered exactly as an unknown one; an admin sees all), closed pathways, names beside
codes, 422 naming `q`, 404 for other roles, and the audit of every search.
"""

from __future__ import annotations

import uuid

import pytest
from api_helpers import HOME, NEIGHBOUR, NHS, THURROCK, entries, locs, post, row

from guardian.domain.identifiers import format_nhs_number

# One backend: the API's shape and scope; the search's SQL runs on both in
# tests/projections/test_search.py.
pytestmark = pytest.mark.one_backend

# (pathway id, practice, provider, NHS number index, family name, given name, birth date)
PEOPLE = [
    ("FIND-1", HOME, "RAJ", 20, "O'Brien", "Siobhán", "1961-07-02"),
    ("FIND-2", NEIGHBOUR, "RQW", 21, "Ní Bhriain", "Aoife", "1975-01-30"),
    ("FIND-3", HOME, "RAJ", 22, "Smith-Jones", "Mary", "1950-12-01"),
    ("FIND-4", HOME, "RAJ", 23, "Okafor", "Grace", "1958-03-14"),
    ("FIND-5", HOME, "RAJ", 24, "Okafor", "Daniel", "1990-06-05"),
    ("FIND-6", THURROCK, "RAJ", 25, "Okafor", "Ruth", "1958-03-14"),  # another PCN's
    # one patient, two referrals: one in the coordinator's PCN, one in Thurrock
    ("FIND-7", HOME, "RAJ", 26, "Adeyemi", "Tunde", "1944-04-04"),
    ("FIND-8", THURROCK, "RQW", 26, "Adeyemi", "Tunde", "1944-04-04"),
]
UBRN = "123456789012"


@pytest.fixture
def people(client, tokens):
    for pathway_id, practice, provider, n, family, given, born in PEOPLE:
        extra = {"ubrn": UBRN} if pathway_id == "FIND-3" else {}
        post(client, tokens["admin"], row(
            NHS[n], pathway_id, practice, provider, person_birth_date=born,
            patient_family_name=family, patient_given_name=given, **extra), expect=201)
    return client


def find(client, headers, q, status=200):
    r = client.get("/api/v1/patients", params={"q": q}, headers=headers)
    assert r.status_code == status, r.text
    return r


def ids(client, headers, q) -> list[str]:
    """Each patient found as 'Family, Given: pathway ids'."""
    return [f"{p['family_name']}, {p['given_name']}: "
            + " ".join(w["pathway_id"] for w in p["pathways"])
            for p in find(client, headers, q).json()["results"]]


def test_by_nhs_number_with_spaces_with_names_beside_codes(people, tokens, engine):
    r = find(people, tokens["coordinator"], format_nhs_number(NHS[23]))
    assert r.headers["cache-control"] == "no-store"
    (found,) = r.json()["results"]
    assert found["nhs_number"] == NHS[23] and r.json()["more"] is False
    assert (found["family_name"], found["given_name"], found["birth_date"]) == \
        ("Okafor", "Grace", "1958-03-14")
    (pathway,) = found["pathways"]
    assert pathway["provider"] == "RAJ" and pathway["pathway_id"] == "FIND-4"
    assert pathway["provider_name"] and pathway["provider_name"] != "RAJ"
    assert pathway["practice_code"] == HOME and pathway["practice_name"]
    assert pathway["pcn_code"] == "U90001" and pathway["pcn_name"]
    assert pathway["treatment_function"] == "110"
    assert pathway["treatment_function_name"] == "Trauma and Orthopaedics"
    assert pathway["stage"] == "awaiting-first-appointment" and pathway["open"] is True
    uuid.UUID(hex=found["patient_id"])
    (entry,) = entries(engine, "find-patient")
    assert entry.patient_id == found["patient_id"] and entry.user_email == "sam@guardian.test"
    assert entry.detail == f"search {format_nhs_number(NHS[23])!r} as NHS number: 1 found"


def test_names_with_apostrophes_accents_and_hyphens(people, tokens):
    coordinator = tokens["coordinator"]
    for q in ("O'Brien", "o’brien", "OBRIEN", "o brien"):
        assert ids(people, coordinator, q) == ["O'Brien, Siobhán: FIND-1"], q
    for q in ("Ní Bhriain", "ni bhriain", "NIBHRIAIN", "Ní Bhriain, Aoife", "Aoife Ni Bhriain"):
        assert ids(people, coordinator, q) == ["Ní Bhriain, Aoife: FIND-2"], q
    for q in ("Smith-Jones", "smith jones", "Smith", "smithj"):
        assert ids(people, coordinator, q) == ["Smith-Jones, Mary: FIND-3"], q


def test_a_family_name_with_a_given_name_or_a_date_of_birth(people, tokens):
    coordinator = tokens["coordinator"]
    both = ["Okafor, Daniel: FIND-5", "Okafor, Grace: FIND-4"]  # in name order
    assert ids(people, coordinator, "okafor") == both
    for q in ("Okafor Grace", "Grace Okafor", "Okafor, Grace", "okafor gr"):
        assert ids(people, coordinator, q) == ["Okafor, Grace: FIND-4"], q
    for q in ("Okafor 14/03/1958", "14-03-1958 okafor", "Okafor 1958-03-14"):
        assert ids(people, coordinator, q) == ["Okafor, Grace: FIND-4"], q
    assert ids(people, coordinator, "Okafor 15/03/1958") == []


def test_by_pathway_id_and_by_ubrn(people, tokens):
    coordinator = tokens["coordinator"]
    assert ids(people, coordinator, "FIND-3") == ["Smith-Jones, Mary: FIND-3"]
    assert ids(people, coordinator, "find-3") == ["Smith-Jones, Mary: FIND-3"]
    assert ids(people, coordinator, "1234 5678 9012") == ["Smith-Jones, Mary: FIND-3"]
    (found,) = find(people, coordinator, UBRN).json()["results"]
    assert found["pathways"][0]["ubrn"] == UBRN


def test_another_pcns_patient_is_answered_as_an_unknown_one(people, tokens, engine):
    coordinator = tokens["coordinator"]
    outside = find(people, coordinator, NHS[25])
    unknown = find(people, coordinator, NHS[39])
    assert outside.json() == unknown.json() == {"results": [], "more": False}
    assert outside.headers["cache-control"] == unknown.headers["cache-control"]
    assert ids(people, coordinator, "Okafor Ruth") == []
    assert ids(people, coordinator, "FIND-6") == ids(people, coordinator, "FIND-99") == []
    none = entries(engine, "find-patient-none")
    assert len(none) == 5 and all(e.patient_id is None for e in none)
    assert none[-1].detail == f"search {NHS[25]!r} as NHS number: 0 found"


def test_only_the_pathways_in_scope_are_shown_and_found(people, tokens):
    coordinator, admin = tokens["coordinator"], tokens["admin"]
    assert ids(people, coordinator, "Adeyemi") == ["Adeyemi, Tunde: FIND-7"]
    assert ids(people, coordinator, "FIND-8") == []  # the patient's other, Thurrock's
    assert ids(people, admin, "FIND-8") == ["Adeyemi, Tunde: FIND-7 FIND-8"]


def test_an_admin_sees_every_pcn(people, tokens):
    admin = tokens["admin"]
    assert ids(people, admin, "Okafor") == [
        "Okafor, Daniel: FIND-5", "Okafor, Grace: FIND-4", "Okafor, Ruth: FIND-6"]
    assert ids(people, admin, format_nhs_number(NHS[25])) == ["Okafor, Ruth: FIND-6"]


def test_closed_pathways_are_found_and_marked(people, tokens):
    (found,) = find(people, tokens["coordinator"], NHS[22]).json()["results"]
    guardian = people.app.state.guardian
    guardian.stop_clock(uuid.UUID(hex=found["patient_id"]), "RAJ", "FIND-3", "30",
                        on=guardian.today())
    people.app.state.runner.run_once()
    (found,) = find(people, tokens["coordinator"], "Smith-Jones").json()["results"]
    assert [(w["pathway_id"], w["open"], w["stage"]) for w in found["pathways"]] == [
        ("FIND-3", False, "clock-stopped")]


@pytest.mark.parametrize("q", ["", " ", "a"])
def test_a_text_too_short_is_422_naming_q(people, tokens, q):
    r = find(people, tokens["coordinator"], q, status=422)
    assert locs(r) == [["query", "q"]]
    assert "at least 2 characters" in r.json()["detail"][0]["msg"]


def test_without_q_or_with_too_long_a_q_is_422(people, tokens):
    r = people.get("/api/v1/patients", headers=tokens["coordinator"])
    assert locs(r) == [["query", "q"]]
    assert locs(find(people, tokens["admin"], "x" * 101, status=422)) == [["query", "q"]]


def test_a_partial_or_malformed_number_finds_nothing_without_an_error(people, tokens):
    assert find(people, tokens["coordinator"], NHS[23][:7]).json()["results"] == []
    bad = NHS[23][:9] + str((int(NHS[23][9]) + 1) % 10)
    assert find(people, tokens["coordinator"], bad).json()["results"] == []


@pytest.mark.parametrize("role", ["gp", "place-lead"])
def test_other_roles_get_404(people, tokens, role):
    r = find(people, tokens[role], NHS[20], status=404)
    assert r.json()["detail"] == "Not Found"


def test_without_credentials_401(people):
    r = people.get("/api/v1/patients", params={"q": NHS[20]})
    assert r.status_code == 401
