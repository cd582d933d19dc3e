"""Benchmark: rebuilding every read model, in one process and shared out by patient.

    flock /tmp/h/bench.lock .venv/bin/python bench/rebuild.py \\
        --url postgresql+psycopg2://postgres@127.0.0.1:5432/guardian_bench17 \\
        [--processes 2] [--baseline-seconds S] [--catch-up]

On an existing store (e.g. `guardian demo --patients 200000`), rebuilt in place: first
brought up to date; then the single-process rebuild (the baseline, unless
`--baseline-seconds` gives a recorded one), then the rebuild in `--processes` worker
processes (guardian/projections/partition.py); with `--catch-up`, also a catch-up of the
whole log from position 0 in those processes. Every read-model table's row count and
checksum (the sum of a hash of each row) is compared after each run: the same rows, not
just as many. Prints the seconds of each, the ratio, and the phases the runner
logs. Target: the partitioned rebuild under 60 s on 2 cores for 200,000 patients.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from guardian.bootstrap import build_app  # noqa: E402
from guardian.config import Settings  # noqa: E402
from guardian.projections.registry import all_projections  # noqa: E402
from guardian.projections.runner import ProjectionRunner  # noqa: E402
from guardian.projections.tracking import tracking  # noqa: E402


def checksums(app) -> dict[str, list[int]]:
    """Rows and an order-free checksum of each read-model table (in the database on
    PostgreSQL; in this process, whose string hashes stay the same, on SQLite)."""
    out = {}
    with app.engine.connect() as conn:
        for p in all_projections():
            for table in p.tables():
                if app.engine.dialect.name == "postgresql":
                    count, total = conn.exec_driver_sql(
                        f"SELECT count(*), coalesce(sum(hashtext(t::text)::bigint), 0) "
                        f"FROM {table.name} t").one()
                else:
                    rows = conn.exec_driver_sql(f"SELECT * FROM {table.name}").all()
                    count, total = len(rows), sum(hash(repr(tuple(r))) for r in rows)
                out[table.name] = [int(count), int(total)]
    return out


def timed(label: str, action) -> float:
    started = time.perf_counter()
    action()
    seconds = time.perf_counter() - started
    print(f"{label}: {seconds:.1f} s", flush=True)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--baseline-seconds", type=float,
                        help="a recorded single-process rebuild time (skips running it)")
    parser.add_argument("--catch-up", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="  %(message)s")
    logging.getLogger("guardian.projections").setLevel(logging.DEBUG)
    logging.getLogger("guardian.store").setLevel(logging.WARNING)
    app = build_app(Settings(database_url=args.url))
    single = ProjectionRunner(app, all_projections(), batch_size=5000, processes=1)
    parallel = ProjectionRunner(app, all_projections(), batch_size=5000,
                                processes=args.processes)
    single.run_once()
    result: dict = {"events": single.head(), "processes": args.processes,
                    "cores": os.cpu_count()}
    with app.engine.connect() as conn:
        result["patients"] = conn.exec_driver_sql(
            "SELECT count(DISTINCT patient_id) FROM pathway_index").scalar()
    if args.baseline_seconds is None:
        result["single_s"] = round(timed("single-process rebuild", single.rebuild), 1)
        reference = checksums(app)
    else:
        result["single_s"] = args.baseline_seconds
        result["single_recorded"] = True
        reference = checksums(app)  # the rows as they are, however they were built
    result["partitioned_s"] = round(
        timed(f"rebuild in {args.processes} processes", parallel.rebuild), 1)
    result["same_rows"] = checksums(app) == reference
    if args.catch_up:
        with app.engine.begin() as conn:
            conn.execute(tracking.update().values(position=0))
        result["catch_up_s"] = round(
            timed(f"catch-up from 0 in {args.processes} processes", parallel.run_once), 1)
        result["catch_up_same_rows"] = checksums(app) == reference
    result["ratio"] = round(result["single_s"] / result["partitioned_s"], 1)
    app.close()
    print(json.dumps(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
