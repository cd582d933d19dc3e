"""The patient page's action forms: `POST /patients/{patient_id}/actions/{action}`, each one
command on the Patient aggregate, described by one row of `ACTIONS`: the action's name, the
roles that may take it, what it is made on (the form's own pathway, or a referral chosen
for a record about the patient), its fields (`Input`: what the JSON API's request model
of the action is made from, guardian/web/api/command_models.py), the form's parser (the
command's arguments from the form, refusing a missing or bad field with the message shown
next to it) and the command. `take` checks scope and the version, and runs the action with its
audit entry: the page and the API's command alike.

A refused command re-renders the patient's page with the message next to the field and what
the user typed kept (422); a form opened on an older version of the patient says "changed
since you opened it" and loses nothing (409). The action and its audit entry commit
together (docs/access.md); after a write the read models are brought up to date before the
redirect, so the next page shows the change.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from guardian import users
from guardian.application import ConcurrentChange, GuardianApp
from guardian.domain import codes, visibility
from guardian.domain.errors import DomainError
from guardian.domain.patient import Patient
from guardian.projections.org_queries import orgs_of
from guardian.web import access
from guardian.web.access import Principal
from guardian.web.deps import AppDep, CatchUpDep
from guardian.web.routes.patient import (
    CHANGED,
    Stale,
    Visible,
    load_visible_patient,
    patient_context,
)
from guardian.web.templating import render

router = APIRouter(include_in_schema=False)



@dataclass(frozen=True)
class Call:
    """One submitted action form: who, on which patient and referral, what they typed."""

    app: GuardianApp
    principal: Principal
    pid: uuid.UUID
    key: tuple[str, str] | None
    form: dict[str, str]
    today: dt.date
    made: list[str] = field(default_factory=list)  # the ids of what the action recorded

    def new(self, prefix: str) -> str:
        """A new id for what the action records (kept in `made`)."""
        made = new_id(prefix)
        self.made.append(made)
        return made

    @property
    def provider(self) -> str | None:
        return self.key[0] if self.key else None

    @property
    def pathway_id(self) -> str | None:
        return self.key[1] if self.key else None

    def required(self, name: str, message: str) -> str:
        value = (self.form.get(name) or "").strip()
        if not value:
            raise DomainError(message, field=name)
        return value

    def date(self, field: str = "on") -> dt.date:
        """The form's date (today when left empty): a real date, not in the future."""
        value = self.form.get(field)
        if not value:
            return self.today
        try:
            day = dt.date.fromisoformat(value.strip())
        except ValueError:
            raise DomainError("Enter a date as YYYY-MM-DD, for example 2026-03-31",
                              field=field) from None
        if day > self.today:
            raise DomainError("The date cannot be in the future", field=field)
        return day

    def about(self) -> dict[str, str | None]:
        """A record about the patient is made for one referral (docs/access.md, "By
        pathway")."""
        if self.key is None:
            raise DomainError("Choose which referral this is about", field="referral")
        return {"provider": self.provider, "pathway_id": self.pathway_id}


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


Arguments = tuple[tuple[Any, ...], dict[str, Any]]  # the command's, after the patient id
Parser = Callable[[Call], Arguments]


def _on_pathway(*args: Any, **kwargs: Any) -> Callable[[Call], Arguments]:
    """A parser of a command on the form's pathway: (provider, pathway id, *args); each
    argument is a constant or a function of the call, read in order."""
    def parse(c: Call) -> Arguments:
        values = tuple(a(c) if callable(a) else a for a in args)
        named = {k: v(c) if callable(v) else v for k, v in kwargs.items()}
        return (c.provider, c.pathway_id, *values), named

    return parse


def _field(name: str, message: str) -> Callable[[Call], str]:
    return lambda c: c.required(name, message)


def _date(c: Call) -> dt.date:
    return c.date("on")


def _contact(c: Call) -> Arguments:
    channel = c.required("channel", "Choose how")
    summary = c.required("summary", "Summarise the contact")
    on = c.date("on")
    return (c.new("c"), channel, summary, c.principal.email), {"on": on, **c.about()}


def _deterioration(c: Call) -> Arguments:
    summary = c.required("summary", "Describe what has got worse")
    source = "gp" if c.principal.role == "gp" else "coordinator"
    return (c.new("f"), summary, source, c.provider, c.pathway_id), {"on": c.date("on")}


def _review(c: Call) -> Arguments:
    return (c.required("flag_id", "Choose the flag"),
            c.required("outcome", "Choose the review outcome")), {"on": c.date("on")}


def _support(c: Call) -> Arguments:
    kind = c.required("kind", "Choose the support")
    return (c.new("s"), kind, c.form.get("note", "")), {"on": c.today, **c.about()}


def _care_plan(c: Call) -> Arguments:
    """A plan while waiting: one or more self-care topics (the form's ticked boxes, sent
    as one comma-separated value: `patient_action`), whom to call if worse, a short note
    for the patient (docs/rules.md "Plans while waiting")."""
    topics = [t for t in (c.form.get("self_care") or "").split(",") if t.strip()]
    if not topics:
        raise DomainError("Choose at least one thing the patient can do for themselves",
                          field="self_care")
    call = c.required("call_if_worse", "Choose whom the patient calls if they get worse")
    return ((c.provider, c.pathway_id, [t.strip() for t in topics], call),
            {"note": c.form.get("note", ""), "on": c.date("on"), "by": c.principal.email})


def _message(c: Call) -> Arguments:
    body = c.required("body", "Write the message")
    if c.principal.role == "gp":
        return (c.provider, c.pathway_id, c.new("m"), "gp", body, c.principal.email), {}
    party = c.required("party", "Choose who the message is for")
    return ((c.provider, c.pathway_id, c.new("m"), party, body, c.principal.email),
            {"in_reply_to": c.form.get("in_reply_to") or None})


def _reply(c: Call) -> Arguments:
    """The hospital's reply, recorded by a coordinator: an answer to Guardian, which needs
    none of its own (docs/rules.md, "Messages")."""
    body = c.required("body", "Write what the hospital said")
    return ((c.provider, c.pathway_id, c.new("m"), "hospital", body, c.principal.email),
            {"in_reply_to": c.form.get("in_reply_to") or None, "received_on": c.date("on")})


def _assignee(c: Call) -> Arguments:
    """A care coordinator of this pathway's PCN (docs/access.md)."""
    email = c.required("coordinator", "Choose the care coordinator")
    target = users.find_user(c.app.engine, email)
    practice = c.app.get_patient(c.pid).pathway(c.provider, c.pathway_id).practice_code
    with c.app.engine.connect() as conn:
        pcn = orgs_of(conn, {practice}).get(practice, (None, None))[0]
    if target is None or target.role != "coordinator" or pcn not in target.orgs:
        raise DomainError("Choose a care coordinator of this pathway's PCN",
                          field="coordinator")
    return (c.provider, c.pathway_id, target.email), {}


def _send_or_receive(app: GuardianApp, principal: Principal) -> Callable[..., None]:
    """A GP's message is received from the practice; anyone else's is sent."""
    return app.receive_message if principal.role == "gp" else app.send_message


def _flag_seen(patient: Patient, visible: Visible, form: dict[str, str]) -> bool:
    """A flag is reviewed only by someone who sees the referral it was raised on."""
    flag = patient.flags.get(form.get("flag_id", ""))
    return flag is None or visibility.view_of(patient, visible).sees(flag.pathway)


@dataclass(frozen=True)
class Input:
    """One field of an action's form (and of its JSON command): "text", a "date", a
    "choice" of a domain vocabulary (guardian/domain/codes.py) or "choices", one or more of
    one (ticked boxes; the page's form sends them as one comma-separated value, the JSON
    command as a list). `required`: the command refuses the action without it."""

    name: str
    about: str
    required: bool = True
    kind: str = "text"
    choices: Mapping[str, str] | None = None


def _need(name: str, about: str, choices: Mapping[str, str] | None = None) -> Input:
    return Input(name, about, True, "choice" if choices else "text", choices)


def _may(name: str, about: str, choices: Mapping[str, str] | None = None) -> Input:
    return Input(name, about, False, "choice" if choices else "text", choices)


ON = Input("on", "The day it happened, YYYY-MM-DD, not in the future (today when left out)",
           required=False, kind="date")
NOTE = _may("note", "A note (free text)")


@dataclass(frozen=True)
class Action:
    """One action form: who may take it, what it is made on, its fields, its parser and
    its command (a GuardianApp method, or a function choosing one by the principal);
    `sees`: what else of the patient the user must see to take it (else 404, audited);
    `makes`: the name of the id of what it records, if it records something new."""

    name: str
    roles: frozenset[str]
    on: str  # "pathway": the form's own; "referral": one chosen for a record about the patient
    fields: tuple[Input, ...]
    parse: Parser
    command: str | Callable[[GuardianApp, Principal], Callable[..., None]]
    sees: Callable[[Patient, Visible, dict[str, str]], bool] | None = None
    makes: str | None = None

    def run(self, call: Call) -> None:
        args, kwargs = self.parse(call)
        if isinstance(self.command, str):
            method = getattr(call.app, self.command)
        else:
            method = self.command(call.app, call.principal)
        method(call.pid, *args, **kwargs)


STAFF = frozenset({"coordinator", "admin"})
EVERYONE = STAFF | {"gp"}  # a GP's forms: workup done, a message, a deterioration flag
TEST_ID = _need("test_id", "The test's id (as ordered)")
REPLY_TO = _may("in_reply_to", "The id of the message this answers")

ACTIONS = {a.name: a for a in (
    Action("workup-required", STAFF, "pathway", (
        _need("description", "The workup needed"),
        _may("requested_from", "Who is asked for it (the GP practice when left out)",
             codes.WORKUP_OWNERS)),
        _on_pathway(lambda c: c.new("w"), _field("description", "Describe the workup needed"),
                    lambda c: c.form.get("requested_from") or "practice", on=lambda c: c.today),
        "require_workup_item", makes="item_id"),
    Action("workup-done", EVERYONE, "pathway", (
        _need("item_id", "The workup item's id"), ON), _on_pathway(
        _field("item_id", "Choose the workup item"), by=lambda c: c.principal.email,
        on=_date), "complete_workup_item"),
    Action("diagnostic-ordered", STAFF, "pathway", (
        _need("test", "The test ordered", codes.DIAGNOSTIC_TESTS), ON), _on_pathway(
        lambda c: c.new("t"), _field("test", "Choose the test"), on=_date),
        "order_diagnostic", makes="test_id"),
    Action("diagnostic-resulted", STAFF, "pathway", (
        TEST_ID, _need("result", "The result"), ON), _on_pathway(
        _field("test_id", "Choose the test"), _field("result", "Enter the result"),
        on=_date), "record_diagnostic_result"),
    Action("result-released", STAFF, "pathway", (TEST_ID, ON), _on_pathway(
        _field("test_id", "Choose the test"), by=lambda c: c.principal.email, on=_date),
        "release_result"),
    Action("diagnosis-communicated", STAFF, "pathway", (
        _need("outcome", "What the patient was told", codes.DIAGNOSIS_OUTCOMES), ON),
        _on_pathway(_field("outcome", "Say what the patient was told"), on=_date),
        "communicate_diagnosis"),
    Action("contact", STAFF, "referral", (
        _need("channel", "How", codes.CONTACT_CHANNELS),
        _need("summary", "What was said (free text)"), ON),
        _contact, "log_contact", makes="contact_id"),
    Action("check-in", STAFF, "pathway", (
        _need("outcome", "The check-in's outcome", codes.CHECK_IN_OUTCOMES), NOTE,
        _may("stop_reason", "Why the clock stops, when the patient no longer needs the "
             "appointment", codes.CLOCK_STOP_REASONS), ON), _on_pathway(
        _field("outcome", "Choose the outcome"), lambda c: c.principal.email,
        note=lambda c: c.form.get("note", ""),
        stop_reason=lambda c: c.form.get("stop_reason") or None, on=_date),
        "record_check_in_outcome"),
    Action("deterioration-flagged", EVERYONE, "pathway", (
        _need("summary", "What has got worse (free text)"), ON),
        _deterioration, "flag_deterioration", makes="flag_id"),
    Action("deterioration-reviewed", STAFF, "referral", (
        _need("flag_id", "The flag's id"),
        _need("outcome", "The review's outcome", codes.REVIEW_OUTCOMES), ON),
        _review, "review_deterioration", sees=_flag_seen),
    Action("support", STAFF, "referral", (
        _need("kind", "The support offered", codes.SUPPORT_KINDS), NOTE),
        _support, "offer_support", makes="support_id"),
    Action("care-plan", STAFF, "pathway", (
        Input("self_care", "What the patient can do for themselves (one or more)", True,
              "choices", codes.SELF_CARE),
        _need("call_if_worse", "Whom the patient calls if they get worse (111 and 999 are "
              "always given too)", codes.CALL_IF_WORSE),
        _may("note", f"A short note the patient reads (at most {codes.PLAN_NOTE_MOST} "
             "characters)"), ON),
        _care_plan, "agree_care_plan"),
    Action("message", EVERYONE, "pathway", (
        _need("body", "The message (free text)"),
        _may("party", "Who it is for (required but for a GP, whose message is the "
             "practice's)", codes.MESSAGE_PARTIES), REPLY_TO),
        _message, _send_or_receive, makes="message_id"),
    Action("hospital-reply", STAFF, "pathway", (
        _need("body", "What the hospital said (free text)"), REPLY_TO, ON),
        _reply, "record_reply", makes="message_id"),
    Action("message-answered", STAFF, "pathway", (
        _need("message_id", "The message's id"), ON), _on_pathway(
        _field("message_id", "Choose the message"), lambda c: c.principal.email, on=_date),
        "mark_message_answered"),
    Action("assign", STAFF, "pathway", (
        _need("coordinator", "The email of a care coordinator of this pathway's PCN"),),
        _assignee, "assign_coordinator"),
    Action("clock-stop", STAFF, "pathway", (
        _need("reason_code", "Why the clock stops", codes.CLOCK_STOP_REASONS), ON),
        _on_pathway(_field("reason_code", "Choose why the clock stops"), on=_date),
        "stop_clock"),
    Action("close", STAFF, "pathway", (
        _need("reason", "Why the pathway is closed", codes.CLOSE_REASONS), ON),
        _on_pathway(_field("reason", "Choose why the pathway is closed"), on=_date),
        "close_pathway"),
)}


def _acted_on(request: Request, principal: Principal, action: Action, patient: Patient,
              visible: Visible, form: dict[str, str]) -> tuple[str, str] | None:
    """The referral acted on: the form's own pathway, or the one chosen for a record about
    the patient (a contact, a support offer); either must be one this user may see."""
    key = None
    chosen = form.get("pathway") if action.on == "pathway" else form.get("referral")
    if action.on == "pathway" or chosen:
        provider, _, pathway_id = (chosen or "").partition("|")
        key = (provider, pathway_id)
        if key not in visible:
            access.deny_patient(request, principal, patient.id.hex, f"{action.name} on {key}")
    if action.sees is not None and not action.sees(patient, visible, form):
        access.deny_patient(request, principal, patient.id.hex, f"{action.name} on a flag")
    return key


@dataclass(frozen=True)
class Done:
    """An action taken: on which patient (as it was before) and referral, what it made."""

    patient: Patient
    key: tuple[str, str] | None
    made: list[str]


def take(request: Request, app: GuardianApp, principal: Principal, action: Action,
         patient_ref: str, form: dict[str, str], expected: str | None) -> Done:
    """Take `action` on the patient as the form (or the JSON command) says, with its audit
    entry in the same transaction (docs/access.md): 404 (audited) for a patient, referral
    or flag out of scope or unknown, or an action not for this role; Stale when `expected`
    (None: any) is not the patient's version; ConcurrentChange, DomainError as the command
    raises them."""
    if principal.role not in action.roles:
        raise HTTPException(status_code=404, detail="Not Found")
    patient, visible = load_visible_patient(request, app, principal, patient_ref)
    key = _acted_on(request, principal, action, patient, visible, form)
    if expected is not None and expected != str(patient.version):
        raise Stale(CHANGED)
    entry = access.audit_entry(request, principal, action.name.replace("-", " "),
                               patient_id=patient.id.hex,
                               provider=key[0] if key else None,
                               pathway_id=key[1] if key else None,
                               detail=f"to {form.get('coordinator', '')}"
                               if action.name == "assign" else None)
    call = Call(app, principal, patient.id, key, form, app.today())
    with app.audited(entry):  # the entry commits with the action (docs/access.md)
        action.run(call)
    return Done(patient, key, call.made)


@router.post("/patients/{patient_ref}/actions/{action}")
async def patient_action(request: Request, principal: access.PatientReader, app: AppDep,
                         catch_up: CatchUpDep, patient_ref: str, action: str) -> Response:
    chosen = ACTIONS.get(action)
    if chosen is None or principal.role not in chosen.roles:
        raise HTTPException(status_code=404, detail="Not Found")
    raw = await request.form()
    form = {k: v.strip() if isinstance(v, str) else "" for k, v in raw.items()}
    for spec in chosen.fields:  # ticked boxes: each value, as one comma-separated value
        if spec.kind == "choices":
            form[spec.name] = ",".join(v.strip() for v in raw.getlist(spec.name)
                                       if isinstance(v, str) and v.strip())
    form_key = f"{action}:{form.get('pathway', '')}"
    errors: dict[str, str] = {}
    try:
        done = take(request, app, principal, chosen, patient_ref, form,
                    form.get("version", ""))
    except (Stale, ConcurrentChange) as e:
        errors["form"] = str(e)
    except DomainError as e:
        errors[e.field or "form"] = e.message
    if errors:
        fresh, visible = load_visible_patient(request, app, principal, patient_ref)
        context = patient_context(request, app, principal, fresh, visible,
                                  errors={form_key: errors}, values={form_key: form})
        return render(request, "patient.html", context,
                      status_code=409 if "changed since" in errors.get("form", "") else 422)
    catch_up()
    anchor = f"#pathway-{done.key[0]}-{done.key[1]}" if done.key else ""
    return RedirectResponse(f"/patients/{done.patient.id.hex}?done={action}{anchor}",
                            status_code=303)
