"""`POST /fhir/R4/ServiceRequest` (docs/fhir.md "Recording a referral"): an incoming referral
recorded by the very code of `POST /api/v1/referrals` (guardian/web/api/referrals.py,
`create_referral`), so every rule of the waiting-list extract, the scope check (a practice
outside the caller's PCNs is 422), the audit entry (`submit-referral`) and read-your-writes
apply unchanged; only the transport differs.

Order of checks: role (coordinators and admins; anyone else 404, as the API), the CSRF
token of a session (403), the content type (`application/fhir+json` or `application/json`,
else 415), the size (at most 64 KiB, else 413), the JSON (400), the FHIR structure (400,
`incoming`), then the extract's rules (422, each issue naming the FHIRPath of the element
at fault). A new pathway is 201 with `Location` and the ServiceRequest as now recorded; a
known one is 200 (updated, or unchanged: nothing written).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from guardian.web.access import Principal, require_role
from guardian.web.api.referral_models import ReferralRow
from guardian.web.api.referrals import create_referral
from guardian.web.deps import AppDep, CatchUpDep, ConnDep
from guardian.web.fhir import lookup, resources
from guardian.web.fhir.incoming import ROOT, path_of, to_row
from guardian.web.fhir.outcome import (
    FHIR_JSON,
    FhirError,
    documented,
    fhir_json,
    fhir_router,
    issue,
)
from guardian.web.names import NamesDep

router = fhir_router()

MAX_BODY = 64 * 1024  # bytes: a ServiceRequest is a few KiB
CONTENT_TYPES = frozenset({"application/fhir+json", "application/json"})
CoordinatorOrAdmin = Annotated[Principal, Depends(require_role("coordinator", "admin"))]


async def read_body(request: Request) -> Any:
    """The JSON body, after the content type and size checks."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() not in CONTENT_TYPES:
        raise FhirError.one(415, f"send the ServiceRequest as application/fhir+json, not "
                                 f"{content_type or 'no content type'!r}")
    too_big = FhirError.one(413, f"the body is larger than {MAX_BODY // 1024} KiB")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise too_big
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise too_big
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except ValueError as e:  # not UTF-8, or not JSON
        raise FhirError.one(400, f"the body is not valid JSON: {e}", code="structure") from None


def _model_issues(e: ValidationError, where: dict[str, str]) -> list[dict[str, Any]]:
    """The extract model's refusals (a required column missing, the text rule)."""
    out = []
    for err in e.errors():
        path = path_of(str(err["loc"][0]) if err.get("loc") else "record", where)
        if err.get("type") == "missing":
            out.append(issue(f"{path} is required", path, "required"))
        else:
            out.append(issue(f"{path}: {err.get('msg', 'not valid')}", path))
    return out


def _refusals(e: RequestValidationError, where: dict[str, str]) -> list[dict[str, Any]]:
    """The extract's rules' refusals, each at the FHIRPath of its column."""
    out = []
    for err in e.errors():
        loc = [str(p) for p in err.get("loc", ())]
        path = path_of(loc[1], where) if len(loc) > 1 else ROOT
        out.append(issue(str(err.get("msg", "refused")), path, "business-rule"
                         if loc[1:] == ["general_medical_practice_code"] else "invalid"))
    return out


def record(request: Request, principal: Principal, row: dict[str, str],
           where: dict[str, str], app: Any, connect: Any, catch_up: Any,
           names: Any) -> Response:
    """Record the row as `POST /api/v1/referrals` does, and answer the ServiceRequest."""
    try:
        model = ReferralRow.model_validate(row)
    except ValidationError as e:
        raise FhirError(422, _model_issues(e, where)) from None
    try:
        answer = create_referral(request, principal, model, app, connect, catch_up, names)
    except RequestValidationError as e:
        raise FhirError(422, _refusals(e, where)) from None
    written = json.loads(bytes(answer.body))
    if answer.status_code == 409:
        raise FhirError.one(409, written.get("detail", "changed at the same time"),
                            code="conflict")
    provider, pathway_id = written["provider"], written["pathway_id"]
    patient = lookup.patient_of_pathway(app, connect, provider, pathway_id)
    if patient is None or (provider, pathway_id) not in patient.pathways:
        raise FhirError.one(500, "the referral was recorded but could not be read back",
                            code="exception")
    found = lookup.seen(connect, principal, patient)
    pathway = patient.pathways[(provider, pathway_id)]
    resource = resources.service_request(patient, pathway, found.view, names,
                                         app.settings.standards)
    lookup.audit_view(request, principal, patient, pathway,
                      f"ServiceRequest/{resource['id']} ({written['result']})")
    headers = {}
    if written["result"] == "created":
        headers["Location"] = (f"{str(request.base_url).rstrip('/')}/fhir/R4/ServiceRequest/"
                               f"{resource['id']}")
    return fhir_json(resource, answer.status_code, headers)


_BODY = {"type": "object", "required": ["resourceType", "status", "intent", "subject"],
         "description": "A FHIR R4 ServiceRequest (docs/fhir.md \"Recording a referral\")",
         "properties": {"resourceType": {"type": "string", "enum": ["ServiceRequest"]},
                        "status": {"type": "string"}, "intent": {"type": "string"},
                        "priority": {"type": "string"}, "authoredOn": {"type": "string"},
                        "subject": {"type": "object"}, "requester": {"type": "object"},
                        "performer": {"type": "array", "items": {"type": "object"}},
                        "identifier": {"type": "array", "items": {"type": "object"}},
                        "contained": {"type": "array", "items": {"type": "object"}},
                        "code": {"type": "object"}, "occurrencePeriod": {"type": "object"},
                        "extension": {"type": "array", "items": {"type": "object"}}}}


@router.post(
    "/ServiceRequest", status_code=201,
    summary="Record an incoming referral (the rules of POST /api/v1/referrals)",
    responses={**documented(201, "Created: the ServiceRequest, with Location", 403, 409,
                            413, 415, 422),
               200: {"description": "Known already (updated or unchanged): the "
                                    "ServiceRequest",
                     "content": {FHIR_JSON: {"schema": {"type": "object"}}}}},
    openapi_extra={"requestBody": {"required": True, "content": {
        FHIR_JSON: {"schema": _BODY}, "application/json": {"schema": _BODY}}}},
)
async def create_service_request(request: Request, principal: CoordinatorOrAdmin,
                                 app: AppDep, connect: ConnDep, catch_up: CatchUpDep,
                                 names: NamesDep) -> Response:
    """201 created (with `Location`), 200 updated or unchanged; every refusal is an
    OperationOutcome naming the FHIRPath at fault (docs/fhir.md)."""
    body = await read_body(request)
    row, where = to_row(body)
    return await run_in_threadpool(record, request, principal, row, where, app, connect,
                                   catch_up, names)
