"""The patient page's action forms: `POST /patients/{patient_id}/actions/{action}`, each one
command on the Patient aggregate, described by one row of `ACTIONS`: the action's name, the
roles that may take it, what it is made on (the form's own pathway, or a referral chosen
for a record about the patient), the form's parser (the command's arguments from the form,
refusing a missing or bad field with the message shown next to it) and the command.

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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from guardian import users
from guardian.application import ConcurrentChange, GuardianApp
from guardian.domain import visibility
from guardian.domain.errors import DomainError
from guardian.domain.patient import Patient
from guardian.projections.org_queries import orgs_of
from guardian.web import access
from guardian.web.access import Principal
from guardian.web.deps import AppDep, CatchUpDep
from guardian.web.routes.patient import Visible, load_visible_patient, patient_context
from guardian.web.templating import render

router = APIRouter(include_in_schema=False)

CHANGED = ("This patient's record changed since you opened it (someone else recorded "
           "something). Check the page below, then submit again: what you typed is still "
           "in the form.")


@dataclass(frozen=True)
class Call:
    """One submitted action form: who, on which patient and referral, what they typed."""

    app: GuardianApp
    principal: Principal
    pid: uuid.UUID
    key: tuple[str, str] | None
    form: dict[str, str]
    today: dt.date

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
    return (new_id("c"), channel, summary, c.principal.email), {"on": on, **c.about()}


def _deterioration(c: Call) -> Arguments:
    summary = c.required("summary", "Describe what has got worse")
    source = "gp" if c.principal.role == "gp" else "coordinator"
    return (new_id("f"), summary, source, c.provider, c.pathway_id), {"on": c.date("on")}


def _review(c: Call) -> Arguments:
    return (c.required("flag_id", "Choose the flag"),
            c.required("outcome", "Choose the review outcome")), {"on": c.date("on")}


def _support(c: Call) -> Arguments:
    kind = c.required("kind", "Choose the support")
    return (new_id("s"), kind, c.form.get("note", "")), {"on": c.today, **c.about()}


def _message(c: Call) -> Arguments:
    body = c.required("body", "Write the message")
    if c.principal.role == "gp":
        return (c.provider, c.pathway_id, new_id("m"), "gp", body, c.principal.email), {}
    party = c.required("party", "Choose who the message is for")
    return ((c.provider, c.pathway_id, new_id("m"), party, body, c.principal.email),
            {"in_reply_to": c.form.get("in_reply_to") or None})


def _reply(c: Call) -> Arguments:
    """The hospital's reply, recorded by a coordinator: an answer to Guardian, which needs
    none of its own (docs/rules.md, "Messages")."""
    body = c.required("body", "Write what the hospital said")
    return ((c.provider, c.pathway_id, new_id("m"), "hospital", body, c.principal.email),
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
class Action:
    """One action form: who may take it, what it is made on, its parser and its command
    (a GuardianApp method, or a function choosing one by the principal); `sees`: what else
    of the patient the user must see to take it (else 404, audited)."""

    name: str
    roles: frozenset[str]
    on: str  # "pathway": the form's own; "referral": one chosen for a record about the patient
    parse: Parser
    command: str | Callable[[GuardianApp, Principal], Callable[..., None]]
    sees: Callable[[Patient, Visible, dict[str, str]], bool] | None = None

    def run(self, call: Call) -> None:
        args, kwargs = self.parse(call)
        if isinstance(self.command, str):
            method = getattr(call.app, self.command)
        else:
            method = self.command(call.app, call.principal)
        method(call.pid, *args, **kwargs)


STAFF = frozenset({"coordinator", "admin"})
EVERYONE = STAFF | {"gp"}  # a GP's forms: workup done, a message, a deterioration flag

ACTIONS = {a.name: a for a in (
    Action("workup-required", STAFF, "pathway", _on_pathway(
        lambda c: new_id("w"), _field("description", "Describe the workup needed"),
        lambda c: c.form.get("requested_from") or "practice", on=lambda c: c.today),
        "require_workup_item"),
    Action("workup-done", EVERYONE, "pathway", _on_pathway(
        _field("item_id", "Choose the workup item"), by=lambda c: c.principal.email,
        on=_date), "complete_workup_item"),
    Action("diagnostic-ordered", STAFF, "pathway", _on_pathway(
        lambda c: new_id("t"), _field("test", "Choose the test"), on=_date),
        "order_diagnostic"),
    Action("diagnostic-resulted", STAFF, "pathway", _on_pathway(
        _field("test_id", "Choose the test"), _field("result", "Enter the result"),
        on=_date), "record_diagnostic_result"),
    Action("result-released", STAFF, "pathway", _on_pathway(
        _field("test_id", "Choose the test"), by=lambda c: c.principal.email, on=_date),
        "release_result"),
    Action("diagnosis-communicated", STAFF, "pathway", _on_pathway(
        _field("outcome", "Say what the patient was told"), on=_date),
        "communicate_diagnosis"),
    Action("contact", STAFF, "referral", _contact, "log_contact"),
    Action("check-in", STAFF, "pathway", _on_pathway(
        _field("outcome", "Choose the outcome"), lambda c: c.principal.email,
        note=lambda c: c.form.get("note", ""),
        stop_reason=lambda c: c.form.get("stop_reason") or None, on=_date),
        "record_check_in_outcome"),
    Action("deterioration-flagged", EVERYONE, "pathway", _deterioration,
           "flag_deterioration"),
    Action("deterioration-reviewed", STAFF, "referral", _review, "review_deterioration",
           sees=_flag_seen),
    Action("support", STAFF, "referral", _support, "offer_support"),
    Action("message", EVERYONE, "pathway", _message, _send_or_receive),
    Action("hospital-reply", STAFF, "pathway", _reply, "record_reply"),
    Action("message-answered", STAFF, "pathway", _on_pathway(
        _field("message_id", "Choose the message"), lambda c: c.principal.email, on=_date),
        "mark_message_answered"),
    Action("assign", STAFF, "pathway", _assignee, "assign_coordinator"),
    Action("clock-stop", STAFF, "pathway", _on_pathway(
        _field("reason_code", "Choose why the clock stops"), on=_date), "stop_clock"),
    Action("close", STAFF, "pathway", _on_pathway(
        _field("reason", "Choose why the pathway is closed"), on=_date), "close_pathway"),
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


@router.post("/patients/{patient_ref}/actions/{action}")
async def patient_action(request: Request, principal: access.PatientReader, app: AppDep,
                         catch_up: CatchUpDep, patient_ref: str, action: str) -> Response:
    chosen = ACTIONS.get(action)
    if chosen is None or principal.role not in chosen.roles:
        raise HTTPException(status_code=404, detail="Not Found")
    raw = await request.form()
    form = {k: v.strip() if isinstance(v, str) else "" for k, v in raw.items()}
    patient, visible = load_visible_patient(request, app, principal, patient_ref)
    key = _acted_on(request, principal, chosen, patient, visible, form)
    form_key = f"{action}:{form.get('pathway', '')}"
    errors: dict[str, str] = {}
    if str(patient.version) != form.get("version"):
        errors["form"] = CHANGED
    else:
        try:
            entry = access.audit_entry(request, principal, action.replace("-", " "),
                                       patient_id=patient.id.hex,
                                       provider=key[0] if key else None,
                                       pathway_id=key[1] if key else None,
                                       detail=f"to {form.get('coordinator', '')}"
                                       if action == "assign" else None)
            with app.audited(entry):  # the entry commits with the action (docs/access.md)
                chosen.run(Call(app, principal, patient.id, key, form, app.today()))
        except ConcurrentChange as e:
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
    anchor = f"#pathway-{key[0]}-{key[1]}" if key else ""
    return RedirectResponse(f"/patients/{patient.id.hex}?done={action}{anchor}",
                            status_code=303)
