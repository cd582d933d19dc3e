"""Things that must not happen (docs/journeys.md, docs/access.md): a coordinator opening
a patient of another PCN gets the "Page not found" page (and the attempt is audited),
while the admin sees that the patient exists."""

from __future__ import annotations

import re

from playwright.sync_api import expect


def test_coordinator_gets_404_for_a_patient_outside_their_pcns(signed_in, live):
    pcns = live.orgs["coordinator"]
    assert pcns, "demo-logins.txt names the coordinator's PCNs"
    marks = ", ".join("?" for _ in pcns)
    found = live.query(
        f"SELECT patient_id, max(nhs_number) FROM worklist GROUP BY patient_id "
        f"HAVING sum(CASE WHEN pcn_code IN ({marks}) THEN 1 ELSE 0 END) = 0 LIMIT 1",
        tuple(pcns))
    assert found, "the demo store has patients outside the coordinator's PCNs"
    patient_id, nhs_number = found[0]

    page = signed_in("coordinator")
    answer = page.goto(f"/patients/{patient_id}")
    assert answer.status == 404
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    expect(page).to_have_title(re.compile("Page not found"))
    body = page.content()
    assert nhs_number not in body and "Traceback" not in body

    admin = signed_in("admin")
    answer = admin.goto(f"/patients/{patient_id}")
    assert answer.status == 200
    digits = re.sub(r"\D", "", admin.locator(".guardian-patient-summary .guardian-id")
                    .first.inner_text())
    assert digits == nhs_number

    admin.goto(f"/admin/audit?patient={patient_id}&action=denied-patient")
    entries = admin.locator("#audit-results tbody tr")
    expect(entries.first).to_contain_text(live.emails["coordinator"])
    expect(entries.first).to_contain_text("Was refused a patient outside their scope")
