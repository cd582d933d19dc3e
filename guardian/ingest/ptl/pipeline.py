"""The second pass in one process: rows into reports batch by batch (`BatchImporter`), each
batch written by a writer thread while the next is prepared (`Pipeline`), one transaction a
batch, paced to a live follower by the caller's `Pacing`. A batch that keeps losing races
with other writers is applied again in halves (`in_halves`). Every committed batch stays
when a later one fails, and a rerun skips it (unchanged fingerprints).
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from eventsourcing.persistence import IntegrityError

from guardian.application import ConcurrentChange
from guardian.domain.report import ReferralReport
from guardian.ingest.ptl.columns import lookable
from guardian.ingest.ptl.memory import bulk_gc, peak_rss_mb
from guardian.ingest.ptl.pacing import BATCH_SIZE, Pacing
from guardian.ingest.ptl.parse import RecordParser
from guardian.ingest.ptl.results import ImportResult, RowError
from guardian.ingest.ptl.scan import records


@dataclass(frozen=True)
class Work:
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
    pacing: Pacing


def import_part(app, work: Work, part: int, parts: int) -> ImportResult:
    """Import the rows of one partition (all rows when parts == 1)."""
    with bulk_gc():
        return _import_rows(app, work, part, parts)


def _import_rows(app, work: Work, part: int, parts: int) -> ImportResult:
    result = ImportResult()
    importer = BatchImporter(app, work, RecordParser(work.as_of, work.practices), result)
    nhs_i = work.columns["NHS_NUMBER"]
    skip = work.skip_lines
    for line, values in records(work.path):
        if line in skip:
            continue
        if parts == 1 or _partition(values, nhs_i, parts) == part:
            importer.add(line, values)
    importer.finish()
    result.peak_rss_mb = peak_rss_mb()
    return result


def _partition(values: list[str], nhs_i: int, parts: int) -> int:
    """The same patient always lands in the same partition (ragged rows anywhere)."""
    raw = values[nhs_i] if nhs_i < len(values) else ""
    return zlib.crc32(raw.replace(" ", "").encode()) % parts


class BatchImporter:
    """Turns records into reports batch by batch and counts what happened to each row."""

    def __init__(self, app, info: Work, parser: RecordParser, result: ImportResult) -> None:
        self.app = app
        self.info = info
        self.parser = parser
        self.result = result
        self.pipeline = Pipeline(app, info.pacing)
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
        self.batch_size = self._batch_size()
        self.analyzed_at = 0  # accepted rows when statistics were last refreshed

    def _batch_size(self) -> int:
        """Smaller transactions while a live follower keeps the worklists current
        (docs/deployment.md)."""
        live = self.pipeline.pacer.live()
        return self.info.pacing.live_batch_size if live else BATCH_SIZE

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
            self.batch_size = self._batch_size()

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
            key for line, key in keys if (known is None or line in known) and lookable(*key)
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


class Pipeline:
    """Writes batch N on a background thread while the caller prepares batch N+1.

    The database (its own process on PostgreSQL, C code without the GIL on SQLite) then works
    while Python parses and reconciles. Patients of the batch in flight are handed to the next
    batch as they are; if a write fails on a concurrent change, that batch is applied again
    from the store and the next one re-prepared. Any other failure stops the import: every
    committed batch stays, and a rerun skips it (unchanged fingerprints).
    """

    def __init__(self, app, pacing: Pacing) -> None:
        self.app = app
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ptl-writer")
        self.pacer = pacing.pacer(app)
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
    try:
        done = apply(items)
        return done if isinstance(done, int) else 0
    except ConcurrentChange:
        if len(items) <= 1:
            raise
    half = len(items) // 2
    return in_halves(apply, items[:half]) + in_halves(apply, items[half:])
