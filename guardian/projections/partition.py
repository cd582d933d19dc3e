"""Projecting by patient across processes: a rebuild, or a large catch-up, shared out.

Every read model is per patient (`readmodel.py`): a patient's rows are rebuilt from the
whole Patient whenever one of its events that matter to the model arrives, and an event a
model skips changes none of its rows (tests/projections/test_readmodel.py). So the rows
a run over the log up to a position `head` leaves are those of each patient that has an
event the model reads in (`after`, `head`], built from the patient as it is now, and each
patient is loaded once, not once per batch that touches it. A worker process takes one
share of the patients, a range of patient ids (ids are name-based UUIDs, SHA-1 digests, so
the ranges hold about as many patients each), and writes their rows; the runner sets the
positions once every worker has finished (docs/deployment.md, "The projector"):

- Rebuild: the workers write into the tables built aside (created without their secondary
  indexes; `create_aside` and `index_aside` build those after the load, in parallel); the
  runner swaps them in and sets every position to `head` in one transaction. A worker that
  fails or is killed leaves the live read models as they were.
- Catch-up of a large backlog (PostgreSQL): the workers replace their patients' rows in the
  live tables while the runner holds the positions locked, so no other runner writes a
  batch meanwhile; rows ahead of their position are harmless (the next batch rebuilds the
  same patients from the same events).
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import time
import traceback
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from sqlalchemy import Connection, Engine, Table, delete, text
from sqlalchemy.schema import CreateIndex, CreateTable

from guardian.orgs import all_practices
from guardian.projections.readmodel import Changes, ReadModel
from guardian.store import EVENTS_TABLE, as_uuid, bulk_insert

log = logging.getLogger("guardian.projections")

CHUNK = 2000  # patients loaded, and written in one transaction, at a time by a worker
INDEX_MEMORY = "256MB"  # for each index built aside: sorted in memory, not on disk
_SPACE = 1 << 128  # patient ids, as integers


class PartitionFailed(RuntimeError):
    """A worker process failed or was killed: nothing it was part of was swapped in or
    moved a position."""


def replace_rows(conn: Connection, tables: Sequence[Table], changes: Changes) -> None:
    """Write a read model's changes in the caller's transaction."""
    for table in tables:
        for start in range(0, len(changes.patients), 500):
            chunk = changes.patients[start : start + 500]
            conn.execute(delete(table).where(table.c.patient_id.in_(chunk)))
    for table, rows in zip(tables, changes.rows, strict=True):
        bulk_insert(conn, table, rows)


@dataclass(frozen=True)
class Share:
    """One worker's share: the application to open (its class and settings), the read
    models with the position each starts after, the tables' suffix ("" for the live
    tables, which are then replaced patient by patient; else empty tables built aside),
    the position to project up to, and which range of patient ids (`part` of `parts`)."""

    app_class: type
    settings: Any
    models: tuple[tuple[ReadModel, int], ...]
    suffix: str
    head: int
    part: int
    parts: int


def bounds(part: int, parts: int) -> tuple[UUID, UUID | None]:
    """The patient ids of share `part` of `parts`: from the first, up to (not with) the
    second (None: to the end)."""
    high = (part + 1) * _SPACE // parts
    return UUID(int=part * _SPACE // parts), UUID(int=high) if high < _SPACE else None


def _in_range(engine: Engine, share: Share) -> tuple[str, list[Any]]:
    """The SQL condition (and its parameters) of the events of the share's patients."""
    postgres = engine.dialect.name == "postgresql"
    mark = "%s" if postgres else "?"
    low, high = bounds(share.part, share.parts)
    key = (lambda u: str(u)) if postgres else (lambda u: u.bytes)
    if high is None:
        return f"originator_id >= {mark}", [key(low)]
    return f"originator_id >= {mark} AND originator_id < {mark}", [key(low), key(high)]


def members(app: Any, share: Share) -> dict[UUID, set[int]]:
    """The patients of the share with an event in (its position, head] that a read model
    reads, and which read models (by their index in `share.models`)."""
    engine: Engine = app.engine
    mark = "%s" if engine.dialect.name == "postgresql" else "?"
    where, params = _in_range(engine, share)
    after = min(position for _, position in share.models)
    sql = (f"SELECT originator_id, topic, MAX(id) FROM {EVENTS_TABLE} "
           f"WHERE id > {mark} AND id <= {mark} AND {where} GROUP BY originator_id, topic")
    params = [after, share.head, *params]
    wanted: dict[UUID, set[int]] = {}
    with engine.connect() as conn:
        cur = conn.connection.driver_connection.cursor()
        try:
            cur.execute(sql, params)
            rows = cur.fetchall()
        finally:
            cur.close()
    for originator, topic, last in rows:
        models = {n for n, (model, position) in enumerate(share.models)
                  if last > position and model.reads(topic)}
        if models:
            wanted.setdefault(as_uuid(originator), set()).update(models)
    return wanted


def project_share(app: Any, share: Share) -> int:
    """Write the rows of the share's patients, CHUNK patients a transaction; return how
    many patients. Chunk N is written on a writer thread while chunk N+1 is loaded."""
    orgs = all_practices(app.engine)
    tables = [model.tables(share.suffix) for model, _ in share.models]
    chunks = _streamed(app, share) if share.suffix else _loaded(app, share)
    writer = ThreadPoolExecutor(1, thread_name_prefix="partition-writer")
    pending: Future | None = None
    written = 0
    try:
        for chunk in chunks:
            changes = []
            for n, (model, _) in enumerate(share.models):
                patients = [patient for patient, models in chunk if n in models]
                changes.append(Changes([p.id.hex for p in patients],
                                       model.rows(app, patients, orgs)))
            if pending is not None:
                pending.result()
            pending = writer.submit(_write, app.engine, tables, changes, bool(share.suffix))
            written += len(chunk)
        if pending is not None:
            pending.result()
    finally:
        writer.shutdown(wait=True)
    return written


Chunk = list[tuple[Any, set[int]]]  # patients, each with the read models (by index) it is for


def _loaded(app: Any, share: Share) -> Iterator[Chunk]:
    """The share's patients (`members`), loaded CHUNK at a time: a catch-up's few."""
    wanted = members(app, share)
    ids = sorted(wanted)
    for start in range(0, len(ids), CHUNK):
        loaded = app.load_patients(ids[start : start + CHUNK])
        yield [(patient, wanted[i]) for i, patient in loaded.items()]


def _streamed(app: Any, share: Share) -> Iterator[Chunk]:
    """Every patient of the share, from one ordered read of its range of the log (a
    server-side cursor on PostgreSQL), each replayed as it is now if it has an event up to
    the head that a read model reads (a rebuild reads every patient anyway). A patient
    with an event this version cannot read is left out with a warning, as loading does."""
    engine: Engine = app.engine
    postgres = engine.dialect.name == "postgresql"
    where, params = _in_range(engine, share)
    sql = (f"SELECT {'originator_id::text' if postgres else 'originator_id'}, id, "
           f"originator_version, topic, state FROM {EVENTS_TABLE} WHERE {where} "
           "ORDER BY originator_id, originator_version")
    to_event = app.mapper.to_domain_event

    @functools.cache
    def readers(topic: str) -> frozenset[int]:
        return frozenset(n for n, (model, _) in enumerate(share.models) if model.reads(topic))

    chunk: Chunk = []
    with engine.connect() as conn:
        driver = conn.connection.driver_connection
        cur = driver.cursor(name="guardian_partition") if postgres else driver.cursor()
        if postgres:
            cur.itersize = 10_000
        try:
            cur.execute(sql, params)
            for originator, rows in groupby(cur, key=itemgetter(0)):
                history = list(rows)
                models: set[int] = set()
                for _, i, _, topic, _ in history:
                    if i <= share.head:
                        models |= readers(topic)
                if not models:
                    continue
                pid = as_uuid(originator)
                patient = None
                try:
                    for _, _, version, topic, state in history:
                        patient = to_event(StoredEvent(pid, version, topic, bytes(state))
                                           ).mutate(patient)
                except Exception as e:  # e.g. an event from a newer version
                    log.warning("patient %s left out: event v%s (%s): %s", pid, version,
                                topic, e)
                    continue
                chunk.append((patient, models))
                if len(chunk) >= CHUNK:
                    yield chunk
                    chunk = []
        finally:
            cur.close()
    if chunk:
        yield chunk


def _write(engine: Engine, tables: list[list[Table]], changes: list[Changes],
           empty: bool) -> None:
    with engine.begin() as conn:
        for model_tables, change in zip(tables, changes, strict=True):
            if empty:  # tables built aside: each patient is written once, by one worker
                for table, rows in zip(model_tables, change.rows, strict=True):
                    bulk_insert(conn, table, rows)
            else:
                replace_rows(conn, model_tables, change)


def run_share(share: Share, results: Any) -> None:
    """A worker process: project its share and send back how many patients (or why not)."""
    logging.basicConfig(level=logging.WARNING)
    app = share.app_class(share.settings)
    try:
        patients = project_share(app, share)
        results.send(("done", (patients, time.process_time())))
    except BaseException as e:  # the whole traceback on the worker's stderr, its gist back
        log.error("projection worker %s of %s failed:\n%s", share.part, share.parts,
                  traceback.format_exc())
        results.send(("failed", "".join(traceback.format_exception_only(e)).strip()))
        raise SystemExit(1) from None
    finally:
        app.close()


def run_partitioned(app: Any, models: Sequence[tuple[ReadModel, int]], suffix: str,
                    head: int, processes: int, stop: Any = None) -> int:
    """Project `models` (each with the position it starts after) up to `head` in
    `processes` worker processes (spawned: each opens its own engine); return how many
    patients were written. Raises PartitionFailed if a worker fails or dies, and stops
    every worker (and raises) once `stop` is set."""
    context = _context()
    workers = []
    for part in range(processes):
        share = Share(type(app), app.settings, tuple(models), suffix, head, part, processes)
        receive, send = context.Pipe(duplex=False)
        process = context.Process(target=run_share, args=(share, send), daemon=True,
                                  name=f"guardian-projection-{part}")
        process.start()
        send.close()
        workers.append((process, receive))
    written, cpu, started = 0, 0.0, time.perf_counter()
    try:
        running = dict(enumerate(workers))
        while running:
            if stop is not None and stop.is_set():
                raise PartitionFailed("stopped before every worker finished")
            for part, (process, receive) in list(running.items()):
                if receive.poll():
                    try:
                        outcome, value = receive.recv()
                    except EOFError:  # it ended without a word: killed
                        process.join()
                        outcome, value = "died", f"exit code {process.exitcode}"
                    if outcome != "done":
                        raise PartitionFailed(f"projection worker {part} {outcome}: {value}")
                    written += value[0]
                    cpu += value[1]
                    log.debug("projection worker %s done after %.1f s", part,
                              time.perf_counter() - started)
                    process.join()
                    del running[part]
            time.sleep(0.05)
    finally:
        for process, receive in workers:
            if process.is_alive():
                process.terminate()
            process.join()
            receive.close()
    log.info("%s patients up to %s in %s processes: %.1f s, %.1f s of CPU in them",
             written, head, processes, time.perf_counter() - started, cpu)
    return written


def _context() -> Any:
    """Fresh processes (never a fork of this one, its threads and connections): from a
    fork server that has imported the application once, where there is one."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["guardian.application", "guardian.projections.registry"])
    return context


# ---------------------------------------------------------------------- tables aside


def create_aside(conn: Connection, table: Table) -> None:
    """Create a table to be filled in bulk: without its secondary indexes, and on
    PostgreSQL without its primary key either (`index_aside` adds them after the load,
    faster than keeping them up to date row by row)."""
    table.drop(conn, checkfirst=True)
    conn.execute(CreateTable(table))
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"ALTER TABLE {table.name} DROP CONSTRAINT {table.name}_pkey")


def index_aside(engine: Engine, tables: Sequence[Table], threads: int) -> None:
    """Add the primary key and indexes of tables made by `create_aside`, and gather their
    planner statistics, `threads` jobs at a time (each on a connection of its own, with
    INDEX_MEMORY to sort in: PostgreSQL builds several at once). Nothing on SQLite, whose
    swap creates each index under its live name (`tables.swap_tables`)."""
    if engine.dialect.name != "postgresql":
        return

    def run(ddl: Any) -> None:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"SET LOCAL maintenance_work_mem = '{INDEX_MEMORY}'")
            conn.execute(ddl)

    def primary_key(table: Table) -> Any:
        columns = ", ".join(c.name for c in table.primary_key.columns)
        return text(f"ALTER TABLE {table.name} ADD CONSTRAINT {table.name}_pkey "
                    f"PRIMARY KEY ({columns})")

    with engine.connect() as conn:  # the largest table's first: no long one left alone
        size = {t.name: conn.exec_driver_sql(f"SELECT pg_relation_size('{t.name}')").scalar()
                for t in tables}
    tables = sorted(tables, key=lambda t: -size[t.name])
    with ThreadPoolExecutor(max(1, threads)) as pool:
        jobs = [pool.submit(run, ddl) for t in tables for ddl in (
            primary_key(t), *(CreateIndex(ix) for ix in sorted(t.indexes, key=lambda i: i.name)))]
        # Each waits for its own table's indexes (ANALYZE and CREATE INDEX lock each other).
        jobs += [pool.submit(run, text(f"ANALYZE {t.name}")) for t in tables]
        for job in jobs:
            job.result()

