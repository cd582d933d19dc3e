"""Assigning many pathways to one care coordinator at once (docs/access.md): the worklist
page's `POST /worklist/assign` (guardian/web/routes/worklist.py) and the JSON API's
`POST /api/v1/worklist/assign` (guardian/web/api/commands.py) both call `assign_many`.

Every pathway must be in the caller's worklist scope and belong to the patient named with
it, else 404 (audited as `denied-patient`, nothing assigned). The coordinator must be a
care coordinator of the PCN of every pathway. Each assignment is audited with its action
(`assign-coordinator`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from fastapi import HTTPException, Request

from guardian import users
from guardian.application import GuardianApp
from guardian.projections import worklist_queries
from guardian.projections.worklist import Scope
from guardian.web import access
from guardian.web.access import Principal

Key = tuple[str, str, str]  # provider, pathway id, patient id (hex)


def parse_key(key: str) -> Key:
    """A worklist checkbox's value, "provider|pathway id|patient id"."""
    provider, _, rest = key.partition("|")
    pathway_id, _, patient_hex = rest.partition("|")
    return provider, pathway_id, patient_hex


def assign_many(request: Request, app: GuardianApp, principal: Principal, scope: Scope,
                connect: Callable[[], Any], keys: list[Key], coordinator: str
                ) -> tuple[str | None, users.User | None]:
    """Assign the pathways `keys` to `coordinator`; the reason it cannot be done as asked
    ("assign-none": no pathway, "assign-nobody": no such care coordinator,
    "assign-outside": not one of every pathway's PCN) or None, and the coordinator."""
    target = users.find_user(app.engine, coordinator) if coordinator else None
    problem = None
    if not keys:
        problem = "assign-none"
    elif target is None or target.role != "coordinator":
        problem = "assign-nobody"
    with connect() as conn:
        rows = worklist_queries.pathways_of(conn, {k[2] for k in keys})
    for provider, pathway_id, patient_hex in keys:
        row = rows.get((provider, pathway_id))
        if row is None or row.patient_id != patient_hex or not scope.allows(row.pcn_code):
            access.record_access(request, principal, "denied-patient",
                                 detail=f"bulk assign {provider}/{pathway_id}")
            raise HTTPException(status_code=404, detail="Not Found")
    if problem is None and target is not None and {
            rows[(pv, pw)].pcn_code for pv, pw, _ in keys} - set(target.orgs):
        problem = "assign-outside"
    if problem is not None or target is None:
        return problem, target
    for provider, pathway_id, patient_hex in keys:
        with app.audited(access.audit_entry(
                request, principal, "assign-coordinator", patient_id=patient_hex,
                provider=provider, pathway_id=pathway_id, detail=f"to {target.email}")):
            app.assign_coordinator(uuid.UUID(patient_hex), provider, pathway_id, target.email)
    return None, target
