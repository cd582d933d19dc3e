"""The GP practice view: `GET /gp`, the practice's patients waiting (each pathway's row as
the worklist shows it, a summary of breaches, risks and outstanding workup) and a search by
NHS number that opens the patient's page when the patient has a referral registered at this
practice. GPs only; every view and search is audited.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from guardian.application import PatientNotFound
from guardian.domain.errors import DomainError
from guardian.domain.identifiers import normalise_nhs_number
from guardian.projections import worklist_queries
from guardian.web import access
from guardian.web.access import Principal, require_role
from guardian.web.deps import AppDep, ConnDep
from guardian.web.present import present_row
from guardian.web.templating import render

router = APIRouter(include_in_schema=False)

GP = Annotated[Principal, Depends(require_role("gp"))]
NOT_AT_PRACTICE = ("No referral for this NHS number is registered at your practice. "
                   "Check the number, or the patient may be registered elsewhere.")


@router.get("/gp")
def gp_home(request: Request, principal: GP, app: AppDep, connect: ConnDep,
            nhs_number: str | None = None) -> Response:
    today = app.today()
    error = None
    if nhs_number is not None:
        try:
            digits = normalise_nhs_number(nhs_number)
        except DomainError as e:
            error = e.message
        else:
            pid = app.patient_id(digits)
            try:
                patient = app.get_patient(pid)
            except PatientNotFound:
                patient = None
            if patient is not None and any(p.practice_code == principal.practice
                                           for p in patient.pathways.values()):
                access.record_access(request, principal, "find-patient", patient_id=pid.hex)
                return RedirectResponse(f"/patients/{pid.hex}", status_code=303)
            access.record_access(request, principal, "find-patient-none",
                                 detail="no referral at this practice")
            error = NOT_AT_PRACTICE
    with connect() as conn:
        rows = worklist_queries.practice_rows(conn, principal.practice)
        practice_name = worklist_queries.practice_name(conn, principal.practice)
    shown = [present_row(r, today) for r in rows]
    summary = {
        "waiting": len(shown),
        "breached": sum(1 for r in shown if r["deadline_state"] == "breached"),
        "at_risk": sum(1 for r in shown if r["deadline_state"] == "at-risk"),
        "workup": sum(1 for r in shown if r["workup_outstanding"]),
        "over_18_weeks": sum(1 for r in shown if r["waited_days"] > 126),
    }
    access.record_access(request, principal, "view-practice-overview",
                         detail=f"practice {principal.practice}")
    return render(request, "gp.html", {
        "rows": shown, "summary": summary, "practice_name": practice_name or "",
        "error": error, "nhs_number": nhs_number or "",
        "workup_rows": [r for r in shown if r["workup_outstanding"]],
    }, status_code=422 if error else 200)
