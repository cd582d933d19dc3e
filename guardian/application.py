"""GuardianApp: the use cases. Each loads a Patient, runs one command, and saves its events.

Commands are idempotent (the aggregate ignores a repeat), take their dates from the caller or
the injected clock, and retry once on a concurrency conflict before giving up clearly.
"""

from __future__ import annotations

import datetime as dt
import json
import json.encoder
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import (
    IntegrityError,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    Transcoding,
)
from eventsourcing.utils import get_topic
from sqlalchemy import Engine, func, select

from guardian.audit import audit_log
from guardian.config import Settings
from guardian.domain.errors import DomainError, InvalidValue
from guardian.domain.identifiers import patient_id as make_patient_id
from guardian.domain.patient import Patient
from guardian.domain.report import ReferralReport, fingerprint
from guardian.store import (
    dialect_insert,
    pathway_index,
    prepare_engine,
    provider_extracts,
    read_namespace,
    upsert,
)

Clock = Callable[[], dt.datetime]
# The audit entry of the action under way (`GuardianApp.audited`), written with its events.
_AUDIT: ContextVar[list[dict[str, Any]] | None] = ContextVar("guardian_audit", default=None)
log = logging.getLogger("guardian.application")


def system_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class DateAsISO(Transcoding):
    """Dates are stored as ISO dates, not timestamps (the event store has no date type)."""

    type = dt.date
    name = "date_iso"

    def encode(self, obj: dt.date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> dt.date:
        return dt.date.fromisoformat(data)


class FastMapper(Mapper[UUID]):
    """The library's mapper, minus per-event overhead that matters at import volumes.

    Same stored form: topic from the class's explicit TOPIC, JSON state without the
    originator id and version, transcodings for dates, datetimes and UUIDs.
    """

    def __init__(self, transcoder: JSONTranscoder) -> None:
        super().__init__(transcoder=transcoder)
        self._topics: dict[type, str] = {}
        make = getattr(json.encoder, "c_make_encoder", None)
        self._dates: dict[dt.date, dict[str, str]] = {}
        self._encode_obj = transcoder._encode_obj
        self._encode_c = (
            make(None, self._default, json.encoder.encode_basestring, None,
                 ":", ",", False, False, True)
            if make is not None
            else None
        )

    def _default(self, obj: Any) -> Any:
        """The transcodings, with the (few, often repeated) dates encoded once."""
        if type(obj) is dt.date:
            encoded = self._dates.get(obj)
            if encoded is None:
                encoded = self._encode_obj(obj)
                if len(self._dates) < 50_000:
                    self._dates[obj] = encoded
            return encoded
        return self._encode_obj(obj)

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        cls = type(domain_event)
        topic = self._topics.get(cls)
        if topic is None:
            topic = self._topics[cls] = get_topic(cls)
        state = dict(vars(domain_event))
        originator_id = state.pop("originator_id")
        originator_version = state.pop("originator_version")
        if self._encode_c is None or getattr(cls, "class_version", 1) > 1:
            return super().to_stored_event(domain_event)
        data = "".join(self._encode_c(state, 0)).encode("utf8")
        return StoredEvent(originator_id, originator_version, topic, data)


class NotInitialised(RuntimeError):
    """The database has no Guardian tables yet."""


class ConcurrentChange(DomainError):
    """Someone else changed the patient at the same time, twice in a row."""


class PatientNotFound(DomainError):
    pass


class OutsideScope(InvalidValue):
    """A report about a pathway registered outside the submitting user's scope."""


@dataclass(frozen=True)
class ReportOutcome:
    result: str  # "created", "updated", "unchanged" or "rejected"
    error: DomainError | None = None
    patient_id: UUID | None = None


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


@dataclass
class PreparedReports:
    outcomes: list[ReportOutcome]
    patients: dict[UUID, Patient]
    staged: StagedWrite


class GuardianApp(Application[UUID]):
    name = "guardian"
    log_section_size = 1000

    def __init__(self, settings: Settings, clock: Clock = system_clock) -> None:
        self.settings = settings
        self.clock = clock
        self._namespace: UUID | None = None
        super().__init__(
            env={
                "PERSISTENCE_MODULE": "guardian.store:GuardianFactory",
                "SQLALCHEMY_URL": settings.database_url,
                "CREATE_TABLE": "no",
                "GUARDIAN_POOL_SIZE": str(settings.web_threads),
            }
        )
        prepare_engine(self.engine)

    def construct_mapper(self) -> Mapper[UUID]:
        return FastMapper(self.construct_transcoder())  # type: ignore[arg-type]

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    # ------------------------------------------------------------------ infrastructure
    @property
    def engine(self) -> Engine:
        engine = self.recorder.datastore.engine  # type: ignore[attr-defined]
        assert engine is not None
        return engine

    @property
    def namespace(self) -> UUID:
        if self._namespace is None:
            try:
                self._namespace = read_namespace(self.engine)
            except Exception as e:  # the table is missing: not initialised
                raise NotInitialised(
                    "the database has no Guardian tables: run `guardian db init` first"
                ) from e
            if self._namespace is None:
                raise NotInitialised("the database is not initialised: run `guardian db init`")
        return self._namespace

    def today(self) -> dt.date:
        return self.clock().astimezone(self.settings.zone).date()

    def now(self) -> dt.datetime:
        return self.clock()

    def patient_id(self, nhs_number: str) -> UUID:
        return make_patient_id(self.namespace, nhs_number)

    def get_patient(self, patient_id: UUID) -> Patient:
        try:
            return self.repository.get(patient_id)  # type: ignore[return-value]
        except AggregateNotFoundError:
            raise PatientNotFound("no such patient", field="patient") from None

    def load_patients(self, patient_ids: Iterable[UUID]) -> dict[UUID, Patient]:
        """Reconstruct many patients with one query per 500 (read models load in batches).

        A patient whose history holds an event this version cannot read (written by a newer
        version, say) is left out with a warning, so a read model keeps going.
        """
        ids = sorted(set(patient_ids))
        table = self.recorder.events_record_cls.__table__  # type: ignore[attr-defined]
        postgres = self.engine.dialect.name == "postgresql"
        patients: dict[UUID, Patient] = {}
        with self.engine.connect() as conn:
            cur = conn.connection.driver_connection.cursor()
            try:
                for start in range(0, len(ids), 500):
                    part = ids[start : start + 500]
                    values = [str(i) for i in part] if postgres else [i.bytes for i in part]
                    mark = "%s" if postgres else "?"
                    cur.execute(
                        f"SELECT originator_id, originator_version, topic, state FROM "
                        f"{table.name} WHERE originator_id IN ({', '.join([mark] * len(part))}) "
                        "ORDER BY originator_id, originator_version",
                        values,
                    )
                    unreadable: set[UUID] = set()
                    for originator, version, topic, state in cur.fetchall():
                        pid = _as_uuid(originator)
                        if pid in unreadable:
                            continue
                        try:
                            domain_event = self.mapper.to_domain_event(
                                StoredEvent(pid, version, topic, bytes(state))
                            )
                            patients[pid] = domain_event.mutate(patients.get(pid))
                        except Exception as e:  # e.g. an event from a newer version
                            log.warning("patient %s left out: event v%s (%s): %s",
                                        pid, version, topic, e)
                            unreadable.add(pid)
                            patients.pop(pid, None)
            finally:
                cur.close()
        return patients

    # ------------------------------------------------------------------ saving
    def index_rows(self, patient: Patient) -> list[dict[str, Any]]:
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

    def stage(self, patients: Iterable[Patient]) -> StagedWrite:
        """Collect the patients' new events as stored events, with their index rows."""
        patients = list(patients)
        events = [e for patient in patients for e in patient.collect_events()]
        return StagedWrite(
            stored=[self.mapper.to_stored_event(e) for e in events],
            index_rows=[row for p in patients for row in self.index_rows(p)] if events else [],
        )

    def write(self, staged: StagedWrite) -> int | None:
        """Write staged events and index rows in one transaction; return the last id.

        Inside `audited`, the audit entry of the action is written in that transaction too.
        """
        if not staged.stored:
            return None
        pending = _AUDIT.get()
        extra = [(audit_log, list(pending))] if pending else []
        ids = self.recorder.insert_events(staged.stored, index_rows=staged.index_rows,
                                          extra_rows=extra)
        if pending:
            pending.clear()  # written with these events
        return ids[-1] if ids else None

    @contextmanager
    def audited(self, entry: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """Record `entry` (a row of the audit log, `guardian.audit.entry`) with the action
        the block carries out: in the same transaction as the events it writes, so there is
        never an action without its entry; on its own when the action wrote nothing (a
        repeat); not at all when the block fails."""
        pending = [entry]
        token = _AUDIT.set(pending)
        try:
            yield pending  # a block that decides the action is not to be audited clears it
        finally:
            _AUDIT.reset(token)
        if pending:
            with self.engine.begin() as conn:
                conn.execute(audit_log.insert(), pending)

    def save_patients(self, patients: Sequence[Patient]) -> int | None:
        """Save the patients' new events and their index rows in one transaction.

        Goes straight to the event store (no snapshots or process hooks are in use), which
        keeps bulk imports fast. Returns the last notification id written, or None.
        """
        return self.write(self.stage(patients))

    def update_patient(self, patient_id: UUID, command: Callable[[Patient], None]) -> int | None:
        """Load, run one command, save; retry once if another writer got there first."""
        for attempt in (1, 2):
            patient = self.get_patient(patient_id)
            command(patient)
            # a stop or closure leaves its breaches behind at once (docs/rules.md §3)
            patient.settle_ended_pathways(self.settings.standards)
            try:
                return self.save_patients([patient])
            except IntegrityError:
                if attempt == 2:
                    raise ConcurrentChange(
                        "this patient was changed by someone else at the same time; "
                        "reload and try again"
                    ) from None
        return None  # pragma: no cover

    # ------------------------------------------------------------------ provider reports
    def lookup_index(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], IndexEntry]:
        """The index entries (patient, fingerprint, state) of these pathways, where known.

        One query per provider in the batch, on the primary key (provider, pathway id).
        """
        by_provider: dict[str, set[str]] = {}
        for provider, pathway_id in keys:
            by_provider.setdefault(provider, set()).add(pathway_id)
        found: dict[tuple[str, str], IndexEntry] = {}
        mark = self._mark
        for provider, ids in by_provider.items():
            sql = (
                "SELECT pathway_id, patient_id, fingerprint, state FROM pathway_index "
                f"WHERE provider = {mark} AND pathway_id"
            )
            for pathway_id, patient, digest, state in self._select_in(
                sql, sorted(ids), prefix=(provider,)
            ):
                found[(provider, pathway_id)] = IndexEntry(patient, digest, state)
        return found

    def known_patients(self, ids: Iterable[UUID]) -> set[UUID]:
        """Which of these patients already exist (their first event is in the store)."""
        unique = sorted(set(ids))
        if self.engine.dialect.name == "postgresql":
            values: list[Any] = [str(i) for i in unique]
        else:
            values = [i.bytes for i in unique]
        sql = "SELECT originator_id FROM guardian_events WHERE originator_version = 1 AND "
        rows = self._select_in(sql + "originator_id", values)
        return {r if isinstance(r, UUID) else _as_uuid(r) for (r,) in rows}

    @property
    def _mark(self) -> str:
        return "%s" if self.engine.dialect.name == "postgresql" else "?"

    def _select_in(
        self, sql: str, values: list[Any], page: int = 1000, prefix: tuple[Any, ...] = ()
    ) -> list[tuple[Any, ...]]:
        """Run `sql IN (…)` over pages of values with the driver's cursor (no ORM rows)."""
        if not values:
            return []
        out: list[tuple[Any, ...]] = []
        mark = self._mark
        with self.engine.connect() as conn:
            cur = conn.connection.driver_connection.cursor()
            try:
                for start in range(0, len(values), page):
                    part = values[start : start + page]
                    cur.execute(
                        f"{sql} IN ({', '.join([mark] * len(part))})", [*prefix, *part]
                    )
                    out.extend(cur.fetchall())
            finally:
                cur.close()
        return out

    def rebuild_pathway_index(self, batch: int = 500) -> int:
        """Rebuild the pathway index from the events alone (every patient replayed).

        Returns the number of pathways indexed. The index is written in the same transaction
        as events, so this is for recovery and for checking, not routine use.
        """
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
                patients = [self.get_patient(pid) for pid in ids[start : start + batch]]
                rows = [row for p in patients for row in self.index_rows(p)]
                with self.recorder.transaction(commit=True) as session:  # type: ignore[attr-defined]
                    upsert(session, pathway_index, rows, ("provider", "pathway_id"))
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(pathway_index)).scalar_one()

    def refresh_statistics(self) -> None:
        """ANALYZE the index after bulk writes (PostgreSQL), so lookups keep using its indexes.

        A table filled in one import has no planner statistics until autovacuum's next pass;
        until then PostgreSQL may scan it whole for every batch's lookup.
        """
        if self.engine.dialect.name == "postgresql":
            with self.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE pathway_index")

    def last_extract_dates(self) -> dict[str, dt.date]:
        with self.engine.connect() as conn:
            return dict(conn.execute(select(provider_extracts)).tuples().all())

    def apply_reports(
        self, reports: Sequence[ReferralReport], scope: frozenset[str] | None = None,
        on_decided: Callable[[list[ReportOutcome]], None] | None = None,
    ) -> list[ReportOutcome]:
        """Reconcile many provider reports and save them in one transaction.

        Shared by the PTL import and `POST /api/v1/referrals`. Unchanged reports (same
        fingerprint as last time) cost one index lookup and write nothing. `scope`: the
        practices the submitting user may act for (None: the provider's extract or an
        admin); see `prepare_reports`. `on_decided` is told the outcomes before anything
        is written (to describe the action in its audit entry, `audited`).
        """
        for attempt in (1, 2):
            batch = self.prepare_reports(reports, scope=scope)
            if on_decided is not None:
                on_decided(batch.outcomes)
            try:
                self.write(batch.staged)
                return batch.outcomes
            except IntegrityError:
                if attempt == 2:
                    raise ConcurrentChange(
                        "these patients were changed by another writer at the same time"
                    ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def prepare_reports(
        self,
        reports: Sequence[ReferralReport],
        recent: dict[UUID, Patient] | None = None,
        index: dict[tuple[str, str], IndexEntry] | None = None,
        scope: frozenset[str] | None = None,
    ) -> PreparedReports:
        """Decide what each report changes and stage the events, without writing.

        `recent` holds patients whose events are staged but possibly not yet committed (the
        importer writes one batch while it prepares the next); they are used as they are.

        `scope` (docs/access.md, "By pathway"): the practices a user submitting the reports
        may act for; None for the provider's extract and admins. A known pathway registered
        at a practice outside it is refused (`OutsideScope`); and the patient's own details
        change only when the scope takes in every open pathway of the patient, otherwise
        they are kept with the report's pathway.
        """
        self.namespace  # noqa: B018 - a clear error on an uninitialised database
        if index is None:
            index = self.lookup_index((r.provider, r.pathway_id) for r in reports)
        outcomes: list[ReportOutcome] = []
        todo: list[tuple[int, ReferralReport, UUID]] = []
        for i, report in enumerate(reports):
            pid = self.patient_id(report.nhs_number)
            row = index.get((report.provider, report.pathway_id))
            if row is not None and row.patient_id != pid.hex:
                outcome = ReportOutcome(
                    "rejected",
                    InvalidValue(
                        f"pathway {report.pathway_id} at {report.provider} is already known "
                        "under a different NHS number",
                        field="NHS_NUMBER",
                    ),
                )
            elif row is not None and row.unchanged_by(fingerprint(report.facts())):
                outcome = ReportOutcome("unchanged", patient_id=pid)
            else:
                outcome = ReportOutcome("created" if row is None else "updated", patient_id=pid)
                todo.append((i, report, pid))
            outcomes.append(outcome)
        recent = recent or {}
        known = self.known_patients(pid for _, _, pid in todo if pid not in recent)
        patients: dict[UUID, Patient] = {}
        for i, report, pid in todo:
            patient = patients.get(pid)
            if patient is None:
                patient = recent.get(pid)
                if patient is None:
                    if pid in known:
                        patient = self.get_patient(pid)
                    else:
                        patient = Patient.register(pid, report)
                patients[pid] = patient
            if scope is None:
                patient.reconcile(report)
                continue
            existing = patient.pathways.get((report.provider, report.pathway_id))
            if existing is not None and existing.practice_code not in scope:
                outcomes[i] = ReportOutcome("rejected", OutsideScope(
                    f"pathway {report.pathway_id} at {report.provider} is registered at a "
                    "practice outside the practices you may record referrals for",
                    field="PATIENT_PATHWAY_IDENTIFIER"))
                continue
            whole = all(p.practice_code in scope for p in patient.open_pathways()
                        if p.key != (report.provider, report.pathway_id))
            patient.reconcile(report, patient_details=whole)
        for patient in patients.values():
            patient.settle_ended_pathways(self.settings.standards)
        return PreparedReports(outcomes, patients, self.stage(patients.values()))

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

    def open_pathways_of(self, provider: str) -> list[tuple[str, UUID]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(pathway_index.c.pathway_id, pathway_index.c.patient_id).where(
                    pathway_index.c.provider == provider, pathway_index.c.state == "O"
                )
            )
            return [(pw, UUID(pid)) for pw, pid in rows]

    def mark_left_waiting_list(
        self, provider: str, pathways: Sequence[tuple[str, UUID]], on: dt.date
    ) -> int:
        """Full snapshot: open pathways the provider no longer lists → PathwayLeftWaitingList."""
        by_patient: dict[UUID, list[str]] = {}
        for pathway_id, pid in pathways:
            by_patient.setdefault(pid, []).append(pathway_id)
        for attempt in (1, 2, 3):
            patients = []
            for pid, ids in by_patient.items():
                patient = self.get_patient(pid)
                for pathway_id in ids:
                    patient.leave_waiting_list(provider, pathway_id, on)
                patients.append(patient)
            try:
                self.save_patients(patients)
                return len(pathways)
            except IntegrityError:  # a user or the API changed one of them meanwhile: reload
                if attempt == 3:
                    raise ConcurrentChange(
                        "patients of this snapshot kept being changed by other writers; "
                        "import the file again") from None
        raise AssertionError("unreachable")  # pragma: no cover

    # ------------------------------------------------------------------ care commands
    def require_workup_item(self, patient_id: UUID, provider: str, pathway_id: str,
                            item_id: str, description: str, requested_from: str,
                            on: dt.date | None = None) -> int | None:
        day = on or self.today()
        return self.update_patient(patient_id, lambda p: p.require_workup_item(
            provider, pathway_id, item_id, description, requested_from, day))

    def complete_workup_item(self, patient_id: UUID, provider: str, pathway_id: str,
                             item_id: str, by: str, on: dt.date | None = None) -> int | None:
        day = on or self.today()
        return self.update_patient(patient_id, lambda p: p.complete_workup_item(
            provider, pathway_id, item_id, day, by))

    def order_diagnostic(self, patient_id: UUID, provider: str, pathway_id: str,
                         test_id: str, test: str, on: dt.date | None = None) -> int | None:
        day = on or self.today()
        return self.update_patient(patient_id, lambda p: p.order_diagnostic(
            provider, pathway_id, test_id, test, day))

    def record_diagnostic_result(self, patient_id: UUID, provider: str, pathway_id: str,
                                 test_id: str, result: str,
                                 on: dt.date | None = None) -> int | None:
        day = on or self.today()
        return self.update_patient(patient_id, lambda p: p.record_diagnostic_result(
            provider, pathway_id, test_id, day, result))

    def communicate_diagnosis(self, patient_id: UUID, provider: str, pathway_id: str,
                              outcome: str, on: dt.date | None = None) -> int | None:
        day = on or self.today()
        return self.update_patient(patient_id, lambda p: p.communicate_diagnosis(
            provider, pathway_id, day, outcome))

    def stop_clock(self, patient_id: UUID, provider: str, pathway_id: str, reason_code: str,
                   on: dt.date | None = None) -> int | None:
        day = on or self.today()
        return self.update_patient(patient_id, lambda p: p.stop_clock(
            provider, pathway_id, day, reason_code))

    def close_pathway(self, patient_id: UUID, provider: str, pathway_id: str, reason: str,
                      on: dt.date | None = None) -> int | None:
        day = on or self.today()
        return self.update_patient(patient_id, lambda p: p.close_pathway(
            provider, pathway_id, day, reason))

    def assign_coordinator(self, patient_id: UUID, provider: str, pathway_id: str,
                           coordinator: str) -> int | None:
        return self.update_patient(patient_id, lambda p: p.assign_coordinator(
            provider, pathway_id, coordinator))

    def record_breach(self, patient_id: UUID, provider: str, pathway_id: str, standard: str,
                      subject: str, breach_on: dt.date) -> int | None:
        return self.update_patient(patient_id, lambda p: p.record_breach(
            provider, pathway_id, standard, subject, breach_on))

    def flag_deterioration(self, patient_id: UUID, flag_id: str, summary: str, source: str,
                           provider: str | None = None, pathway_id: str | None = None,
                           on: dt.date | None = None) -> int | None:
        day = on or self.today()
        return self.update_patient(patient_id, lambda p: p.flag_deterioration(
            flag_id, day, summary, source, provider, pathway_id))

    def review_deterioration(self, patient_id: UUID, flag_id: str, outcome: str,
                             on: dt.date | None = None) -> int | None:
        day = on or self.today()
        return self.update_patient(patient_id, lambda p: p.review_deterioration(
            flag_id, day, outcome))

    def log_contact(self, patient_id: UUID, contact_id: str, channel: str, summary: str,
                    by: str, on: dt.date | None = None, provider: str | None = None,
                    pathway_id: str | None = None) -> int | None:
        day = on or self.today()
        return self.update_patient(patient_id, lambda p: p.log_contact(
            contact_id, day, channel, summary, by, provider, pathway_id))

    def offer_support(self, patient_id: UUID, offer_id: str, kind: str, note: str = "",
                      on: dt.date | None = None, provider: str | None = None,
                      pathway_id: str | None = None) -> int | None:
        day = on or self.today()
        return self.update_patient(patient_id, lambda p: p.offer_support(
            offer_id, kind, day, note, provider, pathway_id))

    def receive_message(self, patient_id: UUID, provider: str, pathway_id: str,
                        message_id: str, party: str, body: str, sender: str,
                        at: dt.datetime | None = None) -> int | None:
        at = at or self.now()
        day = at.astimezone(self.settings.zone).date()
        return self.update_patient(patient_id, lambda p: p.receive_message(
            provider, pathway_id, message_id, party, at, day, body, sender))

    def send_message(self, patient_id: UUID, provider: str, pathway_id: str, message_id: str,
                     party: str, body: str, sender: str,
                     in_reply_to: str | None = None,
                     at: dt.datetime | None = None) -> int | None:
        at = at or self.now()
        day = at.astimezone(self.settings.zone).date()
        return self.update_patient(patient_id, lambda p: p.send_message(
            provider, pathway_id, message_id, party, at, day, body, sender, in_reply_to))

    def record_check_in_outcome(self, patient_id: UUID, provider: str, pathway_id: str,
                                outcome: str, by: str, note: str = "",
                                stop_reason: str | None = None,
                                on: dt.date | None = None) -> int | None:
        """A Waiting Well check-in's outcome (docs/rules.md §8; `guardian.domain.checkins`)."""
        day = on or self.today()
        return self.update_patient(patient_id, lambda p: p.record_check_in_outcome(
            provider, pathway_id, outcome, day, by, note, stop_reason))


def _index_state(p) -> str:
    if not p.is_open:
        return "S"
    return "L" if p.left_list_on is not None else "O"


def _as_uuid(value: Any) -> UUID:
    if isinstance(value, (bytes, memoryview)):
        return UUID(bytes=bytes(value))
    return UUID(str(value))
