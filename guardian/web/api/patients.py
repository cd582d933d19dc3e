"""The patient search of the JSON API (docs/api.md, `GET /api/v1/patients?q=`): the search
of the header's box (guardian/web/routes/search.py, `find_patients`) as JSON, for care
coordinators (their PCNs) and admins; anyone else gets 404, as for the other routes not for
their role. Out of scope and unknown answer alike: an empty list. A text too short or too
long to search by is 422 naming `q`. Audited as the page's searches are.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from guardian.projections.search_terms import BadSearch
from guardian.web.access import Principal, require_role
from guardian.web.api.answers import NO_STORE, invalid, responses
from guardian.web.deps import ConnDep
from guardian.web.names import NamesDep
from guardian.web.routes.search import SEARCHERS, audit_search, find_patients, pathway_out

router = APIRouter()


class FoundPathway(BaseModel):
    provider: str
    provider_name: str
    pathway_id: str
    practice_code: str
    practice_name: str
    pcn_code: str | None
    pcn_name: str | None
    treatment_function: str
    treatment_function_name: str
    stage: str
    open: bool = Field(description="Still waiting: the clock runs (or a non-RTT wait) and "
                                   "the pathway is not closed")
    ubrn: str | None
    received_on: dt.date


class FoundPatient(BaseModel):
    patient_id: str
    nhs_number: str
    family_name: str | None
    given_name: str | None
    birth_date: dt.date
    pathways: list[FoundPathway] = Field(
        description="The patient's pathways in your scope, open ones first")


class SearchResults(BaseModel):
    results: list[FoundPatient]
    more: bool = Field(description="More patients matched than the 50 given: narrow the "
                                   "search (a given name or a date of birth)")


@router.get(
    "/patients",
    summary="Find a patient in your scope by NHS number, name, pathway id or UBRN",
    response_model=SearchResults,
    responses=responses(422),
)
def find_patient(
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(require_role(*SEARCHERS))],
    connect: ConnDep,
    names: NamesDep,
    q: Annotated[str, Query(description="An NHS number (spaces allowed), a family name "
                                        "(with a given name or a date of birth), a pathway "
                                        "id or a UBRN")],
) -> SearchResults:
    """Coordinators (their PCNs) and admins. A patient outside your scope is not found,
    exactly as one who does not exist."""
    try:
        with connect() as conn:
            terms, found = find_patients(conn, principal, q)
    except BadSearch as e:
        raise invalid(("query", "q"), e.message) from None
    audit_search(request, principal, terms, found)
    response.headers["Cache-Control"] = NO_STORE
    return SearchResults(more=found.more, results=[
        FoundPatient(patient_id=p.patient_id, nhs_number=p.nhs_number,
                     family_name=p.family_name, given_name=p.given_name,
                     birth_date=p.birth_date,
                     pathways=[FoundPathway(**pathway_out(r, names)) for r in p.pathways])
        for p in found.patients])
