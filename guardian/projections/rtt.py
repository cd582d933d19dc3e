"""The RTT waiting-list export (`guardian export rtt`), layout of docs/formats.md.

Counted on an as-of date: RTT pathways (not ONON/INON) with an RTT period whose clock
started on or before that date and had not stopped on or before it; waiting days =
as-of − clock start; week bands of docs/rules.md §6. One row per provider ×
treatment function with at least one waiting pathway, then a `C_999` total row per
provider. Percent and weeks come from exact days, one decimal; the median and the 92nd
percentile interpolate linearly between the ordered waits (the median of an even count is
the mean of the middle two). With `suppress`, every cell goes through the small-number rule.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections.abc import Iterable
from typing import IO, Any

from sqlalchemy import Connection, or_, select

from guardian.domain.codes import NON_RTT_LIST_TYPES
from guardian.domain.standards import RTT_BAND_COLUMNS, week_band, within_18_weeks
from guardian.projections.suppression import suppress_count, suppress_statistic
from guardian.projections.worklist import rtt_periods
from guardian.store import organisations

HEADER = (
    ["Provider Org Code", "Treatment Function Code", *RTT_BAND_COLUMNS, "Total",
     "Total Within 18 Weeks", "% Within 18 Weeks",
     "Average (Median) Waiting Time (in weeks)", "92nd Percentile Waiting Time (in weeks)"]
)
TOTAL_CODE = "C_999"


def waiting_days(conn: Connection, as_of: dt.date, place: str | None = None):
    """(provider, treatment function, waiting days) of every pathway waiting on `as_of`."""
    p = rtt_periods
    q = select(p.c.provider, p.c.pathway_id, p.c.treatment_function, p.c.clock_start).where(
        p.c.waiting_list_type.not_in(sorted(NON_RTT_LIST_TYPES)),
        p.c.clock_start <= as_of,
        or_(p.c.clock_end.is_(None), p.c.clock_end > as_of),
    )
    if place is not None:
        q = q.join(organisations, organisations.c.practice_code == p.c.practice_code).where(
            organisations.c.place == place
        )
    seen: set[tuple[str, str]] = set()
    for provider, pathway_id, tf, start in conn.execute(q):
        if (provider, pathway_id) in seen:  # two periods cannot both be open; be safe
            continue
        seen.add((provider, pathway_id))
        yield provider, tf, (as_of - start).days


def percentile(ordered: list[int], p: float) -> float:
    """Linear interpolation between closest ranks (p in 0..1) of an ordered list."""
    h = (len(ordered) - 1) * p
    lo = math.floor(h)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (h - lo) * (ordered[hi] - ordered[lo])


def tf_code(code: str) -> str:
    return code if code.startswith("X") else f"C_{code}"


def report_rows(waits: Iterable[tuple[str, str, int]], suppress: bool) -> list[list[Any]]:
    groups: dict[tuple[str, str], list[int]] = {}
    for provider, tf, days in waits:
        groups.setdefault((provider, tf_code(tf)), []).append(days)
        groups.setdefault((provider, TOTAL_CODE), []).append(days)
    keys = sorted(groups, key=lambda k: (k[0], k[1] == TOTAL_CODE, k[1]))
    return [_row(provider, code, sorted(groups[(provider, code)]), suppress)
            for provider, code in keys]


def _row(provider: str, code: str, days: list[int], suppress: bool) -> list[Any]:
    bands = [0] * len(RTT_BAND_COLUMNS)
    for d in days:
        bands[week_band(d)] += 1
    total = len(days)
    within = sum(1 for d in days if within_18_weeks(d))
    pct = 100 * within / total
    median = percentile(days, 0.5) / 7
    p92 = percentile(days, 0.92) / 7
    if suppress:
        counts = [suppress_count(n) for n in (*bands, total, within)]
        stats = [suppress_statistic(v, total) for v in (pct, median, p92)]
    else:
        counts = [*bands, total, within]
        stats = [f"{v:.1f}" for v in (pct, median, p92)]
    return [provider, code, *counts, *stats]


def write_rtt(conn: Connection, out: IO[str], as_of: dt.date, place: str | None = None,
              suppress: bool = False) -> int:
    """Write the export as CSV; return the number of data rows."""
    rows = report_rows(waiting_days(conn, as_of, place), suppress)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return len(rows)
