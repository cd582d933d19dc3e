"""The provider reports the domain tests start from: an 18-week RTT referral to Trauma and
Orthopaedics at RAJ, received and started on Monday 5 January 2026 (`report`), or on
3 November 2025 and reported on 31 March 2026 (`report_2025`); the patient the tests start
from (`given_patient`), whose new events they read by class (`fired`)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

from guardian.domain.patient import Patient
from guardian.domain.report import ReferralReport

START = dt.date(2026, 1, 5)  # a Monday; day 127 (the RTT 18 breach day) is 2026-05-12
PW = ("RAJ", "PPI-1")
NOV_3 = dt.date(2025, 11, 3)


def report(**changes) -> ReferralReport:
    """The base report with `changes` (any ReferralReport field)."""
    base = ReferralReport(
        provider="RAJ", pathway_id="PPI-1", nhs_number="9995260182",
        birth_date=dt.date(1958, 3, 14), practice_code="Z90001", treatment_function="110",
        priority=1, waiting_list_type="ORTT", received_on=START, clock_start=START,
        as_of=START,
    )
    return dataclasses.replace(base, **changes)


def report_2025(**changes) -> ReferralReport:
    """Pathway PPI-0001, received and started on 3 November 2025, as of 31 March 2026."""
    base = {"pathway_id": "PPI-0001", "received_on": NOV_3, "clock_start": NOV_3,
            "as_of": dt.date(2026, 3, 31)}
    return report(**{**base, **changes})


def given_patient(*reports: ReferralReport) -> Patient:
    """A patient registered from the first report, every report applied, events collected."""
    patient = Patient.register(uuid.uuid4(), reports[0])
    for r in reports:
        patient.reconcile(r)
    patient.collect_events()
    return patient


def fired(patient: Patient) -> list[type]:
    """The classes of the patient's events since the last call, in order."""
    return [type(e) for e in patient.collect_events()]
