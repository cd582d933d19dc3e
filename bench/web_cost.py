"""Benchmark: what the web layer costs over its own SQL, for the worklist (JSON and HTML).

    flock /tmp/h/bench.lock .venv/bin/python bench/web_cost.py \\
        --url postgresql+psycopg2://postgres@127.0.0.1:5432/guardian_bench17 \\
        --var-dir /tmp/b17/var [--workers 4] [--clients 20] [--seconds 20] [--samples 200]

On a loaded, projected store (the 200,000-patient demo), starts `guardian serve --workers N`
(bench/web_load.py's `start_server`), signs in the demo coordinator and gives them an API
token, and picks their PCN with the most open pathways. The same fixed sequence of
(filter, sort) views of that PCN is then asked for in four ways:

- **direct SQL** (the same-run baseline): the queries each request runs, through the
  project's query functions on one plain connection, no HTTP: for the JSON worklist
  (`GET /api/v1/worklists/{pcn}`) the PCN check, the accounts, `wl.page` and `wl.counts`;
  for the HTML page (`GET /worklist?pcn=…`, the whole page, and its results block as an
  htmx request gets it: "fragment") the accounts, `wl.page` and `wl.counts` with the
  filters. Also the page query alone (what a request costs when the counts are reused);
- **one client**: one connection by wrk, one request at a time, for `--one-client-seconds`
  after a warm-up (with wrk installed; the ratio is taken from it), and the Python client
  (a separate process held to one core, `taskset -c 1`, as web_load.py's generator): p50/p95
  of each, 200 requests after one warm-up pass. The Python client's own work (parsing,
  decompressing) costs about as much as the server's SQL and is not the web layer's;
  its figures and ratio are printed beside wrk's;
- **closed loop**: `--clients` clients back to back, `--warmup` seconds not counted, then
  `--seconds` → requests/s, p50/p95, errors; driven by wrk when it is installed
  (bench/wrk_loop.py: a Python client costs about as much CPU per request as the server's
  SQL, on the same two cores), which also gives the CPU milliseconds each request cost the
  server, PostgreSQL and the generator; `--generator httpx` for the Python client;
- **sizes**: one page's bytes on the wire asking for identity and for gzip (what the
  server sent), and the body gzipped here (what gzip would give).

Every 200 of a worklist view must leave one `view-worklist` audit entry: the bench counts
them before and after and reports both numbers.
Targets (docs: bench/README.md, "The web layer's own cost"): p50 within 2× the direct SQL
for one client; at 20 clients ≥ 200 requests/s (HTML) and ≥ 150 (JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gzip
import json
import os
import random
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import wrk_loop  # noqa: E402
from web_load import (  # noqa: E402
    run_generator,
    server_log_problems,
    sign_in,
    start_server,
    stop_server,
    summary,
)

EMAIL = "coordinator@demo.invalid"
FILTERS = ["", "breached", "at-risk", "new", "deterioration", "workup-incomplete",
           "unanswered-messages", "assigned-to-me"]
SORTS = ["urgency", "next-deadline", "days-waiting"]
KINDS = ("json", "html", "fragment")  # fragment: the page's results block, as htmx asks


def views(n: int, seed: int = 3) -> list[tuple[str, str]]:
    """The fixed sequence of (filter, sort) every measurement walks through."""
    rng = random.Random(seed)
    return [(rng.choice(FILTERS), rng.choice(SORTS)) for _ in range(n)]


def url_of(kind: str, pcn: str, view: tuple[str, str]) -> str:
    f, sort = view
    pairs = [("sort", sort), *([("filter", f)] if f else [])]
    if kind == "json":
        return f"/api/v1/worklists/{pcn}?" + urlencode(pairs)
    return "/worklist?" + urlencode([("pcn", pcn), *pairs])


# ---------------------------------------------------------------------------- baseline


def direct_sql(url: str, pcn: str, pcns: frozenset[str], samples: int) -> dict:
    """Each request's own queries, straight to the database, in the same sequence."""
    from guardian import users
    from guardian.bootstrap import build_app
    from guardian.config import Settings
    from guardian.projections import org_queries
    from guardian.projections import worklist as wl
    from guardian.web.present import with_departed

    app = build_app(Settings(database_url=url))
    scope = wl.Scope(pcns, EMAIL)
    today = app.today()
    out: dict[str, list[float]] = {"json": [], "html": [], "page_only": []}
    attrs = {a: None for a in wl.ATTRIBUTES}
    with app.engine.connect() as conn:
        for n, (f, sort) in enumerate(views(samples) * 2):
            filters = [f] if f else []
            t = time.perf_counter()
            org_queries.pcn_known(conn, pcn)
            s = with_departed(conn, scope)
            wl.page(conn, s, pcn, today, filters, sort, None, 51, {})
            wl.counts(conn, s, pcn, today, {})
            json_ms = (time.perf_counter() - t) * 1000
            t = time.perf_counter()
            s = with_departed(conn, scope, users.list_users(conn))
            wl.page(conn, s, pcn, today, filters, sort, None, 51, attrs)
            wl.counts(conn, s, pcn, today, attrs, filters)
            html_ms = (time.perf_counter() - t) * 1000
            t = time.perf_counter()
            wl.page(conn, s, pcn, today, filters, sort, None, 51, attrs)
            page_ms = (time.perf_counter() - t) * 1000
            if n >= samples:  # the first pass warms the caches, as the clients' does
                out["json"].append(json_ms)
                out["html"].append(html_ms)
                out["page_only"].append(page_ms)
    app.close()
    found = {k: summary(v) for k, v in out.items()}
    return {**found, "fragment": found["html"]}  # the same queries as the whole page


def audited(url: str) -> int:
    """How many view-worklist entries the audit log holds."""
    from sqlalchemy import func, select

    from guardian.bootstrap import build_app
    from guardian.config import Settings
    from guardian.store.tables import audit_log

    app = build_app(Settings(database_url=url))
    with app.engine.connect() as conn:
        found = conn.execute(select(func.count()).select_from(audit_log)
                             .where(audit_log.c.action == "view-worklist")).scalar_one()
    app.close()
    return int(found)


# ---------------------------------------------------------------------------- generator


async def one_client(client, kind: str, pcn: str, samples: int, headers: dict) -> dict:
    seq = views(samples)
    times, errors = [], 0
    for n, view in enumerate(seq * 2):
        t = time.perf_counter()
        r = await client.get(url_of(kind, pcn, view), headers=headers[kind])
        ms = (time.perf_counter() - t) * 1000
        errors += r.status_code != 200
        if n >= samples:
            times.append(ms)
    return {**summary(times), "errors": errors, "requests": 2 * samples}


async def closed_loop(base: str, kind: str, pcn: str, clients: list[dict], headers: dict,
                      warmup: float, seconds: float) -> dict:
    import httpx

    seq = views(997, seed=11)
    times: list[float] = []
    errors, answered = [0], [0]
    started = time.monotonic()
    counting_from, until = started + warmup, started + warmup + seconds

    async def run(i: int, auth: dict) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=60, **auth) as client:
            n = i * 37
            while time.monotonic() < until:
                n += 1
                t = time.perf_counter()
                r = await client.get(url_of(kind, pcn, seq[n % len(seq)]),
                                     headers=headers[kind])
                answered[0] += r.status_code == 200
                if time.monotonic() >= counting_from:
                    times.append((time.perf_counter() - t) * 1000)
                    errors[0] += r.status_code != 200

    await asyncio.gather(*[run(i, auth) for i, auth in enumerate(clients)])
    return {"clients": len(clients), "seconds": seconds, "requests": len(times),
            "requests_per_s": round(len(times) / seconds, 1), "errors": errors[0],
            "answered_with_warmup": answered[0], **summary(times)}


async def sizes(client, kind: str, pcn: str, headers: dict) -> dict:
    url = url_of(kind, pcn, ("", "urgency"))
    found = {}
    for encoding in ("identity", "gzip"):
        r = await client.get(url, headers={**headers[kind], "Accept-Encoding": encoding})
        found[encoding] = {"bytes": r.num_bytes_downloaded,
                           "content_encoding": r.headers.get("content-encoding", "identity")}
        if encoding == "identity":
            found["gzip_here_bytes"] = len(gzip.compress(r.content, 6))
    return found


async def generate(base: str, password: str, token: str, pcn: str, samples: int,
                   clients: int, warmup: float, seconds: float, loops: bool = True) -> dict:
    import httpx

    sessions = []
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        for _ in range(clients):
            client.cookies.clear()
            await sign_in(client, EMAIL, password)
            sessions.append({"cookies": dict(client.cookies)})
    headers = {"json": {"Authorization": f"Bearer {token}"}, "html": {},
               "fragment": {"HX-Request": "true"}}
    out: dict = {"one_client": {}, "closed_loop": {}, "sizes": {},
                 "sessions": [s["cookies"] for s in sessions]}
    async with httpx.AsyncClient(base_url=base, timeout=60, **sessions[0]) as client:
        for kind in KINDS:
            out["one_client"][kind] = await one_client(client, kind, pcn, samples, headers)
            out["sizes"][kind] = await sizes(client, kind, pcn, headers)
    for kind in KINDS if loops else ():
        auths = [{}] * clients if kind == "json" else sessions
        out["closed_loop"][kind] = await closed_loop(base, kind, pcn, auths, headers, warmup,
                                                     seconds)
    return out


def wrk_loops(spec: dict, sessions: list[dict], server_pgid: int,
              clients: int | None = None, seconds: float | None = None) -> dict:
    """The closed loops of every kind driven by wrk (bench/wrk_loop.py), with the same
    sequence of views and the signed-in sessions the generator made: `clients`
    connections (the spec's unless given) for `seconds` (likewise)."""
    clients = clients or spec["clients"]
    seconds = seconds or spec["seconds"]
    seq = views(997, seed=11)
    cookies = [{"Cookie": "; ".join(f"{k}={v}" for k, v in c.items())} for c in sessions]
    found = {}
    for kind in KINDS:
        auth = ([{"Authorization": f"Bearer {spec['token']}"}] if kind == "json" else cookies)
        extra = {"HX-Request": "true"} if kind == "fragment" else {}
        requests = [(url_of(kind, spec["pcn"], view),
                     {**auth[n % len(auth)], **extra, "Accept-Encoding": "gzip, deflate"})
                    for n, view in enumerate(seq)]
        found[kind] = wrk_loop.closed_loop(spec["base"], requests, clients, seconds,
                                           spec["warmup"], server_pgid)
    return found


# ---------------------------------------------------------------------------- driver


def prepare(url: str, var: Path) -> tuple[str, str, str, frozenset[str]]:
    """The coordinator's password (set for this run), an API token, their PCN with the
    most open pathways, and all their PCNs."""
    from sqlalchemy import func, select

    from guardian import users
    from guardian.bootstrap import build_app
    from guardian.config import Settings
    from guardian.projections import worklist as wl

    app = build_app(Settings(database_url=url))
    # The worklist's visibility map and the planner's statistics, as autovacuum keeps them
    # in a deployment (this machine runs PostgreSQL with autovacuum off, and a store just
    # built or rebuilt has neither: its covering index cannot be read on its own).
    with app.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
            "VACUUM (ANALYZE) worklist")
    users.ensure_demo_users(app.engine, var)
    password = secrets.token_urlsafe(12)
    users.reset_password(app.engine, EMAIL, password)
    token = users.create_token(app.engine, EMAIL, days=1)
    pcns = frozenset(users.find_user(app.engine, EMAIL).orgs)
    w = wl.worklist
    with app.engine.connect() as conn:
        biggest = conn.execute(select(w.c.pcn_code).where(w.c.pcn_code.in_(sorted(pcns)))
                               .group_by(w.c.pcn_code).order_by(func.count().desc())
                               .limit(1)).scalar_one()
    app.close()
    return password, token, biggest, pcns


def table(result: dict) -> str:
    by = "wrk" if "one_client_python" in result else "Python client"
    lines = [f"| | direct SQL p50 / p95 | one client ({by}) p50 / p95 | ratio p50 | "
             "Python client p50 (ratio) | "
             f"{result['clients']} clients req/s | p50 / p95 | bytes identity / gzip |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for kind in KINDS:
        sql = result["direct_sql"][kind]
        one = result["one_client"][kind]
        python = result.get("one_client_python", result["one_client"])[kind]
        loop, size = result["closed_loop"][kind], result["sizes"][kind]
        lines.append(
            f"| {kind} | {sql['p50_ms']} / {sql['p95_ms']} ms | {one['p50_ms']} / "
            f"{one['p95_ms']} ms | ×{result['ratio_p50'][kind]} | "
            f"{python['p50_ms']} ms "
            f"(×{result['ratio_p50_python_client'][kind]}) | {loop['requests_per_s']} | "
            f"{loop['p50_ms']} / {loop['p95_ms']} ms | {size['identity']['bytes']:,} / "
            f"{size['gzip']['bytes']:,} ({size['gzip']['content_encoding']}; gzip here "
            f"{size['gzip_here_bytes']:,}) |")
    for kind in KINDS:
        cpu = result["closed_loop"][kind].get("cpu_ms_per_request")
        if cpu:
            lines.append(f"\n{kind}: CPU ms per request at {result['clients']} clients: "
                         + ", ".join(f"{k} {v}" for k, v in cpu.items()))
    page = result["direct_sql"]["page_only"]
    lines.append(f"\npage query alone p50 / p95: {page['p50_ms']} / {page['p95_ms']} ms; "
                 f"audited: {result['audit']}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgresql+psycopg2://postgres@127.0.0.1:5432/"
                                         "guardian_bench17")
    parser.add_argument("--var-dir", default="/tmp/b17/var")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--one-client-seconds", type=float, default=8,
                        help="the one-connection wrk run of each kind (with wrk)")
    parser.add_argument("--generator", choices=("wrk", "httpx"),
                        default="wrk" if wrk_loop.available() else "httpx",
                        help="the closed loop's client (wrk when installed)")
    parser.add_argument("--generate", help=argparse.SUPPRESS)  # the pinned child's mode
    args = parser.parse_args()
    if args.generate:
        print(json.dumps(asyncio.run(generate(**json.loads(args.generate)))), flush=True)
        return

    var = Path(args.var_dir)
    logs = Path(tempfile.mkdtemp(prefix="guardian-webcost-"))
    env = {**os.environ, "GUARDIAN_VAR_DIR": str(var), "GUARDIAN_DATABASE_URL": args.url,
           "GUARDIAN_SECRET_KEY": "bench-key",
           # the API's per-credential rate limit would stop the closed loop's one token
           "GUARDIAN_API_RATE_PER_MINUTE": "0"}
    password, token, pcn, pcns = prepare(args.url, var)
    server, port, server_log = start_server(env, args.workers, logs)
    try:
        before = audited(args.url)
        base_line = direct_sql(args.url, pcn, pcns, args.samples)
        use_wrk = args.generator == "wrk"
        spec = {"base": f"http://127.0.0.1:{port}", "password": password, "token": token,
                "pcn": pcn, "samples": args.samples, "clients": args.clients,
                "warmup": args.warmup, "seconds": args.seconds, "loops": not use_wrk}
        load = run_generator(__file__, spec, env)
        # the Python client's, one request at a time
        one_client = python = load["one_client"]
        if use_wrk:
            sessions = load.pop("sessions")
            # one connection by wrk: the server's latency without the Python client's own
            # (parsing, decompressing: about as much CPU as the server's SQL); the ratio
            # is taken from it
            load["one_client_python"] = load["one_client"]
            load["one_client"] = one_client = wrk_loops(
                spec, sessions[:1], server.pid, clients=1, seconds=args.one_client_seconds)
            load["closed_loop"] = wrk_loops(spec, sessions, server.pid)
        load.pop("sessions", None)
        problems = server_log_problems(server_log)
        result = {
            "at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "pcn": pcn, "workers": args.workers, "clients": args.clients,
            "generator": ("taskset -c 1" if shutil.which("taskset") else "unpinned")
            + f"; closed loop by {args.generator}",
            "server_log_problems": len(problems), "server_log_first_problems": problems[:5],
            "direct_sql": base_line, **load,
            "ratio_p50": {k: round(one_client[k]["p50_ms"] / base_line[k]["p50_ms"], 2)
                          for k in KINDS},
            "ratio_p50_python_client": {
                k: round(python[k]["p50_ms"] / base_line[k]["p50_ms"], 2) for k in KINDS},
            "ratio_p50_to_page_query": {
                k: round(one_client[k]["p50_ms"] / base_line["page_only"]["p50_ms"], 2)
                for k in KINDS},
        }
        # every 200: the one-client passes, the two size requests and the closed loops
        made = sum(python[k]["requests"] - python[k]["errors"] + 2
                   + load["closed_loop"][k]["answered_with_warmup"]
                   + (one_client[k]["answered_with_warmup"] if use_wrk else 0)
                   for k in KINDS)
        # wrk stops each loop (warm-up, counted) with up to one request per connection in
        # flight: the server still answers and audits those, but wrk never counts them
        unseen = 2 * (args.clients + 1) * len(KINDS) if use_wrk else 0
        added = audited(args.url) - before
        result["audit"] = {"view_worklist_entries_added": added, "views_answered": made,
                           "in_flight_at_loop_ends_at_most": unseen,
                           "every_answer_audited": made <= added <= made + unseen}
        print(json.dumps(result, indent=2))
        print(table(result))
    finally:
        stop_server(server, server_log)
        shutil.rmtree(logs, ignore_errors=True)


if __name__ == "__main__":
    main()
