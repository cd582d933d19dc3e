"""The care Guardian organises on a pathway: agreed workup, diagnostic tests, the diagnosis
told to the patient, a clock stop, closure and the coordinator (docs/rules.md §2, §5).

Each command checks the rules, raises a `DomainError` naming what is wrong, does nothing
when the same command was already applied, and otherwise fires its event
(`events/care.py`, `events/clock.py`).
"""

from __future__ import annotations

import datetime as dt

from guardian.domain import codes
from guardian.domain.errors import ConflictingCommand, DomainError, InvalidValue, PathwayNotOpen
from guardian.domain.patient import events as ev
from guardian.domain.patient.state import PatientState, refuse_before


class CareCommands(PatientState):
    """Workup, diagnostics, diagnosis, clock stop, closure and coordinator."""

    # ------------------------------------------------------------------ workup
    def require_workup_item(self, provider: str, pathway_id: str, item_id: str,
                            description: str, requested_from: str, on: dt.date) -> None:
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
        self.trigger_event(ev.WorkupItemRequired, provider=provider, pathway_id=pathway_id,
                           item_id=item_id, description=description.strip(),
                           requested_from=requested_from, required_on=on)

    def complete_workup_item(self, provider: str, pathway_id: str, item_id: str, on: dt.date,
                             by: str) -> None:
        """Record an item done; the last outstanding one completes the workup."""
        p = self.pathway(provider, pathway_id)
        item = p.workup.get(item_id)
        if item is None:
            raise DomainError(f"no workup item {item_id!r} on this pathway", field="item_id")
        if item.completed_on is not None:
            return
        refuse_before(on, item.required_on,
                      f"completion date {on.isoformat()} is before the item was requested "
                      f"({item.required_on.isoformat()})")
        self.trigger_event(ev.WorkupItemCompleted, provider=provider, pathway_id=pathway_id,
                           item_id=item_id, completed_on=on, by=by)
        if not p.outstanding_workup():
            self.trigger_event(ev.WorkupCompleted, provider=provider, pathway_id=pathway_id,
                               completed_on=on)

    # ------------------------------------------------------------------ diagnostics
    def order_diagnostic(self, provider: str, pathway_id: str, test_id: str, test: str,
                         on: dt.date) -> None:
        existing = self.pathway(provider, pathway_id).diagnostics.get(test_id)
        if existing is not None:
            if existing.test == test and existing.ordered_on == on:
                return
            raise ConflictingCommand(f"diagnostic {test_id!r} was ordered with other details")
        p = self._open_pathway(provider, pathway_id)
        if test not in codes.DIAGNOSTIC_TESTS:
            raise InvalidValue(f"{test!r} is not a DM01 diagnostic test", field="test")
        refuse_before(on, p.received_on,
                      f"a test cannot be ordered ({on.isoformat()}) before the referral was "
                      f"received ({p.received_on.isoformat()})")
        self.trigger_event(ev.DiagnosticOrdered, provider=provider, pathway_id=pathway_id,
                           test_id=test_id, test=test, ordered_on=on)

    def record_diagnostic_result(self, provider: str, pathway_id: str, test_id: str,
                                 on: dt.date, result: str) -> None:
        d = self.pathway(provider, pathway_id).diagnostics.get(test_id)
        if d is None:
            raise DomainError(f"no diagnostic {test_id!r} was ordered on this pathway",
                              field="test_id")
        if d.resulted_on is not None:
            if d.resulted_on == on and d.result == result:
                return
            raise ConflictingCommand(f"diagnostic {test_id!r} already has a result")
        refuse_before(on, d.ordered_on,
                      f"a result ({on.isoformat()}) cannot come before the test was ordered "
                      f"({d.ordered_on.isoformat()})")
        self.trigger_event(ev.DiagnosticResulted, provider=provider, pathway_id=pathway_id,
                           test_id=test_id, resulted_on=on, result=result)

    def release_result(self, provider: str, pathway_id: str, test_id: str, on: dt.date,
                       by: str) -> None:
        """A clinician releases a test's result to the patient (it must have one)."""
        d = self.pathway(provider, pathway_id).diagnostics.get(test_id)
        if d is None:
            raise DomainError(f"no diagnostic {test_id!r} was ordered on this pathway",
                              field="test_id")
        if d.resulted_on is None:
            raise DomainError("a test without a result cannot be released", field="test_id")
        if d.released_on is not None:
            return
        refuse_before(on, d.resulted_on, "a result cannot be released before it came")
        self.trigger_event(ev.DiagnosticResultReleased, provider=provider,
                           pathway_id=pathway_id, test_id=test_id, on=on, by=by)

    def communicate_diagnosis(self, provider: str, pathway_id: str, on: dt.date,
                              outcome: str) -> None:
        """Diagnosis (or all-clear) told to the patient: stops the 28-day FDS clock
        (docs/rules.md §2)."""
        p = self.pathway(provider, pathway_id)
        codes.check_code(codes.DIAGNOSIS_OUTCOMES, outcome, "outcome", "what the patient was told")
        if p.diagnosis_communicated_on is not None:
            if p.diagnosis_communicated_on == on and p.diagnosis_outcome == outcome:
                return
            raise ConflictingCommand("a diagnosis was already communicated on this pathway")
        refuse_before(on, p.received_on, "the diagnosis cannot come before the referral")
        self.trigger_event(ev.DiagnosisCommunicated, provider=provider, pathway_id=pathway_id,
                           communicated_on=on, outcome=outcome)

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
        if p.clock_start is not None:
            refuse_before(on, p.clock_start, f"a clock cannot stop ({on.isoformat()}) before "
                                             f"it started ({p.clock_start.isoformat()})")
        self.trigger_event(ev.ClockStopped, provider=provider, pathway_id=pathway_id,
                           stopped_on=on, reason_code=reason_code,
                           reason=codes.RTT_STATUS[reason_code], reported_on=None,
                           on_first_report=False)

    def close_pathway(self, provider: str, pathway_id: str, on: dt.date, reason: str) -> None:
        p = self.pathway(provider, pathway_id)
        if p.closed_on is not None:
            return
        codes.check_code(codes.CLOSE_REASONS, reason, "reason", "a reason for closing a pathway")
        self.trigger_event(ev.PathwayClosed, provider=provider, pathway_id=pathway_id, on=on,
                           reason=reason)

    def assign_coordinator(self, provider: str, pathway_id: str, coordinator: str) -> None:
        if self.pathway(provider, pathway_id).coordinator == coordinator:
            return
        self.trigger_event(ev.CoordinatorAssigned, provider=provider, pathway_id=pathway_id,
                           coordinator=coordinator)
