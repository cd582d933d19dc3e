"""Benchmark: the web app under load, on PostgreSQL with the 200,000-patient demo.

    .venv/bin/python bench/web_load.py [--patients 200000] [--users 50] [--seconds 60]
                                       [--warm-up 10] [--clients 20] [--workers 4]
                                       [--url postgresql+…]

One run: builds the demo store on a fresh PostgreSQL database (or uses --url, already
loaded and projected), starts `guardian serve --workers 4`, signs in the simulated users,
then runs the load generator in a separate process held to one core (`taskset -c 1`):

(a) open loop: `--users` simulated coordinators, each thinking 1–3 s between requests,
    doing filter / sort / next page / open a patient / find a patient — reports errors and
    p50/p95 per page kind (targets: no errors, worklist p95 < 150 ms, patient p95 < 100 ms,
    search p95 < 100 ms). The first `--warm-up` seconds are reported apart ("cold_start":
    each server worker's first pages fill its caches, and every user starts in the same
    instant); the targets are on the `--seconds` after them ("steady"), and the whole run
    is reported too ("whole_run"). A search (`/search?q=`) looks for an NHS number
    (half of them typed with spaces), a family name or a pathway id taken from the
    coordinator's own worklist (read once, before the clock starts, from the JSON API), or
    for one of these that exists nowhere (one search in ten);
(b) closed loop: `--clients` concurrent clients requesting worklist pages back to back for
    30 s — reports requests/s and p95 (target ≥ 100 requests/s).

Baseline, same run: the same worklist query (wl.page + wl.counts, as the page issues them)
sent straight to PostgreSQL from one process, p50/p95 — the ratio shows what the web layer
(HTTP, session, audit, templates) costs; and the same for the search's query.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

MISSES = 0.1  # the share of searches for something that exists nowhere
FILTERS = ["", "new", "breached", "at-risk", "deterioration", "workup-incomplete",
           "assigned-to-me", "unanswered-messages"]
# the page's default (what needs doing first) as often as the other two together
SORTS = ["urgency", "urgency", "next-deadline", "days-waiting"]


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p * (len(ordered) - 1))))]


def summary(values: list[float]) -> dict:
    return {"n": len(values), "p50_ms": round(pct(values, 0.5), 1),
            "p95_ms": round(pct(values, 0.95), 1), "max_ms": round(max(values or [0]), 1)}


class Timed(list):
    """Timings that also keep when each request started, in seconds from `started` (the
    coordinator appends each timing once its request has been answered)."""

    def __init__(self, started: float) -> None:
        super().__init__()
        self.started = started
        self.at: list[float] = []

    def append(self, value: float) -> None:
        super().append(value)
        self.at.append(time.monotonic() - self.started - value / 1000)

    def between(self, start: float, end: float = float("inf")) -> list[float]:
        return [v for v, at in zip(self, self.at, strict=True) if start <= at < end]


# ---------------------------------------------------------------------------- generator


async def sign_in(client, email: str, password: str) -> None:
    page = await client.get("/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = await client.post("/sign-in", data={"email": email, "password": password,
                                             "csrf_token": token})
    if r.status_code not in (200, 303):
        raise SystemExit(f"sign-in failed for {email}: {r.status_code}")


async def search_terms(client, pcns: list[str], rng: random.Random) -> list[str]:
    """What the simulated coordinators search for: an NHS number, a family name or a pathway
    id of a row of their own worklists (the API's first 200 rows of each PCN), and misses."""
    rows = []
    for pcn in pcns:
        r = await client.get(f"/api/v1/worklists/{pcn}", params={"limit": 200})
        if r.status_code != 200:
            raise SystemExit(f"worklist {pcn} for the search terms: {r.status_code}")
        rows += r.json()["rows"]
    if not rows:
        raise SystemExit("the coordinator's worklists are empty: nothing to search for")
    from guardian.domain.identifiers import format_nhs_number, nhs_check_digit

    terms = []
    for row in rows:
        nhs = row["nhs_number"]
        terms += [format_nhs_number(nhs) if rng.random() < 0.5 else nhs, row["pathway_id"]]
        if row["family_name"]:
            terms.append(row["family_name"])
    known = {row["nhs_number"] for row in rows}
    misses = []
    while len(misses) < max(3, int(len(terms) * MISSES / (1 - MISSES))):
        first = f"{rng.randrange(10**8, 10**9)}"
        check = nhs_check_digit(first)
        if check is not None and first + str(check) not in known:
            nobody = "".join(rng.choice("qxz") for _ in range(7)).capitalize()
            misses += [first + str(check), nobody, f"NONE-{rng.randrange(10**6):06d}"]
    return terms + misses


async def coordinator(base: str, cookies: dict, until: float, out: dict, rng: random.Random,
                      terms: list[str]):
    import httpx

    async with httpx.AsyncClient(base_url=base, cookies=cookies, timeout=30,
                                 follow_redirects=False) as client:
        next_url, patients = None, []
        while time.monotonic() < until:
            roll = rng.random()
            if roll < 0.3 and patients:
                kind, url = "patient", rng.choice(patients)
            elif roll < 0.45 and next_url:
                kind, url = "worklist", next_url
            elif 0.45 <= roll < 0.6:
                kind, url = "search", "/search?" + urlencode({"q": rng.choice(terms)})
            else:
                f = rng.choice(FILTERS)
                kind = "worklist"
                url = f"/worklist?sort={rng.choice(SORTS)}" + (f"&filter={f}" if f else "")
            headers = {"HX-Request": "true"} if kind == "worklist" and rng.random() < 0.7 else {}
            t = time.perf_counter()
            try:
                r = await client.get(url, headers=headers)
                # one NHS number in scope opens the patient's page: a redirect
                ok = r.status_code == 200 or (kind == "search" and r.status_code == 303)
            except httpx.HTTPError:
                ok, r = False, None
            out[kind].append((time.perf_counter() - t) * 1000)
            if not ok:
                out["errors"].append(f"{url}: {r.status_code if r is not None else 'failed'}")
            elif kind == "worklist":
                found = re.findall(r'href="(/patients/[0-9a-f]{32})"', r.text)
                patients = found[:10] or patients
                more = re.search(r'href="(/worklist\?[^"]*after=[^"]+)"', r.text)
                next_url = more.group(1).replace("&amp;", "&") if more else None
            await asyncio.sleep(rng.uniform(1.0, 3.0))


async def closed_loop(base: str, cookies: dict, until: float, out: list, errors: list,
                      rng: random.Random):
    import httpx

    async with httpx.AsyncClient(base_url=base, cookies=cookies, timeout=30) as client:
        while time.monotonic() < until:
            f = rng.choice(FILTERS)
            url = f"/worklist?sort={rng.choice(SORTS)}" + (f"&filter={f}" if f else "")
            t = time.perf_counter()
            r = await client.get(url, headers={"HX-Request": "true"})
            out.append((time.perf_counter() - t) * 1000)
            if r.status_code != 200:
                errors.append(f"{url}: {r.status_code}")


async def generate(base: str, email: str, password: str, users: int, seconds: float,
                   clients: int, pcns: list[str], warm_up: float = 0.0) -> dict:
    import httpx

    sessions = []
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        for _ in range(max(users, clients)):
            client.cookies.clear()
            await sign_in(client, email, password)
            sessions.append(dict(client.cookies))
        terms = await search_terms(client, pcns, random.Random(11))
    rng = random.Random(7)
    started = time.monotonic()
    kinds = ("worklist", "patient", "search")
    out: dict = {**{kind: Timed(started) for kind in kinds}, "errors": []}
    until = started + warm_up + seconds
    await asyncio.gather(*[coordinator(base, sessions[i], until, out, random.Random(i), terms)
                           for i in range(users)])
    spans = {"steady": (warm_up, warm_up + seconds), "cold_start": (0.0, warm_up),
             "whole_run": (0.0, float("inf"))}
    closed: list[float] = []
    closed_errors: list[str] = []
    started = time.monotonic()
    until = started + 30
    await asyncio.gather(*[closed_loop(base, sessions[i], until, closed, closed_errors, rng)
                           for i in range(clients)])
    elapsed = time.monotonic() - started
    return {
        "open_loop": {"users": users, "seconds": seconds, "warm_up": warm_up,
                      "errors": len(out["errors"]), "error_examples": out["errors"][:5],
                      # the targets' figures: the steady seconds
                      **{kind: summary(out[kind].between(*spans["steady"])) for kind in kinds},
                      **{span: {kind: summary(out[kind].between(start, end))
                                for kind in kinds}
                         for span, (start, end) in spans.items() if span != "steady"}},
        "closed_loop": {"clients": clients, "requests": len(closed),
                        "requests_per_s": round(len(closed) / elapsed, 1),
                        "errors": len(closed_errors), **summary(closed)},
    }


# ---------------------------------------------------------------------------- driver


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def baseline(url: str, pcns: frozenset[str], user: str, n: int = 200) -> dict:
    """The worklist page's own queries, straight to the database (no HTTP, no templates)."""
    import datetime as dt

    from guardian.bootstrap import build_app
    from guardian.config import Settings
    from guardian.projections import worklist as wl

    app = build_app(Settings(database_url=url))
    scope = wl.Scope(pcns, user)
    today = dt.date.today()
    rng = random.Random(3)
    samples = []
    with app.engine.connect() as conn:
        for _ in range(n):
            f = rng.choice(FILTERS)
            filters = [f] if f else []
            t = time.perf_counter()
            wl.page(conn, scope, None, today, filters, rng.choice(SORTS), limit=51)
            wl.counts(conn, scope, None, today, {}, filters)
            samples.append((time.perf_counter() - t) * 1000)
    app.close()
    return summary(samples)


def search_baseline(url: str, pcns: frozenset[str], n: int = 200) -> dict:
    """The search page's own queries (the coordinator's scope, terms from their patients,
    one in ten a miss), straight to the database: what the web layer adds to a search."""
    from sqlalchemy import select

    from guardian.bootstrap import build_app
    from guardian.config import Settings
    from guardian.projections import org_queries
    from guardian.projections.search import patient_search as s
    from guardian.projections.search_queries import find
    from guardian.projections.search_terms import parse

    app = build_app(Settings(database_url=url))
    rng = random.Random(5)
    samples = []
    with app.engine.connect() as conn:
        practices = org_queries.practices_in(conn, pcns)
        rows = list(conn.execute(select(s.c.nhs_number, s.c.family_name, s.c.pathway_id)
                                 .where(s.c.practice_code.in_(sorted(practices))).limit(500)))
        for _ in range(n if rows else 0):
            q = "Qzxqzx" if rng.random() < MISSES else str(rng.choice(rng.choice(rows)) or "x")
            t = time.perf_counter()
            find(conn, parse(q), practices)
            samples.append((time.perf_counter() - t) * 1000)
    app.close()
    return summary(samples)


def build_store(patients: int, env: dict) -> tuple[str, object]:
    from import_ptl import fresh_postgres

    from guardian import users
    from guardian.bootstrap import build_app, init_database
    from guardian.config import Settings
    from guardian.demo import load_demo
    from guardian.projections.registry import runner_for

    url, _dsn, drop = fresh_postgres()
    app = build_app(Settings(database_url=url, var_dir=Path(env["GUARDIAN_VAR_DIR"])))
    init_database(app)
    t = time.perf_counter()
    load_demo(app, patients=patients, seed=20221)
    users.ensure_demo_users(app.engine, Path(env["GUARDIAN_VAR_DIR"]))
    runner_for(app).run_once()
    app.refresh_statistics()
    print(json.dumps({"store_built_s": round(time.perf_counter() - t, 1)}), flush=True)
    app.close()
    return url, drop


def start_server(env: dict, workers: int, var: Path, wait: float = 300
                 ) -> tuple[subprocess.Popen, int, Any]:
    """`guardian serve --workers N` on a free port (env: GUARDIAN_DATABASE_URL and the rest),
    its output in var/serve.log; returns once /healthz answers."""
    import httpx

    port = free_port()
    guardian = shutil.which("guardian", path=str(ROOT / ".venv" / "bin")) or "guardian"
    log = open(var / "serve.log", "w+b")  # noqa: SIM115 - closed by stop_server
    server = subprocess.Popen([guardian, "serve", "--host", "127.0.0.1", "--port", str(port),
                               "--workers", str(workers)], env=env,
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + wait
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return server, port, log
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            stop_server(server, log)
            raise SystemExit(f"guardian serve did not start: see {var / 'serve.log'}")
        time.sleep(0.5)


def server_log_problems(log: Any) -> list[str]:
    """The lines of the server's log that report an error."""
    log.flush()
    logged = Path(log.name).read_text(errors="replace").splitlines()
    return [line for line in logged
            if "ERROR" in line or "Traceback" in line or "Error:" in line]


def stop_server(server: subprocess.Popen, log: Any) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
    log.close()


def run_generator(script: str, spec: dict, env: dict) -> dict:
    """`script --generate SPEC` (the load generator) in a separate process held to one
    core (`taskset -c 1`, so that it does not starve the server); its JSON answer."""
    cmd = [sys.executable, script, "--generate", json.dumps(spec)]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "1", *cmd]
    child = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if child.returncode != 0:
        raise SystemExit(child.stderr[-3000:])
    return json.loads(child.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=200_000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60, help="counted, after the warm-up")
    parser.add_argument("--warm-up", type=float, default=10,
                        help="open-loop seconds first, reported apart")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--url", help="an existing, loaded PostgreSQL store")
    parser.add_argument("--generate", help=argparse.SUPPRESS)  # the pinned child's mode
    args = parser.parse_args()
    if args.generate:
        spec = json.loads(args.generate)
        print(json.dumps(asyncio.run(generate(**spec))), flush=True)
        return

    var = Path(tempfile.mkdtemp(prefix="guardian-webload-"))
    env = {**os.environ, "GUARDIAN_VAR_DIR": str(var), "GUARDIAN_SECRET_KEY": "bench-key"}
    drop = None
    if args.url:
        url = args.url
        from guardian import users
        from guardian.bootstrap import build_app
        from guardian.config import Settings

        app = build_app(Settings(database_url=url))
        # The planner's statistics, as autovacuum keeps them in a deployment (a store made
        # on a server with autovacuum off may have none for tables filled in bulk).
        with app.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
        users.ensure_demo_users(app.engine, var)
        # The demo users may have been made earlier (their logins file elsewhere): the
        # simulated coordinator signs in with a password set for this run.
        password = secrets.token_urlsafe(12)
        users.reset_password(app.engine, "coordinator@demo.invalid", password)
        app.close()
    else:
        url, drop = build_store(args.patients, env)
        logins = (var / "demo-logins.txt").read_text()
        password = re.search(r"password: (\S+)", logins).group(1)
    env["GUARDIAN_DATABASE_URL"] = url
    server, port, server_log = start_server(env, args.workers, var)
    try:
        from guardian import users as users_mod
        from guardian.bootstrap import build_app
        from guardian.config import Settings

        app = build_app(Settings(database_url=url))
        coordinator = users_mod.find_user(app.engine, "coordinator@demo.invalid")
        app.close()
        base_line = baseline(url, frozenset(coordinator.orgs), coordinator.email)
        search_line = search_baseline(url, frozenset(coordinator.orgs))
        spec = {"base": f"http://127.0.0.1:{port}", "email": "coordinator@demo.invalid",
                "password": password, "users": args.users, "seconds": args.seconds,
                "clients": args.clients, "pcns": sorted(coordinator.orgs),
                "warm_up": args.warm_up}
        load = run_generator(__file__, spec, env)
        problems = server_log_problems(server_log)
        result = {
            "server_log_problems": len(problems), "server_log_first_problems": problems[:5],
            "patients": args.patients if not args.url else None, "workers": args.workers,
            "generator": "taskset -c 1" if shutil.which("taskset") else "unpinned",
            "baseline_direct_query": base_line, "baseline_direct_search": search_line, **load,
            "closed_loop_p50_vs_direct_p50": round(
                load["closed_loop"]["p50_ms"] / base_line["p50_ms"], 1),
        }
        print(json.dumps(result, indent=2))
    finally:
        stop_server(server, server_log)
        if drop:
            drop()
        shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    main()
