"""Admin pages: the audit log (`GET /admin/audit`), newest first, filtered by user, patient
and action (admins only; others get 404). Opening it is audited too."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from guardian import audit
from guardian.domain.errors import InvalidValue
from guardian.domain.identifiers import normalise_nhs_number
from guardian.web.access import AdminPrincipal, record_access
from guardian.web.deps import AppDep
from guardian.web.inputs import LARGEST_INTEGER
from guardian.web.templating import page_or_fragment

router = APIRouter(include_in_schema=False)
PAGE = 50
_HEX_ID = re.compile(r"^[0-9a-f]{32}$")


@router.get("/admin/audit")
def audit_page(
    request: Request,
    principal: AdminPrincipal,
    guardian: AppDep,
    user: Annotated[str, Query(max_length=254)] = "",
    patient: Annotated[str, Query(max_length=64)] = "",
    action: Annotated[str, Query(max_length=64)] = "",
    before: Annotated[int | None, Query(ge=1, le=LARGEST_INTEGER)] = None,
) -> Response:
    """Newest first, 50 a page; filter by user e-mail, patient (NHS number or Guardian
    patient id) and action."""
    errors: dict[str, str] = {}
    patient_id = None
    wanted = patient.strip().lower().replace("-", "")
    if wanted:
        if _HEX_ID.match(wanted):
            patient_id = wanted
        else:
            try:
                patient_id = guardian.patient_id(normalise_nhs_number(patient)).hex
            except InvalidValue:
                errors["patient"] = (
                    "Enter a 10-digit NHS number or a Guardian patient id (32 characters)"
                )
    rows = [] if errors else audit.entries(
        guardian.engine, email=user.strip() or None, patient_id=patient_id,
        action=action.strip() or None, before=before, limit=PAGE + 1,
    )
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    zone = guardian.settings.zone
    if before is None and not request.headers.get("hx-request"):
        record_access(request, principal, "view-audit", patient_id=patient_id,
                      detail=f"user={user.strip()}" if user.strip() else None)
    return page_or_fragment(
        request,
        "admin_audit.html",
        {
            "rows": rows,
            "zone": zone,
            "filters": {"user": user.strip(), "patient": patient.strip(),
                        "action": action.strip()},
            "patient_id": patient_id,
            "errors": errors,
            "next_before": rows[-1].id if more and rows else None,
        },
        "results",
        status_code=400 if errors else 200,
    )
