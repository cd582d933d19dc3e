"""Worker processes for a large extract: one per partition of the patients (a hash of the NHS
number), so no two processes ever touch the same Patient aggregate. They are spawned early
(while the scan still reads) and only when needed; each builds its own `GuardianApp` and its
own pacer from the import's `Pacing`, writes its own batches, and their results are merged.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from guardian.application import GuardianApp
from guardian.ingest.ptl.memory import peak_rss_mb
from guardian.ingest.ptl.pipeline import Work, import_part
from guardian.ingest.ptl.results import ImportResult

_WORKER_APP = None  # the GuardianApp of a worker process


def _start_worker(settings) -> None:
    global _WORKER_APP
    _WORKER_APP = GuardianApp(settings)


def _worker_ready() -> bool:
    return _WORKER_APP is not None


def _import_worker(work: Work, part: int, parts: int) -> ImportResult:
    return import_part(_WORKER_APP, work, part, parts)


class WorkerPool:
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

    def run(self, work: Work) -> ImportResult:
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
        merged.peak_rss_mb = peak_rss_mb()
        return merged

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
