"""The shapes of the JSON API's user management (docs/api.md "Managing users"): what an
admin sends to add or change a user, revoke tokens, and what comes back — a user with
their scope by code and in words, never a password or token but the one just made.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from guardian import users
from guardian.web.api.command_models import CommandBase
from guardian.web.inputs import LARGEST_INTEGER

Role = Literal.__getitem__(tuple(users.ROLES))  # type: ignore[attr-defined]
Code = Annotated[str, Field(max_length=64)]


class _Scope(CommandBase):
    """Unknown fields are refused (422 naming them); the one text rule on every text."""

    pcns: list[Code] | None = Field(None, max_length=100, description=(
        "A coordinator's PCNs (ODS codes, at least one)"))
    practice: Code | None = Field(None, description="A GP's practice (ODS code)")
    place: Code | None = Field(None, description="A place lead's place (its name)")


class NewUser(_Scope):
    """A user to add: the scope that goes with the role (an admin has none)."""

    email: str = Field(max_length=254, description="Their email address (their sign-in)")
    display_name: str = Field("", max_length=100, description="The name people read")
    role: Role = Field(description="`coordinator`, `gp`, `place-lead` or `admin`")  # type: ignore[valid-type]


class UserChange(_Scope):
    """What to change; a field left out stays as it is. A new role needs its own scope."""

    display_name: str | None = Field(None, max_length=100,
                                     description="\"\" removes the name")
    role: Role | None = None  # type: ignore[valid-type]


class Revoke(CommandBase):
    token: Annotated[int, Field(ge=1, le=LARGEST_INTEGER)] | Literal["all"] = Field(
        description="The live token's `id` (as `tokens` lists it), or `all`")


class TokenOut(BaseModel):
    id: int
    created_at: dt.datetime
    expires_at: dt.datetime
    last_used_at: dt.datetime | None


class UserOut(BaseModel):
    id: int
    email: str
    display_name: str | None
    name: str = Field(description="The name people read (the display name, else from "
                                  "the email address)")
    role: str
    orgs: list[str] = Field(description="The scope by code: PCNs, a practice or a place")
    scope: str = Field(description="The scope in words (PCNs and practices by name)")
    enabled: bool
    created_at: dt.datetime
    last_sign_in: dt.datetime | None
    tokens: int = Field(description="Live API tokens")
    sessions: int = Field(description="Live sessions")
    last_token_use: dt.datetime | None


class UserList(BaseModel):
    users: list[UserOut] = Field(description="By name")


class UserDetail(UserOut):
    live_tokens: list[TokenOut] = Field(description="Never their values")
    assigned: int = Field(description="Open pathways assigned to them (coordinators)")


class UserAdded(BaseModel):
    user: UserOut
    password: str = Field(description="Their password: shown this once, never again")


class NewPassword(BaseModel):
    user_id: int
    password: str = Field(description="Shown this once, never again")
    sessions_ended: int
    tokens_revoked: int


class NewToken(BaseModel):
    user_id: int
    token: str = Field(description="The bearer token: shown this once, never again")
    days: int = Field(description="It expires after this many days")


class Revoked(BaseModel):
    user_id: int
    tokens_revoked: int
