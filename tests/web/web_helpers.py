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


def csrf_of(client: TestClient) -> str:
    """The session's CSRF token, as the page's <meta name="csrf-token"> gives it."""
    page = client.get("/")
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
    assert found, "no CSRF meta tag: not signed in?"
    return found.group(1)
