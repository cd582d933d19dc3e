"""`GET /fhir/R4/metadata` (docs/fhir.md "Capability statement"): the CapabilityStatement of
exactly what this server implements, built from the same table the docs list. Anyone may
read it (it holds no patient data), as FHIR servers' capability statements are.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from guardian.web.fhir import ids
from guardian.web.fhir.outcome import FHIR_JSON, documented, fhir_json, fhir_router

router = fhir_router(limited=False)  # public: no credentials to count against

PUBLISHED = "2026-12-05"  # when this statement last changed

# resource type → (interactions, search parameters as (name, type, what it matches))
IMPLEMENTED: dict[str, tuple[tuple[str, ...], tuple[tuple[str, str, str], ...]]] = {
    "ServiceRequest": (("read", "search-type", "create"), (
        ("patient.identifier", "token", f"The patient's NHS number ({ids.NHS_NUMBER}|…)"),
        ("identifier", "token", f"An NHS number, a UBRN ({ids.UBRN}|…) or a pathway id "
                                f"({ids.PATHWAY_SYSTEM}{{ODS code}}|…)"),
    )),
    "Task": (("read", "search-type"), (
        ("based-on", "reference", "The referral: ServiceRequest/{id}"),
    )),
    "Flag": (("read", "search-type"), (
        ("patient.identifier", "token", f"The patient's NHS number ({ids.NHS_NUMBER}|…)"),
    )),
    "Communication": (("read", "search-type"), (
        ("based-on", "reference", "The referral: ServiceRequest/{id}"),
        ("part-of", "reference", "The referral: ServiceRequest/{id} (as based-on)"),
    )),
    "CarePlan": (("read", "search-type"), (
        ("based-on", "reference", "The referral: ServiceRequest/{id}"),
    )),
}


def statement(base: str) -> dict[str, Any]:
    resources = []
    for kind, (interactions, params) in IMPLEMENTED.items():
        entry: dict[str, Any] = {
            "type": kind,
            "interaction": [{"code": code} for code in interactions],
            "searchParam": [{"name": name, "type": type_, "documentation": what}
                            for name, type_, what in params],
        }
        if kind in ids.PROFILES:
            entry["supportedProfile"] = [ids.PROFILES[kind]]
        resources.append(entry)
    return {
        "resourceType": "CapabilityStatement", "status": "active", "date": PUBLISHED,
        "publisher": "Guardian", "kind": "instance",
        "software": {"name": "Guardian"},
        "implementation": {"description": "Guardian: referrals waiting to be seen, their "
                                          "workup, tests, deteriorations and messages",
                           "url": base},
        "fhirVersion": "4.0.1", "format": [FHIR_JSON, "application/json"],
        "rest": [{
            "mode": "server",
            "security": {"description": "Authorization: Bearer <token> (guardian users "
                                        "token) or a Guardian session; the scopes of the "
                                        "JSON API (docs/access.md)"},
            "resource": resources,
        }],
    }


@router.get("/metadata", summary="The CapabilityStatement: what this server implements",
            responses=documented(200, "The CapabilityStatement"))
def metadata(request: Request) -> Response:
    """Public: the resources, interactions and search parameters served, nothing more."""
    return fhir_json(statement(f"{str(request.base_url).rstrip('/')}/fhir/R4"), store=True)
