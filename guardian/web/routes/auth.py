"""Sign-in and sign-out, and the session cookie.

- GET/POST /sign-in: e-mail and password; error summary and field errors; after a few
  wrong passwords, by e-mail address or by client, a growing delay ("try again in N
  seconds", 429; guardian/throttle.py), never a lock-out; the same answers whether or not
  the e-mail address has an account, or the account is disabled. The form carries its
  own CSRF token (a random value in a short-lived cookie and a hidden field) because
  there is no session yet.
- POST /sign-out: ends the server-side session (CSRF-checked like every POST).
- Session cookie `guardian_session`: a random id signed with GUARDIAN_SECRET_KEY; the
  database holds its hash. HttpOnly, SameSite=Lax, Secure when the request came over
  HTTPS; ends after 8 hours idle or 12 hours after sign-in.
"""

from __future__ import annotations

import logging
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.routing import Match

from guardian import users
from guardian.application import GuardianApp
from guardian.web import access, csrf
from guardian.web.access import CurrentPrincipal, Principal
from guardian.web.deps import AppDep
from guardian.web.inputs import LARGEST_INTEGER
from guardian.web.templating import render

log = logging.getLogger("guardian.web.auth")

SIGN_IN_COOKIE = "guardian_sign_in"  # the sign-in form's CSRF value (no session yet)
SIGN_IN_PATH = "/sign-in"
# Where each role lands after signing in, when that page exists (else the start page).
HOME_BY_ROLE = {
    "coordinator": "/worklist",
    "gp": "/gp",
    "place-lead": "/reports",
    "admin": "/admin/audit",
}
CSRF_MESSAGE = (
    "This form's security token is missing or out of date. Go back, reload the page and "
    "try again."
)

router = APIRouter(include_in_schema=False)


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def safe_next(value: str | None) -> str | None:
    """Only a path on this site (never //host or a scheme): no open redirects."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return None
    return value


def home_for(request: Request, principal: Principal) -> str:
    path = HOME_BY_ROLE.get(principal.role, "/")
    # Ask the router (FastAPI 0.16x wraps included routers, so their routes carry no .path).
    probe = {"type": "http", "path": path, "method": "GET", "root_path": ""}
    found = any(r.matches(probe)[0] == Match.FULL for r in request.app.router.routes)
    return path if found else "/"


def set_session_cookie(request: Request, response: Response, session_id: str) -> None:
    response.set_cookie(
        access.SESSION_COOKIE,
        access.signer(request).sign(session_id).decode(),
        max_age=int(users.SESSION_ABSOLUTE.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        access.SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=is_https(request)
    )


# ---------------------------------------------------------------------------- sign-in


def _sign_in_page(
    request: Request,
    app: GuardianApp,
    *,
    email: str = "",
    next_path: str | None = None,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    token = secrets.token_urlsafe(24)
    request.state.csrf_token = token
    response = render(
        request,
        "sign_in.html",
        {"email": email, "next": next_path or "", "errors": errors or {}, "notice": notice,
         "demo": users.find_user(app.engine, users.DEMO_USERS[-1][1]) is not None},
        status_code=status_code,
    )
    response.set_cookie(
        SIGN_IN_COOKIE, token, max_age=3600, path=SIGN_IN_PATH, httponly=True,
        samesite="lax", secure=is_https(request),
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get(SIGN_IN_PATH)
def sign_in_form(
    request: Request,
    app: AppDep,
    next: str | None = None,
    ended: Annotated[int, Query(ge=0, le=LARGEST_INTEGER)] = 0,
    signed_out: Annotated[int, Query(ge=0, le=LARGEST_INTEGER)] = 0,
) -> Response:
    principal = access.peek(request)
    if principal is not None:
        return RedirectResponse(safe_next(next) or home_for(request, principal), 303)
    notice = None
    if ended:
        notice = "Your session has ended. Sign in again to carry on."
    elif signed_out:
        notice = "You have signed out."
    return _sign_in_page(request, app, next_path=safe_next(next), notice=notice)


@router.post(SIGN_IN_PATH)
def sign_in(
    request: Request,
    app: AppDep,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    email = email.strip()
    next_path = safe_next(next)
    expected = request.cookies.get(SIGN_IN_COOKIE, "")
    if not csrf.matches(csrf_token, expected):  # masked on the page (guardian/web/csrf.py)
        return _sign_in_page(request, app, email=email, next_path=next_path,
                             errors={"form": CSRF_MESSAGE}, status_code=403)
    errors: dict[str, str] = {}
    if not email:
        errors["email"] = "Enter your email address"
    elif "@" not in email:
        errors["email"] = "Enter an email address in the right format, like name@example.nhs.uk"
    if not password:
        errors["password"] = "Enter your password"
    if errors:
        return _sign_in_page(request, app, email=email, next_path=next_path, errors=errors,
                             status_code=400)
    engine = app.engine
    client = access.client_of(request)
    result = users.authenticate(
        engine, email, password, client=client, user_agent=request.headers.get("user-agent"),
    )
    if result.outcome != "ok":  # audited too (users.authenticate)
        log.warning("sign-in %s from %s%s", "throttled" if result.wait else "failed",
                    client, f" (asked to wait {result.wait} s)" if result.wait else "")
    if result.outcome == "throttled":
        # The same words for every address, known or not, and whichever count (the
        # address's or the client's) asked for the wait (docs/access.md).
        response = _sign_in_page(
            request, app, email=email, next_path=next_path, status_code=429,
            errors={"email": "There have been too many attempts to sign in. Try again in "
                    f"{result.wait} second{'s' if result.wait != 1 else ''}."},
        )
        response.headers["Retry-After"] = str(result.wait)
        return response
    if result.outcome != "ok" or result.user is None:
        return _sign_in_page(
            request, app, email=email, next_path=next_path, status_code=401,
            errors={"email": "The email address or password is not right. Check them and "
                    "try again."},
        )
    old = access.session_id(request)
    if old:
        users.end_session(engine, old)  # a new session id at every sign-in
    session_id, csrf_secret = users.start_session(engine, result.user)
    principal = access.principal_for(request, result.user, "session", csrf_secret)
    response = RedirectResponse(next_path or home_for(request, principal), 303)
    set_session_cookie(request, response, session_id)
    response.delete_cookie(SIGN_IN_COOKIE, path=SIGN_IN_PATH)
    return response


@router.post("/sign-out")
def sign_out(request: Request, principal: CurrentPrincipal, app: AppDep) -> Response:
    sid = access.session_id(request)
    if sid:
        users.end_session(app.engine, sid)
    access.record_access(request, principal, "sign-out")
    response = RedirectResponse(f"{SIGN_IN_PATH}?signed_out=1", 303)
    clear_session_cookie(request, response)
    return response


# ---------------------------------------------------------------------------- handlers
