"""GuardianApp: the use cases. Each loads patients, runs domain commands, and saves the events.

Persistence is a patient repository's (`guardian.store`: the database's `PatientRepository`,
or `InMemoryPatientRepository` in unit tests); the rules are the domain's. Commands are
idempotent (the aggregate ignores a repeat), take their dates from the caller or the
injected clock, and retry on a concurrency conflict before giving up clearly
(`ConcurrentChange`). An action's audit entry commits with its events (`audited`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from guardian.config import Settings
from guardian.domain.errors import DomainError, InvalidValue
from guardian.domain.identifiers import patient_id as make_patient_id
from guardian.domain.patient import Patient
from guardian.domain.report import ReferralReport, fingerprint
from guardian.store import (
    BasePatientRepository,
    IndexEntry,
    PatientNotFound,
    PatientRepository,
    StagedWrite,
)
from guardian.use_cases import patient_command

__all__ = [
    "Clock", "ConcurrentChange", "GuardianApp", "IndexEntry", "NotInitialised", "OutsideScope",
    "PatientNotFound", "PreparedReports", "ReportOutcome", "StagedWrite", "system_clock",
]

Clock = Callable[[], dt.datetime]
T = TypeVar("T")
# The audit entry of the action under way (`GuardianApp.audited`), written with its events.
_AUDIT: ContextVar[list[dict[str, Any]] | None] = ContextVar("guardian_audit", default=None)


def system_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class NotInitialised(RuntimeError):
    """The database has no Guardian tables yet."""


class ConcurrentChange(DomainError):
    """Someone else changed the patient at the same time, twice in a row."""


class OutsideScope(InvalidValue):
    """A report about a pathway registered outside the submitting user's scope."""


@dataclass(frozen=True)
class ReportOutcome:
    result: str  # "created", "updated", "unchanged" or "rejected"
    error: DomainError | None = None
    patient_id: UUID | None = None


@dataclass
class PreparedReports:
    outcomes: list[ReportOutcome]
    patients: dict[UUID, Patient]
    staged: StagedWrite


def _retried(attempts: int, conflict: str, attempt: Callable[[], T]) -> T:
    """Run `attempt` (load, change, save) until no other writer got there first, at most
    `attempts` times; then `ConcurrentChange` with `conflict` as its message."""
    for n in range(1, attempts + 1):
        try:
            return attempt()
        except IntegrityError:
            if n == attempts:
                raise ConcurrentChange(conflict) from None
    raise AssertionError("unreachable")  # pragma: no cover


class GuardianApp:
    """The use cases, over a patient repository (the database's unless one is given)."""

    def __init__(self, settings: Settings, clock: Clock = system_clock,
                 patients: BasePatientRepository | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self._namespace: UUID | None = None
        self.patients = patients if patients is not None else PatientRepository.open(
            settings.database_url, settings.web_threads)

    # ------------------------------------------------------------------ infrastructure
    # The event store, for the read side and tools (the database's repository only).
    engine = property(lambda self: self.patients.engine)
    recorder = property(lambda self: self.patients.recorder)
    events = property(lambda self: self.patients.events)
    mapper = property(lambda self: self.patients.mapper)
    repository = property(lambda self: self.patients)

    def close(self) -> None:
        self.patients.close()

    def __enter__(self) -> GuardianApp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(AttributeError):
            self.close()

    @property
    def namespace(self) -> UUID:
        if self._namespace is None:
            try:
                self._namespace = self.patients.namespace()
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

    # ------------------------------------------------------------------ loading
    def get_patient(self, patient_id: UUID) -> Patient:
        return self.patients.get(patient_id)

    def load_patients(self, patient_ids: Iterable[UUID]) -> dict[UUID, Patient]:
        """Many patients at once (read models load in batches); one whose history this
        version cannot read is left out with a warning, so a read model keeps going."""
        return self.patients.get_many(patient_ids)

    def known_patients(self, ids: Iterable[UUID]) -> set[UUID]:
        """Which of these patients already exist (their first event is in the store)."""
        return self.patients.known_ids(ids)

    def lookup_index(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], IndexEntry]:
        """The index entries (patient, fingerprint, state) of these pathways, where known."""
        return self.patients.lookup_index(keys)

    def open_pathways_of(self, provider: str) -> list[tuple[str, UUID]]:
        return self.patients.open_pathways_of(provider)

    def last_extract_dates(self) -> dict[str, dt.date]:
        return self.patients.last_extract_dates()

    # ------------------------------------------------------------------ saving
    def stage(self, patients: Iterable[Patient]) -> StagedWrite:
        """Collect the patients' new events as stored events, with their index rows."""
        return self.patients.stage(patients)

    def write(self, staged: StagedWrite) -> int | None:
        """Write staged events and index rows in one transaction; return the last id.

        Inside `audited`, the audit entry of the action is written in that transaction too.
        """
        pending = _AUDIT.get()
        last = self.patients.save(staged, audit_rows=list(pending or ()))
        if pending and staged.stored:
            pending.clear()  # written with these events
        return last

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
            self.patients.record_audit(pending)

    def save_patients(self, patients: Sequence[Patient]) -> int | None:
        """Save the patients' new events and their index rows in one transaction.

        Goes straight to the event store (no snapshots or process hooks are in use), which
        keeps bulk imports fast. Returns the last notification id written, or None.
        """
        return self.write(self.stage(patients))

    def update_patient(self, patient_id: UUID, command: Callable[[Patient], None]) -> int | None:
        """Load, run one command, save; retry once if another writer got there first."""

        def attempt() -> int | None:
            patient = self.get_patient(patient_id)
            command(patient)
            # a stop or closure leaves its breaches behind at once (docs/rules.md §3)
            patient.settle_ended_pathways(self.settings.standards)
            return self.save_patients([patient])

        return _retried(2, "this patient was changed by someone else at the same time; "
                           "reload and try again", attempt)

    def rebuild_pathway_index(self, batch: int = 500) -> int:
        """Rebuild the pathway index from the events alone (every patient replayed).

        Returns the number of pathways indexed. The index is written in the same transaction
        as events, so this is for recovery and for checking, not routine use.
        """
        return self.patients.rebuild_index(batch)

    def refresh_statistics(self) -> None:
        """ANALYZE the index after bulk writes (PostgreSQL), so lookups keep using its indexes."""
        self.patients.refresh_statistics()

    # ------------------------------------------------------------------ provider reports
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

        def attempt() -> list[ReportOutcome]:
            batch = self.prepare_reports(reports, scope=scope)
            if on_decided is not None:
                on_decided(batch.outcomes)
            self.write(batch.staged)
            return batch.outcomes

        return _retried(2, "these patients were changed by another writer at the same time",
                        attempt)

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
        outcomes = [self._triage(report, index) for report in reports]
        todo = [i for i, o in enumerate(outcomes) if o.result in ("created", "updated")]
        patients = self._patients_for(
            [(reports[i], outcomes[i].patient_id) for i in todo], recent or {})
        for i in todo:
            patient = patients[outcomes[i].patient_id]  # type: ignore[index]
            rejected = _reconcile(patient, reports[i], scope)
            if rejected is not None:
                outcomes[i] = ReportOutcome("rejected", rejected)
        for patient in patients.values():
            patient.settle_ended_pathways(self.settings.standards)
        return PreparedReports(outcomes, patients, self.stage(patients.values()))

    def _triage(self, report: ReferralReport, index: dict[tuple[str, str], IndexEntry]
                ) -> ReportOutcome:
        """What a report does, from the pathway's index entry alone: creates or updates a
        pathway, changes nothing, or is refused (its pathway is another patient's)."""
        pid = self.patient_id(report.nhs_number)
        row = index.get((report.provider, report.pathway_id))
        if row is not None and row.patient_id != pid.hex:
            return ReportOutcome("rejected", InvalidValue(
                f"pathway {report.pathway_id} at {report.provider} is already known "
                "under a different NHS number", field="NHS_NUMBER"))
        if row is not None and row.unchanged_by(fingerprint(report.facts())):
            return ReportOutcome("unchanged", patient_id=pid)
        return ReportOutcome("created" if row is None else "updated", patient_id=pid)

    def _patients_for(self, todo: list[tuple[ReferralReport, UUID | None]],
                      recent: dict[UUID, Patient]) -> dict[UUID, Patient]:
        """The patient of each report: a recent one as it is, a known one loaded, else one
        registered from the report (the first report of that patient in the batch)."""
        known = self.known_patients(pid for _, pid in todo if pid not in recent)  # type: ignore[misc]
        patients: dict[UUID, Patient] = {}
        for report, pid in todo:
            assert pid is not None
            if pid in patients:
                continue
            if pid in recent:
                patients[pid] = recent[pid]
            elif pid in known:
                patients[pid] = self.get_patient(pid)
            else:
                patients[pid] = Patient.register(pid, report)
        return patients

    def record_extract_dates(self, as_of_by_provider: dict[str, dt.date]) -> None:
        self.patients.record_extract_dates(as_of_by_provider)

    def mark_left_waiting_list(
        self, provider: str, pathways: Sequence[tuple[str, UUID]], on: dt.date
    ) -> int:
        """Full snapshot: open pathways the provider no longer lists → PathwayLeftWaitingList."""
        by_patient: dict[UUID, list[str]] = {}
        for pathway_id, pid in pathways:
            by_patient.setdefault(pid, []).append(pathway_id)

        def attempt() -> int:  # a user or the API changed one of them meanwhile: reload
            patients = []
            for pid, ids in by_patient.items():
                patient = self.get_patient(pid)
                for pathway_id in ids:
                    patient.leave_waiting_list(provider, pathway_id, on)
                patients.append(patient)
            self.save_patients(patients)
            return len(pathways)

        return _retried(3, "patients of this snapshot kept being changed by other writers; "
                           "import the file again", attempt)

    # ------------------------------------------------------------------ care commands
    # Each runs the Patient command of its name (`patient_command`); `on` is today unless
    # given. The signatures are the use cases' (the web pages, the demo and tests call them).
    @patient_command
    def require_workup_item(self, patient_id: UUID, provider: str, pathway_id: str,
                            item_id: str, description: str, requested_from: str,
                            on: dt.date | None = None) -> int | None:
        """A piece of workup (a test, a letter) the pathway needs before treatment."""

    @patient_command
    def complete_workup_item(self, patient_id: UUID, provider: str, pathway_id: str,
                             item_id: str, by: str, on: dt.date | None = None) -> int | None:
        """A workup item done."""

    @patient_command
    def order_diagnostic(self, patient_id: UUID, provider: str, pathway_id: str,
                         test_id: str, test: str, on: dt.date | None = None) -> int | None:
        """A diagnostic test ordered."""

    @patient_command
    def record_diagnostic_result(self, patient_id: UUID, provider: str, pathway_id: str,
                                 test_id: str, result: str,
                                 on: dt.date | None = None) -> int | None:
        """An ordered test's result."""

    @patient_command
    def release_result(self, patient_id: UUID, provider: str, pathway_id: str, test_id: str,
                       by: str, on: dt.date | None = None) -> int | None:
        """A test's result released for the patient to see."""

    @patient_command
    def communicate_diagnosis(self, patient_id: UUID, provider: str, pathway_id: str,
                              outcome: str, on: dt.date | None = None) -> int | None:
        """The diagnosis told to the patient."""

    @patient_command
    def stop_clock(self, patient_id: UUID, provider: str, pathway_id: str, reason_code: str,
                   on: dt.date | None = None) -> int | None:
        """The pathway's RTT clock stopped (docs/rules.md)."""

    @patient_command
    def close_pathway(self, patient_id: UUID, provider: str, pathway_id: str, reason: str,
                      on: dt.date | None = None) -> int | None:
        """The pathway closed."""

    @patient_command
    def assign_coordinator(self, patient_id: UUID, provider: str, pathway_id: str,
                           coordinator: str) -> int | None:
        """The coordinator who looks after the pathway."""

    @patient_command
    def record_breach(self, patient_id: UUID, provider: str, pathway_id: str, standard: str,
                      subject: str, breach_on: dt.date) -> int | None:
        """A standard's wait breached."""

    @patient_command
    def see_news(self, patient_id: UUID, pathways: list[tuple[str, str]], whole: bool,
                 by: str) -> int | None:
        """A coordinator opened the patient: what was new on these pathways is seen."""

    @patient_command
    def flag_deterioration(self, patient_id: UUID, flag_id: str, summary: str, source: str,
                           provider: str | None = None, pathway_id: str | None = None,
                           on: dt.date | None = None) -> int | None:
        """A deterioration raised for clinical review."""

    @patient_command
    def review_deterioration(self, patient_id: UUID, flag_id: str, outcome: str,
                             on: dt.date | None = None) -> int | None:
        """A deterioration flag reviewed."""

    @patient_command
    def log_contact(self, patient_id: UUID, contact_id: str, channel: str, summary: str,
                    by: str, on: dt.date | None = None, provider: str | None = None,
                    pathway_id: str | None = None) -> int | None:
        """A contact with the patient."""

    @patient_command
    def record_contact_preference(self, patient_id: UUID, preference: str, by: str,
                                  on: dt.date | None = None) -> int | None:
        """How the patient wants Guardian to write to them."""

    @patient_command
    def offer_support(self, patient_id: UUID, offer_id: str, kind: str, note: str = "",
                      on: dt.date | None = None, provider: str | None = None,
                      pathway_id: str | None = None) -> int | None:
        """Support offered to the patient while they wait."""

    @patient_command
    def agree_care_plan(self, patient_id: UUID, provider: str, pathway_id: str,
                        self_care: list[str], call_if_worse: str, by: str, note: str = "",
                        on: dt.date | None = None) -> int | None:
        """The plan agreed with the patient while they wait (docs/rules.md)."""

    @patient_command
    def receive_message(self, patient_id: UUID, provider: str, pathway_id: str,
                        message_id: str, party: str, body: str, sender: str,
                        at: dt.datetime | None = None) -> int | None:
        """A message from a party to the pathway, received `at` (default now)."""

    @patient_command
    def send_message(self, patient_id: UUID, provider: str, pathway_id: str, message_id: str,
                     party: str, body: str, sender: str,
                     in_reply_to: str | None = None,
                     at: dt.datetime | None = None) -> int | None:
        """A message Guardian sends, `at` (default now)."""

    @patient_command
    def record_reply(self, patient_id: UUID, provider: str, pathway_id: str, message_id: str,
                     party: str, body: str, sender: str, in_reply_to: str | None = None,
                     received_on: dt.date | None = None,
                     at: dt.datetime | None = None) -> int | None:
        """A party's reply to Guardian, recorded by a coordinator (`sender`) `at` (now)."""

    @patient_command
    def mark_message_answered(self, patient_id: UUID, provider: str, pathway_id: str,
                              message_id: str, by: str, on: dt.date | None = None) -> int | None:
        """A received message marked answered without writing back."""

    @patient_command
    def record_check_in_outcome(self, patient_id: UUID, provider: str, pathway_id: str,
                                outcome: str, by: str, note: str = "",
                                stop_reason: str | None = None,
                                on: dt.date | None = None) -> int | None:
        """A Waiting Well check-in's outcome (docs/rules.md §8; `guardian.domain.checkins`)."""


def _reconcile(patient: Patient, report: ReferralReport,
               scope: frozenset[str] | None) -> OutsideScope | None:
    """Apply a report to its patient within `scope` (see `prepare_reports`); the error
    when its pathway is registered at a practice outside the scope."""
    if scope is None:
        patient.reconcile(report)
        return None
    key = (report.provider, report.pathway_id)
    existing = patient.pathways.get(key)
    if existing is not None and existing.practice_code not in scope:
        return OutsideScope(
            f"pathway {report.pathway_id} at {report.provider} is registered at a "
            "practice outside the practices you may record referrals for",
            field="PATIENT_PATHWAY_IDENTIFIER")
    whole = all(p.practice_code in scope for p in patient.open_pathways() if p.key != key)
    patient.reconcile(report, patient_details=whole)
    return None
