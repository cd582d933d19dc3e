"""Whose address is audited (docs/access.md "Client addresses"): X-Forwarded-For and
X-Forwarded-Proto are believed only from the proxies in GUARDIAN_TRUSTED_PROXIES.

Given a client that sends proxy headers, when it is not a configured proxy, then the audit
log (and the sign-in throttle) see its own address; when it is, they see the address the
proxy forwarded for.
"""

from __future__ import annotations

import itertools

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from web_helpers import sign_in

from guardian import audit
from guardian.config import Settings
from guardian.web.app import create_app
from guardian.web.auth import SIGN_IN_COOKIE


def audited_client(app, peer: str, headers: dict[str, str]) -> str | None:
    """The client address audited for a failed sign-in (a new e-mail address each time,
    so that the sign-in throttle stays out of the way)."""
    email = f"nobody{next(attempts)}@guardian.test"
    with TestClient(app, client=(peer, 50000), headers=headers) as client:
        assert sign_in(client, email, "wrong password").status_code == 401
        return audit.entries(client.app.state.guardian.engine, email=email)[0].client


attempts = itertools.count()
# Which address is believed depends on no database: once, on SQLite.
pytestmark = pytest.mark.one_backend


SPOOF = {"X-Forwarded-For": "198.51.100.23"}


def test_proxy_headers_from_anyone_are_ignored_by_default(settings):
    assert settings.proxies == []
    assert audited_client(create_app(settings, follow_events=False), "203.0.113.9",
                          SPOOF) == "203.0.113.9"
    assert audited_client(create_app(settings, follow_events=False), "127.0.0.1",
                          SPOOF) == "127.0.0.1"


def test_a_configured_proxy_is_believed_and_no_one_else(settings):
    trusted = settings.model_copy(update={"trusted_proxies": "10.0.0.0/8, 192.0.2.1"})
    app = create_app(trusted, follow_events=False)
    assert audited_client(app, "192.0.2.1", SPOOF) == "198.51.100.23"
    assert audited_client(app, "10.1.2.3", SPOOF) == "198.51.100.23"
    assert audited_client(app, "203.0.113.9", SPOOF) == "203.0.113.9"  # not a proxy
    # A client that writes its own header in front of the proxy's gains nothing: the
    # address the last trusted proxy saw is the one taken.
    forged = {"X-Forwarded-For": "1.2.3.4, 198.51.100.23"}
    assert audited_client(app, "192.0.2.1", forged) == "198.51.100.23"
    chained = {"X-Forwarded-For": "198.51.100.23, 10.0.0.7"}  # through two of our proxies
    assert audited_client(app, "192.0.2.1", chained) == "198.51.100.23"


def test_only_a_trusted_proxy_makes_a_request_https(settings):
    trusted = settings.model_copy(update={"trusted_proxies": "192.0.2.1"})
    app = create_app(trusted, follow_events=False)
    https = {**SPOOF, "X-Forwarded-Proto": "https"}
    for peer, secure in (("192.0.2.1", True), ("203.0.113.9", False)):
        with TestClient(app, client=(peer, 50000), headers=https) as client:
            r = client.get("/sign-in")  # the sign-in form's cookie is Secure over HTTPS
        cookie = next(c for c in r.headers.get_list("set-cookie")
                      if c.startswith(SIGN_IN_COOKIE + "="))
        assert ("secure" in [f.strip().lower() for f in cookie.split(";")]) is secure


@pytest.mark.parametrize("value", ["proxy.example", "10.0.0.0/33", "*"])
def test_a_trusted_proxy_must_be_an_address_or_network(value):
    with pytest.raises(ValidationError, match="GUARDIAN_TRUSTED_PROXIES"):
        Settings(trusted_proxies=value)
