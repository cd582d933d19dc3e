"""Benchmark: the wait-time sweep and the check-in job on the store of `guardian demo
--patients 200000`.

    .venv/bin/python bench/sweep.py [--patients 200000] [--backends sqlite,postgresql]

Per backend, in one run: builds the demo store as of 2026-03-31 and brings the read models
up to date (reported, not part of any sweep); **baseline**: loading every aggregate (every
patient's events read and replayed, in batches of 500, as the sweep loads its candidates);
**backfill**: the first `check-waits` and `check-ins` on 2026-03-31, when every breach and
check-in of the demo's history is recorded; **daily**: the next day's `check-waits` and
`check-ins`; **nothing new**: both again on the same day. Each sweep is timed whole, as
`guardian check-waits` runs it: read models brought up to date first, candidates read from
the worklist's index, batches loaded, decided and written, and its own events projected
before it returns. Targets: daily sweep < 30 s, nothing new < 2 s, on both backends.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from import_ptl import fresh_postgres  # noqa: E402
from sqlalchemy import text  # noqa: E402

from guardian.bootstrap import build_app, init_database  # noqa: E402
from guardian.config import Settings  # noqa: E402
from guardian.demo import load_demo  # noqa: E402
from guardian.projections.registry import runner_for  # noqa: E402
from guardian.waits import check_ins, check_waits  # noqa: E402

AS_OF = dt.date(2026, 3, 31)
TARGETS = {"daily": 30.0, "nothing_new": 2.0}


def load_everyone(app) -> tuple[float, int]:
    """The baseline: every aggregate loaded, 500 patients a query (as the sweep does)."""
    with app.engine.connect() as conn:
        ids = sorted(uuid.UUID(h) for (h,) in conn.execute(
            text("SELECT DISTINCT patient_id FROM pathway_index")))
    started = time.perf_counter()
    loaded = 0
    for start in range(0, len(ids), 500):
        loaded += len(app.load_patients(ids[start : start + 500]))
    return time.perf_counter() - started, loaded


def timed(job, app, on: dt.date) -> dict:
    result = job(app, on)
    return {**result.summary(), "seconds": round(result.seconds, 2)}


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
        t = time.perf_counter()
        runner_for(app).run_once()
        projected = time.perf_counter() - t
        if backend == "postgresql":
            with app.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
        base, loaded = load_everyone(app)
        out = {"backend": backend, "patients": patients, "events": demo["events"],
               "demo_build_s": round(built, 1), "read_models_s": round(projected, 1),
               "baseline_load_all_s": round(base, 1), "aggregates": loaded}
        day = AS_OF + dt.timedelta(days=1)
        for label, on in (("backfill", AS_OF), ("daily", day), ("nothing_new", day)):
            for name, job in (("waits", check_waits), ("check_ins", check_ins)):
                r = timed(job, app, on)
                out[f"{label}_{name}"] = r
                out[f"{label}_{name}_vs_baseline"] = round(r["seconds"] / base, 3)
                print(f"  {backend} {label} {name}: {json.dumps(r)}", file=sys.stderr)
        for label, limit in TARGETS.items():
            out[f"{label}_waits_target_met"] = out[f"{label}_waits"]["seconds"] < limit
        app.close()
    finally:
        if drop:
            drop()
    return out


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
