"""Find a patient from the header, in a real browser, on a desktop and on a phone
(docs/api.md, "finding a patient"): a care coordinator types a family name into the search
box of the worklist's header, picks the patient by date of birth among those found, and
lands on the patient's page; the header's box is reached by keyboard, and neither page
scrolls sideways at 390 px.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

BOX = "Find a patient by NHS number, family name, pathway id or UBRN"


def namesakes(live) -> tuple[str, str, str]:
    """A family name two or more of the coordinator's patients share (open pathways in
    their PCNs), and one of them: (family name, date of birth, NHS number)."""
    pcns = live.orgs["coordinator"]
    marks = ",".join("?" * len(pcns))
    rows = live.query(
        "SELECT s.family_name, s.own_birth_date, s.nhs_number FROM patient_search s "
        "JOIN organisations o ON o.practice_code = s.practice_code "
        f"WHERE o.pcn_code IN ({marks}) AND s.is_open AND s.family_name IS NOT NULL "
        "GROUP BY s.patient_id ORDER BY s.family_name, s.nhs_number", tuple(pcns))
    by_name: dict[str, list[tuple[str, str]]] = {}
    for family, born, nhs in rows:
        by_name.setdefault(family, []).append((born, nhs))
    for family, people in sorted(by_name.items(), key=lambda kv: -len(kv[1])):
        births = [b for b, _ in people]
        if len(people) >= 2 and len(set(births)) == len(births):
            born, nhs = people[-1]
            return family, born, nhs
    pytest.fail("the demo has no family name shared by two of the coordinator's patients")


def no_sideways_scroll(page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.mark.parametrize("width", [1366, 390])
def test_type_a_family_name_pick_by_birth_date_open_the_patient(signed_in, live, shoot,
                                                                width):
    family, born, nhs = namesakes(live)
    page = signed_in("coordinator", width=width)
    box = page.get_by_label(BOX)
    expect(box).to_be_visible()
    no_sideways_scroll(page, width)

    # the box is reached from the top of the page by keyboard
    for _ in range(6):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "search-field":
            break
    assert page.evaluate("document.activeElement.id") == "search-field"
    page.keyboard.type(family.lower())
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/search\?q="))
    expect(page.get_by_role("heading", name="Find a patient", exact=True)).to_be_visible()
    found = page.locator("li.guardian-result")
    assert found.count() >= 2
    expect(page.locator("#results-heading")).to_contain_text("patients found")
    expect(page.locator("#q")).to_have_value(family.lower())
    no_sideways_scroll(page, width)
    shoot(page, f"14-search-results-{width}")

    birth = dt.date.fromisoformat(born).strftime("%-d %B %Y")
    theirs = found.filter(has_text=f"Born {birth}")
    expect(theirs).to_have_count(1)
    with page.expect_navigation():
        theirs.get_by_role("link").click()
    assert re.search(r"/patients/[0-9a-f]{32}$", page.url), page.url
    expect(page.locator("main")).to_contain_text(f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}")
    expect(page.locator("main")).to_contain_text(birth)
    no_sideways_scroll(page, width)


@pytest.mark.parametrize("width", [1366, 390])
def test_a_partial_number_is_explained_and_nothing_breaks(signed_in, live, shoot, width):
    page = signed_in("coordinator", width=width)
    page.get_by_label(BOX).fill("943 476")
    with page.expect_navigation():
        page.get_by_label(BOX).press("Enter")
    expect(page.get_by_role("heading", name="No patient found")).to_be_visible()
    expect(page.locator("main")).to_contain_text("An NHS number has 10 digits and a UBRN 12")
    no_sideways_scroll(page, width)
    shoot(page, f"14-search-none-{width}")
