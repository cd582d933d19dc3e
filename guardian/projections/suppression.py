"""Small-number suppression for every aggregate a place lead sees or downloads.

docs/suppression.md (after NHS Digital's practice for hospital statistics): counts
1–7 become `*`; every other count, totals included, is rounded to the nearest 5;
percentages, medians and percentiles are computed from the exact data and withheld (`*`)
when their group has fewer than 8 pathways. Reports call these functions and nothing else,
so the rule lives in one place.
"""

from __future__ import annotations

from collections.abc import Callable

SUPPRESSED = "*"
SMALLEST_SHOWN_COUNT = 8
SMALLEST_GROUP_FOR_STATISTICS = 8


def suppress_count(count: int) -> int | str:
    """A count as a place lead may see it: 0 stays 0; 1–7 → "*"; else the nearest 5.

    Integers are never exactly between two multiples of 5, so "nearest" is unambiguous:
    8 → 10, 12 → 10, 13 → 15, 127 → 125.
    """
    if count < 0:
        raise ValueError(f"a count cannot be negative ({count})")
    if count == 0:
        return 0
    if count < SMALLEST_SHOWN_COUNT:
        return SUPPRESSED
    return 5 * ((count + 2) // 5)


def suppress_statistic(
    value: float | None,
    group_size: int,
    formatter: Callable[[float], str] = lambda v: f"{v:.1f}",
) -> str:
    """A percentage, median or percentile computed from exact data, withheld under 8.

    `group_size` is the number of pathways the statistic describes (exact, not rounded).
    An empty group has no statistic; it is shown as suppressed too.
    """
    if value is None or group_size < SMALLEST_GROUP_FOR_STATISTICS:
        return SUPPRESSED
    return formatter(value)
