"""Breaches left behind by a stop or closure that arrives after its breach day (docs/rules.md §3).

The command that brings the stop records them (`Patient.settle_ended_pathways`, called by
every use case after its command), dated on their breach days; a stop dated before a breach
day records nothing; a pathway first reported already stopped owes none; a later correction
still withdraws them. The last test checks the promise behind all of it: for random
interleavings of daily sweeps and weekly extracts over the same facts, the breaches recorded
are those of a sweep every day.
"""

from __future__ import annotations

import datetime as dt
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from referrals import PW, START, fired, report

from guardian.domain.patient import Patient
from guardian.domain.patient import events as ev
from guardian.domain.report import ReferralReport

D = dt.date
ONE = dt.timedelta(days=1)


def day(n: int) -> dt.date:
    return START + n * ONE



def apply(patient: Patient | None, r: ReferralReport) -> Patient:
    """What the import use case does with one row: reconcile, then settle stops."""
    if patient is None:
        patient = Patient.register(uuid.uuid4(), r)
    patient.reconcile(r)
    patient.settle_ended_pathways()
    return patient


def breaches_of(patient: Patient) -> dict[tuple[str, str], dt.date]:
    """The breaches recorded by the patient's new events, less those withdrawn since."""
    return _net(patient, {})


def test_a_stop_reported_after_the_breach_day_records_the_breach_on_that_day():
    # open at the extract of day 120; the next extract (day 134) says stopped on day 128
    patient = apply(None, report(as_of=day(120)))
    patient.check_waits(day(126))  # the last sweep before the breach day: nothing yet
    patient = apply(patient, report(clock_end=day(128), rtt_status="30", as_of=day(134)))
    assert breaches_of(patient) == {("rtt-18", ""): day(127)}
    # the next sweep records nothing more, whatever its date
    patient.check_waits(day(200))
    assert breaches_of(patient) == {}


def test_a_stop_on_the_breach_day_itself_is_a_breach_and_the_day_before_is_not():
    on_the_day = apply(apply(None, report(as_of=day(100))),
                       report(clock_end=day(127), rtt_status="30", as_of=day(130)))
    assert breaches_of(on_the_day) == {("rtt-18", ""): day(127)}
    day_before = apply(apply(None, report(as_of=day(100))),
                       report(clock_end=day(126), rtt_status="30", as_of=day(130)))
    assert breaches_of(day_before) == {}


def test_long_waits_and_cancer_standards_are_left_behind_too():
    patient = apply(None, report(priority=3, as_of=day(10)))
    patient = apply(patient, report(priority=3, clock_end=day(400), rtt_status="30",
                                    as_of=day(403)))
    assert breaches_of(patient) == {
        ("cancer-fds-28", ""): day(29), ("cancer-62", ""): day(63),
        ("rtt-18", ""): day(127), ("rtt-52", ""): day(365)}


def test_a_closure_after_the_breach_day_records_the_breach():
    patient = apply(None, report(as_of=day(10)))
    patient.collect_events()
    patient.close_pathway(*PW, day(130), "treated-elsewhere")
    patient.settle_ended_pathways()
    assert breaches_of(patient) == {("rtt-18", ""): day(127)}


def test_a_pathway_first_reported_already_stopped_records_no_breach():
    patient = apply(None, report(clock_end=day(300), rtt_status="30", as_of=day(305)))
    patient.check_waits(day(400))
    assert breaches_of(patient) == {}
    assert not patient.pathway(*PW).watched
    # the provider withdraws the stop: now Guardian watches it wait, and the sweep records
    patient = apply(patient, report(as_of=day(312)))
    patient.check_waits(day(312))
    assert breaches_of(patient) == {("rtt-18", ""): day(127)}


def test_a_restart_is_watched_again():
    patient = apply(None, report(clock_end=day(20), rtt_status="30", as_of=day(25)))
    patient = apply(patient, report(clock_start=day(30), rtt_status="10", as_of=day(40)))
    assert patient.pathway(*PW).watched
    patient = apply(patient, report(clock_start=day(30), clock_end=day(200), rtt_status="30",
                                    as_of=day(210)))
    assert breaches_of(patient) == {("rtt-18", ""): day(157)}


def test_a_later_correction_of_the_clock_start_withdraws_the_breach():
    patient = apply(apply(None, report(as_of=day(100))),
                    report(clock_end=day(130), rtt_status="30", as_of=day(133)))
    assert breaches_of(patient) == {("rtt-18", ""): day(127)}
    # the start was really day 10: day 137 is after the stop, so no breach happened
    patient = apply(patient, report(clock_start=day(10), clock_end=day(130), rtt_status="30",
                                    as_of=day(140)))
    assert fired(patient).count(ev.BreachWithdrawn) == 1
    assert patient.pathway(*PW).breaches == {}


def test_no_at_risk_warning_is_owed_once_the_stop_is_known():
    # the at-risk window of RTT 18 (days 113-126) passed unswept; the stop is on day 120
    patient = apply(None, report(as_of=day(100)))
    patient = apply(patient, report(clock_end=day(120), rtt_status="30", as_of=day(125)))
    patient.check_waits(day(125))
    events = fired(patient)
    assert ev.StepAtRisk not in events and ev.WaitBreached not in events


# ------------------------------------------------------------------ sweeps at any time

WEEKS = 40  # extracts every 7 days from day 0 to day 273


@st.composite
def histories(draw):
    """The facts of one pathway, as the weekly extracts report them, week by week.

    Each week's row is drawn from what is true by then: a clock start that a later extract
    may correct, a stop (reported when it happens or some weeks late), a restart after it
    (status 10), priority 3 for the cancer standards, and a first extract that may already
    carry the stop.
    """
    priority = draw(st.sampled_from([1, 3]))
    start = draw(st.integers(0, 60))
    corrected = draw(st.one_of(st.none(), st.tuples(st.integers(0, 60),
                                                    st.integers(-20, 20))))
    stop = draw(st.one_of(st.none(), st.integers(start + 100, start + 200)))
    lag = draw(st.integers(0, 5))  # weeks between the stop and the extract that reports it
    restart = draw(st.one_of(st.none(), st.integers(1, 40)))
    first_week = draw(st.integers(0, 3))
    rows = []
    for week in range(first_week, WEEKS):
        as_of = 7 * week
        clock_start = start
        if corrected is not None and as_of >= 7 * corrected[0]:
            clock_start = max(0, start + corrected[1])
        row = {"as_of": day(as_of), "clock_start": day(clock_start), "priority": priority,
               "received_on": day(min(start, clock_start))}
        if clock_start > as_of:
            continue  # not on the list yet
        if stop is not None and stop >= clock_start and as_of >= stop + 7 * lag:
            row.update(clock_end=day(stop), rtt_status="30")
            if restart is not None and as_of >= stop + restart:
                row.update(clock_start=day(stop + restart), clock_end=None, rtt_status="10")
        elif stop is not None and stop < clock_start and as_of >= clock_start:
            pass  # the correction moved the start past the stop: the stop is void
        rows.append(row)
    return rows


def run(rows: list[dict], sweep_days: set[int], sweep_first: set[int]) -> dict:
    """Import the weekly rows and sweep on the given days (some before that day's import)."""
    patient: Patient | None = None
    by_day = {(r["as_of"] - START).days: r for r in rows}
    last = (rows[-1]["as_of"] - START).days + 7
    net: dict[tuple[str, str], dt.date] = {}
    for n in range(last + 1):
        row = by_day.get(n)
        order = ("sweep", "import") if n in sweep_first else ("import", "sweep")
        for step in order:
            if step == "import" and row is not None:
                patient = apply(patient, report(**row))
            elif step == "sweep" and n in sweep_days and patient is not None:
                patient.check_waits(day(n))
        if patient is not None:
            net = _net(patient, net)
    assert patient is not None
    patient.check_waits(day(last))  # a sweep catches up in the end, as the scheduler does
    return _net(patient, net)


def _net(patient: Patient, net: dict) -> dict:
    """`net` updated with the patient's new events."""
    out = dict(net)
    for e in patient.collect_events():
        if isinstance(e, ev.WaitBreached):
            out[(e.standard, e.subject)] = e.breach_on
        elif isinstance(e, ev.BreachWithdrawn):
            out.pop((e.standard, e.subject), None)
        elif isinstance(e, ev.RttPeriodStarted):
            # a new period's breaches are its own: keep the old period's under its start
            out = {(k[0] + "@" + str(e.clock_start), k[1]) if "@" not in k[0] else k: v
                   for k, v in out.items()}
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=histories(), data=st.data())
def test_breaches_do_not_depend_on_when_sweeps_ran(rows, data):
    if not rows:
        return
    last = (rows[-1]["as_of"] - START).days + 7
    every_day = run(rows, set(range(last + 1)), set())
    days = data.draw(st.sets(st.integers(0, last)), label="sweep days")
    first = data.draw(st.sets(st.sampled_from(sorted(days)) if days else st.nothing()),
                      label="sweeps before that day's import")
    assert run(rows, days, first) == every_day
