"""RTT waits in days and weeks, and who counts as waiting (docs/rules.md §1, §5, §6)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standards_givens import D, given_pathway

from guardian.domain import standards as S
from guardian.domain.errors import InvalidValue


def test_waiting_days_counts_the_start_date_as_day_0() -> None:
    assert S.waiting_days(D(2026, 1, 5), D(2026, 1, 5)) == 0
    assert S.waiting_days(D(2026, 1, 5), D(2026, 1, 6)) == 1


def test_waiting_days_across_february_29() -> None:
    # Given a leap year: 2024-01-01 to 2024-12-31 is 365 days, 2023-03-01 to 2024-03-01 is 366
    assert S.waiting_days(D(2024, 1, 1), D(2024, 12, 31)) == 365
    assert S.waiting_days(D(2023, 3, 1), D(2024, 3, 1)) == 366
    assert S.waiting_days(D(2024, 2, 29), D(2025, 2, 28)) == 365


@pytest.mark.parametrize(
    ("days", "band", "column"),
    [
        (0, 0, "Gt 00 To 01 Weeks SUM 1"),
        (7, 0, "Gt 00 To 01 Weeks SUM 1"),
        (8, 1, "Gt 01 To 02 Weeks SUM 1"),
        (70, 9, "Gt 09 To 10 Weeks SUM 1"),
        (71, 10, "Gt 10 To 11 Weeks SUM 1"),
        (126, 17, "Gt 17 To 18 Weeks SUM 1"),
        (127, 18, "Gt 18 To 19 Weeks SUM 1"),
        (728, 103, "Gt 103 To 104 Weeks SUM 1"),
        (729, 104, "Gt 104 Weeks SUM 1"),
        (5000, 104, "Gt 104 Weeks SUM 1"),
    ],
)
def test_week_band_and_its_column(days: int, band: int, column: str) -> None:
    assert S.week_band(days) == band
    assert S.RTT_BAND_COLUMNS[S.week_band(days)] == column


def test_band_columns_are_the_105_columns_of_the_nhs_files() -> None:
    cols = S.RTT_BAND_COLUMNS
    assert len(cols) == 105
    assert cols[0] == "Gt 00 To 01 Weeks SUM 1"
    assert cols[9] == "Gt 09 To 10 Weeks SUM 1"
    assert cols[10] == "Gt 10 To 11 Weeks SUM 1"
    assert cols[103] == "Gt 103 To 104 Weeks SUM 1"
    assert cols[-1] == "Gt 104 Weeks SUM 1"
    assert S.OVER_104_WEEKS_BAND == 104
    assert len(set(cols)) == 105


def test_within_18_weeks_is_up_to_day_126() -> None:
    assert S.within_18_weeks(0)
    assert S.within_18_weeks(126)
    assert not S.within_18_weeks(127)


def test_week_band_refuses_a_negative_wait() -> None:
    with pytest.raises(InvalidValue):
        S.week_band(-1)


@given(st.integers(min_value=0, max_value=2000), st.integers(min_value=0, max_value=2000))
def test_week_bands_are_monotone_and_agree_with_within_18_weeks(a: int, b: int) -> None:
    lo, hi = sorted((a, b))
    assert S.week_band(lo) <= S.week_band(hi)
    assert 0 <= S.week_band(hi) < len(S.RTT_BAND_COLUMNS)
    # within 18 weeks exactly when the band is at most "17–18"
    assert S.within_18_weeks(lo) == (S.week_band(lo) <= 17)
    # a band spans 7 days (band 0 spans days 0–7)
    if S.week_band(lo) < 104 and lo > 0:
        assert 7 * S.week_band(lo) + 1 <= lo <= 7 * S.week_band(lo) + 7


# ------------------------------------------------------------------------------ who is waiting


def test_rtt_pathway_waits_from_its_clock_start() -> None:
    p = given_pathway(clock_start=D(2026, 1, 5))
    assert not S.is_rtt_waiting_on(p, D(2026, 1, 4))
    assert S.is_rtt_waiting_on(p, D(2026, 1, 5))


def test_a_stopped_clock_is_not_waiting_on_its_end_date() -> None:
    # Given a clock stopped (treated) on 2026-03-02
    p = given_pathway(clock_end=D(2026, 3, 2), rtt_status="30", stop_reason="30")
    # Then it was waiting the day before, and not on or after the end date
    assert S.is_rtt_waiting_on(p, D(2026, 3, 1))
    assert not S.is_rtt_waiting_on(p, D(2026, 3, 2))
    assert not S.is_rtt_waiting_on(p, D(2026, 3, 3))


def test_first_appointment_dna_stops_the_clock() -> None:
    # Given a first-appointment DNA (status 33) reported with end date 2026-02-10
    p = given_pathway(clock_end=D(2026, 2, 10), rtt_status="33", stop_reason="33",
                      last_dna_on=D(2026, 2, 10))
    # Then it is clock-stopped, not waiting from its end date, with no RTT deadlines
    assert S.stage(p) == "clock-stopped"
    assert S.is_rtt_waiting_on(p, D(2026, 2, 9))
    assert not S.is_rtt_waiting_on(p, D(2026, 2, 10))
    assert not [d for d in S.deadlines(p) if d.standard.applies_to == "rtt"]


def test_non_rtt_lists_and_closed_pathways_are_not_rtt_waiting() -> None:
    assert not S.is_rtt_waiting_on(given_pathway(waiting_list_type="ONON"), D(2026, 2, 1))
    assert not S.is_rtt_waiting_on(given_pathway(waiting_list_type="INON", clock_start=None),
                                   D(2026, 2, 1))
    closed = given_pathway(closed_on=D(2026, 2, 1))
    assert S.is_rtt_waiting_on(closed, D(2026, 1, 31))
    assert not S.is_rtt_waiting_on(closed, D(2026, 2, 1))
