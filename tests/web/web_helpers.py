"""Helpers shared by the web tests (the fixtures are in conftest.py)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

PASSWORD = "correct horse battery"
ACCOUNTS = {
    "coordinator": ("sam@guardian.test", ["U90001", "U90002"]),
    "gp": ("gp@guardian.test", ["Y90001"]),
    "place-lead": ("alex@guardian.test", ["Thurrock"]),
    "admin": ("admin@guardian.test", []),
}


def sign_in_token(client: TestClient) -> str:
    page = client.get("/sign-in")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def sign_in(client: TestClient, role_or_email: str, password: str = PASSWORD,
            next: str | None = None):
    """Sign in from a browser without a session (any earlier session cookie is dropped)."""
    client.cookies.delete("guardian_session")
    email = ACCOUNTS[role_or_email][0] if role_or_email in ACCOUNTS else role_or_email
    data = {"email": email, "password": password, "csrf_token": sign_in_token(client)}
    if next is not None:
        data["next"] = next
    return client.post("/sign-in", data=data, follow_redirects=False)


def without_csrf(html: str) -> str:
    """A page with its CSRF token blanked: each page masks it afresh (guardian/web/csrf.py),
    so two pages that say the same thing differ there."""
    return re.sub(r'(name="csrf-token" content=|name="csrf_token" value=)"[^"]*"', r'\1""',
                  html)


def csrf_of(client: TestClient) -> str:
    """The session's CSRF token, as the page's <meta name="csrf-token"> gives it."""
    page = client.get("/")
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
    assert found, "no CSRF meta tag: not signed in?"
    return found.group(1)


def referred_patient(guardian, pathway_id: str = "INPUT-1", nhs_number: str = "9995260182",
                     practice: str = "Y90001") -> tuple[str, str]:
    """One open referral at `practice` (by default the GP's, in the coordinator's PCN
    U90001), waiting 30 days: (the patient id in hex, the pathway as the forms send it)."""
    import datetime as dt

    from guardian.domain.report import ReferralReport

    today = guardian.today()
    start = today - dt.timedelta(days=30)
    report = ReferralReport(
        provider="RAJ", pathway_id=pathway_id, nhs_number=nhs_number,
        birth_date=dt.date(1960, 5, 1), practice_code=practice, treatment_function="110",
        priority=2, waiting_list_type="ORTT", received_on=start, clock_start=start,
        as_of=today, given_name="Ada", family_name="Example")
    [outcome] = guardian.apply_reports([report])
    return outcome.patient_id.hex, f"RAJ|{pathway_id}"
