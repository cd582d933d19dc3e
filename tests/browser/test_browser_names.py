"""People and places by name, in a real browser on a desktop (1366 px) and a phone (390 px)
(docs/formats.md "Provider names", docs/access.md "Audit log"): the patient page heads each
referral with the hospital's name and names the coordinator, and the audit log tells who
did what to which patient in words; neither shows a practice, PCN or provider code without
its name, and neither scrolls sideways at 390 px.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))
from visible_text import bare_codes  # noqa: E402

MSE = "Mid and South Essex NHS Foundation Trust"


def reference(live) -> tuple[dict[str, str], set[str]]:
    """Every code's name, and the provider codes, from the served store."""
    names = dict(live.query("SELECT provider_code, provider_name FROM providers"))
    providers = set(names)
    for practice, practice_name, pcn, pcn_name in live.query(
            "SELECT practice_code, practice_name, pcn_code, pcn_name FROM organisations"):
        names[practice], names[pcn] = practice_name, pcn_name
    return names, providers


def a_patient(live) -> tuple[str, str, str]:
    """(patient id, family name, treatment function) of one of the coordinator's patients
    with an assigned coordinator, at Mid and South Essex."""
    pcns = live.orgs["coordinator"]
    marks = ",".join("?" * len(pcns))
    rows = live.query(
        "SELECT patient_id, family_name, treatment_function FROM worklist WHERE provider = "
        f"'RAJ' AND coordinator IS NOT NULL AND pcn_code IN ({marks}) ORDER BY patient_id "
        "LIMIT 1", tuple(pcns))
    assert rows, "the demo has no assigned pathway at RAJ in the coordinator's PCNs"
    return rows[0]


def check_names(page, live, width: int) -> None:
    names, providers = reference(live)
    text = re.sub(r"\s+", " ", page.locator("body").inner_text())
    assert not bare_codes(text, names, providers)
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def open_the_patient(signed_in, live, width: int):
    """A coordinator on the patient page of `a_patient`; the page and the family name."""
    pid, family, _ = a_patient(live)
    page = signed_in("coordinator", width=width)
    page.goto(f"/patients/{pid}")
    expect(page.locator("h1")).to_contain_text(family.upper())
    return page, family


@pytest.mark.parametrize("width", [1366, 390])
def test_the_patient_page_reads_names(signed_in, live, shoot, width):
    page, _ = open_the_patient(signed_in, live, width)
    heading = page.locator("h2.nhsuk-card__heading").first
    expect(heading).to_contain_text(f" at {MSE}")
    expect(heading).not_to_contain_text(" at RAJ")
    expect(page.locator(".guardian-timeline").first).to_contain_text(
        f"Referral received by {MSE}")
    check_names(page, live, width)
    shoot(page, f"14-names-patient-{width}")


@pytest.mark.parametrize("width", [1366, 390])
def test_the_audit_log_reads_in_words(signed_in, live, shoot, width):
    _, family = open_the_patient(signed_in, live, width)
    page = signed_in("admin", width=width)
    page.goto("/admin/audit?" + f"user={live.emails['coordinator']}")
    first = page.locator("table.guardian-audit tbody tr").first
    expect(first).to_contain_text("Viewed the patient's page")
    expect(first).to_contain_text(family.upper())
    expect(first).to_contain_text(re.compile(r"\(999 \d{3} \d{4}\)"))
    expect(first).not_to_contain_text("view-patient")
    expect(page.locator("table.guardian-audit")).to_contain_text("Signed in")
    check_names(page, live, width)
    shoot(page, f"14-names-audit-{width}")
