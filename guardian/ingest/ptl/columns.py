"""The waiting-list extract's columns (docs/formats.md "Columns"): THE one table of CSV
header → `ReferralReport` field, its parser, whether it is required, whether its parse is
worth caching and its kind of text (guardian/domain/text.py's length limit). The importer
reads rows through it, `POST /api/v1/referrals` builds its JSON model from it and the demo
writes its extracts with it, in the table's order (the order docs/formats.md lists). The
one-value parsers the table names are here too.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from guardian.domain import codes, text
from guardian.domain.errors import InvalidValue
from guardian.domain.identifiers import (
    is_email_address,
    normalise_nhs_number,
    normalise_practice_code,
    normalise_provider_code,
    normalise_ubrn,
)

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# Parsers that need more than the value: a date names its column in its messages; a practice
# must be in the organisation reference of the import (RecordParser makes both).
DATE = "date"
PRACTICE = "practice"


def parse_date(value: str, column: str) -> dt.date:
    v = value.strip()
    if not _DATE.match(v):
        raise InvalidValue(f"{column} {value!r} is not a date in the form YYYY-MM-DD", column)
    try:
        return dt.date.fromisoformat(v)
    except ValueError:
        raise InvalidValue(f"{column} {value!r} is not a real date", column) from None


def practice_parser(
    practices: frozenset[str] | set[str] | dict[str, object],
) -> Callable[[str], str]:
    def parse(value: str) -> str:
        code = normalise_practice_code(value)
        if code not in practices:
            raise InvalidValue(f"practice {code} is not in the organisation reference")
        return code

    return parse


def _pathway_id(value: str) -> str:
    v = value.strip()  # its length and control characters: field_problem
    if not v.isprintable():
        raise InvalidValue(f"pathway id {v!r} is not printable text",
                           "PATIENT_PATHWAY_IDENTIFIER")
    return v


def _phone(value: str) -> str:
    v = value.strip()
    if not re.fullmatch(r"\+?[0-9 ()-]{6,20}", v):
        raise InvalidValue(f"phone {value!r} is not a telephone number")
    return v


def _email(value: str) -> str:
    v = value.strip()
    if not is_email_address(v):
        raise InvalidValue(f"e-mail {value!r} is not an e-mail address")
    return v


@dataclass(frozen=True)
class Column:
    name: str  # the CSV header (upper case); the API's JSON key in lower case
    field: str  # the ReferralReport attribute it fills
    parse: Callable[[str], object] | Literal["date", "practice"]
    required: bool = False
    memo: bool = False  # few distinct values (dates, codes): parsed once per import
    kind: str = "identifier"  # its kind of text (guardian/domain/text.py)


TABLE: tuple[Column, ...] = (
    Column("NHS_NUMBER", "nhs_number", normalise_nhs_number, required=True),
    Column("PERSON_BIRTH_DATE", "birth_date", DATE, required=True, memo=True),
    Column("PATIENT_PATHWAY_IDENTIFIER", "pathway_id", _pathway_id, required=True),
    Column("ORGANISATION_IDENTIFIER_CODE_OF_PROVIDER", "provider", normalise_provider_code,
           required=True, memo=True),
    Column("GENERAL_MEDICAL_PRACTICE_CODE", "practice_code", PRACTICE, required=True,
           memo=True),
    Column("REFERRAL_REQUEST_RECEIVED_DATE", "received_on", DATE, required=True, memo=True),
    Column("REFERRAL_TO_TREATMENT_PERIOD_START_DATE", "clock_start", DATE, memo=True),
    Column("REFERRAL_TO_TREATMENT_PERIOD_END_DATE", "clock_end", DATE, memo=True),
    Column("REFERRAL_TO_TREATMENT_PERIOD_STATUS", "rtt_status", codes.parse_rtt_status,
           memo=True),
    Column("ACTIVITY_TREATMENT_FUNCTION_CODE", "treatment_function",
           codes.parse_treatment_function, required=True, memo=True),
    Column("PRIORITY_TYPE_CODE", "priority", codes.parse_priority, required=True, memo=True),
    Column("UBRN", "ubrn", normalise_ubrn),
    Column("OUTPATIENT_FUTURE_APPOINTMENT_DATE", "appointment_on", DATE, memo=True),
    Column("TCI_DATE", "tci_on", DATE, memo=True),
    Column("DATE_LAST_ATTENDED", "last_attended_on", DATE, memo=True),
    Column("LAST_DNA_DATE", "last_dna_on", DATE, memo=True),
    Column("PROCEDURE_PRIORITY_CODE", "procedure_priority", codes.parse_procedure_priority,
           memo=True),
    Column("DATE_OF_LAST_PRIORITY_REVIEW", "priority_reviewed_on", DATE, memo=True),
    Column("WAITING_LIST_TYPE", "waiting_list_type", codes.parse_waiting_list_type,
           memo=True),
    Column("LOCAL_PATIENT_IDENTIFIER", "local_patient_id", str.strip, kind="local-id"),
    Column("PATIENT_GIVEN_NAME", "given_name", str.strip, kind="name"),
    Column("PATIENT_FAMILY_NAME", "family_name", str.strip, kind="name"),
    Column("PATIENT_PHONE", "phone", _phone),
    Column("PATIENT_EMAIL", "email", _email, kind="email"),
)
HEADER = tuple(c.name for c in TABLE)  # an extract's header, as the demo writes it
REQUIRED = tuple(c.name for c in TABLE if c.required)
OPTIONAL = tuple(c.name for c in TABLE if not c.required)
COLUMNS = REQUIRED + OPTIONAL
COLUMN_OF = {c.field: c.name for c in TABLE}  # report field → column
_KINDS = {c.name: c.kind for c in TABLE}


def field_problem(column: str, value: str) -> str | None:
    """The one text rule (no control character, no lone surrogate, the kind's length limit)
    applied to a trimmed value of `column`: shared by the importer and the API's model."""
    return text.problem(value.strip(), _KINDS.get(column, "identifier"))


def lookable(provider: str, pathway_id: str) -> bool:
    """Whether a raw key may be looked up at all: a NUL cannot even be sent to PostgreSQL
    (the row is rejected when parsed, naming the column)."""
    return (field_problem("ORGANISATION_IDENTIFIER_CODE_OF_PROVIDER", provider) is None
            and field_problem("PATIENT_PATHWAY_IDENTIFIER", pathway_id) is None)
