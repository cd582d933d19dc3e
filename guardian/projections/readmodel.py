"""What a read model is to the runner: its tables, the events it reads, its rows per patient.

A read model owns some tables, each with a `patient_id` column: a patient's rows are
replaced whole whenever one of its events that matter to the model arrives, rebuilt from
the whole Patient loaded once per batch for every read model (`SharedLoads`). A read model
names the event topics that change none of its rows (`unaffected_by`); the runner still
advances its position past them, it only neither loads those patients for it nor rewrites
their rows. Topics are named, not allowed: an event type added later is projected by
default, never silently ignored (and one this version cannot read leaves its patient out of
the batch with a warning, as loading does).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, MetaData, Table

from guardian.projections.tables import swap_tables

PATIENT_TOPICS = "guardian."  # the prefix of every topic whose events a read model reads
Rows = list[list[dict[str, Any]]]  # a read model's rows, per table in the order of tables()


@dataclass(frozen=True)
class Notice:
    """One notification: its position, aggregate and topic (projections reload aggregates)."""

    id: int
    originator_id: UUID
    topic: str


@dataclass
class Changes:
    """What a batch does to a read model: every row of these patients (hex ids), per table
    in the order of `tables()`, replacing the rows they had."""

    patients: list[str]
    rows: Rows


class ReadModel(ABC):
    """A read model: `name` (its tracking position's), `definers` (each live table and how
    to define it under another name, for a rebuild aside), `unaffected_by` (topics),
    `version` (of what its rows hold) and `rows` (every row of some patients, per table)."""

    name: str
    definers: tuple[tuple[Table, Callable[[str, MetaData], Table]], ...]
    unaffected_by: frozenset[str] = frozenset()
    # Raised when what its rows hold changes without a new column (rows of a new kind):
    # `guardian db init` then resets it, and it is rebuilt from the events (bootstrap.py).
    version: int = 1

    def tables(self, suffix: str = "") -> list[Table]:
        """Its tables (with `suffix` for a rebuild aside); each is created when missing."""
        if not suffix:
            return [live for live, _ in self.definers]
        aside = MetaData()
        return [define(live.name + suffix, aside) for live, define in self.definers]

    def swap(self, conn: Connection, suffix: str) -> None:
        """Replace its live tables with the ones built aside, in the caller's transaction."""
        swap_tables(conn, self.tables(), suffix)

    def reads(self, topic: str) -> bool:
        """Whether an event of this topic may change its rows."""
        return topic.startswith(PATIENT_TOPICS) and topic not in self.unaffected_by

    def prepare(self, app: Any, batch: Sequence[Notice], orgs: dict[str, Any]) -> Changes:
        """Every row, in each of its tables, of the patients these notifications change.

        Reads only (no transaction is open): aggregates from `app.load_patients` may be
        shared with the other read models brought up to date with the same batch: read
        them, never change them."""
        patients = batch_patients(app, [n for n in batch if self.reads(n.topic)])
        return Changes([p.id.hex for p in patients], self.rows(app, patients, orgs))

    @abstractmethod
    def rows(self, app: Any, patients: list[Any], orgs: dict[str, Any]) -> Rows:
        """Every row of these patients, per table in the order of `tables()`."""


def batch_patients(app: Any, batch: Sequence[Notice]) -> list[Any]:
    """The patients a batch touches, in id order (loaded once for all the read models)."""
    ids = sorted({n.originator_id for n in batch})
    if not ids:
        return []
    patients = app.load_patients(ids)
    return [patients[i] for i in ids if i in patients]


class SharedLoads:
    """The application, with each patient loaded once for all the read models of a batch."""

    def __init__(self, app: Any):
        self._app = app
        self._patients: dict[UUID, Any] = {}
        self._loaded: set[UUID] = set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._app, name)

    def load_patients(self, patient_ids: Iterable[UUID]) -> dict[UUID, Any]:
        wanted = list(patient_ids)
        missing = [i for i in wanted if i not in self._loaded]
        if missing:
            self._patients.update(self._app.load_patients(missing))
            self._loaded.update(missing)
        return {i: self._patients[i] for i in wanted if i in self._patients}
