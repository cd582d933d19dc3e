"""The names Guardian's FHIR resources are known by (docs/fhir.md "Logical ids" and
"Systems"): the national identifier systems, Guardian's own systems and extensions, the UK
Core profiles claimed, and the logical id of each resource.

A logical id must be at most 64 of `A-Z a-z 0-9 - .`, while a provider's pathway id may be
64 characters of any printable text, so ids are made of the patient's Guardian id (32 hex
digits, as `GET /api/v1/referrals/{pathway_id}` shows it) and a digest:

- ServiceRequest (a pathway): `{patient id}.{provider ODS code}.{16 hex digits of SHA-256 of
  the pathway id}`, e.g. `4f0c…9a.RAJ.5e8b0c2d91aa7f13`.
- Task, Flag, Communication, CarePlan: `{patient id}.{24 hex digits of SHA-256 of the
  record's kind, provider, pathway id and own id}`.

Both are stable (they depend on nothing that changes) and are resolved by loading that one
patient and matching the digest among their records: no index is needed.
"""

from __future__ import annotations

import hashlib
import re
from uuid import UUID

NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
UBRN = "https://fhir.nhs.uk/Id/UBRN"

# Guardian's own systems: under a reserved name (RFC 2606), never served or fetched.
GUARDIAN = "https://guardian.example/fhir"
PATHWAY_SYSTEM = f"{GUARDIAN}/Id/pathway/"  # + the provider's ODS code
TREATMENT_FUNCTION = f"{GUARDIAN}/CodeSystem/treatment-function"
DIAGNOSTIC_TEST = f"{GUARDIAN}/CodeSystem/diagnostic-test"
TASK_KIND = f"{GUARDIAN}/CodeSystem/task-kind"
SELF_CARE = f"{GUARDIAN}/CodeSystem/self-care"
CALL_IF_WORSE = f"{GUARDIAN}/CodeSystem/call-if-worse"
RTT_CLOCK = f"{GUARDIAN}/StructureDefinition/rtt-clock"
REFERRAL = f"{GUARDIAN}/StructureDefinition/referral"

SNOMED = "http://snomed.info/sct"
FLAG_CATEGORY = "http://terminology.hl7.org/CodeSystem/flag-category"

UK_CORE = "https://fhir.hl7.org.uk/StructureDefinition/"
PROFILES = {kind: f"{UK_CORE}UKCore-{kind}" for kind in ("ServiceRequest", "Task", "Flag")}

_SERVICE_REQUEST = re.compile(r"^([0-9a-f]{32})\.([A-Z0-9]{3,5})\.([0-9a-f]{16})$")
_RECORD = re.compile(r"^([0-9a-f]{32})\.([0-9a-f]{24})$")


def pathway_system(provider: str) -> str:
    """The identifier system of a provider's pathway ids (scoped by the provider)."""
    return PATHWAY_SYSTEM + provider


def _digest(*parts: str, length: int) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:length]


def pathway_digest(pathway_id: str) -> str:
    return _digest(pathway_id, length=16)


def service_request_id(patient_id: UUID, provider: str, pathway_id: str) -> str:
    return f"{patient_id.hex}.{provider}.{pathway_digest(pathway_id)}"


def parse_service_request_id(value: str) -> tuple[UUID, str, str] | None:
    """(patient id, provider, digest of the pathway id), or None for no such id."""
    found = _SERVICE_REQUEST.match(value)
    if found is None:
        return None
    return UUID(found.group(1)), found.group(2), found.group(3)


def record_id(patient_id: UUID, kind: str, provider: str | None, pathway_id: str | None,
              own_id: str) -> str:
    """The logical id of a Task, Flag, Communication or CarePlan (`kind`: workup,
    diagnostic, flag, message or care-plan)."""
    digest = _digest(kind, provider or "", pathway_id or "", own_id, length=24)
    return f"{patient_id.hex}.{digest}"


def parse_record_id(value: str) -> tuple[UUID, str] | None:
    """(patient id, the whole id), or None for no such id."""
    found = _RECORD.match(value)
    return (UUID(found.group(1)), value) if found else None


def reference(resource_type: str, logical_id: str) -> dict[str, str]:
    return {"reference": f"{resource_type}/{logical_id}"}


def patient_reference(nhs_number: str, display: str | None = None) -> dict[str, object]:
    """The patient by NHS number (a logical reference: Guardian serves no Patient)."""
    found: dict[str, object] = {"type": "Patient",
                                "identifier": {"system": NHS_NUMBER, "value": nhs_number}}
    if display:
        found["display"] = display
    return found


def organisation_reference(code: str, name: str) -> dict[str, object]:
    """A practice or a provider by ODS code, with its name."""
    return {"type": "Organization", "identifier": {"system": ODS, "value": code},
            "display": name}
