"""Simulation: a store of about 1,000,000 open pathways, built and worked on this machine.

    flock /tmp/h/bench.lock .venv/bin/python bench/million.py \\
        [--patients 900000] [--processes 2] [--json bench/out/million.json] [--keep]

On a fresh PostgreSQL database, each step a `guardian` command in its own process, timed
whole: `guardian db init`; **build** — `guardian demo --patients N` (about 1.07 open
pathways a patient; the demo's NHS numbers, from the 999 test range, stop at ~909,000
patients, so 900,000 patients, ~965,000 open pathways, is its largest store) then `guardian project`
(the read models brought up to date, shared out over `--processes`); **first sweep** —
`guardian check-waits` as of yesterday (the backfill: every breach of the history);
**daily sweep** — `guardian check-waits` as of today (a sweep may not run ahead of today);
then the database's and each table's size; **worklist** — after `VACUUM (ANALYZE)` of the
worklist (timed; what autovacuum does in a deployment), p50 / worst p95 of the page
query for each filter × sort on the largest PCN (bench/projections.py's `query_latency`);
**rebuild** — `guardian project --rebuild --processes P`; each also per 100,000 open
pathways. The database is dropped at the end (`--keep` keeps it). A smaller `--patients`
is a scaled run: the figures per 100,000 pathways extrapolate. Figures: bench/README.md,
"Sizing a region", and docs/sizing.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import projections  # noqa: E402
from import_ptl import drop_database, fresh_postgres  # noqa: E402
from sqlalchemy import select  # noqa: E402

from guardian.bootstrap import build_app  # noqa: E402
from guardian.config import Settings  # noqa: E402
from guardian.projections import worklist as wl  # noqa: E402

GUARDIAN = str(ROOT / ".venv" / "bin" / "guardian")


def run_step(label: str, env: dict, *args: str) -> dict:
    """One `guardian` command, timed whole, its JSON answer kept (when it gives one)."""
    started = time.perf_counter()
    done = subprocess.run([GUARDIAN, *args], env=env, capture_output=True, text=True)
    seconds = round(time.perf_counter() - started, 1)
    if done.returncode != 0:
        raise SystemExit(f"{label} failed ({done.returncode}): {done.stderr[-2000:]}")
    answer: dict = {}
    lines = done.stdout.strip().splitlines()
    if lines:
        try:
            answer = json.loads(lines[-1])
        except ValueError:
            answer = {"output": lines[-1][:300]}
    print(f"{label}: {seconds} s", flush=True)
    return {"seconds": seconds, "answer": answer}


def sizes(url: str) -> dict:
    app = build_app(Settings(database_url=url))
    with app.engine.connect() as conn:
        total = conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar()
        tables = conn.exec_driver_sql(
            "SELECT relname, pg_total_relation_size(relid) FROM pg_catalog.pg_statio_user_tables"
            " ORDER BY 2 DESC").all()
        counts = {
            "events": conn.exec_driver_sql("SELECT count(*) FROM guardian_events").scalar(),
            "open_pathways": conn.exec_driver_sql("SELECT count(*) FROM worklist").scalar(),
        }
    app.close()
    return {"database_mb": round(total / 2**20), **counts,
            "tables_mb": {name: round(size / 2**20, 1) for name, size in tables[:12]}}


def worklist_latency(url: str) -> dict:
    app = build_app(Settings(database_url=url))
    # The worklist's visibility map and statistics, as autovacuum keeps them in a deployment
    # (docs/deployment.md; this machine runs PostgreSQL with autovacuum off): without them
    # no index can be read on its own. Timed, and reported with the figures.
    started = time.perf_counter()
    with app.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
            "VACUUM (ANALYZE) worklist")
    vacuum_s = round(time.perf_counter() - started, 1)
    with app.engine.connect() as conn:
        coordinator = conn.execute(select(wl.worklist.c.coordinator).where(
            wl.worklist.c.coordinator.is_not(None)).limit(1)).scalar()
    projections.AS_OF = dt.date.today()  # the demo is as of today
    try:
        return {**projections.query_latency(app, coordinator), "vacuum_analyze_s": vacuum_s}
    finally:
        app.close()


def simulate(patients: int, processes: int, keep: bool, out: Path | None,
             resume: bool = False) -> dict:
    if resume:
        # a run stopped after its build: its store and figures so far, from --json
        result = json.loads(out.read_text()) if out and out.exists() else {}
        if "build_s" not in result:
            raise SystemExit("--resume needs the --json file of a run whose build finished")
        url = result["url"]
        drop = lambda: drop_database(url)  # noqa: E731
    else:
        url, _dsn, drop = fresh_postgres()
        result = {"patients": patients, "processes": processes, "cores": os.cpu_count(),
                  "url": url}

    def save() -> None:  # after every step: a run stopped part-way keeps what it measured
        if out:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(result, indent=2))

    with tempfile.TemporaryDirectory(prefix="guardian-million-") as var:
        env = {**os.environ, "GUARDIAN_DATABASE_URL": url,
               "GUARDIAN_VAR_DIR": var}
        today = dt.date.today()
        try:
            if not resume:
                run_step("db init", env, "db", "init")
                result["demo"] = run_step("demo", env, "demo", "--patients", str(patients),
                                          "--json")
                result["project"] = run_step("catch-up", env, "project", "--processes",
                                             str(processes), "--json")
                result["build_s"] = round(result["demo"]["seconds"]
                                          + result["project"]["seconds"], 1)
                save()
            result["first_sweep"] = run_step(
                "first sweep", env, "check-waits", "--as-of",
                (today - dt.timedelta(days=1)).isoformat(), "--json")
            result["daily_sweep"] = run_step("daily sweep", env, "check-waits", "--as-of",
                                             today.isoformat(), "--json")
            result["sizes"] = sizes(url)
            save()
            result["worklist"] = worklist_latency(url)
            print(f"worklist: {result['worklist']}", flush=True)
            save()
            result["rebuild"] = run_step("rebuild", env, "project", "--rebuild", "--processes",
                                         str(processes), "--json")
        finally:
            if not keep:
                drop()
    open_pathways = (result.get("first_sweep", {}).get("answer", {})
                     .get("checked") or result.get("sizes", {}).get("open_pathways"))
    result["open_pathways"] = open_pathways
    if open_pathways and "rebuild" in result:
        per = 100_000 / open_pathways
        result["per_100k_open"] = {
            "build_s": round(result["build_s"] * per, 1),
            "first_sweep_s": round(result["first_sweep"]["seconds"] * per, 1),
            "daily_sweep_s": round(result["daily_sweep"]["seconds"] * per, 1),
            "rebuild_s": round(result["rebuild"]["seconds"] * per, 1),
            "database_mb": round(result["sizes"]["database_mb"] * per),
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=900_000,
                        help="demo patients (900,000: ~965,000 open pathways, the most it makes)")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--resume", action="store_true",
                        help="go on from the sweeps with the store and figures of a run "
                             "stopped after its build (its --json file; kill it with SIGKILL "
                             "so that its database is kept)")
    args = parser.parse_args()
    result = simulate(args.patients, args.processes, args.keep, args.json, args.resume)
    print(json.dumps(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
