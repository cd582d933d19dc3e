"""The place report route of the JSON API (docs/api.md, `GET /api/v1/reports/bottlenecks`):
a place's pathway bottlenecks for its place lead and admins, aggregates only and always
small-number suppressed, computed on the report pool and kept per place, date and event-store
head like the report page's tables (guardian/web/reports.py `Reports`), audited as `view-report`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from guardian.projections.report_queries import event_head
from guardian.web import places
from guardian.web.access import Principal, record_access, require_role
from guardian.web.api.answers import invalid, not_found, responses
from guardian.web.deps import AppDep, ConnDep, ReportsDep
from guardian.web.names import names_of, with_names
from guardian.web.report_params import Params, as_of_problem
from guardian.web.report_pool import ReportBusy, ReportTooSlow
from guardian.web.reports import bottleneck_report, not_ready

router = APIRouter()


class BottleneckReport(BaseModel):
    """Always small-number suppressed (docs/suppression.md): counts 1–7 are "*", other counts are
    rounded to the nearest 5; statistics of groups under 8 pathways are "*"."""

    as_of: dt.date
    place: str
    suppressed: Literal[True]
    stage_durations: dict[str, list[dict[str, Any]]]
    top_bottlenecks: list[dict[str, Any]]
    queues_growing: list[dict[str, Any]]
    breaches_by_standard: list[dict[str, Any]]
    equity_by_age_band: list[dict[str, Any]]
    equity_by_pcn: list[dict[str, Any]]
    removals: list[dict[str, Any]]
    trend: list[dict[str, Any]]


PlaceLeadOrAdmin = Annotated[Principal, Depends(require_role("place-lead", "admin"))]


@router.get(
    "/reports/bottlenecks",
    summary="A place's pathway bottlenecks (aggregates only, small numbers suppressed)",
    response_model=BottleneckReport,
    responses=responses(422, 503),
)
async def get_bottlenecks(
    request: Request,
    principal: PlaceLeadOrAdmin,
    app: AppDep,
    connect: ConnDep,
    reports: ReportsDep,
    place: Annotated[str | None, Query(
        description="The place; a place lead's own place when left out (required for "
                    "admins)")] = None,
    as_of: Annotated[dt.date | None, Query(description="YYYY-MM-DD; default today")] = None,
) -> BottleneckReport:
    """Place leads (their own place only) and admins; anyone else, another place, or a
    place Guardian does not know, gets 404. No patient-level data, ever. Computed on the
    report pool, never on a request thread (guardian/web/report_pool.py): 503 with
    Retry-After while it is being prepared."""
    canonical, on, head = await run_in_threadpool(_report_request, app, connect, principal,
                                                  place, as_of)
    try:
        data = await reports.cached("api-bottlenecks", Params(place=canonical, as_of=on), head,
                                    bottleneck_report, canonical, on)
    except (ReportBusy, ReportTooSlow) as e:
        status, headers, message = not_ready(e)
        return JSONResponse({"detail": message}, status_code=status, headers=headers)
    await run_in_threadpool(record_access, request, principal, "view-report",
                            detail=f"bottlenecks place={canonical} as_of={on.isoformat()}")
    named = await run_in_threadpool(names_of, request)  # each name beside its code
    data = with_names(data, named)
    data["equity_by_pcn"] = [{**r, "pcn_name": named.pcn(r["group"]) if r.get("group") else None}
                             for r in data["equity_by_pcn"]]
    return BottleneckReport(**data)


def _report_request(app, connect, principal: Principal, place: str | None,
                    as_of: dt.date | None) -> tuple[str, dt.date, int]:
    """The place (as Guardian spells it, in any case: guardian/web/places.py) and date a
    report may be made for, and the event store's head; 404 or 422 otherwise."""
    on = as_of or app.today()
    problem = as_of_problem(on, app.today())  # the report page's range
    if problem:
        raise invalid(("query", "as_of"), problem)
    try:
        canonical = places.resolve_place(app.engine, principal, place, any_case=True)
    except places.PlaceNotFound:
        raise not_found() from None
    if canonical is None:
        raise invalid(("query", "place"), "name the place the report is for")
    with connect() as conn:
        return canonical, on, event_head(conn)
