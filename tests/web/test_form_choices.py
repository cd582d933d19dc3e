"""Every choice an action form offers is a choice the domain accepts.

The patient page is rendered for a coordinator and for a GP; each action form on it is
read from the HTML (its hidden fields, and the options of each select or radio group), and
every option of every choice is submitted through the form's own route, as a browser
would send it: each must be recorded (303 back to the page, the effect in the patient's
record and, for coded values, its label on the page). Forms that take a value once (a
clock stop, a closure, a review, a check-in outcome, a diagnosis) get a fresh patient for
each option; every patient is set up so that every form shows (workup and tests
outstanding, deterioration reported, a check-in due, urgent suspected cancer).
"""

from __future__ import annotations

import datetime as dt
import html
import itertools
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser

from web_helpers import ACCOUNTS, sign_in

from guardian.domain.identifiers import nhs_check_digit
from guardian.domain.report import ReferralReport

PRACTICE = "Y90001"  # the GP's practice, in the coordinator's PCN U90001
COORDINATOR = ACCOUNTS["coordinator"][0]
TEXT = {  # what a person types into the free-text fields
    "description": "Full blood count", "summary": "Pain worse at night",
    "body": "Any news on the date?", "result": "Normal study", "note": "Called the patient",
    "coordinator": COORDINATOR,
}


# ---------------------------------------------------------------------------- reading forms


@dataclass
class Form:
    action: str
    fields: dict[str, str] = field(default_factory=dict)  # inputs and textareas as sent
    choices: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # (value, text)


class FormReader(HTMLParser):
    """The forms of a page: each field's value as sent, and the options of each choice."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.form: Form | None = None
        self.select: str | None = None
        self.option: list | None = None  # [value, text]
        self.textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.form = Form(a.get("action", ""))
            self.forms.append(self.form)
        elif self.form is None:
            return
        elif tag == "input" and a.get("name"):
            if a.get("type") in ("radio", "checkbox"):
                self.form.choices.setdefault(a["name"], []).append((a["value"], a["value"]))
            else:
                self.form.fields[a["name"]] = a.get("value", "")
        elif tag == "select":
            self.select = a["name"]
            self.form.choices[self.select] = []
        elif tag == "option" and self.select:
            self.option = [a.get("value", ""), ""]
        elif tag == "textarea":
            self.textarea = a["name"]
            self.form.fields[self.textarea] = ""

    def handle_data(self, data):
        if self.option is not None:
            self.option[1] += data
        elif self.textarea is not None and self.form is not None:
            self.form.fields[self.textarea] += data

    def handle_endtag(self, tag):
        if tag == "option" and self.option is not None and self.form and self.select:
            value, text = self.option
            if value:  # "Choose" is no choice
                self.form.choices[self.select].append((value, text.strip()))
            self.option = None
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None
        elif tag == "form":
            self.form = None


def action_forms(page: str) -> dict[tuple[str, str], Form]:
    """The page's action forms by (action, pathway: "" for the patient-wide ones)."""
    reader = FormReader()
    reader.feed(page)
    return {(f.action.rsplit("/actions/", 1)[1], f.fields.get("pathway", "")): f
            for f in reader.forms if "/actions/" in f.action}


def filled(form: Form, name: str | None, value: str | None) -> dict[str, str]:
    """What a person sends: the hidden fields, text where text is needed, `value` for the
    choice under test and the first option of every other choice."""
    data = {k: v or TEXT.get(k, "") for k, v in form.fields.items()}
    for choice, options in form.choices.items():
        data[choice] = value if choice == name else options[0][0]
    return data


def shown(page: str) -> str:
    """The page's text outside its forms (a select lists every label, chosen or not)."""
    page = re.sub(r"<form\b.*?</form>", "", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page)).lower()


# ---------------------------------------------------------------------------- the patients

_numbers = (f"{n}{c}" for n in itertools.count(999_000_001)
            if (c := nhs_check_digit(str(n))) is not None)


def new_patient(guardian) -> tuple[uuid.UUID, tuple[str, str]]:
    """An urgent suspected cancer referral, waiting 100 days, on which every action form
    shows: two workup items and two tests outstanding, two results to release,
    deterioration reported on the pathway and for the patient, a Waiting Well check-in
    due, a GP's message unanswered and Guardian's message to the hospital awaiting a
    reply."""
    today = guardian.today()
    nhs = next(_numbers)
    start = today - dt.timedelta(days=100)
    report = ReferralReport(
        provider="RAJ", pathway_id=f"FORM-{nhs}", nhs_number=nhs,
        birth_date=dt.date(1960, 5, 1), practice_code=PRACTICE, treatment_function="110",
        priority=3, waiting_list_type="ORTT", received_on=start, clock_start=start,
        as_of=today, given_name="Ada", family_name="Example")
    [outcome] = guardian.apply_reports([report])
    key = (report.provider, report.pathway_id)

    def prepare(p) -> None:
        for n in (1, 2):
            p.require_workup_item(*key, f"w{n}", f"Workup item {n}", "practice", start)
            p.order_diagnostic(*key, f"t{n}", "mri", start)
        for n in (3, 4):  # results to release to the patient
            p.order_diagnostic(*key, f"t{n}", "ct", start)
            p.record_diagnostic_result(*key, f"t{n}", start, "normal")
        p.flag_deterioration("f1", today, "Struggling to walk", "patient", *key)
        p.flag_deterioration("f2", today, "Sleeping badly", "gp")
        assert p.check_ins(today) == 1
        now = guardian.now()  # a GP's message to answer, Guardian's to the hospital
        p.receive_message(*key, "g1", "gp", now, today, "Any news on the scan?", "gp@x")
        p.send_message(*key, "h1", "hospital", now, today, "Please review the priority", "sam")

    guardian.update_patient(outcome.patient_id, prepare)
    return outcome.patient_id, key


# ---------------------------------------------------------------------------- what to expect

Check = Callable[..., bool]  # (patient, pathway, value) → the value is in the record


@dataclass(frozen=True)
class Case:
    once: bool = False  # a fresh patient for each option (the form takes one value)
    recorded: dict[str, Check] = field(default_factory=dict)  # per choice
    otherwise: Check | None = None  # a form without choices
    label_shown: dict[str, str] = field(default_factory=dict)  # choice → "… {} …"


CASES: dict[str, Case] = {
    "workup-required": Case(
        recorded={"requested_from": lambda pt, p, v: any(
            w.requested_from == v and w.description == TEXT["description"]
            for w in p.workup.values())},
        label_shown={"requested_from": "workup needed from {}: full blood count"}),
    "workup-done": Case(recorded={"item_id": lambda pt, p, v: p.workup[v].completed_on}),
    "diagnostic-ordered": Case(
        recorded={"test": lambda pt, p, v: any(  # the setup's are t1 and t2
            t.test == v and t.test_id.startswith("t-") for t in p.diagnostics.values())},
        label_shown={"test": "test ordered: {}"}),
    "diagnostic-resulted": Case(
        recorded={"test_id": lambda pt, p, v: p.diagnostics[v].result == TEXT["result"]}),
    "result-released": Case(
        recorded={"test_id": lambda pt, p, v: p.diagnostics[v].released_on}),
    "diagnosis-communicated": Case(
        once=True, recorded={"outcome": lambda pt, p, v: p.diagnosis_outcome == v},
        label_shown={"outcome": "told to the patient: {}"}),
    "check-in": Case(
        once=True,
        recorded={"outcome": lambda pt, p, v: p.last_check_in_outcome[0] == v},
        label_shown={"outcome": "waiting well check-in: {}"}),
    "deterioration-flagged": Case(otherwise=lambda pt, p, v: any(
        f.summary == TEXT["summary"] and f.pathway == p.key for f in pt.flags.values())),
    "deterioration-reviewed": Case(
        once=True,
        recorded={"flag_id": lambda pt, p, v: pt.flags[v].reviewed_on,
                  "outcome": lambda pt, p, v: any(
                      f.review_outcome == v for f in pt.flags.values())},
        label_shown={"outcome": "deterioration reviewed: {}"}),
    "contact": Case(
        recorded={"channel": lambda pt, p, v: any(
            c.channel == v for c in pt.contacts.values()),
            "referral": lambda pt, p, v: any(  # made for the referral chosen
                "|".join(c.pathway) == v for c in pt.contacts.values() if c.pathway)},
        label_shown={"channel": "· {} ·"}),
    "support": Case(
        recorded={"kind": lambda pt, p, v: any(s.kind == v for s in pt.support.values()),
                  "referral": lambda pt, p, v: any(
                      "|".join(s.pathway) == v for s in pt.support.values() if s.pathway)},
        label_shown={"kind": "support offered while waiting: {}"}),
    "care-plan": Case(recorded={
        "self_care": lambda pt, p, v: p.care_plan and v in p.care_plan.self_care,
        "call_if_worse": lambda pt, p, v: p.care_plan and p.care_plan.call_if_worse == v}),
    "message": Case(
        recorded={"party": lambda pt, p, v: any(
            m.direction == "out" and m.party == v and m.body == TEXT["body"]
            for m in p.messages.values())},
        otherwise=lambda pt, p, v: any(  # a GP's message, to Guardian
            m.direction == "in" and m.party == "gp" for m in p.messages.values()),
        label_shown={"party": "guardian wrote to {}"}),
    "hospital-reply": Case(recorded={"in_reply_to": lambda pt, p, v: any(
        m.direction == "reply" and m.in_reply_to == v for m in p.messages.values())}),
    "message-answered": Case(
        once=True, recorded={"message_id": lambda pt, p, v: p.messages[v].answered_on}),
    "assign": Case(recorded={"coordinator": lambda pt, p, v: p.coordinator == v}),
    "clock-stop": Case(
        once=True, recorded={"reason_code": lambda pt, p, v: p.stop_reason == v},
        label_shown={"reason_code": "waiting time ended: {}"}),
    "close": Case(
        once=True, recorded={"reason": lambda pt, p, v: p.close_reason == v},
        label_shown={"reason": "closed by guardian: {}"}),
}


def submit(client, guardian, pid, key, action: str, name: str | None, value: str | None,
           text: str | None) -> str | None:
    """Send the form as a person would, with `value` chosen for `name`; what went wrong,
    or None when it was recorded and shows."""
    pathway = "|".join(key)
    page = client.get(f"/patients/{pid.hex}")
    assert page.status_code == 200
    forms = action_forms(page.text)
    form = forms.get((action, pathway)) or forms[(action, "")]
    sent = f"{action}: {name}={value!r} ({text!r})"
    if name is not None and (value, text) not in form.choices[name]:
        return f"{sent} is no longer offered"
    r = client.post(form.action, data=filled(form, name, value), follow_redirects=False)
    if r.status_code != 303 or f"done={action}" not in r.headers["location"]:
        summary = re.findall(r'nhsuk-error-summary__list">(.*?)</ul>', r.text, re.S)
        return f"{sent} refused, {r.status_code}: {shown(''.join(summary)).strip()}"
    patient = guardian.get_patient(pid)
    case = CASES[action]
    check = case.recorded[name] if name is not None else case.otherwise
    if not check(patient, patient.pathway(*key), value):
        return f"{sent} answered 303 but is not in the record"
    if name in case.label_shown:
        expected = case.label_shown[name].format(text.lower())
        if expected not in shown(client.get(r.headers["location"]).text):
            return f"{sent} recorded, but {expected!r} is not on the page"
    return None


def submit_every_option(client, guardian, expected_actions: set[str]) -> int:
    """Every option of every choice of every action form on the signed-in user's page;
    how many were sent. Fails with every option that was not recorded."""
    pid, key = new_patient(guardian)
    page = client.get(f"/patients/{pid.hex}")
    assert page.status_code == 200
    forms = action_forms(page.text)
    assert {action for action, _ in forms} == expected_actions
    sent, problems = 0, []
    for (action, _), form in sorted(forms.items()):
        case = CASES[action]
        if not form.choices:
            problems.append(submit(client, guardian, pid, key, action, None, None, None))
            sent += 1
        for name, options in form.choices.items():
            assert options, f"{action}: {name} offers nothing"
            assert name in case.recorded, f"{action}: no check for {name}"
            for value, text in options:  # item, test and flag ids are the same on each
                where = new_patient(guardian) if case.once else (pid, key)
                problems.append(submit(client, guardian, *where, action, name, value, text))
                sent += 1
    problems = [p for p in problems if p]
    assert not problems, f"{len(problems)} of {sent} choices failed:\n" + "\n".join(problems)
    # who did what, in words: the timeline names no one by a code
    page = client.get(f"/patients/{pid.hex}").text
    said_by = set(re.findall(r'class="guardian-muted">\(([^)<]*)\)</span>', page))
    assert said_by and not said_by & {"gp", "check-in", "coordinator", "patient", "hospital",
                                      "guardian", "system"}, said_by
    return sent


def test_coordinator_forms_accept_every_option_they_offer(client):
    guardian = client.app.state.guardian
    sign_in(client, "coordinator")
    sent = submit_every_option(client, guardian, set(CASES))
    assert sent >= 60


def test_gp_forms_accept_every_option_they_offer(client):
    guardian = client.app.state.guardian
    sign_in(client, "gp")
    sent = submit_every_option(client, guardian,
                               {"workup-done", "message", "deterioration-flagged"})
    assert sent == 4  # two workup items, a message, a report that the patient is worse
