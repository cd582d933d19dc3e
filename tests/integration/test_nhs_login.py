"""NHS login for patients (docs/patients.md "NHS login") against a real OpenID Connect
provider the tests start on 127.0.0.1: discovery, a JWKS with an RSA key made here,
/authorize (which answers at once, as if the patient had logged in as the configured
identity) and /token (which checks the code, the client's id and secret and the PKCE
verifier, and returns an id_token signed RS256).

The round trip signs a patient in and /my shows their referral (SQLite and PostgreSQL);
a wrong state, a token signed by another key, for another audience, expired, with
another nonce, and an NHS number Guardian does not hold are each refused with a clear
page and audited; with GUARDIAN_PATIENT_SIGN_IN=nhs-login the code pages are 404; bad
settings are refused naming the variable."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import secrets
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select

from guardian import audit
from guardian.bootstrap import build_app, init_database
from guardian.config import Settings
from guardian.domain.report import ReferralReport
from guardian.orgs import load_orgs, read_org_file
from guardian.patient_access import oidc
from guardian.patient_access.schema import patient_sessions
from guardian.web.app import create_app

ORGS = Path(__file__).resolve().parents[2] / "guardian" / "data" / "mse-orgs.csv"
BORN = dt.date(1960, 5, 1)
NHS = "9995260182"
OTHER = "9990000018"
CLIENT_ID = "guardian-test"
CLIENT_SECRET = "client-secret-for-tests"


class TestProvider:
    """A small OpenID Connect provider on a thread. `identity` is who "logs in";
    `claims` overrides the next id_tokens' claims; `signing_key` signs them."""

    __test__ = False

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.signing_key = self.key
        self.identity = {"nhs_number": NHS, "birthdate": BORN.isoformat()}
        self.claims: dict = {}
        self.codes: dict[str, dict] = {}
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _json(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                if url.path == "/.well-known/openid-configuration":
                    self._json(200, provider.discovery())
                elif url.path == "/jwks":
                    self._json(200, provider.jwks())
                elif url.path == "/authorize":
                    self.send_response(302)
                    self.send_header("Location", provider.authorize(query))
                    self.end_headers()
                else:
                    self._json(404, {"error": "not_found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                status, body = provider.token(form)
                self._json(status, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def discovery(self) -> dict:
        return {"issuer": self.issuer, "authorization_endpoint": self.issuer + "/authorize",
                "token_endpoint": self.issuer + "/token", "jwks_uri": self.issuer + "/jwks",
                "id_token_signing_alg_values_supported": ["RS256"]}

    def jwks(self) -> dict:
        key = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**key, "kid": "test-key", "use": "sig", "alg": "RS256"}]}

    def authorize(self, query: dict) -> str:
        assert query["response_type"] == "code" and query["client_id"] == CLIENT_ID
        assert query["code_challenge_method"] == "S256" and "openid" in query["scope"]
        code = secrets.token_urlsafe(16)
        self.codes[code] = query
        back = {"code": code, "state": query["state"]}
        return query["redirect_uri"] + "?" + urllib.parse.urlencode(back)

    def token(self, form: dict) -> tuple[int, dict]:
        asked = self.codes.pop(form.get("code", ""), None)
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(
            hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if (asked is None or form.get("grant_type") != "authorization_code"
                or form.get("client_id") != CLIENT_ID
                or form.get("client_secret") != CLIENT_SECRET
                or form.get("redirect_uri") != asked["redirect_uri"]
                or challenge != asked["code_challenge"]):
            return 400, {"error": "invalid_grant"}
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": CLIENT_ID, "sub": "nhs-login-user-1",
                  "iat": now, "exp": now + 300, "nonce": asked["nonce"],
                  "identity_proofing_level": "P9", **self.identity, **self.claims}
        token = jwt.encode(claims, self.signing_key, algorithm="RS256",
                           headers={"kid": "test-key"})
        return 200, {"access_token": "opaque", "token_type": "Bearer", "id_token": token}


@pytest.fixture
def provider():
    p = TestProvider()
    yield p
    p.close()
    oidc.forget()


def make_settings(database_url, tmp_path, issuer, sign_in="both") -> Settings:
    return Settings(database_url=database_url, var_dir=tmp_path / "var",
                    secret_key="test-secret-key", patient_sign_in=sign_in,
                    patient_oidc_issuer=issuer, patient_oidc_client_id=CLIENT_ID,
                    patient_oidc_client_secret=CLIENT_SECRET)


def started(settings: Settings):
    guardian = build_app(settings)
    try:
        init_database(guardian)
        load_orgs(guardian.engine, read_org_file(ORGS))
    finally:
        guardian.close()
    return TestClient(create_app(settings, follow_events=False))


@pytest.fixture
def client(database_url, tmp_path, provider):
    with started(make_settings(database_url, tmp_path, provider.issuer)) as c:
        yield c


def refer(guardian) -> None:
    start = guardian.today() - dt.timedelta(days=84)
    guardian.apply_reports([ReferralReport(
        provider="RAJ", pathway_id="P-1", nhs_number=NHS, birth_date=BORN,
        practice_code="Y90001", treatment_function="320", priority=1,
        waiting_list_type="ORTT", received_on=start, clock_start=start,
        as_of=guardian.today(), given_name="Ada", family_name="Example")])


def nhs_login(client, provider, callback=lambda query: query):
    """Out to the provider and back; `callback` may change the query it sends back."""
    go = client.get("/my/nhs-login", follow_redirects=False)
    assert go.status_code == 303, go.text[:300]
    assert go.headers["location"].startswith(provider.issuer + "/authorize?")
    back = httpx.get(go.headers["location"], follow_redirects=False)
    assert back.status_code == 302
    url = urllib.parse.urlsplit(back.headers["location"])
    assert url.path == "/my/nhs-login/callback"
    query = callback(dict(urllib.parse.parse_qsl(url.query)))
    return client.get(url.path + "?" + urllib.parse.urlencode(query), follow_redirects=False)


def audited(client) -> list[tuple[str, str | None]]:
    with client.app.state.guardian.engine.connect() as conn:
        return [(r.action, r.detail) for r in conn.execute(
            select(audit.audit_log.c.action, audit.audit_log.c.detail)
            .where(audit.audit_log.c.role == "patient"))]


def test_nhs_login_signs_a_patient_in_and_my_shows_their_referral(client, provider):
    refer(client.app.state.guardian)
    sign_in_page = client.get("/my/sign-in").text
    assert "Continue with NHS login" in sign_in_page and "Send me a code" in sign_in_page
    done = nhs_login(client, provider)
    assert done.status_code == 303 and done.headers["location"] == "/my", done.text[:500]
    page = client.get("/my")
    assert page.status_code == 200 and "Example" in page.text and "Cardiology at" in page.text
    assert ("patient-signed-in", "nhs-login") in audited(client)
    with client.app.state.guardian.engine.connect() as conn:
        assert [v for (v,) in conn.execute(select(patient_sessions.c.via))] == ["nhs-login"]
    # the flow cookie is spent: the same answer from the provider again is refused
    assert "guardian_nhs_login" not in client.cookies


def _other_key(provider):
    provider.signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.mark.one_backend
@pytest.mark.parametrize("change,reason", [
    (lambda p: None, "wrong-state"),
    (_other_key, "bad-signature"),
    (lambda p: p.claims.update(aud="someone-else"), "wrong-audience"),
    (lambda p: p.claims.update(exp=int(time.time()) - 3600, iat=int(time.time()) - 4000),
     "expired"),
    (lambda p: p.claims.update(nonce="not-the-one-sent"), "wrong-nonce"),
    (lambda p: p.claims.update(iss="https://elsewhere.invalid"), "wrong-issuer"),
    (lambda p: p.claims.update(identity_proofing_level="P5"), "not-p9"),
], ids=["state", "key", "audience", "expired", "nonce", "issuer", "proofing"])
def test_a_bad_answer_is_refused_with_a_clear_page_and_audited(client, provider, change,
                                                               reason):
    refer(client.app.state.guardian)
    change(provider)
    state = (lambda q: {**q, "state": "forged"}) if reason == "wrong-state" else (lambda q: q)
    answer = nhs_login(client, provider, state)
    assert answer.status_code == 400
    assert "We could not sign you in" in answer.text and "Traceback" not in answer.text
    assert ("patient-nhs-login-failed", reason) in audited(client)
    assert not any(a == "patient-signed-in" for a, _ in audited(client))
    assert client.get("/my", follow_redirects=False).headers["location"] == "/my/sign-in"


@pytest.mark.one_backend
def test_someone_guardian_does_not_hold_is_told_plainly(client, provider):
    refer(client.app.state.guardian)
    provider.identity = {"nhs_number": OTHER, "birthdate": BORN.isoformat()}
    answer = nhs_login(client, provider)
    assert answer.status_code == 200
    assert "We cannot find any referrals for you" in answer.text
    assert ("patient-nhs-login-failed", "not-found") in audited(client)
    provider.identity = {"nhs_number": NHS, "birthdate": "1961-05-01"}  # wrong birth date
    assert "We cannot find any referrals" in nhs_login(client, provider).text


@pytest.mark.one_backend
def test_a_patient_who_cancels_at_the_provider_is_told_so(client, provider):
    answer = nhs_login(client, provider, lambda q: {"error": "access_denied",
                                                    "state": q["state"]})
    assert answer.status_code == 400 and "did not finish signing in" in answer.text
    assert ("patient-nhs-login-failed", "provider-error:access_denied") in audited(client)
    again = client.get("/my/nhs-login/callback?code=x&state=y")  # no flow cookie
    assert again.status_code == 400 and "took too long" in again.text


@pytest.mark.one_backend
def test_a_provider_that_cannot_be_reached_is_a_clear_page(database_url, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    settings = make_settings(database_url, tmp_path, f"http://127.0.0.1:{port}")
    with started(settings) as c:
        answer = c.get("/my/nhs-login", follow_redirects=False)
    assert answer.status_code == 502 and "NHS login is not working" in answer.text
    assert ("patient-nhs-login-failed", "provider-unreachable") in audited(c)


@pytest.mark.one_backend
def test_with_nhs_login_only_the_code_pages_are_404(database_url, tmp_path, provider):
    settings = make_settings(database_url, tmp_path, provider.issuer, sign_in="nhs-login")
    with started(settings) as c:
        page = c.get("/my/sign-in")
        assert "Continue with NHS login" in page.text and "Send me a code" not in page.text
        assert c.post("/my/sign-in", data={"nhs_number": NHS}).status_code == 404
        assert c.get("/my/code").status_code == 404
        assert c.post("/my/code", data={"code": "123456"}).status_code == 404
        refer(c.app.state.guardian)
        assert nhs_login(c, provider).headers["location"] == "/my"


@pytest.mark.one_backend
def test_with_codes_only_nhs_login_is_404(database_url, tmp_path):
    settings = Settings(database_url=database_url, var_dir=tmp_path / "var",
                        secret_key="test-secret-key")
    with started(settings) as c:
        assert "Continue with NHS login" not in c.get("/my/sign-in").text
        assert c.get("/my/nhs-login").status_code == 404
        assert c.get("/my/nhs-login/callback?code=x&state=y").status_code == 404


@pytest.mark.parametrize("values,named", [
    ({"patient_sign_in": "nhs-login"}, "GUARDIAN_PATIENT_OIDC_ISSUER"),
    ({"patient_sign_in": "both", "patient_oidc_issuer": "https://login.example"},
     "GUARDIAN_PATIENT_OIDC_CLIENT_ID"),
    ({"patient_sign_in": "oidc"}, "GUARDIAN_PATIENT_SIGN_IN"),
    ({"patient_oidc_issuer": "login.example"}, "GUARDIAN_PATIENT_OIDC_ISSUER"),
    ({"patient_sign_in": "both", "patient_oidc_issuer": "https://login.example",
      "patient_oidc_client_id": "x", "patient_oidc_scopes": "profile"},
     "GUARDIAN_PATIENT_OIDC_SCOPES"),
])
def test_settings_that_cannot_work_are_refused_naming_the_variable(values, named):
    with pytest.raises(ValidationError, match=named):
        Settings(**values)
