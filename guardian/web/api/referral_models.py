"""The shapes of the referral API (docs/api.md, `POST /api/v1/referrals` and
`GET /api/v1/referrals/{pathway_id}`): the body posted, one row of the waiting-list extract
with the extract's columns in lower case (the importer's column table,
guardian/ingest/ptl/columns.py) and its text rule on every value, what a write answers, and
the referral's status as a GET answers it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from guardian.ingest.ptl.columns import COLUMNS, REQUIRED, field_problem

# ---------------------------------------------------------------------------- written

_DESCRIPTIONS = {
    "NHS_NUMBER": "10 digits with a valid check digit (spaces allowed)",
    "PERSON_BIRTH_DATE": "YYYY-MM-DD",
    "PATIENT_PATHWAY_IDENTIFIER": "The provider's pathway id (provider + id is the key)",
    "ORGANISATION_IDENTIFIER_CODE_OF_PROVIDER": "ODS code, 3–5 letters or digits",
    "GENERAL_MEDICAL_PRACTICE_CODE": "Registered practice: in the organisation reference and "
                                     "in your scope",
    "REFERRAL_REQUEST_RECEIVED_DATE": "YYYY-MM-DD, not after today",
    "REFERRAL_TO_TREATMENT_PERIOD_START_DATE": "RTT clock start; required unless "
                                               "waiting_list_type is ONON or INON",
    "REFERRAL_TO_TREATMENT_PERIOD_END_DATE": "The clock stopped on this date",
    "REFERRAL_TO_TREATMENT_PERIOD_STATUS": "National RTT status code",
    "ACTIVITY_TREATMENT_FUNCTION_CODE": "3-digit code or X01–X06",
    "PRIORITY_TYPE_CODE": "1 routine, 2 urgent, 3 urgent suspected cancer",
    "WAITING_LIST_TYPE": "ORTT, IRTT, ONON or INON (empty: an RTT list)",
}


class _ReferralBase(BaseModel):
    """Keys are matched without regard to case; unknown keys are ignored."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={"example": {
            "nhs_number": "9995260182", "person_birth_date": "1958-03-14",
            "patient_pathway_identifier": "RAJ-000123",
            "organisation_identifier_code_of_provider": "RAJ",
            "general_medical_practice_code": "Y90001",
            "referral_request_received_date": "2026-01-05",
            "referral_to_treatment_period_start_date": "2026-01-05",
            "activity_treatment_function_code": "110", "priority_type_code": "1",
        }},
    )

    @model_validator(mode="before")
    @classmethod
    def _lower_case_keys(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            return {str(k).lower(): v for k, v in data.items()}
        return data

    @field_validator("*")
    @classmethod
    def _one_text_rule(cls, value: Any, info: ValidationInfo) -> Any:
        """No control character or lone surrogate, and the column's length limit (the
        importer's rule, guardian/domain/text.py): refused before anything is looked up."""
        if isinstance(value, str) and info.field_name:
            message = field_problem(info.field_name.upper(), value)
            if message is not None:
                raise ValueError(message)
        return value


ReferralRow = create_model(  # type: ignore[call-overload]
    "ReferralRow",
    __base__=_ReferralBase,
    __doc__="One referral in the waiting-list extract's row shape: the CSV columns in lower "
            "case, every value a string (docs/formats.md).",
    **{
        column.lower(): (
            (str, Field(description=_DESCRIPTIONS.get(column, column)))
            if column in REQUIRED
            else (str | None, Field(None, description=_DESCRIPTIONS.get(column, column)))
        )
        for column in COLUMNS
    },
)


class ReferralWritten(BaseModel):
    result: Literal["created", "updated", "unchanged"]
    provider: str
    provider_name: str = Field(description="The provider's name (its code when unnamed)")
    pathway_id: str
    href: str = Field(description="Where to read the referral's status")


# ---------------------------------------------------------------------------- read


class PatientDetails(BaseModel):
    patient_id: str = Field(description="Guardian's patient id (hex)")
    nhs_number: str
    given_name: str | None
    family_name: str | None
    birth_date: dt.date


class Deadline(BaseModel):
    standard: str
    label: str
    subject: str
    last_day_within: dt.date
    breach_on: dt.date
    state: str
    days_left: int | None
    text: str
    plain: str | None = Field(None, description="The deadline in a sentence for GPs")


class Breach(BaseModel):
    standard: str
    label: str
    subject: str
    breach_on: dt.date


class OutstandingItem(BaseModel):
    what: str
    owner: str = Field(description="practice, patient, hospital or guardian")
    owner_label: str
    since: dt.date
    overdue: bool


class ExpectedWaitOut(BaseModel):
    provider: str
    provider_name: str | None = Field(description="The provider's name")
    treatment_function: str
    priority: int | None = Field(description="None: the basis is every priority")
    as_of: dt.date
    sample: int
    median_weeks: float | None
    p92_weeks: float | None
    window_weeks: int
    known: bool
    basis: str
    summary: str


class HistoryEntry(BaseModel):
    on: dt.date
    text: str
    by: str


class WorkupOut(BaseModel):
    item_id: str
    description: str
    requested_from: str
    required_on: dt.date
    completed_on: dt.date | None
    completed_by: str | None


class DiagnosticOut(BaseModel):
    test_id: str
    test: str
    test_name: str
    ordered_on: dt.date
    resulted_on: dt.date | None
    result: str | None


class CarePlanOut(BaseModel):
    """The plan agreed with the patient while they wait (docs/rules.md "Plans while
    waiting"), codes with their names beside them."""

    agreed_on: dt.date
    agreed_by: str
    self_care: list[str] = Field(description="Codes of docs/rules.md's self-care list")
    self_care_names: list[str]
    call_if_worse: str = Field(description="practice, guardian or hospital")
    call_if_worse_name: str
    note: str


class ReferralPathway(BaseModel):
    """One referral's status: the shape `GET /api/v1/referrals/{pathway_id}` answers and
    each pathway of `GET /api/v1/patients/{patient_id}` has."""

    provider: str
    provider_name: str = Field(description="The provider's name (its code when unnamed)")
    pathway_id: str
    treatment_function: str
    treatment_function_name: str
    priority: int
    priority_label: str
    practice_code: str
    practice_name: str = Field(description="The practice's name (its code when unknown)")
    pcn_code: str | None
    pcn_name: str | None = Field(description="The PCN's name (null with no PCN)")
    stage: str = Field(description="One of the stages of docs/rules.md §9")
    stage_label: str
    summary: str
    received_on: dt.date
    clock_start: dt.date | None
    waited_days: int
    waited_weeks: int
    deadlines: list[Deadline]
    breaches: list[Breach]
    outstanding: list[OutstandingItem]
    workup: list[WorkupOut]
    diagnostics: list[DiagnosticOut]
    guardian_actions: list[str]
    expected_wait: ExpectedWaitOut | None
    care_plan: CarePlanOut | None = Field(
        description="The plan agreed while waiting; null while none is agreed")
    history: list[HistoryEntry]


class ReferralView(ReferralPathway):
    as_of: dt.date
    patient: PatientDetails
