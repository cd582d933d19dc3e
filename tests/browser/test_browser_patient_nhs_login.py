"""docs/patients.md "NHS login", in Chromium on a phone: a second live server with
GUARDIAN_PATIENT_SIGN_IN=nhs-login (and its own small demo store), and the OpenID Connect
provider of tests/integration/test_nhs_login.py on 127.0.0.1, which "logs in" whoever the
test says. The sign-in page offers NHS login alone (the code pages are 404); someone NHS
login vouched for whom Guardian does not hold reads "We cannot find any referrals for you"
(my_nhs_login_unknown.html); an id_token for another client is refused with a page saying
what to do (my_nhs_login_failed.html); "Try NHS login again" as a demo patient shows their
referrals. Each page passes axe-core at WCAG 2.2 AA and reflows at 320 px and at 200 %
zoom; each outcome is in the audit log. Screenshots 71-73.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest
from browser_servers import free_port, live_server, server_env
from patient_checks import PHONE, Checker, open_app
from playwright.sync_api import expect

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from test_nhs_login import CLIENT_ID, CLIENT_SECRET, TestProvider  # noqa: E402

PATIENTS = 20  # enough for a patient to sign in; quick to load
UNKNOWN = {"nhs_number": "9990000018", "birthdate": "1970-01-02"}  # not in the demo
SHOTS = {"sign-in": "71-my-nhs-login-sign-in", "unknown": "72-my-nhs-login-unknown",
         "failed": "73-my-nhs-login-failed"}


@pytest.fixture(scope="module")
def provider():
    p = TestProvider()
    yield p
    p.close()


@pytest.fixture(scope="module")
def nhs_live(tmp_path_factory, provider):
    """`guardian serve` with NHS login only, at the address registered with the provider
    (GUARDIAN_BASE_URL: the provider sends the patient back there)."""
    root = tmp_path_factory.mktemp("guardian-nhs-login")
    port = free_port()
    env = server_env(root, GUARDIAN_BASE_URL=f"http://127.0.0.1:{port}",
                     GUARDIAN_PATIENT_SIGN_IN="nhs-login",
                     GUARDIAN_PATIENT_OIDC_ISSUER=provider.issuer,
                     GUARDIAN_PATIENT_OIDC_CLIENT_ID=CLIENT_ID,
                     GUARDIAN_PATIENT_OIDC_CLIENT_SECRET=CLIENT_SECRET)
    with live_server(root, env, patients=PATIENTS, port=port) as server:
        yield server


def continue_with_nhs_login(page, button: str) -> None:
    """Out to the provider and back (it answers at once, as if the patient logged in)."""
    with page.expect_navigation():
        page.get_by_role("button", name=button).click()


def test_nhs_login_pages_read_well_and_sign_a_patient_in(
        chromium, nhs_live, provider, shoot, tmp_path_factory):
    [(patient_id, nhs_number)] = nhs_live.query(
        "SELECT patient_id, nhs_number FROM worklist ORDER BY patient_id LIMIT 1")
    assert not nhs_live.query("SELECT 1 FROM worklist WHERE nhs_number = ?",
                              (UNKNOWN["nhs_number"],))
    app = open_app(nhs_live, tmp_path_factory.mktemp("nhs-login"))
    try:
        patient = app.get_patient(uuid.UUID(hex=patient_id))
    finally:
        app.close()
    context = chromium.new_context(base_url=nhs_live.base_url, locale="en-GB",
                                   timezone_id="Europe/London", bypass_csp=True,
                                   viewport={"width": PHONE, "height": 900})
    context.set_default_timeout(15_000)
    check = Checker(shoot, SHOTS)
    try:
        page = context.new_page()
        page.goto("/my/sign-in")
        main = page.locator("main")
        expect(page.get_by_role("heading", level=1)).to_have_text("See your hospital referrals")
        expect(main.get_by_role("button", name="Continue with NHS login")).to_be_visible()
        expect(main.get_by_label("NHS number")).to_have_count(0)  # no code form
        expect(main).not_to_contain_text("Send me a code")
        check(page, "sign-in")
        assert page.request.get("/my/code").status == 404

        provider.identity = dict(UNKNOWN)
        continue_with_nhs_login(page, "Continue with NHS login")
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "We cannot find any referrals for you")
        expect(main).to_contain_text("call your GP practice")
        check(page, "unknown")

        provider.claims = {"aud": "another-service"}  # an id_token for someone else
        page.goto("/my/sign-in")
        continue_with_nhs_login(page, "Continue with NHS login")
        expect(page.get_by_role("heading", level=1)).to_have_text("We could not sign you in")
        expect(main).to_contain_text("Something went wrong while you were signing in")
        expect(main).not_to_contain_text("Sign in with a code instead")  # NHS login only
        check(page, "failed")

        provider.claims = {}
        provider.identity = {"nhs_number": nhs_number,
                             "birthdate": patient.birth_date.isoformat()}
        continue_with_nhs_login(page, "Try NHS login again")
        expect(page).to_have_url(nhs_live.url("/my"))
        expect(page.get_by_role("heading", level=1)).to_have_text("Your hospital referrals")
        expect(main).to_contain_text(f"{patient.given_name} {patient.family_name}")
        check(page, "my")
    finally:
        provider.claims, provider.identity = {}, dict(UNKNOWN)
        context.close()
    audited = nhs_live.query("SELECT action, detail FROM audit_log WHERE role = 'patient' "
                             "AND action LIKE 'patient-%' AND action != 'patient-view' "
                             "ORDER BY id")
    assert audited == [("patient-nhs-login-failed", "not-found"),
                       ("patient-nhs-login-failed", "wrong-audience"),
                       ("patient-signed-in", "nhs-login")], audited
    check.assert_clean()
