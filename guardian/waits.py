"""The wait-time sweep (`guardian check-waits`) and the Waiting Well check-in job.

Both are use cases over many patients, run by the scheduler and from the command line:

* **Candidates come from the worklist's indexed columns, not from loading every aggregate.**
  Each worklist row carries `sweep_due_on`, the first day on which the sweep has something
  to record for that pathway (a breach, an at-risk warning, a withdrawal), and
  `check_in_next_on`, the first day a check-in falls due. A sweep on day D loads only the
  patients of rows due on or before D, in batches.
* **Stopped and closed pathways have no worklist row**, yet a correction can make a breach
  recorded on one of them untrue (a clock stop reported late, dated before the breach day).
  So the sweep also loads the patients that have a recorded breach and any event since the
  last sweep's position in the notification log.
* **The aggregate decides** (`Patient.check_waits`, `Patient.check_ins`): each breach once
  per pathway × standard × subject, dated on its breach day; each at-risk warning once
  per window; withdrawals. So a rerun, or a sweep killed halfway and rerun, records each
  thing exactly once, and a sweep after downtime dates what it finds on the true days.
* **The clock never goes backwards**: each job keeps the last as-of date it ran for in
  `sweep_runs`; a sweep for an earlier date records nothing.
* Events are written in batches with the import's bulk path (`save_patients`), and a batch
  that meets a concurrent writer is reloaded and redone.
* Commands that read read models bring them up to date first (docs/cli.md); the sweep also
  projects its own events before it returns, so the next sweep starts from current rows.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError
from sqlalchemy import BigInteger, Column, Date, DateTime, String, Table, func, select

from guardian.domain.patient import events as ev
from guardian.projections.worklist import NAME as WORKLIST
from guardian.projections.worklist import worklist
from guardian.projections.worklist_order import refresh_urgency
from guardian.store import EVENTS_TABLE, dialect_insert, metadata

log = logging.getLogger("guardian.waits")

# The last run of each job: the as-of date (a sweep for an earlier date records nothing) and
# the notification position up to which corrections were looked for.
sweep_runs = Table(
    "sweep_runs",
    metadata,
    Column("job", String(32), primary_key=True),
    Column("last_as_of", Date, nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

WAITS = "check-waits"
CHECK_INS = "check-ins"
BATCH = 500
BREACHED = ev.WaitBreached.TOPIC
# Events the jobs write themselves: they never make a recorded breach untrue.
OWN_TOPICS = tuple(e.TOPIC for e in (ev.WaitBreached, ev.StepAtRisk, ev.BreachWithdrawn,
                                     ev.CheckInDue))
ATTEMPTS = 3


@dataclass
class SweepResult:
    job: str
    as_of: dt.date
    checked: int = 0  # open pathways considered (worklist rows)
    candidates: int = 0  # patients loaded
    breaches_recorded: int = 0
    at_risk: int = 0
    withdrawn: int = 0
    check_ins_due: int = 0
    keys_refreshed: int = 0  # worklist rows given the day's urgency key (docs/rules.md §11)
    skipped: str | None = None  # why nothing was recorded (an as-of before the last run)
    seconds: float = 0.0

    def as_json(self) -> dict[str, int]:
        """The `--json` object of this job (docs/cli.md)."""
        if self.job == WAITS:
            return {"checked": self.checked, "breaches_recorded": self.breaches_recorded,
                    "at_risk": self.at_risk}
        return {"checked": self.checked, "check_ins_due": self.check_ins_due}

    def summary(self) -> dict[str, Any]:
        """Every count, for logs and the scheduler's run table."""
        out: dict[str, Any] = {"as_of": self.as_of.isoformat(), "checked": self.checked,
                               "candidates": self.candidates}
        if self.job == WAITS:
            out.update(breaches_recorded=self.breaches_recorded, at_risk=self.at_risk,
                       withdrawn=self.withdrawn, urgency_keys_refreshed=self.keys_refreshed)
        else:
            out.update(check_ins_due=self.check_ins_due)
        if self.skipped:
            out["skipped"] = self.skipped
        out["seconds"] = round(self.seconds, 3)
        return out

    def describe(self) -> str:
        if self.skipped:
            return self.skipped
        if self.job == WAITS:
            done = (f"{self.breaches_recorded} breaches recorded, {self.at_risk} at risk, "
                    f"{self.withdrawn} withdrawn")
        else:
            done = f"{self.check_ins_due} check-ins due"
        return (f"{self.job} as of {self.as_of.isoformat()}: {self.checked} open pathways "
                f"checked, {self.candidates} patients loaded; {done} ({self.seconds:.1f} s)")


def check_waits(app: Any, as_of: dt.date, batch: int = BATCH) -> SweepResult:
    """The wait-time sweep on `as_of` (docs/rules.md §3, §4; docs/cli.md `check-waits`)."""
    standards = app.settings.standards

    def act(patient: Any, result: SweepResult) -> None:
        changes = patient.check_waits(as_of, standards)
        result.breaches_recorded += changes.breaches
        result.at_risk += changes.at_risk
        result.withdrawn += changes.withdrawn

    return _run(app, WAITS, as_of, worklist.c.sweep_due_on, act, batch, corrections=True)


def check_ins(app: Any, as_of: dt.date, batch: int = BATCH) -> SweepResult:
    """Record the Waiting Well check-ins due by `as_of` (docs/rules.md §8)."""
    schedule = app.settings.check_in_schedule

    def act(patient: Any, result: SweepResult) -> None:
        result.check_ins_due += patient.check_ins(as_of, schedule)

    return _run(app, CHECK_INS, as_of, worklist.c.check_in_next_on, act, batch,
                corrections=False)


def last_runs(engine: Any) -> dict[str, dict[str, Any]]:
    """Each job's last as-of date and scanned position."""
    with engine.connect() as conn:
        return {job: {"last_as_of": last, "position": position}
                for job, last, position in conn.execute(
                    select(sweep_runs.c.job, sweep_runs.c.last_as_of, sweep_runs.c.position))}


# ---------------------------------------------------------------------------- internals


def _run(
    app: Any,
    job: str,
    as_of: dt.date,
    column: Any,
    act: Callable[[Any, SweepResult], None],
    batch: int,
    corrections: bool,
) -> SweepResult:
    from guardian.projections.registry import runner_for

    started = time.perf_counter()
    result = SweepResult(job, as_of)
    runner = runner_for(app)
    runner.run_once()  # the candidates come from the worklist: bring it up to date
    last = last_runs(app.engine).get(job)
    if last is not None and as_of < last["last_as_of"]:
        result.skipped = (f"{job}: as of {as_of.isoformat()} is before the last run (as of "
                          f"{last['last_as_of'].isoformat()}); nothing recorded")
        log.warning(result.skipped)
        return result
    upto = runner.position(WORKLIST)
    with app.engine.connect() as conn:
        result.checked = conn.execute(select(func.count()).select_from(worklist)).scalar_one()
        due = conn.execute(select(worklist.c.patient_id).where(column <= as_of).distinct())
        ids = {UUID(h) for (h,) in due}
    if corrections:
        ids |= _corrected_patients(app, last["position"] if last else 0, upto)
    result.candidates = len(ids)
    ordered = sorted(ids)
    for start in range(0, len(ordered), batch):
        _apply(app, ordered[start : start + batch], act, result)
    runner.run_once()  # project what was recorded, so the next sweep starts from it
    if job == WAITS:
        # the day's urgency keys, so pages read them in index order (docs/rules.md §11)
        result.keys_refreshed = refresh_urgency(app.engine, worklist, app.today())
    _remember(app, job, as_of, upto)
    result.seconds = time.perf_counter() - started
    log.info(result.describe())
    return result


def _apply(app: Any, ids: list[UUID], act: Callable[[Any, SweepResult], None],
           result: SweepResult) -> None:
    """Load a batch of patients, let each decide, save all their events in one transaction.

    A batch that meets a concurrent writer (another command saved one of its patients in
    between) is rolled back whole, reloaded and redone.
    """
    for attempt in range(1, ATTEMPTS + 1):
        counts = SweepResult(result.job, result.as_of)
        patients = app.load_patients(ids)
        changed = []
        for patient in patients.values():
            act(patient, counts)
            if patient.pending_events:
                changed.append(patient)
        try:
            app.save_patients(changed)
        except IntegrityError:
            if attempt == ATTEMPTS:
                raise
            log.info("%s: %d patients changed meanwhile; reloading the batch", result.job,
                     len(ids))
            continue
        result.breaches_recorded += counts.breaches_recorded
        result.at_risk += counts.at_risk
        result.withdrawn += counts.withdrawn
        result.check_ins_due += counts.check_ins_due
        return


def _corrected_patients(app: Any, after: int, upto: int) -> set[UUID]:
    """Patients with a recorded breach and any other event in (after, upto].

    Breaches on stopped or closed pathways are not on the worklist; these are the patients
    whose recorded breaches a new fact may have made untrue.
    """
    if upto <= after:
        return set()
    table = EVENTS_TABLE
    mark = "%s" if app.engine.dialect.name == "postgresql" else "?"
    own = ", ".join([mark] * len(OWN_TOPICS))
    # One query: the planner joins the two sets (a first sweep after a large load touches
    # every patient; asking for their breaches a thousand patients at a time read the whole
    # log once per thousand).
    with app.engine.connect() as conn:
        cur = conn.connection.driver_connection.cursor()
        try:
            cur.execute(
                f"SELECT DISTINCT b.originator_id FROM {table} b WHERE b.topic = {mark} AND "
                f"b.originator_id IN (SELECT t.originator_id FROM {table} t WHERE t.id > {mark} "
                f"AND t.id <= {mark} AND t.topic NOT IN ({own}))",
                (BREACHED, after, upto, *OWN_TOPICS),
            )
            return {_uuid(row[0]) for row in cur.fetchall()}
        finally:
            cur.close()


def _remember(app: Any, job: str, as_of: dt.date, position: int) -> None:
    with app.engine.begin() as conn:
        current = conn.execute(
            select(sweep_runs.c.last_as_of).where(sweep_runs.c.job == job)).scalar()
        row = {"job": job, "last_as_of": max(as_of, current) if current else as_of,
               "position": position, "updated_at": dt.datetime.now(dt.UTC)}
        stmt = dialect_insert(conn, sweep_runs).values(**row)
        conn.execute(stmt.on_conflict_do_update(
            index_elements=["job"],
            set_={k: stmt.excluded[k] for k in ("last_as_of", "position", "updated_at")}))


def _uuid(value: Any) -> UUID:
    if isinstance(value, UUID):
        return value
    if isinstance(value, (bytes, memoryview)):
        return UUID(bytes=bytes(value))
    return UUID(str(value))

