"""The first pass over an extract (docs/formats.md "The file"): refuse a malformed file whole
before anything is written (not UTF-8 CSV text, no header, a column named twice, a required
column missing), find the pathway ids that appear twice, and, with the store's index, the
rows that are unchanged since the last import, batch by batch on a lookup thread while the
reading goes on, keeping only line numbers so that memory stays small.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from guardian.domain.report import REPORTED_FACTS, fingerprint
from guardian.ingest.ptl.columns import COLUMN_OF, COLUMNS, REQUIRED, lookable
from guardian.ingest.ptl.pacing import BATCH_SIZE
from guardian.ingest.ptl.results import MalformedExtract

Pending = list[tuple[int, tuple[str, str], list[str]]]  # (line, key, fields) to look up


@dataclass
class Scan:
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
        self.positions = [columns.get(COLUMN_OF[f]) for f in REPORTED_FACTS]
        self.practice_slot = REPORTED_FACTS.index("practice_code")

    def __call__(self, values: list[str]) -> str:
        raw = [values[i].strip() if i is not None else "" for i in self.positions]
        raw[self.practice_slot] = raw[self.practice_slot].upper()
        return fingerprint(tuple(raw))


def _open_text(path: Path):
    return open(path, encoding="utf-8-sig", newline="", errors="strict")


def records(path: Path) -> Iterator[tuple[int, list[str]]]:
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


def _refuse_unreadable(path: Path) -> None:
    """Refuse what is not a file of text at all, from its first bytes."""
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


def _header(path: Path) -> list[str]:
    """The header's column names (trimmed, upper case), refused unless it has them all."""
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
    return names


def scan(
    path: Path,
    lookup=None,
    keep_listed: bool = False,
    on_work: Callable[[], None] | None = None,
    overlap_lookups: bool = False,
) -> Scan:
    """First pass: refuse a malformed file whole; find duplicate pathway keys.

    With `lookup` (GuardianApp.lookup_index) it also finds the rows that are unchanged since
    the last import, batch by batch, keeping only their line numbers: memory stays small.
    `on_work()` is called once, as soon as a batch shows rows that need work.
    """
    _refuse_unreadable(path)
    triage: _Triage | None = None
    try:
        names = _header(path)
        columns = {c: names.index(c) for c in COLUMNS if c in names}
        pid_i = columns["PATIENT_PATHWAY_IDENTIFIER"]
        prov_i = columns["ORGANISATION_IDENTIFIER_CODE_OF_PROVIDER"]
        first_line: dict[str, int] = {}  # "provider\x1fpathway id" → first line
        duplicates: dict[tuple[str, str], list[int]] = {}
        providers: set[str] = set()
        listed: dict[str, set[str]] | None = {} if keep_listed else None
        width = len(names)
        rows = 0
        if lookup is not None:
            triage = _Triage(lookup, _RawDigest(columns), on_work, threaded=overlap_lookups)
        pending: Pending = []
        for line, values in records(path):
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
            if triage is not None and len(values) == width and lookable(provider, pathway_id):
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
    return Scan(columns, width, duplicates, providers, rows, unchanged, known, listed)


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

    def submit(self, pending: Pending) -> None:
        if self.threaded:
            future = self.thread.submit(_unchanged, self.lookup, pending, self.digest)
        else:
            future = Future()
            future.set_result(_unchanged(self.lookup, pending, self.digest))
        self.inflight.append((future, len(pending)))
        self._collect(keep=2)

    def finish(self, pending: Pending) -> tuple[set[int], set[int]]:
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


def _unchanged(lookup, pending: Pending, digest: _RawDigest) -> tuple[list[int], list[int]]:
    """(unchanged lines, other known lines) of a batch; digests only for known keys."""
    index = lookup(key for _, key, _ in pending)
    same: list[int] = []
    known: list[int] = []
    for line, key, values in pending:
        entry = index.get(key)
        if entry is not None:
            (same if entry.unchanged_by(digest(values)) else known).append(line)
    return same, known
