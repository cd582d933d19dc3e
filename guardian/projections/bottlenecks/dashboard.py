"""The place-lead dashboard in one structure (`report`, also
`GET /api/v1/reports/bottlenecks`), its values made JSON- and CSV-ready (`jsonable`), and
the places the read model has rows for."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, select

from guardian.projections.bottlenecks.common import ReportScope
from guardian.projections.bottlenecks.flow import queues_growing, trend
from guardian.projections.bottlenecks.model import STEP_KINDS, intervals
from guardian.projections.bottlenecks.outcomes import breaches_by_standard, equity, removals
from guardian.projections.bottlenecks.stages import stage_durations, top_bottlenecks


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
