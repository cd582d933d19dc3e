"""Where pathways stall: how long each step takes (median and 90th percentile, completed
and in progress) and the steps × groups with the most pathways stuck past their target."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, or_, select

from guardian.domain import standards
from guardian.projections.bottlenecks.common import (
    DEFAULT_WINDOW_DAYS,
    ReportScope,
    check_dimension,
    check_kind,
    count,
    in_progress_on,
    pathway_open_on,
    percentile,
    stat,
)
from guardian.projections.bottlenecks.model import KIND_LABELS, STEP_KINDS, intervals
from guardian.projections.suppression import (
    SMALLEST_GROUP_FOR_STATISTICS as SMALL_GROUP,
)
from guardian.projections.suppression import suppress_count, suppress_statistic


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
    check_kind(kind)
    check_dimension(by)
    t = intervals
    key = t.c[by] if by else None
    cols = [t.c.started_on, t.c.ended_on] + ([key] if key is not None else [])
    since = as_of - dt.timedelta(days=window_days)
    q = select(*cols).where(
        t.c.kind == kind, *scope.where(t),
        or_(and_(t.c.ended_on > since, t.c.ended_on <= as_of),
            and_(in_progress_on(t, as_of), pathway_open_on(t, as_of))),
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
        "completed": count(r["completed"], suppress),
        "median_days": stat(r["median_days"], r["completed"], suppress),
        "p90_days": stat(r["p90_days"], r["completed"], suppress),
        "in_progress": count(r["in_progress"], suppress),
        "in_progress_median_days": stat(r["in_progress_median_days"], r["in_progress"],
                                        suppress),
    }


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
        check_dimension(d)
    targets = targets or step_targets()
    t = intervals
    q = select(t.c.kind, t.c.started_on, *[t.c[d] for d in by]).where(
        t.c.kind.in_(STEP_KINDS), *scope.where(t), in_progress_on(t, as_of),
        pathway_open_on(t, as_of),
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
