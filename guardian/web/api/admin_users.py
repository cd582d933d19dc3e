"""User management in the JSON API (docs/api.md "Managing users"), for admins only (anyone
else gets 404), by the admin pages' own functions (guardian/web/routes/admin_users.py, over
guardian/users), so each change is checked and audited exactly as from the pages:

- `GET /admin/users`, `GET /admin/users/{id}`: users by name, with their scope in words;
- `POST /admin/users`: add one (201; the password is in this answer once, never again);
- `PATCH /admin/users/{id}`: their name, role and scope;
- `POST /admin/users/{id}/disable`, `/enable`, `/password` (a new one, once), `/tokens` (a
  new API token, once), `/tokens/revoke` (one or all).

A refusal (the last admin, your own role, yourself, a disabled user, a token no longer
live, an email address already used) is 409 with the reason; bad input is 422 naming the
field. Answers holding a password or a token carry `Cache-Control: no-store`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from guardian import users
from guardian.users import UserError
from guardian.web.access import AdminPrincipal
from guardian.web.api.answers import NO_STORE, Problem, responses, writes
from guardian.web.api.user_models import (
    NewPassword,
    NewToken,
    NewUser,
    Revoke,
    Revoked,
    TokenOut,
    UserAdded,
    UserChange,
    UserDetail,
    UserList,
    UserOut,
)
from guardian.web.deps import AppDep
from guardian.web.routes import admin_users as pages
from guardian.web.routes.admin_users import Typed, UserId, sentence, typed_of

router = APIRouter()
FIELDS = {"pcn": "pcns"}  # the form's field names that the API calls otherwise
REFUSED = {409: {"model": Problem, "description": "Refused, with the reason (the last "
                                                  "admin, your own role, yourself, a "
                                                  "disabled user, …): nothing changed"}}
SECRET = {"Cache-Control": NO_STORE}


def _refusal(reason: str) -> JSONResponse:
    return JSONResponse({"detail": reason}, status_code=409, headers=SECRET)


def _problems(errors: dict[str, str]) -> Exception:
    """The page's problems by field: a refusal of the whole ("form") is answered 409 by
    the caller; the others are one 422 naming each field."""
    return RequestValidationError([
        {"loc": ("body", FIELDS.get(name, name)), "msg": message, "type": "value_error"}
        for name, message in sorted(errors.items())])


def _account(guardian: Any, user_id: int) -> users.Account:
    return next(a for a in users.accounts(guardian.engine) if a.user.id == user_id)


def _out(account: users.Account, orgs: pages.Orgs) -> dict[str, Any]:
    u = account.user
    return dict(id=u.id, email=u.email, display_name=u.display_name, name=u.name,
                role=u.role, orgs=list(u.orgs), scope=orgs.scope(u), enabled=account.enabled,
                created_at=account.created_at, last_sign_in=account.last_sign_in,
                tokens=account.tokens, sessions=account.sessions,
                last_token_use=account.last_token_use)


def _detail(request: Request, guardian: Any, user_id: int) -> UserDetail:
    account = _account(guardian, user_id)
    user = account.user
    return UserDetail(
        **_out(account, pages.reference(request)),
        live_tokens=[TokenOut(**vars(t)) for t in users.live_tokens(guardian.engine, user.id)],
        assigned=pages.assigned_to(guardian, user.email) if user.role == "coordinator" else 0)


@router.get("/admin/users", summary="Every user, by name (admins)",
            response_model=UserList, responses=responses())
def list_users(request: Request, principal: AdminPrincipal, guardian: AppDep) -> UserList:
    orgs = pages.reference(request)
    found = sorted(users.accounts(guardian.engine),
                   key=lambda a: (a.user.name.casefold(), a.user.email))
    return UserList(users=[UserOut(**_out(a, orgs)) for a in found])


@router.post("/admin/users", summary="Add a user (admins): their password, once",
             status_code=201, response_model=UserAdded, responses={**writes(), **REFUSED})
def add_user(request: Request, principal: AdminPrincipal, guardian: AppDep,
             body: Annotated[NewUser, Body()]) -> Any:
    """The page's rules: a valid email address not used yet (else 422 naming `email`), a
    role, and the scope the role needs (`pcns`, `practice` or `place`, each known)."""
    typed = typed_of(body.display_name, body.email, body.role, body.pcns or [],
                     body.practice or "", body.place or "")
    errors, user, password = pages.create_account(request, principal, guardian, typed)
    if "form" in errors:
        return _refusal(errors["form"])
    if user is None or password is None:
        raise _problems(errors)
    added = UserAdded(user=UserOut(**_out(_account(guardian, user.id),
                                          pages.reference(request))), password=password)
    return JSONResponse(added.model_dump(mode="json"), status_code=201, headers=SECRET)


@router.get("/admin/users/{user_id}", summary="One user, with their live tokens (admins)",
            response_model=UserDetail, responses=responses())
def get_user(request: Request, principal: AdminPrincipal, guardian: AppDep,
             user_id: UserId) -> UserDetail:
    return _detail(request, guardian, pages.user_of(guardian, user_id).id)


@router.patch("/admin/users/{user_id}", summary="Change a user's name, role and scope "
                                                "(admins)",
              response_model=UserDetail, responses={**writes(), **REFUSED})
def change_user(request: Request, principal: AdminPrincipal, guardian: AppDep,
                user_id: UserId, body: Annotated[UserChange, Body()]) -> Any:
    """Fields left out stay as they are; a new role needs the scope it takes. Refused
    (409): changing your own role, taking the admin role from the last admin."""
    user = pages.user_of(guardian, user_id)
    now = Typed.of(user)
    typed = typed_of(
        now.display_name if body.display_name is None else body.display_name, user.email,
        body.role or now.role, list(now.pcn if body.pcns is None else body.pcns),
        now.practice if body.practice is None else body.practice,
        now.place if body.place is None else body.place)
    errors, change = pages.change_account(request, principal, guardian, user, typed)
    if "form" in errors:
        return _refusal(errors["form"])
    if change is None:
        raise _problems(errors)
    return _detail(request, guardian, user.id)


def _user_route(path: str, summary: str, model: type, **extra: Any) -> Any:
    return router.post(f"/admin/users/{{user_id}}/{path}", summary=summary,
                       response_model=model, responses={**writes(), **REFUSED}, **extra)


@_user_route("disable", "Disable a user: their sessions and tokens end at once (admins)",
             UserDetail)
def disable_user(request: Request, principal: AdminPrincipal, guardian: AppDep,
                 user_id: UserId) -> Any:
    """Refused (409): yourself, the last admin."""
    user = pages.user_of(guardian, user_id)
    try:
        users.disable_user(guardian.engine, user.email, actor=principal.email,
                           origin=pages.origin_of(request, principal))
    except UserError as e:
        return _refusal(sentence(e))
    return _detail(request, guardian, user.id)


@_user_route("enable", "Let a disabled user sign in again (admins)", UserDetail)
def enable_user(request: Request, principal: AdminPrincipal, guardian: AppDep,
                user_id: UserId) -> UserDetail:
    """Their old API tokens stay revoked."""
    user = pages.user_of(guardian, user_id)
    users.enable_user(guardian.engine, user.email, origin=pages.origin_of(request, principal))
    return _detail(request, guardian, user.id)


@_user_route("password", "A new generated password, once (admins)", NewPassword)
def new_password(request: Request, principal: AdminPrincipal, guardian: AppDep,
                 user_id: UserId) -> JSONResponse:
    """The user's sessions and tokens end at once."""
    user = pages.user_of(guardian, user_id)
    change = users.reset_password(guardian.engine, user.email,
                                  origin=pages.origin_of(request, principal))
    body = NewPassword(user_id=user.id, password=change.password or "",
                       sessions_ended=change.sessions_ended,
                       tokens_revoked=change.tokens_revoked)
    return JSONResponse(body.model_dump(), headers=SECRET)


@_user_route("tokens", "A new API token for the user, once (admins)", NewToken)
def new_token(request: Request, principal: AdminPrincipal, guardian: AppDep,
              user_id: UserId) -> JSONResponse:
    """Refused (409) for a disabled user."""
    user = pages.user_of(guardian, user_id)
    try:
        token = pages.issue_token(request, principal, guardian, user)
    except UserError as e:
        return _refusal(sentence(e))
    body = NewToken(user_id=user.id, token=token, days=guardian.settings.token_days)
    return JSONResponse(body.model_dump(), headers=SECRET)


@_user_route("tokens/revoke", "Revoke one of the user's API tokens, or all (admins)",
             Revoked)
def revoke_tokens(request: Request, principal: AdminPrincipal, guardian: AppDep,
                  user_id: UserId, body: Annotated[Revoke, Body()]) -> Any:
    """Refused (409) when the token is not one of theirs that is still live."""
    user = pages.user_of(guardian, user_id)
    try:
        change = pages.revoke(request, principal, guardian, user, str(body.token))
    except UserError as e:
        return _refusal(sentence(e))
    return Revoked(user_id=user.id, tokens_revoked=change.tokens_revoked)
