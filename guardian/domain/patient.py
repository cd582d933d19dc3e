"""The Patient aggregate: one per referred-but-not-seen patient; each referral a pathway inside it.

Public methods are commands: they check the rules, raise a `DomainError` naming what is wrong,
do nothing when the same command was already applied, and otherwise trigger events. The
`@event` methods only change state (no I/O, no clock, no failure). Every event has an explicit,
stable topic under `guardian.Patient.` so renaming a class or method never breaks history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from guardian.domain import checkins, codes
from guardian.domain.errors import (
    ConflictingCommand,
    DomainError,
    InvalidValue,
    PathwayNotOpen,
    UnknownPathway,
)
from guardian.domain.pathway import (
    CheckIn,
    Contact,
    DeteriorationFlag,
    Diagnostic,
    Message,
    Pathway,
    PathwayKey,
    RttPeriod,
    SupportOffer,
    WorkupItem,
)
from guardian.domain.report import (
    CONTACT_FACTS,
    CORRECTION_FACTS,
    PATIENT_FACTS,
    REPORTED_FACTS,
    ReferralReport,
)
from guardian.domain.standards import STANDARDS, BankHolidays, Standard, wait_findings

T = "guardian.Patient."


@dataclass(frozen=True)
class WaitChanges:
    """What one wait-time sweep of a patient recorded."""

    breaches: int = 0
    at_risk: int = 0
    withdrawn: int = 0


def _topic(name: str) -> dict[str, str]:
    return {"topic": T + name}


class Patient(Aggregate):
    TOPIC = "guardian.Patient"

    class Created(Aggregate.Created):
        TOPIC = T + "Created"

    # ------------------------------------------------------------------ registration
    @event("Registered", **_topic("Registered"))
    def __init__(
        self,
        id: UUID,
        nhs_number: str,
        birth_date: dt.date,
        given_name: str | None = None,
        family_name: str | None = None,
        phone: str | None = None,
        email: str | None = None,
    ) -> None:
        self.nhs_number = nhs_number
        self.birth_date = birth_date
        self.given_name = given_name
        self.family_name = family_name
        self.phone = phone
        self.email = email
        self.pathways: dict[PathwayKey, Pathway] = {}
        # What the provider last reported, per pathway (fact name → value).
        self.reported: dict[PathwayKey, dict[str, Any]] = {}
        self.flags: dict[str, DeteriorationFlag] = {}
        self.contacts: dict[str, Contact] = {}
        self.support: dict[str, SupportOffer] = {}

    @classmethod
    def register(cls, patient_id: UUID, report: ReferralReport) -> Patient:
        return cls._create(  # type: ignore[return-value]
            cls.Registered,  # type: ignore[attr-defined]
            id=patient_id,
            nhs_number=report.nhs_number,
            birth_date=report.birth_date,
            given_name=report.given_name,
            family_name=report.family_name,
            phone=report.phone,
            email=report.email,
        )

    # ------------------------------------------------------------------ queries
    def pathway(self, provider: str, pathway_id: str) -> Pathway:
        try:
            return self.pathways[(provider, pathway_id)]
        except KeyError:
            raise UnknownPathway(
                f"pathway {pathway_id!r} at provider {provider!r} is not one of this "
                "patient's referrals",
                field="pathway",
            ) from None

    def reported_facts(self, provider: str, pathway_id: str) -> tuple[object, ...]:
        """The facts the provider last reported for this pathway, in `REPORTED_FACTS` order."""
        reported = self.reported[(provider, pathway_id)]
        return tuple(reported.get(f) for f in REPORTED_FACTS)

    def open_pathways(self) -> list[Pathway]:
        return [p for p in self.pathways.values() if p.is_open]

    def _open_pathway(self, provider: str, pathway_id: str) -> Pathway:
        p = self.pathway(provider, pathway_id)
        if p.closed_on is not None:
            raise PathwayNotOpen(f"pathway {pathway_id!r} was closed on {p.closed_on.isoformat()}")
        if p.clock_end is not None:
            raise PathwayNotOpen(
                f"pathway {pathway_id!r} has a stopped clock (stopped {p.clock_end.isoformat()})"
            )
        return p

    # ------------------------------------------------------------------ provider reports
    def reconcile(self, report: ReferralReport, patient_details: bool = True) -> None:
        """Apply a provider's report of one pathway: one event per fact that changed.

        `patient_details`: whether the report's source may change the patient's own details
        (date of birth, names, phone, e-mail): the provider's extract, an admin, or a user
        whose scope covers every open pathway of the patient (docs/access.md). Otherwise the
        details it carries are kept on its pathway (`ReferralDetailsReported`), for the
        coordinators to reconcile, and never written over the patient.

        The hot path of every import: events are triggered by class (the `@event` methods
        below still apply them), which skips the decorator's argument coercion.

        docs/formats.md, "How rows become events": a new pathway → ReferralReceived plus the
        events its other columns imply; a known pathway → one event per changed fact;
        unchanged → nothing.
        """
        if report.nhs_number != self.nhs_number:
            raise InvalidValue(
                f"pathway {report.pathway_id!r} belongs to another NHS number",
                field="NHS_NUMBER",
            )
        emit = self.trigger_event
        key = (report.provider, report.pathway_id)
        on = report.as_of
        new = key not in self.pathways
        if new:
            emit(
                Patient.ReferralReceived,
                provider=report.provider,
                pathway_id=report.pathway_id,
                practice_code=report.practice_code,
                treatment_function=report.treatment_function,
                priority=report.priority,
                waiting_list_type=report.waiting_list_type,
                received_on=report.received_on,
                clock_start=report.clock_start,
                ubrn=report.ubrn,
                local_patient_id=report.local_patient_id,
                rtt_status=report.rtt_status,
                reported_on=on,
            )
        before = self.reported[key]
        p = self.pathways[key]
        ids = {"provider": report.provider, "pathway_id": report.pathway_id, "reported_on": on}
        diff = {f for f in REPORTED_FACTS if before.get(f) != getattr(report, f)}
        if not diff:
            if p.left_list_on is not None:
                emit(Patient.PathwayReturnedToWaitingList, **ids)
            return

        def changed(*facts: str) -> bool:
            return not diff.isdisjoint(facts)

        if not patient_details and changed("birth_date", *CONTACT_FACTS):
            emit(
                Patient.ReferralDetailsReported,
                birth_date=report.birth_date,
                **{f: getattr(report, f) for f in CONTACT_FACTS},
                **ids,
            )
            diff -= {"birth_date", *CONTACT_FACTS}
        if changed("birth_date"):
            emit(Patient.BirthDateCorrected, birth_date=report.birth_date, **ids)
        if changed(*CONTACT_FACTS):
            emit(
                Patient.ContactDetailsChanged,
                **{f: getattr(report, f) for f in CONTACT_FACTS},
                **ids,
            )
        if changed(*CORRECTION_FACTS):
            emit(
                Patient.ProviderRecordCorrected,
                facts={f: getattr(report, f) for f in CORRECTION_FACTS},
                **ids,
            )
        if changed("practice_code"):
            emit(Patient.PracticeChanged, practice_code=report.practice_code, **ids)
        if changed("priority"):
            emit(Patient.PriorityChanged, priority=report.priority, **ids)
        if changed("clock_start"):
            starts_new_period = (
                report.rtt_status in codes.CLOCK_START_STATUSES
                and before.get("clock_end") is not None
                and report.clock_end is None
            )
            if starts_new_period and report.clock_start is not None:
                emit(
                    Patient.RttPeriodStarted,
                    clock_start=report.clock_start,
                    rtt_status=report.rtt_status,
                    **ids,
                )
            else:
                emit(
                    Patient.ClockStartCorrected,
                    clock_start=report.clock_start,
                    previous=p.clock_start,
                    **ids,
                )
        if changed("clock_end"):
            if report.clock_end is not None:
                code = report.rtt_status if report.rtt_status in codes.CLOCK_STOP_STATUSES else None
                emit(
                    Patient.ClockStopped,
                    stopped_on=report.clock_end,
                    reason_code=code,
                    reason=codes.RTT_STATUS[code] if code else codes.REPORTED_BY_PROVIDER,
                    on_first_report=new,
                    **ids,
                )
            elif self.reported[key].get("clock_end") is not None:
                emit(Patient.ClockStopWithdrawn, **ids)
        if self.reported[key].get("rtt_status") != report.rtt_status:
            emit(Patient.RttStatusReported, rtt_status=report.rtt_status, **ids)
        if changed("appointment_on"):
            if report.appointment_on is not None:
                emit(Patient.AppointmentBooked, appointment_on=report.appointment_on, **ids)
            else:
                emit(Patient.BookingCancelled, kind="appointment", **ids)
        if changed("tci_on"):
            if report.tci_on is not None:
                emit(Patient.TreatmentScheduled, tci_on=report.tci_on, **ids)
            else:
                emit(Patient.BookingCancelled, kind="admission", **ids)
        if changed("last_attended_on"):
            if report.last_attended_on is not None:
                emit(Patient.PatientSeen, attended_on=report.last_attended_on, **ids)
            else:
                emit(Patient.ProviderRecordCorrected, facts={"last_attended_on": None}, **ids)
        if changed("last_dna_on"):
            if report.last_dna_on is not None:
                emit(Patient.DidNotAttend, dna_on=report.last_dna_on, **ids)
            else:
                emit(Patient.ProviderRecordCorrected, facts={"last_dna_on": None}, **ids)
        if changed("procedure_priority", "priority_reviewed_on"):
            emit(
                Patient.ProcedurePriorityReviewed,
                procedure_priority=report.procedure_priority,
                reviewed_on=report.priority_reviewed_on,
                **ids,
            )
        if p.left_list_on is not None:
            emit(Patient.PathwayReturnedToWaitingList, **ids)

    def leave_waiting_list(self, provider: str, pathway_id: str, on: dt.date) -> None:
        """A full snapshot no longer lists this open pathway (not a clock stop: 'check')."""
        p = self.pathway(provider, pathway_id)
        if p.left_list_on is not None or not p.is_open:
            return
        self._left_waiting_list(provider=provider, pathway_id=pathway_id, on=on)

    # ------------------------------------------------------------------ workup
    def require_workup_item(
        self,
        provider: str,
        pathway_id: str,
        item_id: str,
        description: str,
        requested_from: str,
        on: dt.date,
    ) -> None:
        existing = self.pathway(provider, pathway_id).workup.get(item_id)
        if existing is not None:
            if existing.description == description.strip():
                return
            raise ConflictingCommand(f"workup item {item_id!r} was recorded with another text")
        self._open_pathway(provider, pathway_id)
        if not description.strip():
            raise InvalidValue("describe the workup item", field="description")
        if requested_from not in codes.WORKUP_OWNERS:
            raise InvalidValue(
                f"workup can be requested from the practice, the patient, the hospital or "
                f"Guardian, not {requested_from!r}",
                field="requested_from",
            )
        self._workup_item_required(
            provider=provider,
            pathway_id=pathway_id,
            item_id=item_id,
            description=description.strip(),
            requested_from=requested_from,
            required_on=on,
        )

    def complete_workup_item(
        self, provider: str, pathway_id: str, item_id: str, on: dt.date, by: str
    ) -> None:
        p = self.pathway(provider, pathway_id)
        item = p.workup.get(item_id)
        if item is None:
            raise DomainError(f"no workup item {item_id!r} on this pathway", field="item_id")
        if item.completed_on is not None:
            return
        if on < item.required_on:
            raise InvalidValue(
                f"completion date {on.isoformat()} is before the item was requested "
                f"({item.required_on.isoformat()})",
                field="on",
            )
        self._workup_item_completed(
            provider=provider, pathway_id=pathway_id, item_id=item_id, completed_on=on, by=by
        )
        if not p.outstanding_workup():
            self._workup_completed(provider=provider, pathway_id=pathway_id, completed_on=on)

    # ------------------------------------------------------------------ diagnostics
    def order_diagnostic(
        self, provider: str, pathway_id: str, test_id: str, test: str, on: dt.date
    ) -> None:
        existing = self.pathway(provider, pathway_id).diagnostics.get(test_id)
        if existing is not None:
            if existing.test == test and existing.ordered_on == on:
                return
            raise ConflictingCommand(f"diagnostic {test_id!r} was ordered with other details")
        p = self._open_pathway(provider, pathway_id)
        if test not in codes.DIAGNOSTIC_TESTS:
            raise InvalidValue(f"{test!r} is not a DM01 diagnostic test", field="test")
        if on < p.received_on:
            raise InvalidValue(
                f"a test cannot be ordered ({on.isoformat()}) before the referral was "
                f"received ({p.received_on.isoformat()})",
                field="on",
            )
        self._diagnostic_ordered(
            provider=provider, pathway_id=pathway_id, test_id=test_id, test=test, ordered_on=on
        )

    def record_diagnostic_result(
        self, provider: str, pathway_id: str, test_id: str, on: dt.date, result: str
    ) -> None:
        p = self.pathway(provider, pathway_id)
        d = p.diagnostics.get(test_id)
        if d is None:
            raise DomainError(
                f"no diagnostic {test_id!r} was ordered on this pathway", field="test_id"
            )
        if d.resulted_on is not None:
            if d.resulted_on == on and d.result == result:
                return
            raise ConflictingCommand(f"diagnostic {test_id!r} already has a result")
        if on < d.ordered_on:
            raise InvalidValue(
                f"a result ({on.isoformat()}) cannot come before the test was ordered "
                f"({d.ordered_on.isoformat()})",
                field="on",
            )
        self._diagnostic_resulted(
            provider=provider,
            pathway_id=pathway_id,
            test_id=test_id,
            resulted_on=on,
            result=result,
        )

    def communicate_diagnosis(
        self, provider: str, pathway_id: str, on: dt.date, outcome: str
    ) -> None:
        """Diagnosis (or all-clear) told to the patient: stops the 28-day FDS clock
        (docs/rules.md §2)."""
        p = self.pathway(provider, pathway_id)
        codes.check_code(codes.DIAGNOSIS_OUTCOMES, outcome, "outcome", "what the patient was told")
        if p.diagnosis_communicated_on is not None:
            if p.diagnosis_communicated_on == on and p.diagnosis_outcome == outcome:
                return
            raise ConflictingCommand("a diagnosis was already communicated on this pathway")
        if on < p.received_on:
            raise InvalidValue("the diagnosis cannot come before the referral", field="on")
        self._diagnosis_communicated(
            provider=provider, pathway_id=pathway_id, communicated_on=on, outcome=outcome
        )

    # ------------------------------------------------------------------ clock and closure
    def stop_clock(self, provider: str, pathway_id: str, on: dt.date, reason_code: str) -> None:
        """Record an RTT clock stop with its national reason (docs/rules.md §5, §10)."""
        p = self.pathway(provider, pathway_id)
        if reason_code not in codes.CLOCK_STOP_STATUSES:
            raise InvalidValue(
                f"{reason_code!r} is not a clock-stop reason (30–36)", field="reason_code"
            )
        if p.clock_end is not None:
            if p.clock_end == on and p.stop_reason == reason_code:
                return
            raise PathwayNotOpen(f"the clock already stopped on {p.clock_end.isoformat()}")
        if p.clock_start is not None and on < p.clock_start:
            raise InvalidValue(
                f"a clock cannot stop ({on.isoformat()}) before it started "
                f"({p.clock_start.isoformat()})",
                field="on",
            )
        self._clock_stopped(
            provider=provider,
            pathway_id=pathway_id,
            stopped_on=on,
            reason_code=reason_code,
            reason=codes.RTT_STATUS[reason_code],
            reported_on=None,
            on_first_report=False,
        )

    def close_pathway(self, provider: str, pathway_id: str, on: dt.date, reason: str) -> None:
        p = self.pathway(provider, pathway_id)
        if p.closed_on is not None:
            return
        codes.check_code(codes.CLOSE_REASONS, reason, "reason", "a reason for closing a pathway")
        self._pathway_closed(provider=provider, pathway_id=pathway_id, on=on, reason=reason)

    def assign_coordinator(self, provider: str, pathway_id: str, coordinator: str) -> None:
        p = self.pathway(provider, pathway_id)
        if p.coordinator == coordinator:
            return
        self._coordinator_assigned(
            provider=provider, pathway_id=pathway_id, coordinator=coordinator
        )

    # ------------------------------------------------------------------ breaches
    def record_breach(
        self, provider: str, pathway_id: str, standard: str, subject: str, breach_on: dt.date
    ) -> None:
        """Record a wait breach once per pathway × standard × subject (docs/rules.md §3)."""
        p = self.pathway(provider, pathway_id)
        if (standard, subject) in p.breaches:
            return
        self._wait_breached(
            provider=provider,
            pathway_id=pathway_id,
            standard=standard,
            subject=subject,
            breach_on=breach_on,
        )

    def withdraw_breach(
        self, provider: str, pathway_id: str, standard: str, subject: str, reason: str
    ) -> None:
        p = self.pathway(provider, pathway_id)
        if (standard, subject) not in p.breaches:
            return
        self._breach_withdrawn(
            provider=provider,
            pathway_id=pathway_id,
            standard=standard,
            subject=subject,
            reason=reason,
        )

    # ------------------------------------------------------------------ the wait-time sweep
    def check_waits(
        self,
        on: dt.date,
        standards: Iterable[Standard] = STANDARDS,
        bank_holidays: BankHolidays | None = None,
    ) -> WaitChanges:
        """Record what the standards say has happened by `on` (docs/rules.md §3, §4).

        For each pathway: withdraws recorded breaches the facts no longer support, records
        each breach due by `on` dated on its breach day (on a stopped or closed pathway too,
        when Guardian watched it waiting on that day), and an at-risk warning for each
        outstanding step inside its window on `on`. Running it again, or for an earlier
        day, records nothing new.
        """
        return self._record_findings(self.pathways.values(), on, standards, bank_holidays)

    def settle_ended_pathways(
        self,
        standards: Iterable[Standard] = STANDARDS,
        bank_holidays: BankHolidays | None = None,
    ) -> WaitChanges:
        """Record the breaches a stop or closure leaves behind, whatever the date today.

        docs/rules.md §3: a pathway Guardian watched waiting, whose clock was still running
        on a breach day, has breached even when its stop (dated on or after that day)
        arrives before any sweep ran on or after it. The command that brings the stop or
        closure calls this, so the result never depends on when the sweep ran. Every such
        breach is due (its day is on or before the stop), and no at-risk warning is owed
        for a step that is over. Recorded breaches the facts no longer support are
        withdrawn. Open pathways are left to the sweep.
        """
        ended = [p for p in self.pathways.values()
                 if not p.is_open and (p.watched or p.breaches)]
        return self._record_findings(ended, dt.date.max, standards, bank_holidays)

    def _record_findings(
        self,
        pathways: Iterable[Pathway],
        on: dt.date,
        standards: Iterable[Standard],
        bank_holidays: BankHolidays | None,
    ) -> WaitChanges:
        standards = tuple(standards)
        flags = tuple(self.flags.values())
        emit = self.trigger_event
        breaches = at_risk = withdrawn = 0
        for p in list(pathways):
            if not p.is_open and not p.watched and not p.breaches:
                continue
            ids = {"provider": p.provider, "pathway_id": p.pathway_id}
            for f in wait_findings(p, flags, standards, bank_holidays):
                if f.kind == "withdraw":
                    emit(Patient.BreachWithdrawn, standard=f.standard, subject=f.subject,
                         reason=f.reason, **ids)
                    withdrawn += 1
                elif not f.due(on):
                    continue
                elif f.kind == "breach":
                    emit(Patient.WaitBreached, standard=f.standard, subject=f.subject,
                         breach_on=f.due_on, **ids)
                    breaches += 1
                else:
                    assert f.deadline is not None
                    emit(Patient.StepAtRisk, standard=f.standard, subject=f.subject,
                         at_risk_from=f.due_on, last_day_within=f.deadline.last_day_within,
                         **ids)
                    at_risk += 1
        return WaitChanges(breaches, at_risk, withdrawn)

    # ------------------------------------------------------------------ Waiting Well check-ins
    def check_ins(
        self, on: dt.date, schedule: checkins.CheckInSchedule = checkins.DEFAULT_SCHEDULE
    ) -> int:
        """Record a `CheckInDue` on each pathway whose check-in has fallen due by `on`
        (docs/rules.md §8, dated on the day it fell due); return how many."""
        recorded = 0
        for p in list(self.pathways.values()):
            due = checkins.check_in_due(p, on, schedule)
            if due is None:
                continue
            self.trigger_event(
                Patient.CheckInDue, provider=p.provider, pathway_id=p.pathway_id,
                due_on=due.due_on, reason=due.reason, wait_days=due.wait_days,
            )
            recorded += 1
        return recorded

    def record_check_in_outcome(
        self,
        provider: str,
        pathway_id: str,
        outcome: str,
        on: dt.date,
        by: str,
        note: str = "",
        stop_reason: str | None = None,
    ) -> None:
        """The coordinator records how a check-in went (docs/rules.md §8).

        no-change: validated, still needs care. worse: validated, and a deterioration flag
        is raised for clinical review. no-longer-needed / treated-elsewhere: validated off
        the list, the clock stopped on `on` with `stop_reason` (default 34, "decision not
        to treat / no further contact"). no-response: one unanswered attempt at the open
        check-in; the second closes it unanswered. The same outcome again on the same day
        is a no-op.
        """
        codes.check_code(codes.CHECK_IN_OUTCOMES, outcome, "outcome", "a check-in outcome")
        p = self.pathway(provider, pathway_id)
        if p.last_check_in_outcome == (outcome, on):
            return
        p = self._open_pathway(provider, pathway_id)
        if on < p.received_on:
            raise InvalidValue("a check-in cannot come before the referral", field="on")
        check_in = p.check_in
        if check_in is not None and on < check_in.due_on:
            raise InvalidValue(
                f"the open check-in is due on {check_in.due_on.isoformat()}; record its "
                "outcome on or after that day", field="on")
        if outcome == "no-response" and check_in is None:
            raise DomainError("no check-in is due on this pathway to record no response to",
                              field="outcome")
        code = None
        if outcome in checkins.REMOVING:
            code = stop_reason or checkins.DEFAULT_REMOVAL_REASON
            if code not in codes.CLOCK_STOP_STATUSES:
                raise InvalidValue(f"{code!r} is not a clock-stop reason (30–36)",
                                   field="stop_reason")
            if p.clock_start is not None and on < p.clock_start:
                raise InvalidValue("a clock cannot stop before it started", field="on")
        note = note.strip()
        self._check_in_outcome_recorded(
            provider=provider,
            pathway_id=pathway_id,
            treatment_function=p.treatment_function,
            practice_code=p.practice_code,
            due_on=check_in.due_on if check_in else None,
            outcome=outcome,
            on=on,
            attempt=(check_in.attempts if check_in else 0) + 1,
            by=by,
            note=note,
        )
        if outcome == "worse":
            flag_id = f"check-in:{provider}:{pathway_id}:{on.isoformat()}"
            if flag_id not in self.flags:
                self._deterioration_flagged(
                    flag_id=flag_id, raised_on=on,
                    summary=note or "Reported worse at a Waiting Well check-in",
                    source="check-in", provider=provider, pathway_id=pathway_id,
                )
        elif code is not None:
            self._clock_stopped(
                provider=provider, pathway_id=pathway_id, stopped_on=on, reason_code=code,
                reason=codes.RTT_STATUS[code], reported_on=None,
            )

    # ------------------------------------------------------------------ deterioration
    def flag_deterioration(
        self,
        flag_id: str,
        on: dt.date,
        summary: str,
        source: str,
        provider: str | None = None,
        pathway_id: str | None = None,
    ) -> None:
        if provider is not None and pathway_id is not None:
            self.pathway(provider, pathway_id)
        if not summary.strip():
            raise InvalidValue("say what has got worse", field="summary")
        codes.check_code(codes.DETERIORATION_SOURCES, source, "source", "who reported it")
        existing = self.flags.get(flag_id)
        if existing is not None:
            if existing.summary == summary.strip():
                return
            raise ConflictingCommand(f"flag {flag_id!r} was raised with another text")
        self._deterioration_flagged(
            flag_id=flag_id,
            raised_on=on,
            summary=summary.strip(),
            source=source,
            provider=provider,
            pathway_id=pathway_id,
        )

    def review_deterioration(self, flag_id: str, on: dt.date, outcome: str) -> None:
        flag = self.flags.get(flag_id)
        if flag is None:
            raise DomainError(f"no deterioration flag {flag_id!r}", field="flag_id")
        if flag.reviewed_on is not None:
            return
        if on < flag.raised_on:
            raise InvalidValue("a review cannot come before the flag was raised", field="on")
        codes.check_code(codes.REVIEW_OUTCOMES, outcome, "outcome", "a review outcome")
        self._deterioration_reviewed(flag_id=flag_id, reviewed_on=on, outcome=outcome)

    # ------------------------------------------------------------------ contact and support
    def log_contact(
        self, contact_id: str, on: dt.date, channel: str, summary: str, by: str,
        provider: str | None = None, pathway_id: str | None = None,
    ) -> None:
        """A contact with the patient about one referral (`provider`, `pathway_id`): only
        those who may see that referral see it (docs/access.md)."""
        if provider is not None and pathway_id is not None:
            self.pathway(provider, pathway_id)
        if channel not in codes.CONTACT_CHANNELS:
            raise InvalidValue(
                f"channel must be one of {', '.join(codes.CONTACT_CHANNELS)}", field="channel"
            )
        if not summary.strip():
            raise InvalidValue("summarise the contact", field="summary")
        if contact_id in self.contacts:
            return
        self._contact_logged(
            contact_id=contact_id, on=on, channel=channel, summary=summary.strip(), by=by,
            provider=provider, pathway_id=pathway_id,
        )

    def offer_support(self, offer_id: str, kind: str, on: dt.date, note: str = "",
                      provider: str | None = None, pathway_id: str | None = None) -> None:
        """Tier II, community or lifestyle support offered while waiting for one referral."""
        if provider is not None and pathway_id is not None:
            self.pathway(provider, pathway_id)
        if kind not in codes.SUPPORT_KINDS:
            raise InvalidValue(f"{kind!r} is not a support service Guardian offers", field="kind")
        if offer_id in self.support:
            return
        self._support_offered(offer_id=offer_id, kind=kind, on=on, note=note.strip(),
                              provider=provider, pathway_id=pathway_id)

    # ------------------------------------------------------------------ messages
    def receive_message(
        self,
        provider: str,
        pathway_id: str,
        message_id: str,
        party: str,
        at: dt.datetime,
        on: dt.date,
        body: str,
        sender: str,
    ) -> None:
        p = self.pathway(provider, pathway_id)
        self._check_message(party, body, at)
        if message_id in p.messages:
            return
        self._message_received(
            provider=provider,
            pathway_id=pathway_id,
            message_id=message_id,
            party=party,
            at=at,
            on=on,
            body=body.strip(),
            sender=sender,
        )

    def send_message(
        self,
        provider: str,
        pathway_id: str,
        message_id: str,
        party: str,
        at: dt.datetime,
        on: dt.date,
        body: str,
        sender: str,
        in_reply_to: str | None = None,
    ) -> None:
        """Guardian sends a message; it answers the party's unanswered messages on the pathway."""
        p = self.pathway(provider, pathway_id)
        self._check_message(party, body, at)
        if in_reply_to is not None and in_reply_to not in p.messages:
            raise DomainError(f"no message {in_reply_to!r} to reply to", field="in_reply_to")
        if message_id in p.messages:
            return
        self._message_sent(
            provider=provider,
            pathway_id=pathway_id,
            message_id=message_id,
            party=party,
            at=at,
            on=on,
            body=body.strip(),
            sender=sender,
            in_reply_to=in_reply_to,
        )

    @staticmethod
    def _check_message(party: str, body: str, at: dt.datetime) -> None:
        if party not in codes.MESSAGE_PARTIES:
            raise InvalidValue(
                f"messages go to or from the GP, the hospital or the patient, not {party!r}",
                field="party",
            )
        if not body.strip():
            raise InvalidValue("the message is empty", field="body")
        if at.tzinfo is None:
            raise InvalidValue("message times must carry a time zone", field="at")

    # ================================================================== events
    @event("ReferralReceived", **_topic("ReferralReceived"))
    def _referral_received(
        self,
        provider: str,
        pathway_id: str,
        practice_code: str,
        treatment_function: str,
        priority: int,
        waiting_list_type: str,
        received_on: dt.date,
        clock_start: dt.date | None,
        ubrn: str | None,
        local_patient_id: str | None,
        rtt_status: str | None,
        reported_on: dt.date | None,
    ) -> None:
        key = (provider, pathway_id)
        self.pathways[key] = Pathway(
            provider=provider,
            pathway_id=pathway_id,
            practice_code=practice_code,
            treatment_function=treatment_function,
            priority=priority,
            waiting_list_type=waiting_list_type,
            received_on=received_on,
            clock_start=clock_start,
            ubrn=ubrn,
            local_patient_id=local_patient_id,
            rtt_status=rtt_status,
            reported_as_of=reported_on,
        )
        reported = {f: getattr(self, f) for f in PATIENT_FACTS}
        reported.update(
            local_patient_id=local_patient_id,
            practice_code=practice_code,
            ubrn=ubrn,
            treatment_function=treatment_function,
            priority=priority,
            waiting_list_type=waiting_list_type,
            received_on=received_on,
            clock_start=clock_start,
            rtt_status=rtt_status,
        )
        self.reported[key] = reported

    def _note(
        self,
        provider: str | None,
        pathway_id: str | None,
        reported_on: dt.date | None,
        **facts: Any,
    ) -> None:
        """Remember what the provider reported (only for facts that came from an extract)."""
        if reported_on is None or provider is None or pathway_id is None:
            return
        key = (provider, pathway_id)
        self.reported[key].update(facts)
        self.pathways[key].reported_as_of = reported_on

    @event("ReferralDetailsReported", **_topic("ReferralDetailsReported"))
    def _referral_details_reported(
        self,
        provider: str,
        pathway_id: str,
        birth_date: dt.date,
        given_name: str | None,
        family_name: str | None,
        phone: str | None,
        email: str | None,
        reported_on: dt.date | None,
    ) -> None:
        """Patient details that came with a referral from a source without authority over
        the patient's own details: kept with that pathway only."""
        self._note(provider, pathway_id, reported_on, birth_date=birth_date,
                   given_name=given_name, family_name=family_name, phone=phone, email=email)

    @event("BirthDateCorrected", **_topic("BirthDateCorrected"))
    def _birth_date_corrected(
        self, provider: str, pathway_id: str, birth_date: dt.date, reported_on: dt.date | None
    ) -> None:
        self.birth_date = birth_date
        self._note(provider, pathway_id, reported_on, birth_date=birth_date)

    @event("ContactDetailsChanged", **_topic("ContactDetailsChanged"))
    def _contact_details_changed(
        self,
        provider: str | None,
        pathway_id: str | None,
        given_name: str | None,
        family_name: str | None,
        phone: str | None,
        email: str | None,
        reported_on: dt.date | None,
    ) -> None:
        self.given_name, self.family_name = given_name, family_name
        self.phone, self.email = phone, email
        self._note(
            provider,
            pathway_id,
            reported_on,
            given_name=given_name,
            family_name=family_name,
            phone=phone,
            email=email,
        )

    @event("ProviderRecordCorrected", **_topic("ProviderRecordCorrected"))
    def _provider_record_corrected(
        self, provider: str, pathway_id: str, facts: dict[str, Any], reported_on: dt.date | None
    ) -> None:
        p = self.pathways[(provider, pathway_id)]
        for name, value in facts.items():
            setattr(p, name, value)
        self._note(provider, pathway_id, reported_on, **facts)

    @event("PracticeChanged", **_topic("PracticeChanged"))
    def _practice_changed(
        self, provider: str, pathway_id: str, practice_code: str, reported_on: dt.date | None
    ) -> None:
        self.pathways[(provider, pathway_id)].practice_code = practice_code
        self._note(provider, pathway_id, reported_on, practice_code=practice_code)

    @event("PriorityChanged", **_topic("PriorityChanged"))
    def _priority_changed(
        self, provider: str, pathway_id: str, priority: int, reported_on: dt.date | None
    ) -> None:
        self.pathways[(provider, pathway_id)].priority = priority
        self._note(provider, pathway_id, reported_on, priority=priority)

    @event("ClockStartCorrected", **_topic("ClockStartCorrected"))
    def _clock_start_corrected(
        self,
        provider: str,
        pathway_id: str,
        clock_start: dt.date | None,
        previous: dt.date | None,
        reported_on: dt.date | None,
    ) -> None:
        self.pathways[(provider, pathway_id)].clock_start = clock_start
        self._note(provider, pathway_id, reported_on, clock_start=clock_start)

    @event("RttPeriodStarted", **_topic("RttPeriodStarted"))
    def _rtt_period_started(
        self,
        provider: str,
        pathway_id: str,
        clock_start: dt.date,
        rtt_status: str | None,
        reported_on: dt.date | None,
    ) -> None:
        p = self.pathways[(provider, pathway_id)]
        if p.clock_start is not None:
            p.earlier_periods.append(RttPeriod(p.clock_start, p.clock_end, p.stop_reason))
        p.clock_start, p.clock_end, p.stop_reason = clock_start, None, None
        p.rtt_status = rtt_status
        p.watched = True
        p.breaches.clear()
        p.at_risk.clear()
        p.check_in, p.last_check_in_due, p.validated_on = None, None, None
        p.last_check_in_outcome = None
        self._note(
            provider,
            pathway_id,
            reported_on,
            clock_start=clock_start,
            clock_end=None,
            rtt_status=rtt_status,
        )

    @event("ClockStopped", **_topic("ClockStopped"))
    def _clock_stopped(
        self,
        provider: str,
        pathway_id: str,
        stopped_on: dt.date,
        reason_code: str | None,
        reason: str,
        reported_on: dt.date | None,
        on_first_report: bool = False,
    ) -> None:
        p = self.pathways[(provider, pathway_id)]
        p.clock_end = stopped_on
        p.stop_reason = reason_code or reason
        if on_first_report:  # never seen waiting: no breach is owed (docs/rules.md §3)
            p.watched = False
        if reason_code is None:
            self._note(provider, pathway_id, reported_on, clock_end=stopped_on)
        else:
            p.rtt_status = reason_code
            self._note(
                provider, pathway_id, reported_on, clock_end=stopped_on, rtt_status=reason_code
            )

    @event("ClockStopWithdrawn", **_topic("ClockStopWithdrawn"))
    def _clock_stop_withdrawn(
        self, provider: str, pathway_id: str, reported_on: dt.date | None
    ) -> None:
        p = self.pathways[(provider, pathway_id)]
        p.clock_end, p.stop_reason = None, None
        p.watched = True
        self._note(provider, pathway_id, reported_on, clock_end=None)

    @event("RttStatusReported", **_topic("RttStatusReported"))
    def _rtt_status_reported(
        self, provider: str, pathway_id: str, rtt_status: str | None, reported_on: dt.date | None
    ) -> None:
        self.pathways[(provider, pathway_id)].rtt_status = rtt_status
        self._note(provider, pathway_id, reported_on, rtt_status=rtt_status)

    @event("AppointmentBooked", **_topic("AppointmentBooked"))
    def _appointment_booked(
        self, provider: str, pathway_id: str, appointment_on: dt.date, reported_on: dt.date | None
    ) -> None:
        self.pathways[(provider, pathway_id)].appointment_on = appointment_on
        self._note(provider, pathway_id, reported_on, appointment_on=appointment_on)

    @event("TreatmentScheduled", **_topic("TreatmentScheduled"))
    def _treatment_scheduled(
        self, provider: str, pathway_id: str, tci_on: dt.date, reported_on: dt.date | None
    ) -> None:
        self.pathways[(provider, pathway_id)].tci_on = tci_on
        self._note(provider, pathway_id, reported_on, tci_on=tci_on)

    @event("BookingCancelled", **_topic("BookingCancelled"))
    def _booking_cancelled(
        self, provider: str, pathway_id: str, kind: str, reported_on: dt.date | None
    ) -> None:
        p = self.pathways[(provider, pathway_id)]
        if kind == "appointment":
            p.appointment_on = None
            self._note(provider, pathway_id, reported_on, appointment_on=None)
        else:
            p.tci_on = None
            self._note(provider, pathway_id, reported_on, tci_on=None)

    @event("PatientSeen", **_topic("PatientSeen"))
    def _patient_seen(
        self, provider: str, pathway_id: str, attended_on: dt.date, reported_on: dt.date | None
    ) -> None:
        p = self.pathways[(provider, pathway_id)]
        p.last_attended_on = attended_on
        if p.first_seen_on is None or attended_on < p.first_seen_on:
            p.first_seen_on = attended_on
        if p.appointment_on is not None and p.appointment_on <= attended_on:
            p.appointment_on = None
        self._note(provider, pathway_id, reported_on, last_attended_on=attended_on)

    @event("DidNotAttend", **_topic("DidNotAttend"))
    def _did_not_attend(
        self, provider: str, pathway_id: str, dna_on: dt.date, reported_on: dt.date | None
    ) -> None:
        self.pathways[(provider, pathway_id)].last_dna_on = dna_on
        self._note(provider, pathway_id, reported_on, last_dna_on=dna_on)

    @event("ProcedurePriorityReviewed", **_topic("ProcedurePriorityReviewed"))
    def _procedure_priority_reviewed(
        self,
        provider: str,
        pathway_id: str,
        procedure_priority: str | None,
        reviewed_on: dt.date | None,
        reported_on: dt.date | None,
    ) -> None:
        p = self.pathways[(provider, pathway_id)]
        if procedure_priority != p.procedure_priority:
            p.procedure_priority_since = reported_on
        p.procedure_priority = procedure_priority
        p.priority_reviewed_on = reviewed_on
        self._note(
            provider,
            pathway_id,
            reported_on,
            procedure_priority=procedure_priority,
            priority_reviewed_on=reviewed_on,
        )

    @event("PathwayLeftWaitingList", **_topic("PathwayLeftWaitingList"))
    def _left_waiting_list(self, provider: str, pathway_id: str, on: dt.date) -> None:
        self.pathways[(provider, pathway_id)].left_list_on = on

    @event("PathwayReturnedToWaitingList", **_topic("PathwayReturnedToWaitingList"))
    def _returned_to_waiting_list(
        self, provider: str, pathway_id: str, reported_on: dt.date | None
    ) -> None:
        self.pathways[(provider, pathway_id)].left_list_on = None

    @event("WorkupItemRequired", **_topic("WorkupItemRequired"))
    def _workup_item_required(
        self,
        provider: str,
        pathway_id: str,
        item_id: str,
        description: str,
        requested_from: str,
        required_on: dt.date,
    ) -> None:
        p = self.pathways[(provider, pathway_id)]
        p.workup[item_id] = WorkupItem(item_id, description, requested_from, required_on)
        p.workup_completed_on = None

    @event("WorkupItemCompleted", **_topic("WorkupItemCompleted"))
    def _workup_item_completed(
        self, provider: str, pathway_id: str, item_id: str, completed_on: dt.date, by: str
    ) -> None:
        item = self.pathways[(provider, pathway_id)].workup[item_id]
        item.completed_on, item.completed_by = completed_on, by

    @event("WorkupCompleted", **_topic("WorkupCompleted"))
    def _workup_completed(self, provider: str, pathway_id: str, completed_on: dt.date) -> None:
        self.pathways[(provider, pathway_id)].workup_completed_on = completed_on

    @event("DiagnosticOrdered", **_topic("DiagnosticOrdered"))
    def _diagnostic_ordered(
        self, provider: str, pathway_id: str, test_id: str, test: str, ordered_on: dt.date
    ) -> None:
        self.pathways[(provider, pathway_id)].diagnostics[test_id] = Diagnostic(
            test_id, test, ordered_on
        )

    @event("DiagnosticResulted", **_topic("DiagnosticResulted"))
    def _diagnostic_resulted(
        self, provider: str, pathway_id: str, test_id: str, resulted_on: dt.date, result: str
    ) -> None:
        d = self.pathways[(provider, pathway_id)].diagnostics[test_id]
        d.resulted_on, d.result = resulted_on, result

    @event("DiagnosisCommunicated", **_topic("DiagnosisCommunicated"))
    def _diagnosis_communicated(
        self, provider: str, pathway_id: str, communicated_on: dt.date, outcome: str
    ) -> None:
        p = self.pathways[(provider, pathway_id)]
        p.diagnosis_communicated_on, p.diagnosis_outcome = communicated_on, outcome

    @event("PathwayClosed", **_topic("PathwayClosed"))
    def _pathway_closed(self, provider: str, pathway_id: str, on: dt.date, reason: str) -> None:
        p = self.pathways[(provider, pathway_id)]
        p.closed_on, p.close_reason = on, reason

    @event("CoordinatorAssigned", **_topic("CoordinatorAssigned"))
    def _coordinator_assigned(self, provider: str, pathway_id: str, coordinator: str) -> None:
        self.pathways[(provider, pathway_id)].coordinator = coordinator

    @event("WaitBreached", **_topic("WaitBreached"))
    def _wait_breached(
        self, provider: str, pathway_id: str, standard: str, subject: str, breach_on: dt.date
    ) -> None:
        self.pathways[(provider, pathway_id)].breaches[(standard, subject)] = breach_on

    @event("BreachWithdrawn", **_topic("BreachWithdrawn"))
    def _breach_withdrawn(
        self, provider: str, pathway_id: str, standard: str, subject: str, reason: str
    ) -> None:
        self.pathways[(provider, pathway_id)].breaches.pop((standard, subject), None)

    @event("StepAtRisk", **_topic("StepAtRisk"))
    def _step_at_risk(
        self,
        provider: str,
        pathway_id: str,
        standard: str,
        subject: str,
        at_risk_from: dt.date,
        last_day_within: dt.date,
    ) -> None:
        self.pathways[(provider, pathway_id)].at_risk[(standard, subject)] = last_day_within

    @event("CheckInDue", **_topic("CheckInDue"))
    def _check_in_due(
        self, provider: str, pathway_id: str, due_on: dt.date, reason: str, wait_days: int
    ) -> None:
        p = self.pathways[(provider, pathway_id)]
        p.check_in = CheckIn(due_on, reason)
        p.last_check_in_due = due_on

    @event("CheckInOutcomeRecorded", **_topic("CheckInOutcomeRecorded"))
    def _check_in_outcome_recorded(
        self,
        provider: str,
        pathway_id: str,
        treatment_function: str,
        practice_code: str,
        due_on: dt.date | None,
        outcome: str,
        on: dt.date,
        attempt: int,
        by: str,
        note: str,
    ) -> None:
        p = self.pathways[(provider, pathway_id)]
        p.last_check_in_outcome = (outcome, on)
        if outcome in checkins.VALIDATING:
            p.validated_on = on
        if outcome != "no-response":
            p.check_in = None
        elif p.check_in is not None:
            p.check_in.attempts = attempt
            if attempt >= checkins.NO_RESPONSE_ATTEMPTS:
                p.check_in = None

    @event("DeteriorationFlagged", **_topic("DeteriorationFlagged"))
    def _deterioration_flagged(
        self,
        flag_id: str,
        raised_on: dt.date,
        summary: str,
        source: str,
        provider: str | None,
        pathway_id: str | None,
    ) -> None:
        key = (provider, pathway_id) if provider is not None and pathway_id is not None else None
        self.flags[flag_id] = DeteriorationFlag(flag_id, raised_on, summary, source, key)

    @event("DeteriorationReviewed", **_topic("DeteriorationReviewed"))
    def _deterioration_reviewed(self, flag_id: str, reviewed_on: dt.date, outcome: str) -> None:
        flag = self.flags[flag_id]
        flag.reviewed_on, flag.review_outcome = reviewed_on, outcome

    @event("ContactLogged", **_topic("ContactLogged"))
    def _contact_logged(
        self, contact_id: str, on: dt.date, channel: str, summary: str, by: str,
        provider: str | None = None, pathway_id: str | None = None,
    ) -> None:
        key = (provider, pathway_id) if provider is not None and pathway_id is not None else None
        self.contacts[contact_id] = Contact(contact_id, on, channel, summary, by, key)

    @event("SupportOffered", **_topic("SupportOffered"))
    def _support_offered(self, offer_id: str, kind: str, on: dt.date, note: str,
                         provider: str | None = None, pathway_id: str | None = None) -> None:
        key = (provider, pathway_id) if provider is not None and pathway_id is not None else None
        self.support[offer_id] = SupportOffer(offer_id, kind, on, note, key)

    @event("MessageReceived", **_topic("MessageReceived"))
    def _message_received(
        self,
        provider: str,
        pathway_id: str,
        message_id: str,
        party: str,
        at: dt.datetime,
        on: dt.date,
        body: str,
        sender: str,
    ) -> None:
        self.pathways[(provider, pathway_id)].messages[message_id] = Message(
            message_id, "in", party, on, at, body, sender
        )

    @event("MessageSent", **_topic("MessageSent"))
    def _message_sent(
        self,
        provider: str,
        pathway_id: str,
        message_id: str,
        party: str,
        at: dt.datetime,
        on: dt.date,
        body: str,
        sender: str,
        in_reply_to: str | None,
    ) -> None:
        p = self.pathways[(provider, pathway_id)]
        for m in p.messages.values():
            if (
                m.direction == "in"
                and m.answered_on is None
                and (m.message_id == in_reply_to or m.party == party)
            ):
                m.answered_on = on
        p.messages[message_id] = Message(
            message_id, "out", party, on, at, body, sender, in_reply_to
        )
