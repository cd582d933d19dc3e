"""docs/rules.md "Messages" and docs/access.md "Exports and printing", in a real browser at
1366 px and 390 px: a coordinator opens a patient whose GP wrote to Guardian, reads the
pathway's thread (who, when, answered or not), writes to the hospital, records the
hospital's reply and marks the GP's message answered; on the worklist the row no longer
says "awaiting reply"; the GP of the practice reads the same thread. The worklist offers
its CSV and prints as a plain table; the patient page prints without forms or buttons."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from browser_helpers import action, submit
from playwright.sync_api import Page, expect

WIDTHS = [1366, 390]


def assert_no_sideways_scroll(page: Page, width: int) -> None:
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{page.url} is {scroll} px wide at {width} px"


def a_pathway(live, offset: int) -> tuple[str, str, str, str, str]:
    """An open pathway of the GP's practice with nothing sent to anyone awaiting a reply:
    (patient id, provider, pathway id, practice, a worklist address narrowed to a few rows
    that show it)."""
    practice = live.orgs["gp"][0]
    rows = live.query(
        "SELECT patient_id, provider, pathway_id, treatment_function FROM worklist "
        "WHERE practice_code = ? AND awaiting_reply_since IS NULL "
        "ORDER BY unanswered_messages DESC, provider, pathway_id", (practice,))
    assert len(rows) > offset, "the demo has too few pathways at the GP's practice"
    pid, provider, pathway_id, tf = rows[offset]
    where = (f"/worklist?practice_code={practice}&provider={provider}"
             f"&treatment_function={tf}&sort=days-waiting")
    return pid, provider, pathway_id, practice, where


def attention_of(page: Page, where: str, provider: str, pathway_id: str) -> str:
    page.goto(where)
    row = page.locator(f'tr[id="row-{provider}-{pathway_id}"]')
    expect(row).to_be_visible()
    return row.locator("td.guardian-attention").inner_text()


def unanswered_of(attention: str) -> int:
    """How many messages the worklist row says are unanswered (0 when it says none)."""
    found = re.search(r"messages unanswered: (\d+)", attention)
    return int(found.group(1)) if found else 0


@pytest.mark.parametrize("width", WIDTHS)
def test_read_the_thread_record_the_hospitals_reply_and_the_worklist_follows(
        signed_in, live, shoot, width):
    pid, provider, pathway_id, _, where = a_pathway(live, WIDTHS.index(width))
    card_id = f"pathway-{provider}-{pathway_id}"

    # the GP writes to Guardian about the referral
    gp = signed_in("gp", width=width)
    gp.goto(f"/patients/{pid}")
    form = action(gp.locator(f'section[id="{card_id}"]'), "Send a message to Guardian")
    form.get_by_label("Message").fill(f"Pain much worse, please expedite ({width} px)")
    submit(form, "Send a message to Guardian")
    expect(gp.locator(".guardian-done")).to_contain_text("Recorded")

    page = signed_in("coordinator", width=width)
    page.goto(f"/patients/{pid}")
    card = page.locator(f'section[id="{card_id}"]')
    thread = card.locator(".guardian-thread")
    gp_message = thread.locator(".guardian-message--in").last
    expect(gp_message).to_contain_text(f"Pain much worse, please expedite ({width} px)")
    expect(gp_message).to_contain_text("to Guardian")
    expect(gp_message).to_contain_text("Not answered yet")
    expect(gp_message.locator("time")).to_have_text(
        re.compile(r"^\d{1,2} [A-Z][a-z]+ \d{4}, \d\d:\d\d$"))
    assert live.emails["gp"] not in gp_message.inner_text()  # a person by name

    # Guardian asks the hospital; the worklist says Guardian awaits its reply
    form = action(card, "Send a message")
    form.get_by_label("To").select_option("hospital")
    form.get_by_label("Message").fill("Please review the priority: two falls")
    submit(form, "Send a message")
    card = page.locator(f'section[id="{card_id}"]')
    asked = card.locator(".guardian-message--out").last
    expect(asked).to_contain_text("Please review the priority: two falls")
    expect(asked).to_contain_text("Awaiting a reply")
    assert provider not in asked.locator(".guardian-message__meta").inner_text()  # by name
    shoot(page, f"14-messages-thread-{width}")
    assert_no_sideways_scroll(page, width)
    attention = attention_of(page, where, provider, pathway_id).lower()
    assert "awaiting reply" in attention
    unanswered = unanswered_of(attention)  # the GP's, and any an earlier test left
    assert unanswered >= 1

    # the hospital rings back: the coordinator records its reply
    page.goto(f"/patients/{pid}")
    card = page.locator(f'section[id="{card_id}"]')
    form = action(card, "Record the hospital's reply")
    form.get_by_label("What the hospital said").fill(
        "Reviewed by consultant, moved to P2, TCI expected in 6 weeks")
    form.get_by_label("In reply to").select_option(index=1)
    submit(form, "Record the hospital's reply")
    expect(page.locator(".guardian-done")).to_contain_text("Recorded: hospital reply")
    card = page.locator(f'section[id="{card_id}"]')
    reply = card.locator(".guardian-message--reply").last
    expect(reply).to_contain_text("Reviewed by consultant, moved to P2")
    expect(reply).to_contain_text("needs no answer")
    expect(card.locator(".guardian-message--out").last).to_contain_text("Replied")

    # the GP's message was dealt with on the phone: marked answered
    form = action(card, "Mark a message answered")
    choice = form.get_by_label("Message", exact=True)
    ours = choice.locator("option").filter(has_text=f"({width} px)").first.get_attribute("value")
    choice.select_option(ours)
    submit(form, "Mark a message answered")
    card = page.locator(f'section[id="{card_id}"]')
    mine = card.locator(".guardian-message--in").filter(
        has_text=f"Pain much worse, please expedite ({width} px)")
    expect(mine).to_contain_text("Answered")
    expect(mine).not_to_contain_text("Not answered yet")
    card.scroll_into_view_if_needed()
    shoot(page, f"14-messages-replied-{width}")
    assert_no_sideways_scroll(page, width)

    attention = attention_of(page, where, provider, pathway_id).lower()
    assert "awaiting reply" not in attention, attention
    assert unanswered_of(attention) == unanswered - 1, attention  # the GP's answered

    # the GP reads the same thread, the hospital's reply included, without the forms
    gp.goto(f"/patients/{pid}")
    gp_card = gp.locator(f'section[id="{card_id}"]')
    expect(gp_card.locator(".guardian-thread")).to_contain_text("Reviewed by consultant")
    expect(gp_card.locator("summary", has_text="Record the hospital's reply")).to_have_count(0)


@pytest.mark.parametrize("width", WIDTHS)
def test_take_the_list_away_csv_and_print(signed_in, live, shoot, width):
    page = signed_in("coordinator", width=width)
    link = page.get_by_role("link", name="Download CSV")
    expect(link).to_be_visible()
    page.locator("label[for='filter-unassigned']").click()
    expect(page).to_have_url(re.compile(r"filter=unassigned"))
    expect(link).to_have_attribute("href", re.compile(r"^/worklist\.csv\?.*filter=unassigned"))
    with page.expect_download() as download:
        link.click()
    assert re.fullmatch(r"Worklist .+ \d{4}-\d\d-\d\d\.csv", download.value.suggested_filename)
    lines = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("NHS number,Family name,Given name")
    total = int(page.locator("#worklist-total strong").inner_text().replace(",", ""))
    assert len(lines) == total + 1

    # the Print button asks the browser to print
    page.evaluate("window.print = () => { window.__printed = true; }")
    page.get_by_role("button", name="Print this list").click()
    assert page.evaluate("window.__printed") is True

    page.emulate_media(media="print")
    for hidden in (".nhsuk-header__navigation", "#assign-form .guardian-assign",
                   ".guardian-print", ".guardian-take-away", ".guardian-filters"):
        if page.locator(hidden).count():
            expect(page.locator(hidden).first).to_be_hidden()
    expect(page.locator("table.guardian-worklist")).to_be_visible()
    after = page.locator("table.guardian-worklist a").first.evaluate(
        "a => getComputedStyle(a, '::after').content")
    assert after in ("none", "normal"), after  # links print without their addresses
    shoot(page, f"14-print-worklist-{width}")

    page.emulate_media(media="screen")
    with page.expect_navigation():
        page.locator("table.guardian-worklist a.nhsuk-link").first.click()
    expect(page.get_by_role("button", name="Print this page")).to_be_visible()
    page.emulate_media(media="print")
    expect(page.locator("details.guardian-action").first).to_be_hidden()
    expect(page.locator("button").first).to_be_hidden()
    expect(page.locator("section.guardian-pathway").first).to_be_visible()
    width_used = page.locator("section.guardian-pathway").first.evaluate(
        "s => s.getBoundingClientRect().width / document.documentElement.clientWidth")
    assert width_used > 0.9, width_used  # full width
    shoot(page, f"14-print-patient-{width}")
