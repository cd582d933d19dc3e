"""Finding what a FHIR request names, within the caller's scope (docs/fhir.md "Access"):
a pathway by its ServiceRequest id, a Task, Flag or Communication by its id, and the
pathways of a patient by NHS number, UBRN or pathway id.

Scope is guardian/web/access.py's and nothing else: `visible_pathways` says which of a
patient's pathways the caller may see, `guardian.domain.visibility` what goes with them.
An id that names nothing and one outside the scope answer the same 404; the second is
audited (`denied-patient`), as the JSON API does. Every resource shown is audited by the
route (`audit_view`), `view-referral` as `GET /api/v1/referrals/{pathway_id}` is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from fastapi import Request

from guardian.domain.pathway import Pathway, PathwayKey
from guardian.domain.visibility import PatientView, view_of
from guardian.projections import org_queries, pathway_queries
from guardian.projections.search_queries import find
from guardian.projections.search_terms import Terms
from guardian.web.access import Principal, deny_patient, record_access, visible_pathways
from guardian.web.fhir import ids, resources
from guardian.web.fhir.outcome import not_found


@dataclass(frozen=True)
class Seen:
    """One patient as the caller sees them: the pathways they may see and what goes with
    those (`view`)."""

    patient: Any
    visible: tuple[PathwayKey, ...]
    view: PatientView

    def pathways(self) -> list[Pathway]:
        return [self.patient.pathways[k] for k in self.visible]


def seen(connect: Any, principal: Principal, patient: Any) -> Seen:
    """What of `patient` the caller may see (maybe nothing)."""
    with connect() as conn:
        orgs = org_queries.orgs_of(conn, {p.practice_code for p in patient.pathways.values()})
    visible = tuple(visible_pathways(principal, patient.pathways.values(), orgs))
    return Seen(patient, visible, view_of(patient, visible))


def _patient(app: Any, patient_id: UUID) -> Any:
    patient = app.load_patients({patient_id}).get(patient_id)
    if patient is None:
        raise not_found()
    return patient


def pathway_of(request: Request, principal: Principal, app: Any, connect: Any,
               sr_id: str) -> tuple[Seen, Pathway]:
    """The pathway a ServiceRequest id names, if the caller may see it (else 404)."""
    parsed = ids.parse_service_request_id(sr_id)
    if parsed is None:
        raise not_found()
    patient_id, provider, digest = parsed
    patient = _patient(app, patient_id)
    pathway = next((p for p in patient.pathways.values() if p.provider == provider
                    and ids.pathway_digest(p.pathway_id) == digest), None)
    if pathway is None:
        raise not_found()
    found = seen(connect, principal, patient)
    if pathway.key not in found.visible:
        deny_patient(request, principal, patient.id.hex,
                     detail=f"FHIR ServiceRequest {pathway.pathway_id}")
    return found, pathway


# The resources kept under a pathway, by type: each pathway's, built by these.
BY_PATHWAY = {"Task": resources.tasks, "Communication": resources.communications,
              "CarePlan": resources.care_plans}


def records(found: Seen, names: Any, kind: str) -> list[tuple[dict[str, Any], Pathway | None]]:
    """The resources of `kind` (Task, Flag, Communication or CarePlan) the caller may see
    of the patient, each with its pathway (a Flag's may be None: patient-wide)."""
    patient = found.patient
    if kind == "Flag":
        return [(resources.flag(patient, f),
                 patient.pathways.get(f.pathway) if f.pathway else None)
                for f in found.view.flags]
    build = BY_PATHWAY[kind]
    return [(r, p) for p in found.pathways() for r in build(patient, p, names)]


def record_of(request: Request, principal: Principal, app: Any, connect: Any, names: Any,
              kind: str, logical_id: str) -> tuple[dict[str, Any], Any, Pathway | None]:
    """The Task, Flag, Communication or CarePlan with this id, if the caller may see it
    (else 404)."""
    parsed = ids.parse_record_id(logical_id)
    if parsed is None:
        raise not_found()
    patient = _patient(app, parsed[0])
    found = seen(connect, principal, patient)
    for resource, pathway in records(found, names, kind):
        if resource["id"] == logical_id:
            return resource, patient, pathway
    everything = Seen(patient, tuple(patient.pathways), view_of(patient, patient.pathways))
    if any(r["id"] == logical_id for r, _ in records(everything, names, kind)):
        deny_patient(request, principal, patient.id.hex, detail=f"FHIR {kind}")
    raise not_found()


def audit_view(request: Request, principal: Principal, patient: Any,
               pathway: Pathway | None, what: str) -> None:
    """One `view-referral` entry for a FHIR resource shown (`what`: its type and id)."""
    record_access(request, principal, "view-referral", patient_id=patient.id.hex,
                  provider=pathway.provider if pathway else None,
                  pathway_id=pathway.pathway_id if pathway else None, detail=f"FHIR {what}")


def _practices(connect: Any, principal: Principal) -> frozenset[str] | None:
    """The practices whose pathways the caller may see (None: every one, for an admin)."""
    if principal.is_admin:
        return None
    if principal.role == "gp":
        return frozenset({principal.practice} if principal.practice else ())
    with connect() as conn:
        return org_queries.practices_in(conn, principal.pcns or ())


def patients_by(app: Any, connect: Any, principal: Principal, terms: Terms) -> list[Seen]:
    """The patients with a pathway in the caller's scope matching `terms` (an NHS number,
    a UBRN or a pathway id), each as the caller sees them."""
    practices = _practices(connect, principal)
    with connect() as conn:
        ids_found = [UUID(f.patient_id) for f in find(conn, terms, practices).patients]
    loaded = app.load_patients(ids_found)
    return [seen(connect, principal, loaded[i]) for i in ids_found if i in loaded]


def patient_of_pathway(app: Any, connect: Any, provider: str, pathway_id: str) -> Any:
    """The patient holding this pathway (after a write), or None."""
    with connect() as conn:
        found = pathway_queries.holders(conn, pathway_id, provider)
    if not found:
        return None
    return app.load_patients({found[0][1]}).get(found[0][1])
