"""A provider's report of one pathway on an extract's as-of date (one PTL row, parsed), and
the groups of facts a report is made of, named once: the patient's details
(`PatientDetails`, with their `ContactDetails`) and the referral (`Referral`). The importer
and `POST /api/v1/referrals` both turn input into a `ReferralReport`; the Patient aggregate
reconciles it with what the provider reported before, and its state (`pathway.Pathway`) and
events (`patient/events/`) that carry the same facts are made of the same groups.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

# The facts a report carries, in a fixed order (the fingerprint depends on it).
PATIENT_FACTS = ("nhs_number", "birth_date", "given_name", "family_name", "phone", "email")
PATHWAY_FACTS = (
    "local_patient_id",
    "practice_code",
    "ubrn",
    "treatment_function",
    "priority",
    "waiting_list_type",
    "received_on",
    "clock_start",
    "clock_end",
    "rtt_status",
    "appointment_on",
    "tci_on",
    "last_attended_on",
    "last_dna_on",
    "procedure_priority",
    "priority_reviewed_on",
)
REPORTED_FACTS = PATIENT_FACTS + PATHWAY_FACTS
CONTACT_FACTS = ("given_name", "family_name", "phone", "email")
# Administrative details whose change is recorded as a provider-record correction.
CORRECTION_FACTS = (
    "local_patient_id",
    "ubrn",
    "treatment_function",
    "waiting_list_type",
    "received_on",
)
# The facts a new referral is recorded with (`ReferralReceived`), in `PATHWAY_FACTS` order.
RECEIVED_FACTS = ("local_patient_id", "practice_code", "ubrn", "treatment_function", "priority",
                  "waiting_list_type", "received_on", "clock_start", "rtt_status")


# The field groups hold no instance state of their own (`__slots__ = ()`): the report keeps
# its fields in slots, while the events and `Pathway` keep theirs in their `__dict__` (a
# stored event is its `__dict__`).


@dataclass(frozen=True, kw_only=True)
class ContactDetails:
    """How to reach the patient, as a source reported it (`CONTACT_FACTS`; any may be
    missing)."""

    __slots__ = ()

    given_name: str | None = None
    family_name: str | None = None
    phone: str | None = None
    email: str | None = None

    def contact_details(self) -> dict[str, str | None]:
        """The contact details by fact name, in `CONTACT_FACTS` order."""
        return {f: getattr(self, f) for f in CONTACT_FACTS}


@dataclass(frozen=True, kw_only=True)
class PatientDetails(ContactDetails):
    """The patient's own details (`PATIENT_FACTS`): NHS number, date of birth, contact."""

    __slots__ = ()

    nhs_number: str
    birth_date: dt.date


@dataclass
class Referral:
    """Which referral (the provider and its pathway id) and the facts every report of it
    carries. Not frozen, since the pathway's state (`pathway.Pathway`) is one; the report and
    the events that are one are frozen."""

    __slots__ = ()

    provider: str
    pathway_id: str
    practice_code: str
    treatment_function: str
    priority: int
    waiting_list_type: str
    received_on: dt.date
    clock_start: dt.date | None


@dataclass(frozen=True, slots=True)
class ReferralReport(PatientDetails, Referral):
    """One report of a referral as of `as_of`: the patient, the referral, and the facts a
    provider may leave out."""

    as_of: dt.date
    local_patient_id: str | None = None
    ubrn: str | None = None
    clock_end: dt.date | None = None
    rtt_status: str | None = None
    appointment_on: dt.date | None = None
    tci_on: dt.date | None = None
    last_attended_on: dt.date | None = None
    last_dna_on: dt.date | None = None
    procedure_priority: str | None = None
    priority_reviewed_on: dt.date | None = None

    def facts(self) -> tuple[object, ...]:
        return tuple(getattr(self, f) for f in REPORTED_FACTS)


def fingerprint(facts: tuple[object, ...]) -> str:
    """A short stable digest of reported facts (same facts → same digest, in any process)."""
    text = "\x1f".join("" if v is None else str(v) for v in facts)
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()
