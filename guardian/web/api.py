"""The JSON API under /api/v1 (docs/api.md): the same use cases, read models and
scopes as the pages, for scripts and other systems.

Credentials: `Authorization: Bearer <token>` (from `guardian users token`) or a session
cookie (state-changing requests made with a session also need `X-CSRF-Token`). Without
either, 401. Out-of-scope answers are 404 whatever the reason, so nothing reveals whether a
patient, a PCN or a place exists outside the caller's scope (guardian/web/access.py).

| route | who | answers |
| --- | --- | --- |
| `POST /referrals` | coordinator (their PCNs' practices), admin | 201, 200, 409, 422 |
| `GET /referrals/{pathway_id}` | coordinator, GP (their practice), admin | 200, 409, 422 |
| `GET /worklists/{pcn_code}` | coordinator (their PCNs), admin | 200, 422 |
| `GET /reports/bottlenecks?place=` | place lead (their place), admin | 200, 422 |

Everyone else gets 404 (a GP or a place lead posting a referral, a place lead asking for a
referral or a worklist, a coordinator or GP asking for a report).

Every 422 has FastAPI's shape, `{"detail": [{"loc": [...], "msg": ..., "type": ...}]}`,
and `loc` names the body field or query parameter at fault: the referral's fields use the
lower-case column names of the waiting-list extract (`["body", "nhs_number"]`), a whole-
record problem is `["body"]`.

Every view of patient-level data and every write is audited (`view-referral`,
`view-worklist`, `submit-referral`, `denied-patient`), and so is each report view
(`view-report`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)
from sqlalchemy import select

from guardian.application import ConcurrentChange
from guardian.domain import standards
from guardian.domain.codes import DIAGNOSTIC_TESTS
from guardian.domain.errors import DomainError, InvalidValue
from guardian.domain.identifiers import normalise_practice_code, normalise_provider_code
from guardian.domain.visibility import view_of
from guardian.ingest.ptl_csv import COLUMNS, REQUIRED, field_problem
from guardian.ingest.referral_api import submit_referral
from guardian.orgs import places as org_places
from guardian.projections import bottlenecks as bn
from guardian.projections import worklist as wl
from guardian.projections.status import referral_status
from guardian.store import organisations, pathway_index
from guardian.web import cursor, reports
from guardian.web.access import (
    AUTH_RESPONSES,
    PatientReader,
    Principal,
    audit_entry,
    deny_patient,
    may_see_pcn,
    may_see_place,
    record_access,
    require_role,
    scope_for,
    visible_pathways,
)
from guardian.web.report_pool import ReportBusy, ReportTooSlow
from guardian.web.reports import as_of_problem

log = logging.getLogger("guardian.web.api")

router = APIRouter(prefix="/api/v1", tags=["api"])

NO_STORE = "no-store"  # patient-identifiable answers are never cached
MAX_LIMIT = 200
DEFAULT_LIMIT = 50

# ---------------------------------------------------------------------------- error shapes


class FieldError(BaseModel):
    loc: list[str | int] = Field(
        description='Where: ["body", field] or ["query", parameter] (["body"]: the record)')
    msg: str
    type: str


class ValidationProblem(BaseModel):
    """422: what was wrong, one entry per field or parameter (FastAPI's own shape)."""

    detail: list[FieldError]


class Problem(BaseModel):
    detail: str


class AmbiguousPathway(BaseModel):
    """409: the pathway id is used by more than one provider the caller may see."""

    detail: str
    providers: list[str] = Field(description="The providers in the caller's scope using it")


def _responses(*extra: int) -> dict[int | str, dict[str, Any]]:
    described: dict[int, dict[str, Any]] = {
        409: {"model": AmbiguousPathway,
              "description": "The pathway id is used by more than one provider in your "
                             "scope: repeat with `?provider=CODE`"},
        422: {"model": ValidationProblem,
              "description": "Bad input: each entry's `loc` names the field or parameter"},
        503: {"model": Problem,
              "description": "The report is being prepared (try again after `Retry-After` "
                             "seconds), or took too long and was stopped"},
    }
    out: dict[int | str, dict[str, Any]] = {
        code: {**answer, "model": Problem} for code, answer in AUTH_RESPONSES.items()
    }
    for code in extra:
        out[code] = described[code]
    return out


def invalid(loc: tuple[str | int, ...], msg: str) -> RequestValidationError:
    return RequestValidationError([{"loc": loc, "msg": msg, "type": "value_error"}])


def _not_found() -> HTTPException:
    return HTTPException(status_code=404, detail="Not Found")


def _guardian(request: Request):
    return request.app.state.guardian


def _catch_up(request: Request) -> None:
    """Bring the read models up to date after a write, so the caller reads its own write.
    The write is committed already: a failure here is logged, not reported."""
    try:
        request.app.state.runner.catch_up_within(2.0)
    except Exception:  # the follower (or the next request) catches up instead
        log.exception("read models not brought up to date after an API write")


# ---------------------------------------------------------------------------- referrals

_DESCRIPTIONS = {
    "NHS_NUMBER": "10 digits with a valid check digit (spaces allowed)",
    "PERSON_BIRTH_DATE": "YYYY-MM-DD",
    "PATIENT_PATHWAY_IDENTIFIER": "The provider's pathway id (provider + id is the key)",
    "ORGANISATION_IDENTIFIER_CODE_OF_PROVIDER": "ODS code, 3–5 letters or digits",
    "GENERAL_MEDICAL_PRACTICE_CODE": "Registered practice: in the organisation reference and "
                                     "in your scope",
    "REFERRAL_REQUEST_RECEIVED_DATE": "YYYY-MM-DD, not after today",
    "REFERRAL_TO_TREATMENT_PERIOD_START_DATE": "RTT clock start; required unless "
                                               "waiting_list_type is ONON or INON",
    "REFERRAL_TO_TREATMENT_PERIOD_END_DATE": "The clock stopped on this date",
    "REFERRAL_TO_TREATMENT_PERIOD_STATUS": "National RTT status code",
    "ACTIVITY_TREATMENT_FUNCTION_CODE": "3-digit code or X01–X06",
    "PRIORITY_TYPE_CODE": "1 routine, 2 urgent, 3 urgent suspected cancer",
    "WAITING_LIST_TYPE": "ORTT, IRTT, ONON or INON (empty: an RTT list)",
}


class _ReferralBase(BaseModel):
    """Keys are matched without regard to case; unknown keys are ignored."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={"example": {
            "nhs_number": "9995260182", "person_birth_date": "1958-03-14",
            "patient_pathway_identifier": "RAJ-000123",
            "organisation_identifier_code_of_provider": "RAJ",
            "general_medical_practice_code": "Y90001",
            "referral_request_received_date": "2026-01-05",
            "referral_to_treatment_period_start_date": "2026-01-05",
            "activity_treatment_function_code": "110", "priority_type_code": "1",
        }},
    )

    @model_validator(mode="before")
    @classmethod
    def _lower_case_keys(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            return {str(k).lower(): v for k, v in data.items()}
        return data

    @field_validator("*")
    @classmethod
    def _one_text_rule(cls, value: Any, info: ValidationInfo) -> Any:
        """No control character or lone surrogate, and the column's length limit (the
        importer's rule, guardian/domain/text.py): refused before anything is looked up."""
        if isinstance(value, str) and info.field_name:
            message = field_problem(info.field_name.upper(), value)
            if message is not None:
                raise ValueError(message)
        return value


ReferralRow = create_model(  # type: ignore[call-overload]
    "ReferralRow",
    __base__=_ReferralBase,
    __doc__="One referral in the waiting-list extract's row shape: the CSV columns in lower "
            "case, every value a string (docs/formats.md).",
    **{
        column.lower(): (
            (str, Field(description=_DESCRIPTIONS.get(column, column)))
            if column in REQUIRED
            else (str | None, Field(None, description=_DESCRIPTIONS.get(column, column)))
        )
        for column in COLUMNS
    },
)


class ReferralWritten(BaseModel):
    result: Literal["created", "updated", "unchanged"]
    provider: str
    pathway_id: str
    href: str = Field(description="Where to read the referral's status")


def _referral_href(provider: str, pathway_id: str) -> str:
    from urllib.parse import quote

    return f"/api/v1/referrals/{quote(pathway_id, safe='')}?provider={provider}"


def practices_of(request: Request, principal: Principal) -> frozenset[str]:
    """The practices a coordinator may record referrals for (their PCNs'); all for admins."""
    q = select(organisations.c.practice_code)
    if principal.pcns is not None:
        q = q.where(organisations.c.pcn_code.in_(sorted(principal.pcns)))
    with _guardian(request).engine.connect() as conn:
        return frozenset(conn.execute(q).scalars())


CoordinatorOrAdmin = Annotated[Principal, Depends(require_role("coordinator", "admin"))]


@router.post(
    "/referrals",
    summary="Record one referral (the waiting-list row shape), as of today",
    status_code=201,
    response_model=ReferralWritten,
    responses={
        **_responses(422),
        200: {"model": ReferralWritten,
              "description": "Known already: `unchanged` (nothing written) or `updated`"},
        404: {"model": Problem,
              "description": "Not a coordinator or admin (GPs and place leads may not "
                             "record referrals)"},
        409: {"model": Problem,
              "description": "Someone changed this patient at the same time: send it again"},
    },
)
def create_referral(
    request: Request,
    principal: CoordinatorOrAdmin,
    row: Annotated[ReferralRow, Body()],  # type: ignore[valid-type]
) -> JSONResponse:
    """The same rules as a row of `guardian import-ptl`: a new pathway is **201 created**;
    a known one answers **200** with `result` `updated` (one event per changed fact) or
    `unchanged` (nothing written). Bad values, and a practice outside your scope, are
    **422** naming each field. The read models are brought up to date before the answer,
    so a `GET` of `href` straight after shows the write."""
    app = _guardian(request)
    record = row.model_dump(exclude_none=True)
    allowed = practices_of(request, principal)
    entry = audit_entry(request, principal, "submit-referral")

    def describe(outcome, report) -> None:  # before the write: the entry commits with it
        entry.update(provider=report.provider, pathway_id=report.pathway_id,
                     patient_id=outcome.patient_id.hex if outcome.patient_id else None,
                     detail=outcome.result)

    try:
        # validated whole first, then scope: which error comes back reveals nothing about
        # pathways outside it (docs/access.md, "By pathway")
        with app.audited(entry) as pending:
            submission = submit_referral(app, record, allowed, app.today(),
                                         scope=None if principal.is_admin else allowed,
                                         on_decided=describe)
            if submission.result == "rejected":
                pending.clear()  # audited below, with its reasons
    except ConcurrentChange:
        return JSONResponse({"detail": "this patient was changed by someone else at the same "
                             "time; send the referral again"}, status_code=409)
    except DomainError as e:  # a rule of the aggregate refused the change
        field_name = (e.field or "").lower()
        raise invalid(("body", field_name) if field_name else ("body",), e.message) from None
    if submission.outside_scope:
        record_access(request, principal, "denied-patient",
                      detail="submit-referral: the pathway is registered outside your scope")
    if submission.result == "rejected":
        record_access(request, principal, "submit-referral",
                      detail="rejected: " + ", ".join(sorted(submission.errors)))
        raise RequestValidationError([
            {"loc": ("body",) if name == "record" else ("body", name), "msg": message,
             "type": "value_error"}
            for name, message in submission.errors.items()
        ])
    provider, pathway_id = submission.provider or "", submission.pathway_id or ""
    if submission.result != "unchanged":
        _catch_up(request)
    body = ReferralWritten(result=submission.result, provider=provider,  # type: ignore[arg-type]
                           pathway_id=pathway_id, href=_referral_href(provider, pathway_id))
    headers = {"Location": body.href} if submission.result == "created" else None
    return JSONResponse(body.model_dump(), status_code=submission.status_code, headers=headers)


# ---------------------------------------------------------------------------- status


class PatientDetails(BaseModel):
    patient_id: str = Field(description="Guardian's patient id (hex)")
    nhs_number: str
    given_name: str | None
    family_name: str | None
    birth_date: dt.date


class Deadline(BaseModel):
    standard: str
    label: str
    subject: str
    last_day_within: dt.date
    breach_on: dt.date
    state: str
    days_left: int | None
    text: str
    plain: str | None = Field(None, description="The deadline in a sentence for GPs")


class Breach(BaseModel):
    standard: str
    label: str
    subject: str
    breach_on: dt.date


class OutstandingItem(BaseModel):
    what: str
    owner: str = Field(description="practice, patient, hospital or guardian")
    owner_label: str
    since: dt.date
    overdue: bool


class ExpectedWaitOut(BaseModel):
    provider: str
    treatment_function: str
    priority: int | None = Field(description="None: the basis is every priority")
    as_of: dt.date
    sample: int
    median_weeks: float | None
    p92_weeks: float | None
    window_weeks: int
    known: bool
    basis: str
    summary: str


class HistoryEntry(BaseModel):
    on: dt.date
    text: str
    by: str


class WorkupOut(BaseModel):
    item_id: str
    description: str
    requested_from: str
    required_on: dt.date
    completed_on: dt.date | None
    completed_by: str | None


class DiagnosticOut(BaseModel):
    test_id: str
    test: str
    test_name: str
    ordered_on: dt.date
    resulted_on: dt.date | None
    result: str | None


class ReferralView(BaseModel):
    as_of: dt.date
    patient: PatientDetails
    provider: str
    pathway_id: str
    treatment_function: str
    treatment_function_name: str
    priority: int
    priority_label: str
    practice_code: str
    pcn_code: str | None
    stage: str = Field(description="One of the stages of docs/rules.md §9")
    stage_label: str
    summary: str
    received_on: dt.date
    clock_start: dt.date | None
    waited_days: int
    waited_weeks: int
    deadlines: list[Deadline]
    breaches: list[Breach]
    outstanding: list[OutstandingItem]
    workup: list[WorkupOut]
    diagnostics: list[DiagnosticOut]
    guardian_actions: list[str]
    expected_wait: ExpectedWaitOut | None
    history: list[HistoryEntry]


def _candidates(app, pathway_id: str, provider: str | None) -> list[tuple[str, UUID]]:
    t = pathway_index
    q = select(t.c.provider, t.c.patient_id).where(t.c.pathway_id == pathway_id)
    if provider is not None:
        q = q.where(t.c.provider == provider)
    with app.engine.connect() as conn:
        return [(p, UUID(pid)) for p, pid in conn.execute(q.order_by(t.c.provider))]


def _orgs_of(app, practices: set[str]) -> dict[str, tuple[str, str]]:
    o = organisations
    q = select(o.c.practice_code, o.c.pcn_code, o.c.place).where(
        o.c.practice_code.in_(sorted(practices)))
    with app.engine.connect() as conn:
        return {code: (pcn, place) for code, pcn, place in conn.execute(q)}


@router.get(
    "/referrals/{pathway_id:path}",
    summary="A referral's status: stage, waits, deadlines, outstanding work, history",
    response_model=ReferralView,
    responses=_responses(409, 422),
)
def get_referral(
    request: Request,
    response: Response,
    principal: PatientReader,
    pathway_id: Annotated[str, Path(description="The provider's pathway id")],
    provider: Annotated[str | None, Query(
        description="The provider's ODS code: needed when two providers in your scope "
                    "use the same pathway id")] = None,
) -> ReferralView:
    """For coordinators (their PCNs), GPs (their practice) and admins. A pathway outside
    your scope is 404, as is one that does not exist; a place lead always gets 404."""
    app = _guardian(request)
    pathway_id = pathway_id.strip()
    if not pathway_id or len(pathway_id) > 64 or not pathway_id.isprintable():
        raise _not_found()  # no pathway id is like that (the importer's rule)
    code = None
    if provider is not None and provider.strip():
        try:
            code = normalise_provider_code(provider)
        except InvalidValue as e:
            raise invalid(("query", "provider"), e.message) from None
    found = _candidates(app, pathway_id, code)
    if not found:
        raise _not_found()
    patients = app.load_patients({pid for _, pid in found})
    pathways = []
    for prov, pid in found:
        patient = patients.get(pid)
        if patient is not None and (prov, pathway_id) in patient.pathways:
            pathways.append((patient, patient.pathways[(prov, pathway_id)]))
    orgs = _orgs_of(app, {p.practice_code for _, p in pathways})
    visible = [(patient, p) for patient, p in pathways
               if visible_pathways(principal, [p], orgs)]
    if not visible:
        if not pathways:
            raise _not_found()
        deny_patient(request, principal, pathways[0][0].id.hex,
                     detail=f"referral {pathway_id}")
    if len(visible) > 1:
        providers = [p.provider for _, p in visible]
        return JSONResponse(  # type: ignore[return-value]
            {"detail": f"pathway id {pathway_id!r} is used by {len(providers)} providers: "
                       "add ?provider=CODE", "providers": providers},
            status_code=409,
        )
    patient, p = visible[0]
    on = app.today()
    # what goes with the pathways this user may see of the patient (docs/access.md)
    view = view_of(patient, visible_pathways(principal, patient.pathways.values(),
                                             _orgs_of(app, {q.practice_code for q in
                                                            patient.pathways.values()})))
    events = list(app.events.get(patient.id))
    with app.engine.connect() as conn:
        status = referral_status(patient, p.provider, p.pathway_id, on, events, conn,
                                 table=app.settings.standards, whole=view.whole)
    record_access(request, principal, "view-referral", patient_id=patient.id.hex,
                  provider=p.provider, pathway_id=p.pathway_id)
    response.headers["Cache-Control"] = NO_STORE
    return ReferralView(
        as_of=on,
        patient=PatientDetails(patient_id=patient.id.hex, nhs_number=patient.nhs_number,
                               given_name=view.given_name, family_name=view.family_name,
                               birth_date=view.birth_date),
        pcn_code=orgs.get(p.practice_code, (None, None))[0],
        workup=[WorkupOut(item_id=w.item_id, description=w.description,
                          requested_from=w.requested_from, required_on=w.required_on,
                          completed_on=w.completed_on, completed_by=w.completed_by)
                for w in p.workup.values()],
        diagnostics=[DiagnosticOut(test_id=d.test_id, test=d.test,
                                   test_name=DIAGNOSTIC_TESTS.get(d.test, d.test),
                                   ordered_on=d.ordered_on, resulted_on=d.resulted_on,
                                   result=d.result)
                     for d in p.diagnostics.values()],
        **status.as_dict(),
    )


# ---------------------------------------------------------------------------- worklists

FilterName = Literal[wl.FILTERS]  # type: ignore[valid-type]
SortName = Literal[wl.SORTS]  # type: ignore[valid-type]
StageName = Literal[standards.STAGES]  # type: ignore[valid-type]


class WorklistRow(BaseModel):
    model_config = ConfigDict(extra="ignore")

    provider: str
    pathway_id: str
    patient_id: str
    nhs_number: str
    given_name: str | None
    family_name: str | None
    birth_date: dt.date
    practice_code: str
    pcn_code: str | None
    place: str | None
    treatment_function: str
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
    try:
        return cursor.decode(sort, after)
    except cursor.BadCursor as e:
        raise invalid(("query", "after"), e.message) from None


def _pcn_known(app, pcn: str) -> bool:
    q = select(organisations.c.pcn_code).where(organisations.c.pcn_code == pcn).limit(1)
    with app.engine.connect() as conn:
        return conn.execute(q).first() is not None


def _attributes(practice: str | None, provider: str | None, treatment_function: str | None,
                priority: int | None, stage: str | None) -> dict[str, str | int]:
    attrs: dict[str, str | int] = {}
    if practice and practice.strip():
        try:
            attrs["practice_code"] = normalise_practice_code(practice)
        except InvalidValue as e:
            raise invalid(("query", "practice"), e.message) from None
    if provider and provider.strip():
        try:
            attrs["provider"] = normalise_provider_code(provider)
        except InvalidValue as e:
            raise invalid(("query", "provider"), e.message) from None
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


def _row_out(row: dict[str, Any], on: dt.date) -> WorklistRow:
    breach, risk = row["next_breach_on"], row["next_at_risk_from"]
    return WorklistRow(
        **row,
        days_waiting=(on - row["wait_from"]).days,
        breached=standards.breached_when(breach, on),
        at_risk=standards.at_risk_when(risk, breach, on),
    )


@router.get(
    "/worklists/{pcn_code}",
    summary="A PCN's worklist: filtered, sorted, keyset-paged, with counts per filter",
    response_model=WorklistPage,
    responses=_responses(422),
)
def get_worklist(
    request: Request,
    response: Response,
    principal: PatientReader,
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
) -> WorklistPage:
    """Coordinators (their PCNs) and admins; anyone else, and a PCN outside your scope,
    gets 404. Rows are the open pathways of patients registered at the PCN's practices;
    `next` pages on (sort key, provider, pathway id), so rows never repeat or go missing
    between pages while nothing changes."""
    app = _guardian(request)
    pcn = pcn_code.strip().upper()
    if (len(pcn) > 8 or not pcn.isprintable() or not may_see_pcn(principal, pcn)
            or not _pcn_known(app, pcn)):
        raise _not_found()
    attrs = _attributes(practice, provider, treatment_function, priority, stage)
    position = _position(sort, after) if after else None
    scope = scope_for(principal)
    on = app.today()
    chosen = list(dict.fromkeys(filters))
    with app.engine.connect() as conn:
        rows = wl.page(conn, scope, pcn, on, chosen, sort, position, limit + 1, attrs)
        counts = wl.counts(conn, scope, pcn, on, attrs)
    more = len(rows) > limit
    rows = rows[:limit]
    record_access(request, principal, "view-worklist",
                  detail=" ".join([f"pcn={pcn}", *(f"filter={f}" for f in chosen),
                                   *(f"{k}={v}" for k, v in attrs.items()),
                                   f"rows={len(rows)}"]))
    response.headers["Cache-Control"] = NO_STORE
    return WorklistPage(
        pcn_code=pcn, as_of=on, filters=chosen, sort=sort, attributes=attrs, limit=limit,
        rows=[_row_out(r, on) for r in rows], counts=counts,
        next=cursor.encode(sort, rows[-1]) if more else None,
    )


# ---------------------------------------------------------------------------- reports


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
    responses=_responses(422, 503),
)
async def get_bottlenecks(
    request: Request,
    principal: PlaceLeadOrAdmin,
    place: Annotated[str | None, Query(
        description="The place; a place lead's own place when left out (required for "
                    "admins)")] = None,
    as_of: Annotated[dt.date | None, Query(description="YYYY-MM-DD; default today")] = None,
) -> BottleneckReport:
    """Place leads (their own place only) and admins; anyone else, another place, or a
    place Guardian does not know, gets 404. No patient-level data, ever. Computed on the
    report pool, never on a request thread (guardian/web/report_pool.py): 503 with
    Retry-After while it is being prepared."""
    canonical, on, head = await run_in_threadpool(_report_request, request, principal, place,
                                                  as_of)
    try:
        data = await reports.cached(
            request, "api-bottlenecks", reports.Params(place=canonical, as_of=on), head,
            reports.bottleneck_report, canonical, on)
    except (ReportBusy, ReportTooSlow) as e:
        status, headers, message = reports.not_ready(e)
        return JSONResponse({"detail": message}, status_code=status, headers=headers)
    await run_in_threadpool(record_access, request, principal, "view-report",
                            detail=f"bottlenecks place={canonical} as_of={on.isoformat()}")
    return BottleneckReport(**data)


def _report_request(request: Request, principal: Principal, place: str | None,
                    as_of: dt.date | None) -> tuple[str, dt.date, int]:
    """The place (as Guardian spells it) and date a report may be made for, and the event
    store's head; 404 or 422 otherwise."""
    app = _guardian(request)
    on = as_of or app.today()
    problem = as_of_problem(on, app.today())  # the report page's range (guardian/web/reports.py)
    if problem:
        raise invalid(("query", "as_of"), problem)
    wanted = (place or "").strip()
    if not wanted:
        if principal.role != "place-lead" or not principal.place:
            raise invalid(("query", "place"), "name the place the report is for")
        wanted = principal.place
    known = set(org_places(app.engine))
    with app.engine.connect() as conn:
        known |= set(bn.places(conn))
        canonical = {k.casefold(): k for k in known}.get(wanted.casefold())
        if canonical is None or not may_see_place(principal, canonical):
            raise _not_found()
        return canonical, on, reports.TableCache.head(conn)
