"""The GP practice view: `GET /gp`, the practice's patients waiting. First what needs the
practice's attention (the workup it owes, overdue first), then its counts in words, then
each pathway's row as the worklist shows it; a search by NHS number opens the patient's
page when the patient has a referral registered at this practice. GPs only; every view and
search is audited. Laid out for a phone as well as a desktop (docs/journeys.md).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from guardian.application import GuardianApp, PatientNotFound
from guardian.domain.errors import DomainError
from guardian.domain.identifiers import normalise_nhs_number
from guardian.projections import status as status_model
from guardian.projections import worklist_queries
from guardian.projections.plain import owed_text
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
    overview = practice_overview(request, principal, app, connect, principal.practice or "")
    return render(request, "gp.html", {
        **overview, "error": error, "nhs_number": nhs_number or "",
    }, status_code=422 if error else 200)


def practice_overview(request: Request, principal: Principal, app: GuardianApp,
                      connect: Any, practice: str) -> dict[str, Any]:
    """The practice's waiting referrals as the page shows them: `rows`, their `counts` in
    words, what the practice `owed` and its `owed_summary` (audited, the page and the API
    alike; who may see which practice is the caller's to check)."""
    today = app.today()
    with connect() as conn:
        rows = worklist_queries.practice_rows(conn, practice)
    shown = [present_row(r, today) for r in rows]
    owed = practice_owes(app, shown, today)
    access.record_access(request, principal, "view-practice-overview",
                         detail=f"practice {practice}")
    return {"rows": shown, "counts": counts_in_words(shown), "owed": owed,
            "owed_summary": owed_in_words(owed)}


def practice_owes(app: GuardianApp, rows: list[dict[str, Any]],
                  today: dt.date) -> list[dict[str, Any]]:
    """The rows where the practice itself owes workup, each with its items (what, since,
    overdue): overdue first, then the longest asked. Reads the aggregates of the rows with
    workup outstanding only (after the read model's connection is given back)."""
    owed = []
    for r in rows:
        if not r["workup_outstanding"]:
            continue
        try:
            patient = app.get_patient(uuid.UUID(r["patient_id"]))
        except PatientNotFound:
            continue
        p = patient.pathway(r["provider"], r["pathway_id"])
        items = sorted(({"what": owed_text(o), "since": o.since, "overdue": o.overdue}
                        for o in status_model.outstanding(patient, p, today,
                                                          table=app.settings.standards)
                        if o.owner == "practice"),
                       key=lambda i: (not i["overdue"], i["since"]))
        if items:
            owed.append({**r, "owed_items": items, "overdue": items[0]["overdue"],
                         "since": items[0]["since"]})
    return sorted(owed, key=lambda r: (not r["overdue"], r["since"]))


def _count(n: int, one: str, many: str, none: str = "None") -> str:
    return none if n == 0 else f"{n:,} {one if n == 1 else many}"


def owed_in_words(owed: list[dict[str, Any]]) -> str:
    """"The practice owes workup on 2 referrals; 1 of them is overdue." """
    if not owed:
        return "The practice owes no workup at the moment."
    late = sum(1 for r in owed if r["overdue"])
    line = f"The practice owes workup on {_count(len(owed), 'referral', 'referrals')}"
    if len(owed) == 1:
        return line + ("; it is overdue." if late else "; it is not overdue yet.")
    if not late:
        return line + "; none is overdue."
    return line + f"; {late:,} of them {'is' if late == 1 else 'are'} overdue."


def counts_in_words(rows: list[dict[str, Any]]) -> list[str]:
    """The practice's waiting referrals in sentences, one count each."""
    breached = sum(1 for r in rows if r["deadline_state"] == "breached")
    at_risk = sum(1 for r in rows if r["deadline_state"] == "at-risk")
    long_wait = sum(1 for r in rows if r["waited_days"] > 126)
    if not rows:
        return ["No referrals are waiting."]
    return [
        f"{_count(len(rows), 'referral is', 'referrals are')} waiting.",
        f"{_count(long_wait, 'has', 'have', 'None has')} waited more than 18 weeks.",
        f"{_count(breached, 'has', 'have', 'None has')} missed a waiting-time target.",
        f"{_count(at_risk, 'is', 'are', 'None is')} at risk of missing one soon.",
    ]
