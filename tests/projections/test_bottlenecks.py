"""Bottleneck analytics against hand-computed expectations, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from guardian.bootstrap import build_app, init_database
from guardian.config import Settings
from guardian.demo import load_demo
from guardian.domain.identifiers import nhs_check_digit
from guardian.domain.report import ReferralReport
from guardian.orgs import load_orgs, read_org_file
from guardian.projections import bottlenecks as bn
from guardian.projections.registry import runner_for

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
AS_OF = dt.date(2026, 3, 31)  # a Tuesday: its week began on Monday 30 March
EVERYWHERE = bn.ReportScope()
MID = bn.ReportScope(place="Mid Essex")



def _valid_numbers():
    for n in range(999000001, 999999999):
        check = nhs_check_digit(str(n))
        if check is not None:
            yield f"{n}{check}"


NHS = _valid_numbers()


def report(pathway_id: str, received: dt.date, **facts) -> ReferralReport:
    base = dict(
        provider="RQW", pathway_id=pathway_id, nhs_number=next(NHS),
        birth_date=dt.date(1958, 3, 14), practice_code="Z90001", treatment_function="110",
        priority=1, waiting_list_type="ORTT", received_on=received, clock_start=received,
        as_of=AS_OF,
    )
    base.update(facts)
    return ReferralReport(**base)


@pytest.fixture
def app(database_url, tmp_path):
    guardian = build_app(Settings(database_url=database_url, var_dir=tmp_path))
    init_database(guardian)
    load_orgs(guardian.engine, read_org_file(EXAMPLES / "orgs-example.csv"))
    yield guardian
    guardian.close()


def add(app, *reports: ReferralReport):
    outcomes = app.apply_reports(list(reports))
    assert all(o.result == "created" for o in outcomes), outcomes
    return [o.patient_id for o in outcomes]


def project(app) -> None:
    runner_for(app).run_once()


def d(month: int, day: int) -> dt.date:
    return dt.date(2026, month, day)


def test_workup_intervals_completed_and_in_progress(app):
    a, b, c = add(app, report("A", d(3, 1)), report("B", d(3, 5)), report("C", d(3, 10)))
    for pid, pw in ((a, "A"), (b, "B"), (c, "C")):
        app.require_workup_item(pid, "RQW", pw, "bloods", "Blood tests", "practice",
                                on=d(3, 1) if pw == "A" else d(3, 10))
    app.complete_workup_item(a, "RQW", "A", "bloods", by="gp", on=d(3, 11))  # 10 days
    app.complete_workup_item(b, "RQW", "B", "bloods", by="gp", on=d(3, 25))  # 20 days
    project(app)
    with app.engine.connect() as conn:
        [row] = bn.stage_durations(conn, EVERYWHERE, "workup", AS_OF, suppress=False)
        assert row == {"group": "110", "completed": 2, "median_days": 15.0, "p90_days": 19.0,
                       "in_progress": 1, "in_progress_median_days": 21.0}
        # As of 20 March, A was done (10 days) and B and C were still in their workup.
        [then] = bn.stage_durations(conn, EVERYWHERE, "workup", d(3, 20), suppress=False)
        assert (then["completed"], then["median_days"]) == (1, 10.0)
        assert (then["in_progress"], then["in_progress_median_days"]) == (2, 12.5)
        # Suppressed, as a place lead sees it: counts under 8 hidden, statistics withheld.
        [shown] = bn.stage_durations(conn, MID, "workup", AS_OF)
        assert shown == {"group": "110", "completed": "*", "median_days": "*",
                         "p90_days": "*", "in_progress": "*", "in_progress_median_days": "*"}
        assert bn.stage_durations(conn, bn.ReportScope(place="South East Essex"), "workup",
                                  AS_OF) == []
        # C has waited 21 days for its workup, over the 14-day local standard.
        [top] = bn.top_bottlenecks(conn, EVERYWHERE, AS_OF, suppress=False)
        assert (top["step"], top["provider"], top["treatment_function"]) == (
            "workup", "RQW", "110")
        assert (top["in_step"], top["over_target"], top["target_days"]) == (1, 1, 14)
        # On 24 March C had waited exactly 14 days: on its last day within, not stuck.
        assert bn.top_bottlenecks(conn, EVERYWHERE, d(3, 24), suppress=False) == [
            {**top, "in_step": 2, "over_target": 1, "median_days_in_step": 16.5}
        ]  # B (19 days) is stuck then; C is not yet
        assert bn.top_bottlenecks(conn, EVERYWHERE, d(3, 15), suppress=False) == []


def test_diagnostic_first_seen_and_treatment_intervals(app):
    [p] = add(app, report("D", d(2, 1), last_attended_on=d(3, 15)))
    app.order_diagnostic(p, "RQW", "D", "t1", "mri", on=d(2, 2))
    app.record_diagnostic_result(p, "RQW", "D", "t1", "normal", on=d(2, 20))
    app.order_diagnostic(p, "RQW", "D", "t2", "ct", on=d(3, 1))
    app.stop_clock(p, "RQW", "D", "30", on=d(3, 25))
    project(app)
    with app.engine.connect() as conn:
        tests = bn.stage_durations(conn, EVERYWHERE, "diagnostic", AS_OF, by="provider",
                                   suppress=False)
        # t1 took 18 days; t2 was still waiting when the clock stopped: not in progress now
        assert tests == [{"group": "RQW", "completed": 1, "median_days": 18.0,
                          "p90_days": 18.0, "in_progress": 0,
                          "in_progress_median_days": None}]
        seen = bn.stage_durations(conn, EVERYWHERE, "first-seen", AS_OF, by=None,
                                  suppress=False)
        assert seen[0]["median_days"] == 42.0  # 1 Feb → 15 Mar
        treated = bn.stage_durations(conn, EVERYWHERE, "treatment", AS_OF, suppress=False)
        assert treated[0]["median_days"] == 10.0  # 15 Mar → 25 Mar
        # on 10 March t2 was in progress (9 days) and the patient not yet seen
        then = bn.stage_durations(conn, EVERYWHERE, "diagnostic", d(3, 10), suppress=False)
        assert (then[0]["in_progress"], then[0]["in_progress_median_days"]) == (1, 9.0)
        removed = bn.removals(conn, EVERYWHERE, AS_OF, suppress=False)
        assert removed == [{"group": "110", "reason": "clock stopped: first definitive treatment",
                            "pathways": 1}]


def test_weekly_flow_and_growing_queues(app):
    # One referral in each of the four weeks before the week of AS_OF, none leaving;
    # in the week of 2 March one came and one went.
    weeks = [d(3, 2), d(3, 9), d(3, 16), d(3, 23)]
    ids = add(app, *[report(f"W{n}", day + dt.timedelta(days=2)) for n, day in
                     enumerate(weeks)], report("OLD", d(1, 5)))
    app.stop_clock(ids[-1], "RQW", "OLD", "30", on=d(3, 3))
    project(app)
    with app.engine.connect() as conn:
        flow = bn.weekly_flow(conn, EVERYWHERE, AS_OF, weeks=5)["all"]
        assert [w["week"] for w in flow] == [d(3, 2), d(3, 9), d(3, 16), d(3, 23), d(3, 30)]
        assert [w["inflow"] for w in flow] == [1, 1, 1, 1, 0]
        assert [w["outflow"] for w in flow] == [1, 0, 0, 0, 0]
        assert [w["waiting"] for w in flow] == [1, 2, 3, 4, 4]
        grows = bn.queues_growing(conn, EVERYWHERE, AS_OF, min_weeks=3, weeks=5,
                                  suppress=False)
        assert grows == [{"group": "110", "weeks_growing": 3, "inflow": 3, "outflow": 0,
                          "net": 3, "waiting": 4}]
        assert bn.queues_growing(conn, EVERYWHERE, AS_OF, min_weeks=4, weeks=5,
                                 suppress=False) == []
        trend = bn.trend(conn, EVERYWHERE, AS_OF, weeks=5, suppress=False)
        assert [w["waiting"] for w in trend] == [1, 2, 3, 4, 4]
        with pytest.raises(ValueError, match="unknown dimension 'colour'"):
            bn.weekly_flow(conn, EVERYWHERE, AS_OF, by="colour")


def test_breaches_by_standard_and_equity(app):
    young = dataclasses.replace(report("Y", d(1, 1)), birth_date=dt.date(2010, 6, 1))
    old = report("O", AS_OF - dt.timedelta(days=127), practice_code="Z90003")
    ids = add(app, young, old)
    app.record_breach(ids[1], "RQW", "O", "rtt-18", "", d(3, 30))
    app.record_breach(ids[0], "RQW", "Y", "workup-14", "", d(1, 16))
    project(app)
    with app.engine.connect() as conn:
        rows = bn.breaches_by_standard(conn, EVERYWHERE, AS_OF, suppress=False)
        assert [(r["standard"], r["breaches"]) for r in rows] == [("rtt-18", 1),
                                                                  ("workup-14", 1)]
        assert bn.breaches_by_standard(conn, EVERYWHERE, AS_OF, window_days=30,
                                       suppress=False)[0]["standard"] == "rtt-18"
        assert [r["standard"] for r in bn.breaches_by_standard(conn, MID, AS_OF,
                                                                 suppress=False)] == [
            "workup-14"]
        by_age = bn.equity(conn, EVERYWHERE, AS_OF, "age_band", suppress=False)
        assert [(r["group"], r["waiting"]) for r in by_age] == [("0-17", 1), ("65-79", 1)]
        y = by_age[0]
        assert y["median_weeks"] == round(89 / 7, 1) and y["pct_within_18_weeks"] == 100.0
        o = by_age[1]
        assert o["median_weeks"] == round(127 / 7, 1) and o["pct_within_18_weeks"] == 0.0
        by_pcn = bn.equity(conn, EVERYWHERE, AS_OF, "pcn_code")
        assert [r["group"] for r in by_pcn] == ["U99001", "U99002"]
        assert by_pcn[0]["waiting"] == "*" and by_pcn[0]["median_weeks"] == "*"


def test_age_band_and_week_boundaries():
    assert bn.age_band(dt.date(2000, 4, 1), dt.date(2018, 3, 31)) == "0-17"
    assert bn.age_band(dt.date(2000, 4, 1), dt.date(2018, 4, 1)) == "18-39"
    assert bn.age_band(dt.date(1946, 4, 1), dt.date(2026, 4, 1)) == "80+"
    assert bn.age_band(dt.date(1946, 4, 2), dt.date(2026, 4, 1)) == "65-79"
    assert bn.week_of(dt.date(2026, 3, 29)) == dt.date(2026, 3, 23)  # Sunday
    assert bn.week_of(dt.date(2026, 3, 30)) == dt.date(2026, 3, 30)  # Monday


def test_report_has_no_patient_level_data_and_rebuilds_identically(database_url, tmp_path):
    guardian = build_app(Settings(database_url=database_url, var_dir=tmp_path))
    init_database(guardian)
    load_demo(guardian, patients=400, seed=3, as_of=AS_OF)
    runner = runner_for(guardian)
    runner.run_once()

    def snapshot():
        with guardian.engine.connect() as conn:
            tables = [
                sorted(tuple(r) for r in conn.execute(select(t))) for t in
                (bn.intervals, bn.breach_facts)
            ]
            place = bn.places(conn)[0]
            full = bn.report(conn, bn.ReportScope(place=place), AS_OF)
        return tables, full

    before, full = snapshot()
    assert before[0], "the demo gives intervals"
    text = repr(full)
    with guardian.engine.connect() as conn:
        nhs = [n for (n,) in conn.exec_driver_sql("SELECT nhs_number FROM worklist LIMIT 50")]
    assert nhs and not any(n in text for n in nhs)
    assert "patient_id" not in text and "pathway_id" not in text
    for section in ("stage_durations", "top_bottlenecks", "queues_growing",
                    "breaches_by_standard", "equity_by_age_band", "equity_by_pcn", "trend"):
        assert section in full
    for counts in full["trend"]:
        for key in ("inflow", "outflow", "waiting", "breaches"):
            assert counts[key] in (0, "*") or counts[key] % 5 == 0
    runner.rebuild()
    after, again = snapshot()
    assert after == before and again == full
    guardian.close()


def test_waiting_at_week_ends_matches_counting_each_week(app):
    """The difference-array count equals the plain definition on awkward dates: starts and
    ends on week ends, on the as-of day, after it (a past as-of), and before the window."""
    import random

    rng = random.Random(5)
    reports, ends = [], {}
    for n in range(40):
        start = d(1, 1) + dt.timedelta(days=rng.randrange(0, 85))
        reports.append(report(f"R{n}", start))
        if rng.random() < 0.6:
            ends[f"R{n}"] = start + dt.timedelta(days=rng.randrange(0, 60))
    ids = add(app, *reports)
    for pid, r in zip(ids, reports, strict=True):
        if r.pathway_id in ends and ends[r.pathway_id] <= AS_OF:
            app.stop_clock(pid, "RQW", r.pathway_id, "30", on=ends[r.pathway_id])
    project(app)
    with app.engine.connect() as conn:
        for as_of in (d(3, 1), d(3, 4), d(3, 8), AS_OF):
            flow = bn.weekly_flow(conn, EVERYWHERE, as_of, weeks=6)["all"]
            for week in flow:
                week_end = min(week["week"] + dt.timedelta(days=6), as_of)
                expected = sum(
                    1 for r in reports
                    if r.received_on <= week_end
                    and not (r.pathway_id in ends and ends[r.pathway_id] <= min(week_end, AS_OF))
                )
                assert week["waiting"] == expected, (as_of, week)


def test_validation_removals_are_counted_per_specialty(app):
    """A check-in outcome that validates a patient off the list shows in the
    removals report as a validation, per treatment function."""
    ids = add(app, report("V1", d(1, 5)), report("V2", d(1, 6), treatment_function="330"),
              report("V3", d(1, 7)))
    app.record_check_in_outcome(ids[0], "RQW", "V1", "no-longer-needed", "sam", on=d(3, 20))
    app.record_check_in_outcome(ids[1], "RQW", "V2", "treated-elsewhere", "sam", on=d(3, 21))
    app.stop_clock(ids[2], "RQW", "V3", "30", on=d(3, 22))
    project(app)
    with app.engine.connect() as conn:
        rows = bn.removals(conn, EVERYWHERE, AS_OF, suppress=False)
    assert rows == [
        {"group": "110", "reason": "clock stopped: first definitive treatment", "pathways": 1},
        {"group": "110", "reason": "validated off the list: no longer needed", "pathways": 1},
        {"group": "330", "reason": "validated off the list: treated elsewhere", "pathways": 1},
    ]


def test_closures_show_their_reason_in_words(app):
    """A closure is counted under its reason's label, never its code."""
    [pid] = add(app, report("C1", d(1, 5)))
    app.close_pathway(pid, "RQW", "C1", "duplicate", on=d(3, 20))
    project(app)
    with app.engine.connect() as conn:
        rows = bn.removals(conn, EVERYWHERE, AS_OF, suppress=False)
    assert rows == [{"group": "110", "reason": "closed: Duplicate referral", "pathways": 1}]
