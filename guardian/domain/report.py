"""A provider's report of one pathway on an extract's as-of date (one PTL row, parsed).

The importer and `POST /api/v1/referrals` both turn input into a `ReferralReport`; the
Patient aggregate reconciles it with what the provider reported before.
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


@dataclass(frozen=True, slots=True)
class ReferralReport:
    provider: str
    pathway_id: str
    nhs_number: str
    birth_date: dt.date
    practice_code: str
    treatment_function: str
    priority: int
    waiting_list_type: str
    received_on: dt.date
    clock_start: dt.date | None
    as_of: dt.date
    given_name: str | None = None
    family_name: str | None = None
    phone: str | None = None
    email: str | None = None
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
