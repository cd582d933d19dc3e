"""Benchmark: coordinators' worklists while place leads ask for uncached reports.

    .venv/bin/python bench/report_contention.py [--url URL] [--patients 200000]
        [--workers 4] [--coordinators 30] [--place-leads 10] [--seconds 120] [--rounds 4]

One run: builds the demo store on a fresh PostgreSQL database (or uses --url, an existing
loaded and projected store, PostgreSQL or SQLite), starts `guardian serve --workers N`, then
runs two load generators as separate processes held to one core (`taskset -c 1`), one for
the coordinators and one for the place leads (so that the place leads' large pages never
delay the coordinators' measured answers in the same event loop):

- all along, `--coordinators` simulated coordinators (the demo coordinator: two PCNs, about
  23,000 open pathways at 200,000 patients), open loop, 0.5–1.5 s between requests, on
  worklist pages (a random filter and sort; 70 % htmx fragments);
- after a 10 s warm-up, `--rounds` times: a **baseline** window (the coordinators alone),
  a window **with reports**, in which `--place-leads` clients (the demo place lead, Basildon
  and Brentwood) ask back to back for the whole bottleneck report page, each time as of
  another date (today, yesterday, …: every one misses the cache), asking again after
  `Retry-After` when told the report is being prepared; then a 30 s drain, not measured,
  while reports asked for are finished. Each kind of window lasts `--seconds` in all.
  Alternating windows keep the machine's other work (it is shared) out of the ratio.

Prints the worklist p50/p95 of both phases and their ratio (target: p95 within 1.5× of the
baseline), and what the place leads got: reports completed, seconds from first asking to
the page (median, max), "being prepared" answers, errors. Results in bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import json
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from web_load import (  # noqa: E402
    FILTERS,
    SORTS,
    server_log_problems,
    sign_in,
    start_server,
    stop_server,
    summary,
)

COORDINATOR = "coordinator@demo.invalid"
WARM_UP = 10.0  # seconds of coordinators only, before the first baseline window
DRAIN = 30.0  # seconds after a window with reports, not measured: queued reports finish
PLACE_LEAD = "place-lead@demo.invalid"


# ---------------------------------------------------------------------------- generator


async def coordinator(base: str, cookies: dict, until: float, out: list, errors: list,
                      rng: random.Random) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=base, cookies=cookies, timeout=60) as client:
        await asyncio.sleep(rng.uniform(0, 1.5))  # spread the first requests
        while time.monotonic() < until:
            f = rng.choice(FILTERS)
            url = f"/worklist?sort={rng.choice(SORTS)}" + (f"&filter={f}" if f else "")
            headers = {"HX-Request": "true"} if rng.random() < 0.7 else {}
            at, t = time.time(), time.perf_counter()
            try:
                r = await client.get(url, headers=headers)
                ok = r.status_code == 200
            except httpx.HTTPError as e:
                ok, r = False, e
            out.append((at, (time.perf_counter() - t) * 1000))
            if not ok:
                errors.append(f"{url}: {getattr(r, 'status_code', r)}")
            await asyncio.sleep(rng.uniform(0.5, 1.5))


async def place_lead(base: str, cookies: dict, until: float, dates, out: dict) -> None:
    """Whole report pages, each as of a date not asked for before, back to back (the body
    is read as bytes, not parsed: this process must stay light)."""
    import httpx

    async with httpx.AsyncClient(base_url=base, cookies=cookies, timeout=120) as client:
        while time.monotonic() < until:
            url = f"/reports?as_of={next(dates).isoformat()}"
            first = time.perf_counter()
            while time.monotonic() < until:
                try:
                    r = await client.get(url)
                except httpx.HTTPError as e:
                    out["errors"].append(f"{url}: {e!r}")
                    break
                if r.status_code == 503 and "retry-after" in r.headers:
                    out["being_prepared"] += 1
                    await asyncio.sleep(float(r.headers["retry-after"]))
                    continue
                if r.status_code == 200:
                    out["seconds"].append(time.perf_counter() - first)
                else:
                    out["errors"].append(f"{url}: {r.status_code}")
                break


async def sessions(base: str, email: str, password: str, n: int) -> list[dict]:
    import httpx

    out = []
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        for _ in range(n):
            for attempt in range(10):
                client.cookies.clear()
                try:
                    await sign_in(client, email, password)
                    break
                except SystemExit:  # throttled (429): the other generator signs in too
                    if attempt == 9:
                        raise
                    await asyncio.sleep(5)
            out.append(dict(client.cookies))
    return out


async def until_wall(at: float) -> float:
    """Sleep until wall-clock time `at`; the monotonic time then."""
    await asyncio.sleep(max(0.0, at - time.time()))
    return time.monotonic()


def windows(start: float, seconds: float, rounds: int) -> list[tuple[str, float, float]]:
    """(kind, wall-clock start, length): warm-up, then `rounds` times a baseline window, a
    window with reports and a drain (reports asked for before its end are still computed:
    not measured), each phase `seconds` in all."""
    out = [("warm-up", start, WARM_UP)]
    at, each = start + WARM_UP, seconds / rounds
    for _ in range(rounds):
        out += [("baseline", at, each), ("with_reports", at + each, each),
                ("drain", at + 2 * each, DRAIN)]
        at += 2 * each + DRAIN
    return out


async def coordinators(base: str, password: str, n: int, schedule: list) -> dict:
    """The coordinators, all along the schedule; each answer counted in the window its
    request started in."""
    signed_in = await sessions(base, COORDINATOR, password, n)
    begin = await until_wall(schedule[0][1])
    until = begin + schedule[-1][1] + schedule[-1][2] - schedule[0][1]
    latencies: list[tuple[float, float]] = []
    errors: list[str] = []
    await asyncio.gather(*[coordinator(base, signed_in[i], until, latencies, errors,
                                       random.Random(i)) for i in range(n)])
    out = {}
    for kind in ("baseline", "with_reports"):
        spans = [(at, at + length) for k, at, length in schedule if k == kind]
        mine = [ms for at, ms in latencies if any(a <= at < b for a, b in spans)]
        out[kind] = {"worklist": summary(mine)}
    out["errors"], out["error_examples"] = len(errors), errors[:5]
    return out


async def place_leads(base: str, password: str, n: int, schedule: list) -> dict:
    """The place leads, in the windows with reports only."""
    signed_in = await sessions(base, PLACE_LEAD, password, n)
    today = dt.date.today()
    dates = (today - dt.timedelta(days=k) for k in itertools.count())
    got: dict = {"seconds": [], "being_prepared": 0, "errors": []}
    for kind, at, length in schedule:
        if kind == "with_reports":
            until = await until_wall(at) + length
            await asyncio.gather(*[place_lead(base, signed_in[i], until, dates, got)
                                   for i in range(n)])
    done = sorted(got["seconds"])
    return {"completed": len(done),
            "seconds_p50": round(done[len(done) // 2], 1) if done else None,
            "seconds_max": round(done[-1], 1) if done else None,
            "being_prepared_answers": got["being_prepared"],
            "errors": len(got["errors"]), "error_examples": got["errors"][:5]}


# ---------------------------------------------------------------------------- driver


def launch(spec: dict, env: dict) -> subprocess.Popen:
    """A load generator process, held to core 1 (the server has the machine's other core)."""
    cmd = [sys.executable, __file__, "--generate", json.dumps(spec)]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "1", *cmd]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)


def set_password(url: str, var: Path) -> str:
    from guardian import users
    from guardian.bootstrap import build_app
    from guardian.config import Settings

    app = build_app(Settings(database_url=url, var_dir=var))
    users.ensure_demo_users(app.engine, var)
    password = secrets.token_urlsafe(12)
    reset = getattr(users, "reset_password", None) or users.set_password
    for email in (COORDINATOR, PLACE_LEAD):
        reset(app.engine, email, password)
    app.close()
    return password


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="an existing, loaded and projected demo store")
    parser.add_argument("--patients", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--coordinators", type=int, default=30)
    parser.add_argument("--place-leads", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=120,
                        help="of each kind of window, in all")
    parser.add_argument("--rounds", type=int, default=4,
                        help="baseline and with-reports windows alternate this many times")
    parser.add_argument("--generate", help=argparse.SUPPRESS)  # the pinned child's mode
    args = parser.parse_args()
    if args.generate:
        spec = json.loads(args.generate)
        run = coordinators if spec.pop("role") == "coordinators" else place_leads
        print(json.dumps(asyncio.run(run(**spec))), flush=True)
        return

    var = Path(tempfile.mkdtemp(prefix="guardian-reports-"))
    env = {**os.environ, "GUARDIAN_VAR_DIR": str(var), "GUARDIAN_SECRET_KEY": "bench-key"}
    drop = None
    if args.url:
        url = args.url
    else:
        from web_load import build_store

        url, drop = build_store(args.patients, env)
    password = set_password(url, var)
    server, port, log = start_server({**env, "GUARDIAN_DATABASE_URL": url}, args.workers, var)
    try:
        # after every client has signed in
        schedule = windows(time.time() + 30, args.seconds, args.rounds)
        spec = {"base": f"http://127.0.0.1:{port}", "password": password,
                "schedule": schedule}
        children = [launch({**spec, "role": "coordinators", "n": args.coordinators}, env),
                    launch({**spec, "role": "place-leads", "n": args.place_leads}, env)]
        outputs = []
        for child in children:
            out, err = child.communicate(
                timeout=schedule[-1][1] + schedule[-1][2] - time.time() + 300)
            if child.returncode != 0:
                raise SystemExit(err[-3000:])
            outputs.append(json.loads(out.strip().splitlines()[-1]))
        load = {"baseline": outputs[0]["baseline"],
                "with_reports": {**outputs[0]["with_reports"], "reports": outputs[1]},
                "worklist_errors": outputs[0]["errors"],
                "worklist_error_examples": outputs[0]["error_examples"]}
        problems = server_log_problems(log)
        base, contended = load["baseline"]["worklist"], load["with_reports"]["worklist"]
        result = {
            "database": url.split(":", 1)[0], "workers": args.workers,
            "coordinators": args.coordinators, "place_leads": args.place_leads,
            "seconds_per_kind": args.seconds, "rounds": args.rounds,
            "generator": "taskset -c 1" if shutil.which("taskset") else "unpinned",
            **load,
            "worklist_p95_ratio": round(contended["p95_ms"] / base["p95_ms"], 2),
            "worklist_p50_ratio": round(contended["p50_ms"] / base["p50_ms"], 2),
            "server_log_problems": len(problems), "server_log_first_problems": problems[:5],
        }
        print(json.dumps(result, indent=2))
    finally:
        stop_server(server, log)
        if drop:
            drop()
        shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    main()
