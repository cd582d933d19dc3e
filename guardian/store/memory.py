"""`InMemoryPatientRepository`: the patient repository's interface over dicts, no database.

For the use cases' unit tests (`tests/unit/test_use_cases.py`): events are kept as the
database keeps them (stored events, through the same mapper, so a patient is rebuilt from
its history as it would be from the database), with the pathway index, the audit rows and
the extract dates beside them. A save is all or nothing and refuses a version already
taken, as the event store's unique (patient, version) key does.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent

from guardian.domain.patient import Patient
from guardian.store.base import (
    BasePatientRepository,
    IndexEntry,
    PatientNotFound,
    StagedWrite,
    index_rows,
)
from guardian.store.mapper import make_mapper


class InMemoryPatientRepository(BasePatientRepository):
    """Patients, their index, audit rows and extract dates in memory."""

    def __init__(self, namespace: UUID | None = None) -> None:
        self.mapper = make_mapper()
        self._namespace = namespace or uuid.uuid4()
        self.histories: dict[UUID, list[StoredEvent]] = {}  # each patient's events
        self.notifications: list[StoredEvent] = []  # every event, in the order written
        self.index: dict[tuple[str, str], dict[str, Any]] = {}
        self.audit: list[dict[str, Any]] = []
        self.extract_dates: dict[str, dt.date] = {}
        self._lock = threading.Lock()

    def namespace(self) -> UUID | None:
        return self._namespace

    def get(self, patient_id: UUID) -> Patient:
        history = self.histories.get(patient_id)
        if not history:
            raise PatientNotFound("no such patient", field="patient")
        patient = None
        for stored in history:
            patient = self.mapper.to_domain_event(stored).mutate(patient)
        assert isinstance(patient, Patient)
        return patient

    def get_many(self, patient_ids: Iterable[UUID]) -> dict[UUID, Patient]:
        return {pid: self.get(pid) for pid in sorted(set(patient_ids)) if pid in self.histories}

    def known_ids(self, patient_ids: Iterable[UUID]) -> set[UUID]:
        return {pid for pid in patient_ids if pid in self.histories}

    def lookup_index(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], IndexEntry]:
        return {
            key: IndexEntry(row["patient_id"], row["fingerprint"], row["state"])
            for key in keys
            if (row := self.index.get(key)) is not None
        }

    def open_pathways_of(self, provider: str) -> list[tuple[str, UUID]]:
        return [(pathway_id, UUID(row["patient_id"]))
                for (at, pathway_id), row in self.index.items()
                if at == provider and row["state"] == "O"]

    def save(self, staged: StagedWrite, audit_rows: Sequence[dict[str, Any]] = ()) -> int | None:
        if not staged.stored:
            return None
        with self._lock:
            taken = {pid: len(history) for pid, history in self.histories.items()}
            for stored in staged.stored:
                pid = stored.originator_id
                if stored.originator_version <= taken.get(pid, 0):  # type: ignore[arg-type]
                    raise IntegrityError(
                        f"patient {pid} already has version {stored.originator_version}")
                taken[pid] = stored.originator_version  # type: ignore[index]
            for stored in staged.stored:
                self.histories.setdefault(stored.originator_id, []).append(stored)  # type: ignore[arg-type]
                self.notifications.append(stored)
            for row in staged.index_rows:
                self.index[(row["provider"], row["pathway_id"])] = dict(row)
            self.audit.extend(audit_rows)
            return len(self.notifications)

    def record_audit(self, rows: Sequence[dict[str, Any]]) -> None:
        with self._lock:
            self.audit.extend(rows)

    def rebuild_index(self, batch: int = 500) -> int:
        self.index = {(row["provider"], row["pathway_id"]): row
                      for pid in list(self.histories) for row in index_rows(self.get(pid))}
        return len(self.index)

    def last_extract_dates(self) -> dict[str, dt.date]:
        return dict(self.extract_dates)

    def record_extract_dates(self, as_of_by_provider: dict[str, dt.date]) -> None:
        self.extract_dates.update(as_of_by_provider)
