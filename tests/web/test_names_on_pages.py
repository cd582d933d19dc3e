"""No page of the demo shows an ODS or PCN code without its name (docs/formats.md
"Provider names"): the main pages of every role — worklist, patients, the GP's practice
overview, the place report, the audit log — are read as a person reads them (text, not
attribute values), and every practice code (a letter and five digits), PCN code (U and five
digits) and provider code of the providers table found must stand as "Name (CODE)". And the
audit log says in words which patient and what happened, with who by name.
"""

from __future__ import annotations

import re
import time
import uuid

import pytest
from sqlalchemy import select
from visible_text import bare_codes, visible_text
from web_helpers import csrf_of, sign_in

from guardian.domain.identifiers import format_nhs_number
from guardian.projections import worklist as wl
from guardian.projections.name_queries import load_names

pytestmark = pytest.mark.one_backend  # `demo`: tests/web/conftest.py


def _names(guardian):
    with guardian.engine.connect() as conn:
        names = load_names(conn)
    return {**names.providers, **names.practices, **names.pcns}, set(names.providers)


def _get(client, path: str) -> str:
    for _ in range(30):  # a place report may be "being prepared" (503) for a moment
        r = client.get(path)
        if r.status_code != 503:
            break
        time.sleep(1)
    assert r.status_code == 200, (path, r.status_code)
    return r.text


def _patients(guardian, *where, n: int = 4) -> list[str]:
    w = wl.worklist
    with guardian.engine.connect() as conn:
        found = conn.execute(select(w.c.patient_id).where(*where).distinct().limit(n))
        return [f"/patients/{pid}" for (pid,) in found]


def _check(client, pages: list[str], names: dict[str, str], providers: set[str]) -> None:
    problems = []
    for path in pages:
        for code in bare_codes(visible_text(_get(client, path)), names, providers):
            problems.append(f"{path}: {code}")
    assert not problems, "codes without their names:\n" + "\n".join(problems[:30])


def test_no_page_of_the_demo_shows_a_code_without_its_name(client, demo):
    names, providers = _names(demo)
    assert {"RAJ", "RQW", "RDE", "RGQ"} <= providers
    w = wl.worklist
    mine = w.c.pcn_code.in_(["U90001", "U90002"])

    sign_in(client, "coordinator")
    worklist = _get(client, "/worklist")
    practice = re.search(r'<option value="(Y\d{5})"', worklist).group(1)
    _check(client, [
        "/worklist", "/worklist?sort=days-waiting", f"/worklist?practice_code={practice}",
        "/worklist?provider=RAJ", "/worklist?pcn=U90002", "/search?q=Khan",
        *_patients(demo, mine, w.c.deterioration_since.is_not(None)),
        *_patients(demo, mine, w.c.coordinator.is_not(None)),
        *_patients(demo, mine, w.c.provider != "RAJ"),
    ], names, providers)

    sign_in(client, "gp")
    _check(client, ["/gp", *_patients(demo, w.c.practice_code == "Y90001")], names, providers)

    sign_in(client, "place-lead")
    _check(client, ["/reports"], names, providers)

    sign_in(client, "admin")
    _check(client, ["/worklist", "/reports?place=Thurrock", "/admin/audit", "/admin/users",
                    "/admin/audit?user=gp%40guardian.test",
                    *_patients(demo, w.c.pcn_code == "U90024", n=2)], names, providers)


def test_the_audit_log_says_who_did_what_to_which_patient_in_words(client, demo):
    w = wl.worklist
    with demo.engine.connect() as conn:
        row = conn.execute(select(w).where(w.c.pcn_code == "U90001",
                                           w.c.coordinator.is_(None)).limit(1)).first()
    assert row is not None
    sign_in(client, "coordinator")
    assert client.get("/worklist?pcn=U90002&filter=breached&filter=unassigned").status_code == 200
    assert client.get(f"/patients/{row.patient_id}").status_code == 200
    key = f"{row.provider}|{row.pathway_id}|{row.patient_id}"
    assigned = client.post("/worklist/assign", data={
        "pathway": key, "coordinator": "sam@guardian.test", "back": "/worklist",
        "csrf_token": csrf_of(client)}, follow_redirects=False)
    assert assigned.status_code == 303
    version = demo.get_patient(uuid.UUID(row.patient_id)).version
    again = client.post(f"/patients/{row.patient_id}/actions/assign", data={
        "pathway": f"{row.provider}|{row.pathway_id}", "coordinator": "sam@guardian.test",
        "version": str(version), "csrf_token": csrf_of(client)}, follow_redirects=False)
    assert again.status_code == 303, again.text

    sign_in(client, "admin")
    page = visible_text(_get(client, "/admin/audit?user=sam%40guardian.test"))
    person = f"{row.family_name.upper()}, {row.given_name} ({format_nhs_number(row.nhs_number)})"
    # (each cell opens with its column's heading, for the narrow layout)
    assert f"What happened Viewed the patient's page Patient {person}" in page
    with demo.engine.connect() as conn:
        named = load_names(conn)
    referral = (f"{named.treatment_function(row.treatment_function)} at "
                f"{named.provider(row.provider)} (pathway {row.pathway_id})")
    assert named.provider(row.provider) != row.provider
    # from the worklist and from the patient's page alike
    assert page.count(f"Assigned {referral} to Sam Patient {person} Referral {referral}") == 2
    assert "Entries for Sam" in page
    assert ("What happened Viewed the worklist Patient – Referral – Detail Demo Basildon East "
            "PCN (U90002); filtered: Breached, Unassigned") in page
    for raw in ("view-patient", "assign-coordinator", row.patient_id[:8]):
        assert raw not in page
    by_patient = visible_text(_get(client, f"/admin/audit?patient={row.nhs_number}"))
    assert f"Entries for {person}" in by_patient



def test_a_code_alone_is_found_and_a_named_one_is_not():
    names = {"RAJ": "Mid and South Essex NHS Foundation Trust", "Y90001": "Brook Surgery",
             "U90001": "Demo PCN"}
    text = ("Dermatology at RAJ · Brook Surgery (Y90001) · Y90002 · Demo PCN (U90001), "
            "U90001 · pathway RAJ-000123 · Mid and South Essex NHS Foundation Trust (RAJ)")
    found = [f.split(":")[0] for f in bare_codes(text, names, {"RAJ"})]
    assert found == ["RAJ", "Y90002", "U90001"]
