"""Who is asking, and what they may see: the ONE place where access is decided.

Every route takes a Principal from a dependency here; every query takes the scope derived
from it. Nothing is hidden by leaving links out of templates.

    @router.get("/patients/{patient_id}")
    def patient_page(request: Request, principal: PatientReader, patient_id: str):
        rows = … the patient's pathways …
        if not any(may_see_patient(principal, r["practice_code"], r["pcn_code"], r["place"])
                   for r in rows):
            deny_patient(request, principal, patient_id)      # audited, raises 404
        record_access(request, principal, "view-patient", patient_id=patient_id)

- `current_principal` (`CurrentPrincipal`): the signed-in user, from the session cookie or
  an `Authorization: Bearer …` token. Without one: 401 for /api/*, a redirect to the
  sign-in page for pages (HX-Redirect for htmx requests). For POST/PUT/PATCH/DELETE made
  with a session it also checks the CSRF token (form field `csrf_token` or header
  `X-CSRF-Token`): a mismatch is a 403. Bearer-token requests need no CSRF token.
- `PatientReader`: as above, and a place lead gets 404 (no patient-level data, ever).
- `AdminPrincipal`: admins only; anyone else gets 404.
- `require_role(*roles)`: a dependency for role-specific pages; other roles get 404.
- `scope_for(principal)`: the worklist Scope (PCN codes; None = every PCN).
- `may_see_patient(principal, practice_code, pcn_code, place)`: the rule for one pathway
  (by its practice); `visible_pathways` applies it to a patient's pathways. What else of
  the patient goes with those pathways is `guardian.domain.visibility`.
- `record_access(request, principal, action, …)`: one audit entry with client and agent.

Which place a place lead's reports are for is `guardian.web.places` (`may_see_place`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from itsdangerous import BadSignature, Signer
from starlette.concurrency import run_in_threadpool

from guardian import audit, users
from guardian.projections import org_queries
from guardian.projections.worklist import Scope
from guardian.web import csrf

SESSION_COOKIE = "guardian_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PATIENT_ROLES = ("coordinator", "gp", "admin")


@dataclass(frozen=True)
class Principal:
    """The signed-in user and what their role and orgs allow.

    - coordinator: `pcns` = their PCN codes
    - gp: `practice` = their practice, `pcns` = that practice's PCN
    - place-lead: `place` = their place (aggregates only), `pcns` = the place's PCNs
    - admin: `pcns` None (every PCN); everything
    """

    user_id: int
    email: str
    role: str
    orgs: tuple[str, ...]
    pcns: frozenset[str] | None
    practice: str | None = None
    place: str | None = None
    via: str = "session"  # "session" or "token"
    csrf_token: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def sees_patients(self) -> bool:
        return self.role in PATIENT_ROLES


class NotSignedIn(Exception):
    """No (valid) session or bearer token: 401 for the API, the sign-in page otherwise."""

    def __init__(self, reason: str = "none") -> None:
        super().__init__(reason)
        self.reason = reason  # "none", "ended" (the session expired) or "bad-token"


class CsrfRejected(Exception):
    """A state-changing request with a session but without the right CSRF token: 403."""


# ---------------------------------------------------------------------------- principal


def signer(request: Request) -> Signer:
    """Signs the session cookie with GUARDIAN_SECRET_KEY (cached on the app)."""
    state = request.app.state
    found = getattr(state, "cookie_signer", None)
    if found is None:
        found = state.cookie_signer = Signer(
            state.guardian.settings.session_secret(), salt="guardian-session"
        )
    return found


def engine(request: Request):
    return request.app.state.guardian.engine


def session_id(request: Request) -> str | None:
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    try:
        return signer(request).unsign(raw).decode()
    except BadSignature:
        return None


def principal_for(request: Request, user: users.User, via: str, csrf: str | None) -> Principal:
    """Derive the scope fields from the user's role and orgs (one small query at most)."""
    pcns: frozenset[str] | None
    practice = place = None
    if user.role == "admin":
        pcns = None
    elif user.role == "coordinator":
        pcns = frozenset(user.orgs)
    else:
        org = user.orgs[0]
        with engine(request).connect() as conn:
            rows = (org_queries.pcns_and_places(conn, practice=org) if user.role == "gp"
                    else org_queries.pcns_and_places(conn, place=org))
        pcns = frozenset(pcn for pcn, _ in rows)
        if user.role == "gp":
            practice = user.orgs[0]
            place = rows[0][1] if rows else None
        else:
            place = user.orgs[0]
    return Principal(user.id, user.email, user.role, user.orgs, pcns, practice, place, via, csrf)


def resolve(request: Request) -> Principal:
    """The principal of this request, or NotSignedIn. Blocking: call in a thread."""
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotSignedIn("bad-token")
        user = users.user_for_token(engine(request), token.strip())
        if user is None:
            raise NotSignedIn("bad-token")
        return principal_for(request, user, "token", None)
    sid = session_id(request)
    if sid is None:
        raise NotSignedIn("ended" if request.cookies.get(SESSION_COOKIE) else "none")
    session = users.load_session(engine(request), sid)
    if session is None:
        raise NotSignedIn("ended")
    return principal_for(request, session.user, "session", session.csrf_token)


def peek(request: Request) -> Principal | None:
    """The principal if there is one, without raising (for pages anyone may see)."""
    if hasattr(request.state, "principal"):
        return request.state.principal
    found = None
    if request.cookies.get(SESSION_COOKIE) or request.headers.get("authorization"):
        try:
            found = resolve(request)
        except NotSignedIn:
            found = None
    request.state.principal = found
    return found


_bearer_scheme = HTTPBearer(
    auto_error=False, scheme_name="bearer",
    description="An API token from `guardian users token --email E`.",
)


async def current_principal(
    request: Request,
    _documented: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer_scheme)] = None,
) -> Principal:
    """THE dependency: who is asking (401 / sign-in redirect without credentials), with the
    CSRF check on every state-changing request made with a session. (`_documented` only
    puts the bearer scheme into the OpenAPI schema; the header is read in `resolve`.)"""
    principal = getattr(request.state, "principal", None)
    if principal is None:
        principal = await run_in_threadpool(resolve, request)
        request.state.principal = principal
    if request.method in UNSAFE_METHODS and principal.via == "session":
        await check_csrf(request, principal)
    return principal


async def optional_principal(request: Request) -> Principal | None:
    """For pages anyone may see (the start page): the principal, or None."""
    return await run_in_threadpool(peek, request)


async def check_csrf(request: Request, principal: Principal) -> None:
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    if not csrf.matches(sent, principal.csrf_token):
        raise CsrfRejected()


async def patient_reader(
    principal: Annotated[Principal, Depends(current_principal)],
) -> Principal:
    """Patient-level routes: a place lead gets 404 (no patient-level data at all)."""
    if not principal.sees_patients:
        raise HTTPException(status_code=404, detail="Not Found")
    return principal


async def admin_principal(
    principal: Annotated[Principal, Depends(current_principal)],
) -> Principal:
    if not principal.is_admin:
        raise HTTPException(status_code=404, detail="Not Found")
    return principal


def require_role(*roles: str):
    """A dependency for pages of some roles only (others get 404, as if it did not exist)."""
    unknown = set(roles) - set(users.ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")

    async def dependency(
        principal: Annotated[Principal, Depends(current_principal)],
    ) -> Principal:
        if principal.role not in roles:
            raise HTTPException(status_code=404, detail="Not Found")
        return principal

    return dependency


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
# For API routes' `responses=`: the answers every authenticated route may give.
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No session and no valid bearer token"},
    403: {"description": "A state-changing request with a session lacked its CSRF token"},
    404: {"description": "Not found, or outside the caller's scope (existence not revealed)"},
}
OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]
PatientReader = Annotated[Principal, Depends(patient_reader)]
AdminPrincipal = Annotated[Principal, Depends(admin_principal)]


# ---------------------------------------------------------------------------- scope


def scope_for(principal: Principal) -> Scope:
    """The worklist scope. PCN worklists are for coordinators (their PCNs) and admins (all).

    A GP gets an empty PCN scope: their view is their practice (filter on
    `principal.practice`), never their PCN's worklist. A place lead gets 404.
    """
    if principal.role == "admin":
        return Scope(None, principal.email)
    if principal.role == "coordinator":
        return Scope(frozenset(principal.pcns or ()), principal.email)
    if principal.role == "gp":
        return Scope(frozenset(), principal.email)
    raise HTTPException(status_code=404, detail="Not Found")


def may_see_patient(
    principal: Principal, practice_code: str | None, pcn_code: str | None, place: str | None
) -> bool:
    """Whether a pathway registered at this practice (in this PCN and place) is visible:
    admin always; coordinator when the PCN is theirs; GP when the practice is theirs;
    a place lead never (aggregates only)."""
    if principal.role == "admin":
        return True
    if principal.role == "coordinator":
        return pcn_code is not None and pcn_code in (principal.pcns or ())
    if principal.role == "gp":
        return practice_code is not None and practice_code == principal.practice
    return False


def visible_pathways(
    principal: Principal, pathways: Iterable[Any],
    orgs: Mapping[str, tuple[str | None, str | None]],
) -> list[tuple[str, str]]:
    """The keys of the pathways (of one patient) this user may see: scope follows the
    pathway's practice, never the patient (docs/access.md, "By pathway"). `orgs` maps a
    practice code to its (PCN, place)."""
    return [p.key for p in pathways
            if may_see_patient(principal, p.practice_code,
                               *orgs.get(p.practice_code, (None, None)))]


def may_see_pcn(principal: Principal, pcn_code: str) -> bool:
    """PCN worklists: coordinators of that PCN and admins."""
    return principal.role in ("coordinator", "admin") and scope_for(principal).allows(pcn_code)


# ---------------------------------------------------------------------------- audit


def client_of(request: Request) -> str | None:
    return request.client.host if request.client else None


def record_access(
    request: Request, principal: Principal | None, action: str, **fields: Any
) -> None:
    """Append an audit entry for this request: user, role, client address and user agent.

    `fields`: patient_id, provider, pathway_id, detail; or `conn` to write inside the
    caller's transaction (so the entry commits with the action it records).
    """
    bind = fields.pop("conn", None) or engine(request)
    audit.record(bind, **_who(request, principal), action=action, **fields)


def audit_entry(
    request: Request, principal: Principal | None, action: str, **fields: Any
) -> dict[str, Any]:
    """The audit entry of an action this request carries out, for
    `GuardianApp.audited`, which writes it in the same transaction as the action."""
    return audit.entry(**_who(request, principal), action=action, **fields)


def _who(request: Request, principal: Principal | None) -> dict[str, Any]:
    return {"email": principal.email if principal else None,
            "role": principal.role if principal else None,
            "client": client_of(request), "user_agent": request.headers.get("user-agent")}


def deny_patient(request: Request, principal: Principal, patient_id: Any = None,
                 detail: str | None = None) -> None:
    """Audit an out-of-scope attempt and answer 404 (existence is not revealed)."""
    record_access(request, principal, "denied-patient", patient_id=patient_id, detail=detail)
    raise HTTPException(status_code=404, detail="Not Found")
