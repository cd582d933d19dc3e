"""Wait-time standards (docs/rules.md §2–§4, §9): the boundaries of every rule in the table,
deadlines assessed on a date, and stages. Givens: standards_givens.py; the table itself:
test_standards_table.py; days and weeks: test_rtt_waits.py; working days:
test_working_days.py."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from standards_givens import (
    NO_HOLIDAYS,
    D,
    assert_calendar_boundaries,
    given_flag,
    given_message,
    given_pathway,
    only,
    state_on,
)

from guardian.domain import standards as S
from guardian.domain.pathway import Diagnostic, WorkupItem

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
    pathway = given_pathway(messages={"m1": given_message()},
                            diagnostics={"t1": Diagnostic("t1", "mri", D(2026, 2, 2))})
    msg = only(S.deadlines(pathway), "message-answer")
    words = S.subject_words(pathway, [], "message", msg.subject)
    assert "working days" in msg.describe() and "m1" not in msg.describe()  # never the id
    assert words is not None and words.startswith("message from the")
    assert f"({words})" in msg.describe(words)
    test = only(S.deadlines(pathway), "diagnostic-6w")
    assert S.subject_words(pathway, [], "diagnostic", test.subject) == "MRI ordered 2 Feb 2026"


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
