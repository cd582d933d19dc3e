"""The coordinator worklist, the patient page with its action forms, and the GP view.

Every route takes its Principal from `guardian.web.access` and every query the scope
derived from it; patient data out of scope answers 404 (audited). Each action form is one
command on the Patient aggregate: a refused command re-renders the page with the message
next to the field and what the user typed kept; a form opened on an older version of the
patient says "changed since you opened it" and loses nothing. After a write the read
models are brought up to date before the redirect, so the next page shows the change.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import secrets
import time
import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from guardian import users
from guardian.application import ConcurrentChange, PatientNotFound
from guardian.domain import codes, standards, visibility
from guardian.domain.errors import DomainError
from guardian.domain.identifiers import format_nhs_number, normalise_nhs_number
from guardian.domain.text import problem as text_problem
from guardian.projections import status as status_model
from guardian.projections import worklist as wl
from guardian.projections.runner import tracking
from guardian.store import organisations
from guardian.web import access
from guardian.web.access import Principal, require_role
from guardian.web.inputs import LARGEST_INTEGER
from guardian.web.templating import is_htmx, page_or_fragment, render

router = APIRouter(include_in_schema=False)

Coordinator = Annotated[Principal, Depends(require_role("coordinator", "admin"))]
GP = Annotated[Principal, Depends(require_role("gp"))]
PAGE_SIZE = 50
FACET_TTL = 60.0  # seconds the worklist's drop-down values are reused

# The choices the action forms offer: the domain's own vocabularies (code → label), so
# every choice offered is one the command accepts.
CHOICES = {
    "tests": codes.DIAGNOSTIC_TESTS, "stop_reasons": codes.CLOCK_STOP_REASONS,
    "close_reasons": codes.CLOSE_REASONS, "channels": codes.CONTACT_CHANNELS,
    "support": codes.SUPPORT_KINDS, "owners": codes.WORKUP_OWNERS,
    "parties": codes.MESSAGE_PARTIES, "check_in": codes.CHECK_IN_OUTCOMES,
    "review": codes.REVIEW_OUTCOMES, "diagnosis": codes.DIAGNOSIS_OUTCOMES,
    "sources": codes.DETERIORATION_SOURCES,
}


def guardian_of(request: Request):
    return request.app.state.guardian


def catch_up(request: Request) -> None:
    """Read-your-writes: bring the read models up to the events just written (spending at
    most about 2 s: during a bulk import the follower carries the backlog, not the request)."""
    request.app.state.runner.catch_up_within(2.0)


def age_on(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


# ---------------------------------------------------------------------------- worklist


def encode_cursor(row: dict[str, Any], sort: str) -> str:
    key = row["deadline_sort"] if sort == "next-deadline" else row["wait_from"]
    raw = json.dumps([key.isoformat(), row["provider"], row["pathway_id"]])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(value: str) -> tuple[dt.date, str, str]:
    try:
        padded = value + "=" * (-len(value) % 4)
        key, provider, pathway_id = json.loads(base64.urlsafe_b64decode(padded))
        day, provider, pathway_id = dt.date.fromisoformat(key), str(provider), str(pathway_id)
        if text_problem(provider, "identifier") or text_problem(pathway_id, "identifier"):
            raise ValueError("not a key from a worklist page")  # the one text rule
        return day, provider, pathway_id
    except (ValueError, TypeError, binascii.Error, RecursionError):
        raise HTTPException(status_code=400, detail="The page link is not valid: "
                            "go back to the first page of the worklist") from None


_cache: dict[tuple, tuple[float, Any]] = {}


def cached(key: tuple, compute):
    """Reference values the worklist shows on every request (drop-down choices, PCN names,
    coordinators), reused for FACET_TTL seconds: they change rarely, and a new value shows
    within a minute."""
    hit = _cache.get(key)
    if hit and time.monotonic() - hit[0] < FACET_TTL:
        return hit[1]
    if len(_cache) > 10_000:  # entries for old positions are never asked for again
        _cache.clear()
    found = compute()
    _cache[key] = (time.monotonic(), found)
    return found


def cached_facets(conn, scope: wl.Scope, pcn: str | None) -> dict[str, list[Any]]:
    return cached(("facets", scope.pcns, pcn, str(conn.engine.url)),
                  lambda: wl.facets(conn, scope, pcn))


def present_row(row: dict[str, Any], today: dt.date) -> dict[str, Any]:
    """A worklist row as the table shows it: state words, waits in weeks, ages in days."""
    state = standards.deadline_state(row["next_breach_on"], row["next_at_risk_from"], today)
    label = None
    if row["next_standard"]:
        known = {s.code: s.label for s in standards.STANDARDS}
        label = known.get(row["next_standard"], row["next_standard"])
    waited = (today - row["wait_from"]).days
    return {
        **row,
        "patient_href": f"/patients/{row['patient_id']}",
        "nhs_formatted": format_nhs_number(row["nhs_number"]),
        "age": age_on(row["birth_date"], today),
        "waited_days": waited,
        "waited_weeks": waited // 7,
        "deadline_state": state,
        "deadline_label": label,
        "stage_label": standards.STAGE_LABELS.get(row["stage"], row["stage"]),
        "tf_name": codes.TREATMENT_FUNCTIONS.get(row["treatment_function"],
                                                 row["treatment_function"]),
        "priority_label": codes.PRIORITIES.get(row["priority"], str(row["priority"])),
        "deterioration_days": (today - row["deterioration_since"]).days
        if row["deterioration_since"] else None,
        "unanswered_days": (today - row["oldest_unanswered_on"]).days
        if row["oldest_unanswered_on"] else None,
        "key": f"{row['provider']}|{row['pathway_id']}|{row['patient_id']}",
    }


@router.get("/worklist")
def worklist_page(
    request: Request,
    principal: Coordinator,
    pcn: str | None = None,
    filter: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI reads the default
    sort: str = "next-deadline",
    practice_code: str | None = None,
    provider: str | None = None,
    treatment_function: str | None = None,
    priority: str | None = None,
    stage: str | None = None,
    after: str | None = None,
    assigned: Annotated[int, Query(ge=0, le=LARGEST_INTEGER)] = 0,
) -> Response:
    pcn = pcn or None
    scope = access.scope_for(principal)
    if pcn is not None and not access.may_see_pcn(principal, pcn):
        access.record_access(request, principal, "denied-worklist", detail=f"PCN {pcn}")
        raise HTTPException(status_code=404, detail="Not Found")
    errors = {}
    unknown = [f for f in filter if f not in wl.FILTERS]
    if unknown:
        errors["filter"] = f"Unknown filter: {', '.join(unknown)}"
    if sort not in wl.SORTS:
        errors["sort"] = f"Unknown sort order {sort!r}"
    if priority not in (None, "") and priority not in {str(k) for k in codes.PRIORITIES}:
        errors["priority"] = f"Unknown priority {priority!r}"
    if stage not in (None, "") and stage not in standards.STAGES:
        errors["stage"] = f"Unknown stage {stage!r}"
    if errors:
        return render(request, "worklist_error.html", {"errors": errors}, status_code=400)
    filters = [f for f in wl.FILTERS if f in filter]
    attrs = {"practice_code": practice_code, "provider": provider,
             "treatment_function": treatment_function,
             "priority": int(priority) if priority else None, "stage": stage}
    cursor = decode_cursor(after) if after else None
    app = guardian_of(request)
    today = app.today()
    with app.engine.connect() as conn:
        rows = wl.page(conn, scope, pcn, today, filters, sort, cursor, PAGE_SIZE + 1, attrs)
        # The counts scan every row in scope: reuse them until the worklist changes (its
        # tracking position moves with every projected event) or the day does.
        position = conn.execute(select(tracking.c.position)
                                .where(tracking.c.name == wl.NAME)).scalar()
        counts = cached(("counts", str(app.engine.url), scope.pcns, scope.user, pcn,
                         tuple(sorted((k, str(v)) for k, v in attrs.items())),
                         tuple(filters), today, position),
                        lambda: wl.counts(conn, scope, pcn, today, attrs, filters))
        facets = cached_facets(conn, scope, pcn)
        pcn_names = cached(("pcn-names", str(app.engine.url)), lambda: dict(conn.execute(
            select(organisations.c.pcn_code, organisations.c.pcn_name).distinct()
        ).all()))
        everyone = cached(("coordinators", str(app.engine.url)),
                          lambda: coordinators_of(conn))
    # only coordinators of the PCNs on the page may be given its pathways (docs/access.md)
    coordinators = [u.email for u in covering(everyone, {pcn} if pcn else principal.pcns)]
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    state = {"pcn": pcn or "", "filter": filters, "sort": sort,
             "practice_code": practice_code or "", "provider": provider or "",
             "treatment_function": treatment_function or "", "priority": priority or "",
             "stage": stage or ""}
    query = urlencode([(k, v) for k, vs in state.items()
                       for v in (vs if isinstance(vs, list) else [vs]) if v], doseq=True)
    next_href = None
    if more:
        next_href = "/worklist?" + urlencode(
            [*[(k, v) for k, vs in state.items()
               for v in (vs if isinstance(vs, list) else [vs]) if v],
             ("after", encode_cursor(rows[-1], sort))])
    access.record_access(request, principal, "view-worklist",
                         detail=f"PCN {pcn or 'all in scope'}; filters {','.join(filters)}")
    my_pcns = sorted(principal.pcns) if principal.pcns is not None else sorted(pcn_names)
    return page_or_fragment(request, "worklist.html", {
        "rows": [present_row(r, today) for r in rows], "counts": counts, "facets": facets,
        "state": state, "query": query, "next_href": next_href, "first_page": after is None,
        "filters": wl.FILTERS, "filter_labels": wl.FILTER_LABELS,
        "pcns": [(c, pcn_names.get(c, c)) for c in my_pcns], "today": today,
        "stages": standards.STAGES, "stage_labels": standards.STAGE_LABELS,
        "priorities": codes.PRIORITIES, "tf_names": codes.TREATMENT_FUNCTIONS,
        "coordinators": coordinators, "assigned": assigned, "fragment": is_htmx(request),
    }, "results")


@router.post("/worklist/assign")
async def bulk_assign(request: Request, principal: Coordinator) -> Response:
    form = await request.form()
    keys = [k for k in form.getlist("pathway") if isinstance(k, str)]
    coordinator = str(form.get("coordinator") or "").strip()
    back = str(form.get("back") or "")
    back = back if back.startswith("/worklist") else "/worklist"
    app = guardian_of(request)
    problems = []
    if not keys:
        problems.append("Select at least one pathway to assign.")
    target = users.find_user(app.engine, coordinator) if coordinator else None
    if target is None or target.role != "coordinator":
        problems.append("Choose a care coordinator to assign the pathways to.")
    parsed = []
    for key in keys:
        provider, _, rest = key.partition("|")
        pathway_id, _, patient_hex = rest.partition("|")
        parsed.append((provider, pathway_id, patient_hex))
    scope = access.scope_for(principal)
    with app.engine.connect() as conn:
        rows = {(r.provider, r.pathway_id): r for r in conn.execute(
            select(wl.worklist.c.provider, wl.worklist.c.pathway_id, wl.worklist.c.patient_id,
                   wl.worklist.c.pcn_code).where(
                wl.worklist.c.patient_id.in_(sorted({p[2] for p in parsed} or {""}))))}
    for provider, pathway_id, patient_hex in parsed:
        row = rows.get((provider, pathway_id))
        if row is None or row.patient_id != patient_hex or not scope.allows(row.pcn_code):
            access.record_access(request, principal, "denied-patient",
                                 detail=f"bulk assign {provider}/{pathway_id}")
            raise HTTPException(status_code=404, detail="Not Found")
    outside = sorted({rows[(pv, pw)].pcn_code for pv, pw, _ in parsed} - set(
        target.orgs if target is not None else ()))
    if target is not None and target.role == "coordinator" and outside:
        problems.append(f"{target.email} does not work for {', '.join(outside)}: choose a "
                        "coordinator of the PCN of every pathway selected.")
    if problems:
        return render(request, "worklist_error.html",
                      {"errors": {"assign": " ".join(problems)}, "back": back},
                      status_code=422)
    for provider, pathway_id, patient_hex in parsed:
        with app.audited(access.audit_entry(
                request, principal, "assign-coordinator", patient_id=patient_hex,
                provider=provider, pathway_id=pathway_id, detail=f"to {target.email}")):
            app.assign_coordinator(uuid.UUID(patient_hex), provider, pathway_id, target.email)
    catch_up(request)
    sep = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{sep}assigned={len(parsed)}", status_code=303)


# ---------------------------------------------------------------------------- patient


def _practice_orgs(conn, practices: set[str]) -> dict[str, tuple[str | None, str | None]]:
    q = select(organisations.c.practice_code, organisations.c.pcn_code,
               organisations.c.place).where(organisations.c.practice_code.in_(sorted(practices)))
    return {r.practice_code: (r.pcn_code, r.place) for r in conn.execute(q)}


def coordinators_of(conn) -> list[users.User]:
    """Every care coordinator (on the caller's connection)."""
    return [u for u in users.list_users(conn) if u.role == "coordinator"]


def covering(coordinators: list[users.User], pcns) -> list[users.User]:
    """The coordinators who work for at least one of `pcns` (None: any PCN): the only ones
    a pathway of those PCNs may be assigned to (docs/access.md)."""
    if pcns is None:
        return list(coordinators)
    return [u for u in coordinators if set(u.orgs) & set(pcns)]


def referral_label(p) -> str:
    """A referral as a person picks it: "Dermatology at RAJ (PPI-0002)"."""
    return f"{codes.treatment_function_label(p.treatment_function)} at {p.provider} " \
           f"({p.pathway_id})"


def load_visible_patient(request: Request, principal: Principal, patient_ref: str):
    """The patient and the keys of their pathways this user may see; 404 (audited)
    when there is no such patient or none of their pathways is in scope."""
    try:
        pid = uuid.UUID(hex=patient_ref)
    except ValueError:
        raise HTTPException(status_code=404, detail="Not Found") from None
    app = guardian_of(request)
    try:
        patient = app.get_patient(pid)
    except PatientNotFound:
        access.deny_patient(request, principal, pid.hex, "no such patient")
    with app.engine.connect() as conn:
        orgs = _practice_orgs(conn, {p.practice_code for p in patient.pathways.values()})
    visible = access.visible_pathways(principal, patient.pathways.values(), orgs)
    if not visible:
        access.deny_patient(request, principal, pid.hex)
    return patient, visible


def patient_context(request: Request, principal: Principal, patient, visible,
                    errors: dict[str, dict[str, str]] | None = None,
                    values: dict[str, dict[str, str]] | None = None) -> dict[str, Any]:
    app = guardian_of(request)
    today = app.today()
    view = visibility.view_of(patient, visible)
    events = list(app.events.get(patient.id))
    with app.engine.connect() as conn:
        statuses = [status_model.referral_status(patient, provider, pathway_id, today,
                                                 events, conn, table=app.settings.standards,
                                                 whole=view.whole)
                    for provider, pathway_id in visible]
    statuses.sort(key=lambda s: (s.stage in ("clock-stopped", "closed"), s.received_on))
    flags = sorted(view.flags, key=lambda f: f.raised_on)
    pathways = {p.key: p for p in patient.pathways.values() if p.key in view.keys}
    # a contact or support offer is about one referral: open ones first; one is preselected
    referrals = [(f"{p.provider}|{p.pathway_id}", referral_label(p))
                 for p in sorted(pathways.values(), key=lambda p: (not p.is_open, p.received_on))]
    with app.engine.connect() as conn:
        pcn_of = {code: pcn for code, (pcn, _) in
                  _practice_orgs(conn, {p.practice_code for p in pathways.values()}).items()}
        everyone = coordinators_of(conn)
    assignees = {f"{p.provider}|{p.pathway_id}": [(u.email, u.email) for u in covering(
        everyone, {pcn_of.get(p.practice_code)})] for p in pathways.values()}
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
        "choices": CHOICES,
    }


@router.get("/patients/{patient_ref}")
def patient_page(request: Request, principal: access.PatientReader, patient_ref: str):
    patient, visible = load_visible_patient(request, principal, patient_ref)
    access.record_access(request, principal, "view-patient", patient_id=patient.id.hex)
    return render(request, "patient.html", patient_context(request, principal, patient,
                                                           visible))


def _date(value: str | None, field: str, today: dt.date) -> dt.date:
    if not value:
        return today
    try:
        day = dt.date.fromisoformat(value.strip())
    except ValueError:
        raise DomainError("Enter a date as YYYY-MM-DD, for example 2026-03-31",
                          field=field) from None
    if day > today:
        raise DomainError("The date cannot be in the future", field=field)
    return day


def _required(form: dict[str, str], name: str, message: str) -> str:
    value = (form.get(name) or "").strip()
    if not value:
        raise DomainError(message, field=name)
    return value


def _new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def _pcn_of(app, practice_code: str) -> str | None:
    with app.engine.connect() as conn:
        return conn.execute(select(organisations.c.pcn_code).where(
            organisations.c.practice_code == practice_code)).scalar()


def _about(key: tuple[str, str] | None) -> None:
    """A record about the patient is made for one referral (docs/access.md, "By pathway")."""
    if key is None:
        raise DomainError("Choose which referral this is about", field="referral")


# action name → (roles allowed, needs a pathway, the command)
def _act(app, principal: Principal, action: str, pid: uuid.UUID, key: tuple[str, str] | None,
         f: dict[str, str], today: dt.date) -> None:
    provider, pathway_id = key if key else (None, None)
    who = principal.email
    if action == "workup-required":
        app.require_workup_item(pid, provider, pathway_id, _new_id("w"),
                                _required(f, "description", "Describe the workup needed"),
                                f.get("requested_from") or "practice", on=today)
    elif action == "workup-done":
        app.complete_workup_item(pid, provider, pathway_id,
                                 _required(f, "item_id", "Choose the workup item"),
                                 by=who, on=_date(f.get("on"), "on", today))
    elif action == "diagnostic-ordered":
        app.order_diagnostic(pid, provider, pathway_id, _new_id("t"),
                             _required(f, "test", "Choose the test"),
                             on=_date(f.get("on"), "on", today))
    elif action == "diagnostic-resulted":
        app.record_diagnostic_result(pid, provider, pathway_id,
                                     _required(f, "test_id", "Choose the test"),
                                     _required(f, "result", "Enter the result"),
                                     on=_date(f.get("on"), "on", today))
    elif action == "diagnosis-communicated":
        app.communicate_diagnosis(pid, provider, pathway_id,
                                  _required(f, "outcome", "Say what the patient was told"),
                                  on=_date(f.get("on"), "on", today))
    elif action == "contact":
        channel = _required(f, "channel", "Choose how")
        summary = _required(f, "summary", "Summarise the contact")
        on = _date(f.get("on"), "on", today)
        _about(key)
        app.log_contact(pid, _new_id("c"), channel, summary, who, on=on, provider=provider,
                        pathway_id=pathway_id)
    elif action == "check-in":
        app.record_check_in_outcome(pid, provider, pathway_id,
                                    _required(f, "outcome", "Choose the outcome"), who,
                                    note=f.get("note", ""),
                                    stop_reason=f.get("stop_reason") or None,
                                    on=_date(f.get("on"), "on", today))
    elif action == "deterioration-flagged":
        app.flag_deterioration(pid, _new_id("f"),
                               _required(f, "summary", "Describe what has got worse"),
                               "gp" if principal.role == "gp" else "coordinator",
                               provider, pathway_id, on=_date(f.get("on"), "on", today))
    elif action == "deterioration-reviewed":
        app.review_deterioration(pid, _required(f, "flag_id", "Choose the flag"),
                                 _required(f, "outcome", "Choose the review outcome"),
                                 on=_date(f.get("on"), "on", today))
    elif action == "support":
        kind = _required(f, "kind", "Choose the support")
        _about(key)
        app.offer_support(pid, _new_id("s"), kind, f.get("note", ""), on=today,
                          provider=provider, pathway_id=pathway_id)
    elif action == "message":
        body = _required(f, "body", "Write the message")
        if principal.role == "gp":
            app.receive_message(pid, provider, pathway_id, _new_id("m"), "gp", body, who)
        else:
            party = _required(f, "party", "Choose who the message is for")
            app.send_message(pid, provider, pathway_id, _new_id("m"), party, body, who,
                             in_reply_to=f.get("in_reply_to") or None)
    elif action == "assign":
        email = _required(f, "coordinator", "Choose the care coordinator")
        target = users.find_user(app.engine, email)
        pcn = _pcn_of(app, app.get_patient(pid).pathway(provider, pathway_id).practice_code)
        if target is None or target.role != "coordinator" or pcn not in target.orgs:
            raise DomainError("Choose a care coordinator of this pathway's PCN",
                              field="coordinator")
        app.assign_coordinator(pid, provider, pathway_id, target.email)
    elif action == "clock-stop":
        app.stop_clock(pid, provider, pathway_id,
                       _required(f, "reason_code", "Choose why the clock stops"),
                       on=_date(f.get("on"), "on", today))
    elif action == "close":
        app.close_pathway(pid, provider, pathway_id,
                          _required(f, "reason", "Choose why the pathway is closed"),
                          on=_date(f.get("on"), "on", today))
    else:  # pragma: no cover - filtered by ACTIONS
        raise HTTPException(status_code=404, detail="Not Found")


GP_ACTIONS = frozenset({"workup-done", "message", "deterioration-flagged"})
PATIENT_ACTIONS = frozenset({"contact", "support", "deterioration-reviewed"})
ACTIONS = frozenset({"workup-required", "workup-done", "diagnostic-ordered",
                     "diagnostic-resulted", "diagnosis-communicated", "contact", "check-in",
                     "deterioration-flagged", "deterioration-reviewed", "support", "message",
                     "assign", "clock-stop", "close"})


@router.post("/patients/{patient_ref}/actions/{action}")
async def patient_action(request: Request, principal: access.PatientReader, patient_ref: str,
                         action: str) -> Response:
    if action not in ACTIONS or (principal.role == "gp" and action not in GP_ACTIONS):
        raise HTTPException(status_code=404, detail="Not Found")
    raw = await request.form()
    form = {k: v.strip() if isinstance(v, str) else "" for k, v in raw.items()}
    patient, visible = load_visible_patient(request, principal, patient_ref)
    key = None
    # the referral acted on: the form's own pathway, or the one chosen for a record about
    # the patient (a contact, a support offer); either must be one this user may see
    chosen = form.get("pathway") if action not in PATIENT_ACTIONS else form.get("referral")
    if action not in PATIENT_ACTIONS or chosen:
        provider, _, pathway_id = (chosen or "").partition("|")
        key = (provider, pathway_id)
        if key not in visible:
            access.deny_patient(request, principal, patient.id.hex, f"{action} on {key}")
    if action == "deterioration-reviewed":
        flag = patient.flags.get(form.get("flag_id", ""))
        if flag is not None and not visibility.view_of(patient, visible).sees(flag.pathway):
            access.deny_patient(request, principal, patient.id.hex, f"{action} on a flag")
    form_key = f"{action}:{form.get('pathway', '')}"
    errors: dict[str, str] = {}
    app = guardian_of(request)
    if str(patient.version) != form.get("version"):
        errors["form"] = ("This patient's record changed since you opened it (someone else "
                          "recorded something). Check the page below, then submit again: "
                          "what you typed is still in the form.")
    else:
        try:
            entry = access.audit_entry(request, principal, action.replace("-", " "),
                                       patient_id=patient.id.hex,
                                       provider=key[0] if key else None,
                                       pathway_id=key[1] if key else None)
            with app.audited(entry):  # the entry commits with the action (docs/access.md)
                _act(app, principal, action, patient.id, key, form, app.today())
        except ConcurrentChange as e:
            errors["form"] = str(e)
        except DomainError as e:
            errors[e.field or "form"] = e.message
    if errors:
        fresh, visible = load_visible_patient(request, principal, patient_ref)
        context = patient_context(request, principal, fresh, visible,
                                  errors={form_key: errors}, values={form_key: form})
        return render(request, "patient.html", context,
                      status_code=409 if "changed since" in errors.get("form", "") else 422)
    catch_up(request)
    anchor = f"#pathway-{key[0]}-{key[1]}" if key else ""
    return RedirectResponse(f"/patients/{patient.id.hex}?done={action}{anchor}",
                            status_code=303)


# ---------------------------------------------------------------------------- GP view


@router.get("/gp")
def gp_home(request: Request, principal: GP, nhs_number: str | None = None) -> Response:
    app = guardian_of(request)
    today = app.today()
    error = None
    if nhs_number is not None:
        try:
            digits = normalise_nhs_number(nhs_number)
        except DomainError as e:
            error = e.message
        else:
            pid = app.patient_id(digits)
            try:
                patient = app.get_patient(pid)
            except PatientNotFound:
                patient = None
            if patient is not None and any(p.practice_code == principal.practice
                                           for p in patient.pathways.values()):
                access.record_access(request, principal, "find-patient", patient_id=pid.hex)
                return RedirectResponse(f"/patients/{pid.hex}", status_code=303)
            access.record_access(request, principal, "find-patient-none",
                                 detail="no referral at this practice")
            error = ("No referral for this NHS number is registered at your practice. "
                     "Check the number, or the patient may be registered elsewhere.")
    w = wl.worklist
    with app.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(
            select(w).where(w.c.practice_code == principal.practice)
            .order_by(w.c.deadline_sort, w.c.provider, w.c.pathway_id))]
        practice_name = conn.execute(
            select(organisations.c.practice_name)
            .where(organisations.c.practice_code == principal.practice)).scalar()
    shown = [present_row(r, today) for r in rows]
    summary = {
        "waiting": len(shown),
        "breached": sum(1 for r in shown if r["deadline_state"] == "breached"),
        "at_risk": sum(1 for r in shown if r["deadline_state"] == "at-risk"),
        "workup": sum(1 for r in shown if r["workup_outstanding"]),
        "over_18_weeks": sum(1 for r in shown if r["waited_days"] > 126),
    }
    access.record_access(request, principal, "view-practice-overview",
                         detail=f"practice {principal.practice}")
    return render(request, "gp.html", {
        "rows": shown, "summary": summary, "practice_name": practice_name or "",
        "error": error, "nhs_number": nhs_number or "",
        "workup_rows": [r for r in shown if r["workup_outstanding"]],
    }, status_code=422 if error else 200)
