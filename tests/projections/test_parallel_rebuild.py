"""A rebuild (and a large catch-up) shared out by patient among worker processes gives
exactly the rows of the single-process rebuild, table by table, on SQLite and PostgreSQL;
a worker that fails leaves the live read models as they were (guardian/projections/
partition.py, docs/deployment.md "The projector")."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import time

import pytest
from sqlalchemy import inspect, select

from guardian.bootstrap import build_app, init_database
from guardian.config import Settings
from guardian.demo import load_demo
from guardian.projections import runner as runner_module
from guardian.projections.partition import PartitionFailed, bounds
from guardian.projections.registry import all_projections
from guardian.projections.runner import ProjectionRunner
from guardian.projections.tracking import tracking
from guardian.projections.worklist import WorklistProjection
from guardian.waits import check_waits

AS_OF = dt.date(2026, 3, 31)


@pytest.fixture
def app(database_url, tmp_path):
    guardian = build_app(Settings(database_url=database_url, var_dir=tmp_path))
    init_database(guardian)
    load_demo(guardian, patients=100, seed=7, as_of=AS_OF)
    yield guardian
    guardian.close()


def snapshot(app) -> dict[str, list[tuple]]:
    """Every row of every read model's tables, in a fixed order, and the positions."""
    out: dict[str, list[tuple]] = {}
    with app.engine.connect() as conn:
        for p in all_projections():
            for table in p.tables():
                out[table.name] = sorted(tuple(map(repr, r)) for r in conn.execute(select(table)))
        out["positions"] = sorted(conn.execute(select(tracking.c.name, tracking.c.position)))
    return out


def runner(app, processes: int) -> ProjectionRunner:
    return ProjectionRunner(app, all_projections(), batch_size=200, processes=processes)


def test_the_shares_cover_every_patient_id_once():
    edges = [bounds(part, 3) for part in range(3)]
    assert edges[0][0].int == 0 and edges[-1][1] is None
    assert all(edges[n][1] == edges[n + 1][0] for n in range(2))


def test_a_parallel_rebuild_gives_the_rows_of_a_single_process_one(app, monkeypatch):
    runner(app, 1).run_once()  # one process, in batches
    single = snapshot(app)
    assert single["worklist"] and single["pathway_intervals"] and single["patient_search"]
    runner(app, 2).rebuild()
    assert snapshot(app) == single
    # Indexes and the primary key come back under the live names, with a second rebuild.
    live = {t.name: {ix.name for ix in t.indexes} for p in all_projections() for t in p.tables()}
    inspector = inspect(app.engine)
    for name, indexes in live.items():
        assert {ix["name"] for ix in inspector.get_indexes(name)} == indexes
        assert inspector.get_pk_constraint(name)["constrained_columns"]

    # Events that arrive while the workers run (past the head they project up to), and
    # while the indexes are built, are caught up after the swap.
    real_run, real_index = runner_module.run_partitioned, runner_module.index_aside

    def run_while_writing(*args, **kwargs):
        check_waits(app, AS_OF + dt.timedelta(days=40))
        return real_run(*args, **kwargs)

    def index_while_writing(*args, **kwargs):
        check_waits(app, AS_OF + dt.timedelta(days=90))
        return real_index(*args, **kwargs)

    monkeypatch.setattr(runner_module, "run_partitioned", run_while_writing)
    monkeypatch.setattr(runner_module, "index_aside", index_while_writing)
    head = runner(app, 1).head()
    runner(app, 2).rebuild()
    assert runner(app, 1).head() > head  # the sweeps wrote events
    parallel = snapshot(app)
    runner(app, 1).rebuild()
    assert parallel == snapshot(app)


class DyingWorklist(WorklistProjection):
    """The worklist, whose rows kill (or fail) the worker process that builds them."""

    def __init__(self, how: str):
        self.how = how

    def rows(self, app, patients, orgs):
        if multiprocessing.current_process().name != "MainProcess":
            if self.how == "killed":
                os._exit(9)
            raise RuntimeError("the worker failed")
        return super().rows(app, patients, orgs)


def test_a_failed_worker_leaves_the_old_read_models_in_place(app):
    runner(app, 1).run_once()
    before = snapshot(app)
    for how, message in (("killed", "died: exit code 9"), ("raises", "the worker failed")):
        dying = ProjectionRunner(app, [DyingWorklist(how), *all_projections()[1:]],
                                 processes=2)
        with pytest.raises(PartitionFailed, match=message):
            dying.rebuild()
        assert snapshot(app) == before
        tables = set(inspect(app.engine).get_table_names())
        assert not {t for t in tables if t.endswith("_rebuild")}  # nothing left aside


@pytest.mark.postgres
def test_a_large_backlog_is_caught_up_by_patient_across_processes(pg_url, tmp_path,
                                                                   monkeypatch):
    guardian = build_app(Settings(database_url=pg_url, var_dir=tmp_path))
    try:
        init_database(guardian)
        load_demo(guardian, patients=100, seed=7, as_of=AS_OF)
        with guardian.engine.begin() as conn:  # back to an empty read model at position 0
            conn.execute(tracking.delete())
            for p in all_projections():
                for table in p.tables():
                    conn.execute(table.delete())
        monkeypatch.setattr(runner_module, "PARTITION_AFTER", 10)
        calls = []
        real_run = runner_module.run_partitioned
        monkeypatch.setattr(runner_module, "run_partitioned",
                            lambda *a, **k: calls.append(a[3]) or real_run(*a, **k))
        parallel = runner(guardian, 2)
        for p in parallel.projections:
            parallel.positions.ensure(p.name)
        with guardian.engine.begin() as conn:  # as the catch-up across processes holds them
            conn.execute(select(tracking).with_for_update())
            started = time.monotonic()
            assert runner(guardian, 1).catch_up_within(10) is False  # a page does not wait
            assert time.monotonic() - started < 5
        assert parallel.run_once() == parallel.head() * 3
        assert calls == [parallel.head()]
        half = parallel.head() // 2
        with guardian.engine.begin() as conn:  # from a position past 0, with rows there
            conn.execute(tracking.update().values(position=half))
        assert parallel.run_once() == (parallel.head() - half) * 3
        assert calls == [parallel.head()] * 2
        caught_up = snapshot(guardian)
        runner(guardian, 1).rebuild()
        assert snapshot(guardian) == caught_up
    finally:
        guardian.close()
