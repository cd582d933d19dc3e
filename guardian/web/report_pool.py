"""Place-lead report computations, kept away from everyone else's requests
(docs/deployment.md "Reports beside the worklists").

A report reads a whole place's read-model rows and aggregates them: seconds of CPU on a large
store, in Python and in the database. Coordinators' worklists must not wait behind it. So:

- **Off the request threads.** Each `serve` worker computes reports in helper processes of
  its own (`GUARDIAN_REPORT_WORKERS`, default 2, started when first needed), at the lowest
  scheduling priority (nice 19): a report request holds a request thread
  (`GUARDIAN_WEB_THREADS`) only for its checks before and its audit and rendering after, and
  waits for its tables in the event loop; the computation competes neither for the request
  threads, nor for the worker's pooled connections (a helper has one connection of its own),
  nor for the worker's interpreter lock, and the operating system runs it only on CPU the
  requests leave free. (`GUARDIAN_REPORT_PROCESSES=0`: threads of the worker instead, for
  tests and small installations.)
- **At most `GUARDIAN_REPORT_SLOTS` at once per database** (default 1), whichever worker or
  host asks (`guardian.locks.report_slot`): further computations queue for a slot.
- **Identical requests share one computation** (single flight), and its result is kept
  (`TableCache`): a request for a report already being computed waits for that computation.
- **A bounded wait.** A request waits at most `GUARDIAN_REPORT_WAIT_SECONDS` (default 20)
  for its report; it is then answered "being prepared, try again" (`ReportBusy`, 503 with
  Retry-After) while the computation goes on and its result is kept for the retry. With more
  than `QUEUE_PER_WORKER` × workers computations waiting, a new one is refused at once.
- **A statement timeout.** Each computation runs in one read transaction with
  `SET LOCAL statement_timeout` (PostgreSQL; on SQLite a progress handler interrupts the
  query) of `GUARDIAN_REPORT_TIMEOUT_SECONDS` (default 60): a runaway query is stopped
  (`ReportTooSlow`) rather than holding a connection and a slot
  (guardian/projections/report_limits.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import (
    BrokenExecutor,
    Executor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
)
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError

from guardian.locks import report_slot
from guardian.projections.report_limits import backend_pid, time_limit, timed_out

log = logging.getLogger("guardian.web.reports")

QUEUE_PER_WORKER = 8  # computations waiting for a report worker, per worker, at most
RETRY_AFTER_SECONDS = 5
NICE = 19  # the helper processes' scheduling priority: the lowest


class ReportBusy(Exception):
    """The report is not ready within the wait (it is still being computed, or too many are
    waiting): ask again in a few seconds."""

    retry_after = RETRY_AFTER_SECONDS


class ReportTooSlow(Exception):
    """A report query ran past GUARDIAN_REPORT_TIMEOUT_SECONDS and was stopped."""


Job = Callable[..., Any]  # job(conn, *args): a module-level function (helpers import it)


class Computer:
    """Runs report jobs: each in one read transaction, holding a report slot of the database,
    under the statement timeout."""

    def __init__(self, engine: Engine, slots: int, timeout_seconds: float) -> None:
        self.engine, self.slots, self.timeout_seconds = engine, slots, timeout_seconds

    def compute(self, job: Job, args: tuple) -> Any:
        with (self.engine.connect() as conn, conn.begin(), report_slot(conn, self.slots),
              time_limit(conn, self.timeout_seconds)):
            pacer = Pacer(backend_pid(conn))
            event.listen(conn, "before_cursor_execute", pacer.rest)
            try:
                return job(conn, *args)
            except OperationalError as e:
                if timed_out(e):
                    raise ReportTooSlow(
                        f"a report query ran past {self.timeout_seconds:g} s") from None
                raise


class Pacer:
    """Lets a report give way to the requests. Before each of its queries: if work that is
    not niced (requests, the database answering them; not this report's own queries) kept
    more than BUSY_SHARE of the machine's CPUs busy since its last query, the report rests
    for as long as it has just worked (at most MAX_REST_SECONDS). On a busy machine a report
    then takes at most about half of a CPU, whatever else the scheduler does (a niced
    process still slows what runs beside it: shared caches, shared cores); on an idle one
    it never rests. Linux (/proc/stat); elsewhere it never rests."""

    def __init__(self, backend_pid: int | None = None) -> None:
        self.backend_pid = backend_pid
        self.at, self.cpu = time.monotonic(), self._others()
        self.rested = 0.0

    def rest(self, *_: Any) -> None:
        now, cpu = time.monotonic(), self._others()
        if cpu is not None and self.cpu is not None:
            busy, total = cpu[0] - self.cpu[0], cpu[1] - self.cpu[1]
            if total > 0 and busy / total > BUSY_SHARE:
                pause = min(now - self.at, MAX_REST_SECONDS)
                time.sleep(pause)
                self.rested += pause
        self.at, self.cpu = time.monotonic(), self._others()

    def _others(self) -> tuple[int, int] | None:
        """(CPU time of work that is not niced, less this report's database backend; all
        CPU time), in clock ticks since boot."""
        times = _cpu_times()
        if times is None:
            return None
        busy, total = times
        return busy - _process_ticks(self.backend_pid), total


BUSY_SHARE = 0.25  # other work keeping more of the CPUs busy than this: reports rest
MAX_REST_SECONDS = 0.5


def _cpu_times() -> tuple[int, int] | None:
    """(ticks not idle and not niced, all ticks) of the machine since boot; None off Linux."""
    try:
        with open("/proc/stat") as f:
            user, nice, system, idle, iowait, irq, softirq, steal = (
                int(v) for v in f.readline().split()[1:9])
    except (OSError, ValueError):
        return None
    busy = user + system + irq + softirq
    return busy, busy + nice + idle + iowait + steal


def _process_ticks(pid: int | None) -> int:
    """User + system ticks of a process on this machine (0 if it is not readable here)."""
    if pid is None:
        return 0
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, ValueError, IndexError):
        return 0


_HELPER: Computer | None = None  # in a helper process


def _start_helper(url: str, slots: int, timeout_seconds: float) -> None:
    """A helper process: the lowest priority, one connection of its own."""
    global _HELPER
    from guardian.store import prepare_engine

    with contextlib.suppress(OSError):
        os.nice(NICE - os.nice(0))
    options: dict[str, Any] = {}
    if url.startswith("postgresql"):
        options = {"pool_size": 1, "max_overflow": 0, "pool_pre_ping": True}
    engine = create_engine(url, **options)
    prepare_engine(engine)
    _HELPER = Computer(engine, slots, timeout_seconds)


def _compute_in_helper(job: Job, args: tuple) -> Any:
    assert _HELPER is not None
    return _HELPER.compute(job, args)


class ReportPool:
    """The report computations of one web worker process (see the module's docstring)."""

    def __init__(self, engine: Engine, workers: int = 2, wait_seconds: float = 20.0,
                 timeout_seconds: float = 60.0, slots: int = 1,
                 processes: bool = True) -> None:
        self.workers = max(1, workers)
        self.wait_seconds = wait_seconds
        self.processes = processes
        self._computer = Computer(engine, max(1, slots), timeout_seconds)
        self._executor = self._new_executor()
        self._running: dict[Hashable, Future] = {}
        # re-entrant: a computation that ends before its callback is added (a query stopped
        # at once) runs `_done` in `run`'s thread, which holds the lock
        self._lock = threading.RLock()

    def _new_executor(self) -> Executor:
        if not self.processes:
            return ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="report")
        c = self._computer
        return ProcessPoolExecutor(
            max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_helper,
            initargs=(c.engine.url.render_as_string(hide_password=False), c.slots,
                      c.timeout_seconds))

    def _submit(self, job: Job, args: tuple) -> Future:
        """Submit to the helpers; a pool broken by a helper that died (killed, out of
        memory) is replaced, so that one lost helper does not stop every later report."""
        for attempt in (1, 2):
            try:
                if self.processes:
                    return self._executor.submit(_compute_in_helper, job, args)
                return self._executor.submit(self._computer.compute, job, args)
            except BrokenExecutor:
                if attempt == 2:
                    raise
                log.warning("a report helper process died; starting new ones")
                self._executor.shutdown(wait=False, cancel_futures=True)
                self._executor = self._new_executor()
        raise AssertionError("unreachable")  # pragma: no cover

    async def run(self, key: Hashable, job: Job, *args: Any,
                  keep: Callable[[Any], None] | None = None) -> Any:
        """`job(conn, *args)` on a report worker, shared with any request already waiting
        for the same `key`; its result (also handed to `keep` once computed, whether anyone
        still waits for it or not), or ReportBusy after the wait, or ReportTooSlow."""
        with self._lock:
            future = self._running.get(key)
            if future is None:
                if len(self._running) >= QUEUE_PER_WORKER * self.workers:
                    raise ReportBusy("too many reports are being prepared")
                future = self._submit(job, args)
                self._running[key] = future
                future.add_done_callback(lambda f, k=key: self._done(k, f, keep))
        waiting = asyncio.wrap_future(future)
        try:  # shielded: a request that stops waiting leaves the computation running
            return await asyncio.wait_for(asyncio.shield(waiting), self.wait_seconds)
        except TimeoutError:
            raise ReportBusy("the report is still being prepared") from None

    def running(self) -> int:
        """Computations started or waiting for a worker (for tests and monitoring)."""
        with self._lock:
            return len(self._running)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _done(self, key: Hashable, future: Future, keep: Callable[[Any], None] | None
              ) -> None:
        with self._lock:
            if self._running.get(key) is future:
                del self._running[key]
        if keep is not None and not future.cancelled() and future.exception() is None:
            try:
                keep(future.result())
            except Exception:  # a result that cannot be kept is still returned
                log.exception("could not keep a computed report")


def pool_of(state: Any, engine: Engine, settings: Any) -> ReportPool:
    """The app's report pool, made on first use (`state`: the FastAPI app's state)."""
    pool = getattr(state, "report_pool", None)
    if pool is None:
        with _made:
            pool = getattr(state, "report_pool", None)
            if pool is None:
                pool = state.report_pool = ReportPool(
                    engine, settings.report_workers, settings.report_wait_seconds,
                    settings.report_timeout_seconds, settings.report_slots,
                    settings.report_processes)
    return pool


_made = threading.Lock()
