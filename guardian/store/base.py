"""What every patient repository offers, and the parts they share.

A patient repository loads and saves Patient aggregates and keeps the pathway index that
goes with them: `get` / `get_many` reconstruct patients from their events, `known_ids` says
which exist, `lookup_index` finds pathways by (provider, pathway id), `stage` turns the
patients' new events into stored events with their index rows, and `save` writes a staged
batch — events, index rows and the audit rows of the action under way — all or nothing,
raising the library's `IntegrityError` when another writer saved a version first. Two
implementations: `PatientRepository` (the database) and `InMemoryPatientRepository` (a
dict, for the use cases' unit tests).
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.persistence import Mapper, StoredEvent

from guardian.domain.errors import DomainError
from guardian.domain.patient import Patient
from guardian.domain.report import fingerprint

PathwayKey = tuple[str, str]  # (provider, pathway id)


class PatientNotFound(DomainError):
    pass


class IndexEntry(NamedTuple):
    patient_id: str  # hex
    fingerprint: str
    state: str  # O on the list, L left the list, S stopped or closed

    def unchanged_by(self, digest: str) -> bool:
        """A report with this digest changes nothing (a pathway that left the list returns)."""
        return self.fingerprint == digest and self.state != "L"


@dataclass
class StagedWrite:
    stored: list[StoredEvent]
    index_rows: list[dict[str, Any]]


def index_rows(patient: Patient) -> list[dict[str, Any]]:
    """The patient's rows of the pathway index: where each pathway lives, a digest of what
    its provider last reported, and its state."""
    return [
        {
            "provider": p.provider,
            "pathway_id": p.pathway_id,
            "patient_id": patient.id.hex,
            "fingerprint": fingerprint(patient.reported_facts(*key)),
            "state": _index_state(p),
        }
        for key, p in patient.pathways.items()
    ]


def _index_state(p: Any) -> str:
    if not p.is_open:
        return "S"
    return "L" if p.left_list_on is not None else "O"


class BasePatientRepository(ABC):
    """The interface of a patient repository, and staging (the same for every one)."""

    mapper: Mapper[UUID]

    def stage(self, patients: Iterable[Patient]) -> StagedWrite:
        """Collect the patients' new events as stored events, with their index rows."""
        patients = list(patients)
        events = [e for patient in patients for e in patient.collect_events()]
        return StagedWrite(
            stored=[self.mapper.to_stored_event(e) for e in events],
            index_rows=[row for p in patients for row in index_rows(p)] if events else [],
        )

    @abstractmethod
    def namespace(self) -> UUID | None:
        """The deployment's id namespace; None before `guardian db init`."""

    @abstractmethod
    def get(self, patient_id: UUID) -> Patient:
        """The patient from their events; `PatientNotFound` if there are none."""

    @abstractmethod
    def get_many(self, patient_ids: Iterable[UUID]) -> dict[UUID, Patient]:
        """The patients among these that exist. One whose history holds an event this
        version cannot read (written by a newer version, say) is left out with a warning."""

    @abstractmethod
    def known_ids(self, patient_ids: Iterable[UUID]) -> set[UUID]:
        """Which of these patients exist (their first event is stored)."""

    @abstractmethod
    def lookup_index(self, keys: Iterable[PathwayKey]) -> dict[PathwayKey, IndexEntry]:
        """The index entries (patient, fingerprint, state) of these pathways, where known."""

    @abstractmethod
    def open_pathways_of(self, provider: str) -> list[tuple[str, UUID]]:
        """(pathway id, patient id) of the provider's pathways on the waiting list."""

    @abstractmethod
    def save(self, staged: StagedWrite, audit_rows: Sequence[dict[str, Any]] = ()) -> int | None:
        """Write the staged events and index rows, and `audit_rows`, in one transaction;
        nothing (not even the audit rows) when no event is staged. Returns the last
        notification id written, or None. `IntegrityError` when a version is taken."""

    @abstractmethod
    def record_audit(self, rows: Sequence[dict[str, Any]]) -> None:
        """Append audit rows on their own (an action that wrote no event)."""

    @abstractmethod
    def rebuild_index(self, batch: int = 500) -> int:
        """Rebuild the pathway index from the events alone; the number of pathways."""

    def refresh_statistics(self) -> None:
        """Bring the planner's statistics of the index up to date after bulk writes
        (nothing to do unless the database keeps statistics)."""
        return None

    @abstractmethod
    def last_extract_dates(self) -> dict[str, dt.date]:
        """The as-of date of the latest extract applied, per provider."""

    @abstractmethod
    def record_extract_dates(self, as_of_by_provider: dict[str, dt.date]) -> None:
        """Record these as the latest extracts applied."""

    def close(self) -> None:
        """Release connections (nothing to do unless there are some)."""
        return None
