"""NHS login for patients: an OpenID Connect relying party (docs/patients.md "NHS login").

The authorisation code flow with PKCE (S256), a `state` and a `nonce`: `begin` makes the
provider's authorisation URL and the three secrets the browser keeps until it comes back;
`finish` swaps the code for tokens at the token endpoint (client_secret_post) and checks
the id_token: signed RS256 by a key of the provider's JWKS, from the configured issuer,
for this client, not expired nor issued in the future (`LEEWAY` either way), carrying the
nonce. `patient_for` finds the patient Guardian holds from the `nhs_number` and
`birthdate` claims, as the code sign-in does (codes.py).

The provider's discovery document is fetched once an hour at most (`DISCOVERY_SECONDS`);
its keys are cached by PyJWT's PyJWKClient, which fetches them again for a key id it has
not seen. Every network call has a timeout (`TIMEOUT`); anything that goes wrong is an
`OidcRefused` with a short reason for the audit log, never a traceback.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import jwt

from guardian.patient_access.codes import SignInRefused, _the_patient, normalise

TIMEOUT = 10.0  # seconds, each call to the provider
DISCOVERY_SECONDS = 3600
LEEWAY = 60  # seconds of clock difference allowed on exp and iat
ALGORITHMS = ["RS256"]


class OidcRefused(Exception):
    """Not signed in with NHS login; `reason` is a short word for the audit log,
    `unavailable` says the provider could not be reached or failed (not the patient's
    doing: "try again later")."""

    def __init__(self, reason: str, unavailable: bool = False):
        super().__init__(reason)
        self.reason, self.unavailable = reason, unavailable


@dataclass(frozen=True)
class Provider:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


@dataclass(frozen=True)
class Flow:
    """What the browser keeps (signed) between leaving for the provider and coming back."""

    state: str
    nonce: str
    verifier: str

    def dump(self) -> str:
        return json.dumps([self.state, self.nonce, self.verifier])

    @classmethod
    def load(cls, text: str) -> Flow | None:
        try:
            state, nonce, verifier = json.loads(text)
        except (ValueError, TypeError):
            return None
        return cls(str(state), str(nonce), str(verifier))


_lock = threading.Lock()
_providers: dict[str, tuple[float, Provider]] = {}
_key_sets: dict[str, jwt.PyJWKClient] = {}


def _fetch_json(url: str, form: dict[str, str] | None = None) -> dict[str, Any]:
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(url, data=data, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:  # noqa: S310
            body = json.loads(answer.read(1_000_000))
    except urllib.error.HTTPError as e:
        raise OidcRefused(f"provider-answered-{e.code}", unavailable=e.code >= 500) from None
    except (OSError, ValueError):  # unreachable, timed out, not JSON
        raise OidcRefused("provider-unreachable", unavailable=True) from None
    if not isinstance(body, dict):
        raise OidcRefused("provider-unreachable", unavailable=True)
    return body


def discover(issuer: str) -> Provider:
    """The provider's endpoints from {issuer}/.well-known/openid-configuration (cached)."""
    with _lock:
        found = _providers.get(issuer)
    if found and time.monotonic() - found[0] < DISCOVERY_SECONDS:
        return found[1]
    doc = _fetch_json(issuer + "/.well-known/openid-configuration")
    try:
        provider = Provider(*(str(doc[k]) for k in (
            "issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")))
    except KeyError:
        raise OidcRefused("discovery-incomplete", unavailable=True) from None
    if provider.issuer.rstrip("/") != issuer:
        raise OidcRefused("discovery-wrong-issuer", unavailable=True)
    with _lock:
        _providers[issuer] = (time.monotonic(), provider)
    return provider


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def begin(settings: Any, redirect_uri: str) -> tuple[str, Flow]:
    """The URL to send the patient to, and the flow the browser must bring back."""
    provider = discover(settings.patient_oidc_issuer)
    flow = Flow(secrets.token_urlsafe(24), secrets.token_urlsafe(24),
                secrets.token_urlsafe(48))
    query = urllib.parse.urlencode({
        "response_type": "code", "client_id": settings.patient_oidc_client_id,
        "redirect_uri": redirect_uri, "scope": settings.patient_oidc_scopes,
        "state": flow.state, "nonce": flow.nonce,
        "code_challenge": _challenge(flow.verifier), "code_challenge_method": "S256"})
    joiner = "&" if "?" in provider.authorization_endpoint else "?"
    return provider.authorization_endpoint + joiner + query, flow


def same(a: str | None, b: str) -> bool:
    return bool(a) and hmac.compare_digest(a.encode(), b.encode())


def finish(settings: Any, code: str, redirect_uri: str, flow: Flow, now: dt.datetime
           ) -> dict[str, Any]:
    """The checked claims of the id_token the code is swapped for."""
    provider = discover(settings.patient_oidc_issuer)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "client_id": settings.patient_oidc_client_id, "code_verifier": flow.verifier}
    if settings.patient_oidc_client_secret:
        form["client_secret"] = settings.patient_oidc_client_secret
    tokens = _fetch_json(provider.token_endpoint, form)
    id_token = tokens.get("id_token")
    if not isinstance(id_token, str):
        raise OidcRefused("no-id-token")
    return check_id_token(settings, provider, id_token, flow.nonce, now)


def _keys(jwks_uri: str) -> jwt.PyJWKClient:
    with _lock:
        if jwks_uri not in _key_sets:
            _key_sets[jwks_uri] = jwt.PyJWKClient(jwks_uri, cache_keys=True, lifespan=3600,
                                                  timeout=TIMEOUT)
        return _key_sets[jwks_uri]


def check_id_token(settings: Any, provider: Provider, id_token: str, nonce: str,
                   now: dt.datetime) -> dict[str, Any]:
    """The claims of a valid id_token, or OidcRefused naming what is wrong. Times are
    checked against Guardian's clock (`now`)."""
    try:
        key = _keys(provider.jwks_uri).get_signing_key_from_jwt(id_token)
    except jwt.PyJWKClientConnectionError:
        raise OidcRefused("keys-unreachable", unavailable=True) from None
    except (jwt.PyJWKClientError, jwt.InvalidTokenError):
        raise OidcRefused("unknown-signing-key") from None
    try:
        claims = jwt.decode(
            id_token, key.key, algorithms=ALGORITHMS, audience=settings.patient_oidc_client_id,
            issuer=provider.issuer, options={"verify_exp": False, "verify_iat": False,
                                             "verify_nbf": False,
                                             "require": ["iss", "aud", "exp", "iat", "sub"]})
    except jwt.InvalidSignatureError:
        raise OidcRefused("bad-signature") from None
    except jwt.InvalidAudienceError:
        raise OidcRefused("wrong-audience") from None
    except jwt.InvalidIssuerError:
        raise OidcRefused("wrong-issuer") from None
    except jwt.InvalidTokenError:
        raise OidcRefused("invalid-token") from None
    at = now.timestamp()
    try:
        expires, issued = float(claims["exp"]), float(claims["iat"])
    except (TypeError, ValueError):
        raise OidcRefused("invalid-token") from None
    if expires + LEEWAY < at:
        raise OidcRefused("expired")
    if issued - LEEWAY > at:
        raise OidcRefused("issued-in-future")
    if not same(claims.get("nonce") if isinstance(claims.get("nonce"), str) else None, nonce):
        raise OidcRefused("wrong-nonce")
    return claims


def patient_for(app: Any, claims: dict[str, Any]) -> UUID | None:
    """The patient Guardian holds with the NHS number and date of birth NHS login vouched
    for, or None. An identity not proven to P9 (when the claim is given) has neither."""
    level = claims.get("identity_proofing_level")
    if level is not None and level != "P9":
        raise OidcRefused("not-p9")
    nhs_number, birthdate = claims.get("nhs_number"), claims.get("birthdate")
    if not isinstance(nhs_number, str) or not isinstance(birthdate, str):
        raise OidcRefused("no-nhs-number")
    try:
        nhs_number = normalise(nhs_number)
        born = dt.date.fromisoformat(birthdate)
    except (SignInRefused, ValueError):
        raise OidcRefused("no-nhs-number") from None
    patient = _the_patient(app, nhs_number, born)
    return patient.id if patient is not None else None


def forget() -> None:
    """Drop the cached discovery documents and key sets (tests, a provider's key roll)."""
    with _lock:
        _providers.clear()
        _key_sets.clear()
