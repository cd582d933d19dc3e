"""Whether queues grow: weekly inflow (referrals received), outflow (off the list) and
waiting at each week's end, the groups whose inflow has beaten their outflow week after
week, and the whole scope's weekly trend with its breaches."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, or_, select

from guardian.projections.bottlenecks.common import ReportScope, check_dimension, week_of
from guardian.projections.bottlenecks.model import breach_facts, intervals
from guardian.projections.suppression import suppress_count


def _empty_weeks(first: dt.date, weeks: int) -> list[dict[str, Any]]:
    return [{"week": first + dt.timedelta(weeks=n), "inflow": 0, "outflow": 0, "waiting": 0}
            for n in range(weeks)]


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
    check_dimension(by)
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
            s = series[group] = _empty_weeks(first, weeks)
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


def queues_growing(conn: Connection, scope: ReportScope, as_of: dt.date,
                   by: str = "treatment_function", min_weeks: int = 4, weeks: int = 12,
                   suppress: bool = True) -> list[dict[str, Any]]:
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


def trend(
    conn: Connection, scope: ReportScope, as_of: dt.date, weeks: int = 12, suppress: bool = True
) -> list[dict[str, Any]]:
    """The whole scope's weekly inflow, outflow, waiting at week end and breaches."""
    series = weekly_flow(conn, scope, as_of, weeks=weeks).get("all")
    first = week_of(as_of) - dt.timedelta(weeks=weeks - 1)
    if series is None:
        series = _empty_weeks(first, weeks)
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
