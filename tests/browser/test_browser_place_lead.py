"""docs/journeys.md, "The place lead": the place lead's bottleneck report in a real browser:
server-rendered SVG charts with their tables, CSV downloads, and never an NHS number."""

from __future__ import annotations

import re

from playwright.sync_api import expect

NHS_NUMBER_LIKE = re.compile(r"(?<!\d)\d{3}[ -]?\d{3}[ -]?\d{4}(?!\d)")


def test_place_lead_sees_charts_tables_and_downloads_csv(signed_in, live, shoot):
    page = signed_in("place-lead")
    expect(page.locator("h1")).to_be_visible()

    charts = page.locator("main svg.chart")
    expect(charts.first).to_be_visible()
    assert charts.count() >= 2
    for i in range(charts.count()):  # every chart is labelled and says what each mark is
        chart = charts.nth(i)
        assert chart.get_attribute("role") == "img" or chart.get_attribute("aria-labelledby") \
            or chart.locator("title").count(), f"chart {i} has no accessible name"
        assert chart.locator("title").count() >= 1, f"chart {i} has no <title>"
    tables = page.locator("main table")
    assert tables.count() >= 2
    expect(tables.first.locator("th").first).not_to_be_empty()
    assert tables.first.locator("tbody tr").count() >= 1

    # No patient-identifiable data: not one of the place's NHS numbers, nor anything like one.
    html = page.content()
    nhs_numbers = {n for (n,) in live.query("SELECT DISTINCT nhs_number FROM worklist")}
    assert nhs_numbers, "the demo store has no worklist rows"
    assert not [n for n in nhs_numbers if n in html]
    assert not NHS_NUMBER_LIKE.findall(page.locator("body").inner_text())
    shoot(page, "08-place-lead-report")

    links = page.locator("main a[href*='.csv']")
    assert links.count() >= 2
    hrefs = list(dict.fromkeys(links.evaluate_all("as => as.map(a => a.getAttribute('href'))")))
    for href in hrefs[:4]:
        answer = page.request.get(href)
        assert answer.status == 200, (href, answer.status)
        assert answer.headers["content-type"].startswith("text/csv"), answer.headers
        body = answer.text()
        assert body.strip() and "," in body.splitlines()[0]
        assert not [n for n in nhs_numbers if n in body]

    # Patient pages and worklists are not for a place lead.
    for path in ("/worklist", "/gp"):
        answer = page.goto(path)
        assert answer.status in (403, 404), (path, answer.status)
        expect(page.locator("#worklist-results")).to_have_count(0)
