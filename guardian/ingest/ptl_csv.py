"""The waiting-list extract (PTL CSV) importer, exactly as docs/formats.md describes it.

Two passes over the file, streaming: the first checks the file is a well-formed extract
(UTF-8 text, a header with every required column) and finds pathway ids that appear twice;
nothing is written unless it passes. The second parses each row into a `ReferralReport` and
hands batches to `GuardianApp.apply_reports`, one transaction per batch, so a crash loses no
committed batch and a rerun skips what is already in (unchanged fingerprints).
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import gc
import multiprocessing
import os
import re
import resource
import sys
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from eventsourcing.persistence import IntegrityError

from guardian.domain import codes, text
from guardian.domain.errors import InvalidValue
from guardian.domain.identifiers import (
    normalise_nhs_number,
    normalise_practice_code,
    normalise_provider_code,
    normalise_ubrn,
)
from guardian.domain.report import REPORTED_FACTS, ReferralReport, fingerprint
from guardian.locks import one_import_at_a_time
from guardian.projections.pacing import LIVE_BATCH_SIZE, Pacer

REQUIRED = (
    "NHS_NUMBER",
    "PERSON_BIRTH_DATE",
    "PATIENT_PATHWAY_IDENTIFIER",
    "ORGANISATION_IDENTIFIER_CODE_OF_PROVIDER",
    "GENERAL_MEDICAL_PRACTICE_CODE",
    "REFERRAL_REQUEST_RECEIVED_DATE",
    "ACTIVITY_TREATMENT_FUNCTION_CODE",
    "PRIORITY_TYPE_CODE",
)
OPTIONAL = (
    "REFERRAL_TO_TREATMENT_PERIOD_START_DATE",
    "REFERRAL_TO_TREATMENT_PERIOD_END_DATE",
    "REFERRAL_TO_TREATMENT_PERIOD_STATUS",
    "UBRN",
    "OUTPATIENT_FUTURE_APPOINTMENT_DATE",
    "TCI_DATE",
    "DATE_LAST_ATTENDED",
    "LAST_DNA_DATE",
    "PROCEDURE_PRIORITY_CODE",
    "DATE_OF_LAST_PRIORITY_REVIEW",
    "WAITING_LIST_TYPE",
    "LOCAL_PATIENT_IDENTIFIER",
    "PATIENT_GIVEN_NAME",
    "PATIENT_FAMILY_NAME",
    "PATIENT_PHONE",
    "PATIENT_EMAIL",
)
COLUMNS = REQUIRED + OPTIONAL
BATCH_SIZE = 1000
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# The kind of text each column holds (guardian/domain/text.py: its length limit); every
# other column holds an identifier, a code or a date.
COLUMN_KINDS = {
    "LOCAL_PATIENT_IDENTIFIER": "local-id",
    "PATIENT_GIVEN_NAME": "name",
    "PATIENT_FAMILY_NAME": "name",
    "PATIENT_EMAIL": "email",
}


def field_problem(column: str, value: str) -> str | None:
    """The one text rule (no control character, no lone surrogate, the kind's length limit)
    applied to a trimmed value of `column`: shared by the importer and the API's model."""
    return text.problem(value.strip(), COLUMN_KINDS.get(column, "identifier"))


class MalformedExtract(Exception):
    """The file is not a waiting-list extract; it was refused whole and nothing was written."""


@dataclass(frozen=True)
class RowError:
    line: int
    column: str | None
    reason: str


@dataclass
class ImportResult:
    rows: int = 0
    accepted: int = 0
    unchanged: int = 0
    rejected: int = 0
    left_waiting_list: int = 0
    errors_file: str | None = None
    errors: list[RowError] = field(default_factory=list)
    peak_rss_mb: float = 0.0
    worker_peak_rss_mb: list[float] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "rows": self.rows,
            "accepted": self.accepted,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "errors_file": self.errors_file,
            "left_waiting_list": self.left_waiting_list,
        }


# ---------------------------------------------------------------------------- one record


def parse_date(value: str, column: str) -> dt.date:
    v = value.strip()
    if not _DATE.match(v):
        raise InvalidValue(f"{column} {value!r} is not a date in the form YYYY-MM-DD", column)
    try:
        return dt.date.fromisoformat(v)
    except ValueError:
        raise InvalidValue(f"{column} {value!r} is not a real date", column) from None


def _date_parser(column: str) -> Callable[[str], dt.date]:
    return lambda v: parse_date(v, column)


def _practice(practices: frozenset[str] | set[str] | dict[str, object]) -> Callable[[str], str]:
    def parse(value: str) -> str:
        code = normalise_practice_code(value)
        if code not in practices:
            raise InvalidValue(f"practice {code} is not in the organisation reference")
        return code

    return parse


# (attribute, column, parser factory, required, memoise). Memoised columns have few
# distinct values (dates, codes), so their parse is cached per import.
_FIELDS: tuple[tuple[str, str, Callable[..., Callable[[str], object]] | None, bool, bool], ...] = (
    ("nhs_number", "NHS_NUMBER", None, True, False),
    ("birth_date", "PERSON_BIRTH_DATE", _date_parser, True, True),
    ("pathway_id", "PATIENT_PATHWAY_IDENTIFIER", None, True, False),
    ("provider", "ORGANISATION_IDENTIFIER_CODE_OF_PROVIDER", None, True, True),
    ("practice_code", "GENERAL_MEDICAL_PRACTICE_CODE", None, True, True),
    ("received_on", "REFERRAL_REQUEST_RECEIVED_DATE", _date_parser, True, True),
    ("waiting_list_type", "WAITING_LIST_TYPE", None, False, True),
    ("clock_start", "REFERRAL_TO_TREATMENT_PERIOD_START_DATE", _date_parser, False, True),
    ("clock_end", "REFERRAL_TO_TREATMENT_PERIOD_END_DATE", _date_parser, False, True),
    ("rtt_status", "REFERRAL_TO_TREATMENT_PERIOD_STATUS", None, False, True),
    ("treatment_function", "ACTIVITY_TREATMENT_FUNCTION_CODE", None, True, True),
    ("priority", "PRIORITY_TYPE_CODE", None, True, True),
    ("ubrn", "UBRN", None, False, False),
    ("appointment_on", "OUTPATIENT_FUTURE_APPOINTMENT_DATE", _date_parser, False, True),
    ("tci_on", "TCI_DATE", _date_parser, False, True),
    ("last_attended_on", "DATE_LAST_ATTENDED", _date_parser, False, True),
    ("last_dna_on", "LAST_DNA_DATE", _date_parser, False, True),
    ("procedure_priority", "PROCEDURE_PRIORITY_CODE", None, False, True),
    ("priority_reviewed_on", "DATE_OF_LAST_PRIORITY_REVIEW", _date_parser, False, True),
    ("local_patient_id", "LOCAL_PATIENT_IDENTIFIER", None, False, False),
    ("given_name", "PATIENT_GIVEN_NAME", None, False, False),
    ("family_name", "PATIENT_FAMILY_NAME", None, False, False),
    ("phone", "PATIENT_PHONE", None, False, False),
    ("email", "PATIENT_EMAIL", None, False, False),
)
_FIXED_PARSERS: dict[str, Callable[[str], object]] = {
    "nhs_number": normalise_nhs_number,
    "pathway_id": lambda v: _pathway_id(v),
    "provider": normalise_provider_code,
    "waiting_list_type": codes.parse_waiting_list_type,
    "rtt_status": codes.parse_rtt_status,
    "treatment_function": codes.parse_treatment_function,
    "priority": codes.parse_priority,
    "ubrn": normalise_ubrn,
    "procedure_priority": codes.parse_procedure_priority,
    "local_patient_id": str.strip,
    "given_name": str.strip,
    "family_name": str.strip,
    "phone": lambda v: _phone(v),
    "email": lambda v: _email(v),
}


class RecordParser:
    """Parses records (column → text) into reports; one per import or API request.

    Shared by the CSV importer and `POST /api/v1/referrals`.
    """

    def __init__(
        self, as_of: dt.date, practices: frozenset[str] | set[str] | dict[str, object]
    ) -> None:
        self.as_of = as_of
        self.plan = []
        for attr, column, factory, required, memo in _FIELDS:
            if attr == "practice_code":
                parse = _practice(practices)
            elif factory is not None:
                parse = factory(column)
            else:
                parse = _FIXED_PARSERS[attr]
            self.plan.append(
                (attr, column, _checked(column, parse), required, {} if memo else None))

    def parse(
        self, get: Callable[[str], str | None]
    ) -> tuple[ReferralReport | None, list[tuple[str | None, str]]]:
        problems: list[tuple[str | None, str]] = []
        values: dict[str, object] = {}
        for attr, column, parse, required, memo in self.plan:
            raw = get(column)
            if not raw or raw.isspace():
                if required or (attr == "clock_start" and values["waiting_list_type"] in _RTT):
                    problems.append((column, f"{column} is required"))
                values[attr] = "ORTT" if attr == "waiting_list_type" else None
                continue
            if memo is not None:
                hit = memo.get(raw)
                if hit is None:
                    try:
                        hit = (parse(raw), None)
                    except InvalidValue as e:
                        hit = (None, e.message)
                    if len(memo) < 100_000:
                        memo[raw] = hit
                value, message = hit
                if message is not None:
                    problems.append((column, message))
                values[attr] = value
            else:
                try:
                    values[attr] = parse(raw)
                except InvalidValue as e:
                    problems.append((column, e.message))
                    values[attr] = None
        _check_dates(values, self.as_of, problems)
        if problems:
            return None, problems
        return ReferralReport(as_of=self.as_of, **values), []  # type: ignore[arg-type]


_RTT = frozenset({"ORTT", "IRTT"})


def parse_record(
    get: Callable[[str], str | None],
    as_of: dt.date,
    practices: frozenset[str] | set[str] | dict[str, object],
) -> tuple[ReferralReport | None, list[tuple[str | None, str]]]:
    """Turn one record (column → text) into a report, or the list of (column, reason) problems."""
    return RecordParser(as_of, practices).parse(get)


def _check_dates(
    v: dict[str, object], as_of: dt.date, problems: list[tuple[str | None, str]]
) -> None:
    for key, column, label in (
        ("birth_date", "PERSON_BIRTH_DATE", "birth date"),
        ("received_on", "REFERRAL_REQUEST_RECEIVED_DATE", "received date"),
        ("clock_start", "REFERRAL_TO_TREATMENT_PERIOD_START_DATE", "clock start"),
        ("clock_end", "REFERRAL_TO_TREATMENT_PERIOD_END_DATE", "end date"),
        ("last_attended_on", "DATE_LAST_ATTENDED", "last attended date"),
        ("last_dna_on", "LAST_DNA_DATE", "last DNA date"),
        ("priority_reviewed_on", "DATE_OF_LAST_PRIORITY_REVIEW", "priority review date"),
    ):
        d = v.get(key)
        if isinstance(d, dt.date) and d > as_of:
            problems.append(
                (column, f"{label} {d.isoformat()} is after the extract's as-of date "
                         f"{as_of.isoformat()}")
            )
    start, end = v.get("clock_start"), v.get("clock_end")
    if isinstance(start, dt.date) and isinstance(end, dt.date) and end < start:
        problems.append(
            (
                "REFERRAL_TO_TREATMENT_PERIOD_END_DATE",
                f"end date {end.isoformat()} is before the clock start {start.isoformat()}",
            )
        )
    born, received = v.get("birth_date"), v.get("received_on")
    if isinstance(born, dt.date) and isinstance(received, dt.date) and received < born:
        problems.append(
            ("REFERRAL_REQUEST_RECEIVED_DATE", "the referral was received before the birth date")
        )


def _checked(column: str, parse: Callable[[str], object]) -> Callable[[str], object]:
    """`parse`, after the one text rule (docs/formats.md: no control characters)."""

    def run(value: str) -> object:
        message = field_problem(column, value)
        if message is not None:
            v = value.strip()
            shown = repr(v[:40]) + ("…" if len(v) > 40 else "")
            raise InvalidValue(f"{column} {shown} {message}", column)
        return parse(value)

    return run


def _pathway_id(value: str) -> str:
    v = value.strip()  # its length and control characters: field_problem
    if not v.isprintable():
        raise InvalidValue(f"pathway id {v!r} is not printable text",
                           "PATIENT_PATHWAY_IDENTIFIER")
    return v


def _phone(value: str) -> str:
    v = value.strip()
    if not re.fullmatch(r"\+?[0-9 ()-]{6,20}", v):
        raise InvalidValue(f"phone {value!r} is not a telephone number")
    return v


def _email(value: str) -> str:
    v = value.strip()
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", v) or len(v) > 254:
        raise InvalidValue(f"e-mail {value!r} is not an e-mail address")
    return v


# ---------------------------------------------------------------------------- the file


@dataclass
class _Scan:
    columns: dict[str, int]
    width: int
    duplicates: dict[tuple[str, str], list[int]]
    providers: set[str]
    rows: int
    unchanged: set[int]  # lines whose raw facts match the index: nothing to do
    known: set[int]  # other lines whose pathway was in the index during the scan
    listed: dict[str, set[str]] | None  # provider → pathway ids (for a full snapshot)


class _RawDigest:
    """A digest of a row's raw text in the order of the reported facts.

    It equals the stored fingerprint when the row is unchanged and already in canonical
    form (as a provider's system writes it), so such a row needs no parsing at all. Any
    other row is parsed and compared on its parsed facts: the shortcut never changes an
    outcome, it only skips work.
    """

    def __init__(self, columns: dict[str, int]) -> None:
        column_of = {attr: column for attr, column, *_ in _FIELDS}
        self.positions = [columns.get(column_of[f]) for f in REPORTED_FACTS]
        self.practice_slot = REPORTED_FACTS.index("practice_code")

    def __call__(self, values: list[str]) -> str:
        raw = [values[i].strip() if i is not None else "" for i in self.positions]
        raw[self.practice_slot] = raw[self.practice_slot].upper()
        return fingerprint(tuple(raw))


def _open_text(path: Path):
    return open(path, encoding="utf-8-sig", newline="", errors="strict")


def _records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """Yield (line where the record starts, fields), skipping blank lines."""
    with _open_text(path) as f:
        reader = csv.reader(f, strict=True)
        next(reader, None)  # header
        previous = reader.line_num
        for values in reader:
            start = previous + 1
            previous = reader.line_num
            if not values or (len(values) == 1 and not values[0].strip()):
                continue
            yield start, values


def scan(
    path: Path,
    lookup=None,
    keep_listed: bool = False,
    on_work: Callable[[], None] | None = None,
    overlap_lookups: bool = False,
) -> _Scan:
    """First pass: refuse a malformed file whole; find duplicate pathway keys.

    With `lookup` (GuardianApp.lookup_index) it also finds the rows that are unchanged since
    the last import, batch by batch, keeping only their line numbers: memory stays small.
    `on_work()` is called once, as soon as a batch shows rows that need work.
    """
    if not path.exists():
        raise MalformedExtract(f"{path}: no such file")
    if path.is_dir():
        raise MalformedExtract(f"{path}: is a directory, not a CSV file")
    try:
        with open(path, "rb") as fb:
            head = fb.read(4096)
    except OSError as e:
        raise MalformedExtract(f"{path}: cannot read the file ({e.strerror})") from None
    if head.startswith(b"\x1f\x8b"):
        raise MalformedExtract(f"{path}: is a gzip archive, not a CSV text file; unzip it first")
    if b"\x00" in head:
        raise MalformedExtract(f"{path}: is binary, not UTF-8 CSV text")
    triage: _Triage | None = None
    try:
        with _open_text(path) as f:
            header = next(csv.reader(f), None)
        if not header or not any(h.strip() for h in header):
            raise MalformedExtract(f"{path}: has no header row")
        names = [h.strip().upper() for h in header]
        twice = sorted(n for n, k in Counter(names).items() if n and k > 1)
        if twice:  # which of the two would be meant cannot be known (docs/formats.md)
            raise MalformedExtract(
                f"{path}: the header names column(s) more than once (names are matched "
                f"without regard to case): {', '.join(twice)}; refused whole"
            )
        missing = [c for c in REQUIRED if c not in names]
        if missing:
            raise MalformedExtract(f"{path}: required column(s) missing: {', '.join(missing)}")
        columns = {c: names.index(c) for c in COLUMNS if c in names}
        pid_i = columns["PATIENT_PATHWAY_IDENTIFIER"]
        prov_i = columns["ORGANISATION_IDENTIFIER_CODE_OF_PROVIDER"]
        first_line: dict[str, int] = {}  # "provider\x1fpathway id" → first line
        duplicates: dict[tuple[str, str], list[int]] = {}
        providers: set[str] = set()
        listed: dict[str, set[str]] | None = {} if keep_listed else None
        digest = _RawDigest(columns)
        width = len(names)
        rows = 0
        if lookup is not None:
            triage = _Triage(lookup, digest, on_work, threaded=overlap_lookups)
        pending: list[tuple[int, tuple[str, str], list[str]]] = []
        for line, values in _records(path):
            rows += 1
            if len(values) <= max(pid_i, prov_i):
                continue
            provider, pathway_id = values[prov_i].strip().upper(), values[pid_i].strip()
            seen = first_line.setdefault(f"{provider}\x1f{pathway_id}", line)
            if seen != line:
                duplicates.setdefault((provider, pathway_id), [seen]).append(line)
            providers.add(provider)
            if listed is not None:
                listed.setdefault(provider, set()).add(pathway_id)
            if triage is not None and len(values) == width and _lookable(provider, pathway_id):
                pending.append((line, (provider, pathway_id), values))
                if len(pending) >= BATCH_SIZE:
                    triage.submit(pending)
                    pending = []
        unchanged, known = triage.finish(pending) if triage is not None else (set(), set())
        for lines in duplicates.values():
            unchanged.difference_update(lines)
            known.update(lines)
    except UnicodeDecodeError as e:
        raise MalformedExtract(
            f"{path}: is not UTF-8 text (undecodable byte at offset {e.start})"
        ) from None
    except csv.Error as e:
        raise MalformedExtract(f"{path}: is not a readable CSV file ({e})") from None
    finally:
        if triage is not None:
            triage.close()
    return _Scan(columns, len(names), duplicates, providers, rows, unchanged, known, listed)


class _Triage:
    """Finds unchanged rows batch by batch on a helper thread, while the scan reads on.

    The lookups wait on the database (without the GIL), so they overlap with parsing.
    """

    def __init__(
        self,
        lookup,
        digest: _RawDigest,
        on_work: Callable[[], None] | None,
        threaded: bool,
    ):
        self.lookup = lookup
        self.digest = digest
        self.on_work = on_work
        # Worth it only when a lookup waits on a server; SQLite answers in-process.
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ptl-triage")
        self.threaded = threaded
        self.inflight: list[tuple[Future, int]] = []
        self.unchanged: set[int] = set()
        self.known: set[int] = set()

    def submit(self, pending: list[tuple[int, tuple[str, str], list[str]]]) -> None:
        if self.threaded:
            future = self.thread.submit(_unchanged, self.lookup, pending, self.digest)
        else:
            future = Future()
            future.set_result(_unchanged(self.lookup, pending, self.digest))
        self.inflight.append((future, len(pending)))
        self._collect(keep=2)

    def finish(
        self, pending: list[tuple[int, tuple[str, str], list[str]]]
    ) -> tuple[set[int], set[int]]:
        if pending:
            self.submit(pending)
        self._collect(keep=0)
        return self.unchanged, self.known

    def close(self) -> None:
        self.thread.shutdown(wait=True, cancel_futures=True)

    def _collect(self, keep: int) -> None:
        while self.inflight and (len(self.inflight) > keep or self.inflight[0][0].done()):
            future, n = self.inflight.pop(0)
            same, known = future.result()
            self.unchanged.update(same)
            self.known.update(known)
            if self.on_work is not None and len(same) < n:
                self.on_work()
                self.on_work = None


def _unchanged(
    lookup, pending: list[tuple[int, tuple[str, str], list[str]]], digest: _RawDigest
) -> tuple[list[int], list[int]]:
    """(unchanged lines, other known lines) of a batch; digests only for known keys."""
    index = lookup(key for _, key, _ in pending)
    same: list[int] = []
    known: list[int] = []
    for line, key, values in pending:
        entry = index.get(key)
        if entry is not None:
            (same if entry.unchanged_by(digest(values)) else known).append(line)
    return same, known


PARALLEL_FROM_ROWS = 20_000  # smaller files are imported in one process


def _one_at_a_time(import_file: Callable[..., ImportResult]) -> Callable[..., ImportResult]:
    """One import at a time per database: a second one waits for the first to finish, from
    reading the file to marking a full snapshot's missing pathways, so both end as if run
    one after the other (docs/deployment.md). The keyword `say` is told that it waits and
    when it proceeds (default: standard error)."""

    @functools.wraps(import_file)
    def locked(app, *args, say: Callable[[str], None] | None = None, **kwargs) -> ImportResult:
        wait = app.settings.import_wait_seconds
        with one_import_at_a_time(app.engine, wait, say or _tell):
            return import_file(app, *args, **kwargs)

    return locked


def _tell(message: str) -> None:
    print(f"guardian: {message}", file=sys.stderr, flush=True)


@_one_at_a_time
def import_extract(
    app,  # GuardianApp (kept untyped here to avoid an import cycle at module load)
    path: Path,
    as_of: dt.date | None = None,
    full_snapshot: bool = False,
    errors_path: Path | None = None,
    practices: frozenset[str] | None = None,
    workers: int | None = None,
) -> ImportResult:
    """Import a waiting-list extract. Raises MalformedExtract when the file is refused whole.
    Imports into one database run one at a time (`_one_at_a_time`; keyword `say`).

    Large files are split by patient (a hash of the NHS number) across `workers` processes
    (default: 2 on a machine with 2 or more cores), so no two processes ever touch the same
    Patient aggregate; each writes its own batches, one transaction per batch.
    """
    from guardian.orgs import all_practices

    as_of = as_of or app.today()
    parts = workers if workers is not None else min(2, os.cpu_count() or 1)
    pool = _WorkerPool(app.settings, parts)
    size = path.stat().st_size if path.is_file() else 0

    def on_work() -> None:
        # Start the workers (they take a second to import) while the scan goes on, when the
        # file looks big enough to split (a PTL row is 150 bytes or more).
        if (workers or 0) > 1 or (workers is None and size >= PARALLEL_FROM_ROWS * 150):
            pool.start()

    try:
        with bulk_gc():
            info = scan(
                path,
                lookup=app.lookup_index,
                keep_listed=full_snapshot,
                on_work=on_work,
                overlap_lookups=app.engine.dialect.name == "postgresql",
            )
        _refuse_older_extract(app, info, as_of, path)
        check_errors_path(errors_path or path.with_name(path.name + ".errors.csv"))
        if practices is None:
            practices = frozenset(all_practices(app.engine))
        default_errors = path.with_name(path.name + ".errors.csv")
        errors_path = errors_path or default_errors
        unchanged = info.unchanged
        to_do = info.rows - len(unchanged)
        if workers is None:
            workers = parts if to_do >= PARALLEL_FROM_ROWS else 1
        work = _Work(path, info.columns, info.width, info.duplicates, as_of, practices,
                     frozenset(unchanged), frozenset(info.known))
        if to_do == 0:
            result = ImportResult()  # every row unchanged: no second pass
        elif workers <= 1:
            result = _import_part(app, work, 0, 1)
        else:
            result = pool.run(work)
    finally:
        pool.close()
    result.rows += len(unchanged)
    result.unchanged += len(unchanged)

    if full_snapshot:
        for provider, listed in (info.listed or {}).items():
            missing = [
                (pw, pid) for pw, pid in app.open_pathways_of(provider) if pw not in listed
            ]
            for start in range(0, len(missing), BATCH_SIZE):
                result.left_waiting_list += in_halves(
                    lambda part, p=provider: app.mark_left_waiting_list(p, part, as_of),
                    missing[start : start + BATCH_SIZE],
                )
    app.record_extract_dates({p: as_of for p in info.providers if _is_code(p)})
    result.errors_file = _write_errors(result.errors, errors_path)
    if result.errors_file is None and errors_path == default_errors:
        # An errors file left by an earlier import of this file would now mislead.
        errors_path.unlink(missing_ok=True)
    return result


@dataclass(frozen=True)
class _Work:
    """What a process needs to import its share of a file (small enough to pickle)."""

    path: Path
    columns: dict[str, int]
    width: int
    duplicates: dict[tuple[str, str], list[int]]
    as_of: dt.date
    practices: frozenset[str]
    skip_lines: frozenset[int]  # already known to be unchanged
    # Lines whose pathway was known at the scan: the others are looked up only if a write
    # shows that someone else created them since (None: look every line up).
    known_lines: frozenset[int] | None


@contextmanager
def bulk_gc() -> Iterator[None]:
    """Collect garbage less often during a bulk load.

    An import allocates millions of short-lived objects; with the default thresholds the
    cyclic collector ran often enough to cost about a fifth of the import's time (measured:
    11.6 s → 9.0 s for 50,000 rows). Objects alive before the load are frozen out of it.
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, 20, 1000)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _import_part(app, work: _Work, part: int, parts: int) -> ImportResult:
    """Import the rows of one partition (all rows when parts == 1)."""
    with bulk_gc():
        return _import_rows(app, work, part, parts)


def _import_rows(app, work: _Work, part: int, parts: int) -> ImportResult:
    result = ImportResult()
    importer = _BatchImporter(app, work, RecordParser(work.as_of, work.practices), result)
    nhs_i = work.columns["NHS_NUMBER"]
    skip = work.skip_lines
    for line, values in _records(work.path):
        if line in skip:
            continue
        if parts == 1 or _partition(values, nhs_i, parts) == part:
            importer.add(line, values)
    importer.finish()
    result.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def _partition(values: list[str], nhs_i: int, parts: int) -> int:
    """The same patient always lands in the same partition (ragged rows anywhere)."""
    raw = values[nhs_i] if nhs_i < len(values) else ""
    return zlib.crc32(raw.replace(" ", "").encode()) % parts


_WORKER_APP = None  # the GuardianApp of a worker process


def _start_worker(settings) -> None:
    global _WORKER_APP
    from guardian.bootstrap import build_app

    _WORKER_APP = build_app(settings)


def _worker_ready() -> bool:
    return _WORKER_APP is not None


def _import_worker(work: _Work, part: int, parts: int) -> ImportResult:
    return _import_part(_WORKER_APP, work, part, parts)


class _WorkerPool:
    """Worker processes, one per partition, started early and only when needed."""

    def __init__(self, settings, parts: int) -> None:
        self.settings = settings
        self.parts = parts
        self.pool: ProcessPoolExecutor | None = None

    def start(self) -> None:
        if self.pool is not None or self.parts < 2:
            return
        self.pool = ProcessPoolExecutor(
            max_workers=self.parts,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(self.settings,),
        )
        for _ in range(self.parts):
            self.pool.submit(_worker_ready)

    def run(self, work: _Work) -> ImportResult:
        """Import every partition; every committed batch stays if one worker fails."""
        self.start()
        assert self.pool is not None
        futures = [
            self.pool.submit(_import_worker, work, k, self.parts) for k in range(self.parts)
        ]
        results = [f.result() for f in futures]
        merged = ImportResult()
        for r in results:
            merged.rows += r.rows
            merged.accepted += r.accepted
            merged.unchanged += r.unchanged
            merged.rejected += r.rejected
            merged.errors.extend(r.errors)
            merged.worker_peak_rss_mb.append(r.peak_rss_mb)
        merged.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return merged

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None


class _BatchImporter:
    """Turns records into reports batch by batch and counts what happened to each row."""

    def __init__(self, app, info: _Work, parser: RecordParser, result: ImportResult) -> None:
        self.app = app
        self.info = info
        self.parser = parser
        self.result = result
        self.pipeline = _Pipeline(app)
        self.duplicate_lines = {
            line: lines for lines in info.duplicates.values() for line in lines
        }
        cols = info.columns
        self.cols = cols
        self.key_positions = (
            cols["ORGANISATION_IDENTIFIER_CODE_OF_PROVIDER"],
            cols["PATIENT_PATHWAY_IDENTIFIER"],
        )
        self.pending: list[tuple[int, list[str]]] = []
        # Smaller transactions while a live follower keeps the worklists current (pacing.py)
        self.batch_size = LIVE_BATCH_SIZE if self.pipeline.pacer.live() else BATCH_SIZE
        self.analyzed_at = 0  # accepted rows when statistics were last refreshed

    def add(self, line: int, values: list[str]) -> None:
        result = self.result
        result.rows += 1
        if len(values) != self.info.width:
            self._reject(line, None, f"row has {len(values)} fields; the header has "
                                     f"{self.info.width}")
            return
        if line in self.duplicate_lines:
            others = ", ".join(str(n) for n in self.duplicate_lines[line] if n != line)
            pathway = values[self.cols["PATIENT_PATHWAY_IDENTIFIER"]].strip()
            self._reject(
                line,
                "PATIENT_PATHWAY_IDENTIFIER",
                f"pathway id {pathway!r} appears more than once in the file (also line {others})",
            )
            return
        self.pending.append((line, values))
        if len(self.pending) >= self.batch_size:
            self._flush()
            self.batch_size = LIVE_BATCH_SIZE if self.pipeline.pacer.live() else BATCH_SIZE

    def finish(self) -> None:
        if self.pending:
            self._flush()
        self.pipeline.finish()
        if self.result.accepted > self.analyzed_at:
            self.app.refresh_statistics()

    def _reject(self, line: int, column: str | None, reason: str) -> None:
        self.result.rejected += 1
        self.result.errors.append(RowError(line, column, reason))

    def _flush(self) -> None:
        prov_i, pid_i = self.key_positions
        records = self.pending
        self.pending = []
        known = self.info.known_lines
        keys = ((line, (v[prov_i].strip().upper(), v[pid_i].strip())) for line, v in records)
        index = self.app.lookup_index(
            key for line, key in keys if (known is None or line in known) and _lookable(*key)
        )
        reports: list[ReferralReport] = []
        lines: list[int] = []
        cols = self.cols
        for line, values in records:
            report, problems = self.parser.parse(
                lambda c, v=values: v[cols[c]] if c in cols else None
            )
            if report is None:
                self.result.rejected += 1
                self.result.errors.extend(RowError(line, col, reason) for col, reason in problems)
                continue
            reports.append(report)
            lines.append(line)
        if not reports:
            return
        for line, outcome in zip(lines, self.pipeline.submit(reports, index), strict=True):
            if outcome.result == "unchanged":
                self.result.unchanged += 1
            elif outcome.result == "rejected":
                err = outcome.error
                self._reject(line, err.field if err else None, err.message if err else "")
            else:
                self.result.accepted += 1
        if self.result.accepted >= 2 * self.analyzed_at + 10 * BATCH_SIZE:
            self.pipeline.settle()  # statistics must see the rows just written
            self.app.refresh_statistics()
            self.analyzed_at = self.result.accepted


class _Pipeline:
    """Writes batch N on a background thread while the caller prepares batch N+1.

    The database (its own process on PostgreSQL, C code without the GIL on SQLite) then works
    while Python parses and reconciles. Patients of the batch in flight are handed to the next
    batch as they are; if a write fails on a concurrent change, that batch is applied again
    from the store and the next one re-prepared. Any other failure stops the import: every
    committed batch stays, and a rerun skips it (unchanged fingerprints).
    """

    def __init__(self, app) -> None:
        self.app = app
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ptl-writer")
        self.pacer = Pacer(app)
        self.pending: Future | None = None
        self.pending_reports: list[ReferralReport] = []
        self.in_flight: dict = {}

    def submit(self, reports: list[ReferralReport], index=None):
        prepared = self.app.prepare_reports(reports, recent=self.in_flight, index=index)
        if not self._settle():
            prepared = self.app.prepare_reports(reports)
        self.pending = self.writer.submit(self._paced_write, prepared.staged)
        self.pending_reports = reports
        self.in_flight = prepared.patients
        return prepared.outcomes

    def _paced_write(self, staged) -> None:
        self.pacer.wait()  # a live follower first projects what is committed
        self.app.write(staged)

    def settle(self) -> None:
        self._settle()

    def _settle(self) -> bool:
        """Wait for the write in flight. False if it had to be redone (concurrent change)."""
        if self.pending is None:
            return True
        try:
            self.pending.result()
            return True
        except IntegrityError:
            in_halves(self.app.apply_reports, self.pending_reports)
            return False
        finally:
            self.pending = None
            self.in_flight = {}

    def finish(self) -> None:
        try:
            self._settle()
        finally:
            self.writer.shutdown(wait=True)


def in_halves(apply: Callable[[list], object], items: list) -> int:
    """`apply(items)`; if it keeps losing races with other writers (a coordinator or the API
    changing the same patients: ConcurrentChange), each half again, down to one item, so
    that a patient someone keeps changing is retried on its own, not a whole batch with it.
    Returns the sum of what `apply` returned, where it returned numbers."""
    from guardian.application import ConcurrentChange

    try:
        done = apply(items)
        return done if isinstance(done, int) else 0
    except ConcurrentChange:
        if len(items) <= 1:
            raise
    half = len(items) // 2
    return in_halves(apply, items[:half]) + in_halves(apply, items[half:])


def _lookable(provider: str, pathway_id: str) -> bool:
    """Whether a raw key may be looked up at all: a NUL cannot even be sent to PostgreSQL
    (the row is rejected when parsed, naming the column)."""
    return (field_problem("ORGANISATION_IDENTIFIER_CODE_OF_PROVIDER", provider) is None
            and field_problem("PATIENT_PATHWAY_IDENTIFIER", pathway_id) is None)


def _is_code(provider: str) -> bool:
    try:
        normalise_provider_code(provider)
    except InvalidValue:
        return False
    return True


def _refuse_older_extract(app, info: _Scan, as_of: dt.date, path: Path) -> None:
    last = app.last_extract_dates()
    for provider in sorted(info.providers):
        if provider in last and as_of < last[provider]:
            raise MalformedExtract(
                f"{path}: the extract is as of {as_of.isoformat()}, older than the last one "
                f"applied for provider {provider} ({last[provider].isoformat()}); refused whole"
            )


def check_errors_path(path: Path) -> None:
    """Refuse the import before anything is written when its errors CSV could not be
    written at the end (docs/cli.md): a directory, a missing folder, no permission."""
    if path.is_dir():
        raise MalformedExtract(f"{path}: the errors file is a directory; give a file path "
                               "with --errors")
    probe = path.with_name(path.name + ".tmp")  # what _write_errors writes first
    try:
        with open(probe, "w", encoding="utf-8"):
            pass
        probe.unlink()
    except OSError as e:
        raise MalformedExtract(
            f"{path}: the errors file cannot be written ({e.strerror or e}); give a writable "
            "path with --errors; nothing was imported"
        ) from None


def _write_errors(errors: list[RowError], path: Path) -> str | None:
    if not errors:
        return None
    errors.sort(key=lambda e: e.line)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["line", "column", "reason"])
        for e in errors:
            w.writerow([e.line, e.column or "", e.reason])
    os.replace(tmp, path)
    return str(path)
