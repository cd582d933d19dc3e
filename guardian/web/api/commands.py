"""The JSON API's commands (docs/api.md "Commands"): every action of the patient page as
`POST /api/v1/patients/{patient_id}/pathways/{provider}/{pathway_id}/{action}`, one route
per row of the actions table (guardian/web/routes/actions.py) with its own request model
(`command_models`), taken by the page's own `take` — the same roles, scope, parser, command
and audit entry; and the patient's contact preference and the worklist's bulk assign, by
the pages' own functions too.

A command answers 200, or 201 when it recorded something new (its id in `recorded`), with
the patient's new `version`; 404 out of scope or unknown, exactly like the pages (audited
as `denied-patient`); 409 when `expected_version` is not the patient's version (or someone
wrote at the same moment); 422 naming the field (`["body", field]`).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Depends, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from guardian.application import ConcurrentChange
from guardian.domain.errors import DomainError
from guardian.web.access import PatientReader, Principal, require_role
from guardian.web.api.answers import NO_STORE, after_write, invalid, writes
from guardian.web.api.command_models import (
    MODELS,
    ActionDone,
    Assigned,
    BulkAssign,
    ContactPreference,
    PreferenceRecorded,
    as_form,
)
from guardian.web.bulk_assign import assign_many
from guardian.web.deps import AppDep, CatchUpDep, ConnDep, ScopeDep
from guardian.web.names import NamesDep
from guardian.web.routes.actions import ACTIONS, Action, take
from guardian.web.routes.patient import Stale, in_words, set_contact_preference

router = APIRouter()
Staff = Annotated[Principal, Depends(require_role("coordinator", "admin"))]

PatientId = Annotated[str, Path(description="The patient's id (32 hex digits)")]
Provider = Annotated[str, Path(description="The provider's ODS code")]
PathwayId = Annotated[str, Path(description="The provider's pathway id")]


def conflict(detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=409)


def _refused(error: DomainError, fields: set[str]) -> Exception:
    """A command's refusal as a 422 naming the body field at fault (else the body)."""
    name = error.field if error.field in fields else None
    return invalid(("body", name) if name else ("body",), in_words(error))


def _route(action: Action) -> None:
    model = MODELS[action.name]
    status = 201 if action.makes else 200
    who = "coordinators, GPs and admins" if "gp" in action.roles else "coordinators and admins"

    def command(request: Request, principal: PatientReader, app: AppDep,
                catch_up: CatchUpDep, names: NamesDep, patient_id: PatientId,
                provider: Provider, pathway_id: PathwayId,
                body: BaseModel) -> Any:
        form = as_form(body)
        form["referral" if action.on == "referral" else "pathway"] = f"{provider}|{pathway_id}"
        expected = body.expected_version  # type: ignore[attr-defined]
        try:
            done = take(request, app, principal, action, patient_id, form,
                        None if expected is None else str(expected))
        except (Stale, ConcurrentChange) as e:
            return conflict(str(e))
        except DomainError as e:
            raise _refused(e, set(model.model_fields)) from None
        after_write(catch_up)
        now = app.get_patient(done.patient.id)
        pathway = now.pathways[(provider, pathway_id)]
        answer = ActionDone(
            action=action.name, patient_id=done.patient.id.hex, provider=provider,
            provider_name=names.provider(provider), pathway_id=pathway_id,
            version=now.version, open=pathway.is_open, coordinator=pathway.coordinator,
            coordinator_name=names.person(pathway.coordinator) if pathway.coordinator else None,
            recorded={action.makes: done.made[0]} if action.makes and done.made else {},
            href=f"/api/v1/referrals/{quote(pathway_id, safe='')}?provider={provider}")
        return JSONResponse(answer.model_dump(), status_code=status,
                            headers={"Cache-Control": NO_STORE})

    command.__name__ = action.name.replace("-", "_")
    command.__annotations__["body"] = Annotated[model, Body()]  # this action's own model
    router.post(
        f"/patients/{{patient_id}}/pathways/{{provider}}/{{pathway_id:path}}/{action.name}",
        summary=f"{action.name}: the patient page's action, for {who}",
        description=(model.__doc__ or "") + " Audited as the page's action is.",
        status_code=status, response_model=ActionDone, responses=writes("stale"),
        operation_id=f"action_{command.__name__}",
    )(command)


for _action in ACTIONS.values():
    _route(_action)


@router.post(
    "/patients/{patient_id}/contact-preference",
    summary="How Guardian writes to the patient (coordinators and admins)",
    response_model=PreferenceRecorded, responses=writes("stale"),
)
def contact_preference(request: Request, principal: PatientReader, app: AppDep,
                       catch_up: CatchUpDep, patient_id: PatientId,
                       body: Annotated[ContactPreference, Body()]) -> Any:
    """The page's "How to contact the patient". `email` without an address on record is
    422 naming `preference`."""
    try:
        patient = set_contact_preference(request, app, principal, patient_id,
                                         body.preference, body.expected_version)
    except (Stale, ConcurrentChange) as e:
        return conflict(str(e))
    except DomainError as e:
        raise _refused(e, {"preference"}) from None
    after_write(catch_up)
    return JSONResponse(PreferenceRecorded(
        patient_id=patient.id.hex, preference=body.preference,
        version=app.get_patient(patient.id).version).model_dump(),
        headers={"Cache-Control": NO_STORE})


@router.post(
    "/worklist/assign",
    summary="Assign pathways to a care coordinator (coordinators and admins)",
    response_model=Assigned, responses=writes(),
)
def bulk_assign(request: Request, principal: Staff, app: AppDep, connect: ConnDep,
                scope: ScopeDep, catch_up: CatchUpDep, names: NamesDep,
                body: Annotated[BulkAssign, Body()]) -> Assigned:
    """The worklist's "Assign selected": every pathway must be in your worklist scope
    (else 404, nothing assigned); the coordinator must work for every pathway's PCN
    (else 422 naming `coordinator`)."""
    keys = [(p.provider, p.pathway_id, p.patient_id) for p in body.pathways]
    problem, target = assign_many(request, app, principal, scope, connect, keys,
                                  body.coordinator.strip())
    if problem == "assign-none":
        raise invalid(("body", "pathways"), "choose at least one pathway")
    if problem is not None or target is None:
        raise invalid(("body", "coordinator"), "not a care coordinator of every pathway's "
                      "PCN" if problem == "assign-outside" else "no such care coordinator")
    after_write(catch_up)
    return Assigned(assigned=len(keys), coordinator=target.email,
                    coordinator_name=names.person(target.email))

