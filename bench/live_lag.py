"""Benchmark: live read-model lag on PostgreSQL while a 200,000-row PTL extract is imported.

    .venv/bin/python bench/live_lag.py [--rows 200000] [--modes listen,poll] [--json FILE]

Per mode, in one run, on a fresh database each (`guardian db init` + the MSE organisations):
`guardian project --follow` starts as its own process (mode `listen`: woken by the NOTIFY
each write transaction sends at commit; mode `poll`: `--poll`, the plain follower polling
every 0.2 s and backing off to 2 s when idle — the baseline), then `guardian import-ptl`
imports the extract as another process while this process samples, every 100 ms, the head
of the log and the read models' tracking positions. This process also LISTENs itself and reads
the head on every notification, so each event's commit time is known to a few ms.

Lag at a sample = now − commit time of the oldest event not yet projected by every read
model (the lowest tracking position; 0 when caught up): p50 / p95 / max over the samples
taken while the import runs. Also: the delay from each commit to the moment every read
model's position passed it (p50 / p95 / max), and how long the follower took to catch up
after the import ended. Positions are sampled every 100 ms, so each figure carries up to
0.1 s of sampling error. Target: live lag p95 < 1 s.

Then, with the follower still running, the weekly case: the same list a week on with 5 % of
its rows changed (an appointment booked), imported over the first — its import time, lag
while it runs, and when the read models had it.
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import json
import os
import random
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from import_ptl import AS_OF, fresh_postgres, make_extract, prepare_store  # noqa: E402

from guardian.projections.tracking import tracking  # noqa: E402
from guardian.store import EVENTS_TABLE  # noqa: E402

TICK = 0.1
GUARDIAN = Path(sys.executable).with_name("guardian")


def guardian(*args: str) -> list[str]:
    if GUARDIAN.exists():
        return [str(GUARDIAN), *args]
    return [sys.executable, "-c", "from guardian.cli import main; main()", *args]


class Sampler(threading.Thread):
    """Samples head and position every TICK; timestamps each commit by its notification."""

    def __init__(self, dsn: str):
        super().__init__(daemon=True)
        import psycopg2

        self.conn = psycopg2.connect(dsn)
        self.conn.autocommit = True
        self.cur = self.conn.cursor()
        self.cur.execute(f"LISTEN {EVENTS_TABLE}")
        self.stop = threading.Event()
        self.commits: list[tuple[float, int]] = []  # (time first seen, head), head increasing
        self.samples: list[tuple[float, int, int]] = []  # (time, head, position)
        self.error: BaseException | None = None

    def head(self) -> int:
        self.cur.execute(f"SELECT coalesce(max(id), 0) FROM {EVENTS_TABLE}")
        return self.cur.fetchone()[0]

    def _seen(self, t: float, head: int) -> None:
        if not self.commits or head > self.commits[-1][1]:
            self.commits.append((t, head))

    def run(self) -> None:
        try:
            self._run()
        except BaseException as e:  # reported by the main thread
            self.error = e

    def _run(self) -> None:
        next_tick = time.monotonic()
        while not self.stop.is_set():
            timeout = max(0.0, next_tick - time.monotonic())
            if select.select([self.conn], [], [], timeout)[0]:
                self.conn.poll()
                if self.conn.notifies:
                    self.conn.notifies.clear()
                    self._seen(time.monotonic(), self.head())
            if time.monotonic() >= next_tick:
                # Every read model counts: the follower brings them up to date in turn.
                self.cur.execute(
                    f"SELECT coalesce((SELECT max(id) FROM {EVENTS_TABLE}), 0), "
                    f"coalesce((SELECT min(position) FROM {tracking.name} "
                    "WHERE name NOT LIKE '%@%'), 0)"
                )
                head, position = self.cur.fetchone()
                t = time.monotonic()
                self._seen(t, head)
                self.samples.append((t, head, position))
                next_tick += TICK
                if next_tick < time.monotonic():  # fell behind: skip, don't burst
                    next_tick = time.monotonic() + TICK

    def committed_at(self, event_id: int) -> float:
        """When the commit that wrote `event_id` was first seen."""
        i = bisect.bisect_left([h for _, h in self.commits], event_id)
        return self.commits[min(i, len(self.commits) - 1)][0]

    def close(self) -> None:
        self.stop.set()
        self.join()
        self.conn.close()


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def edits(url: str, dsn: str, work: Path, n: int) -> list[float]:
    """`n` single edits (a workup item each), 0.3–1.5 s apart as a person would make them:
    seconds from each commit until every read model's position has passed it."""
    import psycopg2
    from sqlalchemy import select as sql_select

    from guardian.bootstrap import build_app
    from guardian.config import Settings
    from guardian.projections.worklist import worklist

    app = build_app(Settings(database_url=url, var_dir=work))
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    cur = conn.cursor()
    rng = random.Random(20221)
    delays = []
    try:
        with app.engine.connect() as c:
            rows = c.execute(sql_select(worklist.c.patient_id, worklist.c.provider,
                                        worklist.c.pathway_id).limit(n)).all()
        for i, (patient, provider, pathway) in enumerate(rows):
            time.sleep(rng.uniform(0.3, 1.5))
            last = app.require_workup_item(uuid.UUID(patient), provider, pathway,
                                           f"bench-{i}", "Bloods", "practice", on=AS_OF)
            committed = time.monotonic()
            deadline = committed + 30
            while time.monotonic() < deadline:
                cur.execute(f"SELECT min(position) FROM {tracking.name} "
                            "WHERE name NOT LIKE '%@%'")
                if cur.fetchone()[0] >= last:
                    break
                time.sleep(0.005)
            delays.append(time.monotonic() - committed)
    finally:
        conn.close()
        app.close()
    return delays


def next_week(csv_path: Path, out: Path, every: int = 20) -> int:
    """The extract a week on: every `every`-th row has had an outpatient appointment booked
    (a new or changed fact, 5 % by default); the rest are unchanged. Returns rows changed."""
    import csv

    booked = (AS_OF + dt.timedelta(days=40)).isoformat()
    changed = 0
    with open(csv_path, newline="", encoding="utf-8") as f, \
            open(out, "w", newline="", encoding="utf-8") as g:
        reader, writer = csv.reader(f), csv.writer(g)
        header = next(reader)
        writer.writerow(header)
        column = header.index("OUTPATIENT_FUTURE_APPOINTMENT_DATE")
        for i, row in enumerate(reader):
            if i % every == 0 and row[column] != booked:
                row[column] = booked
                changed += 1
            writer.writerow(row)
    return changed


def weekly_reimport(dsn: str, csv_path: Path, work: Path, env: dict) -> dict:
    """The weekly case, with the follower still running: the same list a week on, 5 % of
    its rows changed. Import time, lag while it runs, and when the read models had it."""
    path = work / "ptl-next-week.csv"
    changed = next_week(csv_path, path)
    sampler = Sampler(dsn)
    sampler.start()
    time.sleep(0.5)
    started = time.monotonic()
    imported = subprocess.run(
        guardian("import-ptl", str(path), "--as-of", (AS_OF + dt.timedelta(days=7)).isoformat(),
                 "--json"),
        env=env, cwd=ROOT, capture_output=True, text=True,
    )
    ended = time.monotonic()
    if imported.returncode not in (0, 3):
        raise SystemExit(f"weekly import failed ({imported.returncode}):\n{imported.stderr}")
    time.sleep(2 * TICK)
    head = sampler.samples[-1][1]
    deadline = time.monotonic() + 600
    while sampler.samples[-1][2] < head and time.monotonic() < deadline:
        time.sleep(TICK)
    caught_up = sampler.samples[-1][0]
    sampler.close()
    lags = [(t - sampler.committed_at(position + 1)) if position < h else 0.0
            for t, h, position in sampler.samples if started <= t <= ended]
    result = json.loads(imported.stdout.strip().splitlines()[-1])
    return {
        "weekly_rows": result.get("rows"), "weekly_rows_changed": changed,
        "weekly_accepted": result.get("accepted"), "weekly_import_s": round(ended - started, 1),
        "weekly_lag_p95_s": round(pct(lags, 0.95), 2),
        "weekly_lag_max_s": round(max(lags, default=0.0), 2),
        "weekly_caught_up_after_import_s": round(max(0.0, caught_up - ended), 1),
    }


def run_mode(mode: str, csv_path: Path, work: Path, n_edits: int) -> dict:
    load = round(os.getloadavg()[0], 1)  # other work on the machine skews every figure
    url, dsn, drop = fresh_postgres()
    follower = None
    try:
        prepare_store(url)
        env = {**os.environ, "GUARDIAN_DATABASE_URL": url, "GUARDIAN_VAR_DIR": str(work)}
        log_path = work / f"follower-{mode}.log"
        with open(log_path, "w") as log:
            follower = subprocess.Popen(
                guardian("project", "--follow", *(["--poll"] if mode == "poll" else [])),
                env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log,
            )
        deadline = time.monotonic() + 60
        while "following new events" not in log_path.read_text():
            if follower.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"follower did not start:\n{log_path.read_text()}")
            time.sleep(0.05)
        sampler = Sampler(dsn)
        sampler.start()
        time.sleep(0.5)
        started = time.monotonic()
        imported = subprocess.run(
            guardian("import-ptl", str(csv_path), "--as-of", AS_OF.isoformat(), "--json"),
            env=env, cwd=ROOT, capture_output=True, text=True,
        )
        ended = time.monotonic()
        if imported.returncode not in (0, 3):
            raise SystemExit(f"import failed ({imported.returncode}):\n{imported.stderr}")
        time.sleep(2 * TICK)
        head = sampler.samples[-1][1]
        caught_up = None
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            if sampler.samples and sampler.samples[-1][2] >= head:
                caught_up = sampler.samples[-1][0]
                break
            if follower.poll() is not None:
                raise SystemExit(f"follower died:\n{log_path.read_text()}")
            if sampler.error is not None:
                raise sampler.error
            time.sleep(TICK)
        sampler.close()
        if sampler.error is not None:
            raise sampler.error
        edit_delays = edits(url, dsn, work, n_edits) if caught_up is not None else []
        weekly = weekly_reimport(dsn, csv_path, work, env) if caught_up is not None else {}
    finally:
        if follower is not None and follower.poll() is None:
            follower.send_signal(signal.SIGTERM)
            try:
                follower.wait(timeout=30)
            except subprocess.TimeoutExpired:
                follower.kill()
        drop()
    if caught_up is None:
        raise SystemExit(f"{mode}: follower did not catch up within 30 minutes")

    # Lag at each sample: age of the oldest unprojected event; during the import, and from
    # the import's start until the read models had caught up.
    def lag_samples(until: float) -> list[float]:
        return [
            (t - sampler.committed_at(position + 1)) if position < h else 0.0
            for t, h, position in sampler.samples
            if started <= t <= until
        ]

    lags, lags_all = lag_samples(ended), lag_samples(caught_up)
    # Delay from each commit to the first sample whose position had passed it.
    delays = []
    sample_times = [t for t, _, _ in sampler.samples]
    positions = [p for _, _, p in sampler.samples]
    for t_commit, h in sampler.commits:
        if not started <= t_commit <= ended:
            continue
        # positions only grow: the first sample at or past h
        i = bisect.bisect_left(positions, h)
        if i < len(positions):
            delays.append(max(0.0, sample_times[i] - t_commit))
    result = json.loads(imported.stdout.strip().splitlines()[-1])
    during = max((p for t, _, p in sampler.samples if t <= ended), default=0)
    return {
        "mode": mode,
        "rows": result.get("rows"),
        "events": head,
        "import_s": round(ended - started, 1),
        "import_events_per_s": round(head / (ended - started)),
        "projected_during_import": during,
        "follower_events_per_s_during_import": round(during / (ended - started)),
        "follower_events_per_s_after": round((head - during) / max(caught_up - ended, 1e-9)),
        "load_average_at_start": load,
        "samples": len(lags),
        "lag_p50_s": round(statistics.median(lags), 2) if lags else None,
        "lag_p95_s": round(pct(lags, 0.95), 2),
        "lag_max_s": round(max(lags, default=0.0), 2),
        "lag_to_caught_up_p50_s": round(statistics.median(lags_all), 2) if lags_all else None,
        "lag_to_caught_up_p95_s": round(pct(lags_all, 0.95), 2),
        "commits": len(delays),
        "delay_p50_s": round(statistics.median(delays), 2) if delays else None,
        "delay_p95_s": round(pct(delays, 0.95), 2),
        "delay_max_s": round(max(delays, default=0.0), 2),
        "caught_up_after_import_s": round(max(0.0, caught_up - ended), 1),
        "edits": len(edit_delays),
        "edit_p50_s": round(statistics.median(edit_delays), 3) if edit_delays else None,
        "edit_p95_s": round(pct(edit_delays, 0.95), 3),
        "edit_max_s": round(max(edit_delays, default=0.0), 3),
        **weekly,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--modes", default="listen,poll")
    parser.add_argument("--edits", type=int, default=40, help="single edits after the import")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="guardian-bench-") as tmp:
        work = Path(tmp)
        csv_path = work / "ptl.csv"
        rows = make_extract(csv_path, args.rows)
        print(f"extract: {rows:,} rows", flush=True)
        for mode in args.modes.split(","):
            r = run_mode(mode, csv_path, work, args.edits)
            results.append(r)
            print(json.dumps(r), flush=True)
    by = {r["mode"]: r for r in results}
    if "listen" in by and "poll" in by and by["listen"]["lag_p95_s"]:
        print(f"poll / listen lag p95: ×{by['poll']['lag_p95_s'] / by['listen']['lag_p95_s']:.1f}")
    if "listen" in by:
        print("target (live lag p95 < 1 s):",
              "met" if by["listen"]["lag_p95_s"] < 1.0 else "NOT met")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
