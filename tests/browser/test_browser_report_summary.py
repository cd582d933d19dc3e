"""docs/journeys.md, "The place lead": the bottleneck report starts with the answer, in a
real browser at 1366 px (a desktop) and 390 px (a phone). The summary comes first (each
answer a few sentences and a small chart), each section shows its chart before its table,
long tables open on demand, and the page is a fraction of its old height.

The height bounds: before the summary, the demo's report (600 patients) was 16,347 px tall
at 1366 px and 19,681 px at 390 px (scrolling sideways, 852 px wide); it is now about
7,000 px and 8,000 px. The bounds leave room for a fuller demo (more groups drawn) but not
for the tables to unfold again (their rows alone are over 6,000 px)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

MAX_HEIGHT = {1366: 8_000, 390: 9_500}
FINDINGS = ("The longest stages", "The queues growing fastest", "The standards most breached",
            "The widest gap in waits")
CODE = re.compile(r"\(\d{3}\)|\b[A-Z]\d{5}\b")  # a treatment function or PCN code


@pytest.mark.parametrize("width", [1366, 390])
def test_the_report_starts_with_the_answer(signed_in, shoot, width):
    page = signed_in("place-lead", width=width)
    summary = page.locator("#summary")
    expect(summary).to_be_visible()
    # the summary is the first section of the report, above every table
    assert page.locator("main h2").first.inner_text() == "Summary"
    top = summary.bounding_box()["y"]
    assert top < page.locator("#stages").bounding_box()["y"]
    assert top < (900 if width == 1366 else 1_200), top  # on the first screen or nearly
    for heading in FINDINGS:
        expect(summary.get_by_role("heading", name=heading)).to_be_visible()
    assert summary.locator("svg.chart").count() >= 3
    text = summary.locator(".guardian-report-summary__grid").inner_text()  # the answers
    assert "the longest stage is" in text and "*" not in text and not CODE.search(text), text

    # every section's chart comes before its table
    order = page.evaluate("""() => Array.from(
        document.querySelectorAll('section.guardian-report-section')).map(s => {
          const all = Array.from(s.querySelectorAll('svg.chart, table'));
          return [s.id, all.findIndex(e => e.tagName.toLowerCase() === 'svg'),
                  all.findIndex(e => e.tagName.toLowerCase() === 'table')];
        })""")
    for section, first_chart, first_table in order:
        if first_chart >= 0 and first_table >= 0:
            assert first_chart < first_table, section

    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < MAX_HEIGHT[width], height
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    shoot(page, f"14-report-summary-{width}")

    # a folded table opens on demand; a wide one scrolls inside its own box, not the page
    details = page.locator("#stage-durations-details")
    table = details.locator("table")
    expect(table).to_be_hidden()
    details.locator("summary").click()
    expect(table).to_be_visible()
    assert table.locator("tbody tr").count() >= 1
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    if width == 390:  # the phone: the table scrolls inside its own box
        shoot(page, "14-report-table-open-390")

    # a section's setting changes its answer in the summary too (htmx, no page load)
    if width == 1366:
        with page.expect_response(lambda r: r.request.headers.get("hx-target")
                                  == "stages-results") as swap:
            page.select_option("#by", "provider")
        assert swap.value.ok, swap.value.status
        expect(page.locator("#summary-stages")).to_contain_text("by provider")
        expect(page).to_have_url(re.compile(r"[?&]by=provider(&|$)"))

    # an answer leads to its section
    summary.get_by_role("link", name=re.compile("Breaches by standard")).click()
    expect(page).to_have_url(re.compile(r"#breaches$"))
    expect(page.locator("#breaches-heading")).to_be_in_viewport()
