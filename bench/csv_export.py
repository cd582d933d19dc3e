"""Benchmark: the worklist's CSV export (`GET /worklist.csv`) of a whole PCN, on PostgreSQL.

    .venv/bin/python bench/csv_export.py --url postgresql+psycopg2://…/store [--runs 3]

On a loaded, projected store (the 200,000-patient demo of bench/web_load.py), starts
`guardian serve --workers 1` (one process, so its memory is the export's), signs in the
demo admin and downloads the worklist of the PCN with the most open pathways, in the page's
default order (what needs doing first), then of a PCN about a quarter of its size. For each:
seconds to the last byte, rows, and the server's resident memory before, at its peak during
the export (sampled every 10 ms from /proc) and after.

Target: the largest PCN (about 12,000 rows) in < 3 s, with flat memory: the peak's growth
does not grow with the rows (the large export's growth within a few MB of the small one's).

Baseline, same run: the same PCN's rows read straight from PostgreSQL with one query and
written as CSV by one process (no HTTP, no names, no keyset paging): the ratio shows what
the export's streaming, scope and presentation cost.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import secrets
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from web_load import start_server, stop_server  # noqa: E402


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (uvicorn's worker), in MB."""
    total = 0
    for p in [pid, *children(pid)]:
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue
        found = re.search(r"VmRSS:\s+(\d+) kB", status)
        total += int(found.group(1)) if found else 0
    return total / 1024


def children(pid: int) -> list[int]:
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    kids = [int(k) for k in found]
    return kids + [g for k in kids for g in children(k)]


def pcn_sizes(url: str) -> list[tuple[str, int]]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT pcn_code, count(*) FROM worklist "
                                 "WHERE pcn_code IS NOT NULL GROUP BY pcn_code "
                                 "ORDER BY count(*) DESC")).all()
    engine.dispose()
    return [(r[0], r[1]) for r in rows]


def baseline(url: str, pcn: str) -> dict:
    """The PCN's rows straight from PostgreSQL into CSV, one query, one process."""
    from sqlalchemy import create_engine, select

    from guardian.projections import worklist as wl

    engine = create_engine(url)
    t = time.perf_counter()
    out, rows = io.StringIO(), 0
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=1000).execute(
            select(wl.worklist).where(wl.worklist.c.pcn_code == pcn)
            .order_by(wl.worklist.c.deadline_sort))
        writer = csv.writer(out)
        for row in result:
            writer.writerow(row)
            rows += 1
    seconds = time.perf_counter() - t
    engine.dispose()
    return {"rows": rows, "seconds": round(seconds, 3)}


def export(base: str, cookies: dict, pcn: str, server_pid: int) -> dict:
    import httpx

    before = rss_mb(server_pid)
    peak = [before]
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_mb(server_pid))
            time.sleep(0.01)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    t = time.perf_counter()
    lines, first_byte = 0, None
    with httpx.Client(base_url=base, cookies=cookies, timeout=120) as client, \
            client.stream("GET", "/worklist.csv", params={"pcn": pcn}) as r:
        if r.status_code != 200:
            raise SystemExit(f"export of {pcn} answered {r.status_code}")
        for chunk in r.iter_bytes():
            if first_byte is None:
                first_byte = time.perf_counter() - t
            lines += chunk.count(b"\n")
    seconds = time.perf_counter() - t
    done.set()
    watcher.join()
    return {"pcn": pcn, "rows": lines - 1, "seconds": round(seconds, 3),
            "first_byte_s": round(first_byte or 0, 3), "rss_before_mb": round(before, 1),
            "rss_peak_mb": round(peak[0], 1), "growth_mb": round(peak[0] - before, 1),
            "rss_after_mb": round(rss_mb(server_pid), 1)}


def sign_in(base: str, email: str, password: str) -> dict:
    import httpx

    with httpx.Client(base_url=base) as client:
        page = client.get("/sign-in")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        r = client.post("/sign-in", data={"email": email, "password": password,
                                          "csrf_token": token})
        if r.status_code not in (200, 303):
            raise SystemExit(f"sign-in failed for {email}: {r.status_code}")
        return dict(client.cookies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="a loaded, projected PostgreSQL store")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", help="also write the result here")
    args = parser.parse_args()

    from guardian import users
    from guardian.bootstrap import build_app
    from guardian.config import Settings

    var = Path(tempfile.mkdtemp(prefix="guardian-csv-"))
    app = build_app(Settings(database_url=args.url))
    users.ensure_demo_users(app.engine, var)
    password = secrets.token_urlsafe(12)
    users.reset_password(app.engine, "admin@demo.invalid", password)
    app.close()
    sizes = pcn_sizes(args.url)
    large, large_rows = sizes[0]
    small = min(sizes, key=lambda s: abs(s[1] - large_rows / 4))[0]
    env = {**os.environ, "GUARDIAN_DATABASE_URL": args.url, "GUARDIAN_VAR_DIR": str(var),
           "GUARDIAN_SECRET_KEY": "bench-key"}
    server, port, log = start_server(env, 1, var)
    try:
        base = f"http://127.0.0.1:{port}"
        cookies = sign_in(base, "admin@demo.invalid", password)
        export(base, cookies, small, server.pid)  # warm: templates, names, pools
        runs = []
        for _ in range(args.runs):
            runs.append({"large": export(base, cookies, large, server.pid),
                         "small": export(base, cookies, small, server.pid),
                         "baseline": baseline(args.url, large)})
    finally:
        stop_server(server, log)
    best = min(runs, key=lambda r: r["large"]["seconds"])
    worst_growth = max(r["large"]["growth_mb"] for r in runs)
    result = {
        "large_pcn_rows": large_rows, "runs": runs,
        "export_s_best": best["large"]["seconds"],
        "export_s_worst": max(r["large"]["seconds"] for r in runs),
        "baseline_s": best["baseline"]["seconds"],
        "ratio_to_baseline": round(best["large"]["seconds"] / best["baseline"]["seconds"], 1),
        "growth_mb_large_worst": worst_growth,
        "growth_mb_small_worst": max(r["small"]["growth_mb"] for r in runs),
        "target_s": 3.0,
    }
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
