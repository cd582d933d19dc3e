"""Events of the patient's own details: registration, and the corrections a provider sends.
Only the provider's extract, an admin or a user who sees the whole patient may change the
patient's details (docs/access.md); details that came with a referral from anyone else are
kept with that referral (`ReferralDetailsReported`). The details are the report's field
groups (`guardian/domain/report.py`: `PatientDetails`, `ContactDetails`).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from eventsourcing.domain import Aggregate

from guardian.domain.patient.events.base import ReportedEvent, StoredUnderTopic
from guardian.domain.report import ContactDetails, PatientDetails

if TYPE_CHECKING:
    from guardian.domain.patient.aggregate import Patient


class Registered(StoredUnderTopic, Aggregate.Created, PatientDetails):
    """A patient is registered, from the first report of one of their referrals, with
    their details (`PatientDetails`)."""

    TOPIC = "guardian.Patient.Registered"

    def apply(self, patient: Patient) -> None:
        patient.nhs_number, patient.birth_date = self.nhs_number, self.birth_date
        patient.given_name, patient.family_name = self.given_name, self.family_name
        patient.phone, patient.email = self.phone, self.email
        patient.pathways = {}
        patient.reported = {}  # what the provider last reported, per pathway (fact → value)
        patient.flags = {}
        patient.contacts = {}
        patient.support = {}


class BirthDateCorrected(ReportedEvent):
    """The provider reports another date of birth."""

    TOPIC = "guardian.Patient.BirthDateCorrected"
    birth_date: dt.date

    def apply(self, patient: Patient) -> None:
        patient.birth_date = self.birth_date
        self.remember(patient, birth_date=self.birth_date)


class ContactDetailsChanged(ReportedEvent, ContactDetails):
    """The provider reports other names, phone or e-mail for the patient
    (`ContactDetails`)."""

    TOPIC = "guardian.Patient.ContactDetailsChanged"
    provider: str | None  # type: ignore[assignment]
    pathway_id: str | None  # type: ignore[assignment]

    def apply(self, patient: Patient) -> None:
        contact = self.contact_details()
        for fact, value in contact.items():
            setattr(patient, fact, value)
        self.remember(patient, **contact)


class ReferralDetailsReported(ReportedEvent, ContactDetails):
    """Patient details that came with a referral from a source without authority over the
    patient's own details: kept with that pathway only (docs/access.md)."""

    TOPIC = "guardian.Patient.ReferralDetailsReported"
    birth_date: dt.date

    def apply(self, patient: Patient) -> None:
        self.remember(patient, birth_date=self.birth_date, **self.contact_details())
