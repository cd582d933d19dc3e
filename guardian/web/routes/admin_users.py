"""Admin pages for user accounts (admins only; anyone else gets 404), over the same
functions as `guardian users …` (guardian/users), so every change is audited as from the
command line, with the web app as its origin (docs/access.md "Managing users in the web
app"):

- GET /admin/users: every user by name, with e-mail address, role, scope by name, state;
- GET/POST /admin/users/new: add a user (name, e-mail address, role, scope); the generated
  password is shown once, on the page that answers the POST, and never again;
- GET /admin/users/{id}: one user, and the forms that change them;
- POST /admin/users/{id}: change their name, role and scope;
- POST /admin/users/{id}/disable, /enable, /password (a new password, shown once),
  /tokens (a new API token, shown once), /tokens/revoke (one token, or all of them).

A refused change (the last admin, your own role, yourself) re-renders the page with the
reason and changes nothing; bad input keeps what was typed, with the message next to its
field. Pages that show a password or token are never cached.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Path, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Connection, func, select

from guardian import users
from guardian.projections.worklist import worklist
from guardian.store import organisations
from guardian.users import UserError
from guardian.web.access import AdminPrincipal, Principal, client_of
from guardian.web.deps import AppDep
from guardian.web.inputs import LARGEST_INTEGER
from guardian.web.names import forget_names
from guardian.web.templating import render

router = APIRouter(include_in_schema=False)

NO_STORE = {"Cache-Control": "no-store"}
ROLE_HINTS = {
    "coordinator": "Works the worklist of one or more PCNs",
    "gp": "Sees their own practice's patients",
    "place-lead": "Sees the reports of one place (no patient's details)",
    "admin": "Sees everything and manages users",
}
# What the page says after a change (`?done=`), about the user by name.
DONE = {
    "changed": "{name}'s details are saved.",
    "disabled": "{name} is disabled: they are signed out and their API tokens have "
                "stopped working.",
    "enabled": "{name} can sign in again. Their old API tokens stay revoked.",
    "revoked": "The API token is revoked: it stopped working at once.",
    "revoked-all": "Every API token of {name} is revoked: they stopped working at once.",
    "unchanged": "Nothing to change: {name}'s details were already as given.",
}
Text = Annotated[str, Form()]
Texts = Annotated[list[str] | None, Form()]
UserId = Annotated[int, Path(ge=1, le=LARGEST_INTEGER)]


# ---------------------------------------------------------------------------- the reference


@dataclass(frozen=True)
class Orgs:
    """The choices the forms offer, from the organisation reference, and names by code."""

    pcns: list[tuple[str, str]]  # (code, name), by name
    practices: list[tuple[str, str]]  # (code, "name (code)"), by name
    places: list[str]
    pcns_by_place: list[tuple[str, list[tuple[str, str]]]]  # as the form groups them

    def scope(self, user: users.User) -> str:
        """A user's scope as people read it."""
        if user.role == "admin":
            return "Everything"
        if user.role == "coordinator":
            pcns = dict(self.pcns)
            return ", ".join(pcns.get(code, code) for code in user.orgs)
        if user.role == "gp":
            return dict(self.practices).get(user.orgs[0], user.orgs[0])
        return user.orgs[0]


def orgs_of(conn: Connection) -> Orgs:
    rows = conn.execute(select(organisations.c.practice_code, organisations.c.practice_name,
                               organisations.c.pcn_code, organisations.c.pcn_name,
                               organisations.c.place)).all()
    pcns = sorted({(r.pcn_code, r.pcn_name) for r in rows}, key=lambda p: (p[1], p[0]))
    practices = sorted(((r.practice_code, f"{r.practice_name} ({r.practice_code})")
                        for r in rows), key=lambda p: (p[1], p[0]))
    places = sorted({r.place for r in rows})
    place_of = {r.pcn_code: r.place for r in rows}
    by_place = [(place, [p for p in pcns if place_of[p[0]] == place]) for place in places]
    return Orgs(pcns, practices, places, by_place)


def reference(request: Request) -> Orgs:
    with request.app.state.guardian.engine.connect() as conn:
        return orgs_of(conn)


def assigned_to(guardian: Any, email: str) -> int:
    """How many open pathways are assigned to this user (the worklist's rows)."""
    with guardian.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(worklist)
                            .where(worklist.c.coordinator == email)).scalar_one()


# ---------------------------------------------------------------------------- the forms


@dataclass
class Typed:
    """A user form as typed: what is shown again with the errors."""

    display_name: str = ""
    email: str = ""
    role: str = ""
    pcn: tuple[str, ...] = ()
    practice: str = ""
    place: str = ""

    @classmethod
    def of(cls, user: users.User) -> Typed:
        return cls(
            user.display_name or "", user.email, user.role,
            user.orgs if user.role == "coordinator" else (),
            user.orgs[0] if user.role == "gp" else "",
            user.orgs[0] if user.role == "place-lead" else "",
        )

    def checked(self, orgs: Orgs, errors: dict[str, str]) -> tuple[str, ...]:
        """The role's orgs, each one the form offers; a problem goes into `errors` by field."""
        try:
            users.normalise_display_name(self.display_name)
        except UserError as e:
            errors["display_name"] = str(e)[:1].upper() + str(e)[1:]
        if self.role not in users.ROLES:
            errors["role"] = "Choose the user's role"
            return ()
        if self.role == "coordinator":
            known = {code for code, _ in orgs.pcns}
            chosen = tuple(c for c in self.pcn if c in known)
            if not chosen or len(chosen) != len(self.pcn):
                errors["pcn"] = "Choose at least one PCN the coordinator works for"
            return chosen
        if self.role == "gp":
            if self.practice not in dict(orgs.practices):
                errors["practice"] = "Choose the GP's practice"
            return (self.practice,)
        if self.role == "place-lead":
            if self.place not in orgs.places:
                errors["place"] = "Choose the place lead's place"
            return (self.place,)
        return ()


def typed_of(display_name: str, email: str, role: str, pcn: list[str], practice: str,
             place: str) -> Typed:
    return Typed(display_name.strip(), email.strip(), role.strip(),
                 tuple(p.strip() for p in pcn if p.strip()), practice.strip(), place.strip())


def origin_of(request: Request, principal: Principal) -> users.Origin:
    """A change made in the web app, for its audit entry: the client's address, and the
    admin who made it with their browser."""
    agent = request.headers.get("user-agent") or "unknown browser"
    return users.Origin(client_of(request) or "web", f"web app, by {principal.email} ({agent})",
                        by=principal.email)


def sentence(error: Exception) -> str:
    text = str(error)
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


# ---------------------------------------------------------------------------- pages


@router.get("/admin/users")
def users_page(request: Request, principal: AdminPrincipal, guardian: AppDep) -> Response:
    """Every user by name: e-mail address, role, scope, enabled, last sign-in."""
    found = users.accounts(guardian.engine)
    orgs = reference(request)
    return render(request, "admin_users.html", {
        "accounts": sorted(found, key=lambda a: (a.user.name.casefold(), a.user.email)),
        "scopes": {a.user.id: orgs.scope(a.user) for a in found},
        "zone": guardian.settings.zone,
    })


def _form_page(request: Request, typed: Typed, errors: dict[str, str],
               status_code: int = 200) -> Response:
    return render(request, "admin_users_new.html", {
        "typed": typed, "errors": errors, "orgs": reference(request),
        "role_hints": ROLE_HINTS,
    }, status_code=status_code)


@router.get("/admin/users/new")
def new_user_page(request: Request, principal: AdminPrincipal) -> Response:
    return _form_page(request, Typed(role="coordinator"), {})


def create_account(request: Request, principal: Principal, guardian: Any, typed: Typed
                   ) -> tuple[dict[str, str], users.User | None, str | None]:
    """Add the user as typed (audited by guardian/users, the page and the API alike): the
    problems by field, else the user and their password (shown once)."""
    errors: dict[str, str] = {}
    try:
        users.normalise_email(typed.email)
    except UserError:
        errors["email"] = ("Enter the user's email address, like name@example.nhs.uk"
                           if typed.email else "Enter the user's email address")
    orgs = typed.checked(reference(request), errors)
    if errors:
        return errors, None, None
    try:
        user, password = users.add_user(
            guardian.engine, typed.email, typed.role, orgs,
            origin=origin_of(request, principal), display_name=typed.display_name)
    except UserError as e:
        return {"email" if "already exists" in str(e) else "form": sentence(e)}, None, None
    forget_names(request)
    return {}, user, password


@router.post("/admin/users/new")
def add_user(request: Request, principal: AdminPrincipal, guardian: AppDep,
             display_name: Text = "", email: Text = "", role: Text = "", pcn: Texts = None,
             practice: Text = "", place: Text = "") -> Response:
    """Create the user; the page that answers shows their password once."""
    typed = typed_of(display_name, email, role, pcn or [], practice, place)
    errors, user, password = create_account(request, principal, guardian, typed)
    if user is not None:
        return render(request, "admin_users_secret.html", {
            "user": user, "kind": "added", "secret": password,
        }, headers=NO_STORE)
    return _form_page(request, typed, errors, status_code=400)


def user_of(guardian: Any, user_id: int) -> users.User:
    found = users.user_by_id(guardian.engine, user_id)
    if found is None:
        raise HTTPException(status_code=404, detail="Not Found")
    return found


def _user_page(request: Request, principal: Principal, guardian: Any, user: users.User, *,
               typed: Typed | None = None, errors: dict[str, str] | None = None,
               status_code: int = 200) -> Response:
    account = next(a for a in users.accounts(guardian.engine) if a.user.id == user.id)
    tokens = users.live_tokens(guardian.engine, user.id)
    orgs = reference(request)
    done = request.query_params.get("done")
    return render(request, "admin_users_user.html", {
        "account": account, "user": user, "scope": orgs.scope(user), "tokens": tokens,
        "typed": typed or Typed.of(user), "errors": errors or {}, "orgs": orgs,
        "role_hints": ROLE_HINTS, "zone": guardian.settings.zone,
        "is_me": user.email == principal.email,
        "assigned": assigned_to(guardian, user.email) if user.role == "coordinator" else 0,
        "done": DONE[done].format(name=user.name) if done in DONE else None,
    }, status_code=status_code)


@router.get("/admin/users/{user_id}")
def user_page(request: Request, principal: AdminPrincipal, guardian: AppDep,
              user_id: UserId) -> Response:
    return _user_page(request, principal, guardian, user_of(guardian, user_id))


def _done(user: users.User, what: str) -> Response:
    return RedirectResponse(f"/admin/users/{user.id}?done={what}#done", status_code=303)


def change_account(request: Request, principal: Principal, guardian: Any, user: users.User,
                   typed: Typed) -> tuple[dict[str, str], users.Change | None]:
    """Change the user's name, role and scope as typed (audited by guardian/users, the page
    and the API alike): the problems by field ("form": refused), else the change."""
    errors: dict[str, str] = {}
    orgs = typed.checked(reference(request), errors)
    if errors:
        return errors, None
    try:
        change = users.change_user(
            guardian.engine, user.email, role=typed.role, orgs=orgs,
            display_name=typed.display_name, actor=principal.email,
            origin=origin_of(request, principal))
    except UserError as e:
        return {"form": sentence(e)}, None
    forget_names(request)
    return {}, change


@router.post("/admin/users/{user_id}")
def change_user(request: Request, principal: AdminPrincipal, guardian: AppDep, user_id: UserId,
                display_name: Text = "", role: Text = "", pcn: Texts = None,
                practice: Text = "", place: Text = "") -> Response:
    """Change the user's name, role and scope."""
    user = user_of(guardian, user_id)
    typed = typed_of(display_name, user.email, role, pcn or [], practice, place)
    errors, change = change_account(request, principal, guardian, user, typed)
    if change is not None:
        return _done(user, "changed" if change.changed else "unchanged")
    return _user_page(request, principal, guardian, user, typed=typed, errors=errors,
                      status_code=409 if "form" in errors else 400)


def _refused(request: Request, principal: Principal, guardian: Any, user: users.User,
             error: UserError) -> Response:
    return _user_page(request, principal, guardian, user, errors={"form": sentence(error)},
                      status_code=409)


@router.post("/admin/users/{user_id}/disable")
def disable_user(request: Request, principal: AdminPrincipal, guardian: AppDep,
                 user_id: UserId) -> Response:
    """Disable the user: their sessions and tokens end at once."""
    user = user_of(guardian, user_id)
    try:
        users.disable_user(guardian.engine, user.email, actor=principal.email,
                           origin=origin_of(request, principal))
    except UserError as e:
        return _refused(request, principal, guardian, user, e)
    return _done(user, "disabled")


@router.post("/admin/users/{user_id}/enable")
def enable_user(request: Request, principal: AdminPrincipal, guardian: AppDep,
                user_id: UserId) -> Response:
    user = user_of(guardian, user_id)
    users.enable_user(guardian.engine, user.email, origin=origin_of(request, principal))
    return _done(user, "enabled")


@router.post("/admin/users/{user_id}/password")
def new_password(request: Request, principal: AdminPrincipal, guardian: AppDep,
                 user_id: UserId) -> Response:
    """A generated password, shown once; the user's sessions and tokens end at once."""
    user = user_of(guardian, user_id)
    change = users.reset_password(guardian.engine, user.email,
                                  origin=origin_of(request, principal))
    return render(request, "admin_users_secret.html", {
        "user": user, "kind": "password", "secret": change.password, "change": change,
    }, headers=NO_STORE)


def issue_token(request: Request, principal: Principal, guardian: Any, user: users.User
                ) -> str:
    """A new API token for the user (audited by guardian/users); UserError, in the page's
    words, when they are disabled."""
    try:
        return users.create_token(guardian.engine, user.email,
                                  days=guardian.settings.token_days,
                                  origin=origin_of(request, principal))
    except UserError:
        raise UserError(f"{user.name} is disabled: enable them before issuing an API "
                        "token") from None


@router.post("/admin/users/{user_id}/tokens")
def new_token(request: Request, principal: AdminPrincipal, guardian: AppDep,
              user_id: UserId) -> Response:
    """A new API token, shown once."""
    user = user_of(guardian, user_id)
    try:
        token = issue_token(request, principal, guardian, user)
    except UserError as e:
        return _refused(request, principal, guardian, user, e)
    return render(request, "admin_users_secret.html", {
        "user": user, "kind": "token", "secret": token,
        "days": guardian.settings.token_days,
    }, headers=NO_STORE)


def revoke(request: Request, principal: Principal, guardian: Any, user: users.User,
           token: str) -> users.Change:
    """Revoke one live token (`token`: its number) or, with "all", every one (audited by
    guardian/users); UserError, in the page's words, when there is no such live token."""
    every = token == "all"
    token_id = int(token) if token.isdigit() and len(token) < 19 else None
    if not every and token_id is None:
        raise UserError("choose the API token to revoke")
    try:
        return users.revoke_tokens(guardian.engine, user.email, every=every,
                                   token_id=token_id, origin=origin_of(request, principal))
    except UserError:
        raise UserError("that API token is no longer live (already revoked or expired): "
                        "nothing changed") from None


@router.post("/admin/users/{user_id}/tokens/revoke")
def revoke_tokens(request: Request, principal: AdminPrincipal, guardian: AppDep,
                  user_id: UserId, token: Text = "") -> Response:
    """Revoke one live token (`token`: its number as the page lists it) or, with
    `token=all`, every one."""
    user = user_of(guardian, user_id)
    try:
        revoke(request, principal, guardian, user, token)
    except UserError as e:
        return _refused(request, principal, guardian, user, e)
    return _done(user, "revoked-all" if token == "all" else "revoked")
