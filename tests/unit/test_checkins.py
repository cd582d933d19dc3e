"""Waiting Well check-ins (docs/rules.md §8): when they fall due, and their outcomes."""

from __future__ import annotations

import datetime as dt

import pytest
import referrals
from referrals import PW, START, fired, report

from guardian.domain import checkins as C
from guardian.domain.errors import DomainError, InvalidValue, PathwayNotOpen
from guardian.domain.patient import Patient
from guardian.domain.patient import events as ev

D = dt.date
ONE = dt.timedelta(days=1)


def given_patient(**kw) -> Patient:
    return referrals.given_patient(report(**kw))


def due(patient: Patient, on: dt.date) -> list[tuple[dt.date, str, int]]:
    patient.check_ins(on)
    return [(e.due_on, e.reason, e.wait_days) for e in patient.collect_events()
            if isinstance(e, ev.CheckInDue)]


def day(n: int, start: dt.date = START) -> dt.date:
    return start + dt.timedelta(days=n)


def test_the_first_check_in_is_due_on_day_84_not_83():
    patient = given_patient()
    assert due(patient, day(83)) == []
    assert due(patient, day(84)) == [(day(84), "12 weeks of RTT wait", 84)]
    assert due(patient, day(85)) == []  # open: no other while it is unanswered


def test_day_84_across_february_29():
    # 2028 is a leap year: 1 Jan 2028 + 84 days = 25 March; in 2027 it is 26 March.
    leap = given_patient(received_on=D(2028, 1, 1), clock_start=D(2028, 1, 1))
    plain = given_patient(received_on=D(2027, 1, 1), clock_start=D(2027, 1, 1))
    assert due(leap, D(2028, 3, 24)) == []
    assert due(leap, D(2028, 3, 25))[0][0] == D(2028, 3, 25)
    assert due(plain, D(2027, 3, 25)) == []
    assert due(plain, D(2027, 3, 26))[0][0] == D(2027, 3, 26)


def test_a_late_job_dates_the_check_in_on_the_day_it_fell_due():
    patient = given_patient()
    assert due(patient, day(100)) == [(day(84), "12 weeks of RTT wait", 84)]


def test_after_a_long_gap_only_the_latest_check_in_is_recorded():
    patient = given_patient()
    assert due(patient, day(400)) == [(day(364), "52 weeks of RTT wait", 364)]
    patient.record_check_in_outcome(*PW, "no-change", day(401), "sam")
    patient.collect_events()
    # validated on day 401: the next re-check 84 days later
    assert C.next_check_in(patient.pathway(*PW)) == day(485)
    assert due(patient, day(484)) == []
    assert due(patient, day(485)) == [(day(485), "not validated in the last 84 days", 485)]


def test_milestones_and_re_checks_every_84_days_without_validation():
    patient = given_patient()
    assert due(patient, day(84))[0][0] == day(84)
    patient.record_check_in_outcome(*PW, "no-response", day(85), "sam")
    patient.record_check_in_outcome(*PW, "no-response", day(86), "sam")  # closed unanswered
    patient.collect_events()
    # not validated since: a re-check 84 days after the last check-in (day 168) comes
    # before the 26-week milestone (day 182), which is still due
    assert due(patient, day(167)) == []
    assert due(patient, day(168)) == [(day(168), "not validated in the last 84 days", 168)]
    patient.record_check_in_outcome(*PW, "no-change", day(170), "sam")
    patient.collect_events()
    assert due(patient, day(182)) == [(day(182), "26 weeks of RTT wait", 182)]


def test_no_check_ins_for_non_rtt_or_stopped_pathways():
    non_rtt = given_patient(waiting_list_type="ONON", clock_start=None)
    assert due(non_rtt, day(400)) == []
    stopped = given_patient()
    stopped.stop_clock(*PW, day(50), "30")
    assert due(stopped, day(400)) == []


def test_a_pathway_that_left_the_list_keeps_its_check_ins():
    # docs/rules.md §5: leaving the list is not a clock stop
    left = given_patient()
    left.leave_waiting_list(*PW, day(50))
    left.collect_events()
    assert due(left, day(84)) == [(day(84), "12 weeks of RTT wait", 84)]


def test_a_new_rtt_period_starts_the_schedule_again():
    patient = given_patient()
    due(patient, day(100))
    patient.reconcile(report(clock_end=day(120), rtt_status="30", as_of=day(121)))
    restart = day(200)
    patient.reconcile(report(clock_start=restart, rtt_status="10", as_of=restart))
    patient.collect_events()
    assert due(patient, day(84, restart)) == [(day(84, restart), "12 weeks of RTT wait", 84)]


# ------------------------------------------------------------------ outcomes


def outcome_events(patient: Patient) -> list[type]:
    return fired(patient)


def test_no_change_validates_and_closes_the_check_in():
    patient = given_patient()
    due(patient, day(84))
    patient.record_check_in_outcome(*PW, "no-change", day(86), "sam", note="still waiting")
    [event] = patient.collect_events()
    assert isinstance(event, ev.CheckInOutcomeRecorded)
    assert (event.provider, event.pathway_id, event.treatment_function, event.outcome,
            event.on, event.due_on, event.attempt) == (
        "RAJ", "PPI-1", "110", "no-change", day(86), day(84), 1)
    p = patient.pathway(*PW)
    assert p.check_in is None and p.validated_on == day(86)


def test_worse_raises_a_deterioration_flag_for_review():
    patient = given_patient()
    due(patient, day(84))
    patient.record_check_in_outcome(*PW, "worse", day(86), "sam", note="more pain at night")
    assert outcome_events(patient) == [ev.CheckInOutcomeRecorded, ev.DeteriorationFlagged]
    [flag] = patient.flags.values()
    assert (flag.source, flag.summary, flag.pathway, flag.raised_on) == (
        "check-in", "more pain at night", PW, day(86))


@pytest.mark.parametrize("outcome,reason,code", [
    ("no-longer-needed", None, "34"),
    ("treated-elsewhere", "30", "30"),
])
def test_removal_outcomes_validate_the_pathway_off_the_list(outcome, reason, code):
    patient = given_patient()
    due(patient, day(84))
    patient.record_check_in_outcome(*PW, outcome, day(90), "sam", stop_reason=reason)
    assert outcome_events(patient) == [ev.CheckInOutcomeRecorded, ev.ClockStopped]
    p = patient.pathway(*PW)
    assert (p.clock_end, p.stop_reason, p.is_open) == (day(90), code, False)
    # repeating the same command is a no-op, even though the pathway is now stopped
    patient.record_check_in_outcome(*PW, outcome, day(90), "sam", stop_reason=reason)
    assert outcome_events(patient) == []


def test_no_response_twice_closes_the_check_in_unanswered():
    patient = given_patient()
    due(patient, day(84))
    patient.record_check_in_outcome(*PW, "no-response", day(85), "sam")
    assert patient.pathway(*PW).check_in.attempts == 1
    patient.record_check_in_outcome(*PW, "no-response", day(85), "sam")  # a repeat: no-op
    patient.record_check_in_outcome(*PW, "no-response", day(88), "sam")
    events = patient.collect_events()
    assert [e.attempt for e in events] == [1, 2]
    p = patient.pathway(*PW)
    assert p.check_in is None and p.validated_on is None


def test_bad_outcomes_are_refused_clearly():
    patient = given_patient()
    with pytest.raises(InvalidValue, match="not a check-in outcome"):
        patient.record_check_in_outcome(*PW, "maybe", day(90), "sam")
    with pytest.raises(DomainError, match="no check-in is due"):
        patient.record_check_in_outcome(*PW, "no-response", day(90), "sam")
    with pytest.raises(InvalidValue, match="clock-stop reason"):
        patient.record_check_in_outcome(*PW, "no-longer-needed", day(90), "sam",
                                        stop_reason="20")
    due(patient, day(84))
    with pytest.raises(InvalidValue, match="due on"):
        patient.record_check_in_outcome(*PW, "no-change", day(80), "sam")
    patient.stop_clock(*PW, day(90), "30")
    with pytest.raises(PathwayNotOpen):
        patient.record_check_in_outcome(*PW, "no-change", day(91), "sam")


# ------------------------------------------------------------------ the schedule as configuration


def test_the_schedule_is_configurable():
    schedule = C.load_check_in_schedule({"milestone_days": [28, 56], "every_days": 0})
    assert schedule == C.CheckInSchedule((28, 56), 0)
    patient = given_patient()
    patient.check_ins(day(28), schedule)
    patient.record_check_in_outcome(*PW, "no-change", day(29), "sam")
    patient.check_ins(day(56), schedule)
    patient.record_check_in_outcome(*PW, "no-change", day(57), "sam")
    assert C.next_check_in(patient.pathway(*PW), schedule) is None  # no re-checks
    assert "12 weeks, 26 weeks, 52 weeks" in C.DEFAULT_SCHEDULE.describe()


@pytest.mark.parametrize("overrides,message", [
    ({"every_days": -84}, "must not be negative"),
    ({"milestone_days": [84, "soon"]}, "whole number"),
    ({"milestone_days": []}, "at least one day"),
    ({"milestone_days": 84}, "list of whole numbers"),
    ({"weekly": True}, "cannot be configured"),
])
def test_a_bad_schedule_is_refused_with_a_clear_message(overrides, message):
    with pytest.raises(InvalidValue, match=message):
        C.load_check_in_schedule(overrides)
