"""Helpers shared by the browser tests (worklist counts, htmx filter ticks, action forms)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

MARKER = "window.__guardianNoReload"  # survives an htmx swap, not a page load


def count_of(page: Page, name: str) -> int:
    text = page.locator(f"#count-{name}").inner_text()
    found = re.fullmatch(r"\(([\d,]+)\)", text.strip())
    assert found, f"count-{name} reads {text!r}"
    return int(found.group(1).replace(",", ""))


def total_of(page: Page) -> int:
    return int(page.locator("#worklist-total strong").inner_text().replace(",", ""))


def row_ids(page: Page) -> list[str]:
    return page.locator("#worklist-results tr.guardian-row").evaluate_all(
        "rows => rows.map(r => r.id)")


def tick_filter(page: Page, name: str) -> None:
    """Tick a filter box and wait for the htmx swap (no page load) and the pushed URL."""
    page.evaluate(f"{MARKER} = true")
    with page.expect_response(lambda r: "/worklist" in r.url
                              and r.request.headers.get("hx-request") == "true") as swap:
        page.locator(f"label[for='filter-{name}']").click()
    assert swap.value.ok, swap.value.status
    expect(page).to_have_url(re.compile(rf"[?&]filter={name}(&|$)"))
    expect(page.locator(f"#filter-{name}")).to_be_checked()
    expect(page.locator("#worklist-total")).to_contain_text(name.replace("-", " "))
    assert page.evaluate(MARKER) is True, "the filter reloaded the whole page"


def pathway_card(page: Page, row_id: str):
    provider_pathway = row_id.removeprefix("row-")
    return page.locator(f'section[id="pathway-{provider_pathway}"]')


def action(card, title: str):
    """The <details> holding one action form; opened."""
    details = card.locator("details.guardian-action").filter(
        has=card.page.locator("summary", has_text=re.compile(rf"^\s*{re.escape(title)}\s*$")))
    expect(details).to_have_count(1)
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    return details


def submit(details, title: str) -> None:
    page = details.page
    with page.expect_navigation():
        details.get_by_role("button", name=title, exact=True).click()
