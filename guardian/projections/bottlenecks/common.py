"""What every bottleneck query shares: the report's scope, the "as of" conditions on the
intervals table, percentiles, the checks of a dimension or kind asked for, and one figure
passed (or not) through the small-number rule (`suppression.py`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, and_, or_

from guardian.projections.bottlenecks.model import DIMENSIONS, KINDS
from guardian.projections.rtt import percentile as _percentile
from guardian.projections.suppression import suppress_count, suppress_statistic

DEFAULT_WINDOW_DAYS = 182  # completed intervals of the last 26 weeks


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


def week_of(day: dt.date) -> dt.date:
    """The Monday of the week `day` falls in (weeks run Monday to Sunday)."""
    return day - dt.timedelta(days=day.weekday())


def percentile(ordered: Sequence[float], p: float) -> float | None:
    """Linear interpolation between closest ranks (p in 0..1); None for no data."""
    if not ordered:
        return None
    return _percentile(list(ordered), p)


def in_progress_on(table: Table, as_of: dt.date):
    """Rows whose step had started by `as_of` and not ended by then."""
    return and_(table.c.started_on <= as_of,
                or_(table.c.ended_on.is_(None), table.c.ended_on > as_of))


def pathway_open_on(table: Table, as_of: dt.date):
    return or_(table.c.pathway_ended_on.is_(None), table.c.pathway_ended_on > as_of)


def check_dimension(by: str | None) -> None:
    if by is not None and by not in DIMENSIONS:
        raise ValueError(f"unknown dimension {by!r}; one of {', '.join(DIMENSIONS)}")


def check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown stage interval {kind!r}; one of {', '.join(KINDS)}")


def count(n: int, suppress: bool) -> int | str:
    return suppress_count(n) if suppress else n


def stat(value: float | None, n: int, suppress: bool, scale: float = 1.0) -> Any:
    if value is None:
        return "*" if suppress else None
    if suppress:
        return suppress_statistic(value / scale, n)
    return round(value / scale, 1)
