"""Events of a referral as its provider reports it: received, its administrative facts
corrected, its practice, priorities, and its place on the provider's waiting list.
docs/formats.md ("How rows become events") says which change of a report fires which event;
`guardian/domain/patient/provider_reports.py` decides it.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from guardian.domain.pathway import Pathway
from guardian.domain.patient.events.base import PathwayEvent, ReportedEvent
from guardian.domain.report import RECEIVED_FACTS, Referral

if TYPE_CHECKING:
    from guardian.domain.patient.aggregate import Patient


class ReferralReceived(ReportedEvent, Referral):
    """A pathway the provider reports for the first time: a new referral of the patient,
    which takes the patient's details as reported with it."""

    TOPIC = "guardian.Patient.ReferralReceived"
    ubrn: str | None
    local_patient_id: str | None
    rtt_status: str | None

    def apply(self, patient: Patient) -> None:
        facts = {f: getattr(self, f) for f in RECEIVED_FACTS}
        patient.pathways[self.key] = Pathway(
            provider=self.provider, pathway_id=self.pathway_id, reported_as_of=self.reported_on,
            **facts)
        patient.reported[self.key] = {**patient.identity(), **facts}


# ------------------------------------------------------------ corrections of the referral


class ReferralDateCorrected(ReportedEvent):
    """The provider corrected the date the referral was received."""

    TOPIC = "guardian.Patient.ReferralDateCorrected"
    received_on: dt.date

    def apply(self, patient: Patient) -> None:
        self.set_facts(patient, received_on=self.received_on)


class SpecialtyCorrected(ReportedEvent):
    """The provider corrected the specialty (treatment function) of the referral."""

    TOPIC = "guardian.Patient.SpecialtyCorrected"
    treatment_function: str

    def apply(self, patient: Patient) -> None:
        self.set_facts(patient, treatment_function=self.treatment_function)


class WaitingListTypeCorrected(ReportedEvent):
    """The provider corrected the waiting list type (ORTT, IRTT, ONON, INON)."""

    TOPIC = "guardian.Patient.WaitingListTypeCorrected"
    waiting_list_type: str

    def apply(self, patient: Patient) -> None:
        self.set_facts(patient, waiting_list_type=self.waiting_list_type)


class UbrnCorrected(ReportedEvent):
    """The provider corrected (or removed) the e-Referral booking reference (UBRN)."""

    TOPIC = "guardian.Patient.UbrnCorrected"
    ubrn: str | None

    def apply(self, patient: Patient) -> None:
        self.set_facts(patient, ubrn=self.ubrn)


class LocalPatientIdCorrected(ReportedEvent):
    """The provider corrected (or removed) its own patient identifier."""

    TOPIC = "guardian.Patient.LocalPatientIdCorrected"
    local_patient_id: str | None

    def apply(self, patient: Patient) -> None:
        self.set_facts(patient, local_patient_id=self.local_patient_id)


class ProviderRecordCorrected(ReportedEvent):
    """History only, no longer fired: a correction of several reported facts at once
    (`facts`: fact name → new value). Reports now fire one named event per fact
    (`ReferralDateCorrected`, `SpecialtyCorrected`, `WaitingListTypeCorrected`,
    `UbrnCorrected`, `LocalPatientIdCorrected`, `AttendanceWithdrawn`,
    `NonAttendanceWithdrawn`); this class reads the events stored before them."""

    TOPIC = "guardian.Patient.ProviderRecordCorrected"
    facts: dict[str, Any]

    def apply(self, patient: Patient) -> None:
        self.set_facts(patient, **self.facts)


# ------------------------------------------------------------ practice and priorities


class PracticeChanged(ReportedEvent):
    """The patient's registered GP practice changed."""

    TOPIC = "guardian.Patient.PracticeChanged"
    practice_code: str

    def apply(self, patient: Patient) -> None:
        self.set_facts(patient, practice_code=self.practice_code)


class PriorityChanged(ReportedEvent):
    """The referral's priority (routine, urgent, urgent suspected cancer) changed."""

    TOPIC = "guardian.Patient.PriorityChanged"
    priority: int

    def apply(self, patient: Patient) -> None:
        self.set_facts(patient, priority=self.priority)


class ProcedurePriorityReviewed(ReportedEvent):
    """The procedure priority (P codes) or the date it was last reviewed changed; a new
    code starts its clock on the day it was first reported (docs/rules.md §2)."""

    TOPIC = "guardian.Patient.ProcedurePriorityReviewed"
    procedure_priority: str | None
    reviewed_on: dt.date | None

    def apply(self, patient: Patient) -> None:
        p = self.pathway(patient)
        if self.procedure_priority != p.procedure_priority:
            p.procedure_priority_since = self.reported_on
        p.procedure_priority = self.procedure_priority
        p.priority_reviewed_on = self.reviewed_on
        self.remember(patient, procedure_priority=self.procedure_priority,
                      priority_reviewed_on=self.reviewed_on)


# ------------------------------------------------------------ the provider's waiting list


class PathwayLeftWaitingList(PathwayEvent):
    """A full snapshot no longer lists this open pathway: not a clock stop, Guardian checks
    why (docs/rules.md §5)."""

    TOPIC = "guardian.Patient.PathwayLeftWaitingList"
    on: dt.date

    def apply(self, patient: Patient) -> None:
        self.pathway(patient).left_list_on = self.on


class PathwayReturnedToWaitingList(ReportedEvent):
    """A pathway that had left the list is listed again."""

    TOPIC = "guardian.Patient.PathwayReturnedToWaitingList"

    def apply(self, patient: Patient) -> None:
        # Only the list changed: no reported fact, so nothing to remember.
        self.pathway(patient).left_list_on = None
