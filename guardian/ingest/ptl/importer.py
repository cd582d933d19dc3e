"""`import_extract`: one waiting-list extract into the store, exactly as docs/formats.md
describes it. One import at a time per database (docs/deployment.md); the first pass
(`scan`) refuses a malformed file whole before anything is written; the second parses each
row into a `ReferralReport` and hands batches to the application, one transaction a batch,
in this process or split by patient across worker processes; then a full snapshot's missing
pathways leave the list, and the errors CSV is written.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path

from guardian.domain.errors import InvalidValue
from guardian.domain.identifiers import normalise_provider_code
from guardian.ingest.ptl.memory import bulk_gc
from guardian.ingest.ptl.pacing import BATCH_SIZE, Pacing
from guardian.ingest.ptl.pipeline import Work, import_part, in_halves
from guardian.ingest.ptl.results import (
    ImportResult,
    MalformedExtract,
    check_errors_path,
    default_errors_path,
    write_errors,
)
from guardian.ingest.ptl.scan import Scan, scan
from guardian.ingest.ptl.workers import WorkerPool
from guardian.locks import one_import_at_a_time
from guardian.orgs import all_practices

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
    app,  # GuardianApp
    path: Path,
    as_of: dt.date | None = None,
    full_snapshot: bool = False,
    errors_path: Path | None = None,
    practices: frozenset[str] | None = None,
    workers: int | None = None,
    *,
    pacing: Pacing,
) -> ImportResult:
    """Import a waiting-list extract. Raises MalformedExtract when the file is refused whole.
    Imports into one database run one at a time (`_one_at_a_time`; keyword `say`). `pacing`
    is the caller's: how the import keeps pace with a live follower (docs/deployment.md).

    Large files are split by patient (a hash of the NHS number) across `workers` processes
    (default: 2 on a machine with 2 or more cores), so no two processes ever touch the same
    Patient aggregate; each writes its own batches, one transaction per batch.
    """
    as_of = as_of or app.today()
    parts = workers if workers is not None else min(2, os.cpu_count() or 1)
    pool = WorkerPool(app.settings, parts)
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
        check_errors_path(errors_path or default_errors_path(path))
        if practices is None:
            practices = frozenset(all_practices(app.engine))
        default_errors = default_errors_path(path)
        errors_path = errors_path or default_errors
        unchanged = info.unchanged
        to_do = info.rows - len(unchanged)
        if workers is None:
            workers = parts if to_do >= PARALLEL_FROM_ROWS else 1
        work = Work(path, info.columns, info.width, info.duplicates, as_of, practices,
                    frozenset(unchanged), frozenset(info.known), pacing)
        if to_do == 0:
            result = ImportResult()  # every row unchanged: no second pass
        elif workers <= 1:
            result = import_part(app, work, 0, 1)
        else:
            result = pool.run(work)
    finally:
        pool.close()
    result.rows += len(unchanged)
    result.unchanged += len(unchanged)

    if full_snapshot:
        _mark_missing(app, info, as_of, result)
    app.record_extract_dates({p: as_of for p in info.providers if _is_code(p)})
    result.errors_file = write_errors(result.errors, errors_path)
    if result.errors_file is None and errors_path == default_errors:
        # An errors file left by an earlier import of this file would now mislead.
        errors_path.unlink(missing_ok=True)
    return result


def _mark_missing(app, info: Scan, as_of: dt.date, result: ImportResult) -> None:
    """A full snapshot: each open pathway of its providers that it does not list has left
    the waiting list (docs/formats.md), in batches that lose no race with other writers."""
    for provider, listed in (info.listed or {}).items():
        missing = [
            (pw, pid) for pw, pid in app.open_pathways_of(provider) if pw not in listed
        ]
        for start in range(0, len(missing), BATCH_SIZE):
            result.left_waiting_list += in_halves(
                lambda part, p=provider: app.mark_left_waiting_list(p, part, as_of),
                missing[start : start + BATCH_SIZE],
            )


def _is_code(provider: str) -> bool:
    with contextlib.suppress(InvalidValue):
        return bool(normalise_provider_code(provider))
    return False


def _refuse_older_extract(app, info: Scan, as_of: dt.date, path: Path) -> None:
    last = app.last_extract_dates()
    for provider in sorted(info.providers):
        if provider in last and as_of < last[provider]:
            raise MalformedExtract(
                f"{path}: the extract is as of {as_of.isoformat()}, older than the last one "
                f"applied for provider {provider} ({last[provider].isoformat()}); refused whole"
            )
