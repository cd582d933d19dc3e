"""What every route of the JSON API answers besides its own body (docs/api.md "Answers every
route may give"): the error shapes the OpenAPI schema documents (422 in FastAPI's shape
naming the field or parameter, 404 for anything out of scope, 409, 413, 415, 429, 500, 503,
each with the request id), the helpers that raise them, `Cache-Control: no-store` for
patient data, and read-your-writes after a write.
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


REQUEST_ID = Field(description="The request's id (its `X-Request-ID`): give it when "
                              "asking about this answer (docs/api.md \"Request ids\")")


class FieldError(BaseModel):
    loc: list[str | int] = Field(
        description='Where: ["body", field] or ["query", parameter] (["body"]: the record)')
    msg: str
    type: str


class ValidationProblem(BaseModel):
    """422: what was wrong, one entry per field or parameter (FastAPI's own shape)."""

    detail: list[FieldError]
    request_id: str = REQUEST_ID


class Problem(BaseModel):
    detail: str
    request_id: str = REQUEST_ID


class AmbiguousPathway(BaseModel):
    """409: the pathway id is used by more than one provider the caller may see."""

    detail: str
    providers: list[str] = Field(description="The providers in the caller's scope using it")
    provider_names: dict[str, str] = Field(
        description="Each of those providers' names by code (the code when unnamed)")
    request_id: str = REQUEST_ID


class RateLimited(BaseModel):
    """429: more requests with these credentials than the minute allows."""

    detail: str
    limit_per_minute: int = Field(description="GUARDIAN_API_RATE_PER_MINUTE")
    retry_after: int = Field(description="Seconds to wait (also the `Retry-After` header)")
    request_id: str = REQUEST_ID


class ServerError(BaseModel):
    """500: something went wrong on Guardian's side (it is logged with the reference)."""

    detail: str
    reference: str = Field(description="The request id, as the log has it")
    request_id: str = REQUEST_ID


# What any route of the API may answer, besides its own body (docs/api.md).
COMMON: dict[int, dict[str, Any]] = {
    **{code: {**answer, "model": Problem} for code, answer in AUTH_RESPONSES.items()},
    413: {"model": Problem, "description": "The request body is larger than "
                                           "GUARDIAN_MAX_BODY_BYTES"},
    422: {"model": ValidationProblem,
          "description": "Bad input: each entry's `loc` names the field or parameter"},
    429: {"model": RateLimited, "description": "Too many requests a minute with these "
                                               "credentials: wait `Retry-After` seconds",
          "headers": {"Retry-After": {"description": "Seconds to wait",
                                      "schema": {"type": "integer"}}}},
    500: {"model": ServerError, "description": "An unexpected error (logged under "
                                               "`reference`)"},
}
DESCRIBED: dict[int | str, dict[str, Any]] = {
    409: {"model": AmbiguousPathway,
          "description": "The pathway id is used by more than one provider in your "
                         "scope: repeat with `?provider=CODE`"},
    415: {"model": Problem, "description": "The body is not JSON (send "
                                           "`Content-Type: application/json`)"},
    503: {"model": Problem,
          "description": "The report is being prepared (try again after `Retry-After` "
                         "seconds), or took too long and was stopped"},
    "stale": {"model": Problem,
              "description": "The patient changed since `expected_version` (or at the same "
                             "time): read it again, then send again"},
}


def responses(*extra: int | str) -> dict[int | str, dict[str, Any]]:
    """The answers a route documents: COMMON and `extra` of DESCRIBED ("stale": a 409 for
    a write that names the version it expects)."""
    out: dict[int | str, dict[str, Any]] = dict(COMMON)
    for code in extra:
        if code not in COMMON:  # 422: every route has it
            out[409 if code == "stale" else code] = DESCRIBED[code]
    return out


def writes(*extra: int | str) -> dict[int | str, dict[str, Any]]:
    """The answers of a route that changes something: a body that is not JSON is 415."""
    return responses(415, *extra)


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
