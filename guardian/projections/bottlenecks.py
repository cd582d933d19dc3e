"""Place-level pathway bottleneck analytics: where pathways stall, where queues grow.

The read model keeps, for every pathway (open or not), its *stage intervals* — each step
of the journey with the day it started and the day it ended (None while in progress):

| kind         | from                   | to                                   |
| ------------ | ---------------------- | ------------------------------------ |
| `workup`     | referral received      | agreed workup complete               |
| `diagnostic` | test ordered (each)    | test resulted                        |
| `first-seen` | referral received      | first attendance                     |
| `treatment`  | first attendance       | clock stop                           |
| `rtt`        | RTT clock start (each) | clock stop (each RTT period)         |
| `pathway`    | referral received      | off the list: clock stop, closed or left |

and every recorded breach (standard × subject, dated on its breach day). Rows carry the
dimensions reports group by (place, PCN, practice, provider, treatment function, priority,
age band at the interval's start) as at projection time, plus the day the pathway itself
ended, so that every query can be asked "as of" any past date: an interval that had not
ended by that day is in progress then.

Queries return exact figures; `suppress=True` passes every count and statistic through the
one small-number rule (`suppression.py`), as everything a place lead sees must. Nothing here
returns patient-level data.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Date,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    or_,
    select,
)

from guardian.domain import standards
from guardian.domain.checkins import REMOVING
from guardian.domain.codes import CLOSE_REASONS, NON_RTT_LIST_TYPES, RTT_STATUS, label
from guardian.domain.patient import Patient
from guardian.projections.runner import Changes, Notice, batch_patients
from guardian.projections.suppression import (
    SMALLEST_GROUP_FOR_STATISTICS as SMALL_GROUP,
)
from guardian.projections.suppression import suppress_count, suppress_statistic
from guardian.projections.tables import swap_tables
from guardian.store import metadata

NAME = "bottlenecks"
KINDS = ("workup", "diagnostic", "first-seen", "treatment", "rtt", "pathway")
STEP_KINDS = ("workup", "diagnostic", "first-seen", "treatment")
KIND_LABELS = {
    "workup": "Referral received → agreed workup complete",
    "diagnostic": "Test ordered → test resulted",
    "first-seen": "Referral received → first seen",
    "treatment": "First seen → clock stop (treatment)",
    "rtt": "RTT clock start → clock stop",
    "pathway": "Referral received → off the waiting list",
}
DIMENSIONS = ("place", "pcn_code", "practice_code", "provider", "treatment_function",
              "priority", "age_band")
DIMENSION_LABELS = {
    "place": "Place", "pcn_code": "PCN", "practice_code": "Practice", "provider": "Provider",
    "treatment_function": "Treatment function", "priority": "Priority",
    "age_band": "Age band",
}
AGE_BANDS = ("0-17", "18-39", "40-64", "65-79", "80+")
DEFAULT_WINDOW_DAYS = 182  # completed intervals of the last 26 weeks


def age_band(birth_date: dt.date, on: dt.date) -> str:
    """Age in whole years on `on`, in the bands the equity view uses."""
    years = on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))
    for upper, band in ((17, "0-17"), (39, "18-39"), (64, "40-64"), (79, "65-79")):
        if years <= upper:
            return band
    return "80+"


def week_of(day: dt.date) -> dt.date:
    """The Monday of the week `day` falls in (weeks run Monday to Sunday)."""
    return day - dt.timedelta(days=day.weekday())


# ------------------------------------------------------------------------------ tables


def _dimension_columns() -> list[Column]:
    return [
        Column("patient_id", String(32), nullable=False),
        Column("place", Text),
        Column("pcn_code", String(8)),
        Column("practice_code", String(8), nullable=False),
        Column("treatment_function", String(3), nullable=False),
        Column("priority", Integer, nullable=False),
        Column("age_band", String(8), nullable=False),
    ]


def _define_intervals(name: str, md: MetaData) -> Table:
    return Table(
        name,
        md,
        Column("provider", String(8), primary_key=True),
        Column("pathway_id", String(64), primary_key=True),
        Column("kind", String(16), primary_key=True),
        Column("seq", Integer, primary_key=True),
        *_dimension_columns(),
        Column("started_on", Date, nullable=False),
        Column("ended_on", Date),
        Column("pathway_ended_on", Date),  # the pathway's own end (None while open)
        Column("end_reason", Text),  # kind "pathway": why it came off the list
        Index(f"{name}_patient", "patient_id"),
        # A report reads one place's intervals of a kind: on PostgreSQL from this index
        # alone (index-only scans), so that it neither reads nor evicts the table's pages,
        # which the worklists need in memory (docs/deployment.md "Reports beside the
        # worklists"). It replaced `{name}_kind_place` (the same keys, nothing included).
        Index(f"{name}_report", "kind", "place", "started_on",
              postgresql_include=["ended_on", "pathway_ended_on", "treatment_function",
                                  "provider", "pcn_code", "age_band"]),
        Index(f"{name}_expected", "kind", "provider", "treatment_function", "priority",
              "ended_on"),
    )


def _define_breaches(name: str, md: MetaData) -> Table:
    return Table(
        name,
        md,
        Column("provider", String(8), primary_key=True),
        Column("pathway_id", String(64), primary_key=True),
        Column("standard", String(32), primary_key=True),
        Column("subject", String(64), primary_key=True),
        *_dimension_columns(),
        Column("breach_on", Date, nullable=False),
        Index(f"{name}_patient", "patient_id"),
        Index(f"{name}_place", "place", "breach_on"),
    )


intervals = _define_intervals("pathway_intervals", metadata)
breach_facts = _define_breaches("breach_facts", metadata)
_DEFINERS = ((intervals, _define_intervals), (breach_facts, _define_breaches))


def _pathway_end(p) -> tuple[dt.date | None, str | None]:
    """When and why the pathway came off the waiting list (None while it is on it)."""
    ends = []
    if p.clock_end is not None:
        outcome = p.last_check_in_outcome
        if outcome is not None and outcome[0] in REMOVING and outcome[1] == p.clock_end:
            # a Waiting Well check-in validated the patient off the list (docs/rules.md §8)
            reason = f"validated off the list: {outcome[0].replace('-', ' ')}"
        elif p.stop_reason in RTT_STATUS:
            reason = f"clock stopped: {RTT_STATUS[p.stop_reason]}"
        else:
            reason = f"clock stopped: {p.stop_reason}" if p.stop_reason else "clock stopped"
        ends.append((p.clock_end, reason))
    if p.closed_on is not None:
        why = label(CLOSE_REASONS, p.close_reason)
        ends.append((p.closed_on, f"closed: {why}" if why else "closed"))
    if p.left_list_on is not None:
        ends.append((p.left_list_on, "left the waiting list"))
    if not ends:
        return None, None
    return min(ends)


def rows_for(patient: Patient, orgs: dict[str, Any]) -> tuple[list[dict], list[dict]]:
    """The interval rows and breach rows of one patient (every pathway, open or not)."""
    interval_rows: list[dict[str, Any]] = []
    breach_rows: list[dict[str, Any]] = []
    for p in patient.pathways.values():
        org = orgs.get(p.practice_code)
        dims = {
            "patient_id": patient.id.hex,
            "place": org.place if org else None,
            "pcn_code": org.pcn_code if org else None,
            "practice_code": p.practice_code,
            "treatment_function": p.treatment_function,
            "priority": p.priority,
        }
        ended_on, end_reason = _pathway_end(p)

        def add(kind: str, seq: int, start: dt.date | None, end: dt.date | None,
                reason: str | None = None, p=p, dims=dims, ended_on=ended_on) -> None:
            if start is None:
                return
            if end is not None and end < start:  # a corrected start after the end: no step
                return
            interval_rows.append({
                "provider": p.provider, "pathway_id": p.pathway_id, "kind": kind, "seq": seq,
                **dims, "age_band": age_band(patient.birth_date, start),
                "started_on": start, "ended_on": end, "pathway_ended_on": ended_on,
                "end_reason": reason,
            })

        add("pathway", 0, p.received_on, ended_on, end_reason)
        if p.workup:
            add("workup", 0, p.received_on, p.workup_completed_on
                if not p.outstanding_workup() else None)
        tests = sorted(p.diagnostics.values(), key=lambda d: (d.ordered_on, d.test_id))
        for n, d in enumerate(tests):
            add("diagnostic", n, d.ordered_on, d.resulted_on)
        add("first-seen", 0, p.received_on, p.first_seen_on)
        add("treatment", 0, p.first_seen_on, p.clock_end if p.first_seen_on else None)
        if p.waiting_list_type not in NON_RTT_LIST_TYPES:
            periods = [(e.clock_start, e.clock_end) for e in p.earlier_periods]
            if p.clock_start is not None:
                periods.append((p.clock_start, p.clock_end))
            for n, (start, end) in enumerate(periods):
                add("rtt", n, start, end)
        for (standard, subject), breach_on in p.breaches.items():
            breach_rows.append({
                "provider": p.provider, "pathway_id": p.pathway_id, "standard": standard,
                "subject": subject, **dims, "age_band": age_band(patient.birth_date, breach_on),
                "breach_on": breach_on,
            })
    return interval_rows, breach_rows


class BottleneckProjection:
    name = NAME

    def tables(self, suffix: str = "") -> list[Table]:
        if not suffix:
            return [live for live, _ in _DEFINERS]
        aside = MetaData()
        return [define(live.name + suffix, aside) for live, define in _DEFINERS]

    def prepare(self, app: Any, batch: Sequence[Notice], orgs: dict[str, Any]) -> Changes:
        loaded = batch_patients(app, batch)
        all_intervals: list[dict] = []
        all_breaches: list[dict] = []
        for patient in loaded:
            i, b = rows_for(patient, orgs)
            all_intervals += i
            all_breaches += b
        return Changes([p.id.hex for p in loaded], [all_intervals, all_breaches])

    def swap(self, conn: Connection, suffix: str) -> None:
        swap_tables(conn, [live for live, _ in _DEFINERS], suffix)


# ------------------------------------------------------------------------------ queries


@dataclass(frozen=True)
class ReportScope:
    """What a report covers: one place, optionally some PCNs (None: everything)."""

    place: str | None = None
    pcns: frozenset[str] | None = None

    def where(self, table: Table) -> list[Any]:
        clauses = []
        if self.place is not None:
            clauses.append(table.c.place == self.place)
        if self.pcns is not None:
            clauses.append(table.c.pcn_code.in_(sorted(self.pcns)))
        return clauses


def percentile(ordered: Sequence[float], p: float) -> float | None:
    """Linear interpolation between closest ranks (p in 0..1); None for no data."""
    if not ordered:
        return None
    from guardian.projections.rtt import percentile as _percentile

    return _percentile(list(ordered), p)


def _in_progress_on(table: Table, as_of: dt.date):
    """Rows whose step had started by `as_of` and not ended by then."""
    return and_(table.c.started_on <= as_of,
                or_(table.c.ended_on.is_(None), table.c.ended_on > as_of))


def _pathway_open_on(table: Table, as_of: dt.date):
    return or_(table.c.pathway_ended_on.is_(None), table.c.pathway_ended_on > as_of)


def _check_dimension(by: str | None) -> None:
    if by is not None and by not in DIMENSIONS:
        raise ValueError(f"unknown dimension {by!r}; one of {', '.join(DIMENSIONS)}")


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown stage interval {kind!r}; one of {', '.join(KINDS)}")


def _count(n: int, suppress: bool) -> int | str:
    return suppress_count(n) if suppress else n


def _stat(value: float | None, n: int, suppress: bool, scale: float = 1.0) -> Any:
    if value is None:
        return "*" if suppress else None
    if suppress:
        return suppress_statistic(value / scale, n)
    return round(value / scale, 1)


def stage_durations(
    conn: Connection,
    scope: ReportScope,
    kind: str,
    as_of: dt.date,
    by: str | None = "treatment_function",
    window_days: int = DEFAULT_WINDOW_DAYS,
    suppress: bool = True,
) -> list[dict[str, Any]]:
    """Median and 90th percentile (days) of one stage interval, grouped by a dimension.

    Completed: intervals that ended within `window_days` before `as_of` (inclusive).
    In progress: intervals started on or before `as_of`, not ended by then, on a pathway
    still open then; with the median of their ages so far. Groups sorted by their median,
    longest first.
    """
    _check_kind(kind)
    _check_dimension(by)
    t = intervals
    key = t.c[by] if by else None
    cols = [t.c.started_on, t.c.ended_on] + ([key] if key is not None else [])
    since = as_of - dt.timedelta(days=window_days)
    q = select(*cols).where(
        t.c.kind == kind, *scope.where(t),
        or_(and_(t.c.ended_on > since, t.c.ended_on <= as_of),
            and_(_in_progress_on(t, as_of), _pathway_open_on(t, as_of))),
    )
    done: dict[Any, list[int]] = defaultdict(list)
    waiting: dict[Any, list[int]] = defaultdict(list)
    for row in conn.execute(q):
        group = row[2] if key is not None else "all"
        if row.ended_on is not None and row.ended_on <= as_of:
            done[group].append((row.ended_on - row.started_on).days)
        else:
            waiting[group].append((as_of - row.started_on).days)
    out = []
    for group in set(done) | set(waiting):
        d, w = sorted(done[group]), sorted(waiting[group])
        out.append({
            "group": group, "completed": len(d), "median_days": percentile(d, 0.5),
            "p90_days": percentile(d, 0.9), "in_progress": len(w),
            "in_progress_median_days": percentile(w, 0.5),
        })
    # Longest median first; under suppression, groups whose statistics are withheld go
    # last in name order, so that their position says nothing about their size.
    def order(r: dict[str, Any]) -> tuple:
        if r["median_days"] is None or (suppress and r["completed"] < SMALL_GROUP):
            return (1, 0.0, str(r["group"]))
        return (0, -r["median_days"], str(r["group"]))

    out.sort(key=order)
    return [_present_durations(r, suppress) for r in out]


def _present_durations(r: dict[str, Any], suppress: bool) -> dict[str, Any]:
    return {
        "group": r["group"],
        "completed": _count(r["completed"], suppress),
        "median_days": _stat(r["median_days"], r["completed"], suppress),
        "p90_days": _stat(r["p90_days"], r["completed"], suppress),
        "in_progress": _count(r["in_progress"], suppress),
        "in_progress_median_days": _stat(r["in_progress_median_days"], r["in_progress"],
                                         suppress),
    }


def weekly_flow(
    conn: Connection,
    scope: ReportScope,
    as_of: dt.date,
    weeks: int = 12,
    by: str | None = None,
) -> dict[Any, list[dict[str, Any]]]:
    """Exact weekly inflow (referrals received), outflow (off the list) and waiting at each
    week's end, for the `weeks` whole weeks (Monday–Sunday) up to the one containing `as_of`
    (that last week counted up to `as_of`), per group of `by` ("all" without one)."""
    _check_dimension(by)
    t = intervals
    first = week_of(as_of) - dt.timedelta(weeks=weeks - 1)
    key = t.c[by] if by else None
    cols = [t.c.started_on, t.c.ended_on] + ([key] if key is not None else [])
    q = select(*cols).where(
        t.c.kind == "pathway", *scope.where(t), t.c.started_on <= as_of,
        or_(t.c.ended_on.is_(None), t.c.ended_on >= first),
    )
    week_ends = [min(first + dt.timedelta(weeks=n, days=6), as_of) for n in range(weeks)]
    series: dict[Any, list[dict[str, Any]]] = {}

    def fresh() -> list[dict[str, Any]]:
        return [{"week": first + dt.timedelta(weeks=n), "inflow": 0, "outflow": 0,
                 "waiting": 0} for n in range(weeks)]

    # Waiting at each week's end by a difference array: a pathway counts from the first week
    # ending on or after its start until the week before the first ending on or after its
    # end (O(rows), not rows × weeks).
    deltas: dict[Any, list[int]] = {}

    def week_index(day: dt.date) -> int:
        """The first week whose end is on or after `day` (weeks: if none)."""
        if day <= week_ends[0]:
            return 0
        if day > week_ends[-1]:  # the last week ends on as_of, maybe before its Sunday
            return weeks
        days = (day - week_ends[0]).days
        return days // 7 + (days % 7 > 0)

    for row in conn.execute(q):
        group = row[2] if key is not None else "all"
        s = series.get(group)
        if s is None:
            s = series[group] = fresh()
            deltas[group] = [0] * (weeks + 1)
        start, end = row.started_on, row.ended_on
        if start >= first:
            s[(start - first).days // 7]["inflow"] += 1
        if end is not None and first <= end <= as_of:
            s[(end - first).days // 7]["outflow"] += 1
        d = deltas[group]
        d[week_index(start)] += 1
        if end is not None:
            d[week_index(end)] -= 1
    for group, s in series.items():
        running = 0
        for n in range(weeks):
            running += deltas[group][n]
            s[n]["waiting"] = running
    return series


def queues_growing(
    conn: Connection,
    scope: ReportScope,
    as_of: dt.date,
    by: str = "treatment_function",
    min_weeks: int = 4,
    weeks: int = 12,
    suppress: bool = True,
) -> list[dict[str, Any]]:
    """Groups whose inflow exceeded their outflow in each of the last `min_weeks` whole
    weeks before the week of `as_of`, longest run first, then by net growth."""
    if min_weeks < 1 or min_weeks > weeks - 1:
        raise ValueError(f"weeks of growth must be between 1 and {weeks - 1}")
    out = []
    for group, s in weekly_flow(conn, scope, as_of, weeks=weeks, by=by).items():
        whole = s[:-1]  # the week of as_of is not over yet
        run = 0
        for week in reversed(whole):
            if week["inflow"] > week["outflow"]:
                run += 1
            else:
                break
        if run < min_weeks:
            continue
        growing = whole[-run:]
        inflow = sum(w["inflow"] for w in growing)
        outflow = sum(w["outflow"] for w in growing)
        out.append({"group": group, "weeks_growing": run, "inflow": inflow,
                    "outflow": outflow, "net": inflow - outflow,
                    "waiting": s[-1]["waiting"]})
    out.sort(key=lambda r: (-r["weeks_growing"], -r["net"], str(r["group"])))
    if suppress:
        for r in out:
            for k in ("inflow", "outflow", "waiting"):
                r[k] = suppress_count(r[k])
            r["net"] = suppress_count(abs(r["net"])) if r["net"] >= 0 else "*"
    return out


def step_targets(table: Sequence[standards.Standard] = standards.STANDARDS) -> dict[str, int]:
    """The day by which each step should be over, from the standards table
    (docs/rules.md §2): workup by the local workup standard, a test by DM01's six weeks,
    first seen and treatment within the RTT 18 weeks (each step is a part of that wait, so
    it is a generous bar)."""
    days = {s.code: s.last_day_within for s in table}
    rtt = days.get("rtt-18", 126)
    return {"workup": days.get("workup-14", 14), "diagnostic": days.get("diagnostic-6w", 41),
            "first-seen": rtt, "treatment": rtt}


def top_bottlenecks(
    conn: Connection,
    scope: ReportScope,
    as_of: dt.date,
    by: Sequence[str] = ("provider", "treatment_function"),
    limit: int = 10,
    suppress: bool = True,
    targets: dict[str, int] | None = None,
) -> list[dict[str, Any]]:
    """Where most pathways are stuck: for each step × group, pathways in that step on
    `as_of` for longer than the step's target (`step_targets`), ranked by that number,
    then by the median age of those in the step. Suppressed, only groups with at least 8
    pathways over target are listed."""
    for d in by:
        _check_dimension(d)
    targets = targets or step_targets()
    t = intervals
    q = select(t.c.kind, t.c.started_on, *[t.c[d] for d in by]).where(
        t.c.kind.in_(STEP_KINDS), *scope.where(t), _in_progress_on(t, as_of),
        _pathway_open_on(t, as_of),
    )
    ages: dict[tuple, list[int]] = defaultdict(list)
    for row in conn.execute(q):
        ages[(row[0], *row[2:])].append((as_of - row[1]).days)
    ranked = []
    for (kind, *group), days in ages.items():
        stuck = sum(1 for d in days if d > targets[kind])
        if not stuck:
            continue
        days.sort()
        ranked.append({"step": kind, "step_label": KIND_LABELS[kind],
                       **dict(zip(by, group, strict=True)), "target_days": targets[kind],
                       "in_step": len(days), "over_target": stuck,
                       "median_days_in_step": percentile(days, 0.5)})
    ranked.sort(key=lambda r: (-r["over_target"], -r["median_days_in_step"], r["step"],
                               *[str(r[d]) for d in by]))
    if suppress:  # a ranking of suppressed counts would say what suppression hides
        ranked = [r for r in ranked if r["over_target"] >= SMALL_GROUP]
    ranked = ranked[:limit]
    if suppress:
        for r in ranked:
            r["median_days_in_step"] = suppress_statistic(r["median_days_in_step"], r["in_step"])
            r["in_step"] = suppress_count(r["in_step"])
            r["over_target"] = suppress_count(r["over_target"])
    else:
        for r in ranked:
            r["median_days_in_step"] = round(r["median_days_in_step"], 1)
    return ranked


def breaches_by_standard(
    conn: Connection,
    scope: ReportScope,
    as_of: dt.date,
    window_days: int = DEFAULT_WINDOW_DAYS,
    by: str | None = None,
    suppress: bool = True,
) -> list[dict[str, Any]]:
    """Breaches recorded with a breach day in the `window_days` up to `as_of`, per
    standard (and group), most first. Withdrawn breaches are not counted."""
    _check_dimension(by)
    b = breach_facts
    since = as_of - dt.timedelta(days=window_days)
    key = b.c[by] if by else None
    q = select(b.c.standard, *([key] if key is not None else [])).where(
        *scope.where(b), b.c.breach_on > since, b.c.breach_on <= as_of
    )
    counts: dict[tuple, int] = defaultdict(int)
    for row in conn.execute(q):
        counts[(row[0], row[1] if key is not None else "all")] += 1
    labels = {s.code: s.label for s in standards.STANDARDS}
    out = [{"standard": std, "standard_label": labels.get(std, std), "group": group,
            "breaches": n} for (std, group), n in counts.items()]
    out.sort(key=lambda r: (-r["breaches"], r["standard"], str(r["group"])))
    if suppress:
        for r in out:
            r["breaches"] = suppress_count(r["breaches"])
    return out


def equity(
    conn: Connection,
    scope: ReportScope,
    as_of: dt.date,
    by: str = "age_band",
    suppress: bool = True,
) -> list[dict[str, Any]]:
    """RTT waits on `as_of` per age band (age at clock start) or PCN: how many wait, the
    median and 92nd percentile wait in weeks, the share within 18 weeks and over 52 weeks.
    Gaps between groups are the equity signal."""
    _check_dimension(by)
    t = intervals
    q = select(t.c[by], t.c.started_on).where(
        t.c.kind == "rtt", *scope.where(t), _in_progress_on(t, as_of)
    )
    waits: dict[Any, list[int]] = defaultdict(list)
    for group, start in conn.execute(q):
        waits[group].append((as_of - start).days)
    order = {band: n for n, band in enumerate(AGE_BANDS)}
    out = []
    for group in sorted(waits, key=lambda g: (order.get(g, 99), str(g))):
        days = sorted(waits[group])
        n = len(days)
        within = sum(1 for d in days if standards.within_18_weeks(d))
        over_52 = sum(1 for d in days if d > 364)
        r = {"group": group, "waiting": n, "median_weeks": percentile(days, 0.5) / 7,
             "p92_weeks": percentile(days, 0.92) / 7, "pct_within_18_weeks": 100 * within / n,
             "over_52_weeks": over_52}
        if suppress:
            r = {"group": group, "waiting": suppress_count(n),
                 "median_weeks": suppress_statistic(r["median_weeks"], n),
                 "p92_weeks": suppress_statistic(r["p92_weeks"], n),
                 "pct_within_18_weeks": suppress_statistic(r["pct_within_18_weeks"], n),
                 "over_52_weeks": suppress_count(over_52)}
        else:
            for k in ("median_weeks", "p92_weeks", "pct_within_18_weeks"):
                r[k] = round(r[k], 1)
        out.append(r)
    return out


def removals(
    conn: Connection,
    scope: ReportScope,
    as_of: dt.date,
    window_days: int = DEFAULT_WINDOW_DAYS,
    by: str = "treatment_function",
    suppress: bool = True,
) -> list[dict[str, Any]]:
    """Pathways that came off the list in the window, per group and reason (validation
    removals show here as clock stops with their reason)."""
    _check_dimension(by)
    t = intervals
    since = as_of - dt.timedelta(days=window_days)
    q = select(t.c[by], t.c.end_reason).where(
        t.c.kind == "pathway", *scope.where(t), t.c.ended_on > since, t.c.ended_on <= as_of
    )
    counts: dict[tuple, int] = defaultdict(int)
    for group, reason in conn.execute(q):
        counts[(group, reason or "unknown")] += 1
    out = [{"group": g, "reason": r, "pathways": n} for (g, r), n in counts.items()]
    out.sort(key=lambda r: (str(r["group"]), -r["pathways"], r["reason"]))
    if suppress:
        for r in out:
            r["pathways"] = suppress_count(r["pathways"])
    return out


def trend(
    conn: Connection, scope: ReportScope, as_of: dt.date, weeks: int = 12, suppress: bool = True
) -> list[dict[str, Any]]:
    """The whole scope's weekly inflow, outflow, waiting at week end and breaches."""
    series = weekly_flow(conn, scope, as_of, weeks=weeks).get("all")
    first = week_of(as_of) - dt.timedelta(weeks=weeks - 1)
    if series is None:
        series = [{"week": first + dt.timedelta(weeks=n), "inflow": 0, "outflow": 0,
                   "waiting": 0} for n in range(weeks)]
    b = breach_facts
    q = select(b.c.breach_on).where(*scope.where(b), b.c.breach_on >= first,
                                    b.c.breach_on <= as_of)
    per_week = [0] * weeks
    for (day,) in conn.execute(q):
        per_week[(day - first).days // 7] += 1
    out = []
    for week, breaches in zip(series, per_week, strict=True):
        row = {**week, "breaches": breaches}
        if suppress:
            for k in ("inflow", "outflow", "waiting", "breaches"):
                row[k] = suppress_count(row[k])
        out.append(row)
    return out


def report(
    conn: Connection,
    scope: ReportScope,
    as_of: dt.date,
    suppress: bool = True,
    weeks: int = 12,
) -> dict[str, Any]:
    """The place-lead dashboard in one structure (also `GET /api/v1/reports/bottlenecks`)."""
    return {
        "as_of": as_of.isoformat(),
        "place": scope.place,
        "suppressed": suppress,
        "stage_durations": {
            kind: stage_durations(conn, scope, kind, as_of, suppress=suppress)
            for kind in STEP_KINDS
        },
        "top_bottlenecks": top_bottlenecks(conn, scope, as_of, suppress=suppress),
        "queues_growing": queues_growing(conn, scope, as_of, weeks=weeks, suppress=suppress),
        "breaches_by_standard": breaches_by_standard(conn, scope, as_of, suppress=suppress),
        "equity_by_age_band": equity(conn, scope, as_of, "age_band", suppress=suppress),
        "equity_by_pcn": equity(conn, scope, as_of, "pcn_code", suppress=suppress),
        "removals": removals(conn, scope, as_of, suppress=suppress),
        "trend": trend(conn, scope, as_of, weeks=weeks, suppress=suppress),
    }


def jsonable(value: Any) -> Any:
    """Dates as ISO strings, recursively (for JSON and CSV)."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def places(conn: Connection) -> list[str]:
    q = select(intervals.c.place).where(intervals.c.place.is_not(None)).distinct()
    return sorted(p for (p,) in conn.execute(q))
