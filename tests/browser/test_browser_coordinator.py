"""docs/journeys.md, "The care coordinator": a care coordinator's morning, in a real browser.

Sign in → the worklist with its counts → a filter swaps only the table (htmx) and keeps
its state in the URL → open a patient → ask for workup and mark it done → the row leaves
the "workup incomplete" pile; a form with a missing answer keeps what was typed; bulk
assign two unassigned pathways.
"""

from __future__ import annotations

import re

from browser_helpers import action, count_of, pathway_card, row_ids, submit, tick_filter, total_of
from playwright.sync_api import expect


def test_worklist_filter_open_patient_and_complete_workup(signed_in, live, shoot):
    page = signed_in("coordinator")
    expect(page.get_by_role("heading", name="Worklist", exact=True)).to_be_visible()
    rows = page.locator("#worklist-results tr.guardian-row")
    expect(rows.first).to_be_visible()
    everything = total_of(page)
    assert everything > 0 and rows.count() == min(everything, 50)
    for name in ("breached", "at-risk", "deterioration", "workup-incomplete",
                 "unanswered-messages", "unassigned"):
        assert 0 <= count_of(page, name) <= everything
    workup_pile = count_of(page, "workup-incomplete")
    assert workup_pile > 0, "the demo should have pathways with workup outstanding"
    shoot(page, "02-worklist")

    tick_filter(page, "workup-incomplete")
    assert total_of(page) == count_of(page, "workup-incomplete") == workup_pile
    assert rows.count() == min(workup_pile, 50)
    expect(rows.first.locator("td.guardian-attention")).to_contain_text("Workup:")
    shoot(page, "03-worklist-filtered")

    # The URL holds the state: reloading it shows the same filtered table.
    page.reload()
    expect(page.locator("#filter-workup-incomplete")).to_be_checked()
    assert total_of(page) == workup_pile

    row_id = rows.first.get_attribute("id")
    with page.expect_navigation():
        rows.first.locator("a.nhsuk-link").first.click()
    assert re.search(r"/patients/[0-9a-f]{32}$", page.url), page.url
    card = pathway_card(page, row_id)
    expect(card).to_be_visible()
    expect(card.locator("table.guardian-outstanding")).to_contain_text("Workup:")

    # Ask for more workup: the banner says so and the timeline shows it.
    wanted = "Full blood count (browser test)"
    ask = action(card, "Ask for workup")
    ask.get_by_label("Workup needed").fill(wanted)
    ask.get_by_label("From").select_option("practice")
    submit(ask, "Ask for workup")
    expect(page.locator(".guardian-done")).to_contain_text("Recorded: workup required")
    card = pathway_card(page, row_id)
    expect(card.locator(".guardian-timeline")).to_contain_text(wanted)
    expect(card.locator("table.guardian-outstanding")).to_contain_text(wanted)
    shoot(page, "04-patient")

    # Mark every outstanding workup item done, one form at a time.
    for _ in range(10):
        card = pathway_card(page, row_id)
        if card.locator("details.guardian-action summary",
                        has_text="Mark workup done").count() == 0:
            break
        done = action(card, "Mark workup done")
        item = done.get_by_label("Workup item")
        label = item.locator("option").nth(1).inner_text().strip()
        item.select_option(index=1)
        submit(done, "Mark workup done")
        expect(page.locator(".guardian-done")).to_contain_text("Recorded: workup done")
        expect(pathway_card(page, row_id).locator("table.guardian-outstanding, h3")
               .first).to_be_visible()
        outstanding = pathway_card(page, row_id).locator("table.guardian-outstanding")
        if outstanding.count():
            expect(outstanding).not_to_contain_text(f"Workup: {label}")
    else:
        raise AssertionError("workup items never ran out")
    card = pathway_card(page, row_id)
    expect(card.locator(".guardian-timeline")).to_contain_text(wanted)
    assert "Workup:" not in (card.locator("table.guardian-outstanding").all_inner_texts()
                             or [""])[0]

    # Back on the worklist the pathway has left the "workup incomplete" pile.
    page.goto("/worklist?filter=workup-incomplete")
    expect(page.locator("#filter-workup-incomplete")).to_be_checked()
    assert count_of(page, "workup-incomplete") == total_of(page) == workup_pile - 1
    assert row_id not in row_ids(page)
    page.goto("/worklist")
    expect(page.locator(f'[id="{row_id}"]')).to_be_visible()
    expect(page.locator(f'[id="{row_id}"]')).not_to_contain_text("Workup:")


def test_form_with_a_missing_answer_keeps_what_was_typed(signed_in, shoot):
    page = signed_in("coordinator")
    first = page.locator("#worklist-results tr.guardian-row a.nhsuk-link").first
    with page.expect_navigation():
        first.click()
    contacts = page.locator("section[aria-labelledby='h-contacts']")
    typed = "Rang the patient: pain worse, two falls, no red flags"
    log = action(contacts, "Log a contact")
    log.get_by_label("Summary").fill(typed)  # "How" left unanswered
    with page.expect_response(lambda r: "/actions/contact" in r.url) as answer:
        log.get_by_role("button", name="Log a contact", exact=True).click()
    assert answer.value.status == 422
    page.wait_for_load_state()

    summary = page.locator(".nhsuk-error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("There is a problem")
    expect(summary).to_contain_text("Choose how")
    expect(summary).to_be_focused()  # and so scrolled into view: the form is far down
    expect(summary).to_be_in_viewport()
    expect(page).to_have_title(re.compile(r"^Error: "))
    log = page.locator("details#contact-")
    expect(log).to_have_attribute("open", "")
    expect(log.locator(".nhsuk-form-group--error .nhsuk-error-message")).to_contain_text(
        "Choose how")
    expect(log.get_by_label("Summary")).to_have_value(typed)
    expect(page.locator(".guardian-done")).to_have_count(0)
    shoot(page, "05-patient-form-error")

    # Answer the missing question: it is recorded, with what was typed first time.
    log.get_by_label("How").select_option("phone")
    submit(log, "Log a contact")
    expect(page.locator(".guardian-done")).to_contain_text("Recorded: contact")
    expect(page.locator("section[aria-labelledby='h-contacts']")).to_contain_text(typed)


def test_bulk_assign_two_unassigned_pathways(signed_in, live):
    page = signed_in("coordinator")
    tick_filter(page, "unassigned")
    unassigned = count_of(page, "unassigned")
    assert unassigned >= 2 and total_of(page) == unassigned
    rows = page.locator("#worklist-results tr.guardian-row")
    chosen = [rows.nth(i).get_attribute("id") for i in (0, 1)]
    for i in (0, 1):
        rows.nth(i).locator("input[name=pathway]").check(force=True)
        expect(rows.nth(i).locator("input[name=pathway]")).to_be_checked()
    page.locator("#coordinator").select_option(live.emails["coordinator"])
    with page.expect_navigation():
        page.get_by_role("button", name="Assign", exact=True).click()

    expect(page.get_by_role("status")).to_contain_text("2 pathways assigned")
    expect(page.locator("#filter-unassigned")).to_be_checked()
    assert count_of(page, "unassigned") == unassigned - 2
    assert not set(chosen) & set(row_ids(page))
    page.goto("/worklist?filter=assigned-to-me")
    (name,) = live.query("SELECT display_name FROM users WHERE email = ?",
                         (live.emails["coordinator"],))[0]
    for row_id in chosen:  # the coordinator by name, not e-mail address
        expect(page.locator(f'[id="{row_id}"]')).to_contain_text(name)


def test_next_page_swaps_in_the_following_rows(signed_in):
    page = signed_in("admin")  # every PCN: more than one page of pathways
    page.goto("/worklist")
    rows = page.locator("#worklist-results tr.guardian-row")
    expect(rows.first).to_be_visible()
    assert total_of(page) > 50 and rows.count() == 50
    first_page = row_ids(page)
    page.evaluate("window.__guardianNoReload = true")
    with page.expect_response(lambda r: "after=" in r.url):
        page.get_by_role("link", name="Next page").click()
    expect(page).to_have_url(re.compile(r"[?&]after="))
    expect(page.get_by_role("link", name="Previous page")).to_be_visible()
    expect(page.locator("#page-of")).to_contain_text("Page 2 of")
    second_page = row_ids(page)
    assert second_page and not set(first_page) & set(second_page)
    assert page.evaluate("window.__guardianNoReload") is True
