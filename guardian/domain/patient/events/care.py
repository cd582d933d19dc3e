"""Events of the care Guardian organises on a pathway: agreed workup, diagnostic tests, the
diagnosis told to the patient, closure and the coordinator (docs/rules.md §2, §5)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from guardian.domain.pathway import Diagnostic, WorkupItem
from guardian.domain.patient.events.base import PathwayEvent

if TYPE_CHECKING:
    from guardian.domain.patient.aggregate import Patient


class WorkupItemRequired(PathwayEvent):
    """A workup item is needed from the practice, the patient, the hospital or Guardian
    before the referral can go ahead; the workup is outstanding again."""

    TOPIC = "guardian.Patient.WorkupItemRequired"
    item_id: str
    description: str
    requested_from: str
    required_on: dt.date

    def apply(self, patient: Patient) -> None:
        p = self.pathway(patient)
        p.workup[self.item_id] = WorkupItem(self.item_id, self.description,
                                            self.requested_from, self.required_on)
        p.workup_completed_on = None


class WorkupItemCompleted(PathwayEvent):
    """A workup item was done on `completed_on`, by `by`."""

    TOPIC = "guardian.Patient.WorkupItemCompleted"
    item_id: str
    completed_on: dt.date
    by: str

    def apply(self, patient: Patient) -> None:
        item = self.pathway(patient).workup[self.item_id]
        item.completed_on, item.completed_by = self.completed_on, self.by


class WorkupCompleted(PathwayEvent):
    """The last outstanding workup item was done: the agreed workup is complete."""

    TOPIC = "guardian.Patient.WorkupCompleted"
    completed_on: dt.date

    def apply(self, patient: Patient) -> None:
        self.pathway(patient).workup_completed_on = self.completed_on


class DiagnosticOrdered(PathwayEvent):
    """A DM01 diagnostic test was ordered: its 6-week clock starts."""

    TOPIC = "guardian.Patient.DiagnosticOrdered"
    test_id: str
    test: str
    ordered_on: dt.date

    def apply(self, patient: Patient) -> None:
        diagnostic = Diagnostic(self.test_id, self.test, self.ordered_on)
        self.pathway(patient).diagnostics[self.test_id] = diagnostic


class DiagnosticResulted(PathwayEvent):
    """A test's result came on `resulted_on`."""

    TOPIC = "guardian.Patient.DiagnosticResulted"
    test_id: str
    resulted_on: dt.date
    result: str

    def apply(self, patient: Patient) -> None:
        d = self.pathway(patient).diagnostics[self.test_id]
        d.resulted_on, d.result = self.resulted_on, self.result


class DiagnosticResultReleased(PathwayEvent):
    """A clinician released a test's result for the patient to see online (`by`, on `on`):
    until then the patient is told only that the result is not yet released
    (docs/patients.md "What a patient sees")."""

    TOPIC = "guardian.Patient.DiagnosticResultReleased"
    test_id: str
    on: dt.date
    by: str

    def apply(self, patient: Patient) -> None:
        self.pathway(patient).diagnostics[self.test_id].released_on = self.on


class DiagnosisCommunicated(PathwayEvent):
    """The diagnosis (or the all-clear) was told to the patient: the 28-day Faster
    Diagnosis clock stops."""

    TOPIC = "guardian.Patient.DiagnosisCommunicated"
    communicated_on: dt.date
    outcome: str

    def apply(self, patient: Patient) -> None:
        p = self.pathway(patient)
        p.diagnosis_communicated_on, p.diagnosis_outcome = self.communicated_on, self.outcome


class PathwayClosed(PathwayEvent):
    """Guardian closed the pathway (`reason`, one of codes.CLOSE_REASONS): no deadlines
    after it."""

    TOPIC = "guardian.Patient.PathwayClosed"
    on: dt.date
    reason: str

    def apply(self, patient: Patient) -> None:
        p = self.pathway(patient)
        p.closed_on, p.close_reason = self.on, self.reason


class CoordinatorAssigned(PathwayEvent):
    """A Guardian care coordinator looks after the pathway."""

    TOPIC = "guardian.Patient.CoordinatorAssigned"
    coordinator: str

    def apply(self, patient: Patient) -> None:
        self.pathway(patient).coordinator = self.coordinator
