"""Patients signing in with NHS login (docs/patients.md "NHS login"), when
GUARDIAN_PATIENT_SIGN_IN is "nhs-login" or "both"; otherwise these pages are 404.

GET /my/nhs-login sends the patient to the provider, keeping the flow's state, nonce and
PKCE verifier in a short-lived signed cookie (path /my); the provider sends them back to
GET /my/nhs-login/callback, which checks the state, swaps the code for an id_token,
checks it (guardian/patient_access/oidc.py) and starts the same patient session as a
one-time code does. Every outcome is audited (role "patient"): `patient-signed-in` with
detail "nhs-login", or `patient-nhs-login-failed` with the reason. A refusal is a plain
page saying what to do, never a traceback.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner
from starlette.concurrency import run_in_threadpool

from guardian.patient_access import oidc, sessions
from guardian.web.deps import AppDep
from guardian.web.routes.my import _audit, _now, _signed_in
from guardian.web.templating import render

router = APIRouter(include_in_schema=False)

FLOW_COOKIE = "guardian_nhs_login"
FLOW_SECONDS = 600  # the patient has 10 minutes at the provider
CALLBACK = "/my/nhs-login/callback"
# What the patient reads for each kind of refusal (the audit log keeps the exact reason).
NOT_NOW = "NHS login is not working at the moment. Please try again later."
TRY_AGAIN = "Something went wrong while you were signing in. Please try again."


def _settings(request: Request) -> Any:
    settings = request.app.state.guardian.settings
    if not settings.nhs_login:
        raise HTTPException(status_code=404, detail="Not Found")
    return settings


def _redirect_uri(settings: Any) -> str:
    """The address registered with the provider: GUARDIAN_BASE_URL + the callback."""
    return settings.base_url.rstrip("/") + CALLBACK


def _signer(request: Request) -> TimestampSigner:
    return TimestampSigner(request.app.state.guardian.settings.session_secret(),
                           salt="guardian-nhs-login")


def _refused(request: Request, reason: str, message: str, status: int = 400) -> Response:
    _audit(request, "patient-nhs-login-failed", detail=reason[:200])
    response = render(request, "my_nhs_login_failed.html", {"message": message},
                      status_code=status)
    response.delete_cookie(FLOW_COOKIE, path="/my")
    return response


@router.get("/my/nhs-login")
async def go_to_nhs_login(request: Request) -> Response:
    settings = _settings(request)
    try:
        url, flow = await run_in_threadpool(oidc.begin, settings, _redirect_uri(settings))
    except oidc.OidcRefused as e:
        return _refused(request, e.reason, NOT_NOW, 502)
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(FLOW_COOKIE, _signer(request).sign(flow.dump()).decode(),
                        max_age=FLOW_SECONDS, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", path="/my")
    return response


def _flow(request: Request) -> oidc.Flow | None:
    raw = request.cookies.get(FLOW_COOKIE)
    if not raw:
        return None
    try:
        return oidc.Flow.load(_signer(request).unsign(raw, max_age=FLOW_SECONDS).decode())
    except (BadSignature, SignatureExpired):
        return None


def _sign_in(app: Any, settings: Any, code: str, flow: oidc.Flow, now: dt.datetime
             ) -> tuple[str | None, str | None]:
    """(the new session's raw id, the patient's id hex), or (None, None) when the person
    NHS login vouched for is not a patient Guardian holds."""
    claims = oidc.finish(settings, code, _redirect_uri(settings), flow, now)
    patient_id = oidc.patient_for(app, claims)
    if patient_id is None:
        return None, None
    return sessions.start(app.engine, patient_id, "nhs-login", now), patient_id.hex


@router.get(CALLBACK)
async def back_from_nhs_login(request: Request, app: AppDep, code: str | None = None,
                              state: str | None = None, error: str | None = None
                              ) -> Response:
    settings = _settings(request)
    flow = _flow(request)
    if error:
        reason = "provider-error:" + error[:60]
        if error == "access_denied":
            return _refused(request, reason, "You did not finish signing in with NHS login.")
        return _refused(request, reason, TRY_AGAIN)
    if flow is None:
        return _refused(request, "no-flow", "Signing in took too long, or started in another "
                                            "browser. Please try again.")
    if not oidc.same(state, flow.state):
        return _refused(request, "wrong-state", TRY_AGAIN)
    if not code:
        return _refused(request, "no-code", TRY_AGAIN)
    try:
        raw, patient = await run_in_threadpool(_sign_in, app, settings, code, flow,
                                               _now(request))
    except oidc.OidcRefused as e:
        return _refused(request, e.reason, NOT_NOW if e.unavailable else TRY_AGAIN,
                        502 if e.unavailable else 400)
    if raw is None:
        _audit(request, "patient-nhs-login-failed", detail="not-found")
        response = render(request, "my_nhs_login_unknown.html", {})
        response.delete_cookie(FLOW_COOKIE, path="/my")
        return response
    _audit(request, "patient-signed-in", patient, detail="nhs-login")
    response = _signed_in(request, raw)
    response.delete_cookie(FLOW_COOKIE, path="/my")
    return response
