"""The use cases (GuardianApp) against the in-memory patient repository: no database.

Provider reports (new patient, second report, changed, unchanged, scope, another NHS
number), a coordinator's command, concurrency conflicts and the audit entry that goes with
the write. tests/integration/test_application.py runs use cases on a real store.
"""

from __future__ import annotations

import datetime as dt

import pytest
from referrals import PW, report

from guardian.application import ConcurrentChange, GuardianApp, OutsideScope
from guardian.config import Settings
from guardian.domain.errors import DomainError, InvalidValue
from guardian.store import InMemoryPatientRepository

AS_OF = dt.date(2026, 3, 31)
REPORT = report(as_of=AS_OF)
ENTRY = {"action": "record-workup-done", "user_email": "alex@demo.invalid"}


def fixed_clock() -> dt.datetime:
    return dt.datetime(2026, 3, 31, 23, 30, tzinfo=dt.UTC)  # 00:30 on 1 April in London


@pytest.fixture
def store() -> InMemoryPatientRepository:
    return InMemoryPatientRepository()


@pytest.fixture
def app(store, tmp_path) -> GuardianApp:
    return GuardianApp(Settings(var_dir=tmp_path), fixed_clock, patients=store)


@pytest.fixture
def pid(app):
    [outcome] = app.apply_reports([REPORT])
    return outcome.patient_id


def events(store: InMemoryPatientRepository) -> int:
    return len(store.notifications)


# ---------------------------------------------------------------------- provider reports
def test_a_first_report_registers_the_patient_and_indexes_the_pathway(app, store):
    [outcome] = app.apply_reports([REPORT])
    assert outcome.result == "created" and outcome.error is None
    assert outcome.patient_id == app.patient_id(REPORT.nhs_number)
    patient = app.get_patient(outcome.patient_id)
    assert patient.nhs_number == REPORT.nhs_number
    assert patient.pathway(*PW).practice_code == "Z90001"
    assert app.known_patients([outcome.patient_id]) == {outcome.patient_id}
    [entry] = app.lookup_index([PW]).values()
    assert entry.patient_id == outcome.patient_id.hex and entry.state == "O"
    assert app.open_pathways_of("RAJ") == [("PPI-1", outcome.patient_id)]


def test_a_second_report_of_the_patient_adds_to_the_same_patient(app, pid):
    other = report(pathway_id="PPI-2", treatment_function="101", as_of=AS_OF)
    [outcome] = app.apply_reports([other])
    assert (outcome.result, outcome.patient_id) == ("created", pid)
    assert set(app.get_patient(pid).pathways) == {PW, ("RAJ", "PPI-2")}


def test_reports_are_counted_created_updated_unchanged(app, pid):
    changed = report(priority=2, as_of=dt.date(2026, 4, 7))
    other = report(pathway_id="PPI-2", as_of=AS_OF)
    outcomes = app.apply_reports([REPORT, changed, other])
    assert [o.result for o in outcomes] == ["unchanged", "updated", "created"]
    assert app.get_patient(pid).pathway(*PW).priority == 2


def test_applying_the_same_reports_again_writes_nothing(app, store, pid):
    batch = [report(priority=2, as_of=dt.date(2026, 4, 7)),
             report(pathway_id="PPI-2", as_of=AS_OF)]
    app.apply_reports(batch)
    before = events(store)
    assert [o.result for o in app.apply_reports(batch)] == ["unchanged", "unchanged"]
    assert events(store) == before


def test_a_known_pathway_under_another_nhs_number_is_rejected(app, store, pid):
    before = events(store)
    [outcome] = app.apply_reports([report(nhs_number="9434765919", as_of=AS_OF)])
    assert outcome.result == "rejected" and isinstance(outcome.error, InvalidValue)
    assert outcome.error.field == "NHS_NUMBER"
    assert events(store) == before


def test_a_pathway_registered_outside_the_scope_is_rejected(app, store, pid):
    before = events(store)
    changed = report(priority=2, as_of=dt.date(2026, 4, 7))
    [outcome] = app.apply_reports([changed], scope=frozenset({"Z90002"}))
    assert outcome.result == "rejected" and isinstance(outcome.error, OutsideScope)
    assert outcome.error.field == "PATIENT_PATHWAY_IDENTIFIER"
    assert events(store) == before
    assert app.get_patient(pid).pathway(*PW).priority == 1
    [outcome] = app.apply_reports([changed], scope=frozenset({"Z90001"}))  # in scope
    assert outcome.result == "updated"


def test_a_scope_without_every_open_pathway_keeps_the_patients_own_details(app, pid):
    born = dt.date(1958, 3, 15)
    other = report(pathway_id="PPI-2", practice_code="Z90002", birth_date=born, as_of=AS_OF)
    [outcome] = app.apply_reports([other], scope=frozenset({"Z90002"}))
    assert outcome.result == "created"
    assert app.get_patient(pid).birth_date == dt.date(1958, 3, 14)
    app.apply_reports([report(birth_date=born, as_of=dt.date(2026, 4, 7))])  # the extract
    assert app.get_patient(pid).birth_date == born


def test_the_outcomes_are_told_before_anything_is_written(app, store):
    seen = []
    app.apply_reports([REPORT], on_decided=lambda o: seen.append(([x.result for x in o],
                                                                  events(store))))
    assert seen == [(["created"], 0)]
    assert events(store) > 0


def test_a_full_snapshot_takes_pathways_it_no_longer_lists_off_the_list(app, pid):
    assert app.mark_left_waiting_list("RAJ", app.open_pathways_of("RAJ"), AS_OF) == 1
    assert app.get_patient(pid).pathway(*PW).left_list_on == AS_OF
    assert app.open_pathways_of("RAJ") == []
    assert app.lookup_index([PW])[PW].state == "L"


def test_extract_dates_are_kept_per_provider(app):
    app.record_extract_dates({"RAJ": AS_OF})
    app.record_extract_dates({})
    assert app.last_extract_dates() == {"RAJ": AS_OF}


def test_the_index_rebuilds_from_the_events(app, store, pid):
    expected = dict(store.index)
    store.index.clear()
    assert app.rebuild_pathway_index() == 1
    assert store.index == expected


# ---------------------------------------------------------------------- commands
def test_update_patient_runs_a_command_and_saves_its_events(app, store, pid):
    before = events(store)
    app.update_patient(pid, lambda p: p.assign_coordinator(*PW, "sam@demo.invalid"))
    assert app.get_patient(pid).pathway(*PW).coordinator == "sam@demo.invalid"
    assert events(store) == before + 1


def test_a_command_is_dated_today_by_the_clock_and_repeats_write_once(app, store, pid):
    before = events(store)
    for _ in range(3):
        app.order_diagnostic(pid, *PW, "t1", "mri")
    assert events(store) == before + 1
    assert app.get_patient(pid).pathway(*PW).diagnostics["t1"].ordered_on == dt.date(2026, 4, 1)
    app.record_diagnostic_result(pid, *PW, "t1", "normal", on=dt.date(2026, 4, 3))
    assert app.get_patient(pid).pathway(*PW).diagnostics["t1"].resulted_on == dt.date(2026, 4, 3)


def test_a_message_is_dated_by_its_local_day(app, pid):
    at = dt.datetime(2026, 4, 2, 23, 30, tzinfo=dt.UTC)  # 00:30 on 3 April in London
    app.receive_message(pid, *PW, "m1", "patient", "When is my appointment?", "Ann", at=at)
    message = app.get_patient(pid).pathway(*PW).messages["m1"]
    assert (message.at, message.on) == (at, dt.date(2026, 4, 3))


def test_a_domain_error_writes_nothing(app, store, pid):
    before = events(store)
    with pytest.raises(DomainError):
        app.record_diagnostic_result(pid, *PW, "never-ordered", "normal")
    assert events(store) == before


# ---------------------------------------------------------------------- concurrency
def someone_else_writes(app, store, monkeypatch, times: int) -> list:
    """After each of the use case's first `times` loads of a patient, another writer saves
    a change to that patient (a coordinator assigned), so the use case's save conflicts.
    Returns the list of loads, which grows as the use case loads."""
    real_get = app.get_patient
    loads = []

    def get_patient(patient_id):
        patient = real_get(patient_id)
        loads.append(patient_id)
        if len(loads) <= times:
            other = store.get(patient_id)
            other.assign_coordinator(*PW, f"writer{len(loads)}@demo.invalid")
            store.save(store.stage([other]))
        return patient

    monkeypatch.setattr(app, "get_patient", get_patient)
    return loads


def test_a_concurrent_change_is_retried_once(app, store, pid, monkeypatch):
    loads = someone_else_writes(app, store, monkeypatch, times=1)
    app.log_contact(pid, "c1", "phone", "pain worse", "alex")
    assert loads == [pid, pid]
    patient = store.get(pid)
    assert "c1" in patient.contacts
    assert patient.pathway(*PW).coordinator == "writer1@demo.invalid"


def test_two_conflicts_in_a_row_give_a_clear_error(app, store, pid, monkeypatch):
    someone_else_writes(app, store, monkeypatch, times=2)
    with pytest.raises(ConcurrentChange, match="changed by someone else"):
        app.log_contact(pid, "c1", "phone", "pain worse", "alex")
    assert "c1" not in store.get(pid).contacts


def test_reports_that_keep_losing_races_give_a_clear_error(app, store, pid, monkeypatch):
    someone_else_writes(app, store, monkeypatch, times=2)
    with pytest.raises(ConcurrentChange, match="another writer"):
        app.apply_reports([report(priority=2, as_of=dt.date(2026, 4, 7))])
    assert store.get(pid).pathway(*PW).priority == 1


def test_a_snapshot_retries_while_others_write_then_gives_up(app, store, pid, monkeypatch):
    loads = someone_else_writes(app, store, monkeypatch, times=2)
    assert app.mark_left_waiting_list("RAJ", [("PPI-1", pid)], AS_OF) == 1
    assert len(loads) == 3 and store.get(pid).pathway(*PW).left_list_on == AS_OF
    other = report(pathway_id="PPI-2", as_of=AS_OF)
    app.apply_reports([other])
    someone_else_writes(app, store, monkeypatch, times=3)
    with pytest.raises(ConcurrentChange, match="import the file again"):
        app.mark_left_waiting_list("RAJ", [("PPI-2", pid)], AS_OF)


# ---------------------------------------------------------------------- audit
def test_audited_puts_the_entry_with_the_write(app, store, pid, monkeypatch):
    saves = []
    real_save = store.save

    def save(staged, audit_rows=()):
        saves.append((len(staged.stored), list(audit_rows)))
        return real_save(staged, audit_rows)

    monkeypatch.setattr(store, "save", save)
    with app.audited(ENTRY):
        app.order_diagnostic(pid, *PW, "t1", "mri")
    assert saves == [(1, [ENTRY])]
    assert store.audit == [ENTRY]


def test_an_audited_repeat_records_the_entry_on_its_own(app, store, pid):
    app.order_diagnostic(pid, *PW, "t1", "mri")
    before = events(store)
    with app.audited(ENTRY):
        app.order_diagnostic(pid, *PW, "t1", "mri")
    assert events(store) == before and store.audit == [ENTRY]


def test_an_audited_action_that_fails_records_nothing(app, store, pid, monkeypatch):
    with pytest.raises(DomainError), app.audited(ENTRY):
        app.record_diagnostic_result(pid, *PW, "never-ordered", "normal")
    someone_else_writes(app, store, monkeypatch, times=2)
    with pytest.raises(ConcurrentChange), app.audited(ENTRY):
        app.log_contact(pid, "c1", "phone", "pain worse", "alex")
    assert store.audit == []


def test_a_block_that_clears_its_entry_is_not_audited(app, store, pid):
    with app.audited(ENTRY) as pending:
        pending.clear()
        app.order_diagnostic(pid, *PW, "t1", "mri")
    assert store.audit == []


def test_an_audited_entry_is_written_once_across_two_writes(app, store, pid):
    with app.audited(ENTRY):
        app.order_diagnostic(pid, *PW, "t1", "mri")
        app.order_diagnostic(pid, *PW, "t2", "ct")
    assert store.audit == [ENTRY]
