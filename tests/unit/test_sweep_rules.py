"""The wait-time sweep as the Patient aggregate decides it (docs/rules.md §3, §4).

For every standard in the table: nothing on the last day within, the breach recorded on the
breach day (and dated on it when the sweep runs later), once; the at-risk warning from the
first day of the window, once per window; leap years and bank holidays; withdrawals when a
correction makes a recorded breach untrue.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from referrals import PW, START, given_patient, report

from guardian.domain import standards as S
from guardian.domain.patient import Patient
from guardian.domain.patient import events as ev

D = dt.date
ONE = dt.timedelta(days=1)


def recorded(patient: Patient) -> list[tuple]:
    """The sweep's events since the last call, as (class, standard, subject, date)."""
    out = []
    for e in patient.collect_events():
        if isinstance(e, ev.WaitBreached):
            out.append((ev.WaitBreached, e.standard, e.subject, e.breach_on))
        elif isinstance(e, ev.StepAtRisk):
            out.append((ev.StepAtRisk, e.standard, e.subject, e.at_risk_from))
        elif isinstance(e, ev.BreachWithdrawn):
            out.append((ev.BreachWithdrawn, e.standard, e.subject, e.reason))
    return out


def sweep(patient: Patient, on: dt.date) -> list[tuple]:
    patient.check_waits(on)
    return recorded(patient)


# ------------------------------------------------------------------ every standard


def _rtt(**kw) -> tuple[Patient, str, dt.date]:
    return given_patient(report(**kw)), "", START


def _cancer() -> tuple[Patient, str, dt.date]:
    return given_patient(report(priority=3, clock_start=None, waiting_list_type="ONON")), "", START


def _diagnostic() -> tuple[Patient, str, dt.date]:
    patient = given_patient(report(clock_start=None, waiting_list_type="ONON"))
    patient.order_diagnostic(*PW, "t1", "mri", START + 3 * ONE)
    patient.collect_events()
    return patient, "t1", START + 3 * ONE


def _procedure(code: str) -> tuple[Patient, str, dt.date]:
    reviewed = D(2026, 2, 2)
    return given_patient(report(clock_start=None, waiting_list_type="ONON",
                                procedure_priority=code, priority_reviewed_on=reviewed)
                         ), "", reviewed


def _workup() -> tuple[Patient, str, dt.date]:
    patient = given_patient(report(clock_start=None, waiting_list_type="ONON"))
    patient.require_workup_item(*PW, "w1", "Blood tests", "practice", START)
    patient.collect_events()
    return patient, "", START


GIVENS = {
    "rtt-18": _rtt, "rtt-52": _rtt, "rtt-65": _rtt, "rtt-78": _rtt, "rtt-104": _rtt,
    "cancer-fds-28": _cancer, "cancer-62": _cancer, "diagnostic-6w": _diagnostic,
    "procedure-p2": lambda: _procedure("P2"), "procedure-p3": lambda: _procedure("P3"),
    "workup-14": _workup,
}


def only_standard(events: list[tuple], code: str) -> list[tuple]:
    return [e for e in events if e[1] == code]


@pytest.mark.parametrize("code", sorted(GIVENS))
def test_each_calendar_standard_breaches_on_its_breach_day_and_warns_in_its_window(code):
    standard = S.get_standard(code)
    patient, subject, clock_from = GIVENS[code]()
    last = clock_from + dt.timedelta(days=standard.last_day_within)
    window_from = last - dt.timedelta(days=standard.at_risk_days - 1)
    # the day before the window: nothing
    assert only_standard(sweep(patient, window_from - ONE), code) == []
    # first day of the window: warned, dated on it; again: nothing
    assert only_standard(sweep(patient, window_from), code) == [
        (ev.StepAtRisk, code, subject, window_from)]
    assert only_standard(sweep(patient, window_from), code) == []
    # the last day within: still met
    assert only_standard(sweep(patient, last), code) == []
    # the breach day: recorded, dated on it; the day after: nothing new
    assert only_standard(sweep(patient, last + ONE), code) == [
        (ev.WaitBreached, code, subject, last + ONE)]
    assert only_standard(sweep(patient, last + 2 * ONE), code) == []


@pytest.mark.parametrize("code", sorted(GIVENS))
def test_a_late_sweep_dates_the_breach_on_the_breach_day_without_a_warning(code):
    standard = S.get_standard(code)
    patient, subject, clock_from = GIVENS[code]()
    breach_on = clock_from + dt.timedelta(days=standard.last_day_within + 1)
    assert only_standard(sweep(patient, breach_on + 40 * ONE), code) == [
        (ev.WaitBreached, code, subject, breach_on)]


def test_every_row_of_the_table_is_covered_by_a_sweep_test():
    working_day = {s.code for s in S.STANDARDS if s.working_days}
    assert set(GIVENS) | working_day == {s.code for s in S.STANDARDS}
    assert working_day == {"deterioration-review", "message-answer"}


def test_deterioration_review_breach_across_easter_2026():
    # Given a flag raised on Thursday 2 April 2026: Good Friday (3rd) and Easter Monday (6th)
    # are bank holidays, so 2 working days end on Wednesday 8 April; breach Thursday 9th.
    patient, _, _ = _rtt(clock_start=D(2026, 3, 30), received_on=D(2026, 3, 30))
    patient.flag_deterioration("f1", D(2026, 4, 2), "worse pain", "patient", *PW)
    patient.collect_events()
    assert only_standard(sweep(patient, D(2026, 4, 8)), "deterioration-review") == []
    assert only_standard(sweep(patient, D(2026, 4, 14)), "deterioration-review") == [
        (ev.WaitBreached, "deterioration-review", "f1", D(2026, 4, 9))]


def test_message_answer_breach_across_christmas_2026():
    # Given a GP message on Thursday 24 December 2026: 25th, and the 28th (Boxing Day's
    # substitute) are bank holidays; 2 working days end Wednesday 30th; breach the 31st.
    patient, _, _ = _rtt(clock_start=D(2026, 12, 1), received_on=D(2026, 12, 1))
    at = dt.datetime(2026, 12, 24, 10, tzinfo=dt.UTC)
    patient.receive_message(*PW, "m1", "gp", at, D(2026, 12, 24), "any news?", "Dr A")
    patient.collect_events()
    assert only_standard(sweep(patient, D(2026, 12, 30)), "message-answer") == []
    assert only_standard(sweep(patient, D(2026, 12, 31)), "message-answer") == [
        (ev.WaitBreached, "message-answer", "m1", D(2026, 12, 31))]


def test_an_answer_before_the_breach_day_means_no_breach():
    patient, _, _ = _rtt(clock_start=D(2026, 12, 1), received_on=D(2026, 12, 1))
    at = dt.datetime(2026, 12, 24, 10, tzinfo=dt.UTC)
    patient.receive_message(*PW, "m1", "gp", at, D(2026, 12, 24), "any news?", "Dr A")
    patient.send_message(*PW, "m2", "gp", at, D(2026, 12, 30), "booked", "coordinator")
    patient.collect_events()
    assert only_standard(sweep(patient, D(2027, 1, 10)), "message-answer") == []


def test_rtt_18_from_a_leap_day_breaches_on_day_127():
    # 29 Feb 2024 + 126 days = 4 July 2024 (last day within); breach 5 July.
    patient, _, _ = _rtt(clock_start=D(2024, 2, 29), received_on=D(2024, 2, 29),
                         as_of=D(2024, 3, 1))
    assert only_standard(sweep(patient, D(2024, 7, 4)), "rtt-18") == [
        (ev.StepAtRisk, "rtt-18", "", D(2024, 6, 21))]
    assert only_standard(sweep(patient, D(2024, 7, 5)), "rtt-18") == [
        (ev.WaitBreached, "rtt-18", "", D(2024, 7, 5))]


def test_52_weeks_across_february_29_2028():
    # 1 Mar 2027 + 364 days = 28 Feb 2028 (2028 is a leap year); breach 29 Feb 2028.
    patient, _, _ = _rtt(clock_start=D(2027, 3, 1), received_on=D(2027, 3, 1),
                         as_of=D(2027, 3, 1))
    sweep(patient, D(2028, 2, 28))
    assert only_standard(sweep(patient, D(2028, 2, 29)), "rtt-52") == [
        (ev.WaitBreached, "rtt-52", "", D(2028, 2, 29))]


# ------------------------------------------------------------------ once, and never backwards


def test_a_rerun_or_an_earlier_day_records_nothing_new():
    patient, _, _ = _rtt()
    first = sweep(patient, D(2027, 3, 1))
    assert {e[1] for e in first if e[0] is ev.WaitBreached} == {"rtt-18", "rtt-52"}
    assert sweep(patient, D(2027, 3, 1)) == []
    assert sweep(patient, D(2026, 6, 1)) == []


def test_the_sweep_state_survives_replay():
    patient = Patient.register(uuid.uuid4(), report())
    patient.reconcile(report())
    patient.check_waits(D(2026, 12, 20))
    replayed = None
    for e in patient.collect_events():
        replayed = e.mutate(replayed)
    assert replayed is not None
    for p in (patient.pathway(*PW), replayed.pathway(*PW)):
        assert p.breaches == {("rtt-18", ""): D(2026, 5, 12)}
        assert p.at_risk == {("rtt-52", ""): D(2027, 1, 4)}
    assert replayed.check_waits(D(2026, 12, 20)).breaches == 0


def test_stopped_and_closed_pathways_are_ignored():
    stopped = given_patient(report(), report(clock_end=D(2026, 3, 1), rtt_status="30",
                                             as_of=D(2026, 3, 2)))
    assert sweep(stopped, D(2027, 6, 1)) == []
    closed, _, _ = _rtt()
    closed.close_pathway(*PW, D(2026, 3, 1), "duplicate")
    closed.collect_events()
    assert sweep(closed, D(2027, 6, 1)) == []


def test_left_list_pathways_keep_every_standard():
    # docs/rules.md §5: leaving the provider's list is not a clock stop
    patient, subject, ordered = _diagnostic()
    patient.reconcile(report(clock_start=START, waiting_list_type="ORTT", as_of=START + ONE))
    patient.leave_waiting_list(*PW, START + 2 * ONE)
    patient.collect_events()
    breaches = {e[1]: e[3] for e in sweep(patient, D(2027, 6, 1)) if e[0] is ev.WaitBreached}
    assert breaches == {"diagnostic-6w": ordered + 42 * ONE, "rtt-18": START + 127 * ONE,
                        "rtt-52": START + 365 * ONE, "rtt-65": START + 456 * ONE}


# ------------------------------------------------------------------ withdrawals


def test_a_corrected_clock_start_withdraws_a_breach_it_makes_untrue():
    patient, _, _ = _rtt()
    assert only_standard(sweep(patient, D(2026, 5, 12)), "rtt-18") == [
        (ev.WaitBreached, "rtt-18", "", D(2026, 5, 12))]
    # the provider corrects the clock start a month later
    patient.reconcile(report(clock_start=D(2026, 2, 5), as_of=D(2026, 5, 13)))
    patient.collect_events()
    events = sweep(patient, D(2026, 5, 13))
    assert events == [(ev.BreachWithdrawn, "rtt-18", "",
                       "the breach day is 2026-06-12, not 2026-05-12")]
    assert patient.pathway(*PW).breaches == {}
    # the new breach day comes: recorded once, on it
    assert only_standard(sweep(patient, D(2026, 6, 12)), "rtt-18") == [
        (ev.WaitBreached, "rtt-18", "", D(2026, 6, 12))]


def test_a_correction_that_moves_a_passed_breach_day_records_it_again_on_the_true_day():
    patient, _, _ = _rtt()
    sweep(patient, D(2026, 6, 1))
    patient.reconcile(report(clock_start=D(2026, 1, 1), as_of=D(2026, 6, 2)))
    patient.collect_events()
    assert only_standard(sweep(patient, D(2026, 6, 2)), "rtt-18") == [
        (ev.BreachWithdrawn, "rtt-18", "", "the breach day is 2026-05-08, not 2026-05-12"),
        (ev.WaitBreached, "rtt-18", "", D(2026, 5, 8)),
    ]


def test_a_clock_stop_reported_late_withdraws_a_breach_on_a_stopped_pathway():
    patient, _, _ = _rtt()
    sweep(patient, D(2026, 5, 14))
    # treated on day 125, reported after the sweep had recorded the day-127 breach
    patient.reconcile(report(clock_end=D(2026, 5, 10), rtt_status="30", as_of=D(2026, 5, 15)))
    patient.collect_events()
    assert sweep(patient, D(2026, 5, 15)) == [
        (ev.BreachWithdrawn, "rtt-18", "", "done on 2026-05-10, before the breach day 2026-05-12")]


def test_a_clock_stop_after_the_breach_leaves_it_standing():
    patient, _, _ = _rtt()
    sweep(patient, D(2026, 5, 14))
    patient.reconcile(report(clock_end=D(2026, 5, 13), rtt_status="30", as_of=D(2026, 5, 15)))
    patient.collect_events()
    assert sweep(patient, D(2026, 5, 15)) == []
    assert patient.pathway(*PW).breaches == {("rtt-18", ""): D(2026, 5, 12)}


def test_a_downgraded_cancer_referral_withdraws_its_cancer_breaches():
    patient, _, _ = _cancer()
    sweep(patient, D(2026, 2, 10))
    assert set(patient.pathway(*PW).breaches) == {("cancer-fds-28", "")}
    patient.reconcile(report(priority=2, clock_start=None, waiting_list_type="ONON",
                             as_of=D(2026, 2, 11)))
    patient.collect_events()
    assert sweep(patient, D(2026, 2, 11)) == [
        (ev.BreachWithdrawn, "cancer-fds-28", "",
         "the standard no longer applies to this pathway")]


# ------------------------------------------------------------------ findings and the index


def test_tracked_deadlines_outstanding_on_an_open_pathway_are_the_deadlines():
    patient, _, _ = _diagnostic()
    patient.require_workup_item(*PW, "w1", "Bloods", "practice", START)
    patient.flag_deterioration("f1", START + ONE, "worse", "gp")
    at = dt.datetime(2026, 1, 9, 10, tzinfo=dt.UTC)
    patient.receive_message(*PW, "m1", "hospital", at, D(2026, 1, 9), "query", "ward")
    p = patient.pathway(*PW)
    flags = list(patient.flags.values())
    tracked = S.tracked_deadlines(p, flags)
    assert [t.deadline for t in tracked if t.done_on is None] == S.deadlines(p, flags)


def test_sweep_due_on_is_the_first_day_the_sweep_has_something_to_record():
    patient, _, _ = _rtt()
    p = patient.pathway(*PW)
    findings = S.wait_findings(p)
    assert S.sweep_due_on(findings) == D(2026, 4, 28)  # rtt-18's window opens (day 113)
    patient.check_waits(D(2026, 4, 28))
    assert S.sweep_due_on(S.wait_findings(p)) == D(2026, 5, 12)  # its breach day
    patient.check_waits(D(2026, 5, 12))
    assert S.sweep_due_on(S.wait_findings(p)) == D(2026, 12, 8)  # rtt-52's window (day 337)
    p.breaches[("rtt-18", "")] = D(2026, 5, 11)  # a wrong date: withdraw at once
    assert S.sweep_due_on(S.wait_findings(p)) == S.AT_ONCE
