"""Admin pages: the audit log (`GET /admin/audit`), newest first, filtered by user, patient
and action (admins only; others get 404). Opening it is audited too.

Each entry is told as a person reads it (docs/access.md "Audit"): who by display name,
what happened in words (`guardian.audit.words`), which patient by name and NHS number,
which referral by treatment function and provider name, and the detail with codes and
e-mail addresses named. The filters still take an e-mail address, an NHS number and an
action, as before."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from guardian import audit
from guardian.application import GuardianApp, PatientNotFound
from guardian.domain.errors import InvalidValue
from guardian.domain.identifiers import format_nhs_number, normalise_nhs_number
from guardian.projections import worklist as wl
from guardian.projections.name_queries import (
    NamedPatient,
    Names,
    patients_named,
    treatment_functions_of,
)
from guardian.web.access import AdminPrincipal, Principal, record_access
from guardian.web.deps import AppDep
from guardian.web.inputs import LARGEST_INTEGER
from guardian.web.names import NamesDep
from guardian.web.templating import page_or_fragment

router = APIRouter(include_in_schema=False)
PAGE = 50
_HEX_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class Shown:
    """One audit entry as the page shows it."""

    entry: audit.Entry
    who: str  # the user's display name (their e-mail address when no user has it)
    what: str
    patient: str  # "SURNAME, Given (999 123 4567)", or "" for none
    patient_filter: str  # what the patient filter takes for this patient
    referral: str  # "Dermatology at … (pathway PPI-0002)", or ""
    detail: str


def _patients(app: GuardianApp, ids: set[str]) -> dict[str, NamedPatient]:
    """Names and NHS numbers of the patients the entries name; a patient the worklist
    does not hold is read from its events; an id of no patient is left out."""
    with app.engine.connect() as conn:
        found = patients_named(conn, ids)
    for pid in sorted(ids - set(found)):
        try:
            patient = app.get_patient(uuid.UUID(pid))
        except (PatientNotFound, ValueError):
            continue
        found[pid] = NamedPatient(patient.given_name or "", patient.family_name or "",
                                  patient.nhs_number)
    return found


def shown(app: GuardianApp, names: Names, rows: list[audit.Entry]) -> list[Shown]:
    ids = {r.patient_id for r in rows if r.patient_id}
    patients = _patients(app, ids) if ids else {}
    keys = {(r.provider, r.pathway_id) for r in rows if r.provider and r.pathway_id}
    tfs: dict[tuple[str, str], str] = {}
    if keys:
        with app.engine.connect() as conn:
            tfs = treatment_functions_of(conn, keys)  # type: ignore[arg-type]
    out = []
    for r in rows:
        p = patients.get(r.patient_id or "")
        patient, wanted = "", ""
        if p is not None:
            number = format_nhs_number(p.nhs_number)
            patient = f"{p.family_name.upper()}, {p.given_name} ({number})"
            wanted = p.nhs_number
        elif r.patient_id:
            patient, wanted = "No such patient", r.patient_id
        referral = ""
        if r.provider and r.pathway_id:
            tf = tfs.get((r.provider, r.pathway_id))
            what = f"{names.treatment_function(tf)} at " if tf else "A referral at "
            referral = f"{what}{names.provider(r.provider)} (pathway {r.pathway_id})"
        out.append(Shown(r, names.person(r.user_email) if r.user_email else "",
                         _what(r, names, referral), patient, wanted, referral,
                         _detail(r, names)))
    return out


_ASSIGNED_TO = re.compile(r"^to (\S+@\S+)$")


def _what(r: audit.Entry, names: Names, referral: str) -> str:
    """The action in words; an assignment names the referral and the coordinator."""
    to = _ASSIGNED_TO.match(r.detail or "")
    if r.action in ("assign-coordinator", "assign") and to and referral:
        return f"Assigned {referral} to {names.person(to.group(1))}"
    return audit.words(r.action)


_WORKLIST_VIEW = re.compile(r"^PCN (\S+|all in scope); filters ?(.*)$")


def _detail(r: audit.Entry, names: Names) -> str:
    if r.action in ("assign-coordinator", "assign") and _ASSIGNED_TO.match(r.detail or ""):
        return ""  # said in the action's words
    view = _WORKLIST_VIEW.match(r.detail or "") if r.action == "view-worklist" else None
    if view:  # the worklist page's "PCN U90001; filters breached,at-risk"
        pcn, filters = view.groups()
        said = "All PCNs in scope" if pcn == "all in scope" else names.pcn_coded(pcn)
        chosen = [wl.FILTER_LABELS.get(f, f) for f in filters.split(",") if f]
        return said + (f"; filtered: {', '.join(chosen)}" if chosen else "")
    return names.annotate(r.detail)


@dataclass(frozen=True)
class AuditPage:
    """A page of the audit log: its entries, where the next starts, a filter's problem."""

    errors: dict[str, str]  # by filter
    rows: list[Shown]
    next_before: int | None
    patient_id: str | None


def audit_listing(request: Request, principal: Principal, guardian: GuardianApp,
                  names: Names, user: str, patient: str, action: str, before: int | None,
                  first_look: bool) -> AuditPage:
    """Newest first, 50 a page, filtered by user e-mail, patient (NHS number or Guardian
    patient id) and action (the page and the API alike); audited when `first_look` (the
    first page, not a page turned)."""
    errors: dict[str, str] = {}
    patient_id = None
    wanted = patient.strip().lower().replace("-", "")
    if wanted:
        if _HEX_ID.match(wanted):
            patient_id = wanted
        else:
            try:
                patient_id = guardian.patient_id(normalise_nhs_number(patient)).hex
            except InvalidValue:
                errors["patient"] = (
                    "Enter a 10-digit NHS number or a Guardian patient id (32 characters)"
                )
    rows = [] if errors else audit.entries(
        guardian.engine, email=user.strip() or None, patient_id=patient_id,
        action=action.strip() or None, before=before, limit=PAGE + 1,
    )
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    if first_look:
        record_access(request, principal, "view-audit", patient_id=patient_id,
                      detail=f"user={user.strip()}" if user.strip() else None)
    return AuditPage(errors, shown(guardian, names, rows),
                     rows[-1].id if more and rows else None, patient_id)


@router.get("/admin/audit")
def audit_page(
    request: Request,
    principal: AdminPrincipal,
    guardian: AppDep,
    names: NamesDep,
    user: Annotated[str, Query(max_length=254)] = "",
    patient: Annotated[str, Query(max_length=64)] = "",
    action: Annotated[str, Query(max_length=64)] = "",
    before: Annotated[int | None, Query(ge=1, le=LARGEST_INTEGER)] = None,
) -> Response:
    """Newest first, 50 a page; filter by user e-mail, patient (NHS number or Guardian
    patient id) and action."""
    found = audit_listing(request, principal, guardian, names, user, patient, action, before,
                          before is None and not request.headers.get("hx-request"))
    filtered: dict[str, Any] = {"user": user.strip(), "patient": patient.strip(),
                                "action": action.strip()}
    return page_or_fragment(
        request,
        "admin_audit.html",
        {
            "rows": found.rows,
            "zone": guardian.settings.zone,
            "filters": filtered,
            "user_name": names.person(user.strip()) if user.strip() else "",
            "action_choices": sorted(audit.ACTION_WORDS.items(), key=lambda kv: kv[1]),
            "patient_id": found.patient_id,
            "errors": found.errors,
            "next_before": found.next_before,
        },
        "results",
        status_code=400 if found.errors else 200,
    )
