"""What every /fhir/R4 route answers when something is wrong (docs/fhir.md "Errors"): an
`OperationOutcome` in `application/fhir+json`, never HTML and never FastAPI's JSON.

- `FhirError`: raised by the FHIR modules themselves, with the issues to report; each issue
  has a severity, an issue type code (`invalid`, `required`, `code-invalid`, `not-found`,
  `business-rule`, …), `diagnostics` in words and the FHIRPath `expression` at fault.
- `FhirRoute`: the route class of every FHIR router. It turns whatever a route or its
  dependencies raise into an OperationOutcome: sign-in (401), CSRF (403), not found or out
  of scope (404, guardian/web/access.py), a bad parameter (400), anything unexpected (500,
  logged with a reference, no traceback in the answer).
- `fhir_json`: a FHIR answer (`application/fhir+json`, `Cache-Control: no-store` for
  patient data).
- `accepted_format`: the `_format` parameter and the `Accept` header: JSON only (406 else).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from guardian.web import request_ids
from guardian.web.access import CsrfRejected, NotSignedIn
from guardian.web.api.answers import NO_STORE
from guardian.web.routes.auth import CSRF_MESSAGE

log = logging.getLogger("guardian.web.fhir")

FHIR_JSON = "application/fhir+json"
JSON_FORMATS = frozenset({"json", "application/json", "application/fhir+json"})

# The issue type code (FHIR value set issue-type) of each HTTP status we answer.
_CODES = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found",
          405: "not-supported", 406: "not-supported", 409: "conflict", 413: "too-long",
          415: "not-supported", 422: "processing", 429: "throttled", 500: "exception"}
_WORDS = {401: "sign in, or send an API token as 'Authorization: Bearer <token>'",
          404: "not found", 405: "method not allowed"}


class FhirJSONResponse(JSONResponse):
    """The media type of every FHIR answer (and what the OpenAPI schema says of them)."""

    media_type = FHIR_JSON


class OutcomeIssue(BaseModel):
    severity: str = Field(description="error")
    code: str = Field(description="The FHIR issue type: invalid, required, not-found, …")
    diagnostics: str
    expression: list[str] | None = Field(
        None, description="The FHIRPath of the element, or the parameter, at fault")


class OperationOutcomeBody(BaseModel):
    """Every error under /fhir/R4 (docs/fhir.md "Errors")."""

    resourceType: str = Field(description="OperationOutcome")
    issue: list[OutcomeIssue]


_DESCRIBED = {
    400: "Bad request: a body that is not a FHIR ServiceRequest, or a bad search parameter",
    401: "No session and no valid bearer token",
    403: "A state-changing request with a session lacked its CSRF token",
    404: "Not found, or outside the caller's scope (existence not revealed)",
    406: "A format other than JSON was asked for",
    409: "The patient was changed at the same moment: send it again",
    413: "The body is too large",
    415: "The body is not application/fhir+json (or application/json)",
    422: "Refused by the rules of the waiting-list extract, or an unknown code",
}


def documented(ok: int, what: str, *errors: int) -> dict[int | str, dict[str, Any]]:
    """The answers a FHIR route documents: `ok` (a FHIR resource), these errors and any
    other as an OperationOutcome (`default`, so that no status goes undocumented)."""
    out: dict[int | str, dict[str, Any]] = {
        ok: {"description": what,
             "content": {FHIR_JSON: {"schema": {"type": "object",
                                                "description": "A FHIR R4 resource"}}}}}
    for status in (400, 401, 404, 406, *errors):
        out[status] = {"model": OperationOutcomeBody, "description": _DESCRIBED[status]}
    out["default"] = {"model": OperationOutcomeBody,
                      "description": "Any other error, as an OperationOutcome"}
    return out


def issue(diagnostics: str, expression: str | None = None, code: str = "invalid",
          severity: str = "error") -> dict[str, Any]:
    """One issue of an OperationOutcome (`expression`: the FHIRPath at fault)."""
    found: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        found["expression"] = [expression]
    return found


def operation_outcome(issues: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": list(issues)}


class FhirError(Exception):
    """An error answered as an OperationOutcome with these issues."""

    def __init__(self, status: int, issues: Sequence[dict[str, Any]],
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(status, issues)
        self.status = status
        self.issues = list(issues)
        self.headers = headers or {}

    @classmethod
    def one(cls, status: int, diagnostics: str, expression: str | None = None,
            code: str | None = None, headers: dict[str, str] | None = None) -> FhirError:
        return cls(status, [issue(diagnostics, expression, code or _CODES.get(status,
                                                                            "processing"))],
                   headers)

    def response(self) -> Response:
        return fhir_json(operation_outcome(self.issues), self.status, self.headers)


def not_found(what: str = "not found") -> FhirError:
    """404: unknown, out of scope and not for this role alike (existence is not revealed)."""
    return FhirError.one(404, what, code="not-found")


def fhir_json(body: Any, status: int = 200, headers: dict[str, str] | None = None,
              store: bool = False) -> JSONResponse:
    """A FHIR answer; `store` False (patient data, errors): `Cache-Control: no-store`."""
    out = dict(headers or {})
    if not store:
        out.setdefault("Cache-Control", NO_STORE)
    return JSONResponse(body, status_code=status, headers=out, media_type=FHIR_JSON)


def accepted_format(request: Request) -> None:
    """JSON is the one format served: `_format` (json, application/json,
    application/fhir+json) or an `Accept` header that takes none of them is 406."""
    wanted = request.query_params.get("_format")
    if wanted is not None and wanted.split(";")[0].strip().lower() not in JSON_FORMATS:
        raise FhirError.one(406, f"_format {wanted!r} is not served: only JSON "
                                 "(application/fhir+json)", "_format")
    accept = request.headers.get("accept")
    if accept:
        types = {part.split(";")[0].strip().lower() for part in accept.split(",")}
        if not types & (JSON_FORMATS | {"*/*", "application/*"}):
            raise FhirError.one(406, f"Accept {accept!r} takes no format served here: "
                                     "only application/fhir+json (or application/json)")


def _from_validation(exc: RequestValidationError) -> FhirError:
    """A bad query or path parameter (FastAPI's own checks, or the app's text rule)."""
    issues = []
    for e in exc.errors():
        loc = [str(p) for p in e.get("loc", ())]
        where = loc[1] if len(loc) > 1 else None
        issues.append(issue(f"{where or 'request'}: {e.get('msg', 'not valid')}", where))
    return FhirError(400, issues or [issue("bad request")])


def as_fhir_error(exc: Exception) -> FhirError | None:
    """The OperationOutcome answer of an exception a route may raise (None: unexpected)."""
    if isinstance(exc, FhirError):
        return exc
    if isinstance(exc, NotSignedIn):
        words = ("the bearer token is not valid (unknown, revoked, expired or malformed)"
                 if exc.reason == "bad-token" else _WORDS[401])
        return FhirError.one(401, words, headers={"WWW-Authenticate": "Bearer"})
    if isinstance(exc, CsrfRejected):
        return FhirError.one(403, CSRF_MESSAGE)
    if isinstance(exc, RequestValidationError):
        return _from_validation(exc)
    if isinstance(exc, StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else None
        words = _WORDS.get(exc.status_code, detail or "request refused")
        if exc.status_code == 404:
            words = _WORDS[404]  # the same words for unknown and out of scope
        return FhirError.one(exc.status_code, words, headers=dict(exc.headers or {}))
    return None


class FhirRoute(APIRoute):
    """Every FHIR route: the format check, then whatever goes wrong answered as an
    OperationOutcome (docs/fhir.md "Errors")."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                accepted_format(request)
                return await handler(request)
            except Exception as exc:  # noqa: BLE001 - every error becomes an OperationOutcome
                found = as_fhir_error(exc)
                if found is None:
                    ref = request_ids.of(request)
                    log.exception("unhandled error %s on %s %s", ref, request.method,
                                  request.url.path)
                    found = FhirError.one(500, f"internal error (reference {ref})")
                return found.response()

        return route


def fhir_router(limited: bool = True) -> APIRouter:
    """A router of FHIR routes: FhirRoute, answers in application/fhir+json; `limited`:
    each request counts against the caller's rate limit, as the JSON API's do
    (guardian/web/rate_limit.py; a 429 here is an OperationOutcome)."""
    from guardian.web.rate_limit import rate_limit

    return APIRouter(route_class=FhirRoute, default_response_class=FhirJSONResponse,
                     dependencies=[Depends(rate_limit)] if limited else [])
