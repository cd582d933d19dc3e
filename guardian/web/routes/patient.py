"""A patient's page: `GET /patients/{patient_id}`, the pathways this user may see with each
referral's status, flags, contacts and the action forms (guardian/web/routes/actions.py),
for coordinators, GPs and admins. Scope follows each pathway's practice, never the patient
(docs/access.md, "By pathway"): no pathway in scope, or no such patient, answers 404
(audited). `load_visible_patient` and `patient_context` are shared with the action routes,
which re-render this page when a form is refused. `POST /patients/{patient_id}/contact-
preference` records how the patient wants Guardian to write to them (coordinators and
admins; docs/notifications.md "Who is told").
"""

from __future__ import annotations

import contextlib
import re
import uuid
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from guardian.application import ConcurrentChange, GuardianApp, PatientNotFound
from guardian.domain import codes, visibility
from guardian.domain.errors import DomainError
from guardian.domain.identifiers import format_nhs_number
from guardian.domain.patient import Patient
from guardian.projections import status as status_model
from guardian.projections.org_queries import orgs_of
from guardian.web import access
from guardian.web.access import Principal
from guardian.web.deps import AppDep, CatchUpDep
from guardian.web.names import names_of
from guardian.web.present import age_on, coordinators_of, covering, referral_label
from guardian.web.templating import render

router = APIRouter(include_in_schema=False)

# The choices the action forms offer: the domain's own vocabularies (code → label), so
# every choice offered is one the command accepts.
CHOICES = {
    "tests": codes.DIAGNOSTIC_TESTS, "stop_reasons": codes.CLOCK_STOP_REASONS,
    "close_reasons": codes.CLOSE_REASONS, "channels": codes.CONTACT_CHANNELS,
    "support": codes.SUPPORT_KINDS, "owners": codes.WORKUP_OWNERS,
    "parties": codes.MESSAGE_PARTIES, "check_in": codes.CHECK_IN_OUTCOMES,
    "review": codes.REVIEW_OUTCOMES, "diagnosis": codes.DIAGNOSIS_OUTCOMES,
    "sources": codes.DETERIORATION_SOURCES, "self_care": codes.SELF_CARE,
    "call_if_worse": codes.CALL_IF_WORSE,
}

# The domain writes "e-mail"; pages say "email" (tests/unit/test_wording.py).
EMAIL_WORD = re.compile(r"\be-?mail\b")
# How the patient wants to be written to, as the page says it (docs/notifications.md).
CONTACT_PREFERENCES = {code: EMAIL_WORD.sub("email", label)
                       for code, label in codes.CONTACT_PREFERENCES.items()}

Visible = list[tuple[str, str]]  # the keys (provider, pathway id) this user may see
CHANGED = ("This patient's record changed since you opened it (someone else recorded "
           "something). Check the page below, then submit again: what you typed is still "
           "in the form.")


class Stale(Exception):
    """An action names a version of the patient other than the current one (409)."""


def load_visible_patient(request: Request, app: GuardianApp, principal: Principal,
                         patient_ref: str) -> tuple[Patient, Visible]:
    """The patient and the keys of their pathways this user may see; 404 (audited)
    when there is no such patient or none of their pathways is in scope."""
    try:
        pid = uuid.UUID(hex=patient_ref)
    except ValueError:
        raise HTTPException(status_code=404, detail="Not Found") from None
    try:
        patient = app.get_patient(pid)
    except PatientNotFound:
        access.deny_patient(request, principal, pid.hex, "no such patient")
    with app.engine.connect() as conn:
        orgs = orgs_of(conn, {p.practice_code for p in patient.pathways.values()})
    visible = access.visible_pathways(principal, patient.pathways.values(), orgs)
    if not visible:
        access.deny_patient(request, principal, pid.hex)
    return patient, visible


def patient_context(request: Request, app: GuardianApp, principal: Principal,
                    patient: Patient, visible: Visible,
                    errors: dict[str, dict[str, str]] | None = None,
                    values: dict[str, dict[str, str]] | None = None) -> dict[str, Any]:
    today = app.today()
    view = visibility.view_of(patient, visible)
    names = names_of(request)
    events = list(app.events.get(patient.id))
    with app.engine.connect() as conn:
        statuses = [status_model.referral_status(patient, provider, pathway_id, today,
                                                 events, conn, table=app.settings.standards,
                                                 whole=view.whole, names=names)
                    for provider, pathway_id in visible]
    statuses.sort(key=lambda s: (s.stage in ("clock-stopped", "closed"), s.received_on))
    flags = sorted(view.flags, key=lambda f: f.raised_on)
    pathways = {p.key: p for p in patient.pathways.values() if p.key in view.keys}
    # a contact or support offer is about one referral: open ones first; one is preselected
    referrals = [(f"{p.provider}|{p.pathway_id}", referral_label(p, names))
                 for p in sorted(pathways.values(), key=lambda p: (not p.is_open, p.received_on))]
    with app.engine.connect() as conn:
        pcn_of = {code: pcn for code, (pcn, _) in
                  orgs_of(conn, {p.practice_code for p in pathways.values()}).items()}
        everyone = coordinators_of(conn)
    assignees = {f"{p.provider}|{p.pathway_id}": [
        (u.email, names.person(u.email))
        for u in covering(everyone, {pcn_of.get(p.practice_code)})] for p in pathways.values()}
    values = dict(values or {})
    for form in ("contact:", "support:"):
        if referrals and form not in values:
            values[form] = {"referral": referrals[0][0]}
    return {
        "patient": view, "pid": patient.id.hex, "version": patient.version,
        "nhs_formatted": format_nhs_number(patient.nhs_number),
        "age": age_on(view.birth_date, today), "today": today,
        "statuses": statuses, "pathways": pathways,
        "differing": {key: visibility.differing_details(patient, key) for key in view.keys},
        "referral_options": referrals, "assignees": assignees,
        "open_flags": [f for f in flags if f.reviewed_on is None],
        "flag_options": [(f.flag_id, f"{f.raised_on:%d %b %Y}: {f.summary[:60]}")
                         for f in flags if f.reviewed_on is None],
        "contacts": sorted(view.contacts, key=lambda c: c.on, reverse=True),
        "errors": errors or {}, "values": values,
        "done": request.query_params.get("done"),
        "is_gp": principal.role == "gp",
        "new_keys": set(),  # pathways with news when the page was opened (`see_news`)
        "choices": CHOICES, "plan_note_most": codes.PLAN_NOTE_MOST,
        "contact_preference": patient.contact_preference,
        "preference_choices": CONTACT_PREFERENCES,
        "patient_has_email": bool(patient.email),
    }


def news_of(patient: Patient, visible: Visible) -> set[tuple[str, str]]:
    """The pathways this user sees with news: a breach or a deterioration recorded since
    the patient was last opened (docs/rules.md §11). Reading it records nothing."""
    return patient.with_news(list(visible), visibility.view_of(patient, visible).whole)


def see_news(app: GuardianApp, principal: Principal, patient: Patient,
             visible: Visible) -> set[tuple[str, str]]:
    """A coordinator or an admin opened the patient: what was new on the pathways they see
    is new no longer (docs/rules.md §11). Returns those pathways (the page marks them)."""
    whole = visibility.view_of(patient, visible).whole
    new = news_of(patient, visible)
    if new and principal.role in ("coordinator", "admin"):
        # someone else writing first leaves the news new until the next opening
        with contextlib.suppress(ConcurrentChange):
            app.see_news(patient.id, list(visible), whole, principal.email)
    return new


@router.get("/patients/{patient_ref}")
def patient_page(request: Request, principal: access.PatientReader, app: AppDep,
                 patient_ref: str):
    patient, visible = load_visible_patient(request, app, principal, patient_ref)
    access.record_access(request, principal, "view-patient", patient_id=patient.id.hex)
    new = see_news(app, principal, patient, visible) if principal.role != "gp" else set()
    if new:
        # The forms carry the version just written. The worklist loses its "New" mark
        # when the read models' follower projects the event (within about a second), not
        # in this request: a page view never waits on projecting.
        patient = app.get_patient(patient.id)
    context = patient_context(request, app, principal, patient, visible)
    return render(request, "patient.html", {**context, "new_keys": new})


def set_contact_preference(request: Request, app: GuardianApp, principal: Principal,
                           patient_ref: str, preference: str, expected: int | None = None
                           ) -> Patient:
    """Record how to contact the patient, with its audit entry (the page and the API's
    command alike): 404 (audited) out of scope or not for this role; Stale when `expected`
    (None: any) is not the patient's version; DomainError naming `preference` (a missing
    choice, or e-mail without an address); ConcurrentChange."""
    if principal.role not in ("coordinator", "admin"):
        raise HTTPException(status_code=404, detail="Not Found")
    patient, _ = load_visible_patient(request, app, principal, patient_ref)
    if expected is not None and expected != patient.version:
        raise Stale(CHANGED)
    if not preference:
        raise DomainError("Choose how to contact the patient", field="preference")
    entry = access.audit_entry(request, principal, "contact-preference",
                               patient_id=patient.id.hex, detail=preference)
    with app.audited(entry):  # the entry commits with the action (docs/access.md)
        app.record_contact_preference(patient.id, preference, by=principal.email)
    return patient


def in_words(error: DomainError) -> str:
    """A domain message as a page or the API shows it ("email", a capital letter)."""
    message = EMAIL_WORD.sub("email", error.message)
    return message[:1].upper() + message[1:]


@router.post("/patients/{patient_ref}/contact-preference")
async def contact_preference(request: Request, principal: access.PatientReader, app: AppDep,
                             catch_up: CatchUpDep, patient_ref: str) -> Response:
    """How to contact the patient: e-mail, letter or not at all (the domain refuses e-mail
    without an address; the message is shown next to the choice)."""
    if principal.role not in ("coordinator", "admin"):
        raise HTTPException(status_code=404, detail="Not Found")
    raw = await request.form()
    chosen = raw.get("preference")
    form = {"preference": chosen.strip() if isinstance(chosen, str) else ""}
    errors: dict[str, str] = {}
    try:
        patient = set_contact_preference(request, app, principal, patient_ref,
                                         form["preference"])
    except ConcurrentChange as e:
        errors["form"] = str(e)
    except DomainError as e:
        errors["preference"] = in_words(e)
    if errors:
        patient, visible = load_visible_patient(request, app, principal, patient_ref)
        context = patient_context(request, app, principal, patient, visible,
                                  errors={"contact-preference:": errors},
                                  values={"contact-preference:": form})
        return render(request, "patient.html", context, status_code=422)
    catch_up()
    return RedirectResponse(f"/patients/{patient.id.hex}?done=contact-preference"
                            "#contact-preference", status_code=303)
