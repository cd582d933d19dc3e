"""Reads of the bottleneck read model (`guardian/projections/bottlenecks/`, its intervals
table) that the place report pages make beyond the model's own report functions: the RTT
periods in progress on a date with their PCN and age band, which the "median wait by PCN
and age band" table is built from. Takes a connection; writes nothing.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, or_, select

from guardian.projections import bottlenecks as bn


def rtt_starts_by_pcn_and_age(conn: Connection, scope: bn.ReportScope, as_of: dt.date
                              ) -> list[tuple[str | None, str, dt.date]]:
    """(PCN code, age band at clock start, clock start) of every RTT period in `scope` in
    progress on `as_of` (started by then, not ended by then)."""
    t = bn.intervals
    q = select(t.c.pcn_code, t.c.age_band, t.c.started_on).where(
        t.c.kind == "rtt", *scope.where(t), t.c.started_on <= as_of,
        or_(t.c.ended_on.is_(None), t.c.ended_on > as_of),
    )
    return [(pcn, band, start) for pcn, band, start in conn.execute(q)]
