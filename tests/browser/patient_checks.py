"""Helpers for the patient pages' browser tests (docs/patients.md): finding demo patients in
the live store, signing a patient in with the code the server emails, and the two checks
every patient page gets: axe-core at WCAG 2.2 AA, and reflow (no sideways scrolling, and the
page's buttons on screen) at 320 CSS px wide (WCAG 1.4.10) and at 200 % browser zoom of a
1280 x 800 screen.

axe-core is vendored for the tests only (tests/browser/vendor/, by `make vendor`); it is
injected into the page under test and never served to users.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Page, expect

from guardian.bootstrap import build_app
from guardian.config import Settings
from guardian.notifications.recipients import patient_channel

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
CODE_SUBJECT = "Your code to see your hospital referrals"
PHONE = 390
# WCAG 1.4.10 reflow: 320 CSS px wide.
NARROW = {"width": 320, "height": 800}
# 200 % browser zoom of a 1280 x 800 screen: the page lays out in 640 x 400 CSS px (media
# queries see 640 px) drawn at 2 device pixels per CSS px, as Chromium zoomed shows it.
# Emulated on the page as it is (after a form was sent, say) through the DevTools protocol;
# CSS `zoom` on the root is not used: media queries would still see 1280 px.
ZOOM_200 = {"width": 640, "height": 400, "deviceScaleFactor": 2, "mobile": False}

@dataclass
class DemoPatient:
    patient_id: str
    nhs_number: str
    birth_date: object  # dt.date
    email: str
    provider: str
    pathway_id: str
    name: str

    @property
    def referral_url(self) -> str:
        return f"/my/referrals/{self.provider}/{self.pathway_id}"


def open_app(live, var_dir):
    """The live store in this process (for reading patients and recording events)."""
    return build_app(Settings(database_url=f"sqlite:///{live.db_path}", var_dir=var_dir,
                              secret_key="browser-patient", base_url="http://guardian.test"))


def emailed_patients(live, app, where: str, params: tuple = (), skip: tuple = ()
                     ) -> list[DemoPatient]:
    """Demo patients written to by email with an open check-in on a pathway in the
    worklist, matching `where` (SQL on the worklist), last patient first (the other
    browser tests take the first rows)."""
    rows = live.query(
        "SELECT patient_id, nhs_number, provider, pathway_id FROM worklist WHERE "
        f"check_in_due IS NOT NULL AND deterioration_since IS NULL AND {where} "
        "ORDER BY patient_id DESC, provider, pathway_id", params)
    out, seen = [], set(skip)
    for patient_id, nhs, provider, pathway_id in rows:
        if patient_id in seen:
            continue
        seen.add(patient_id)
        patient = app.get_patient(uuid.UUID(hex=patient_id))
        pathway = patient.pathways.get((provider, pathway_id))
        if patient_channel(patient) != "email" or pathway is None or pathway.check_in is None:
            continue
        out.append(DemoPatient(patient_id, nhs, patient.birth_date, patient.email, provider,
                               pathway_id, f"{patient.given_name} {patient.family_name}"))
    return out


def wait_for_code(live, to: str, after: int, timeout: float = 20.0) -> str:
    """The code in the first sign-in email to `to` among the messages from index `after`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for m in list(live.mail)[after:]:
            if str(m["Subject"]).startswith(CODE_SUBJECT) and to in str(m["To"]):
                text = m.get_body(("plain",)).get_content()
                found = re.search(r"Your code is (\d{6})", text)
                assert found, f"no code in the email:\n{text}"
                assert found.group(1) in str(m["Subject"])
                return found.group(1)
        time.sleep(0.2)
    raise AssertionError(f"no sign-in code emailed to {to} within {timeout:.0f} s "
                         f"({len(live.mail)} emails):\n{live.log_tail()}")


def fill_details(page: Page, patient: DemoPatient) -> None:
    nhs = patient.nhs_number
    page.get_by_label("NHS number").fill(f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}")
    page.get_by_label("Day").fill(str(patient.birth_date.day))
    page.get_by_label("Month").fill(str(patient.birth_date.month))
    page.get_by_label("Year").fill(str(patient.birth_date.year))


def press(page: Page, button: str) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name=button, exact=True).click()


def sign_in(page: Page, live, patient: DemoPatient, check=None) -> None:
    """Sign in at /my/sign-in with the code the server emails; `check(page, name)` is
    called on each page on the way (for the accessibility checks and screenshots)."""
    check = check or (lambda page, name: None)
    page.goto("/my/sign-in")
    expect(page.get_by_role("heading", level=1)).to_have_text("See your hospital referrals")
    check(page, "sign-in")
    press(page, "Send me a code")
    expect(page.locator(".nhsuk-error-summary")).to_contain_text("10-digit NHS number")
    check(page, "sign-in-errors")
    fill_details(page, patient)
    before = len(live.mail)
    press(page, "Send me a code")
    expect(page).to_have_url(live.url("/my/code"))
    check(page, "code")
    code = wait_for_code(live, patient.email, before)
    page.get_by_label("Your code").fill(code[:3])
    press(page, "Continue")
    expect(page.locator(".nhsuk-error-summary")).to_contain_text("6-digit code")
    check(page, "code-error")
    page.get_by_label("Your code").fill(code)
    press(page, "Continue")
    expect(page).to_have_url(live.url("/my"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Your hospital referrals")


def axe_violations(page: Page) -> list[dict]:
    """axe-core's WCAG 2.2 AA violations on the page as it is now."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE))
    return page.evaluate("""async (tags) => {
        const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => n.target.join(' ') + ': ' +
                               (n.failureSummary || '').replace(/\\s+/g, ' '))}));
    }""", WCAG_22_AA)


def describe(violations: list[dict]) -> str:
    return "\n".join(f"  {v['id']} ({v['impact']}): {v['help']}\n"
                     + "\n".join(f"      {n}" for n in v["nodes"][:5]) for v in violations)


_REFLOW_JS = """() => {
    const root = document.documentElement;
    const out = [];
    const over = root.scrollWidth - root.clientWidth;
    if (over > 1) {
        const wide = [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
            .slice(-3).map(e => e.tagName.toLowerCase() + '.' + e.className);
        out.push(`scrolls sideways by ${over} px (${wide.join(', ')})`);
    }
    for (const b of document.querySelectorAll('main .nhsuk-button')) {
        const r = b.getBoundingClientRect();
        if (!r.width || !r.height || r.left < -1 || r.right > window.innerWidth + 1)
            out.push(`button "${b.textContent.trim()}" is off screen`);
    }
    return out;
}"""


def reflow_problems(page: Page) -> list[str]:
    """What scrolls sideways or leaves a button off screen at 320 px and at 200 % zoom;
    the page is left at the phone width."""
    page.set_viewport_size(NARROW)
    problems = [f"at 320 px: {p}" for p in page.evaluate(_REFLOW_JS)]
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("Emulation.setDeviceMetricsOverride", ZOOM_200)
        seen = page.evaluate("[window.innerWidth, window.devicePixelRatio]")
        if seen != [ZOOM_200["width"], ZOOM_200["deviceScaleFactor"]]:
            problems.append(f"at 200 % zoom: the zoom was not applied (width, ratio {seen})")
        problems += [f"at 200 % zoom: {p}" for p in page.evaluate(_REFLOW_JS)]
    finally:
        cdp.send("Emulation.clearDeviceMetricsOverride")
        cdp.detach()
    page.set_viewport_size({"width": PHONE, "height": 900})
    return problems

class Checker:
    """check(page, name): axe and reflow on the page now, collected, and a screenshot
    when the name has a number (`shots`); `assert_clean()` fails listing every problem."""

    def __init__(self, shoot, shots: dict[str, str] | None = None) -> None:
        self.shoot = shoot
        self.shots = shots or {}
        self.problems: list[str] = []
        self.checked: list[str] = []

    def __call__(self, page: Page, name: str) -> None:
        self.checked.append(name)
        if name in self.shots:
            self.shoot(page, self.shots[name])
        violations = axe_violations(page)
        if violations:
            self.problems.append(f"{name} ({page.url}) axe WCAG 2.2 AA:\n"
                                 + describe(violations))
        self.problems += [f"{name} ({page.url}) {p}" for p in reflow_problems(page)]

    def assert_clean(self) -> None:
        assert not self.problems, "\n".join(self.problems)
