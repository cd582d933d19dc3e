"""What waiting came to, per group: breaches recorded by standard, RTT waits by age band or
PCN (the equity view: gaps between groups are the signal), and pathways that came off the
list with why."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, select

from guardian.domain import standards
from guardian.projections.bottlenecks.common import (
    DEFAULT_WINDOW_DAYS,
    ReportScope,
    check_dimension,
    in_progress_on,
    percentile,
)
from guardian.projections.bottlenecks.model import AGE_BANDS, breach_facts, intervals
from guardian.projections.suppression import suppress_count, suppress_statistic


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
    check_dimension(by)
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


def equity(conn: Connection, scope: ReportScope, as_of: dt.date, by: str = "age_band",
           suppress: bool = True) -> list[dict[str, Any]]:
    """RTT waits on `as_of` per age band (age at clock start) or PCN: how many wait, the
    median and 92nd percentile wait in weeks, the share within 18 weeks and over 52 weeks.
    Gaps between groups are the equity signal."""
    check_dimension(by)
    t = intervals
    q = select(t.c[by], t.c.started_on).where(
        t.c.kind == "rtt", *scope.where(t), in_progress_on(t, as_of)
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
    check_dimension(by)
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
