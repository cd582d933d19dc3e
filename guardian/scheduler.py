"""`guardian scheduler`: the scheduled jobs, and the lock that lets one scheduler act per database.

Jobs (cron times in `GUARDIAN_TIMEZONE`, so 00:05 stays 00:05 across daylight saving):

| job | when | does |
| --- | --- | --- |
| `check-waits` | hourly at minute 5 (00:05 is the day's first) | the wait-time sweep, as of today |
| `check-ins` | daily at 00:15 | records the Waiting Well check-ins due today |
| `projection-lag` | every minute | logs the read models' lag (a warning past a minute) |
| `daily-summaries` | daily at 07:00 | queues the coordinators' daily summaries |
| `weekly-digests` | Fridays at 07:00 | queues the practices' weekly digests |

Every run logs its start, its end with counts and duration, and writes them to
`scheduler_runs` (guardian/job_runs.py: one row per job, plus a `leader` row with the acting
scheduler and its last heartbeat), which `/healthz` shows.

**One scheduler acts per database.** PostgreSQL: a session-level advisory lock, held on a
dedicated connection (not pooled) for the life of the process; the key is derived from the
database and schema. SQLite: `flock` on a lock file next to the database. Either way the
operating system or the server releases the lock when the process dies, however it dies. A
second scheduler stands by, retrying, and takes over; a scheduler that finds it no longer
holds its lock (the database connection went away) stops acting and exits with code 1.

**Downtime.** On taking over, each sweep job whose last run is older than its last
scheduled time runs once at once (coalesced: one catch-up run, not one per missed hour). A
breach missed during the outage is still dated on its breach day: the sweep dates what it
records from the standards, not from the day it runs.

For tests and demonstrations, `GUARDIAN_SCHEDULER_INTERVAL=N` runs every job every N seconds
instead of at its cron times. The summaries and digests are keyed by their day or week, so
running them again (every N seconds, or two catch-ups) adds no row (docs/notifications.md).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from guardian.job_runs import last_started, now_utc, write_run
from guardian.locks import (
    SCHEDULER_KEY,
    FileLock,
    PostgresLock,
    database_lock,
    runner_name,
)

log = logging.getLogger("guardian.scheduler")

LEADER = "leader"
WAITS_JOB = "check-waits"
CHECK_INS_JOB = "check-ins"
LAG_JOB = "projection-lag"
DAILY_JOB = "daily-summaries"
WEEKLY_JOB = "weekly-digests"
JOBS = (WAITS_JOB, CHECK_INS_JOB, LAG_JOB, DAILY_JOB, WEEKLY_JOB)
HEARTBEAT_SECONDS = 10.0
STANDBY_POLL_SECONDS = 5.0
LAG_WARNING_SECONDS = 60.0


# ---------------------------------------------------------------------------- the lock


def lock_for(engine: Engine) -> PostgresLock | FileLock:
    lock = database_lock(engine, SCHEDULER_KEY, ".scheduler-lock", "scheduler")
    if lock is None:
        raise RuntimeError("the scheduler needs a database file or PostgreSQL")
    return lock


# ---------------------------------------------------------------------------- the jobs


class Jobs:
    """The scheduled jobs of one scheduler process, each logged and recorded."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.runner = runner_name()

    def run(self, job: str, work: Callable[[], dict[str, Any]]) -> None:
        started, t = now_utc(), time.perf_counter()

        def record(status: str, seconds: float | None = None, summary: str | None = None
                   ) -> None:  # a run with seconds has finished
            write_run(self.app.engine, job=job, runner=self.runner, started_at=started,
                   finished_at=None if seconds is None else now_utc(), seconds=seconds,
                   status=status, summary=summary)

        log.info("job %s started", job)
        try:
            record("running")
            summary = work()
        except Exception as e:
            seconds = time.perf_counter() - t
            log.exception("job %s failed after %.2f s", job, seconds)
            try:
                record("failed", seconds, json.dumps({"error": f"{type(e).__name__}: {e}"}))
            except Exception:
                log.exception("could not record the failure of job %s", job)
            return
        seconds = time.perf_counter() - t
        log.info("job %s finished in %.2f s: %s", job, seconds, json.dumps(summary))
        record("ok", seconds, json.dumps(summary, default=str))

    def check_waits(self) -> None:
        from guardian.waits import check_waits

        self.run(WAITS_JOB, lambda: check_waits(self.app, self.app.today()).summary())

    def check_ins(self) -> None:
        from guardian.waits import check_ins

        self.run(CHECK_INS_JOB, lambda: check_ins(self.app, self.app.today()).summary())

    def projection_lag(self) -> None:
        from guardian.projections.registry import runner_for

        def work() -> dict[str, Any]:
            lag = runner_for(self.app).lag()
            for name, value in lag.items():
                seconds = value.get("seconds_behind")
                if value["events_behind"] and (seconds is None or seconds > LAG_WARNING_SECONDS):
                    log.warning("read model %s is %s events and %s s behind", name,
                                value["events_behind"], seconds)
            return lag

        self.run(LAG_JOB, work)

    def daily_summaries(self) -> None:
        from guardian.notifications.digests import make_daily_summaries, summary_day

        def work() -> dict[str, Any]:
            day = summary_day(self.app.now(), self.app.settings.zone)
            return {"day": day.isoformat(), "queued": make_daily_summaries(self.app, day)}

        self.run(DAILY_JOB, work)

    def weekly_digests(self) -> None:
        from guardian.notifications.digests import digest_week_ending, make_weekly_digests

        def work() -> dict[str, Any]:
            week = digest_week_ending(self.app.now(), self.app.settings.zone)
            return {"week_ending": week.isoformat(),
                    "queued": make_weekly_digests(self.app, week)}

        self.run(WEEKLY_JOB, work)


# ---------------------------------------------------------------------------- the scheduler


def _triggers(settings: Any) -> dict[str, Any]:
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    zone = settings.zone
    every = settings.scheduler_interval
    if every:
        return {name: IntervalTrigger(seconds=every, timezone=zone) for name in JOBS}
    return {
        WAITS_JOB: CronTrigger(minute=5, timezone=zone),
        CHECK_INS_JOB: CronTrigger(hour=0, minute=15, timezone=zone),
        LAG_JOB: IntervalTrigger(minutes=1, timezone=zone),
        DAILY_JOB: CronTrigger(hour=7, minute=0, timezone=zone),
        WEEKLY_JOB: CronTrigger(day_of_week="fri", hour=7, minute=0, timezone=zone),
    }


def missed_since(trigger: Any, last: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether a scheduled time passed since the last run (or it never ran)."""
    if last is None:
        return True
    due = trigger.get_next_fire_time(None, last.astimezone(now.tzinfo))
    return due is not None and due <= now


def run(settings: Any, stop: threading.Event | None = None, install_signals: bool = True
        ) -> int:
    """Stand by until this process holds the lock, then run the jobs until stopped.

    Returns the exit code: 0 when stopped (SIGTERM, SIGINT, `stop`), 1 when the lock was lost.
    """
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.blocking import BlockingScheduler

    from guardian.bootstrap import build_app

    stop = stop or threading.Event()
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # each job logs its own run
    app = build_app(settings)
    app.namespace  # noqa: B018 - refuse an uninitialised database before waiting
    every = settings.scheduler_interval
    poll = min(STANDBY_POLL_SECONDS, every) if every else STANDBY_POLL_SECONDS
    heartbeat = min(HEARTBEAT_SECONDS, every) if every else HEARTBEAT_SECONDS
    running: dict[str, Any] = {}

    def request_stop(*_: Any) -> None:
        stop.set()
        if "scheduler" in running:
            _shut_down_soon(running["scheduler"])

    if install_signals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, request_stop)

    lock = lock_for(app.engine)
    if not _stand_by(lock, stop, poll):
        app.close()
        return 0
    me = runner_name()
    log.info("scheduler %s now acts for this database", me)
    became = now_utc()

    def acting(at: dt.datetime) -> None:  # the leader row; its finished_at is the heartbeat
        write_run(app.engine, job=LEADER, runner=me, started_at=became, finished_at=at,
               seconds=None, status="acting", summary=None)

    acting(became)

    jobs = Jobs(app)
    scheduler = BlockingScheduler(
        timezone=settings.zone,
        executors={"default": ThreadPoolExecutor(1), "watch": ThreadPoolExecutor(1)},
        # One run after downtime however many were missed; never dropped for being late.
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
    )
    outcome = {"code": 0}

    def watch() -> None:
        if stop.is_set():
            _shut_down_soon(scheduler)
        elif not lock.held():
            log.error("scheduler %s lost its lock on the database; stopping", me)
            outcome["code"] = 1
            _shut_down_soon(scheduler)
        else:
            try:
                acting(now_utc())
            except Exception:
                log.warning("could not record the scheduler's heartbeat", exc_info=True)

    triggers = _triggers(settings)
    now = dt.datetime.now(settings.zone)
    work = {WAITS_JOB: jobs.check_waits, CHECK_INS_JOB: jobs.check_ins,
            LAG_JOB: jobs.projection_lag, DAILY_JOB: jobs.daily_summaries,
            WEEKLY_JOB: jobs.weekly_digests}
    for name in JOBS:
        catch_up = name != LAG_JOB and missed_since(triggers[name], last_started(app.engine, name),
                                                now)
        if catch_up:
            log.info("job %s missed a run (or never ran): running it now", name)
        extra = {"next_run_time": now} if catch_up else {}
        scheduler.add_job(work[name], triggers[name], id=name, name=name, **extra)
    scheduler.add_job(watch, "interval", seconds=heartbeat, id="watch", executor="watch")
    running["scheduler"] = scheduler
    try:
        if not stop.is_set():
            scheduler.start()  # blocks until shut down (a running job finishes first)
    finally:
        lock.release()
        app.close()
    log.info("scheduler %s stopped", me)
    return outcome["code"]


def _stand_by(lock: PostgresLock | FileLock, stop: threading.Event, poll: float) -> bool:
    """Retry the lock every `poll` seconds until this process holds it (True) or is
    stopped first (False)."""
    standing_by = False
    while not lock.acquire():
        if not standing_by:
            log.info("another scheduler acts for this database; standing by (retrying "
                     "every %g s)", poll)
            standing_by = True
        if stop.wait(poll):
            return False
    return True


def _shut_down_soon(scheduler: Any) -> None:
    """Shut the scheduler down from a thread of its own, letting a running job finish
    (never from a signal handler or a job's own thread, which it would wait for)."""
    from apscheduler.schedulers import SchedulerNotRunningError

    def shut() -> None:
        with contextlib.suppress(SchedulerNotRunningError):
            scheduler.shutdown(wait=True)

    threading.Thread(target=shut, name="scheduler-shutdown", daemon=True).start()


def start_in_thread(settings: Any) -> tuple[threading.Thread, threading.Event]:
    """Run the scheduler on a daemon thread (one process showing the whole system on
    SQLite); set the returned event to stop it."""
    stop = threading.Event()
    thread = threading.Thread(target=run, args=(settings, stop, False), name="scheduler",
                              daemon=True)
    thread.start()
    return thread, stop
