"""The worklist route of the JSON API (docs/api.md, `GET /api/v1/worklists/{pcn_code}`): a
PCN's open pathways for coordinators (their PCNs) and admins, filtered, sorted and keyset-
paged with the one worklist cursor (guardian/web/cursor.py), with the rows matching each
filter counted; read from the worklist read model (guardian/projections/worklist.py) and
audited as `view-worklist`. Each provider, practice, PCN and treatment function code comes
with its name beside it (`provider_name` …).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import to_json

from guardian.domain import standards
from guardian.domain.identifiers import normalise_practice_code, normalise_provider_code
from guardian.projections import org_queries
from guardian.projections import worklist as wl
from guardian.projections.name_queries import Names
from guardian.web import cursor
from guardian.web.access import PatientReader, may_see_pcn, record_access
from guardian.web.api.answers import NO_STORE, code_parameter, invalid, not_found, responses
from guardian.web.caches import worklist_counts
from guardian.web.deps import AppDep, ConnDep, PageCacheDep, ScopeDep
from guardian.web.names import NamesDep
from guardian.web.present import with_departed

router = APIRouter()

MAX_LIMIT = 200
DEFAULT_LIMIT = 50

FilterName = Literal[wl.FILTERS]  # type: ignore[valid-type]
SortName = Literal[wl.SORTS]  # type: ignore[valid-type]
StageName = Literal[standards.STAGES]  # type: ignore[valid-type]


class WorklistRow(BaseModel):
    model_config = ConfigDict(extra="ignore")

    provider: str
    provider_name: str = Field(description="The provider's name (its code when unnamed)")
    pathway_id: str
    patient_id: str
    nhs_number: str
    given_name: str | None
    family_name: str | None
    birth_date: dt.date
    practice_code: str
    practice_name: str = Field(description="The practice's name (its code when unknown)")
    pcn_code: str | None
    pcn_name: str | None = Field(description="The PCN's name (its code when unknown)")
    place: str | None
    treatment_function: str
    treatment_function_name: str
    priority: int
    waiting_list_type: str
    procedure_priority: str | None
    stage: str
    received_on: dt.date
    clock_start: dt.date | None
    days_waiting: int = Field(description="Days since the clock start (else since received)")
    next_deadline: dt.date | None = Field(description="Last day within the next standard")
    next_standard: str | None
    next_breach_on: dt.date | None
    next_at_risk_from: dt.date | None
    breached: bool = Field(description="The next deadline has passed (as of today)")
    at_risk: bool
    breaches: int
    workup_outstanding: int
    diagnostics_outstanding: int
    oldest_diagnostic_on: dt.date | None
    deterioration_since: dt.date | None
    last_contact_on: dt.date | None
    coordinator: str | None
    unanswered_messages: int
    oldest_unanswered_on: dt.date | None
    left_list_on: dt.date | None
    check_in_due: dt.date | None
    validated_on: dt.date | None


class WorklistPage(BaseModel):
    pcn_code: str
    pcn_name: str = Field(description="The PCN's name")
    as_of: dt.date
    filters: list[str]
    sort: str
    attributes: dict[str, str | int] = Field(description="The attribute filters applied")
    limit: int
    rows: list[WorklistRow]
    counts: dict[str, int] = Field(
        description="Rows per filter (attribute filters applied) and `all`")
    next: str | None = Field(description="Pass as `after` for the next page; null: no more")


def _position(sort: str, after: str) -> cursor.Position:
    """Where the page after `after` starts, or 422 naming `after`."""
    try:
        return cursor.decode(sort, after)
    except cursor.BadCursor as e:
        raise invalid(("query", "after"), e.message) from None


def _attributes(practice: str | None, provider: str | None, treatment_function: str | None,
                priority: int | None, stage: str | None) -> dict[str, str | int]:
    attrs: dict[str, str | int] = {}
    codes = {"practice_code": code_parameter("practice", practice, normalise_practice_code),
             "provider": code_parameter("provider", provider, normalise_provider_code)}
    attrs.update({name: code for name, code in codes.items() if code is not None})
    if treatment_function and treatment_function.strip():
        code = treatment_function.strip().upper()
        if not ((len(code) == 3 and code.isdigit()) or code in {f"X0{n}" for n in range(1, 7)}):
            raise invalid(("query", "treatment_function"),
                          f"{treatment_function!r} is not a 3-digit code or X01–X06")
        attrs["treatment_function"] = code
    if priority is not None:
        attrs["priority"] = priority
    if stage:
        attrs["stage"] = stage
    return attrs


ROW_FIELDS = tuple(WorklistRow.model_fields)
PAGE_FIELDS = tuple(WorklistPage.model_fields)


def _row_out(row: dict[str, Any], on: dt.date, names: Names) -> dict[str, Any]:
    """A row as `WorklistRow` has it (its fields in order, the names beside the codes),
    built as a dict: the page is written straight to JSON, not validated again."""
    breach, risk = row["next_breach_on"], row["next_at_risk_from"]
    computed = {
        "provider_name": names.provider(row["provider"]),
        "practice_name": names.practice(row["practice_code"]),
        "pcn_name": names.pcn(row["pcn_code"]) if row["pcn_code"] else None,
        "treatment_function_name": names.treatment_function(row["treatment_function"]),
        "days_waiting": (on - row["wait_from"]).days,
        "breached": standards.breached_when(breach, on),
        "at_risk": standards.at_risk_when(risk, breach, on),
    }
    return {k: computed[k] if k in computed else row[k] for k in ROW_FIELDS}


@router.get(
    "/worklists/{pcn_code}",
    summary="A PCN's worklist: filtered, sorted, keyset-paged, with counts per filter",
    response_model=WorklistPage,
    responses=responses(422),
)
def get_worklist(
    request: Request,
    principal: PatientReader,
    scope: ScopeDep,
    app: AppDep,
    connect: ConnDep,
    cache: PageCacheDep,
    names: NamesDep,
    pcn_code: Annotated[str, Path(description="The PCN's ODS code, e.g. U90001")],
    filters: Annotated[list[FilterName], Query(  # type: ignore[valid-type]
        alias="filter", description="Repeatable; rows must match every filter")] = [],  # noqa: B006
    sort: Annotated[SortName, Query()] = "next-deadline",  # type: ignore[valid-type]
    practice: Annotated[str | None, Query(description="Practice code")] = None,
    provider: Annotated[str | None, Query(description="Provider ODS code")] = None,
    treatment_function: Annotated[str | None, Query(description="e.g. 110 or X02")] = None,
    priority: Annotated[int | None, Query(ge=1, le=3, description="1, 2 or 3")] = None,
    stage: Annotated[StageName | None, Query()] = None,  # type: ignore[valid-type]
    after: Annotated[str | None, Query(description="The `next` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> Response:
    """Coordinators (their PCNs) and admins; anyone else, and a PCN outside your scope,
    gets 404. Rows are the open pathways of patients registered at the PCN's practices;
    `next` pages on (sort key, provider, pathway id), so rows never repeat or go missing
    between pages while nothing changes."""
    pcn = pcn_code.strip().upper()
    if len(pcn) > 8 or not pcn.isprintable() or not may_see_pcn(principal, pcn):
        raise not_found()
    on = app.today()
    chosen = list(dict.fromkeys(filters))
    with connect() as conn:  # one connection for every read and the audit entry
        # no transaction: each read sees the latest committed rows (as under READ
        # COMMITTED) and the entry commits as it is written, with no BEGIN or ROLLBACK
        conn.execution_options(isolation_level="AUTOCOMMIT")
        if not org_queries.pcn_known(conn, pcn):
            raise not_found()
        attrs = _attributes(practice, provider, treatment_function, priority, stage)
        position = _position(sort, after) if after else None
        scope = with_departed(conn, scope)
        rows = wl.page(conn, scope, pcn, on, chosen, sort, position, limit + 1, attrs)
        # the counts scan every row of the PCN: reused until the worklist changes
        counts = worklist_counts(cache, conn, scope, pcn, on, attrs)
        more = len(rows) > limit
        rows = rows[:limit]
        record_access(request, principal, "view-worklist", conn=conn,
                      detail=" ".join([f"pcn={pcn}", *(f"filter={f}" for f in chosen),
                                       *(f"{k}={v}" for k, v in attrs.items()),
                                       f"rows={len(rows)}"]))
    page = {
        "pcn_code": pcn, "pcn_name": names.pcn(pcn), "as_of": on, "filters": chosen,
        "sort": sort, "attributes": attrs, "limit": limit,
        "rows": [_row_out(r, on, names) for r in rows], "counts": counts,
        "next": cursor.encode(sort, rows[-1]) if more else None,
    }
    # WorklistPage's shape (the schema's), written once by pydantic-core's serializer
    # rather than validated as a model, dumped, validated again and encoded
    return Response(to_json({k: page[k] for k in PAGE_FIELDS}), media_type="application/json",
                    headers={"Cache-Control": NO_STORE})
