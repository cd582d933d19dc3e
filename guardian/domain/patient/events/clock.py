"""Events of the RTT clock: its start corrected, a new period, a stop and its withdrawal,
and the RTT status the provider reports (docs/rules.md §5, §10).
A stop comes from the provider's report, a coordinator (`stop_clock`) or a check-in that
validates the patient off the list (`record_check_in_outcome`); the rest from reports.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from guardian.domain.pathway import RttPeriod
from guardian.domain.patient.events.base import ReportedEvent

if TYPE_CHECKING:
    from guardian.domain.patient.aggregate import Patient


class ClockStartCorrected(ReportedEvent):
    """The provider corrected the start of the current RTT period (`previous`: the start
    it replaces)."""

    TOPIC = "guardian.Patient.ClockStartCorrected"
    clock_start: dt.date | None
    previous: dt.date | None

    def apply(self, patient: Patient) -> None:
        self.set_facts(patient, clock_start=self.clock_start)


class RttPeriodStarted(ReportedEvent):
    """A new RTT period on the same pathway (status 10–12 after an end date): the old
    period is kept, the new one starts with no breaches, warnings, check-ins or plan while
    waiting (the plan was agreed for the old wait: docs/rules.md "Plans while waiting")."""

    TOPIC = "guardian.Patient.RttPeriodStarted"
    clock_start: dt.date
    rtt_status: str | None

    def apply(self, patient: Patient) -> None:
        p = self.pathway(patient)
        if p.clock_start is not None:
            p.earlier_periods.append(RttPeriod(p.clock_start, p.clock_end, p.stop_reason))
        p.clock_start, p.clock_end, p.stop_reason = self.clock_start, None, None
        p.rtt_status = self.rtt_status
        p.watched = True
        p.breaches.clear()
        p.at_risk.clear()
        p.check_in, p.last_check_in_due, p.validated_on = None, None, None
        p.last_check_in_outcome = None
        p.care_plan = None
        self.remember(patient, clock_start=self.clock_start, clock_end=None,
                      rtt_status=self.rtt_status)


class ClockStopped(ReportedEvent):
    """The RTT clock stopped on `stopped_on`: `reason_code` is the national stop reason
    (30–36) when known, else `reason` says who reported it. `on_first_report`: the
    provider's first report of the pathway already carried the stop, so Guardian never
    watched it waiting and no breach is owed (docs/rules.md §3)."""

    TOPIC = "guardian.Patient.ClockStopped"
    stopped_on: dt.date
    reason_code: str | None
    reason: str
    on_first_report: bool = False

    def apply(self, patient: Patient) -> None:
        p = self.pathway(patient)
        p.clock_end = self.stopped_on
        p.stop_reason = self.reason_code or self.reason
        if self.on_first_report:
            p.watched = False
        if self.reason_code is None:
            self.remember(patient, clock_end=self.stopped_on)
        else:
            p.rtt_status = self.reason_code
            self.remember(patient, clock_end=self.stopped_on, rtt_status=self.reason_code)


class ClockStopWithdrawn(ReportedEvent):
    """The provider no longer reports an end date: the clock runs again."""

    TOPIC = "guardian.Patient.ClockStopWithdrawn"

    def apply(self, patient: Patient) -> None:
        p = self.pathway(patient)
        p.clock_end, p.stop_reason = None, None
        p.watched = True
        self.remember(patient, clock_end=None)


class RttStatusReported(ReportedEvent):
    """The provider reports another RTT status code."""

    TOPIC = "guardian.Patient.RttStatusReported"
    rtt_status: str | None

    def apply(self, patient: Patient) -> None:
        self.set_facts(patient, rtt_status=self.rtt_status)
