"""The referral routes of the JSON API (docs/api.md): `POST /api/v1/referrals` records one
row of the waiting-list extract by the importer's rules, and `GET /api/v1/referrals/
{pathway_id}` answers a referral's status, each within the caller's scope (coordinators
their PCNs' practices, GPs their practice, admins all) and audited. The shapes are in
`referral_models`; each provider, practice, PCN and treatment function code comes with its
name beside it.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from guardian.application import ConcurrentChange
from guardian.domain import codes
from guardian.domain.codes import DIAGNOSTIC_TESTS
from guardian.domain.errors import DomainError
from guardian.domain.identifiers import normalise_provider_code
from guardian.domain.pathway import CarePlan, Pathway
from guardian.domain.visibility import view_of
from guardian.ingest.referral_api import submit_referral
from guardian.projections import org_queries, pathway_queries
from guardian.projections.name_queries import Names
from guardian.projections.status import ReferralStatus, referral_status
from guardian.web.access import (
    PatientReader,
    Principal,
    audit_entry,
    deny_patient,
    record_access,
    require_role,
    visible_pathways,
)
from guardian.web.api.answers import (
    NO_STORE,
    Problem,
    after_write,
    code_parameter,
    invalid,
    not_found,
    responses,
    writes,
)
from guardian.web.api.referral_models import (
    CarePlanOut,
    DiagnosticOut,
    PatientDetails,
    ReferralRow,
    ReferralView,
    ReferralWritten,
    WorkupOut,
)
from guardian.web.deps import AppDep, CatchUpDep, ConnDep
from guardian.web.names import NamesDep

router = APIRouter()

CoordinatorOrAdmin = Annotated[Principal, Depends(require_role("coordinator", "admin"))]


def _referral_href(provider: str, pathway_id: str) -> str:
    return f"/api/v1/referrals/{quote(pathway_id, safe='')}?provider={provider}"


@router.post(
    "/referrals",
    summary="Record one referral (the waiting-list row shape), as of today",
    status_code=201,
    response_model=ReferralWritten,
    responses={
        **writes(),
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
    app: AppDep,
    connect: ConnDep,
    catch_up: CatchUpDep,
    names: NamesDep,
) -> JSONResponse:
    """The same rules as a row of `guardian import-ptl`: a new pathway is **201 created**;
    a known one answers **200** with `result` `updated` (one event per changed fact) or
    `unchanged` (nothing written). Bad values, and a practice outside your scope, are
    **422** naming each field. The read models are brought up to date before the answer,
    so a `GET` of `href` straight after shows the write."""
    record = row.model_dump(exclude_none=True)
    with connect() as conn:  # the practices a coordinator may record referrals for
        allowed = org_queries.practices_in(conn, principal.pcns)
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
        after_write(catch_up)
    body = ReferralWritten(result=submission.result, provider=provider,  # type: ignore[arg-type]
                           provider_name=names.provider(provider), pathway_id=pathway_id,
                           href=_referral_href(provider, pathway_id))
    headers = {"Location": body.href} if submission.result == "created" else None
    return JSONResponse(body.model_dump(), status_code=submission.status_code, headers=headers)


@router.get(
    "/referrals/{pathway_id:path}",
    summary="A referral's status: stage, waits, deadlines, outstanding work, history",
    response_model=ReferralView,
    responses=responses(409, 422),
)
def get_referral(
    request: Request,
    response: Response,
    principal: PatientReader,
    app: AppDep,
    connect: ConnDep,
    names: NamesDep,
    pathway_id: Annotated[str, Path(description="The provider's pathway id")],
    provider: Annotated[str | None, Query(
        description="The provider's ODS code: needed when two providers in your scope "
                    "use the same pathway id")] = None,
) -> ReferralView:
    """For coordinators (their PCNs), GPs (their practice) and admins. A pathway outside
    your scope is 404, as is one that does not exist; a place lead always gets 404."""
    pathway_id = pathway_id.strip()
    if not pathway_id or len(pathway_id) > 64 or not pathway_id.isprintable():
        raise not_found()  # no pathway id is like that (the importer's rule)
    code = code_parameter("provider", provider, normalise_provider_code)
    with connect() as conn:
        found = pathway_queries.holders(conn, pathway_id, code)
    if not found:
        raise not_found()
    patients = app.load_patients({pid for _, pid in found})
    pathways = []
    for prov, pid in found:
        patient = patients.get(pid)
        if patient is not None and (prov, pathway_id) in patient.pathways:
            pathways.append((patient, patient.pathways[(prov, pathway_id)]))
    with connect() as conn:
        orgs = org_queries.orgs_of(conn, {p.practice_code for _, p in pathways})
    visible = [(patient, p) for patient, p in pathways
               if visible_pathways(principal, [p], orgs)]
    if not visible:
        if not pathways:
            raise not_found()
        deny_patient(request, principal, pathways[0][0].id.hex,
                     detail=f"referral {pathway_id}")
    if len(visible) > 1:
        providers = [p.provider for _, p in visible]
        return JSONResponse(  # type: ignore[return-value]
            {"detail": f"pathway id {pathway_id!r} is used by {len(providers)} providers: "
                       "add ?provider=CODE", "providers": providers,
             "provider_names": {code: names.provider(code) for code in providers}},
            status_code=409,
        )
    patient, p = visible[0]
    pcn = orgs.get(p.practice_code, (None, None))[0]
    on = app.today()
    events = list(app.events.get(patient.id))
    with connect() as conn:
        # what goes with the pathways this user may see of the patient (docs/access.md)
        everywhere = org_queries.orgs_of(conn, {q.practice_code
                                                for q in patient.pathways.values()})
        view = view_of(patient, visible_pathways(principal, patient.pathways.values(),
                                                 everywhere))
        status = referral_status(patient, p.provider, p.pathway_id, on, events, conn,
                                 table=app.settings.standards, whole=view.whole, names=names)
    record_access(request, principal, "view-referral", patient_id=patient.id.hex,
                  provider=p.provider, pathway_id=p.pathway_id)
    response.headers["Cache-Control"] = NO_STORE
    return ReferralView(
        as_of=on,
        patient=PatientDetails(patient_id=patient.id.hex, nhs_number=patient.nhs_number,
                               given_name=view.given_name, family_name=view.family_name,
                               birth_date=view.birth_date),
        **pathway_fields(p, status, pcn, names),
    )


def pathway_fields(p: Pathway, status: ReferralStatus, pcn: str | None,
                   names: Names) -> dict[str, Any]:
    """A pathway's status in the API's shape (`ReferralPathway`), with names beside codes:
    the referral's and each pathway of the patient's (guardian/web/api/patient_record.py)."""
    return dict(
        pcn_code=pcn, pcn_name=names.pcn(pcn) if pcn else None,
        workup=[WorkupOut(item_id=w.item_id, description=w.description,
                          requested_from=w.requested_from, required_on=w.required_on,
                          completed_on=w.completed_on, completed_by=w.completed_by)
                for w in p.workup.values()],
        diagnostics=[DiagnosticOut(test_id=d.test_id, test=d.test,
                                   test_name=DIAGNOSTIC_TESTS.get(d.test, d.test),
                                   ordered_on=d.ordered_on, resulted_on=d.resulted_on,
                                   result=d.result)
                     for d in p.diagnostics.values()],
        care_plan=care_plan_out(p.care_plan),
        **status.as_dict(),
    )


def care_plan_out(plan: CarePlan | None) -> CarePlanOut | None:
    if plan is None:
        return None
    return CarePlanOut(agreed_on=plan.agreed_on, agreed_by=plan.by,
                       self_care=list(plan.self_care),
                       self_care_names=[codes.label(codes.SELF_CARE, c) for c in plan.self_care],
                       call_if_worse=plan.call_if_worse,
                       call_if_worse_name=codes.label(codes.CALL_IF_WORSE, plan.call_if_worse),
                       note=plan.note)
