"""The synthetic demo: valid test-range NHS numbers, determinism, a realistic loaded cohort,
idempotent loading, and an extract that re-imports cleanly.

Given a fresh database (SQLite and PostgreSQL in turn), when the demo is loaded, then the
stored aggregates show every stage, the priority mix and the outstanding work a
coordinator would see on a Monday morning.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterator
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from guardian import demo
from guardian.application import GuardianApp
from guardian.bootstrap import build_app, import_extract, init_database
from guardian.config import Settings
from guardian.demo import ORGS_FILE, generate_reports, load_demo, loading, write_extract
from guardian.domain import standards
from guardian.domain.identifiers import is_valid_nhs_number
from guardian.domain.patient import Patient
from guardian.orgs import Practice, all_practices, load_orgs, read_org_file
from guardian.store import pathway_index

AS_OF = dt.date(2026, 3, 31)
SEED = 20221
SMALL = 200


@pytest.fixture(scope="module")
def practices() -> list[Practice]:
    return read_org_file(ORGS_FILE)


@pytest.fixture
def app(database_url: str) -> Iterator[GuardianApp]:
    guardian = build_app(Settings(database_url=database_url))
    init_database(guardian)
    yield guardian
    guardian.close()
    guardian.engine.dispose()


def events_stored(app: GuardianApp) -> int:
    table = app.recorder.events_record_cls.__table__  # type: ignore[attr-defined]
    with app.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def loaded_patients(app: GuardianApp) -> list[Patient]:
    with app.engine.connect() as conn:
        ids = sorted(set(conn.execute(select(pathway_index.c.patient_id)).scalars()))
    return [app.get_patient(UUID(h)) for h in ids]


# ---------------------------------------------------------------------------- the org file


def test_org_file_is_synthetic_mid_and_south_essex(practices: list[Practice]) -> None:
    assert {p.place for p in practices} == {
        "Basildon and Brentwood", "Mid Essex", "South East Essex", "Thurrock",
    }
    assert 25 <= len({p.pcn_code for p in practices}) <= 30
    assert 150 <= len(practices) <= 180
    for p in practices:
        assert p.practice_code.startswith("Y9") and not p.practice_code.startswith("F81")
        assert p.pcn_code.startswith("U9")
        assert "Synthetic" in p.practice_name and "(demo)" in p.practice_name
        assert p.pcn_name.startswith("Demo ")


# ---------------------------------------------------------------------------- the generator


def test_every_nhs_number_is_valid_and_from_the_test_range(practices: list[Practice]) -> None:
    numbers = [r.nhs_number for r in generate_reports(3000, SEED, AS_OF, practices)]
    assert numbers
    assert all(n.startswith("999") and is_valid_nhs_number(n) for n in numbers)
    # One NHS number per patient: a patient's pathways share it, patients never do.
    assert len(set(numbers)) == 3000


def test_the_generator_is_deterministic(practices: list[Practice]) -> None:
    first = list(generate_reports(300, SEED, AS_OF, practices))
    again = list(generate_reports(300, SEED, AS_OF, practices))
    shuffled = list(generate_reports(300, SEED, AS_OF, list(reversed(practices))))
    other = list(generate_reports(300, SEED + 1, AS_OF, practices))
    assert first == again
    assert first == shuffled  # the order of the practice list does not matter
    assert first != other
    assert {r.nhs_number for r in first} != {r.nhs_number for r in other}
    # A smaller cohort is a prefix of a larger one.
    assert list(generate_reports(100, SEED, AS_OF, practices)) == [
        r for r in first if r.pathway_id.split("-")[1] < "000100"
    ]


def test_reported_dates_are_consistent(practices: list[Practice]) -> None:
    for r in generate_reports(2000, SEED, AS_OF, practices):
        assert r.as_of <= AS_OF
        assert r.birth_date <= r.received_on <= r.as_of
        if r.clock_start is not None:
            assert r.received_on <= r.clock_start <= r.as_of
        else:
            assert r.waiting_list_type in ("ONON", "INON")
        if r.clock_end is not None:
            assert r.clock_start is not None and r.clock_start <= r.clock_end <= r.as_of
            assert r.rtt_status in ("30", "31", "32", "33", "34", "35")
        for past in (r.last_attended_on, r.last_dna_on, r.priority_reviewed_on):
            assert past is None or r.received_on <= past <= r.as_of
        if r.procedure_priority is not None:
            assert r.waiting_list_type == "IRTT"


def test_recording_the_care_history_again_writes_nothing(practices: list[Practice]) -> None:
    """What makes an interrupted load resumable: the history is a function of the reports."""
    zone = ZoneInfo("Europe/London")
    repeated = 0
    for patient_demo in demo.cohort(2000, SEED, AS_OF, practices):
        patient = Patient.register(uuid4(), patient_demo.reports[0])
        for report in patient_demo.reports:
            patient.reconcile(report)
        demo.record_care_history(patient, patient_demo, SEED, AS_OF, zone)
        patient.collect_events()
        demo.record_care_history(patient, patient_demo, SEED, AS_OF, zone)
        repeated += len(patient.collect_events())
    assert repeated == 0


# ---------------------------------------------------------------------------- loading


def test_load_demo_writes_a_realistic_cohort_once(
    app: GuardianApp, practices: list[Practice]
) -> None:
    summary = load_demo(app, patients=SMALL, seed=SEED, as_of=AS_OF)

    assert summary["already_loaded"] is False
    assert summary["patients"] == SMALL
    assert summary["events"] > SMALL * 4
    assert summary["events"] == events_stored(app)
    assert summary["message"]
    assert set(all_practices(app.engine)) == {p.practice_code for p in practices}

    patients = loaded_patients(app)
    assert len(patients) == SMALL
    pathways = [p for patient in patients for p in patient.pathways.values()]
    assert len(pathways) == summary["pathways"]

    # Every stage of docs/rules.md §9 appears.
    stages = Counter(standards.stage(p) for p in pathways)
    assert set(stages) == set(standards.STAGES), stages

    # About 10% urgent suspected cancer.
    usc = sum(p.priority == 3 for p in pathways) / len(pathways)
    assert 0.05 <= usc <= 0.16, usc

    # A long tail: some RTT waits past 52 weeks on the as-of date, most within 18 weeks.
    waits = [standards.waiting_days(p.clock_start, AS_OF) for p in pathways
             if p.clock_start is not None and standards.is_rtt_waiting_on(p, AS_OF)]
    assert any(w > 364 for w in waits)
    assert sum(standards.within_18_weeks(w) for w in waits) > len(waits) / 2

    # Outstanding work for the worklists: late workup, late tests, unreviewed flags,
    # unanswered messages.
    flags = [f for patient in patients for f in patient.flags.values()]
    late_workup = [p for p in pathways if any(
        (AS_OF - w.required_on).days > 14 for w in p.outstanding_workup())]
    late_tests = [d for p in pathways for d in p.outstanding_diagnostics()
                  if (AS_OF - d.ordered_on).days >= 42]
    assert late_workup
    assert late_tests
    assert any(f.reviewed_on is None for f in flags)
    assert any(f.reviewed_on is not None for f in flags)
    assert any(p.unanswered_messages() for p in pathways)
    assert any(p.coordinator for p in pathways)
    assert any(p.diagnosis_communicated_on for p in pathways)
    assert any(patient.support for patient in patients)
    assert any(patient.contacts for patient in patients)

    # Guardian's history never runs ahead of the as-of date or before the referral.
    for patient in patients:
        first = min(p.received_on for p in patient.pathways.values())
        for p in patient.pathways.values():
            for w in p.workup.values():
                assert p.received_on <= w.required_on <= (w.completed_on or AS_OF) <= AS_OF
            for d in p.diagnostics.values():
                assert p.received_on <= d.ordered_on <= (d.resulted_on or AS_OF) <= AS_OF
            for m in p.messages.values():
                assert p.received_on <= m.on <= AS_OF
            if p.closed_on is not None:
                assert p.received_on <= p.closed_on <= AS_OF
        for f in patient.flags.values():
            assert first <= f.raised_on <= (f.reviewed_on or AS_OF) <= AS_OF
        for c in patient.contacts.values():
            assert first <= c.on <= AS_OF

    # A second call writes nothing and says so.
    before = events_stored(app)
    again = load_demo(app, patients=SMALL, seed=SEED, as_of=AS_OF)
    assert again["already_loaded"] is True
    assert again["events"] == 0
    assert again["patients"] == SMALL
    assert events_stored(app) == before


def test_the_written_extract_reimports_without_rejections(
    app: GuardianApp, practices: list[Practice], tmp_path
) -> None:
    load_orgs(app.engine, practices)
    path = tmp_path / "demo-ptl.csv"
    rows = write_extract(path, SMALL, SEED, AS_OF, practices)
    assert rows == len(list(generate_reports(SMALL, SEED, AS_OF, practices)))

    result = import_extract(app, path, AS_OF)
    assert result.rejected == 0, result.errors[:5]
    assert result.errors_file is None
    assert result.accepted == rows

    # The same file again changes nothing.
    again = import_extract(app, path, AS_OF)
    assert (again.unchanged, again.rejected) == (rows, 0)


def topics(app: GuardianApp) -> Counter[str]:
    table = app.recorder.events_record_cls.__table__  # type: ignore[attr-defined]
    with app.engine.connect() as conn:
        rows = conn.execute(select(table.c.topic, func.count()).group_by(table.c.topic))
        return Counter(dict(rows.tuples().all()))


def test_an_interrupted_load_resumes_to_the_same_history(
    app: GuardianApp, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = build_app(Settings(database_url=f"sqlite:///{tmp_path / 'reference.sqlite'}"))
    init_database(reference)
    try:
        load_demo(reference, patients=120, seed=SEED, as_of=AS_OF)
        expected = topics(reference)
    finally:
        reference.close()
        reference.engine.dispose()

    monkeypatch.setattr(loading, "SAVE_BATCH", 40)
    save = app.save_patients
    calls = []

    def crash_on_second_batch(patients, **kwargs):
        calls.append(len(patients))
        if len(calls) == 2:
            raise RuntimeError("simulated crash")
        return save(patients, **kwargs)

    monkeypatch.setattr(app, "save_patients", crash_on_second_batch)
    with pytest.raises(RuntimeError):
        load_demo(app, patients=120, seed=SEED, as_of=AS_OF)
    assert demo.read_marker(app) is None
    first_part = events_stored(app)
    assert 0 < first_part < sum(expected.values())

    monkeypatch.setattr(app, "save_patients", save)
    summary = load_demo(app, patients=120, seed=SEED, as_of=AS_OF)
    assert summary["already_loaded"] is False
    assert summary["events"] == sum(expected.values()) - first_part
    assert topics(app) == expected


def test_the_demo_command_prints_one_json_object(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from guardian.cli import app as cli

    monkeypatch.setenv("GUARDIAN_DATABASE_URL", sqlite_url)
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "init"]).exit_code == 0
    first = runner.invoke(cli, ["demo", "--patients", "30", "--seed", "7", "--json"])
    assert first.exit_code == 0, first.output
    loaded = json.loads(first.stdout)
    assert (loaded["patients"], loaded["seed"], loaded["already_loaded"]) == (30, 7, False)
    assert loaded["events"] > 0
    again = runner.invoke(cli, ["demo", "--patients", "30", "--seed", "7"])
    assert again.exit_code == 0
    assert "already loaded" in again.stdout
