"""docs/journeys.md journey 8, "A patient checks their own wait" (docs/patients.md), in
Chromium against the live server with its real local SMTP sink: a patient signs in at
/my/sign-in with their NHS number, date of birth and the code the server emails them, on a
phone; opens their referral, reads how long they may wait and what to do if worse; answers
their Waiting Well check-in "I am worse" and says "I am getting worse"; the coordinator's
worklist then shows the deterioration flag.

Every patient page on the way (sign-in, code, with their errors, the list, a referral with
and without its check-in form, with an error, a closed referral) is checked with axe-core at
WCAG 2.2 AA and for reflow (320 px, 200 % zoom); sign-in and answering also work with
JavaScript off; another patient's referral is the 404 page. Screenshots 60-…
"""

from __future__ import annotations

import time
import uuid

import pytest
from patient_checks import (
    PHONE,
    Checker,
    axe_violations,
    describe,
    emailed_patients,
    open_app,
    press,
    reflow_problems,
    sign_in,
)
from playwright.sync_api import expect

SHOTS = {"sign-in": "60-my-sign-in", "code": "61-my-code", "my": "62-my-referrals",
         "referral": "63-my-referral", "answered": "64-my-check-in-answered",
         "worse": "65-my-getting-worse"}


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

    press(page, "Send my answer")  # nothing chosen
    expect(page.locator(".nhsuk-error-summary")).to_contain_text("Choose the answer")
    check(page, "referral-error")
    page.get_by_label("I am worse.").check()
    press(page, "Send my answer")
    expect(main).to_contain_text("Thank you. We have your answer.")
    expect(main.get_by_role("group", name="How are you?")).to_have_count(0)
    check(page, "answered")

    press(page, "Tell the Guardian team")  # nothing written
    expect(page.locator(".nhsuk-error-summary")).to_contain_text("Tell us how you are worse")
    check(page, "worse-error")
    page.get_by_label("I am getting worse").fill("More breathless walking upstairs since "
                                                 "last week (browser test).")
    press(page, "Tell the Guardian team")
    expect(main).to_contain_text("Thank you for telling us")
    check(page, "worse")

    # the coordinator's worklist: the server's follower projects the new flag
    coordinator = signed_in("coordinator", width=PHONE)
    row = coordinator.locator(f'[id="row-{a.provider}-{a.pathway_id}"]')
    deadline = time.monotonic() + 15
    while True:
        coordinator.goto("/worklist?filter=deterioration")
        if row.count() and "Deterioration" in row.inner_text():
            break
        assert time.monotonic() < deadline, \
            f"{a.name}'s deterioration flag is not on the worklist:\n{live.log_tail()}"
        time.sleep(0.5)
    expect(row).to_contain_text(a.name.split()[-1])
    row.scroll_into_view_if_needed()
    shoot(coordinator, "66-worklist-patient-worse")
    assert check.checked[:4] == ["sign-in", "sign-in-errors", "code", "code-error"]
    check.assert_clean()


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
    violations = axe_violations(page)
    assert not violations, describe(violations)


def test_without_javascript_sign_in_and_answer_then_a_closed_referral(
        chromium, live, demo, shoot):
    b, app = demo["b"], demo["app"]
    context = chromium.new_context(base_url=live.base_url, locale="en-GB",
                                   timezone_id="Europe/London", java_script_enabled=False,
                                   viewport={"width": PHONE, "height": 900})
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        sign_in(page, live, b)
        page.goto(b.referral_url)
        page.get_by_label("I am the same. I still need the appointment.").check()
        press(page, "Send my answer")
        expect(page.locator("main")).to_contain_text("Thank you. We have your answer.")
        # the answer is the patient's, by the same event a coordinator records by phone
        patient = app.get_patient(uuid.UUID(hex=b.patient_id))
        assert patient.pathways[(b.provider, b.pathway_id)].check_in is None

        # a closed referral (closed now, in-process, unless the patient has one already)
        closed = [p for p in patient.pathways.values() if not p.is_open]
        if closed:
            provider, pathway_id = closed[0].provider, closed[0].pathway_id
        else:
            provider, pathway_id = b.provider, b.pathway_id
            app.close_pathway(patient.id, provider, pathway_id, "treated-elsewhere")
        cookies = context.cookies()
    finally:
        context.close()
    # the same session with JavaScript on, to run axe on the closed referral
    context = chromium.new_context(base_url=live.base_url, locale="en-GB", bypass_csp=True,
                                   timezone_id="Europe/London",
                                   viewport={"width": PHONE, "height": 900})
    try:
        context.add_cookies(cookies)
        page = context.new_page()
        page.goto(f"/my/referrals/{provider}/{pathway_id}")
        expect(page.locator("main")).to_contain_text("This referral is closed")
        expect(page.locator("main form:not([action=\"/my/sign-out\"])")).to_have_count(0)
        shoot(page, "67-my-referral-closed")
        problems = [f"axe:\n{describe(v)}" for v in [axe_violations(page)] if v]
        problems += reflow_problems(page)
        assert not problems, "\n".join(problems)
    finally:
        context.close()
