"""Events of the wait-time sweep and the Waiting Well check-ins: breaches, their
withdrawal, at-risk warnings, check-ins falling due and their outcomes
(docs/rules.md §3, §4, §8)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from guardian.domain import checkins
from guardian.domain.pathway import CheckIn
from guardian.domain.patient.events.base import PathwayEvent, PatientEvent

if TYPE_CHECKING:
    from guardian.domain.patient.aggregate import Patient


class StepEvent(PathwayEvent):
    """Something of one step of a pathway: a `standard` as it applies to a `subject` (a
    test, flag or message, else "")."""

    standard: str
    subject: str

    @property
    def step(self) -> tuple[str, str]:
        return (self.standard, self.subject)


class WaitBreached(StepEvent):
    """A standard was missed: recorded once per pathway × standard × subject, dated on the
    breach day."""

    TOPIC = "guardian.Patient.WaitBreached"
    breach_on: dt.date

    def apply(self, patient: Patient) -> None:
        p = self.pathway(patient)
        p.breaches[self.step] = self.breach_on
        p.unseen_breaches.add(self.step)


class BreachWithdrawn(StepEvent):
    """A recorded breach the facts as now known no longer support (`reason` says why)."""

    TOPIC = "guardian.Patient.BreachWithdrawn"
    reason: str

    def apply(self, patient: Patient) -> None:
        p = self.pathway(patient)
        p.breaches.pop(self.step, None)
        p.unseen_breaches.discard(self.step)


class StepAtRisk(StepEvent):
    """A step entered its at-risk window on `at_risk_from`; once per window (the window
    is known by its `last_day_within`)."""

    TOPIC = "guardian.Patient.StepAtRisk"
    at_risk_from: dt.date
    last_day_within: dt.date

    def apply(self, patient: Patient) -> None:
        self.pathway(patient).at_risk[self.step] = self.last_day_within


class CheckInDue(PathwayEvent):
    """A Waiting Well check-in fell due on `due_on` (`reason`: the milestone or the
    re-check; `wait_days`: the RTT wait on that day)."""

    TOPIC = "guardian.Patient.CheckInDue"
    due_on: dt.date
    reason: str
    wait_days: int

    def apply(self, patient: Patient) -> None:
        p = self.pathway(patient)
        p.check_in = CheckIn(self.due_on, self.reason)
        p.last_check_in_due = self.due_on


class CheckInOutcomeRecorded(PathwayEvent):
    """How a check-in went: a validating outcome validates the pathway; any answer closes
    the open check-in; "no-response" counts an attempt, and the last attempt closes it
    unanswered. The pathway's specialty and practice are kept for the reports."""

    TOPIC = "guardian.Patient.CheckInOutcomeRecorded"
    treatment_function: str
    practice_code: str
    due_on: dt.date | None
    outcome: str
    on: dt.date
    attempt: int
    by: str
    note: str

    def apply(self, patient: Patient) -> None:
        p = self.pathway(patient)
        p.last_check_in_outcome = (self.outcome, self.on)
        if self.outcome in checkins.VALIDATING:
            p.validated_on = self.on
        if self.outcome != "no-response":
            p.check_in = None
        elif p.check_in is not None:
            p.check_in.attempts = self.attempt
            if self.attempt >= checkins.NO_RESPONSE_ATTEMPTS:
                p.check_in = None


class NewsSeen(PatientEvent):
    """A coordinator opened the patient: the breaches and deterioration flags of the
    pathways they saw (`pathways`, [provider, pathway id] pairs), and, when they see the
    whole patient (`whole`), the flags made for no referral, are no longer new
    (docs/rules.md §11)."""

    TOPIC = "guardian.Patient.NewsSeen"
    pathways: list[list[str]]
    whole: bool
    by: str

    def apply(self, patient: Patient) -> None:
        keys = {(provider, pathway_id) for provider, pathway_id in self.pathways}
        for key in keys:
            if key in patient.pathways:
                patient.pathways[key].unseen_breaches.clear()
        for flag in patient.flags.values():
            if flag.pathway in keys or (flag.pathway is None and self.whole):
                flag.seen = True
