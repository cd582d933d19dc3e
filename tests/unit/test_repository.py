"""The in-memory patient repository keeps the repository's promises: staged writes are all
or nothing, a version already taken is refused, patients come back as they were saved."""

from __future__ import annotations

import copy
import uuid

import pytest
from eventsourcing.persistence import IntegrityError
from referrals import PW, report

from guardian.domain.patient import Patient
from guardian.store import InMemoryPatientRepository, PatientNotFound

ENTRY = {"action": "add-referral"}


@pytest.fixture
def store() -> InMemoryPatientRepository:
    return InMemoryPatientRepository()


def registered(pathway_id: str = "PPI-1", nhs_number: str = "9995260182") -> Patient:
    patient = Patient.register(uuid.uuid4(), report(pathway_id=pathway_id,
                                                    nhs_number=nhs_number))
    patient.reconcile(report(pathway_id=pathway_id, nhs_number=nhs_number))
    return patient


def test_a_saved_patient_comes_back_from_its_events(store):
    patient = registered()
    staged = store.stage([patient])
    assert [row["pathway_id"] for row in staged.index_rows] == ["PPI-1"]
    assert store.save(staged, [ENTRY]) == len(staged.stored)
    again = store.get(patient.id)
    assert (again.version, again.pathways.keys()) == (patient.version, patient.pathways.keys())
    assert store.get_many([patient.id, uuid.uuid4()]).keys() == {patient.id}
    assert store.known_ids([patient.id, uuid.uuid4()]) == {patient.id}
    assert store.lookup_index([PW, ("RAJ", "nope")])[PW].patient_id == patient.id.hex
    assert store.audit == [ENTRY]


def test_an_unknown_patient_is_not_found(store):
    with pytest.raises(PatientNotFound):
        store.get(uuid.uuid4())


def test_nothing_staged_writes_nothing_not_even_the_audit_rows(store):
    staged = store.stage([])
    assert (staged.stored, staged.index_rows) == ([], [])
    assert store.save(staged, [ENTRY]) is None
    assert store.audit == [] and store.notifications == []


def test_a_version_already_taken_is_refused_and_the_batch_written_not_at_all(store):
    patient = registered()
    store.save(store.stage([patient]))
    stale = copy.deepcopy(store.get(patient.id))
    fresh = store.get(patient.id)
    fresh.assign_coordinator(*PW, "sam@demo.invalid")
    store.save(store.stage([fresh]))
    before = list(store.notifications)
    newcomer = registered(pathway_id="PPI-9", nhs_number="9434765919")
    stale.assign_coordinator(*PW, "alex@demo.invalid")
    with pytest.raises(IntegrityError):
        store.save(store.stage([newcomer, stale]), [ENTRY])
    assert store.notifications == before and store.audit == []
    assert store.known_ids([newcomer.id]) == set()
    assert store.get(patient.id).pathway(*PW).coordinator == "sam@demo.invalid"
