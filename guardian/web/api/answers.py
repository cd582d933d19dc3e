"""What every route of the JSON API answers besides its own body (docs/api.md "Answers every
route may give"): the error shapes the OpenAPI schema documents (422 in FastAPI's shape
naming the field or parameter, 404 for anything out of scope, 409, 503), the helpers that
raise them, `Cache-Control: no-store` for patient data, and read-your-writes after a write.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from guardian.domain.errors import InvalidValue
from guardian.web.access import AUTH_RESPONSES

log = logging.getLogger("guardian.web.api")

NO_STORE = "no-store"  # patient-identifiable answers are never cached


class FieldError(BaseModel):
    loc: list[str | int] = Field(
        description='Where: ["body", field] or ["query", parameter] (["body"]: the record)')
    msg: str
    type: str


class ValidationProblem(BaseModel):
    """422: what was wrong, one entry per field or parameter (FastAPI's own shape)."""

    detail: list[FieldError]


class Problem(BaseModel):
    detail: str


class AmbiguousPathway(BaseModel):
    """409: the pathway id is used by more than one provider the caller may see."""

    detail: str
    providers: list[str] = Field(description="The providers in the caller's scope using it")
    provider_names: dict[str, str] = Field(
        description="Each of those providers' names by code (the code when unnamed)")


def responses(*extra: int) -> dict[int | str, dict[str, Any]]:
    """The answers a route documents: those of access (401, 404) and `extra` of these."""
    described: dict[int, dict[str, Any]] = {
        409: {"model": AmbiguousPathway,
              "description": "The pathway id is used by more than one provider in your "
                             "scope: repeat with `?provider=CODE`"},
        422: {"model": ValidationProblem,
              "description": "Bad input: each entry's `loc` names the field or parameter"},
        503: {"model": Problem,
              "description": "The report is being prepared (try again after `Retry-After` "
                             "seconds), or took too long and was stopped"},
    }
    out: dict[int | str, dict[str, Any]] = {
        code: {**answer, "model": Problem} for code, answer in AUTH_RESPONSES.items()
    }
    for code in extra:
        out[code] = described[code]
    return out


def invalid(loc: tuple[str | int, ...], msg: str) -> RequestValidationError:
    """A 422 naming one field or parameter."""
    return RequestValidationError([{"loc": loc, "msg": msg, "type": "value_error"}])


def code_parameter(parameter: str, raw: str | None,
                   normalise: Callable[[str], str]) -> str | None:
    """Query parameter `parameter` as the code `normalise` makes of it (None: not given),
    or a 422 naming it with the domain's words."""
    if raw is None or not raw.strip():
        return None
    try:
        return normalise(raw)
    except InvalidValue as e:
        raise invalid(("query", parameter), e.message) from None


def not_found() -> HTTPException:
    """The one answer for missing, out of scope and not for this role alike."""
    return HTTPException(status_code=404, detail="Not Found")


def after_write(catch_up: Callable[[], object]) -> None:
    """Bring the read models up to date after a write, so the caller reads its own write
    (`catch_up`: guardian/web/deps.py CatchUpDep). The write is committed already: a failure
    here is logged, not reported."""
    try:
        catch_up()
    except Exception:  # the follower (or the next request) catches up instead
        log.exception("read models not brought up to date after an API write")
