"""The worklist's orders as SQL: the urgency order of docs/rules.md §11 (defined in
guardian/domain/urgency.py, mirrored here column by column; a test checks that the two
order alike), and the keyset positions every order pages on."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Table, and_, case, literal, true, tuple_

from guardian.domain import standards, urgency


def is_new(w: Table, on: dt.date) -> Any:
    """SQL for urgency.is_new: unseen news within the last NEW_FOR_DAYS days."""
    cutoff = on - dt.timedelta(days=urgency.NEW_FOR_DAYS - 1)
    return and_(w.c.news_on.is_not(None), w.c.news_on >= cutoff)


def urgency_keys(w: Table, on: dt.date) -> list[Any]:
    """The urgency order's sort key (guardian/domain/urgency.py `urgency`) as SQL: tier,
    day, cancer first. A test checks that the two order alike."""
    cancer = w.c.priority == urgency.CANCER_PRIORITY
    new = is_new(w, on)
    tier = case(
        (new, int(urgency.Tier.NEW)),
        (cancer, int(urgency.Tier.CANCER)),
        (standards.at_risk_when(w.c.next_at_risk_from, w.c.next_breach_on, on),
         int(urgency.Tier.AT_RISK)),
        (standards.breached_when(w.c.next_breach_on, on), int(urgency.Tier.BREACHED)),
        else_=int(urgency.Tier.OTHER))
    day = case((new, w.c.news_sort), else_=w.c.deadline_sort)
    return [tier.label("urgency_tier"), day.label("urgency_day"),
            case((cancer, 0), else_=1).label("urgency_cancer")]


def position_after(sort: str, row: dict[str, Any]) -> tuple[Any, ...]:
    """The keyset position just after `row` (a row `page` gave) in `sort` order: `page`'s
    `after` for the page that follows it."""
    if sort == "urgency":
        return (row["urgency_tier"], row["urgency_day"], row["urgency_cancer"],
                row["provider"], row["pathway_id"])
    key = "deadline_sort" if sort == "next-deadline" else "wait_from"
    return row[key], row["provider"], row["pathway_id"]


def keyset(keys: list[Any], after: tuple[Any, ...] | None, backwards: bool):
    """Rows after (before, `backwards`) the position `after` in the order of `keys`."""
    if after is None:
        return true()
    if len(after) != len(keys):
        raise ValueError("a position of another sort order")
    if backwards:
        return tuple_(*keys) < tuple_(*[literal(v) for v in after])
    return tuple_(*keys) > tuple_(*[literal(v) for v in after])
