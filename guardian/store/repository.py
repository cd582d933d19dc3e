"""`PatientRepository`: Patient aggregates in the database, with the pathway index.

It owns the event store (the library's recorder and event store, built by `open_factory`),
the mapper, the driver-level reads and writes of events, and the tables that go with them:
the pathway index, the latest extract per provider and the audit rows an action writes in
the same transaction as its events. Reads that cover many patients or keys go to the
driver's cursor a page at a time (read models and the importer load thousands per batch).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Repository
from eventsourcing.persistence import Mapper, StoredEvent
from sqlalchemy import Engine, func, select

from guardian.domain.patient import Patient
from guardian.store.base import (
    BasePatientRepository,
    IndexEntry,
    PathwayKey,
    PatientNotFound,
    StagedWrite,
    index_rows,
)
from guardian.store.bulk import dialect_insert, param_mark, select_in, upsert
from guardian.store.mapper import make_mapper
from guardian.store.recorder import GuardianFactory, open_factory
from guardian.store.schema import prepare_engine, read_namespace
from guardian.store.tables import EVENTS_TABLE, audit_log, pathway_index, provider_extracts

log = logging.getLogger("guardian.store")

_INDEX_KEY = ("provider", "pathway_id")


class PatientRepository(BasePatientRepository):
    """Patients in the event store of one database (`open` builds it from a URL)."""

    def __init__(self, factory: GuardianFactory, mapper: Mapper[UUID] | None = None) -> None:
        self.factory = factory
        self.mapper = mapper or make_mapper()
        self.recorder = factory.application_recorder()
        self.events = factory.event_store(mapper=self.mapper, recorder=self.recorder)
        self._aggregates: Repository[UUID] = Repository(event_store=self.events)
        prepare_engine(self.engine)

    @classmethod
    def open(cls, database_url: str, pool_size: int) -> PatientRepository:
        """The repository of this database, with a pool of `pool_size` on PostgreSQL."""
        return cls(open_factory(database_url, pool_size))

    @property
    def engine(self) -> Engine:
        engine = self.recorder.datastore.engine  # type: ignore[attr-defined]
        assert engine is not None
        return engine

    def close(self) -> None:
        self.factory.close()

    def namespace(self) -> UUID | None:
        return read_namespace(self.engine)

    # ------------------------------------------------------------------ patients
    def get(self, patient_id: UUID) -> Patient:
        try:
            return self._aggregates.get(patient_id)  # type: ignore[return-value]
        except AggregateNotFoundError:
            raise PatientNotFound("no such patient", field="patient") from None

    def get_many(self, patient_ids: Iterable[UUID]) -> dict[UUID, Patient]:
        """One query per 500 patients, replayed in order of id and version."""
        ids = sorted(set(patient_ids))
        postgres = self.engine.dialect.name == "postgresql"
        mark = param_mark(self.engine)
        patients: dict[UUID, Patient] = {}
        with self.engine.connect() as conn:
            cur = conn.connection.driver_connection.cursor()
            try:
                for start in range(0, len(ids), 500):
                    part = ids[start : start + 500]
                    values = [str(i) for i in part] if postgres else [i.bytes for i in part]
                    cur.execute(
                        f"SELECT originator_id, originator_version, topic, state FROM "
                        f"{EVENTS_TABLE} WHERE originator_id IN "
                        f"({', '.join([mark] * len(part))}) "
                        "ORDER BY originator_id, originator_version",
                        values,
                    )
                    self._replay(cur.fetchall(), patients)
            finally:
                cur.close()
        return patients

    def _replay(self, rows: Iterable[tuple[Any, ...]], patients: dict[UUID, Patient]) -> None:
        """Apply stored events (in order per patient) to `patients`; leave out, with a
        warning, a patient with an event this version cannot read."""
        unreadable: set[UUID] = set()
        for originator, version, topic, state in rows:
            pid = as_uuid(originator)
            if pid in unreadable:
                continue
            try:
                domain_event = self.mapper.to_domain_event(
                    StoredEvent(pid, version, topic, bytes(state))
                )
                patients[pid] = domain_event.mutate(patients.get(pid))
            except Exception as e:  # e.g. an event from a newer version
                log.warning("patient %s left out: event v%s (%s): %s", pid, version, topic, e)
                unreadable.add(pid)
                patients.pop(pid, None)

    def known_ids(self, patient_ids: Iterable[UUID]) -> set[UUID]:
        unique = sorted(set(patient_ids))
        if self.engine.dialect.name == "postgresql":
            values: list[Any] = [str(i) for i in unique]
        else:
            values = [i.bytes for i in unique]
        sql = f"SELECT originator_id FROM {EVENTS_TABLE} WHERE originator_version = 1 AND "
        rows = select_in(self.engine, sql + "originator_id", values)
        return {r if isinstance(r, UUID) else as_uuid(r) for (r,) in rows}

    # ------------------------------------------------------------------ saving
    def save(self, staged: StagedWrite, audit_rows: Sequence[dict[str, Any]] = ()) -> int | None:
        if not staged.stored:
            return None
        extra = [(audit_log, list(audit_rows))] if audit_rows else []
        ids = self.recorder.insert_events(  # type: ignore[call-arg]
            staged.stored, index_rows=staged.index_rows, extra_rows=extra
        )
        return ids[-1] if ids else None

    def record_audit(self, rows: Sequence[dict[str, Any]]) -> None:
        with self.engine.begin() as conn:
            conn.execute(audit_log.insert(), list(rows))

    # ------------------------------------------------------------------ pathway index
    def lookup_index(self, keys: Iterable[PathwayKey]) -> dict[PathwayKey, IndexEntry]:
        """One query per provider in the batch, on the primary key (provider, pathway id)."""
        by_provider: dict[str, set[str]] = {}
        for provider, pathway_id in keys:
            by_provider.setdefault(provider, set()).add(pathway_id)
        found: dict[PathwayKey, IndexEntry] = {}
        sql = (
            f"SELECT pathway_id, patient_id, fingerprint, state FROM {pathway_index.name} "
            f"WHERE provider = {param_mark(self.engine)} AND pathway_id"
        )
        for provider, ids in by_provider.items():
            for pathway_id, patient, digest, state in select_in(
                self.engine, sql, sorted(ids), prefix=(provider,)
            ):
                found[(provider, pathway_id)] = IndexEntry(patient, digest, state)
        return found

    def open_pathways_of(self, provider: str) -> list[tuple[str, UUID]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(pathway_index.c.pathway_id, pathway_index.c.patient_id).where(
                    pathway_index.c.provider == provider, pathway_index.c.state == "O"
                )
            )
            return [(pw, UUID(pid)) for pw, pid in rows]

    def rebuild_index(self, batch: int = 500) -> int:
        """Every patient replayed (for recovery and for checking, not routine use: the
        index is written in the same transaction as the events)."""
        seen: set[UUID] = set()
        position = 0
        with self.engine.begin() as conn:
            conn.execute(pathway_index.delete())
        while True:
            notes = self.recorder.select_notifications(
                start=position + 1, limit=1000, topics=("guardian.Patient.Registered",)
            )
            if not notes:
                break
            position = notes[-1].id
            ids = [n.originator_id for n in notes if n.originator_id not in seen]
            seen.update(ids)
            for start in range(0, len(ids), batch):
                patients = [self.get(pid) for pid in ids[start : start + batch]]
                rows = [row for p in patients for row in index_rows(p)]
                with self.recorder.transaction(commit=True) as session:  # type: ignore[attr-defined]
                    upsert(session, pathway_index, rows, _INDEX_KEY)
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(pathway_index)).scalar_one()

    def refresh_statistics(self) -> None:
        """ANALYZE the index (PostgreSQL), so lookups keep using its indexes.

        A table filled in one import has no planner statistics until autovacuum's next pass;
        until then PostgreSQL may scan it whole for every batch's lookup.
        """
        if self.engine.dialect.name == "postgresql":
            with self.engine.begin() as conn:
                conn.exec_driver_sql(f"ANALYZE {pathway_index.name}")

    # ------------------------------------------------------------------ extracts
    def last_extract_dates(self) -> dict[str, dt.date]:
        with self.engine.connect() as conn:
            return dict(conn.execute(select(provider_extracts)).tuples().all())

    def record_extract_dates(self, as_of_by_provider: dict[str, dt.date]) -> None:
        rows = [{"provider": p, "last_as_of": d} for p, d in as_of_by_provider.items()]
        if not rows:  # an extract with no rows names no provider
            return
        with self.engine.begin() as conn:
            stmt = dialect_insert(conn, provider_extracts)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["provider"], set_={"last_as_of": stmt.excluded.last_as_of}
                ),
                rows,
            )


def as_uuid(value: Any) -> UUID:
    """A UUID from the driver's form of an event's originator id (bytes on SQLite)."""
    if isinstance(value, UUID):
        return value
    if isinstance(value, (bytes, memoryview)):
        return UUID(bytes=bytes(value))
    return UUID(str(value))
