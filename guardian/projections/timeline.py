"""The pathway timeline: every event of a pathway (and the patient-wide ones: contacts,
support, deterioration flags) told as a dated sentence in plain English, with who it came
from; events are told by their class (guardian/domain/patient/events), and the wording
helpers here (dates, treatment functions, channels, message parties) are shared with the
referral status (guardian/projections/status.py).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from guardian.domain import codes, standards
from guardian.domain.codes import DIAGNOSTIC_TESTS, PRIORITIES, RTT_STATUS, TREATMENT_FUNCTIONS
from guardian.domain.pathway import Pathway
from guardian.domain.patient import Patient
from guardian.domain.patient import events as ev
from guardian.domain.visibility import goes_with
from guardian.projections.name_queries import NO_NAMES, Names


def day_text(day: dt.date | None) -> str:
    return f"{day.day} {day:%b %Y}" if day else ""


def tf_name(code: str) -> str:
    return TREATMENT_FUNCTIONS.get(code, code)


def channel_name(code: str) -> str:
    """A contact channel inside a sentence: "(text message)"."""
    return codes.label(codes.CONTACT_CHANNELS, code).lower()


def party_name(code: str) -> str:
    """A message party inside a sentence: "from the GP practice"."""
    return codes.label(codes.MESSAGE_PARTIES, code)


# Who an entry came from, as people read it (a workup item's completer is an e-mail address).
ACTORS = {**codes.DETERIORATION_SOURCES, **codes.MESSAGE_PARTIES, "hospital": "the hospital",
          "guardian": "Guardian", "system": "Guardian's wait-time checks"}


@dataclass(frozen=True)
class TimelineEntry:
    on: dt.date
    text: str
    by: str  # "hospital" (from the provider's extract), "guardian", "gp", "patient", "system"

    @property
    def by_label(self) -> str:
        return codes.label(ACTORS, self.by)

    def as_dict(self) -> dict[str, str]:
        return {"on": self.on.isoformat(), "text": self.text, "by": self.by}


def plan_text(self_care: Iterable[str], call_if_worse: str) -> str:
    """A plan while waiting in a sentence (docs/rules.md "Plans while waiting")."""
    topics = [codes.label(codes.SELF_CARE, code) for code in self_care]
    told = ", ".join(t[:1].lower() + t[1:] for t in topics)
    return (f"Plan while waiting agreed: {told}; if worse, call "
            f"{codes.label(codes.CALL_IF_WORSE, call_if_worse)}")


def standard_label(code: str) -> str:
    """A standard as people read it (a code no longer in the table reads as itself)."""
    known = {s.code: s.label for s in standards.STANDARDS}
    return known.get(code, code)


def _humanise(name: str) -> str:
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", name).lower()
    return words[:1].upper() + words[1:]


# Waiting list types inside a sentence ("corrected to an admitted RTT list").
LIST_TYPES = {"ORTT": "a non-admitted RTT list", "IRTT": "an admitted RTT list",
              "ONON": "a non-admitted list outside RTT", "INON": "an admitted list outside RTT"}


def _describe(event: Any, pathways: dict[tuple[str, str], Pathway],
              names: Names = NO_NAMES) -> tuple[dt.date | None, str]:
    """(date, sentence) of one event; the date is when it happened, else when reported.
    Events are told apart by class; stored events of older shapes may lack a field, hence
    `e.get` for the fields added later. Providers and practices are told by `names`."""
    e = event.__dict__
    reported = e.get("reported_on")
    key = (e.get("provider"), e.get("pathway_id"))
    pathway = pathways.get(key)  # type: ignore[arg-type]

    def test_name(test_id: str) -> str:
        if pathway and test_id in pathway.diagnostics:
            return DIAGNOSTIC_TESTS.get(pathway.diagnostics[test_id].test, "test")
        return "test"

    def workup_name(item_id: str) -> str:
        if pathway and item_id in pathway.workup:
            return pathway.workup[item_id].description
        return "an item"  # never its id: people read what it is, not an identifier

    match event:
        case ev.ReferralReceived():
            return e["received_on"], (
                f"Referral received by {names.provider(e['provider'])} for "
                f"{tf_name(e['treatment_function'])} "
                f"({PRIORITIES.get(e['priority'], e['priority'])})")
        case ev.ReferralDateCorrected():
            return reported, f"Referral date corrected to {day_text(e['received_on'])}"
        case ev.SpecialtyCorrected():
            return reported, f"Specialty corrected to {tf_name(e['treatment_function'])}"
        case ev.WaitingListTypeCorrected():
            kind = e["waiting_list_type"]
            return reported, f"Waiting list type corrected to {LIST_TYPES.get(kind, kind)}"
        case ev.UbrnCorrected():
            return reported, "e-Referral booking reference (UBRN) corrected"
        case ev.LocalPatientIdCorrected():
            return reported, "The hospital's patient identifier corrected"
        case ev.PracticeChanged():
            return reported, f"Registered GP practice is now {names.practice(e['practice_code'])}"
        case ev.PriorityChanged():
            return reported, f"Priority changed to {PRIORITIES.get(e['priority'], e['priority'])}"
        case ev.ClockStartCorrected():
            return reported, f"Waiting-time start corrected to {day_text(e['clock_start'])}"
        case ev.RttPeriodStarted():
            return e["clock_start"], "A new waiting period started"
        case ev.ClockStopped():
            code = e.get("reason_code")
            why = RTT_STATUS.get(code, e.get("reason") or "") if code else e.get("reason", "")
            return e["stopped_on"], f"Waiting time ended: {why}" if why else "Waiting time ended"
        case ev.ClockStopWithdrawn():
            return reported, "The end of the wait was withdrawn: waiting again"
        case ev.AppointmentBooked():
            return reported, f"Appointment booked for {day_text(e['appointment_on'])}"
        case ev.TreatmentScheduled():
            return reported, f"Treatment date set for {day_text(e['tci_on'])}"
        case ev.BookingCancelled():
            what = "Appointment" if e["kind"] == "appointment" else "Treatment date"
            return reported, f"{what} cancelled"
        case ev.PatientSeen():
            return e["attended_on"], "Seen at the hospital"
        case ev.AttendanceWithdrawn():
            return reported, "The hospital withdrew its record of the last attendance"
        case ev.DidNotAttend():
            return e["dna_on"], "Did not attend the hospital appointment"
        case ev.NonAttendanceWithdrawn():
            return reported, "The hospital withdrew its record of a missed appointment"
        case ev.ProcedurePriorityReviewed():
            return (e.get("reviewed_on") or reported,
                    f"Clinical priority reviewed: {e.get('procedure_priority') or 'none'}")
        case ev.PathwayLeftWaitingList():
            return e["on"], "No longer on the hospital's waiting list; Guardian is checking why"
        case ev.PathwayReturnedToWaitingList():
            return reported, "Back on the hospital's waiting list"
        case ev.WorkupItemRequired():
            owner = codes.label(codes.WORKUP_OWNERS, e["requested_from"])
            return e["required_on"], f"Workup needed from {owner}: {e['description']}"
        case ev.WorkupItemCompleted():
            return e["completed_on"], f"Workup done: {workup_name(e['item_id'])}"
        case ev.WorkupCompleted():
            return e["completed_on"], "All the agreed workup is done"
        case ev.DiagnosticOrdered():
            return e["ordered_on"], f"Test ordered: {DIAGNOSTIC_TESTS.get(e['test'], e['test'])}"
        case ev.DiagnosticResulted():
            return e["resulted_on"], f"Test result received: {test_name(e['test_id'])}"
        case ev.DiagnosticResultReleased():
            return e["on"], f"Test result released to the patient: {test_name(e['test_id'])}"
        case ev.DiagnosisCommunicated():
            told = codes.label(codes.DIAGNOSIS_OUTCOMES, e["outcome"])
            return e["communicated_on"], f"Diagnosis or all-clear told to the patient: {told}"
        case ev.PathwayClosed():
            return e["on"], f"Closed by Guardian: {codes.label(codes.CLOSE_REASONS, e['reason'])}"
        case ev.CoordinatorAssigned():
            return None, "A Guardian care coordinator was assigned"
        case ev.WaitBreached():
            return e["breach_on"], f"Standard missed: {standard_label(e['standard'])}"
        case ev.StepAtRisk():  # which step, and its last day (never a bare "step at risk")
            return e["at_risk_from"], (f"At risk: {standard_label(e['standard'])}; the last "
                                       f"day within is {day_text(e['last_day_within'])}")
        case ev.CheckInDue():
            return e["due_on"], (f"Waiting Well check-in due after {e['wait_days'] // 7} "
                                 "weeks of waiting")
        case ev.BreachWithdrawn():
            return None, f"A missed standard was withdrawn ({e['reason']})"
        case ev.DeteriorationFlagged():
            source = codes.label(codes.DETERIORATION_SOURCES, e["source"])
            return e["raised_on"], f"Reported getting worse (via {source}): {e['summary']}"
        case ev.DeteriorationReviewed():
            outcome = codes.label(codes.REVIEW_OUTCOMES, e["outcome"])
            return e["reviewed_on"], f"Deterioration reviewed: {outcome}"
        case ev.ContactLogged():
            return e["on"], f"Guardian was in touch with the patient ({channel_name(e['channel'])})"
        case ev.SupportOffered():
            kind = codes.label(codes.SUPPORT_KINDS, e["kind"])
            return e["on"], f"Support offered while waiting: {kind}"
        case ev.CarePlanAgreed():
            return e["agreed_on"], plan_text(e["self_care"], e["call_if_worse"])
        case ev.CheckInOutcomeRecorded():
            outcome = codes.label(codes.CHECK_IN_OUTCOMES, e["outcome"])
            return e["on"], f"Waiting Well check-in: {outcome}"
        case ev.MessageReceived():
            return e["on"], f"Message to Guardian from {party_name(e['party'])}"
        case ev.MessageSent():
            return e["on"], f"Guardian wrote to {party_name(e['party'])}"
        case ev.ReplyRecorded():
            return e["on"], f"Reply from {party_name(e['party'])} recorded"
        case ev.MessageMarkedAnswered():
            answered = pathway.messages.get(e["message_id"]) if pathway else None
            return e["on"], f"Message from {party_name(answered.party if answered else '')}" \
                " marked answered" if answered else "Message marked answered"
    # Anything else (e.g. a check-in falling due, a status code, a stored
    # ProviderRecordCorrected) reads as its name, dated by its own date.
    name = _humanise(type(event).__name__)
    for k in ("on", "due_on", "recorded_on", "reported_on"):
        if isinstance(e.get(k), dt.date):
            return e[k], name
    return None, name


# Who an entry came from, by event class (the rest: see `timeline`).
_BY = {
    ev.MessageReceived: lambda e: e["party"], ev.ReplyRecorded: lambda e: e["party"],
    ev.WorkupItemCompleted: lambda e: e.get("by", ""), ev.CarePlanAgreed: lambda e: e["by"],
    ev.DeteriorationFlagged: lambda e: e["source"],
}
_GUARDIAN = (ev.WorkupItemRequired, ev.DiagnosticOrdered, ev.DiagnosticResulted,
             ev.DiagnosticResultReleased,
             ev.DiagnosisCommunicated, ev.PathwayClosed, ev.CoordinatorAssigned,
             ev.DeteriorationReviewed, ev.ContactLogged, ev.SupportOffered, ev.MessageSent,
             ev.MessageMarkedAnswered)
_SYSTEM = (ev.WaitBreached, ev.BreachWithdrawn, ev.PathwayLeftWaitingList)
_FLAGS = (ev.DeteriorationFlagged, ev.DeteriorationReviewed)
_PATIENT_WIDE = (ev.ContactLogged, ev.SupportOffered, *_FLAGS)
# Identity details, not the referral's story.
_IDENTITY = (Patient.Created, ev.Registered, ev.BirthDateCorrected, ev.ContactDetailsChanged)


def timeline(events: Iterable[Any], patient: Patient, provider: str,
             pathway_id: str, whole: bool = True,
             names: Names = NO_NAMES) -> list[TimelineEntry]:
    """The pathway's history as dated sentences, oldest first. Events without a date of
    their own take the date they were recorded on. `whole`: the reader sees the whole
    patient, so records made for no particular pathway are part of it (docs/access.md).
    `names`: providers and practices by name (without it, by code)."""
    entries = []
    key = (provider, pathway_id)
    flags_here = {f.flag_id for f in patient.flags.values()
                  if goes_with(f.pathway, {key}, whole)}
    for event in events:
        e = event.__dict__
        if isinstance(event, _IDENTITY):
            continue
        if "provider" in e and e.get("provider") is not None:
            if (e["provider"], e.get("pathway_id")) != (provider, pathway_id):
                continue
        elif isinstance(event, _FLAGS):
            if e["flag_id"] not in flags_here:
                continue
        elif not isinstance(event, _PATIENT_WIDE) or not whole:
            continue
        on, text = _describe(event, patient.pathways, names)
        if on is None:
            on = event.timestamp.date()
        by_whom = _BY.get(type(event))
        if by_whom is not None:
            by = by_whom(e) or "guardian"
        elif isinstance(event, _GUARDIAN):
            by = "guardian"
        elif isinstance(event, _SYSTEM):
            by = "system"
        else:
            by = "hospital" if e.get("reported_on") is not None \
                or isinstance(event, ev.ReferralReceived) else "guardian"
        entries.append(TimelineEntry(on, text, by))
    entries.sort(key=lambda x: x.on)  # stable: same-day events keep their order
    return entries
