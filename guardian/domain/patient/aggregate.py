"""The Patient aggregate: one per referred-but-not-seen patient, each referral a pathway in it.
The Patient is the consistency boundary: every command on a patient's referrals, records
and details goes through it. Its commands live with their concern (`provider_reports.py`,
`care.py`, `waits.py`, `contact.py`) as mixins composed here; registration and identity
live here. Commands check the rules, raise a `DomainError` naming what is wrong, do nothing
when the same command was already applied, and otherwise fire events, always with
`self.trigger_event(EventClass, **fields)`. The events' `apply` methods change the state
(`events/`).
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate

from guardian.domain.patient import events as ev
from guardian.domain.patient.care import CareCommands
from guardian.domain.patient.contact import ContactCommands
from guardian.domain.patient.provider_reports import ReportCommands
from guardian.domain.patient.waits import WaitCommands
from guardian.domain.report import ReferralReport


class Patient(ReportCommands, CareCommands, WaitCommands, ContactCommands, Aggregate):
    """A referred patient: details, pathways, deterioration flags, contacts and support."""

    TOPIC = "guardian.Patient"

    class Created(Aggregate.Created):
        """Never fired: a patient is created by `Registered`. The library defines a
        "created" class on every aggregate, and one with a topic must name it."""

        TOPIC = "guardian.Patient.Created"

    @classmethod
    def register(cls, patient_id: UUID, report: ReferralReport) -> Patient:
        """A new patient from the first report of one of their referrals (the referral
        itself comes with `reconcile`)."""
        return cls._create(ev.Registered, id=patient_id, nhs_number=report.nhs_number,
                           birth_date=report.birth_date, given_name=report.given_name,
                           family_name=report.family_name, phone=report.phone,
                           email=report.email)
