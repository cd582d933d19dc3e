"""Journey 8, "A patient checks their own wait" (docs/patients.md; the README's
screenshots), in Chromium against the live server with its real local SMTP sink: a patient
signs in at /my/sign-in with their NHS number, date of birth and the code the server emails
them, on a phone; opens their referral, reads how long they may wait and what to do if
worse; answers their Waiting Well check-in "I am worse", says "I am getting worse" and
writes to the Guardian team; the coordinator's worklist then shows the deterioration flag
and the unanswered message, and the pathway's thread on the patient's page shows the
message.

Every patient page on the way is checked with axe-core at WCAG 2.2 AA and for reflow
(320 px, 200 % zoom): sign-in and code with their errors, signed out, locked out (429), the
list with and without an open referral, a referral with and without its check-in form,
with each form's error, after each form, answered already from an old tab (no check-in),
closed; another patient's referral is the 404 page. Sign-in, answering, "I am getting
worse" and a message also work with JavaScript off. Screenshots 60-70; the NHS login pages
are test_browser_patient_nhs_login.py's.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid

import pytest
from patient_checks import (
    PHONE,
    Checker,
    DemoPatient,
    axe_violations,
    describe,
    emailed_patients,
    fill_details,
    open_app,
    press,
    reflow_problems,
    sign_in,
)
from playwright.sync_api import expect

SHOTS = {"sign-in": "60-my-sign-in", "code": "61-my-code", "my": "62-my-referrals",
         "referral": "63-my-referral", "answered": "64-my-check-in-answered",
         "worse": "65-my-getting-worse", "message": "68-my-message-sent"}
MESSAGE = "Is there a cancellation list I can go on? I can come at short notice (browser test)."
# Not a patient of the demo (999 test range, valid check digit): a wrong code for it counts
# towards the lock-out like any (docs/patients.md "Signing in").
UNKNOWN_NHS = "9990000018"
LOCK_AFTER = 10  # codes.NHS_NUMBER.failures


@pytest.fixture(scope="module")
def demo(live, tmp_path_factory):
    """Patient A (journey 8, in the demo coordinator's PCNs), patient B (outside them and
    the demo GP's practice, for the no-JavaScript run and a closed referral), both with
    email and an open check-in; and the in-process app on the live store."""
    app = open_app(live, tmp_path_factory.mktemp("patient"))
    pcns = tuple(live.orgs["coordinator"])
    marks = ", ".join("?" * len(pcns))
    ours = emailed_patients(live, app, f"pcn_code IN ({marks})", pcns)
    assert ours, "no demo patient with email and an open check-in in the coordinator's PCNs"
    practices = tuple(live.orgs["gp"])  # nor the demo GP's practice: the other tests' data
    theirs = emailed_patients(
        live, app, f"(pcn_code IS NULL OR pcn_code NOT IN ({marks})) AND practice_code NOT IN "
        f"({', '.join('?' * len(practices))})", pcns + practices, skip=(ours[0].patient_id,))
    assert theirs, "no demo patient with email and an open check-in outside those PCNs"
    try:
        yield {"app": app, "a": ours[0], "b": theirs[0]}
    finally:
        app.close()


@pytest.fixture(scope="module")
def phone(chromium, live):
    """A phone-sized context (JavaScript on) for patient A, kept across the module. CSP
    bypassed only so that the tests can inject axe-core."""
    context = chromium.new_context(base_url=live.base_url, locale="en-GB",
                                   timezone_id="Europe/London", bypass_csp=True,
                                   viewport={"width": PHONE, "height": 900})
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def test_axe_finds_what_it_is_for(phone):
    """The check itself: a page with an unlabelled field and an image without a text
    alternative fails it."""
    phone.set_content('<html lang="en"><title>t</title><main><img src="x.png">'
                      '<input type="text"></main></html>')
    found = {v["id"] for v in axe_violations(phone)}
    assert {"image-alt", "label"} <= found, found


@pytest.mark.parametrize("query,fails_at", [("(max-width: 400px)", "at 320 px"),
                                           ("(min-width: 600px) and (max-width: 700px)",
                                            "at 200 % zoom")])
def test_reflow_finds_what_it_is_for(phone, query, fails_at):
    """The check itself: a page too wide only at 320 px, or only at 640 CSS px (what a
    1280 px screen at 200 % zoom lays out: media queries see the zoom), fails there."""
    phone.set_content(f'<html lang="en"><style>@media {query} {{ #wide {{ width: 900px }} }}'
                      '</style><main><div id="wide">x</div></main></html>')
    problems = reflow_problems(phone)
    assert len(problems) == 1 and problems[0].startswith(f"{fails_at}: scrolls sideways"), \
        problems


def test_journey_8_a_patient_signs_in_answers_and_the_coordinator_sees_it(
        live, demo, phone, shoot, signed_in):
    a = demo["a"]
    page = phone
    check = Checker(shoot, SHOTS)
    sign_in(page, live, a, check)
    check(page, "my")
    with page.expect_navigation():
        page.locator(f'a[href="{a.referral_url}"]').click()
    main = page.locator("main")
    expect(main.get_by_role("heading", name="How long you may wait")).to_be_visible()
    expect(main).to_contain_text("You have waited")
    expect(main).to_contain_text("Call 111")
    expect(main).to_contain_text("999 in an emergency")
    expect(main.get_by_role("group", name="How are you?")).to_be_visible()
    check(page, "referral")
    old_tab = page.context.new_page()  # the same referral, opened before answering
    old_tab.goto(a.referral_url)

    press(page, "Send my answer")  # nothing chosen
    expect(page.locator(".nhsuk-error-summary")).to_contain_text("Choose the answer")
    check(page, "referral-error")
    page.get_by_label("I am worse.").check()
    press(page, "Send my answer")
    expect(main).to_contain_text("Thank you. We have your answer.")
    expect(main.get_by_role("group", name="How are you?")).to_have_count(0)
    check(page, "answered")

    # answered again from the old tab: nothing is recorded, the patient is told why
    old_tab.get_by_label("I am the same. I still need the appointment.").check()
    press(old_tab, "Send my answer")
    expect(old_tab).to_have_url(live.url(a.referral_url + "?done=no-check-in"))
    expect(old_tab.locator("main")).to_contain_text("We are not asking how you are just now")
    check(old_tab, "no-check-in")
    old_tab.close()
    pathway = demo["app"].get_patient(uuid.UUID(hex=a.patient_id)).pathways[
        (a.provider, a.pathway_id)]
    assert pathway.check_in is None  # the "worse" answer stands

    press(page, "Tell the Guardian team")  # nothing written
    expect(page.locator(".nhsuk-error-summary")).to_contain_text("Tell us how you are worse")
    check(page, "worse-error")
    page.get_by_label("I am getting worse").fill("More breathless walking upstairs since "
                                                 "last week (browser test).")
    press(page, "Tell the Guardian team")
    expect(main).to_contain_text("Thank you for telling us")
    check(page, "worse")

    press(page, "Send message")  # nothing written
    expect(page.locator(".nhsuk-error-summary")).to_contain_text("Write your message")
    check(page, "message-error")
    page.get_by_label("Write to the Guardian team").fill(MESSAGE)
    press(page, "Send message")
    expect(main).to_contain_text("Thank you. We have your message.")
    check(page, "message")

    # the coordinator's worklist: the server's follower projects the new flag and message
    coordinator = signed_in("coordinator", width=PHONE)
    row = coordinator.locator(f'[id="row-{a.provider}-{a.pathway_id}"]')
    worklist_shows(live, coordinator, row, "/worklist?filter=deterioration", "Deterioration",
                   a.name)
    expect(row).to_contain_text(a.name.split()[-1])
    row.scroll_into_view_if_needed()
    shoot(coordinator, "66-worklist-patient-worse")
    [(practice, tf)] = live.query("SELECT practice_code, treatment_function FROM worklist "
                                  "WHERE provider = ? AND pathway_id = ?",
                                  (a.provider, a.pathway_id))
    worklist_shows(live, coordinator, row,
                   f"/worklist?filter=unanswered-messages&practice_code={practice}"
                   f"&provider={a.provider}&treatment_function={tf}", "messages unanswered",
                   a.name)
    expect(row).to_contain_text(a.name.split()[-1])
    shoot(coordinator, "69-worklist-patient-message")

    # the patient's page: the message in the pathway's thread, from the patient, unanswered
    with coordinator.expect_navigation():
        row.get_by_role("link").first.click()
    expect(coordinator).to_have_url(live.url(f"/patients/{a.patient_id}"))
    card = coordinator.locator(f'section[id="pathway-{a.provider}-{a.pathway_id}"]')
    message = card.locator(".guardian-thread .guardian-message--in").filter(has_text=MESSAGE)
    expect(message).to_have_count(1)
    expect(message.locator(".guardian-message__meta")).to_contain_text(
        "The patient to Guardian")
    expect(message).to_contain_text("Not answered yet")
    message.scroll_into_view_if_needed()
    shoot(coordinator, "70-patient-thread-patient-message")

    assert check.checked[:4] == ["sign-in", "sign-in-errors", "code", "code-error"]
    assert {"no-check-in", "message-error", "message"} <= set(check.checked)
    check.assert_clean()


def worklist_shows(live, page, row, address: str, words: str, name: str) -> None:
    """Load `address` until `row` is on it saying `words` (the server's follower projects
    what the patient did within seconds)."""
    deadline = time.monotonic() + 15
    while True:
        page.goto(address)
        if row.count() and words.lower() in row.inner_text().lower():
            return
        assert time.monotonic() < deadline, \
            f"{name}'s row on {address} does not say {words!r}:\n{live.log_tail()}"
        time.sleep(0.5)


def test_another_patients_referral_is_not_found(live, demo, phone):
    page = phone
    page.goto("/my")
    if page.url.endswith("/my/sign-in"):  # run on its own: sign patient A in first
        sign_in(page, live, demo["a"])
    b = demo["b"]
    response = page.goto(b.referral_url)
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    assert b.name not in page.locator("body").inner_text()
    problems = [f"axe:\n{describe(v)}" for v in [axe_violations(page)] if v]
    problems += reflow_problems(page)
    assert not problems, "\n".join(problems)


def test_too_many_wrong_codes_lock_the_nhs_number_out(chromium, live, demo, shoot):
    """The 429 page: after LOCK_AFTER wrong codes for one NHS number."""
    context = chromium.new_context(base_url=live.base_url, locale="en-GB", bypass_csp=True,
                                   timezone_id="Europe/London",
                                   viewport={"width": PHONE, "height": 900})
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        page.goto("/my/code")
        fill_details(page, DemoPatient("", UNKNOWN_NHS, dt.date(1970, 1, 2), "", "", "", ""))
        for _ in range(LOCK_AFTER):
            page.get_by_label("Your code").fill("123456")
            with page.expect_navigation() as answer:
                page.get_by_role("button", name="Continue", exact=True).click()
            if answer.value.status == 429:
                break
            assert answer.value.status == 400, answer.value.status
            expect(page.locator(".nhsuk-error-summary")).to_contain_text(
                "That code is not right")
        assert answer.value.status == 429
        expect(page.locator(".nhsuk-error-summary")).to_contain_text(
            "You have tried too many times")
        expect(page.locator(".nhsuk-error-summary")).to_contain_text("Call your GP practice")
        check = Checker(shoot)
        check(page, "locked")
        check.assert_clean()
    finally:
        context.close()


def test_without_javascript_sign_in_answer_worse_and_message_then_closed(
        chromium, live, demo, shoot):
    b, app = demo["b"], demo["app"]
    context = chromium.new_context(base_url=live.base_url, locale="en-GB",
                                   timezone_id="Europe/London", java_script_enabled=False,
                                   viewport={"width": PHONE, "height": 900})
    context.set_default_timeout(15_000)
    worse = "Dizzy when I stand up, since Monday (browser test, no JavaScript)."
    written = "Can I have my letters in large print? (browser test, no JavaScript)"
    try:
        page = context.new_page()
        sign_in(page, live, b)
        page.goto(b.referral_url)
        main = page.locator("main")
        page.get_by_label("I am the same. I still need the appointment.").check()
        press(page, "Send my answer")
        expect(main).to_contain_text("Thank you. We have your answer.")
        page.get_by_label("I am getting worse").fill(worse)
        press(page, "Tell the Guardian team")
        expect(main).to_contain_text("Thank you for telling us")
        page.get_by_label("Write to the Guardian team").fill(written)
        press(page, "Send message")
        expect(main).to_contain_text("Thank you. We have your message.")
        # each is the patient's, by the same events a coordinator records by phone
        patient = app.get_patient(uuid.UUID(hex=b.patient_id))
        pathway = patient.pathways[(b.provider, b.pathway_id)]
        assert pathway.check_in is None
        assert [f.source for f in patient.flags.values() if f.summary == worse] == ["patient"]
        assert [(m.direction, m.party) for m in pathway.messages.values()
                if m.body == written] == [("in", "patient")]

        # every referral of the patient closed (in-process): none open on /my
        for p in patient.pathways.values():
            if p.is_open:
                app.close_pathway(patient.id, p.provider, p.pathway_id, "treated-elsewhere")
        cookies = context.cookies()
    finally:
        context.close()
    # the same session with JavaScript on, to run axe on the closed referral
    context = chromium.new_context(base_url=live.base_url, locale="en-GB", bypass_csp=True,
                                   timezone_id="Europe/London",
                                   viewport={"width": PHONE, "height": 900})
    context.set_default_timeout(15_000)
    check = Checker(shoot, {"closed": "67-my-referral-closed"})
    try:
        context.add_cookies(cookies)
        page = context.new_page()
        page.goto(b.referral_url)
        expect(page.locator("main")).to_contain_text("This referral is closed")
        expect(page.locator("main form:not([action=\"/my/sign-out\"])")).to_have_count(0)
        check(page, "closed")
        page.goto("/my")
        expect(page.locator("main")).to_contain_text("You have no open referrals with us")
        check(page, "no-open-referral")
        press(page, "Sign out")
        expect(page).to_have_url(live.url("/my/sign-in?signed_out=1"))
        expect(page.locator("main")).to_contain_text("You have signed out.")
        check(page, "signed-out")
        assert page.goto("/my").url == live.url("/my/sign-in")  # the session is over
        check.assert_clean()
    finally:
        context.close()
