"""Events of the patient's appointments and admissions as the provider reports them:
booked, cancelled, attended, not attended, and attendances the provider withdraws."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from guardian.domain.patient.events.base import ReportedEvent

if TYPE_CHECKING:
    from guardian.domain.patient.aggregate import Patient


class AppointmentBooked(ReportedEvent):
    """An appointment is booked (or moved) for `appointment_on`."""

    TOPIC = "guardian.Patient.AppointmentBooked"
    appointment_on: dt.date

    def apply(self, patient: Patient) -> None:
        self.set_facts(patient, appointment_on=self.appointment_on)


class TreatmentScheduled(ReportedEvent):
    """A date to come in for treatment (TCI) is set for `tci_on`."""

    TOPIC = "guardian.Patient.TreatmentScheduled"
    tci_on: dt.date

    def apply(self, patient: Patient) -> None:
        self.set_facts(patient, tci_on=self.tci_on)


class BookingCancelled(ReportedEvent):
    """The appointment (`kind` "appointment") or the admission ("admission") is no longer
    reported."""

    TOPIC = "guardian.Patient.BookingCancelled"
    kind: str

    def apply(self, patient: Patient) -> None:
        booking = "appointment_on" if self.kind == "appointment" else "tci_on"
        self.set_facts(patient, **{booking: None})


class PatientSeen(ReportedEvent):
    """The patient attended on `attended_on`; the first attendance is kept, and an
    appointment on or before it is over."""

    TOPIC = "guardian.Patient.PatientSeen"
    attended_on: dt.date

    def apply(self, patient: Patient) -> None:
        p = self.pathway(patient)
        p.last_attended_on = self.attended_on
        if p.first_seen_on is None or self.attended_on < p.first_seen_on:
            p.first_seen_on = self.attended_on
        if p.appointment_on is not None and p.appointment_on <= self.attended_on:
            p.appointment_on = None
        self.remember(patient, last_attended_on=self.attended_on)


class AttendanceWithdrawn(ReportedEvent):
    """The provider no longer reports a last attendance (the first one is kept)."""

    TOPIC = "guardian.Patient.AttendanceWithdrawn"

    def apply(self, patient: Patient) -> None:
        self.set_facts(patient, last_attended_on=None)


class DidNotAttend(ReportedEvent):
    """The patient did not attend on `dna_on`."""

    TOPIC = "guardian.Patient.DidNotAttend"
    dna_on: dt.date

    def apply(self, patient: Patient) -> None:
        self.set_facts(patient, last_dna_on=self.dna_on)


class NonAttendanceWithdrawn(ReportedEvent):
    """The provider no longer reports a missed appointment (DNA)."""

    TOPIC = "guardian.Patient.NonAttendanceWithdrawn"

    def apply(self, patient: Patient) -> None:
        self.set_facts(patient, last_dna_on=None)
