"""Names beside codes in the JSON API, on SQLite and PostgreSQL (docs/api.md "Names beside
codes"): every provider, practice, PCN and treatment function code an answer gives comes
with its name, every field that was there before is still there, and a code Guardian has
no name for comes back as its own name.
"""

from __future__ import annotations

import pytest
from api_helpers import HOME, NEIGHBOUR, NHS, post, row

# One backend: names beside codes in the answers.
pytestmark = pytest.mark.one_backend

MSE = "Mid and South Essex NHS Foundation Trust"
PAH = "The Princess Alexandra Hospital NHS Trust"
HOME_NAME = "Synthetic Basildon Town Centre Surgery (demo)"
HOME_PCN = "Demo Basildon Central PCN"


def test_a_written_referral_names_its_provider(client, tokens):
    r = post(client, tokens["admin"], row(NHS[20], "NAME-1", HOME), expect=201)
    body = r.json()
    assert body["provider"] == "RAJ" and body["provider_name"] == MSE
    assert set(body) >= {"result", "provider", "pathway_id", "href"}


def test_a_referral_gives_each_name_beside_its_code(seeded, tokens):
    r = seeded.get("/api/v1/referrals/API-1", headers=tokens["coordinator"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["provider"], body["provider_name"]) == ("RAJ", MSE)
    assert (body["practice_code"], body["practice_name"]) == (HOME, HOME_NAME)
    assert (body["pcn_code"], body["pcn_name"]) == ("U90001", HOME_PCN)
    assert (body["treatment_function"], body["treatment_function_name"]) == (
        "110", "Trauma and Orthopaedics")
    assert body["history"][0]["text"] == (
        f"Referral received by {MSE} for Trauma and Orthopaedics (routine)")
    assert "RAJ" not in body["summary"] and MSE in body["summary"]


def test_an_ambiguous_pathway_id_names_each_provider(seeded, tokens):
    r = seeded.get("/api/v1/referrals/SHARED-1", headers=tokens["coordinator"])
    assert r.status_code == 409
    body = r.json()
    assert sorted(body["providers"]) == ["RAJ", "RQW"]
    assert body["provider_names"] == {"RAJ": MSE, "RQW": PAH}


def test_worklist_rows_give_names_beside_codes(worklist, tokens):
    r = worklist.get("/api/v1/worklists/U90002", headers=tokens["coordinator"])
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["pcn_code"] == "U90002" and page["pcn_name"] == "Demo Basildon East PCN"
    (only,) = page["rows"]
    assert only["practice_code"] == NEIGHBOUR
    assert only["practice_name"] == "Synthetic Pitsea Family Practice (demo)"
    assert (only["pcn_code"], only["pcn_name"]) == ("U90002", "Demo Basildon East PCN")
    assert (only["provider"], only["provider_name"]) == ("RAJ", MSE)
    assert only["treatment_function_name"] == "Trauma and Orthopaedics"


def test_a_provider_without_a_name_reads_as_its_code(client, tokens):
    post(client, tokens["admin"], row(NHS[21], "NAME-2", HOME, provider="ZZ9"), expect=201)
    r = client.get("/api/v1/referrals/NAME-2", headers=tokens["admin"])
    assert r.status_code == 200, r.text
    assert r.json()["provider"] == "ZZ9" and r.json()["provider_name"] == "ZZ9"


def test_the_place_report_names_its_pcns(worklist, tokens):
    r = worklist.get("/api/v1/reports/bottlenecks", headers=tokens["place-lead"])
    assert r.status_code == 200, r.text
    (grays,) = r.json()["equity_by_pcn"]
    assert grays["group"] == "U90024" and grays["pcn_name"] == "Demo Grays PCN"
