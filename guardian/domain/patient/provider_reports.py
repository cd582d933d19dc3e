"""Reconciling a provider's report of one pathway with what the provider reported before.
`report_events` is the rule (docs/formats.md, "How rows become events"): a pure function
from the pathway as the patient has it (None for a pathway reported for the first time),
what the provider last reported for it, and the new `ReferralReport`, to the events that
apply the report, in order. `ReportCommands.reconcile` fires them; it is the hot path of
every import, so the function builds plain lists and dicts and nothing else.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from guardian.domain import codes
from guardian.domain.errors import InvalidValue
from guardian.domain.pathway import Pathway, pathway_key
from guardian.domain.patient import events as ev
from guardian.domain.patient.state import PatientState
from guardian.domain.report import (
    CONTACT_FACTS,
    CORRECTION_FACTS,
    PATIENT_FACTS,
    RECEIVED_FACTS,
    REPORTED_FACTS,
    ReferralReport,
)

#: An event to fire: its class and its fields.
Fire = tuple[type[ev.PatientEvent], dict[str, Any]]

#: The event that records a correction of each administrative fact (`CORRECTION_FACTS`).
CORRECTIONS: dict[str, type[ev.ReportedEvent]] = {
    "local_patient_id": ev.LocalPatientIdCorrected,
    "ubrn": ev.UbrnCorrected,
    "treatment_function": ev.SpecialtyCorrected,
    "waiting_list_type": ev.WaitingListTypeCorrected,
    "received_on": ev.ReferralDateCorrected,
}


def report_events(
    report: ReferralReport,
    pathway: Pathway | None,
    reported: Mapping[str, Any],
    patient_details: bool = True,
) -> list[Fire]:
    """The events that apply `report`: one per fact that changed; nothing when none did.

    `pathway`: the pathway now, None when this report is its first (→ `ReferralReceived`,
    then the events its other facts imply). `reported`: what the provider last reported
    for the pathway; for a new pathway, the patient's own details (`PATIENT_FACTS`), which
    its `ReferralReceived` takes as reported. `patient_details`: whether the report's
    source may change the patient's own details (docs/access.md); otherwise the details it
    carries stay with its pathway (`ReferralDetailsReported`).
    """
    ids = {"provider": report.provider, "pathway_id": report.pathway_id,
           "reported_on": report.as_of}
    fire: list[Fire] = []
    new = pathway is None
    if new:  # `ReferralReceived` records these; the rest is compared with `before`
        received = {f: getattr(report, f) for f in RECEIVED_FACTS}
        fire.append((ev.ReferralReceived, {**received, **ids}))
        before: Mapping[str, Any] = {**{f: reported.get(f) for f in PATIENT_FACTS}, **received}
    else:
        before = reported
    left_list = pathway is not None and pathway.left_list_on is not None
    diff = {f for f in REPORTED_FACTS if before.get(f) != getattr(report, f)}
    if diff:
        _changes(fire, report, pathway, before, diff, patient_details, ids)
    if left_list:
        fire.append((ev.PathwayReturnedToWaitingList, ids))
    return fire


def _changes(fire: list[Fire], report: ReferralReport, pathway: Pathway | None,
             before: Mapping[str, Any], diff: set[str], patient_details: bool,
             ids: dict[str, Any]) -> None:
    """Append the events of the facts in `diff`, in the order docs/formats.md lists them."""
    r = report

    def changed(*facts: str) -> bool:
        return not diff.isdisjoint(facts)

    contact = r.contact_details()
    if not patient_details and changed("birth_date", *CONTACT_FACTS):
        fire.append((ev.ReferralDetailsReported, {"birth_date": r.birth_date, **contact, **ids}))
        diff = diff - {"birth_date", *CONTACT_FACTS}
    if changed("birth_date"):
        fire.append((ev.BirthDateCorrected, {"birth_date": r.birth_date, **ids}))
    if changed(*CONTACT_FACTS):
        fire.append((ev.ContactDetailsChanged, {**contact, **ids}))
    for fact in CORRECTION_FACTS:
        if fact in diff:
            fire.append((CORRECTIONS[fact], {fact: getattr(r, fact), **ids}))
    if changed("practice_code"):
        fire.append((ev.PracticeChanged, {"practice_code": r.practice_code, **ids}))
    if changed("priority"):
        fire.append((ev.PriorityChanged, {"priority": r.priority, **ids}))
    period_started = False
    if changed("clock_start"):
        if (r.rtt_status in codes.CLOCK_START_STATUSES and before.get("clock_end") is not None
                and r.clock_end is None and r.clock_start is not None):
            fire.append((ev.RttPeriodStarted, {"clock_start": r.clock_start,
                                               "rtt_status": r.rtt_status, **ids}))
            period_started = True
        else:
            previous = pathway.clock_start if pathway is not None else None
            fire.append((ev.ClockStartCorrected, {"clock_start": r.clock_start,
                                                  "previous": previous, **ids}))
    stop_reason_is_status = False
    if changed("clock_end"):
        if r.clock_end is not None:
            fire.append((ev.ClockStopped, _stop(r, on_first_report=pathway is None, ids=ids)))
            stop_reason_is_status = r.rtt_status in codes.CLOCK_STOP_STATUSES
        elif not period_started:  # a new period has no end date already
            fire.append((ev.ClockStopWithdrawn, ids))
    # A new period, or a stop whose reason is the status, records the status already.
    if changed("rtt_status") and not (period_started or stop_reason_is_status):
        fire.append((ev.RttStatusReported, {"rtt_status": r.rtt_status, **ids}))
    _bookings(fire, r, changed, ids)
    if changed("procedure_priority", "priority_reviewed_on"):
        fire.append((ev.ProcedurePriorityReviewed, {
            "procedure_priority": r.procedure_priority,
            "reviewed_on": r.priority_reviewed_on, **ids}))


def _stop(r: ReferralReport, on_first_report: bool, ids: dict[str, Any]) -> dict[str, Any]:
    """A reported end date: the status is its reason when it is a national stop reason."""
    code = r.rtt_status if r.rtt_status in codes.CLOCK_STOP_STATUSES else None
    return {"stopped_on": r.clock_end, "reason_code": code,
            "reason": codes.RTT_STATUS[code] if code else codes.REPORTED_BY_PROVIDER,
            "on_first_report": on_first_report, **ids}


def _bookings(fire: list[Fire], r: ReferralReport, changed: Callable[..., bool],
              ids: dict[str, Any]) -> None:
    """Appointments, admissions, attendances and missed appointments: set or withdrawn."""
    if changed("appointment_on"):
        if r.appointment_on is not None:
            fire.append((ev.AppointmentBooked, {"appointment_on": r.appointment_on, **ids}))
        else:
            fire.append((ev.BookingCancelled, {"kind": "appointment", **ids}))
    if changed("tci_on"):
        if r.tci_on is not None:
            fire.append((ev.TreatmentScheduled, {"tci_on": r.tci_on, **ids}))
        else:
            fire.append((ev.BookingCancelled, {"kind": "admission", **ids}))
    if changed("last_attended_on"):
        if r.last_attended_on is not None:
            fire.append((ev.PatientSeen, {"attended_on": r.last_attended_on, **ids}))
        else:
            fire.append((ev.AttendanceWithdrawn, ids))
    if changed("last_dna_on"):
        if r.last_dna_on is not None:
            fire.append((ev.DidNotAttend, {"dna_on": r.last_dna_on, **ids}))
        else:
            fire.append((ev.NonAttendanceWithdrawn, ids))


class ReportCommands(PatientState):
    """The commands that apply what a provider reports."""

    def reconcile(self, report: ReferralReport, patient_details: bool = True) -> None:
        """Apply a provider's report of one pathway: one event per fact that changed
        (`report_events`). `patient_details`: whether the report's source may change the
        patient's own details — the provider's extract, an admin, or a user whose scope
        covers every open pathway of the patient (docs/access.md)."""
        if report.nhs_number != self.nhs_number:
            raise InvalidValue(
                f"pathway {report.pathway_id!r} belongs to another NHS number",
                field="NHS_NUMBER",
            )
        key = pathway_key(report.provider, report.pathway_id)
        pathway = self.pathways.get(key)
        reported = self.identity() if pathway is None else self.reported[key]
        for event_class, fields in report_events(report, pathway, reported, patient_details):
            self.trigger_event(event_class, **fields)

    def leave_waiting_list(self, provider: str, pathway_id: str, on: dt.date) -> None:
        """A full snapshot no longer lists this open pathway (not a clock stop: 'check')."""
        p = self.pathway(provider, pathway_id)
        if p.left_list_on is not None or not p.is_open:
            return
        self.trigger_event(ev.PathwayLeftWaitingList, provider=provider,
                           pathway_id=pathway_id, on=on)
