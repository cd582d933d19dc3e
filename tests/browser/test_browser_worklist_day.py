"""The worklist for a coordinator's day (docs/rules.md §11, docs/journeys.md), at a desktop's
1366 px and a phone's 390 px: what needs doing first on top with "New" marks, the whole
width used in rows of one or two lines, "page X of Y" with previous and next, and no dead
ends (a bulk action with nothing selected, a bad page link: back to the list, a message)."""

from __future__ import annotations

import re
import time
import uuid

import pytest
from browser_helpers import row_ids
from playwright.sync_api import expect

from guardian.bootstrap import build_app
from guardian.config import Settings

ROWS = "#worklist-results tr.guardian-row"


def no_sideways_scroll(page) -> None:
    width = page.evaluate("document.documentElement.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.mark.parametrize("width", [1366, 390])
def test_the_worklist_fits_the_screen_and_pages_both_ways(signed_in, shoot, width):
    # an admin's list holds every PCN of the demo: several pages
    page = signed_in("admin", width=width)
    page.goto("/worklist")
    expect(page.locator(ROWS).first).to_be_visible()
    # what is new comes first, marked "New"
    expect(page.locator(ROWS).first.locator(".guardian-new")).to_be_visible()
    expect(page.locator("#sort")).to_have_value("urgency")
    no_sideways_scroll(page)
    pages = int(re.search(r"Page 1 of ([\d,]+)", page.locator("#page-of").inner_text())
                .group(1).replace(",", ""))
    assert pages >= 2
    if width == 1366:
        table = page.locator("table.guardian-worklist").bounding_box()
        assert table["width"] > 1366 - 2 * 40  # the whole width, not a 960 px column
        heights = page.locator(ROWS).evaluate_all(
            "rows => rows.map(r => r.getBoundingClientRect().height)")
        assert sorted(heights)[len(heights) // 2] < 80 and max(heights) < 150, "short rows"
        assert page.evaluate("document.documentElement.scrollHeight") < 7000
    shoot(page, f"14-worklist-urgency-{width}")
    first = row_ids(page)
    page.locator("a[rel=next]").click()
    expect(page.locator("#page-of")).to_contain_text(f"Page 2 of {pages:,}")
    assert row_ids(page)[0] not in first
    page.locator("a[rel=prev]").click()
    expect(page.locator("#page-of")).to_contain_text(f"Page 1 of {pages:,}")
    assert row_ids(page) == first


def test_no_dead_ends(signed_in, live, shoot):
    page = signed_in("coordinator", width=1366)
    expect(page.locator(ROWS).first).to_be_visible()
    with page.expect_navigation():
        page.get_by_role("button", name="Assign", exact=True).click()
    expect(page.locator(".guardian-notice")).to_contain_text("Select at least one pathway")
    expect(page.locator(ROWS).first).to_be_visible()
    page.goto("/worklist?filter=breached&after=not-a-page&page=3")
    expect(page.locator(".guardian-notice")).to_contain_text("That page link is not valid")
    expect(page.locator("#filter-breached")).to_be_checked()
    expect(page.locator("#page-of")).to_contain_text("Page 1 of")
    shoot(page, "14-worklist-no-dead-end-1366")


def a_new_row(live, tmp_path_factory) -> str:
    """A row of the coordinator's worklist that is new: a deterioration raised now on one
    of their pathways (the store is shared with the other browser tests, whose
    coordinators open patients and so take marks away); its row's id."""
    pcns = live.orgs["coordinator"]
    [(patient_id, provider, pathway_id)] = live.query(
        "SELECT patient_id, provider, pathway_id FROM worklist WHERE pcn_code IN "
        f"({', '.join('?' * len(pcns))}) ORDER BY patient_id DESC LIMIT 1", tuple(pcns))
    app = build_app(Settings(database_url=f"sqlite:///{live.db_path}",
                             var_dir=tmp_path_factory.mktemp("new-mark"),
                             secret_key="browser-new-mark"))
    try:
        app.flag_deterioration(uuid.UUID(hex=patient_id), f"new-{uuid.uuid4().hex[:8]}",
                               "more breathless", "gp", provider=provider,
                               pathway_id=pathway_id)
    finally:
        app.close()
    return f"row-{provider}-{pathway_id}"


def test_opening_a_new_patient_takes_away_the_new_mark(signed_in, live, tmp_path_factory):
    row_id = a_new_row(live, tmp_path_factory)
    page = signed_in("coordinator", width=1366)
    deadline = time.monotonic() + 10  # the server's follower projects it within a second
    while True:
        page.goto("/worklist?filter=new")
        expect(page.locator("#worklist-results")).to_be_visible()
        if row_id in row_ids(page) or time.monotonic() > deadline:
            break
        page.wait_for_timeout(250)
    row = page.locator(f'[id="{row_id}"]')
    expect(row.locator(".guardian-new")).to_be_visible()
    with page.expect_navigation():
        row.locator("a.nhsuk-link").first.click()
    expect(page.locator(".guardian-new-note").first).to_be_visible()
    # the server's follower projects the opening within about a second
    deadline = time.monotonic() + 10
    while True:
        page.goto("/worklist?filter=new")
        expect(page.locator("#worklist-results")).to_be_visible()
        if row_id not in row_ids(page) or time.monotonic() > deadline:
            break
        page.wait_for_timeout(250)
    assert row_id not in row_ids(page)
