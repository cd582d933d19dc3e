"""Benchmark: read models on the store of `guardian demo --patients 200000`.

    .venv/bin/python bench/projections.py [--patients 200000] [--backends sqlite,postgresql]

Per backend, in one run: builds the demo store; a baseline of one transaction per event
(the worklist row rebuilt and the position written for every single event, on the first
2,000 events); catch-up of the whole log in batches; a full rebuild (aside, then swapped);
worklist query latency (p50/p95 over 30 runs) on the largest PCN for each filter × sort, on
the first page and on a page deep in the list. Targets: catch-up and rebuild ≥ 5,000
events/s; worklist p95 < 50 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from import_ptl import fresh_postgres  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from guardian.bootstrap import build_app, init_database  # noqa: E402
from guardian.config import Settings  # noqa: E402
from guardian.demo import load_demo  # noqa: E402
from guardian.projections import worklist as wl  # noqa: E402
from guardian.projections.readmodel import Notice  # noqa: E402
from guardian.projections.registry import runner_for  # noqa: E402
from guardian.projections.runner import apply  # noqa: E402
from guardian.projections.tracking import tracking  # noqa: E402

AS_OF = dt.date(2026, 3, 31)
FILTERS = ([], ["breached"], ["at-risk"], ["deterioration"], ["workup-incomplete"],
           ["assigned-to-me"])
SORTS = ("urgency", "next-deadline", "days-waiting")  # urgency: the page's default


def baseline(app, n: int = 2000) -> float:
    """Events/s when every event is its own transaction (rows + position)."""
    projection = wl.WorklistProjection()
    with app.engine.begin() as conn:
        for table in projection.tables("_baseline"):
            table.drop(conn, checkfirst=True)
            table.create(conn)
    notes = app.recorder.select_notifications(start=1, limit=n)
    started = time.perf_counter()
    for position, note in enumerate(notes, start=1):
        with app.engine.begin() as conn:
            apply(projection, conn, app, [Notice(note.id, note.originator_id, note.topic)],
                  "_baseline")
            conn.execute(tracking.delete().where(tracking.c.name == "baseline"))
            conn.execute(tracking.insert().values(name="baseline", position=position,
                                                  updated_at=dt.datetime.now(dt.UTC)))
    elapsed = time.perf_counter() - started
    with app.engine.begin() as conn:
        for table in projection.tables("_baseline"):
            table.drop(conn)
        conn.execute(tracking.delete().where(tracking.c.name == "baseline"))
    return len(notes) / elapsed


def query_latency(app, user: str | None) -> dict:
    with app.engine.connect() as conn:
        pcn, size = conn.execute(select(wl.worklist.c.pcn_code, func.count())
                                 .group_by(wl.worklist.c.pcn_code)
                                 .order_by(func.count().desc()).limit(1)).one()
        scope = wl.Scope(frozenset({pcn}), user=user)
        timings: dict[str, list[float]] = {}
        for filters in FILTERS:
            for sort in SORTS:
                full = wl.page(conn, scope, pcn, AS_OF, filters, sort, limit=100_000)
                deep = full[len(full) // 2] if len(full) > 100 else None
                for where, after in (("first", None),
                                     ("deep", wl.position_after(sort, deep) if deep else None)):
                    label = f"{'+'.join(filters) or 'none'}/{sort}/{where}"
                    samples = []
                    for _ in range(30):
                        t = time.perf_counter()
                        wl.page(conn, scope, pcn, AS_OF, filters, sort, after=after, limit=50)
                        samples.append((time.perf_counter() - t) * 1000)
                    timings[label] = samples
    p95s = {k: sorted(v)[int(0.95 * len(v)) - 1] for k, v in timings.items()}
    worst = max(p95s, key=p95s.get)
    return {"pcn": pcn, "pcn_pathways": size, "queries": len(p95s),
            "p50_ms": round(statistics.median(x for v in timings.values() for x in v), 2),
            "worst_p95_ms": round(p95s[worst], 2), "worst_query": worst}


def bench_backend(backend: str, patients: int, work: Path) -> dict:
    drop = None
    if backend == "sqlite":
        url = f"sqlite:///{work / 'guardian.sqlite'}"
    else:
        url, _dsn, drop = fresh_postgres()
    try:
        app = build_app(Settings(database_url=url))
        init_database(app)
        t = time.perf_counter()
        demo = load_demo(app, patients=patients, seed=20221, as_of=AS_OF)
        built = time.perf_counter() - t
        base = baseline(app)
        runner = runner_for(app)
        # Events in the log, once each: run_once and rebuild count a notification once per
        # read model it brings up to date (there are several), not what "events/s" means.
        t = time.perf_counter()
        runner.run_once()
        catch_up = time.perf_counter() - t
        events = rebuilt = runner.head()
        t = time.perf_counter()
        runner.rebuild()
        rebuild = time.perf_counter() - t
        with app.engine.connect() as conn:
            coordinator = conn.execute(
                select(wl.worklist.c.coordinator).where(
                    wl.worklist.c.coordinator.is_not(None)).limit(1)).scalar()
        latency = query_latency(app, coordinator)
        app.close()
    finally:
        if drop:
            drop()
    return {
        "backend": backend, "patients": patients, "events": demo["events"],
        "read_models": [p.name for p in runner.projections],
        "demo_build_s": round(built, 1),
        "baseline_events_per_s": round(base),
        "catch_up_events_per_s": round(events / catch_up), "catch_up_s": round(catch_up, 1),
        "catch_up_vs_baseline": round(events / catch_up / base, 1),
        "rebuild_events_per_s": round(rebuilt / rebuild), "rebuild_s": round(rebuild, 1),
        **{f"worklist_{k}": v for k, v in latency.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=200_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="guardian-bench-") as tmp:
        for backend in args.backends.split(","):
            r = bench_backend(backend, args.patients, Path(tmp))
            results.append(r)
            print(json.dumps(r))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
