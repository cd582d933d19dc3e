"""Wait-time standards (docs/rules.md §1–§7): boundaries of every rule in the table."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guardian.domain import standards as S
from guardian.domain.errors import InvalidValue
from guardian.domain.pathway import (
    DeteriorationFlag,
    Diagnostic,
    Message,
    Pathway,
    WorkupItem,
)

D = dt.date
ONE = dt.timedelta(days=1)
NO_HOLIDAYS: frozenset[dt.date] = frozenset()


# ------------------------------------------------------------------------------ givens


def given_pathway(**kw: object) -> Pathway:
    """An open routine RTT pathway received and started on 2026-01-05 unless told otherwise."""
    values: dict[str, object] = {
        "provider": "RAJ",
        "pathway_id": "P1",
        "practice_code": "F81001",
        "treatment_function": "110",
        "priority": 1,
        "waiting_list_type": "ORTT",
        "received_on": D(2026, 1, 5),
        "clock_start": D(2026, 1, 5),
    }
    values.update(kw)
    return Pathway(**values)  # type: ignore[arg-type]


def given_message(mid: str = "m1", on: dt.date = D(2026, 1, 7), party: str = "gp",
                  direction: str = "in", answered_on: dt.date | None = None) -> Message:
    return Message(mid, direction, party, on, dt.datetime.combine(on, dt.time(9)), "hello",
                   answered_on=answered_on)


def given_flag(fid: str = "f1", raised_on: dt.date = D(2026, 1, 7),
               pathway: tuple[str, str] | None = None,
               reviewed_on: dt.date | None = None) -> DeteriorationFlag:
    return DeteriorationFlag(fid, raised_on, "worse pain", "patient", pathway=pathway,
                             reviewed_on=reviewed_on)


def only(items: list[S.Deadline], code: str) -> S.Deadline:
    found = [d for d in items if d.standard.code == code]
    assert len(found) == 1, [d.standard.code for d in items]
    return found[0]


def state_on(deadline: S.Deadline, on: dt.date) -> str:
    return S.status_on(deadline, on).state


def assert_calendar_boundaries(dl: S.Deadline, last_day: int, window: int | None) -> None:
    """Then: within up to the window, at risk in the window, breached from the day after."""
    start = dl.clock_from
    last = start + dt.timedelta(days=last_day)
    assert dl.last_day_within == last
    assert dl.breach_on == last + ONE
    # day before, on and after the last day within
    assert S.status_on(dl, last - ONE).state in ("at-risk", "within")
    assert S.status_on(dl, last).state == ("at-risk" if window else "within")
    assert S.status_on(dl, last).days_left == 0
    assert state_on(dl, last + ONE) == "breached"
    assert S.status_on(dl, last + ONE).days_left == -1
    if window:
        first_at_risk = last - dt.timedelta(days=window - 1)
        assert dl.at_risk_from == first_at_risk
        assert state_on(dl, first_at_risk - ONE) == "within"
        assert state_on(dl, first_at_risk) == "at-risk"
    else:
        assert dl.at_risk_from is None
        assert state_on(dl, last - ONE) == "within"


# ------------------------------------------------------------------------------ the table


def test_the_table_holds_every_row_of_section_14_with_its_defaults() -> None:
    # Given the default table / Then each row has the docs/rules.md §2 numbers
    rows = {s.code: (s.applies_to, s.procedure_priority, s.last_day_within, s.working_days,
                     s.at_risk_days) for s in S.STANDARDS}
    assert rows == {
        "rtt-18": ("rtt", None, 126, False, 14),
        "rtt-52": ("rtt", None, 364, False, 28),
        "rtt-65": ("rtt", None, 455, False, 28),
        "rtt-78": ("rtt", None, 546, False, 28),
        "rtt-104": ("rtt", None, 728, False, 28),
        "cancer-fds-28": ("cancer-fds", None, 28, False, 7),
        "cancer-62": ("cancer-62", None, 62, False, 14),
        "diagnostic-6w": ("diagnostic", None, 41, False, 7),
        "procedure-p2": ("procedure", "P2", 28, False, 7),
        "procedure-p3": ("procedure", "P3", 90, False, 14),
        "workup-14": ("workup", None, 14, False, 3),
        "deterioration-review": ("deterioration", None, 2, True, None),
        "message-answer": ("message", None, 2, True, None),
    }
    assert all(s.applies_to in S.KINDS and s.label for s in S.STANDARDS)
    assert S.get_standard("rtt-18").breach_day == 127
    assert S.get_standard("message-answer").breach_day is None
    assert "day 126" in S.get_standard("rtt-18").describe()


def test_load_standards_without_overrides_is_the_default_table() -> None:
    assert S.load_standards(None) == S.STANDARDS
    assert S.load_standards({}) == S.STANDARDS


def test_load_standards_applies_overrides_per_code() -> None:
    # Given a deployment that shortens the RTT at-risk window and disables workup's
    table = S.load_standards({"rtt-18": {"at_risk_days": 21, "last_day_within": "126"},
                              "WORKUP-14": {"at_risk_days": None}})
    # Then only those values change, in the same order
    assert [s.code for s in table] == [s.code for s in S.STANDARDS]
    assert S.get_standard("rtt-18", table).at_risk_days == 21
    assert S.get_standard("rtt-18", table).last_day_within == 126
    assert S.get_standard("workup-14", table).at_risk_days is None
    assert S.get_standard("rtt-52", table) == S.get_standard("rtt-52")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"rtt-19": {"at_risk_days": 3}}, "not a known standard"),
        ({"rtt-18": {"at_risk_days": -1}}, "must not be negative"),
        ({"rtt-18": {"last_day_within": "-5"}}, "must not be negative"),
        ({"rtt-18": {"last_day_within": 12.5}}, "whole number"),
        ({"rtt-18": {"last_day_within": "twelve"}}, "whole number"),
        ({"rtt-18": {"last_day_within": True}}, "whole number"),
        ({"rtt-18": {"last_day_within": None}}, "whole number"),
        ({"rtt-18": {"label": "x"}}, "cannot be configured"),
        ({"rtt-18": 7}, "must be a mapping"),
        ({"procedure-p9": {"last_day_within": 7}}, "not a procedure priority"),
        ({"procedure-p4": {"last_day_within": 7}}, "not tracked"),
    ],
)
def test_load_standards_refuses_bad_overrides(overrides: dict, message: str) -> None:
    with pytest.raises(InvalidValue, match=message):
        S.load_standards(overrides)


def test_get_standard_refuses_an_unknown_code() -> None:
    with pytest.raises(InvalidValue, match="not a known standard"):
        S.get_standard("nope")


# ------------------------------------------------------------------------------ days and bands


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


# ------------------------------------------------------------------------------ working days


def test_weekends_are_not_working_days() -> None:
    assert S.is_working_day(D(2026, 1, 9), NO_HOLIDAYS)  # Friday
    assert not S.is_working_day(D(2026, 1, 10), NO_HOLIDAYS)  # Saturday
    assert not S.is_working_day(D(2026, 1, 11), NO_HOLIDAYS)  # Sunday


def test_add_working_days_across_a_weekend() -> None:
    # Given Thursday 2026-01-08 / When 2 working days are added / Then Monday
    assert S.add_working_days(D(2026, 1, 8), 1, NO_HOLIDAYS) == D(2026, 1, 9)
    assert S.add_working_days(D(2026, 1, 8), 2, NO_HOLIDAYS) == D(2026, 1, 12)
    # from a Saturday the first working day is Monday
    assert S.add_working_days(D(2026, 1, 10), 1, NO_HOLIDAYS) == D(2026, 1, 12)
    assert S.add_working_days(D(2026, 1, 10), 0, NO_HOLIDAYS) == D(2026, 1, 10)
    assert S.add_working_days(D(2026, 1, 12), -1, NO_HOLIDAYS) == D(2026, 1, 9)


def test_england_bank_holidays_2026() -> None:
    hols = S.england_and_wales_bank_holidays([2026])
    assert {D(2026, 4, 3), D(2026, 4, 6), D(2026, 12, 25), D(2026, 12, 28)} <= hols
    assert D(2026, 4, 7) not in hols
    assert not S.is_working_day(D(2026, 4, 3), hols)  # Good Friday
    assert not S.is_working_day(D(2026, 4, 6), hols)  # Easter Monday
    assert not S.is_working_day(D(2026, 12, 28), hols)  # Boxing Day substitute
    assert S.is_working_day(D(2026, 12, 29), hols)


def test_add_working_days_across_easter_2026_with_default_bank_holidays() -> None:
    # Given Thursday 2026-04-02 / Then Good Friday, the weekend and Easter Monday are skipped
    assert S.add_working_days(D(2026, 4, 2), 1) == D(2026, 4, 7)
    assert S.add_working_days(D(2026, 4, 2), 2) == D(2026, 4, 8)
    assert S.is_working_day(D(2026, 4, 2))
    assert not S.is_working_day(D(2026, 4, 6))


def test_add_working_days_across_christmas_2026() -> None:
    # Given Thursday 24 Dec 2026: 25th (Fri), weekend, 28th (Boxing Day substitute) skipped
    hols = S.england_and_wales_bank_holidays([2026, 2027])
    assert S.add_working_days(D(2026, 12, 24), 1, hols) == D(2026, 12, 29)
    assert S.add_working_days(D(2026, 12, 24), 2, hols) == D(2026, 12, 30)
    # and across new year (1 Jan 2027 is a Friday bank holiday)
    assert S.add_working_days(D(2026, 12, 31), 1, hols) == D(2027, 1, 4)
    assert S.add_working_days(D(2026, 12, 31), 1) == D(2027, 1, 4)


def test_injected_bank_holidays_are_used() -> None:
    # Given a local holiday on Monday 2026-01-12
    assert S.add_working_days(D(2026, 1, 9), 1, frozenset({D(2026, 1, 12)})) == D(2026, 1, 13)


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


# ----------------------------------------------------------------- docs/rules.md §2 boundaries


@pytest.mark.parametrize(
    ("code", "last_day", "window"),
    [("rtt-18", 126, 14), ("rtt-52", 364, 28), ("rtt-65", 455, 28), ("rtt-78", 546, 28),
     ("rtt-104", 728, 28)],
)
def test_rtt_and_long_wait_boundaries(code: str, last_day: int, window: int) -> None:
    # Given an RTT pathway with its clock running from 2026-01-05
    p = given_pathway()
    # When its deadlines are worked out
    dl = only(S.deadlines(p), code)
    # Then the docs/rules.md §2 boundaries hold
    assert dl.clock_from == D(2026, 1, 5) and dl.subject == ""
    assert_calendar_boundaries(dl, last_day, window)


def test_rtt_18_dates_from_a_leap_day_clock_start() -> None:
    # Given a clock started on 2024-02-29
    dl = only(S.deadlines(given_pathway(clock_start=D(2024, 2, 29), received_on=D(2024, 2, 29))),
              "rtt-18")
    # Then day 126 is 2024-07-04 and the breach is recorded on 2024-07-05
    assert dl.last_day_within == D(2024, 7, 4)
    assert dl.breach_on == D(2024, 7, 5)
    assert dl.at_risk_from == D(2024, 6, 21)
    assert state_on(dl, D(2024, 6, 20)) == "within"
    assert state_on(dl, D(2024, 6, 21)) == "at-risk"
    assert state_on(dl, D(2024, 7, 4)) == "at-risk"
    assert state_on(dl, D(2024, 7, 5)) == "breached"


def test_52_week_wait_spanning_february_29() -> None:
    # Given a clock started 2024-01-01: 365 days later is 2024-12-31 (a leap year)
    dl = only(S.deadlines(given_pathway(clock_start=D(2024, 1, 1), received_on=D(2024, 1, 1))),
              "rtt-52")
    assert dl.last_day_within == D(2024, 12, 30)  # day 364
    assert dl.breach_on == D(2024, 12, 31)  # day 365, not 2025-01-01
    assert state_on(dl, D(2024, 12, 30)) == "at-risk"
    assert state_on(dl, D(2024, 12, 31)) == "breached"


def test_no_rtt_deadlines_once_stopped_or_not_rtt() -> None:
    for p in (given_pathway(clock_end=D(2026, 2, 1)),
              given_pathway(waiting_list_type="ONON"),
              given_pathway(clock_start=None)):
        assert not [d for d in S.deadlines(p) if d.standard.applies_to == "rtt"]


def test_leaving_the_list_is_not_a_clock_stop_every_standard_keeps_running() -> None:
    # docs/rules.md §5: a full-snapshot removal keeps every standard on the pathway
    waiting = given_pathway(priority=3, procedure_priority="P2",
                            priority_reviewed_on=D(2026, 1, 5))
    left = dataclasses.replace(waiting, left_list_on=D(2026, 2, 1))
    assert S.deadlines(left) == S.deadlines(waiting)
    assert {d.standard.code for d in S.deadlines(left)} >= {
        "rtt-18", "rtt-52", "cancer-fds-28", "cancer-62", "procedure-p2"}
    assert S.is_rtt_waiting_on(left, D(2026, 3, 1))


def test_cancer_faster_diagnosis_boundaries() -> None:
    # Given an urgent suspected cancer referral received 2026-01-05
    p = given_pathway(priority=3)
    dl = only(S.deadlines(p), "cancer-fds-28")
    assert dl.clock_from == D(2026, 1, 5)
    assert_calendar_boundaries(dl, 28, 7)
    assert dl.breach_on == D(2026, 2, 3)  # day 29


def test_cancer_faster_diagnosis_ends_when_the_diagnosis_is_communicated() -> None:
    p = given_pathway(priority=3, diagnosis_communicated_on=D(2026, 1, 20))
    codes = [d.standard.code for d in S.deadlines(p)]
    assert "cancer-fds-28" not in codes
    assert "cancer-62" in codes


def test_cancer_standards_clock_from_referral_received_not_rtt_start() -> None:
    p = given_pathway(priority=3, received_on=D(2026, 1, 2), clock_start=D(2026, 1, 9))
    assert only(S.deadlines(p), "cancer-62").clock_from == D(2026, 1, 2)
    assert only(S.deadlines(p), "rtt-18").clock_from == D(2026, 1, 9)


def test_cancer_62_day_boundaries() -> None:
    dl = only(S.deadlines(given_pathway(priority=3)), "cancer-62")
    assert_calendar_boundaries(dl, 62, 14)


def test_cancer_62_ends_at_clock_stop_and_does_not_apply_to_routine() -> None:
    stopped = given_pathway(priority=3, clock_end=D(2026, 2, 1), stop_reason="30")
    assert not [d for d in S.deadlines(stopped) if d.standard.applies_to.startswith("cancer")]
    for prio in (1, 2):
        codes = [d.standard.code for d in S.deadlines(given_pathway(priority=prio))]
        assert "cancer-62" not in codes and "cancer-fds-28" not in codes


def test_diagnostic_six_weeks_per_test_until_resulted() -> None:
    # Given two tests ordered, one resulted
    p = given_pathway(diagnostics={
        "t1": Diagnostic("t1", "mri", D(2026, 2, 2)),
        "t2": Diagnostic("t2", "ct", D(2026, 2, 3), resulted_on=D(2026, 2, 10), result="ok"),
    })
    found = [d for d in S.deadlines(p) if d.standard.code == "diagnostic-6w"]
    # Then only the outstanding one has a deadline: day 41, breach day 42 ("6 weeks or more")
    assert [d.subject for d in found] == ["t1"]
    assert found[0].breach_on == D(2026, 2, 2) + dt.timedelta(days=42)
    assert_calendar_boundaries(found[0], 41, 7)


def test_diagnostic_deadlines_apply_on_non_rtt_lists() -> None:
    p = given_pathway(waiting_list_type="INON", clock_start=None,
                      diagnostics={"t1": Diagnostic("t1", "mri", D(2026, 2, 2))})
    assert [d.standard.code for d in S.deadlines(p)] == ["diagnostic-6w"]


@pytest.mark.parametrize(("prio", "code", "last_day", "window"),
                         [("P2", "procedure-p2", 28, 7), ("P3", "procedure-p3", 90, 14),
                          ("p2", "procedure-p2", 28, 7)])
def test_procedure_priority_boundaries_from_last_review(prio: str, code: str, last_day: int,
                                                        window: int) -> None:
    # Given a priority reviewed on 2026-03-02, first seen earlier
    p = given_pathway(procedure_priority=prio, procedure_priority_since=D(2026, 2, 1),
                      priority_reviewed_on=D(2026, 3, 2))
    dl = only(S.deadlines(p), code)
    assert dl.clock_from == D(2026, 3, 2)
    assert_calendar_boundaries(dl, last_day, window)


def test_procedure_priority_clock_from_first_seen_without_a_review() -> None:
    p = given_pathway(procedure_priority="P2", procedure_priority_since=D(2026, 2, 1))
    assert only(S.deadlines(p), "procedure-p2").clock_from == D(2026, 2, 1)


@pytest.mark.parametrize("prio", ["P1a", "P1b", "P4", "P5", "P6"])
def test_other_procedure_priorities_are_not_tracked(prio: str) -> None:
    p = given_pathway(procedure_priority=prio, procedure_priority_since=D(2026, 2, 1))
    assert not [d for d in S.deadlines(p) if d.standard.applies_to == "procedure"]


def test_procedure_priority_stops_with_the_clock() -> None:
    p = given_pathway(procedure_priority="P2", priority_reviewed_on=D(2026, 2, 1),
                      clock_end=D(2026, 2, 10))
    assert not [d for d in S.deadlines(p) if d.standard.applies_to == "procedure"]


def test_workup_boundaries_while_items_are_outstanding() -> None:
    item = WorkupItem("w1", "bloods", "practice", D(2026, 1, 5))
    p = given_pathway(workup={"w1": item})
    dl = only(S.deadlines(p), "workup-14")
    assert dl.clock_from == D(2026, 1, 5) and dl.subject == ""
    assert_calendar_boundaries(dl, 14, 3)
    # When the item is done / Then no workup deadline
    item.completed_on = D(2026, 1, 8)
    assert not [d for d in S.deadlines(p) if d.standard.code == "workup-14"]


def test_deterioration_review_two_working_days_across_easter() -> None:
    # Given a flag raised on Wednesday 2026-04-01 for this pathway, and one for another
    p = given_pathway()
    flags = [given_flag("f1", D(2026, 4, 1), pathway=p.key),
             given_flag("f2", D(2026, 4, 1), pathway=("RAJ", "OTHER")),
             given_flag("f3", D(2026, 4, 1), reviewed_on=D(2026, 4, 2))]
    found = [d for d in S.deadlines(p, flags) if d.standard.code == "deterioration-review"]
    assert [d.subject for d in found] == ["f1"]
    dl = found[0]
    # Then Thu 2 Apr is working day 1, Tue 7 Apr day 2 (last day within), breach Wed 8 Apr
    assert dl.last_day_within == D(2026, 4, 7)
    assert dl.breach_on == D(2026, 4, 8)
    assert dl.at_risk_from is None
    assert state_on(dl, D(2026, 4, 6)) == "within"
    assert state_on(dl, D(2026, 4, 7)) == "within"
    assert state_on(dl, D(2026, 4, 8)) == "breached"


def test_patient_level_deterioration_flags_apply_to_each_pathway() -> None:
    p = given_pathway()
    dls = S.deadlines(p, [given_flag("f9", D(2026, 1, 7))], bank_holidays=NO_HOLIDAYS)
    dl = only(dls, "deterioration-review")
    assert dl.subject == "f9"
    assert dl.last_day_within == D(2026, 1, 9)  # Wed -> Thu (1), Fri (2)
    assert dl.breach_on == D(2026, 1, 12)  # next working day after Friday is Monday
    # the weekend between is not yet a breach
    assert state_on(dl, D(2026, 1, 10)) == "within"
    assert state_on(dl, D(2026, 1, 11)) == "within"
    assert state_on(dl, D(2026, 1, 12)) == "breached"


def test_message_answer_two_working_days_across_christmas_2026() -> None:
    # Given a GP message received Thursday 24 Dec 2026 and not answered
    p = given_pathway(messages={
        "m1": given_message("m1", D(2026, 12, 24)),
        "m2": given_message("m2", D(2026, 12, 24), answered_on=D(2026, 12, 24)),
        "m3": given_message("m3", D(2026, 12, 24), direction="out"),
        "m4": given_message("m4", D(2026, 12, 24), party="hospital"),
    })
    found = [d for d in S.deadlines(p) if d.standard.code == "message-answer"]
    assert [d.subject for d in found] == ["m1", "m4"]
    dl = found[0]
    # Then 25th, weekend and 28th (Boxing Day substitute) are skipped: 29th, 30th; breach 31st
    assert dl.clock_from == D(2026, 12, 24)
    assert dl.last_day_within == D(2026, 12, 30)
    assert dl.breach_on == D(2026, 12, 31)
    assert state_on(dl, D(2026, 12, 29)) == "within"
    assert state_on(dl, D(2026, 12, 30)) == "within"
    assert state_on(dl, D(2026, 12, 31)) == "breached"


def test_patient_messages_are_not_a_gp_or_hospital_message_deadline() -> None:
    p = given_pathway(messages={"m1": given_message("m1", party="patient")})
    assert not [d for d in S.deadlines(p) if d.standard.code == "message-answer"]


def test_working_day_at_risk_window_counts_working_days() -> None:
    # Given a deployment that puts message answers at risk on their last working day
    table = S.load_standards({"message-answer": {"at_risk_days": 1}})
    p = given_pathway(messages={"m1": given_message("m1", D(2026, 1, 8))})  # Thursday
    dl = only(S.deadlines(p, standards=table, bank_holidays=NO_HOLIDAYS), "message-answer")
    assert dl.last_day_within == D(2026, 1, 12)  # Fri (1), Mon (2)
    assert dl.at_risk_from == D(2026, 1, 12)
    assert state_on(dl, D(2026, 1, 11)) == "within"
    assert state_on(dl, D(2026, 1, 12)) == "at-risk"
    assert state_on(dl, D(2026, 1, 13)) == "breached"


def test_overridden_standards_move_the_boundaries() -> None:
    table = S.load_standards({"rtt-18": {"at_risk_days": 0}, "workup-14": {"last_day_within": 7,
                                                                            "at_risk_days": 30}})
    p = given_pathway(workup={"w1": WorkupItem("w1", "bloods", "practice", D(2026, 1, 5))})
    dls = S.deadlines(p, standards=table)
    assert only(dls, "rtt-18").at_risk_from is None
    workup = only(dls, "workup-14")
    assert workup.breach_on == D(2026, 1, 13)
    # an at-risk window longer than the standard starts at the clock start
    assert workup.at_risk_from == D(2026, 1, 5)


# ------------------------------------------------------------------------------ assess


def test_closed_pathways_have_no_deadlines() -> None:
    p = given_pathway(priority=3, closed_on=D(2026, 2, 1), procedure_priority="P2",
                      priority_reviewed_on=D(2026, 1, 10),
                      messages={"m1": given_message()},
                      workup={"w1": WorkupItem("w1", "bloods", "practice", D(2026, 1, 5))})
    assert S.deadlines(p, [given_flag()]) == []
    assert S.assess(p, D(2026, 3, 1), [given_flag()]) == []
    assert S.next_deadline(p, D(2026, 3, 1)) is None


def test_deadlines_are_sorted_by_last_day_within_then_code() -> None:
    p = given_pathway(priority=3, procedure_priority="P2", priority_reviewed_on=D(2026, 1, 5))
    dls = S.deadlines(p)
    keys = [(d.last_day_within, d.standard.code) for d in dls]
    assert keys == sorted(keys)
    # cancer-fds-28 and procedure-p2 both end on day 28 from 2026-01-05
    assert [d.standard.code for d in dls[:2]] == ["cancer-fds-28", "procedure-p2"]


def test_assess_breached_at_risk_and_next_deadline() -> None:
    # Given an RTT pathway started 2026-01-05 (day 126 = 2026-05-11)
    p = given_pathway()
    on = D(2026, 5, 1)  # day 116: in the 14-day window of RTT 18
    statuses = S.assess(p, on)
    assert [s.deadline.standard.code for s in statuses] == [
        "rtt-18", "rtt-52", "rtt-65", "rtt-78", "rtt-104"]
    rtt18 = statuses[0]
    assert rtt18.state == "at-risk" and rtt18.days_left == 10
    assert [s.deadline.standard.code for s in S.at_risk(p, on)] == ["rtt-18"]
    assert S.breached(p, on) == []
    assert S.next_deadline(p, on) == rtt18.deadline
    # When day 127 comes / Then RTT 18 is breached and the 52-week wait is next
    later = D(2026, 5, 12)
    assert [s.deadline.standard.code for s in S.breached(p, later)] == ["rtt-18"]
    assert S.status_on(rtt18.deadline, later).days_left == -1
    nxt = S.next_deadline(p, later)
    assert nxt is not None and nxt.standard.code == "rtt-52"
    assert "at risk" in rtt18.describe()
    assert "breached" in S.status_on(rtt18.deadline, later).describe()


def test_next_deadline_is_none_when_all_are_breached() -> None:
    p = given_pathway(clock_start=D(2020, 1, 1), received_on=D(2020, 1, 1))
    assert S.next_deadline(p, D(2026, 1, 1)) is None
    assert len(S.breached(p, D(2026, 1, 1))) == 5


def test_deadline_describe_is_plain_english() -> None:
    dl = only(S.deadlines(given_pathway()), "rtt-18")
    text = dl.describe()
    assert "18 weeks" in text and "5 Jan 2026" in text and "11 May 2026" in text
    assert "day 126" in text and "12 May 2026" in text
    msg = only(S.deadlines(given_pathway(messages={"m1": given_message()})), "message-answer")
    assert "working days" in msg.describe() and "(m1)" in msg.describe()


# ------------------------------------------------------------------------------ stages


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, "awaiting-first-appointment"),
        ({"appointment_on": D(2026, 2, 1)}, "first-appointment-booked"),
        ({"appointment_on": D(2026, 2, 1), "last_attended_on": D(2026, 2, 1)},
         "awaiting-treatment"),
        ({"last_attended_on": D(2026, 2, 1), "tci_on": D(2026, 3, 1)}, "treatment-booked"),
        ({"tci_on": D(2026, 3, 1),
          "diagnostics": {"t1": Diagnostic("t1", "mri", D(2026, 2, 2))}},
         "awaiting-diagnostics"),
        ({"diagnostics": {"t1": Diagnostic("t1", "mri", D(2026, 2, 2))},
          "workup": {"w1": WorkupItem("w1", "bloods", "practice", D(2026, 1, 5))}},
         "awaiting-workup"),
        ({"workup": {"w1": WorkupItem("w1", "bloods", "practice", D(2026, 1, 5))},
          "left_list_on": D(2026, 2, 1)}, "left-waiting-list"),
        ({"left_list_on": D(2026, 2, 1), "clock_end": D(2026, 2, 1)}, "clock-stopped"),
        ({"clock_end": D(2026, 2, 1), "closed_on": D(2026, 2, 2)}, "closed"),
        ({"diagnostics": {"t1": Diagnostic("t1", "mri", D(2026, 2, 2), D(2026, 2, 3), "ok")},
          "workup": {"w1": WorkupItem("w1", "x", "gp", D(2026, 1, 5), D(2026, 1, 6))}},
         "awaiting-first-appointment"),
    ],
)
def test_stage_is_exactly_one_of_the_documented_stages(changes: dict, expected: str) -> None:
    assert S.stage(given_pathway(**changes)) == expected


def test_every_stage_has_a_plain_english_label() -> None:
    assert set(S.STAGE_LABELS) == set(S.STAGES)
    assert len(S.STAGES) == 9
    assert S.STAGE_LABELS["awaiting-workup"] == "Waiting for the agreed workup to be done"
