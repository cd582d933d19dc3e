"""The worklist's orders as SQL: the urgency order of docs/rules.md §11 (defined in
guardian/domain/urgency.py, mirrored here column by column; a test checks that the two
order alike), and the keyset positions every order pages on.

A row stores its urgency key with the span of days it holds for (`urgency.stored`). A page
in the urgency order (`urgency_choice`) takes its keys from two branches merged in order:
the rows whose stored key holds on the day asked about, read in the order of their index,
and the others, whose key is computed here from the row's dates and sorted. Which rows
fall in which branch depends on when they were written and refreshed (`refresh_urgency`,
run by the wait-time sweep), never the order: both branches give `urgency.urgency`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Connection,
    Table,
    and_,
    bindparam,
    case,
    literal,
    or_,
    select,
    true,
    tuple_,
    union_all,
    update,
)

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


KEY_NAMES = ("urgency_tier", "urgency_day", "urgency_cancer")


def stale(w: Table, on: dt.date) -> Any:
    """Rows whose stored urgency key does not hold on `on`."""
    return or_(w.c.urgency_until <= on, w.c.urgency_from > on)


def urgency_choice(w: Table, on: dt.date, clauses: list[Any], after: tuple[Any, ...] | None,
                   backwards: bool, limit: int) -> Any:
    """A subquery of the page's (provider, pathway_id, urgency_tier, urgency_day,
    urgency_cancer): the `limit` positions after `after` (before it, `backwards`) in the
    urgency order, of the rows `clauses` allow. Each branch gives at most `limit` in order
    (the stored keys along their index), and the first `limit` of the two are taken."""
    holds = and_(w.c.urgency_from <= on, w.c.urgency_until > on)
    stored = [w.c[name].label(name) for name in KEY_NAMES]
    branches = []
    for labelled, where in ((stored, holds), (urgency_keys(w, on), stale(w, on))):
        keys = [*[e.element for e in labelled], w.c.provider, w.c.pathway_id]
        branch = (select(w.c.provider, w.c.pathway_id, *labelled)
                  .where(*clauses, where, keyset(keys, after, backwards))
                  .order_by(*[k.desc() if backwards else k for k in keys]).limit(limit)
                  .subquery())
        branches.append(select(*branch.c))
    both = union_all(*branches).subquery()
    order = [both.c[name] for name in (*KEY_NAMES, "provider", "pathway_id")]
    return (select(both).order_by(*[k.desc() if backwards else k for k in order])
            .limit(limit).subquery())


def refresh_urgency(engine: Any, w: Table, on: dt.date, batch: int = 5_000) -> int:
    """Store the urgency key that holds on `on` in every row whose stored key does not,
    so pages read it in index order (run by the wait-time sweep, hourly): in batches along
    the primary key, each in its own short transaction (the projector is never held up
    for long). Returns how many rows were given the day's key."""
    done, after = 0, None
    while True:
        with engine.begin() as conn:
            found, updated, after = refresh_batch(conn, w, on, after, batch)
        done += updated
        if found < batch:
            return done


def refresh_batch(conn: Connection, w: Table, on: dt.date, after: tuple[str, str] | None,
                  batch: int) -> tuple[int, int, tuple[str, str] | None]:
    """One batch of `refresh_urgency`: up to `batch` stale rows after the primary key
    `after`. A row the projector rewrites meanwhile is left as it wrote it: the update
    matches the dates the key was computed from. Returns the rows found, those updated,
    and the last key."""
    dates = ("news_on", "priority", "next_at_risk_from", "next_breach_on", "next_deadline")
    found = conn.execute(
        select(w.c.provider, w.c.pathway_id, *[w.c[d] for d in dates])
        .where(stale(w, on), keyset([w.c.provider, w.c.pathway_id], after, False))
        .order_by(w.c.provider, w.c.pathway_id).limit(batch)).all()
    if not found:
        return 0, 0, after
    values = []
    for row in found:
        key, first, until = urgency.stored(row.news_on, row.priority, row.next_at_risk_from,
                                           row.next_breach_on, row.next_deadline, on)
        values.append({"k_provider": row.provider, "k_pathway_id": row.pathway_id,
                       **{f"k_{d}": getattr(row, d) for d in dates},
                       "v_urgency_tier": key[0], "v_urgency_day": key[1],
                       "v_urgency_cancer": key[2], "v_urgency_from": first,
                       "v_urgency_until": until})
    matches = [w.c.provider == bindparam("k_provider"),
               w.c.pathway_id == bindparam("k_pathway_id"),
               *[w.c[d].is_not_distinct_from(bindparam(f"k_{d}")) for d in dates]]
    updated = conn.execute(update(w).where(*matches).values(
        {name: bindparam(f"v_{name}") for name in (*KEY_NAMES, "urgency_from", "urgency_until")}),
        values).rowcount
    return len(found), updated, (found[-1].provider, found[-1].pathway_id)
