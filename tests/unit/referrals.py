"""One provider report to start the domain tests from: an 18-week RTT referral to Trauma
and Orthopaedics at RAJ, received and started on Monday 5 January 2026."""

from __future__ import annotations

import dataclasses
import datetime as dt

from guardian.domain.report import ReferralReport

START = dt.date(2026, 1, 5)  # a Monday; day 127 (the RTT 18 breach day) is 2026-05-12
PW = ("RAJ", "PPI-1")


def report(**changes) -> ReferralReport:
    """The base report with `changes` (any ReferralReport field)."""
    base = ReferralReport(
        provider="RAJ", pathway_id="PPI-1", nhs_number="9995260182",
        birth_date=dt.date(1958, 3, 14), practice_code="Z90001", treatment_function="110",
        priority=1, waiting_list_type="ORTT", received_on=START, clock_start=START,
        as_of=START,
    )
    return dataclasses.replace(base, **changes)
