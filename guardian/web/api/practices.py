"""A GP practice's overview in the JSON API (docs/api.md "`GET /api/v1/practices/
{practice_code}/referrals`"): what the GP page (`/gp`, guardian/web/routes/gp.py
`practice_overview`) shows — the workup the practice owes, overdue first, its counts in
words, and each waiting referral — for a GP of that practice, the coordinators of its PCN
and admins. Anyone else, and a practice Guardian does not know, gets 404 (docs/access.md);
audited as the page is (`view-practice-overview`).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field

from guardian.domain.errors import InvalidValue
from guardian.domain.identifiers import normalise_practice_code
from guardian.projections import org_queries
from guardian.projections.name_queries import Names
from guardian.web.access import PatientReader, may_see_patient
from guardian.web.api.answers import NO_STORE, invalid, not_found, responses
from guardian.web.api.worklists import WorklistRow
from guardian.web.deps import AppDep, ConnDep
from guardian.web.names import NamesDep
from guardian.web.routes.gp import practice_overview

router = APIRouter()


class OwedItem(BaseModel):
    what: str
    since: dt.date = Field(description="Asked for on")
    overdue: bool


class PracticeReferral(WorklistRow):
    """A waiting referral: a worklist row (`GET /api/v1/worklists/{pcn_code}`'s shape) with
    what the GP page adds."""

    priority_label: str
    stage_label: str
    waited_weeks: int
    deadline_state: str | None = Field(description="`breached`, `at-risk` or another state "
                                                   "of the next deadline (null: none)")
    next_standard_label: str | None = Field(description="The next deadline's standard "
                                                        "in words")
    coordinator_name: str | None
    owed: list[OwedItem] = Field(description="The workup the practice owes on it")


class PracticeOverview(BaseModel):
    practice_code: str
    practice_name: str
    pcn_code: str
    pcn_name: str
    as_of: dt.date
    counts: list[str] = Field(description="The waiting referrals counted, in sentences")
    owed_summary: str = Field(description="What the practice owes, in a sentence")
    owed: list[PracticeReferral] = Field(description="The referrals on which the practice "
                                                     "owes workup: overdue first")
    referrals: list[PracticeReferral] = Field(description="Every waiting referral, by next "
                                                          "deadline")


def _referral(row: dict[str, Any], names: Names) -> PracticeReferral:
    return PracticeReferral(**{
        **row, "provider_name": names.provider(row["provider"]),
        "practice_name": names.practice(row["practice_code"]),
        "pcn_name": names.pcn(row["pcn_code"]) if row["pcn_code"] else None,
        "treatment_function_name": row["tf_name"], "days_waiting": row["waited_days"],
        "breached": row["deadline_state"] == "breached",
        "at_risk": row["deadline_state"] == "at-risk",
        "next_standard_label": row["deadline_label"],
        "coordinator_name": names.person(row["coordinator"]) if row["coordinator"] else None,
        "owed": [OwedItem(**i) for i in row.get("owed_items", [])]})


@router.get(
    "/practices/{practice_code}/referrals",
    summary="A GP practice's waiting referrals and the workup it owes",
    response_model=PracticeOverview, responses=responses(),
)
def practice_referrals(request: Request, response: Response, principal: PatientReader,
                       app: AppDep, connect: ConnDep, names: NamesDep,
                       practice_code: Annotated[str, Path(
                           max_length=64, description="The practice's ODS code")]
                       ) -> PracticeOverview:
    """A GP of the practice, coordinators of its PCN, admins; anyone else, and an unknown
    practice, 404."""
    try:
        code = normalise_practice_code(practice_code)
    except InvalidValue as e:
        raise invalid(("path", "practice_code"), e.message) from None
    with connect() as conn:
        pcn, place = org_queries.orgs_of(conn, {code}).get(code, (None, None))
    if pcn is None or not may_see_patient(principal, code, pcn, place):
        raise not_found()
    found = practice_overview(request, principal, app, connect, code)
    response.headers["Cache-Control"] = NO_STORE
    return PracticeOverview(
        practice_code=code, practice_name=names.practice(code), pcn_code=pcn,
        pcn_name=names.pcn(pcn), as_of=app.today(), counts=found["counts"],
        owed_summary=found["owed_summary"],
        owed=[_referral(r, names) for r in found["owed"]],
        referrals=[_referral(r, names) for r in found["rows"]])
