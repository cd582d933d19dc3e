"""docs/journeys.md, "The GP practice": a GP practice finds a patient by NHS number, reads the
referral's status in plain English and sends Guardian a message, which the coordinator's
worklist then shows (in another browser context, signed in as the coordinator)."""

from __future__ import annotations

import re

from browser_helpers import action, count_of, pathway_card, submit, tick_filter
from playwright.sync_api import Page, expect


def find(page: Page, nhs_number: str) -> None:
    page.locator("#nhs_number").fill(nhs_number)
    with page.expect_navigation():
        page.get_by_role("button", name="Find", exact=True).click()


def test_gp_finds_a_patient_and_messages_guardian(signed_in, live, shoot):
    practice = live.orgs["gp"][0]

    # The coordinator's view of the practice first: a pathway with no unanswered message and
    # no deterioration flagged yet (one already flagged would not move the count).
    coordinator = signed_in("coordinator")
    coordinator.goto(f"/worklist?practice_code={practice}")
    rows = coordinator.locator("#worklist-results tr.guardian-row")
    expect(rows.first).to_be_visible()
    quiet = rows.filter(has_not_text="Messages unanswered").filter(has_not_text="Deterioration")
    expect(quiet.first).to_be_visible()
    row_id = quiet.first.get_attribute("id")
    nhs_number = quiet.first.locator(".guardian-id").inner_text().strip()
    unanswered = count_of(coordinator, "unanswered-messages")
    deteriorated = count_of(coordinator, "deterioration")

    page = signed_in("gp")
    expect(page.get_by_role("heading", name="Your referred patients")).to_be_visible()
    overview = page.locator("table").last
    expect(overview).to_contain_text(nhs_number)  # the patient is on the practice overview
    shoot(page, "06-gp-overview")

    find(page, "123 456")
    expect(page).to_have_url(re.compile(r"/gp\?nhs_number="))
    expect(page.locator("#nhs_number-error")).to_be_visible()
    expect(page.locator("#nhs_number-error")).not_to_be_empty()
    expect(page.locator(".nhsuk-form-group--error #nhs_number")).to_have_value("123 456")

    find(page, nhs_number)
    assert re.search(r"/patients/[0-9a-f]{32}$", page.url), page.url
    expect(page.locator(".guardian-patient-summary")).to_contain_text(nhs_number)
    card = pathway_card(page, row_id)
    expect(card).to_be_visible()
    status = card.locator("p.nhsuk-body").first
    expect(status.locator("strong.nhsuk-tag")).not_to_be_empty()
    expect(status).to_contain_text(re.compile(r"[Ww]aiting \d+ weeks?"))
    expect(card.locator(".guardian-expected")).to_contain_text("Expected wait")
    expect(card.locator(".guardian-plain")).to_contain_text("What happens next")
    expect(card.locator(".guardian-timeline li").first).to_contain_text("Referral received")
    # What a GP may do, and nothing a coordinator does.
    summaries = card.locator("details.guardian-action summary").all_inner_texts()
    assert "Send a message to Guardian" in summaries
    assert "Report that the patient is worse" in summaries
    assert "Close the pathway" not in summaries and "Assign a coordinator" not in summaries
    shoot(page, "07-gp-patient-status")

    message = action(card, "Send a message to Guardian")
    message.get_by_label("Message").fill("Patient rang the practice: still waiting, "
                                         "asks when the appointment will be (browser test).")
    submit(message, "Send a message to Guardian")
    expect(page.locator(".guardian-done")).to_contain_text("Recorded: message")

    worse = action(pathway_card(page, row_id), "Report that the patient is worse")
    worse.get_by_label("What has changed").fill("More pain at night (browser test)")
    submit(worse, "Report that the patient is worse")
    expect(page.locator(".guardian-done")).to_contain_text("Recorded: deterioration flagged")
    expect(page.locator(".nhsuk-warning-callout")).to_contain_text("More pain at night")

    # The coordinator's worklist has both at once.
    coordinator.goto(f"/worklist?practice_code={practice}")
    assert count_of(coordinator, "unanswered-messages") == unanswered + 1
    assert count_of(coordinator, "deterioration") == deteriorated + 1
    row = coordinator.locator(f'[id="{row_id}"]')
    expect(row).to_contain_text("Messages unanswered: 1")
    expect(row).to_contain_text("Deterioration")
    tick_filter(coordinator, "deterioration")
    expect(coordinator.locator(f'#worklist-results [id="{row_id}"]')).to_be_visible()
