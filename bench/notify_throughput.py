"""Benchmark: notification sending throughput, queued e-mail to a local SMTP sink.

    .venv/bin/python bench/notify_throughput.py [--url URL | --postgres] [--count 100000]
        [--baseline-count N] [--profile FILE] [--json FILE]

In one run, on a fresh store (default: a SQLite file in a temporary directory; `--postgres`
makes a throwaway database on 127.0.0.1:5432 and drops it after):

1. set-up, not timed: `guardian db init`, the demo (`load_demo`, 2,000 patients: it loads
   the shipped organisations), the wait-time sweep over it (which records the breaches), one
   coordinator for every PCN, and `count` rows inserted directly into `notifications` — kind
   `breach`, channel `email`, `user:<id>`, each about an open pathway and carrying the
   context the outbox makes (`kinds.notices_for` of a real `WaitBreached` event plus
   `Directory.pathway_context`), queued and due now. The outbox's
   position is put at the head of the log, so the dispatcher sends these rows only (the
   demo's own events make no rows);
2. a local SMTP sink (aiosmtpd) in its own process, so that its CPU does not share the
   dispatcher's GIL (the machine has 2 cores), counting the messages it accepts;
3. **baseline**: one smtplib connection sending the same messages in a loop, already made
   (each distinct row checked, composed and turned into its bytes as the dispatcher does,
   before the clock starts), no database (`--baseline-count` messages, default all);
4. **measured**: `Dispatcher(app).run_once()` — claims, checks, composes, renders, sends and
   records every row — with this process's RSS sampled every second on a thread.

Checks that the sink received exactly `count` messages in the measured run and that every
row is `sent`, and that memory is flat (RSS grows by at most FLAT_MB from a tenth of the
way through the run to its end). Target: ≥ 500 messages/s with flat memory.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import multiprocessing as mp
import os
import smtplib
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

DEMO_PATIENTS = 2000
SEED = 20221
INSERT_BATCH = 5000
MB = 1024 * 1024
# "Flat memory": from a tenth of the way through the run to its end, the dispatcher's RSS
# grows by at most this much (what it holds must not grow with the messages sent).
FLAT_MB = 20


# ---------------------------------------------------------------------- the SMTP sink
def _sink_main(port: int, counter, ready, stop) -> None:  # the sink's own process
    from aiosmtpd.controller import Controller

    class Count:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
            with counter.get_lock():
                counter.value += 1
            return "250 OK"

    controller = Controller(Count(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


class Sink:
    """An aiosmtpd server in a separate process; `count` is what it has accepted."""

    def __init__(self) -> None:
        ctx = mp.get_context("spawn")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.counter = ctx.Value("q", 0)
        self.ready, self.stop = ctx.Event(), ctx.Event()
        self.process = ctx.Process(target=_sink_main, daemon=True,
                                   args=(self.port, self.counter, self.ready, self.stop))

    def __enter__(self) -> Sink:
        self.process.start()
        if not self.ready.wait(30):
            raise SystemExit("the SMTP sink did not start")
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.process.join(10)

    @property
    def count(self) -> int:
        return self.counter.value

    def wait_for(self, expected: int, timeout: float = 30) -> int:
        """The count once it reaches `expected` (the last messages may still be counted)."""
        end = time.monotonic() + timeout
        while self.count < expected and time.monotonic() < end:
            time.sleep(0.05)
        return self.count


# ---------------------------------------------------------------------- memory over time
class RssSampler(threading.Thread):
    """This process's resident set size every `every` seconds, from start to stop."""

    def __init__(self, every: float = 1.0):
        super().__init__(daemon=True)
        import psutil

        self.process = psutil.Process()
        self.every = every
        self.samples: list[tuple[float, int]] = []
        self.halt = threading.Event()
        self.started_at = time.monotonic()

    def sample(self) -> None:
        self.samples.append((time.monotonic() - self.started_at,
                             self.process.memory_info().rss))

    def run(self) -> None:
        while not self.halt.is_set():
            self.sample()
            self.halt.wait(self.every)

    def finish(self) -> list[tuple[float, int]]:
        self.halt.set()
        self.join()
        self.sample()
        return self.samples


# ---------------------------------------------------------------------- set-up
def open_store(url: str, smtp_port: int):
    from guardian.bootstrap import build_app, init_database
    from guardian.config import Settings

    app = build_app(Settings(database_url=url, smtp_url=f"smtp://127.0.0.1:{smtp_port}",
                             secret_key="bench-notify-throughput",
                             mail_from="Guardian Service <guardian@bench.invalid>"))
    init_database(app)
    return app


def breach_contexts(app) -> list[dict]:
    """(patient id, provider, pathway id, context) for every demo breach on a pathway still
    open, the context made as the outbox makes it."""
    from guardian.notifications.kinds import notices_for
    from guardian.notifications.recipients import Directory

    topic = ("guardian.Patient.WaitBreached",)
    events, start = [], 1
    head = int(app.recorder.max_notification_id() or 0)
    while start <= head:
        found = app.recorder.select_notifications(start=start, limit=1000, stop=head,
                                                  topics=topic)
        if not found:
            break
        events += [app.mapper.to_domain_event(n) for n in found]
        start = found[-1].id + 1
    patients = app.load_patients({e.originator_id for e in events})
    directory = Directory(app.engine, app.settings)
    out = []
    for event in events:
        patient = patients[event.originator_id]
        pathway = patient.pathway(event.provider, event.pathway_id)
        if not pathway.is_open:
            continue
        for notice in notices_for(event, event.breach_on):  # recorded on the day: news
            out.append({"patient_id": patient.id.hex, "provider": pathway.provider,
                        "pathway_id": pathway.pathway_id,
                        "context": json.dumps({**notice.context,
                                               **directory.pathway_context(pathway)},
                                              sort_keys=True)})
    if not out:
        raise SystemExit("the demo has no breach on an open pathway to notify about")
    return out


def prepare(app, count: int) -> dict:
    """The demo, a coordinator of every PCN, `count` queued rows; the outbox at the head."""
    from sqlalchemy import insert, select

    from guardian.demo import load_demo
    from guardian.notifications.outbox import POSITION
    from guardian.notifications.schema import QUEUED, notifications
    from guardian.orgs import organisations
    from guardian.projections.tracking import PositionRecorder
    from guardian.users import add_user
    from guardian.waits import check_waits

    started = time.monotonic()
    demo = load_demo(app, patients=DEMO_PATIENTS, seed=SEED)
    breaches = check_waits(app, app.today()).summary()  # the sweep records WaitBreached
    with app.engine.connect() as conn:
        pcns = sorted(set(conn.execute(select(organisations.c.pcn_code)).scalars()))
    user, _ = add_user(app.engine, "coordinator@bench.invalid", "coordinator", pcns,
                       password="bench-password-1", display_name="Bench Coordinator")
    about = breach_contexts(app)
    now = app.now()
    recipient = f"user:{user.id}"
    with app.engine.begin() as conn:
        for start in range(0, count, INSERT_BATCH):
            conn.execute(insert(notifications), [
                {**about[i % len(about)], "key": f"bench:{i}|breach|{recipient}|email",
                 "kind": "breach", "channel": "email", "recipient": recipient,
                 "user_id": user.id, "created_at": now, "due_at": now, "status": QUEUED,
                 "attempts": 0}
                for i in range(start, min(count, start + INSERT_BATCH))])
    positions = PositionRecorder(app.engine)
    positions.ensure(POSITION)
    head = int(app.recorder.max_notification_id() or 0)
    with app.engine.begin() as conn:
        PositionRecorder.advance(conn, POSITION, positions.max_tracking_id(POSITION) or 0, head)
    return {"demo_patients": demo["patients"], "sweep": breaches,
            "breaches_on_open_pathways": len(about),
            "pcns": len(pcns), "setup_seconds": round(time.monotonic() - started, 1)}


# ---------------------------------------------------------------------- the two runs
def the_messages(app, count: int) -> list[bytes]:
    """The queued rows as the dispatcher would put them on the wire (checked, composed,
    `mime_bytes`), one for each distinct row: the rows cycle through the demo's breaches, so
    row i's message is `messages[i % len(messages)]` but for its Message-ID."""
    from uuid import UUID

    from sqlalchemy import select

    from guardian.notifications.channels.email import mime_bytes
    from guardian.notifications.checks import Checks
    from guardian.notifications.compose import compose
    from guardian.notifications.schema import notifications

    distinct = min(count, len(breach_contexts(app)))
    with app.engine.connect() as conn:
        rows = conn.execute(select(notifications).order_by(notifications.c.id)
                            .limit(distinct)).all()
    checks = Checks(app)
    world = checks.world()
    patients = app.load_patients({UUID(hex=r.patient_id) for r in rows})
    out = []
    for row in rows:
        patient = patients[UUID(hex=row.patient_id)]
        verdict = checks.verdict(row, patient)
        message = compose(row, patient, world, verdict.address, verdict.extra)
        out.append(mime_bytes(message, app.settings.mail_from, row.key))
    return out


def baseline(port: int, n: int, sink: Sink, messages: list[bytes]) -> dict:
    """A bare loop: one connection sending the same messages, already made, `n` of them."""
    before = sink.count
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        for i in range(n):
            smtp.sendmail("guardian@bench.invalid", ["coordinator@bench.invalid"],
                          messages[i % len(messages)])
    seconds = time.perf_counter() - started
    received = sink.wait_for(before + n) - before
    if received != n:
        raise SystemExit(f"baseline: the sink received {received:,} of {n:,} messages")
    return {"messages": n, "distinct": len(messages), "seconds": round(seconds, 2),
            "per_second": round(n / seconds),
            "bytes_per_message": round(sum(map(len, messages)) / len(messages))}


def measured(app, count: int, sink: Sink, profile: str | None) -> dict:
    from sqlalchemy import func, select

    from guardian.notifications.dispatcher import Dispatcher
    from guardian.notifications.schema import notifications

    before = sink.count
    sampler = RssSampler()
    sampler.start()
    profiler = cProfile.Profile() if profile else None
    cpu = os.times()
    started = time.perf_counter()
    with profiler or contextlib.nullcontext():
        report = Dispatcher(app).run_once()
    seconds = time.perf_counter() - started
    cpu_after = os.times()
    cpu_s = (cpu_after.user - cpu.user) + (cpu_after.system - cpu.system)
    samples = sampler.finish()
    if profiler is not None:
        profiler.dump_stats(profile)
    received = sink.wait_for(before + count) - before
    with app.engine.connect() as conn:
        states = dict(conn.execute(select(notifications.c.status, func.count())
                                   .group_by(notifications.c.status)).all())
    problems = []
    if received != count:
        problems.append(f"the sink received {received:,} messages, not {count:,}")
    if states != {"sent": count}:
        problems.append(f"rows by state: {states}")
    rss = [r for _, r in samples]
    settled = rss[len(rss) // 10]
    growth = round((max(rss[len(rss) // 10:]) - settled) / MB, 1)
    if growth > FLAT_MB:
        problems.append(f"memory is not flat: RSS grew {growth} MB after the first tenth "
                        f"of the run (at most {FLAT_MB})")
    return {"messages": report.sent, "seconds": round(seconds, 2),
            # the dispatcher's own CPU (all its threads) per message sent
            "cpu_ms_per_message": round(cpu_s * 1000 / max(1, report.sent), 2),
            "per_second": round(report.sent / seconds), "report": report.summary(),
            "received": received, "states": states, "problems": problems,
            "rss_start_mb": round(rss[0] / MB), "rss_peak_mb": round(max(rss) / MB),
            "rss_end_mb": round(rss[-1] / MB), "rss_growth_after_first_tenth_mb": growth,
            "rss_mb_over_time": [(round(t), round(r / MB)) for t, r in samples]}


# ---------------------------------------------------------------------- output
def table(backend: str, base: dict, run: dict) -> str:
    ratio = run["per_second"] / base["per_second"]
    rows = [("backend", backend), ("messages", f"{run['messages']:,}"),
            ("seconds", f"{run['seconds']:.1f}"), ("msg/s", f"{run['per_second']:,}"),
            ("baseline msg/s", f"{base['per_second']:,} (bare loop, {base['messages']:,} "
                               "messages)"),
            ("ratio", f"{ratio:.2f}"),
            ("dispatcher CPU", f"{run['cpu_ms_per_message']} ms a message"),
            ("RSS start/peak/end", f"{run['rss_start_mb']} / {run['rss_peak_mb']} / "
                                   f"{run['rss_end_mb']} MB")]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def memory_line(samples: list[tuple[int, int]], points: int = 12) -> str:
    step = max(1, len(samples) // points)
    picked = samples[::step] + ([samples[-1]] if (len(samples) - 1) % step else [])
    return "RSS over time (s: MB): " + ", ".join(f"{t}: {r}" for t, r in picked)


def run(url: str, backend: str, count: int, baseline_count: int, profile: str | None) -> dict:
    with Sink() as sink:
        app = open_store(url, sink.port)
        try:
            setup = prepare(app, count)
            print(f"set-up: {setup}", flush=True)
            base = baseline(sink.port, baseline_count, sink, the_messages(app, count))
            print(f"baseline: {base}", flush=True)
            result = measured(app, count, sink, profile)
        finally:
            app.engine.dispose()
    print(table(backend, base, result))
    print(memory_line(result["rss_mb_over_time"]))
    verdict = "target met" if result["per_second"] >= 500 else "BELOW the 500 msg/s target"
    print(f"{verdict}; " + ("; ".join(result["problems"]) or
                           f"sink received {result['received']:,}, every row sent"))
    return {"backend": backend, "setup": setup, "baseline": base, "measured": result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--postgres", action="store_true",
                        help="a throwaway database on 127.0.0.1:5432, dropped after")
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--baseline-count", type=int,
                        help="messages the bare loop sends (default: --count)")
    parser.add_argument("--profile", help="write the measured run's cProfile stats here")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    count, base_n = args.count, args.baseline_count or args.count
    if args.postgres:
        from import_ptl import fresh_postgres

        url, _, drop = fresh_postgres()
        try:
            out = run(url, "PostgreSQL", count, base_n, args.profile)
        finally:
            drop()
    elif args.url:
        out = run(args.url, "PostgreSQL" if args.url.startswith("postgres") else "SQLite",
                  count, base_n, args.profile)
    else:
        with tempfile.TemporaryDirectory(prefix="guardian-bench-notify-") as tmp:
            out = run(f"sqlite:///{tmp}/guardian.sqlite", "SQLite", count, base_n,
                      args.profile)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=2, default=str) + "\n")
    if out["measured"]["problems"]:
        sys.exit(1)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
