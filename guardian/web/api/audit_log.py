"""The audit log in the JSON API (docs/api.md "`GET /api/v1/admin/audit`"), for admins only
(anyone else gets 404): the admin page's own listing (guardian/web/routes/admin.py
`audit_listing`), newest first, 50 at a time, with the same filters (user, patient, action)
and paging (`before`), each entry with its codes and as a person reads it. Reading the
first page is audited (`view-audit`), as opening the page is; turning pages is not.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from guardian.web.access import AdminPrincipal
from guardian.web.api.answers import NO_STORE, invalid, responses
from guardian.web.deps import AppDep
from guardian.web.inputs import LARGEST_INTEGER
from guardian.web.names import NamesDep
from guardian.web.routes.admin import audit_listing

router = APIRouter()


class AuditEntry(BaseModel):
    id: int
    at: dt.datetime
    user_email: str | None
    user_name: str = Field(description="Who, by name (\"\" for no one)")
    role: str | None
    action: str
    action_words: str = Field(description="What happened, in words")
    patient_id: str | None
    patient: str = Field(description="\"FAMILY, Given (999 123 4567)\" (\"\" for none)")
    provider: str | None
    pathway_id: str | None
    referral: str = Field(description="The referral in words (\"\" for none)")
    detail: str | None
    detail_words: str = Field(description="The detail with codes and people named")
    client: str | None


class AuditLog(BaseModel):
    entries: list[AuditEntry] = Field(description="Newest first, at most 50")
    next_before: int | None = Field(description="Ask with `?before=` this for the next "
                                                "page (null: no more)")


@router.get("/admin/audit", summary="The audit log, newest first (admins)",
            response_model=AuditLog, responses=responses())
def audit_log(
    request: Request, response: Response, principal: AdminPrincipal, guardian: AppDep,
    names: NamesDep,
    user: Annotated[str, Query(max_length=254, description="A user's email address")] = "",
    patient: Annotated[str, Query(max_length=64, description=(
        "An NHS number or a Guardian patient id"))] = "",
    action: Annotated[str, Query(max_length=64, description="An action, e.g. "
                                                            "`view-patient`")] = "",
    before: Annotated[int | None, Query(ge=1, le=LARGEST_INTEGER, description=(
        "The entry to page on from (`next_before`)"))] = None,
) -> AuditLog:
    found = audit_listing(request, principal, guardian, names, user, patient, action,
                          before, before is None)
    if found.errors:
        name, message = sorted(found.errors.items())[0]
        raise invalid(("query", name), message)
    response.headers["Cache-Control"] = NO_STORE
    return AuditLog(next_before=found.next_before, entries=[
        AuditEntry(id=s.entry.id, at=s.entry.at, user_email=s.entry.user_email,
                   user_name=s.who, role=s.entry.role, action=s.entry.action,
                   action_words=s.what, patient_id=s.entry.patient_id, patient=s.patient,
                   provider=s.entry.provider, pathway_id=s.entry.pathway_id,
                   referral=s.referral, detail=s.entry.detail, detail_words=s.detail,
                   client=s.entry.client)
        for s in found.rows])
