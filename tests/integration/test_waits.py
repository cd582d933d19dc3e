"""The wait-time sweep and the check-in job against a real store, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections import Counter

import pytest
from sqlalchemy import select, text

from guardian.bootstrap import build_app, init_database
from guardian.config import Settings
from guardian.demo import ORGS_FILE, load_demo
from guardian.domain.report import ReferralReport
from guardian.domain.standards import wait_findings
from guardian.orgs import load_orgs, read_org_file
from guardian.projections import worklist as wl
from guardian.projections.registry import runner_for
from guardian.waits import check_ins, check_waits

AS_OF = dt.date(2026, 3, 31)
ONE = dt.timedelta(days=1)


@pytest.fixture
def app(database_url, tmp_path):
    guardian = build_app(Settings(database_url=database_url, var_dir=tmp_path))
    init_database(guardian)
    yield guardian
    guardian.close()


@pytest.fixture
def demo(app):
    load_demo(app, patients=200, seed=5, as_of=AS_OF)
    # the demo's stopped pathways left their breaches behind at load (docs/rules.md §3);
    # what the sweeps record comes after this position
    app.loaded_head = app.recorder.max_notification_id() or 0
    return app


def all_patients(app):
    with app.engine.connect() as conn:
        ids = [uuid.UUID(h) for (h,) in conn.execute(
            text("SELECT DISTINCT patient_id FROM pathway_index"))]
    return app.load_patients(ids)


def stored(app, topic: str) -> list[dict]:
    """The stored events of one topic written since the demo loaded, as (patient, fields)."""
    with app.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT id FROM guardian_events WHERE topic = :t AND id > :after ORDER BY id"),
            {"t": topic, "after": getattr(app, "loaded_head", 0)})
        ids = [i for (i,) in rows]
    out = []
    for i in ids:
        [note] = app.recorder.select_notifications(start=i, limit=1)
        event = app.mapper.to_domain_event(note)
        out.append({"patient": event.originator_id, **{
            k: v for k, v in vars(event).items()
            if k not in ("originator_id", "originator_version", "timestamp")}})
    return out


def breach_keys(app) -> list[tuple]:
    return [(e["patient"], e["provider"], e["pathway_id"], e["standard"], e["subject"],
             e["breach_on"]) for e in stored(app, "guardian.Patient.WaitBreached")]


def event_count(app) -> int:
    with app.engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM guardian_events")).scalar_one()


def expected_breaches(app, on: dt.date) -> set[tuple]:
    """What a sweep must record: every patient loaded and swept in memory (not saved)."""
    out = set()
    for pid, patient in all_patients(app).items():
        patient.check_waits(on)
        for e in patient.collect_events():
            if type(e).__name__ == "WaitBreached":
                out.add((pid, e.provider, e.pathway_id, e.standard, e.subject, e.breach_on))
    return out


# ------------------------------------------------------------------ the sweep


def test_the_sweep_records_each_breach_once_from_the_index_alone(demo):
    expected = expected_breaches(demo, AS_OF)
    result = check_waits(demo, AS_OF)
    assert result.breaches_recorded == len(expected) > 0 and result.at_risk > 0
    with demo.engine.connect() as conn:
        rows = conn.execute(select(wl.worklist)).mappings().all()
    assert result.checked == len(rows)
    assert result.candidates < len({r["patient_id"] for r in rows})  # not every aggregate
    keys = breach_keys(demo)
    assert set(keys) == expected and len(keys) == len(expected)
    assert all(k[-1] <= AS_OF for k in keys)
    # nothing left due on that day, in the store or in the index
    for patient in all_patients(demo).values():
        for p in patient.pathways.values():
            assert [f for f in wait_findings(p, patient.flags.values()) if f.due(AS_OF)] == []
    with demo.engine.connect() as conn:
        assert conn.execute(select(wl.worklist).where(
            wl.worklist.c.sweep_due_on <= AS_OF)).first() is None
    # a rerun records nothing
    before = event_count(demo)
    again = check_waits(demo, AS_OF)
    assert (again.breaches_recorded, again.at_risk, again.candidates) == (0, 0, 0)
    assert event_count(demo) == before


def test_the_next_day_records_only_what_fell_due_that_day(demo):
    check_waits(demo, AS_OF)
    next_day = AS_OF + ONE
    result = check_waits(demo, next_day)
    breached_then = [k for k in breach_keys(demo) if k[-1] == next_day]
    assert result.breaches_recorded == len(breached_then)
    at_risk = stored(demo, "guardian.Patient.StepAtRisk")
    assert Counter(e["at_risk_from"] <= next_day for e in at_risk) == {True: len(at_risk)}
    assert len({(e["patient"], e["pathway_id"], e["standard"], e["subject"],
                 e["last_day_within"]) for e in at_risk}) == len(at_risk)


def test_an_as_of_before_the_last_run_records_nothing(demo):
    check_waits(demo, AS_OF)
    before = event_count(demo)
    result = check_waits(demo, AS_OF - 30 * ONE)
    assert result.skipped and "before the last run" in result.skipped
    assert result.as_json() == {"checked": 0, "breaches_recorded": 0, "at_risk": 0}
    assert event_count(demo) == before


def test_a_sweep_killed_halfway_then_rerun_records_each_breach_exactly_once(demo, monkeypatch):
    expected = expected_breaches(demo, AS_OF)
    save = demo.save_patients
    calls = []

    def dies_on_the_third_batch(patients):
        calls.append(len(patients))
        if len(calls) == 3:
            raise KeyboardInterrupt("killed")
        return save(patients)

    monkeypatch.setattr(demo, "save_patients", dies_on_the_third_batch)
    with pytest.raises(KeyboardInterrupt):
        check_waits(demo, AS_OF, batch=40)
    partial = breach_keys(demo)
    assert 0 < len(partial) < len(expected)
    monkeypatch.setattr(demo, "save_patients", save)
    check_waits(demo, AS_OF, batch=40)
    keys = breach_keys(demo)
    assert set(keys) == expected and len(keys) == len(expected)


def test_a_concurrent_change_makes_the_batch_reload_and_both_writes_survive(demo, monkeypatch):
    runner_for(demo).run_once()
    expected = expected_breaches(demo, AS_OF)
    load = demo.load_patients
    meddled: list[uuid.UUID] = []

    def load_then_someone_else_writes(ids):
        patients = load(ids)
        if not meddled:
            pid = next(iter(patients))
            meddled.append(pid)
            demo.log_contact(pid, "c-meanwhile", "phone", "called the patient", "sam", on=AS_OF)
        return patients

    monkeypatch.setattr(demo, "load_patients", load_then_someone_else_writes)
    result = check_waits(demo, AS_OF)
    assert result.breaches_recorded == len(expected)
    assert "c-meanwhile" in demo.get_patient(meddled[0]).contacts
    assert set(breach_keys(demo)) == expected


# ------------------------------------------------------------------ corrections


def report(**changes) -> ReferralReport:
    base = ReferralReport(
        provider="RAJ", pathway_id="PPI-9", nhs_number="9995260182",
        birth_date=dt.date(1958, 3, 14), practice_code="Y90001", treatment_function="110",
        priority=1, waiting_list_type="ORTT", received_on=AS_OF - 130 * ONE,
        clock_start=AS_OF - 130 * ONE, as_of=AS_OF,
    )
    return dataclasses.replace(base, **changes)


@pytest.fixture
def one_patient(app):
    load_orgs(app.engine, read_org_file(ORGS_FILE))
    app.apply_reports([report()])
    return app


def worklist_row(app) -> dict | None:
    with app.engine.connect() as conn:
        row = conn.execute(select(wl.worklist).where(
            wl.worklist.c.pathway_id == "PPI-9")).mappings().first()
    return dict(row) if row else None


def test_a_corrected_clock_start_withdraws_the_breach_it_made_untrue(one_patient):
    app = one_patient
    assert check_waits(app, AS_OF).breaches_recorded == 1
    assert worklist_row(app)["breaches"] == 1
    # the next extract corrects the clock start: 100 days ago, so day 127 has not come
    app.apply_reports([report(clock_start=AS_OF - 100 * ONE, as_of=AS_OF + ONE)])
    result = check_waits(app, AS_OF + ONE)
    assert result.withdrawn == 1 and result.breaches_recorded == 0
    [withdrawn] = stored(app, "guardian.Patient.BreachWithdrawn")
    assert (withdrawn["standard"], withdrawn["reason"]) == (
        "rtt-18", f"the breach day is {(AS_OF + 27 * ONE).isoformat()}, "
        f"not {(AS_OF - 3 * ONE).isoformat()}")
    row = worklist_row(app)
    assert row["breaches"] == 0 and row["sweep_due_on"] == AS_OF + 13 * ONE  # day 113: at risk


def test_a_late_clock_stop_withdraws_a_breach_on_a_pathway_off_the_worklist(one_patient):
    app = one_patient
    check_waits(app, AS_OF)
    # treated on day 125, reported after the sweep had recorded the day-127 breach: the
    # import that brings the stop withdraws it (docs/rules.md §3)
    app.apply_reports([report(clock_end=AS_OF - 5 * ONE, rtt_status="30", as_of=AS_OF + ONE)])
    runner_for(app).run_once()
    assert worklist_row(app) is None  # stopped: not on the worklist
    [withdrawn] = stored(app, "guardian.Patient.BreachWithdrawn")
    assert withdrawn["standard"] == "rtt-18"
    assert check_waits(app, AS_OF + ONE).withdrawn == 0
    assert check_waits(app, AS_OF + 2 * ONE).withdrawn == 0


def test_a_stop_reported_before_any_sweep_ran_still_leaves_its_breach(one_patient):
    # day 130 today, never swept; the next extract says treated on day 128 (after day 127)
    app = one_patient
    app.apply_reports([report(clock_end=AS_OF - 2 * ONE, rtt_status="30", as_of=AS_OF + ONE)])
    [breach] = stored(app, "guardian.Patient.WaitBreached")
    assert (breach["standard"], breach["breach_on"]) == ("rtt-18", AS_OF - 3 * ONE)  # day 127
    result = check_waits(app, AS_OF + ONE)
    assert (result.breaches_recorded, result.withdrawn) == (0, 0)
    assert len(stored(app, "guardian.Patient.WaitBreached")) == 1


def test_a_stop_dated_before_the_breach_day_or_first_seen_stopped_leaves_none(app):
    load_orgs(app.engine, read_org_file(ORGS_FILE))
    app.apply_reports([report()])
    app.apply_reports([report(clock_end=AS_OF - 4 * ONE, rtt_status="30", as_of=AS_OF + ONE)])
    # a pathway Guardian first hears of already stopped on day 200 never waited while watched
    app.apply_reports([report(pathway_id="PPI-10", clock_end=AS_OF + 70 * ONE,
                              received_on=AS_OF - 200 * ONE,
                              clock_start=AS_OF - 200 * ONE, rtt_status="30",
                              as_of=AS_OF + 80 * ONE)])
    check_waits(app, AS_OF + 80 * ONE)
    assert stored(app, "guardian.Patient.WaitBreached") == []


def test_the_clinic_closes_a_pathway_after_its_breach_day_the_breach_is_recorded(one_patient):
    app = one_patient
    pid = app.patient_id("9995260182")
    app.close_pathway(pid, "RAJ", "PPI-9", "treated-elsewhere", on=AS_OF)
    [breach] = stored(app, "guardian.Patient.WaitBreached")
    assert (breach["standard"], breach["breach_on"]) == ("rtt-18", AS_OF - 3 * ONE)


# ------------------------------------------------------------------ check-ins


def test_check_ins_fall_due_show_on_the_worklist_and_take_outcomes(demo):
    result = check_ins(demo, AS_OF)
    assert result.check_ins_due > 0
    due = stored(demo, "guardian.Patient.CheckInDue")
    assert len(due) == result.check_ins_due and all(e["due_on"] <= AS_OF for e in due)
    everyone = wl.Scope(None)
    with demo.engine.connect() as conn:
        pcns = [p for (p,) in conn.execute(select(wl.worklist.c.pcn_code).distinct())]
        rows = [r for pcn in pcns
                for r in wl.page(conn, everyone, pcn, AS_OF, ["check-in-due"], limit=10_000)]
    assert len(rows) == len(due)
    first, second = rows[0], rows[1]
    demo.record_check_in_outcome(uuid.UUID(first["patient_id"]), first["provider"],
                                 first["pathway_id"], "no-change", "sam", on=AS_OF)
    demo.record_check_in_outcome(uuid.UUID(second["patient_id"]), second["provider"],
                                 second["pathway_id"], "no-longer-needed", "sam", on=AS_OF)
    runner_for(demo).run_once()
    with demo.engine.connect() as conn:
        after = {(r["provider"], r["pathway_id"]): r for r in conn.execute(
            select(wl.worklist)).mappings()}
    validated = after[(first["provider"], first["pathway_id"])]
    assert validated["check_in_due"] is None and validated["validated_on"] == AS_OF
    assert validated["check_in_next_on"] > AS_OF
    assert (second["provider"], second["pathway_id"]) not in after  # validated off the list
    [removal] = [e for e in stored(demo, "guardian.Patient.CheckInOutcomeRecorded")
                 if e["outcome"] == "no-longer-needed"]
    assert removal["treatment_function"] == second["treatment_function"]
    assert check_ins(demo, AS_OF).check_ins_due == 0


def test_db_init_resets_a_read_model_stored_without_a_newer_column(one_patient):
    app = one_patient
    runner_for(app).run_once()
    with app.engine.begin() as conn:  # a worklist from before validated_on existed
        conn.exec_driver_sql("ALTER TABLE worklist DROP COLUMN validated_on")
    init_database(app)
    assert runner_for(app).position("worklist") == 0
    runner_for(app).run_once()
    row = worklist_row(app)
    assert row is not None and "validated_on" in row
    init_database(app)  # idempotent: nothing changed, nothing reset
    assert runner_for(app).position("worklist") > 0


def net_breaches(app) -> set[tuple]:
    """Recorded breaches not withdrawn since, as (pathway, standard, subject, day)."""
    patients = all_patients(app)
    return {(p.pathway_id, std, subject, on) for patient in patients.values()
            for p in patient.pathways.values() for (std, subject), on in p.breaches.items()}


@pytest.mark.parametrize("sweep_days", [range(0, 21), range(0, 21, 7), [20], []],
                         ids=["daily", "weekly", "once-at-the-end", "never"])
def test_same_facts_same_breaches_whatever_days_the_sweep_ran(app, sweep_days):
    """Three weekly extracts (day 120: open; day 127: still open, priority now urgent
    suspected cancer; day 134: stopped on day 128), and sweeps on some days: the breaches
    are those of a sweep every day (docs/rules.md §3)."""
    load_orgs(app.engine, read_org_file(ORGS_FILE))
    start = AS_OF - 120 * ONE
    base = dict(received_on=start, clock_start=start)
    extracts = {0: report(**base, as_of=start + 120 * ONE),
                7: report(**base, priority=3, as_of=start + 127 * ONE),
                14: report(**base, priority=3, clock_end=start + 128 * ONE, rtt_status="30",
                           as_of=start + 134 * ONE)}
    for n in range(21):
        if n in extracts:
            app.apply_reports([extracts[n]])
        if n in sweep_days:
            check_waits(app, start + (120 + n) * ONE)
    check_waits(app, start + 141 * ONE)  # the scheduler catches up in the end
    assert net_breaches(app) == {("PPI-9", "rtt-18", "", start + 127 * ONE),
                                 ("PPI-9", "cancer-fds-28", "", start + 29 * ONE),
                                 ("PPI-9", "cancer-62", "", start + 63 * ONE)}


def test_the_sweep_stores_the_days_urgency_keys_and_the_order_stays(demo):
    """Rows written on another day (the demo is projected today, the sweep runs as of its
    day) have keys that do not hold: the sweep stores the day's, and the worklist's order
    is the function's before and after (docs/rules.md §11, "Stored with its days")."""
    from guardian.domain import urgency
    from guardian.projections.worklist_order import stale

    runner_for(demo).run_once()  # written today
    demo.clock = lambda: dt.datetime.combine(AS_OF, dt.time(12), tzinfo=dt.timezone.utc)
    w = wl.worklist

    def order_and_stale() -> tuple[list[str], int]:
        with demo.engine.connect() as conn:
            pcn = conn.execute(select(w.c.pcn_code).group_by(w.c.pcn_code)
                               .order_by(text("count(*) DESC")).limit(1)).scalar_one()
            page = wl.page(conn, wl.Scope(None), pcn, AS_OF, (), "urgency", None, 10_000)
            rows = conn.execute(select(w).where(w.c.pcn_code == pcn)).mappings().all()
            left = conn.execute(select(w.c.pathway_id).where(stale(w, AS_OF))).all()
        expected = sorted(rows, key=lambda r: (*urgency.urgency(
            r["news_on"], r["priority"], r["next_at_risk_from"], r["next_breach_on"],
            r["next_deadline"], AS_OF), r["provider"], r["pathway_id"]))
        assert [r["pathway_id"] for r in page] == [r["pathway_id"] for r in expected]
        return [r["pathway_id"] for r in page], len(left)

    _, stale_before = order_and_stale()
    result = check_waits(demo, AS_OF)
    # the rows its own events rewrote have the day's key already; the rest are refreshed
    assert stale_before > 0 and 0 < result.keys_refreshed <= stale_before
    assert result.summary()["urgency_keys_refreshed"] == result.keys_refreshed
    _, stale_after = order_and_stale()
    assert stale_after == 0
