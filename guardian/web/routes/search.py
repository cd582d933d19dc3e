"""Find a patient: `GET /search?q=`, the results page behind the search box in every page's
header, for care coordinators (their PCNs) and admins; anyone else gets 404. The same
search answers `GET /api/v1/patients?q=` (guardian/web/api/patients.py), through
`find_patients` here. What the text may be, and how names match, is
`guardian.projections.search_terms`; the query, scoped before its limit, is
`guardian.projections.search_queries` (docs/api.md, "finding a patient").

The scope is the worklist scope of guardian/web/access.py (`scope_for`), as the practices
of its PCNs: a patient outside it is answered exactly as one who does not exist. A valid
NHS number that finds exactly one patient opens that patient's page at once (the number
identifies them; nothing is left to choose). Every search is audited — `find-patient`
(with the patient when exactly one is found) or `find-patient-none` — with what was typed,
how it was read and how many patients were found.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Connection

from guardian.domain import standards
from guardian.domain.identifiers import format_nhs_number
from guardian.projections import org_queries
from guardian.projections.name_queries import Names
from guardian.projections.search_queries import LIMIT, Results, find
from guardian.projections.search_terms import LONGEST, BadSearch, Terms, parse
from guardian.web import access
from guardian.web.access import Principal, require_role
from guardian.web.deps import AppDep, ConnDep
from guardian.web.names import NamesDep
from guardian.web.present import age_on
from guardian.web.templating import render

router = APIRouter(include_in_schema=False)

SEARCHERS = ("coordinator", "admin")
Searcher = Annotated[Principal, Depends(require_role(*SEARCHERS))]
MORE = (f"More than {LIMIT} patients match: add the given name or the date of birth "
        "to narrow the search.")


def find_patients(conn: Connection, principal: Principal, q: str | None
                  ) -> tuple[Terms, Results]:
    """The patients this user may see that match `q` (BadSearch: `q` too short or long)."""
    terms = parse(q)
    scope = access.scope_for(principal)
    practices = None if scope.pcns is None else org_queries.practices_in(conn, scope.pcns)
    return terms, find(conn, terms, practices)


def audit_search(request: Request, principal: Principal, terms: Terms,
                 results: Results) -> None:
    """`find-patient` (naming the patient when there is one) or `find-patient-none`."""
    found = results.patients
    count = f"more than {LIMIT}" if results.more else str(len(found))
    access.record_access(
        request, principal, "find-patient" if found else "find-patient-none",
        patient_id=found[0].patient_id if len(found) == 1 else None,
        detail=f"search {terms.text!r} as {terms.kind}: {count} found")


def pathway_out(row: dict[str, Any], names: Names) -> dict[str, Any]:
    """A pathway of a result, with each code's name beside it (guardian/web/names.py)."""
    return {
        "provider": row["provider"], "provider_name": names.provider(row["provider"]),
        "pathway_id": row["pathway_id"], "practice_code": row["practice_code"],
        "practice_name": names.practice(row["practice_code"]), "pcn_code": row["pcn_code"],
        "pcn_name": names.pcn(row["pcn_code"]) if row["pcn_code"] else None,
        "treatment_function": row["treatment_function"],
        "treatment_function_name": names.treatment_function(row["treatment_function"]),
        "stage": row["stage"], "open": bool(row["is_open"]), "ubrn": row["ubrn"],
        "received_on": row["received_on"],
    }


def _shown(results: Results, today: dt.date, names: Names) -> list[dict[str, Any]]:
    return [{
        "href": f"/patients/{p.patient_id}", "nhs": format_nhs_number(p.nhs_number),
        "family_name": p.family_name, "given_name": p.given_name, "birth_date": p.birth_date,
        "age": age_on(p.birth_date, today),
        "pathways": [{**pathway_out(r, names),
                      "stage_label": standards.STAGE_LABELS.get(r["stage"], r["stage"])}
                     for r in p.pathways],
    } for p in results.patients]


@router.get("/search")
def search_page(request: Request, principal: Searcher, app: AppDep, connect: ConnDep,
                names: NamesDep, q: str | None = None) -> Response:
    if q is None or not q.strip():
        return render(request, "search.html", {"q": "", "searched": False, "results": [],
                                               "longest": LONGEST})
    try:
        with connect() as conn:
            terms, results = find_patients(conn, principal, q)
    except BadSearch as e:
        return render(request, "search.html",
                      {"q": q, "searched": False, "results": [], "error": e.message,
                       "longest": LONGEST},
                      status_code=422)
    audit_search(request, principal, terms, results)
    if terms.nhs_number and len(results.patients) == 1:
        return RedirectResponse(f"/patients/{results.patients[0].patient_id}",
                                status_code=303)
    return render(request, "search.html", {
        "q": terms.text, "searched": True, "results": _shown(results, app.today(), names),
        "more": MORE if results.more else None, "problem": terms.problem,
        "longest": LONGEST,
    })
