"""RTT waits counted in days and weeks: days waited, the week bands of the RTT export,
within 18 weeks, and which pathways count as waiting on a date (docs/rules.md §1, §5, §6).
"""

from __future__ import annotations

import datetime as dt
import math

from guardian.domain.errors import InvalidValue
from guardian.domain.pathway import Pathway

RTT_18_WEEKS_LAST_DAY = 126
LONGEST_BAND_LAST_DAY = 728

#: The RTT week-band column names, in order (docs/rules.md §6, docs/formats.md "RTT
#: export"): "Gt 00 To 01 Weeks SUM 1" … "Gt 103 To 104 Weeks SUM 1", "Gt 104 Weeks SUM 1".
#: `RTT_BAND_COLUMNS[week_band(d)]` is the column of a wait of d days.
RTT_BAND_COLUMNS: tuple[str, ...] = tuple(
    f"Gt {k:02d} To {k + 1:02d} Weeks SUM 1" for k in range(104)
) + ("Gt 104 Weeks SUM 1",)
OVER_104_WEEKS_BAND = len(RTT_BAND_COLUMNS) - 1  # 104


def waiting_days(start: dt.date, on: dt.date) -> int:
    """Days waited on `on` for a clock that started on `start`.

    docs/rules.md §1: whole days on local dates; the start date is day 0. Negative
    when `on` is before `start` (callers decide whether the clock had started).
    """
    return (on - start).days


def week_band(days: int) -> int:
    """Index of the RTT week band (and of its column in `RTT_BAND_COLUMNS`) for a wait.

    docs/rules.md §6: band "0–1" (index 0) for d ≤ 7, else band k = ceil(d/7) − 1
    ("Gt k To k+1 Weeks"), so 126 days is band 17 ("17–18", within 18 weeks) and 728 days
    band 103; d > 728 is "Gt 104 Weeks" (index 104). Raises InvalidValue for d < 0.
    """
    if days < 0:
        raise InvalidValue(f"a wait cannot be negative ({days} days)", field="days")
    if days > LONGEST_BAND_LAST_DAY:
        return OVER_104_WEEKS_BAND
    return max(0, math.ceil(days / 7) - 1)


def within_18_weeks(days: int) -> bool:
    """docs/rules.md §6: within 18 weeks means d ≤ 126 (126 days is band "17–18")."""
    return days <= RTT_18_WEEKS_LAST_DAY


def is_rtt_waiting_on(pathway: Pathway, on: dt.date) -> bool:
    """Whether an RTT pathway counts as waiting (an incomplete pathway) on `on`.

    docs/rules.md §5, §6 and the RTT export (docs/formats.md): an RTT pathway (not ONON/INON)
    whose clock started on or before `on` and had not stopped on or before it ("a clock
    stops on its end date", so a pathway is not waiting on its end date — this includes
    first-appointment DNA, status 33), and which was not closed on or before `on`.
    """
    if not pathway.is_rtt or pathway.clock_start is None or pathway.clock_start > on:
        return False
    if pathway.stopped_by(on):
        return False
    return not (pathway.closed_on is not None and pathway.closed_on <= on)
