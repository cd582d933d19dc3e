"""Use cases on a real store: idempotency, concurrency conflicts, the org reference."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import text

from guardian.application import ConcurrentChange, GuardianApp
from guardian.bootstrap import build_app, init_database
from guardian.config import Settings
from guardian.domain.report import ReferralReport
from guardian.orgs import OrgFileError, all_practices, load_orgs, read_org_file
from guardian.store import EVENTS_TABLE

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
REPORT = ReferralReport(
    provider="RAJ", pathway_id="P1", nhs_number="9995260182", birth_date=dt.date(1958, 3, 14),
    practice_code="Z90001", treatment_function="110", priority=1, waiting_list_type="ORTT",
    received_on=dt.date(2025, 11, 3), clock_start=dt.date(2025, 11, 3),
    as_of=dt.date(2026, 3, 31),
)


def fixed_clock() -> dt.datetime:
    return dt.datetime(2026, 3, 31, 23, 30, tzinfo=dt.UTC)  # 00:30 on 1 April in London


@pytest.fixture
def app(database_url, tmp_path):
    guardian = build_app(Settings(database_url=database_url, var_dir=tmp_path), fixed_clock)
    init_database(guardian)
    load_orgs(guardian.engine, read_org_file(EXAMPLES / "orgs-example.csv"))
    guardian.apply_reports([REPORT])
    yield guardian
    guardian.close()


def events(app: GuardianApp) -> int:
    with app.engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {EVENTS_TABLE}")).scalar_one()


def test_the_clock_gives_local_dates(app):
    assert app.today() == dt.date(2026, 4, 1)


def test_a_use_case_repeated_writes_once(app):
    pid = app.patient_id(REPORT.nhs_number)
    before = events(app)
    for _ in range(3):
        app.order_diagnostic(pid, "RAJ", "P1", "t1", "mri")
    assert events(app) == before + 1
    patient = app.get_patient(pid)
    assert patient.pathway("RAJ", "P1").diagnostics["t1"].ordered_on == dt.date(2026, 4, 1)


def test_a_concurrent_change_is_retried_once(app, monkeypatch):
    pid = app.patient_id(REPORT.nhs_number)
    stale = copy.deepcopy(app.get_patient(pid))
    app.assign_coordinator(pid, "RAJ", "P1", "sam@demo.invalid")  # someone else wrote
    real_get = app.get_patient
    calls = {"n": 0}

    def get_patient(patient_id):
        calls["n"] += 1
        return copy.deepcopy(stale) if calls["n"] == 1 else real_get(patient_id)

    monkeypatch.setattr(app, "get_patient", get_patient)
    app.log_contact(pid, "c1", "phone", "pain worse", "alex")
    assert calls["n"] == 2
    patient = real_get(pid)
    assert "c1" in patient.contacts and patient.pathway("RAJ", "P1").coordinator


def test_two_conflicts_in_a_row_give_a_clear_error(app, monkeypatch):
    pid = app.patient_id(REPORT.nhs_number)
    stale = copy.deepcopy(app.get_patient(pid))
    app.assign_coordinator(pid, "RAJ", "P1", "sam@demo.invalid")
    monkeypatch.setattr(app, "get_patient", lambda _: copy.deepcopy(stale))
    before = events(app)
    with pytest.raises(ConcurrentChange, match="changed by someone else"):
        app.log_contact(pid, "c1", "phone", "pain worse", "alex")
    assert events(app) == before


def test_a_domain_error_writes_nothing(app):
    from guardian.domain.errors import DomainError

    pid = app.patient_id(REPORT.nhs_number)
    before = events(app)
    with pytest.raises(DomainError):
        app.record_diagnostic_result(pid, "RAJ", "P1", "never-ordered", "normal")
    assert events(app) == before


def test_apply_reports_counts_created_updated_unchanged(app):
    changed = dataclasses.replace(REPORT, priority=2, as_of=dt.date(2026, 4, 7))
    other = dataclasses.replace(REPORT, pathway_id="P2")
    outcomes = app.apply_reports([REPORT, changed, other])
    assert [o.result for o in outcomes] == ["unchanged", "updated", "created"]


def test_nothing_creates_tables_except_db_init(tmp_path):
    url = f"sqlite:///{tmp_path}/fresh.sqlite"
    guardian = build_app(Settings(database_url=url))
    from guardian.application import NotInitialised

    with pytest.raises(NotInitialised, match="guardian db init"):
        guardian.apply_reports([REPORT])
    with guardian.engine.connect() as conn:
        tables = conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'")).all()
    assert tables == []
    guardian.close()


def test_the_shipped_mse_reference_loads(app):
    practices = read_org_file(ROOT / "guardian" / "data" / "mse-orgs.csv")
    assert {p.place for p in practices} == {
        "Basildon and Brentwood", "Mid Essex", "South East Essex", "Thurrock"
    }
    load_orgs(app.engine, practices)
    loaded = all_practices(app.engine)
    assert len(loaded) == len(practices) + 3
    load_orgs(app.engine, practices)  # idempotent
    assert len(all_practices(app.engine)) == len(loaded)


def test_a_bad_org_file_is_refused_whole(app, tmp_path):
    bad = tmp_path / "orgs.csv"
    bad.write_text(
        "PRACTICE_CODE,PRACTICE_NAME,PCN_CODE,PCN_NAME,PLACE\n"
        "Z90009,Fine Surgery,U99001,Example North PCN,Mid Essex\n"
        "nope,Bad Surgery,U99001,Example North PCN,Mid Essex\n"
    )
    with pytest.raises(OrgFileError, match="line 3"):
        read_org_file(bad)
    assert "Z90009" not in all_practices(app.engine)
