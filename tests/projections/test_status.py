"""Referral status (GP and patient view) against hand-computed expectations."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from guardian.bootstrap import build_app, init_database
from guardian.config import Settings
from guardian.domain.identifiers import nhs_check_digit
from guardian.domain.report import ReferralReport
from guardian.orgs import load_orgs, read_org_file
from guardian.projections.registry import runner_for
from guardian.projections.status import expected_wait, referral_status

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
AS_OF = dt.date(2026, 3, 31)


def numbers():
    for n in range(999100001, 999999999):
        check = nhs_check_digit(str(n))
        if check is not None:
            yield f"{n}{check}"


@pytest.fixture
def app(database_url, tmp_path):
    guardian = build_app(Settings(database_url=database_url, var_dir=tmp_path))
    init_database(guardian)
    load_orgs(guardian.engine, read_org_file(EXAMPLES / "orgs-example.csv"))
    yield guardian
    guardian.close()


def base(nhs: str, pathway_id: str, received: dt.date, **facts) -> ReferralReport:
    fields = dict(
        provider="RQW", pathway_id=pathway_id, nhs_number=nhs,
        birth_date=dt.date(1958, 3, 14), practice_code="Z90001", treatment_function="110",
        priority=1, waiting_list_type="ORTT", received_on=received, clock_start=received,
        as_of=AS_OF,
    )
    fields.update(facts)
    return ReferralReport(**fields)


def completed(app, count: int, priority: int, wait_days: int, ended: dt.date, tag: str):
    nhs = numbers()
    for _ in range(int(tag[-1]) * 100):  # distinct numbers per tag
        next(nhs)
    reports = [
        base(next(nhs), f"{tag}{n}", ended - dt.timedelta(days=wait_days + n),
             priority=priority, clock_end=ended, rtt_status="30")
        for n in range(count)
    ]
    app.apply_reports(reports)


def test_expected_wait_from_recent_completed_waits(app):
    # 8 routine waits of 70..77 days ended 1 Mar 2026: median 73.5 d = 10.5 w;
    # 92nd percentile 70 + 0.92 × 7 = 76.44 d = 10.9 w
    completed(app, 8, 1, 70, dt.date(2026, 3, 1), "R1")
    # an old one (ended 27 weeks before) and an urgent one do not count
    completed(app, 1, 1, 10, AS_OF - dt.timedelta(weeks=27), "O2")
    completed(app, 3, 2, 20, dt.date(2026, 3, 2), "U3")
    runner_for(app).run_once()
    with app.engine.connect() as conn:
        routine = expected_wait(conn, "RQW", "110", 1, AS_OF)
        assert (routine.sample, routine.median_weeks, routine.p92_weeks) == (8, 10.5, 10.9)
        assert routine.priority == 1 and "8 waits completed in the 26 weeks" in routine.basis()
        # 3 urgent waits are too few: widen to all priorities (11), and say so
        urgent = expected_wait(conn, "RQW", "110", 2, AS_OF)
        assert urgent.priority is None and urgent.sample == 11
        assert "all priorities" in urgent.describe()
        # nothing at all for another specialty: no estimate, and the reason
        none = expected_wait(conn, "RQW", "330", 1, AS_OF)
        assert not none.known and "Not enough recent history" in none.describe()
        # the window is the 26 weeks up to the as-of date: on 28 Feb only the old one
        # (ended 29 Sep 2025) had ended within it
        assert expected_wait(conn, "RQW", "110", 1, dt.date(2026, 2, 28)).sample == 1


def test_status_outstanding_owners_and_timeline(app):
    nhs = next(numbers())
    received = dt.date(2026, 3, 2)
    [outcome] = app.apply_reports([base(nhs, "S1", received,
                                        appointment_on=dt.date(2026, 4, 20))])
    pid = outcome.patient_id
    app.require_workup_item(pid, "RQW", "S1", "bloods", "Full blood count", "practice",
                            on=received)
    app.order_diagnostic(pid, "RQW", "S1", "t1", "mri", on=dt.date(2026, 3, 3))
    app.assign_coordinator(pid, "RQW", "S1", "coordinator@demo.invalid")
    runner_for(app).run_once()
    patient = app.get_patient(pid)
    events = list(app.events.get(pid))
    with app.engine.connect() as conn:
        status = referral_status(patient, "RQW", "S1", AS_OF, events, conn)
    assert status.stage == "awaiting-workup"
    assert status.waited_days == 29
    assert "waiting 4 weeks (29 days)" in status.summary
    assert "appointment is booked for 20 Apr 2026" in status.summary
    owners = {o.what: (o.owner, o.overdue) for o in status.outstanding}
    # workup due by day 14 (16 Mar), breach day 17 Mar: overdue on 31 Mar
    assert owners["Workup: Full blood count"] == ("practice", True)
    # MRI ordered 3 Mar: day 41 is 13 Apr, so not overdue yet
    assert owners["Test result: MRI"] == ("hospital", False)
    texts = [t.text for t in status.timeline]
    # providers by name (`guardian db init` adds the shipped names: docs/formats.md)
    pah = "The Princess Alexandra Hospital NHS Trust"
    assert texts[0] == f"Referral received by {pah} for Trauma and Orthopaedics (routine)"
    assert pah in status.summary and "RQW" not in status.summary
    assert status.as_dict()["provider_name"] == pah
    assert "Workup needed from the GP practice: Full blood count" in texts
    assert "Test ordered: MRI" in texts
    assert "A Guardian care coordinator was assigned" in texts
    assert [t.on for t in status.timeline] == sorted(t.on for t in status.timeline)
    d = status.as_dict()
    assert d["stage_label"] and d["expected_wait"]["known"] is False
    assert {x["standard"] for x in d["deadlines"]} >= {"rtt-18", "workup-14", "diagnostic-6w"}
    plain = {x["standard"]: x["plain"] for x in d["deadlines"]}
    # 2 Mar + 126 days = 6 Jul 2026, 97 days after 31 Mar; workup breached on 17 Mar
    assert plain["rtt-18"] == "18 weeks from referral to treatment: by 6 Jul 2026, 97 days left"
    assert plain["workup-14"].endswith("missed (recorded 17 Mar 2026)")
    # once the practice has done the workup, it no longer owns anything
    app.complete_workup_item(pid, "RQW", "S1", "bloods", by="gp", on=AS_OF)
    after = referral_status(app.get_patient(pid), "RQW", "S1", AS_OF,
                            list(app.events.get(pid)))
    assert "practice" not in {o.owner for o in after.outstanding}
    assert "All the agreed workup is done" in [t.text for t in after.timeline]
    assert after.expected_wait is None  # no connection given: no estimate asked for


def test_stopped_pathway_status(app):
    nhs = next(numbers())
    report = base(nhs, "S2", dt.date(2025, 12, 1))
    [outcome] = app.apply_reports([report])
    app.apply_reports([dataclasses.replace(report, clock_end=dt.date(2026, 2, 2),
                                           rtt_status="30", as_of=dt.date(2026, 2, 3))])
    patient = app.get_patient(outcome.patient_id)
    status = referral_status(patient, "RQW", "S2", AS_OF, list(app.events.get(patient.id)))
    assert status.stage == "clock-stopped" and status.outstanding == []
    assert status.waited_days == 63 and status.deadlines == []
    assert status.timeline[-1].text == "Waiting time ended: first definitive treatment"
