"""Benchmark: patients' own pages (/my) under load, on PostgreSQL with the 200,000-patient
demo, alone or beside the coordinators' load of bench/web_load.py.

    .venv/bin/python bench/patient_load.py --url postgresql+psycopg2://…/store
                                           [--patients 100] [--seconds 60] [--warm-up 10]
                                           [--workers 4] [--with-coordinators] [--users 50]
                                           [--clients 20] [--closed-seconds 30]

The store given by --url is loaded and projected (`guardian demo`, `guardian project`).
Set-up, not timed: picks `--patients` patients with open pathways from the worklist read
model, starts a patient session for each straight in the store (sessions.start, as the
code sign-in does) and signs its id into the `guardian_patient` cookie with the server's
key, then starts `guardian serve --workers N` (bench/web_load.py's start_server).

Load, from separate processes held to one core (`taskset -c 1`), all starting together:
- each simulated patient, in a closed loop with ~1 s think time (0.5–1.5 s): GET /my, then
  one of their own open referrals (/my/referrals/{provider}/{pathway_id}); the patients'
  first requests are spread over the first 1.5 s;
- with --with-coordinators, bench/web_load.py's load beside them, as web_load runs it: its
  open loop (`--users` demo coordinators, 1–3 s think time, worklist / patient / search)
  over the same seconds, then its closed loop (`--clients` clients asking for worklist
  pages back to back for `--closed-seconds`) while the patients go on.

The first `--warm-up` seconds run the same load and are reported apart ("cold_start"):
each server worker's first pages fill its caches (templates, names, expected waits) and
all simulated users start in the same instant. The figures against the targets are the
`--seconds` after it ("steady"). `targets` checks each on them: patients' pages p95 < 100
ms; the coordinators' worklist p95 < 150 ms, patient page and search p95 < 100 ms (web_load's
targets), no errors. The closed loop beside the patients is reported, not held to those
targets (`targets`' docstring says why): its requests/s, the patients' and their sum, and
the patients' pages meanwhile ("during_closed_loop"). web_load's own closed-loop target
(≥ 100 requests/s) is measured by web_load alone.

Baseline, same run: what the patient page reads (app.get_patient and the referrals'
status, as the route builds them) for the same patients, in one process with no HTTP,
session, audit or template; the ratios say what the web layer adds. Results in
bench/README.md, "Patients' own pages under load".
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
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

import web_load  # noqa: E402 - bench/ on the path first

SECRET = "bench-patient-key"
COORDINATOR = "coordinator@demo.invalid"
TARGET_PATIENT_P95 = 100.0  # ms
# web_load's targets (bench/web_load.py, bench/README.md)
TARGET_COORDINATOR_P95 = {"worklist": 150.0, "patient": 100.0, "search": 100.0}
# web_load's open loop ends with each coordinator's last think time (1–3 s), so its closed
# loop starts up to this much after the open loop's seconds: the patients' phase beside it
# starts as late.
CLOSED_LAG = 3.0  # seconds


def summary(values: list[float]) -> dict:
    return {**web_load.summary(values), "p99_ms": round(web_load.pct(values, 0.99), 1)}


# ---------------------------------------------------------------------------- generators


async def patient(client, referrals: list[str], until: float, out: dict,
                  rng: random.Random) -> None:
    """One patient: their referrals page, then one of their referrals, ~1 s apart."""
    import httpx

    kind = "my"
    # Patients arrive spread over the first think time, not all in the same instant.
    await asyncio.sleep(rng.uniform(0.0, 1.5))
    while time.monotonic() < until:
        url = "/my" if kind == "my" else rng.choice(referrals)
        t = time.perf_counter()
        try:
            r = await client.get(url)
            ok = r.status_code == 200
        except httpx.HTTPError:
            ok, r = False, None
        out[kind].append((time.perf_counter() - t) * 1000)
        if not ok:
            out["errors"].append(f"{url}: {r.status_code if r is not None else 'failed'}")
        kind = "referral" if kind == "my" else "my"
        await asyncio.sleep(rng.uniform(0.5, 1.5))


async def wait_for(start_at: float) -> float:
    """Sleep until the wall-clock start shared by the generators; the monotonic start."""
    await asyncio.sleep(max(0.0, start_at - time.time()))
    return time.monotonic()


def phases(warm_up: float, seconds: float, closed_seconds: float) -> dict[str, tuple]:
    """The spans of the run, in seconds from its start, that are reported apart."""
    spans = {"cold_start": (0.0, warm_up), "steady": (warm_up, warm_up + seconds)}
    if closed_seconds:
        begin = warm_up + seconds + CLOSED_LAG
        spans["during_closed_loop"] = (begin, begin + closed_seconds)
    return spans


async def patients_load(base: str, patients: list[dict], warm_up: float, seconds: float,
                        closed_seconds: float, start_at: float) -> dict:
    import httpx

    # Each patient's client made before the clock starts (making one takes tens of ms of
    # the generator's one core: a hundred of them would hold up the first requests).
    clients = [httpx.AsyncClient(base_url=base, cookies={"guardian_patient": p["cookie"]},
                                 timeout=30, follow_redirects=False) for p in patients]
    started = await wait_for(start_at)
    out: dict = {"my": web_load.Timed(started), "referral": web_load.Timed(started), "errors": []}
    until = started + warm_up + seconds + (closed_seconds + CLOSED_LAG if closed_seconds else 0)
    await asyncio.gather(*[patient(clients[i], p["referrals"], until, out, random.Random(i))
                           for i, p in enumerate(patients)])
    for client in clients:
        await client.aclose()
    result: dict = {"patients": len(patients), "errors": len(out["errors"]),
                    "error_examples": out["errors"][:5]}
    for phase, (start, end) in phases(warm_up, seconds, closed_seconds).items():
        my, referral = out["my"].between(start, end), out["referral"].between(start, end)
        result[phase] = {"seconds": end - start, "my": summary(my),
                         "referral": summary(referral),
                         "requests_per_s": round((len(my) + len(referral)) / (end - start), 1)}
    result["p95_ms_by_5_s"] = [
        summary(out["my"].between(w, w + 5) + out["referral"].between(w, w + 5))["p95_ms"]
        for w in range(0, int(until - started), 5)]
    return result


async def coordinators_load(base: str, password: str, users: int, clients: int,
                            warm_up: float, seconds: float, closed_seconds: float,
                            pcns: list[str], start_at: float) -> dict:
    """bench/web_load.py's load: its open loop (sign_in, search_terms, coordinator), then
    its closed loop (closed_loop), as web_load runs them."""
    import httpx

    cookies = []
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        for _ in range(max(users, clients)):
            client.cookies.clear()
            await web_load.sign_in(client, COORDINATOR, password)
            cookies.append(dict(client.cookies))
        terms = await web_load.search_terms(client, pcns, random.Random(11))
    started = await wait_for(start_at)
    kinds = ("worklist", "patient", "search")
    out: dict = {**{kind: web_load.Timed(started) for kind in kinds}, "errors": []}
    await asyncio.gather(*[web_load.coordinator(base, cookies[i], started + warm_up + seconds,
                                                out, random.Random(i), terms)
                           for i in range(users)])
    result: dict = {"users": users, "errors": len(out["errors"]),
                    "error_examples": out["errors"][:5]}
    for phase, (start, end) in phases(warm_up, seconds, 0).items():
        result[phase] = {kind: summary(out[kind].between(start, end)) for kind in kinds}
    if closed_seconds:
        # The closed loop starts when the open loop's last users have finished their
        # requests: at most a few seconds after its planned start.
        closed: list[float] = []
        closed_errors: list[str] = []
        begun = time.monotonic()
        rng = random.Random(7)
        await asyncio.gather(*[web_load.closed_loop(base, cookies[i], begun + closed_seconds,
                                                    closed, closed_errors, rng)
                               for i in range(clients)])
        elapsed = time.monotonic() - begun
        result["closed_loop"] = {"clients": clients, "requests": len(closed),
                                 "requests_per_s": round(len(closed) / elapsed, 1),
                                 "starts_late_s": round(begun - started - warm_up - seconds,
                                                        1),
                                 "errors": len(closed_errors), **summary(closed)}
    return result


def targets(patients: dict, coordinators: dict | None) -> dict:
    """Each target and whether this run met it, on the steady seconds: the patients' pages
    beside the coordinators at work (bench/README.md). The closed loop is reported beside
    them, not held to a latency target: twenty clients asking back to back keep the server
    saturated by design, so every page's time then measures the queue they make."""
    checks = {f"patients {kind} p95 < {TARGET_PATIENT_P95:g} ms (steady)":
              patients["steady"][kind]["p95_ms"] < TARGET_PATIENT_P95
              for kind in ("my", "referral")}
    checks["patients: no errors"] = patients["errors"] == 0
    if coordinators:
        for kind, limit in TARGET_COORDINATOR_P95.items():
            checks[f"coordinators {kind} p95 < {limit:g} ms (steady)"] = (
                coordinators["steady"][kind]["p95_ms"] < limit)
        closed = coordinators.get("closed_loop")
        checks["coordinators: no errors"] = coordinators["errors"] == 0 and (
            not closed or closed["errors"] == 0)
    out: dict = {"all_met": all(checks.values()), **checks}
    if coordinators and coordinators.get("closed_loop"):
        closed = coordinators["closed_loop"]
        out["saturated, reported"] = {
            "closed loop requests/s beside the patients": closed["requests_per_s"],
            "patients' requests/s beside it": patients["during_closed_loop"]["requests_per_s"],
            "served requests/s in all": round(
                closed["requests_per_s"] + patients["during_closed_loop"]["requests_per_s"], 1),
            "patients my p95 ms": patients["during_closed_loop"]["my"]["p95_ms"]}
    return out


def launch(spec: dict, env: dict) -> subprocess.Popen:
    """A load generator process, held to core 1 like web_load's."""
    cmd = [sys.executable, __file__, "--url", "-", "--generate", json.dumps(spec)]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "1", *cmd]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)


def collect(child: subprocess.Popen) -> dict:
    stdout, stderr = child.communicate()
    if child.returncode != 0:
        raise SystemExit(stderr[-3000:])
    return json.loads(stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------- set-up


def pick_patients(app, n: int) -> list[dict]:
    """`n` patients with open pathways in the worklist read model (the same ones every run:
    ordered by a hash of their id), each with a new session and its signed cookie."""
    from itsdangerous import Signer
    from sqlalchemy import func, select

    from guardian.patient_access import sessions
    from guardian.projections.worklist import worklist as w

    signer = Signer(SECRET, salt="guardian-patient")
    with app.engine.connect() as conn:
        chosen = select(w.c.patient_id).group_by(w.c.patient_id).order_by(
            func.md5(w.c.patient_id)).limit(n).subquery()
        rows = conn.execute(select(w.c.patient_id, w.c.provider, w.c.pathway_id)
                            .where(w.c.patient_id.in_(select(chosen.c.patient_id)))).all()
    referrals: dict[str, list[str]] = {}
    for pid, provider, pathway_id in rows:
        referrals.setdefault(pid, []).append(f"/my/referrals/{provider}/{pathway_id}")
    now = dt.datetime.now(dt.UTC)
    out = []
    for pid in sorted(referrals):
        from uuid import UUID

        raw = sessions.start(app.engine, UUID(hex=pid), "code", now)
        out.append({"id": pid, "cookie": signer.sign(raw).decode(),
                    "referrals": sorted(referrals[pid])})
    return out


def baseline(app, patients: list[dict], rounds: int = 3) -> dict:
    """What the page reads, per request, for the same patients: app.get_patient and the
    route's referrals as it builds them now (names and expected waits from the worker's
    caches, warm after the first round); and, for comparison, each referral's status read
    afresh (load_names, then referral_status with its connection: the expected wait
    counted again), as the route did before (bench/README.md)."""
    from types import SimpleNamespace
    from uuid import UUID

    from guardian.projections.name_queries import load_names
    from guardian.projections.status import referral_status
    from guardian.web.routes import my

    request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(guardian=app)))
    read, build, whole, fresh = [], [], [], []
    on = app.today()
    for _ in range(rounds):
        for p in patients:
            t = time.perf_counter()
            found = app.get_patient(UUID(hex=p["id"]))
            t1 = time.perf_counter()
            my._referrals(request, app, found)
            t2 = time.perf_counter()
            with app.engine.connect() as conn:
                names = load_names(conn)
                for pathway in found.pathways.values():
                    referral_status(found, pathway.provider, pathway.pathway_id, on, conn=conn,
                                    table=app.settings.standards, names=names)
            t3 = time.perf_counter()
            read.append((t1 - t) * 1000)
            build.append((t2 - t1) * 1000)
            whole.append((t2 - t) * 1000)
            fresh.append((t1 - t + t3 - t2) * 1000)
    return {"get_patient": summary(read), "referrals": summary(build),
            "page_reads": summary(whole), "page_reads_uncached": summary(fresh)}


def server_cpu_seconds(server: subprocess.Popen) -> float | None:
    """CPU seconds used so far by `guardian serve` and its workers (None without psutil)."""
    try:
        import psutil
    except ImportError:
        return None
    root = psutil.Process(server.pid)
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def ratio(a: float, b: float) -> float | None:
    return round(a / b, 1) if b else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="an existing, loaded PostgreSQL store")
    parser.add_argument("--patients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60, help="counted, after the warm-up")
    parser.add_argument("--warm-up", type=float, default=10, help="run, reported apart")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--with-coordinators", action="store_true",
                        help="bench/web_load.py's coordinators alongside")
    parser.add_argument("--users", type=int, default=50, help="coordinators, when alongside")
    parser.add_argument("--clients", type=int, default=20,
                        help="web_load's closed-loop clients, when alongside")
    parser.add_argument("--closed-seconds", type=float, default=30,
                        help="web_load's closed loop, when alongside (0: none)")
    parser.add_argument("--generate", help=argparse.SUPPRESS)  # a pinned child's mode
    args = parser.parse_args()
    if args.generate:
        spec = json.loads(args.generate)
        role = spec.pop("role")
        run = patients_load if role == "patients" else coordinators_load
        print(json.dumps(asyncio.run(run(**spec))), flush=True)
        return

    from guardian import users
    from guardian.bootstrap import build_app
    from guardian.config import Settings

    var = Path(tempfile.mkdtemp(prefix="guardian-patientload-"))
    env = {**os.environ, "GUARDIAN_VAR_DIR": str(var), "GUARDIAN_SECRET_KEY": SECRET,
           "GUARDIAN_DATABASE_URL": args.url}
    app = build_app(Settings(database_url=args.url, var_dir=var, secret_key=SECRET))
    with app.engine.connect() as conn:  # the planner's statistics, as in web_load
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    chosen = pick_patients(app, args.patients)
    password, pcns = None, []
    closed_seconds = args.closed_seconds if args.with_coordinators else 0
    if args.with_coordinators:
        password = secrets.token_urlsafe(12)
        users.ensure_demo_users(app.engine, var)
        users.reset_password(app.engine, COORDINATOR, password)
        pcns = sorted(users.find_user(app.engine, COORDINATOR).orgs)
    server, port, server_log = web_load.start_server(env, args.workers, var)
    try:
        direct = baseline(app, chosen)
        base = f"http://127.0.0.1:{port}"
        start_at = time.time() + (30 if args.with_coordinators else 3)
        timing = {"warm_up": args.warm_up, "seconds": args.seconds,
                  "closed_seconds": closed_seconds, "start_at": start_at}
        children = [launch({"role": "patients", "base": base, "patients": chosen,
                            **timing}, env)]
        if args.with_coordinators:
            children.append(launch({"role": "coordinators", "base": base,
                                    "password": password, "users": args.users,
                                    "clients": args.clients, "pcns": pcns, **timing}, env))
        time.sleep(max(0.0, start_at + args.warm_up - time.time()))  # sign-ins, warm-up
        cpu_before = server_cpu_seconds(server)
        time.sleep(args.seconds)
        cpu = server_cpu_seconds(server)  # the steady seconds' CPU
        loads = [collect(child) for child in children]
        patients = loads[0]
        coordinators = loads[1] if args.with_coordinators else None
        steady = patients["steady"]
        served = steady["requests_per_s"] * args.seconds + (sum(
            coordinators["steady"][k]["n"] for k in ("worklist", "patient", "search"))
            if coordinators else 0)
        problems = web_load.server_log_problems(server_log)
        page = direct["page_reads"]
        result = {
            "server_log_problems": len(problems), "server_log_first_problems": problems[:5],
            "workers": args.workers, "load_average_after": os.getloadavg(),
            "server_cpu_ms_per_request": round((cpu - cpu_before) * 1000 / served, 1)
            if cpu is not None and served else None,
            "generator": "taskset -c 1" if shutil.which("taskset") else "unpinned",
            "baseline_direct": direct, "patients_load": patients,
            "targets": targets(patients, coordinators),
            **{f"{kind}_{p}_vs_direct_{p}": ratio(steady[kind][f"{p}_ms"], page[f"{p}_ms"])
               for kind in ("my", "referral") for p in ("p50", "p95")},
        }
        if coordinators:
            result["coordinators_load"] = coordinators
        print(json.dumps(result, indent=2))
    finally:
        web_load.stop_server(server, server_log)
        app.close()
        shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    main()
