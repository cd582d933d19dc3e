"""docs/journeys.md, "The GP practice", on a phone and on a desktop: the practice overview
puts the workup the practice owes first (overdue first) with its counts in words, and the
status page opens each referral with the expected wait, what the practice still needs to do
and what happens next in plain English. At 390 px neither page scrolls sideways, and the
search and its button are big enough for a thumb."""

from __future__ import annotations

import re

import pytest
from browser_helpers import action, submit
from playwright.sync_api import Page, expect

WIDTHS = [1366, 390]


def assert_no_sideways_scroll(page: Page, width: int) -> None:
    scroll = page.evaluate("document.documentElement.scrollWidth")
    wide = page.evaluate(f"""[...document.querySelectorAll('body *')].filter(e =>
        e.getBoundingClientRect().right > {width} + 1).slice(-4).map(e =>
        e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))""")
    assert scroll <= width, f"{page.url} is {scroll} px wide at {width} px: {wide}"


def practice_owes_workup(page: Page, signed_in) -> None:
    """Unless the practice already owes workup, a coordinator asks it for some on the first
    referral of the practice's list (so that both pages show what is owed)."""
    if page.locator(".guardian-gp-card").count():
        return
    with page.expect_navigation():
        page.locator(".guardian-gp-table tbody a").first.click()
    card_id = page.locator("section.guardian-pathway").first.get_attribute("id")
    coordinator = signed_in("coordinator")
    coordinator.goto(page.url)
    coordinator.reload()  # the first opening marks what is new as seen
    form = action(coordinator.locator(f'section[id="{card_id}"]'), "Ask for workup")
    form.get_by_label("Workup needed").fill("Photographs of the lesion (browser test)")
    form.get_by_label("From").select_option(label="The GP practice")
    submit(form, "Ask for workup")
    expect(coordinator.locator(".guardian-done")).to_contain_text("Recorded")
    page.goto("/gp")
    expect(page.locator(".guardian-gp-card").first).to_be_visible()


def long_words(page: Page, selectors: list[str]) -> None:
    """Put a 60-letter word into the first element of each selector (in this page only)."""
    for selector in selectors:
        page.locator(selector).first.evaluate(
            "(e) => { e.textContent = 'WOLFESCHLEGELSTEINHAUSENBERGERDORFF'.repeat(2) + "
            "' 9991234560999123456099912345609991234560'; }")


@pytest.mark.parametrize("width", WIDTHS)
def test_gp_overview_on_a_phone_and_a_desktop(signed_in, shoot, width):
    page = signed_in("gp", width=width)
    practice_owes_workup(page, signed_in)
    attention = page.get_by_role("heading", name="Needs your attention first")
    expect(attention).to_be_visible()
    lead = page.locator(".guardian-gp-lead")
    expect(lead).to_have_text(re.compile(
        r"^The practice owes workup on (1 referral; it is (not )?overdue( yet)?|[\d,]+ "
        r"referrals; (none is|[\d,]+ of them (is|are)) overdue)\.$"))
    expect(page.locator(".guardian-gp-card").first).to_contain_text(
        re.compile(r"asked for on \d{1,2} [A-Z][a-z]+ \d{4}"))
    # the attention list comes before the counts and the table, overdue cards first
    cards = page.locator(".guardian-gp-card")
    overdue = [("guardian-gp-card--overdue" in (c.get_attribute("class") or ""))
               for c in cards.all()]
    assert overdue == sorted(overdue, reverse=True), overdue
    counts = page.locator(".guardian-counts li")
    expect(counts.first).to_have_text(re.compile(r"^[\d,]+ referrals? (is|are) waiting\.$"))
    heading_y = attention.bounding_box()["y"]
    assert heading_y < page.locator(".guardian-counts").bounding_box()["y"]
    assert heading_y < page.locator(".guardian-gp-table").bounding_box()["y"]
    assert_no_sideways_scroll(page, width)
    if width == 390:  # stacked rows, the column's name beside each value; thumb-sized search
        row = page.locator(".guardian-gp-table tbody tr").first
        expect(row.locator(".nhsuk-table-responsive__heading").first).to_be_visible()
        box = page.locator("#nhs_number").bounding_box()
        assert box["width"] >= 300 and box["height"] >= 40, box
        button = page.get_by_role("button", name="Find", exact=True).bounding_box()
        assert button["width"] >= 300 and button["height"] >= 44, button
        long_words(page, [".guardian-gp-card a", ".guardian-gp-table tbody a",
                          ".guardian-gp-table .guardian-id", ".nhsuk-caption-l"])
        assert_no_sideways_scroll(page, width)
        page.reload()
    shoot(page, f"14-gp-overview-{width}")


def open_owing_patient(page: Page):
    """The first patient the practice owes workup for (else the first on the list), and the
    card of that referral."""
    owing = page.locator(".guardian-gp-card a")
    link = owing.first if owing.count() else page.locator(".guardian-gp-table tbody a").first
    with page.expect_navigation():
        link.click()
    assert re.search(r"/patients/[0-9a-f]{32}$", page.url), page.url
    return page.locator("section.guardian-pathway").filter(
        has=page.locator(".guardian-owed ul")).first if owing.count() else \
        page.locator("section.guardian-pathway").first


@pytest.mark.parametrize("width", WIDTHS)
def test_gp_status_page_in_plain_english(signed_in, shoot, width):
    page = signed_in("gp", width=width)
    practice_owes_workup(page, signed_in)
    card = open_owing_patient(page)
    plain = card.locator(".guardian-plain")
    expect(plain).to_be_visible()
    expect(plain.locator(".guardian-plain__heading")).to_have_text(
        [re.compile("^Expected wait"), re.compile("^What the practice still needs to do"),
         re.compile("^What happens next")])
    expect(plain.locator(".guardian-expected")).to_contain_text(
        re.compile(r"The patient has waited \d+ weeks? so far\."))
    expect(plain.locator(".guardian-expected")).to_contain_text(
        re.compile(r"Half of patients finish waiting within \d+ weeks?\.|"
                   r"We cannot estimate the wait yet\.|no estimate"))
    expect(plain.locator(".guardian-owed")).to_contain_text(
        re.compile(r"asked for on \d{1,2} [A-Z][a-z]+ \d{4}\.|does not need to do anything"))
    expect(plain.locator(".guardian-next .guardian-plain__text")).not_to_be_empty()
    # at the top of the referral: before what is still to do, the deadlines and the timeline
    top = plain.bounding_box()["y"]
    assert top < card.locator(".guardian-timeline").bounding_box()["y"]
    for text in plain.locator(".guardian-plain__text").all():  # every sentence on screen
        box = text.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, box
    assert not re.search(r"\bRTT\b|\bFDS\b", plain.inner_text())
    assert_no_sideways_scroll(page, width)
    if width == 390:  # long words wrap: a very long name, NHS number and pathway id
        long_words(page, ["h1", "section.guardian-pathway h2", ".guardian-id",
                          ".guardian-owed li, .guardian-owed p"])
        assert_no_sideways_scroll(page, width)
        page.reload()
    plain.scroll_into_view_if_needed()
    shoot(page, f"14-gp-status-{width}")
