"""Events of the patient's own details: registration, and the corrections a provider sends.

Only the provider's extract, an admin or a user who sees the whole patient may change the
patient's details (docs/access.md); details that came with a referral from anyone else are
kept with that referral (`ReferralDetailsReported`).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from eventsourcing.domain import Aggregate

from guardian.domain.patient.events.base import ReportedEvent, StoredUnderTopic

if TYPE_CHECKING:
    from guardian.domain.patient.aggregate import Patient


class Registered(StoredUnderTopic, Aggregate.Created):
    """A patient is registered, from the first report of one of their referrals."""

    TOPIC = "guardian.Patient.Registered"
    nhs_number: str
    birth_date: dt.date
    given_name: str | None = None
    family_name: str | None = None
    phone: str | None = None
    email: str | None = None

    def apply(self, patient: Patient) -> None:
        patient.nhs_number = self.nhs_number
        patient.birth_date = self.birth_date
        patient.given_name = self.given_name
        patient.family_name = self.family_name
        patient.phone = self.phone
        patient.email = self.email
        patient.pathways = {}
        patient.reported = {}  # what the provider last reported, per pathway (fact → value)
        patient.flags = {}
        patient.contacts = {}
        patient.support = {}


class BirthDateCorrected(ReportedEvent):
    """The provider reports another date of birth."""

    TOPIC = "guardian.Patient.BirthDateCorrected"
    birth_date: dt.date
    reported_on: dt.date | None

    def apply(self, patient: Patient) -> None:
        patient.birth_date = self.birth_date
        self.remember(patient, birth_date=self.birth_date)


class ContactDetailsChanged(ReportedEvent):
    """The provider reports other names, phone or e-mail for the patient."""

    TOPIC = "guardian.Patient.ContactDetailsChanged"
    provider: str | None  # type: ignore[assignment]
    pathway_id: str | None  # type: ignore[assignment]
    given_name: str | None
    family_name: str | None
    phone: str | None
    email: str | None
    reported_on: dt.date | None

    def apply(self, patient: Patient) -> None:
        patient.given_name, patient.family_name = self.given_name, self.family_name
        patient.phone, patient.email = self.phone, self.email
        self.remember(patient, given_name=self.given_name, family_name=self.family_name,
                      phone=self.phone, email=self.email)


class ReferralDetailsReported(ReportedEvent):
    """Patient details that came with a referral from a source without authority over the
    patient's own details: kept with that pathway only (docs/access.md)."""

    TOPIC = "guardian.Patient.ReferralDetailsReported"
    birth_date: dt.date
    given_name: str | None
    family_name: str | None
    phone: str | None
    email: str | None
    reported_on: dt.date | None

    def apply(self, patient: Patient) -> None:
        self.remember(patient, birth_date=self.birth_date, given_name=self.given_name,
                      family_name=self.family_name, phone=self.phone, email=self.email)
