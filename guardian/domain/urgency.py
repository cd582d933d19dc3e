"""The worklist's default order: what needs doing first comes first (docs/rules.md §11).

A pathway's place in the order is `urgency(...)`, a sort key of three parts, compared in
turn (then the provider and the pathway id, so that the order is total):

1. its tier:
   - `NEW` (0): a breach or a deterioration flag no coordinator has seen yet (recorded since
     anyone last opened the patient) that happened within the last `NEW_FOR_DAYS` days;
   - `CANCER` (1): an urgent suspected cancer referral (priority 3);
   - `AT_RISK` (2): a step in its at-risk window, not yet breached;
   - `BREACHED` (3): an older breach, already being worked;
   - `OTHER` (4): everything else;
2. a day: for `NEW`, the day of the newest news, newest first (as `descending(day)`, a day
   that sorts the other way); otherwise the last day within of the next deadline, soonest
   first (`NO_DEADLINE` when there is none: last);
3. urgent suspected cancer (0) before the rest (1), which only matters within `NEW`.

The key changes only on the days in `changes` (news stops being new, an at-risk window
opens, a breach falls due), so `stored` gives it with the span of days it holds for: the
worklist keeps that and computes the key when read only for a day outside the span
(docs/rules.md §11, "Stored with its days"). The worklist's SQL
(guardian/projections/worklist_order.py) mirrors this module; a test checks that the two
order every combination alike, whatever day the rows were written on.
"""

from __future__ import annotations

import datetime as dt
from enum import IntEnum

NEW_FOR_DAYS = 14  # news older than this is no longer "new" (docs/rules.md §11)
CANCER_PRIORITY = 3  # PRIORITY_TYPE_CODE 3: urgent suspected cancer
NO_DEADLINE = dt.date(9999, 12, 31)
ALWAYS = dt.date(1, 1, 1)  # the first day of a span with no change before it
_MIRROR = dt.date(1, 1, 1).toordinal() + NO_DEADLINE.toordinal()


class Tier(IntEnum):
    NEW = 0
    CANCER = 1
    AT_RISK = 2
    BREACHED = 3
    OTHER = 4


Key = tuple[int, dt.date, int]


def descending(day: dt.date) -> dt.date:
    """A day that sorts in the opposite order: later days give earlier ones."""
    return dt.date.fromordinal(_MIRROR - day.toordinal())


def is_new(news_on: dt.date | None, today: dt.date) -> bool:
    """Unseen news that happened within the last NEW_FOR_DAYS days (today included)."""
    return news_on is not None and news_on >= today - dt.timedelta(days=NEW_FOR_DAYS - 1)


def tier(news_on: dt.date | None, priority: int, at_risk_from: dt.date | None,
         breach_on: dt.date | None, today: dt.date) -> Tier:
    """The tier of a pathway on `today` (see the module's docstring)."""
    if is_new(news_on, today):
        return Tier.NEW
    if priority == CANCER_PRIORITY:
        return Tier.CANCER
    if at_risk_from is not None and breach_on is not None and at_risk_from <= today < breach_on:
        return Tier.AT_RISK
    if breach_on is not None and breach_on <= today:
        return Tier.BREACHED
    return Tier.OTHER


def urgency(news_on: dt.date | None, priority: int, at_risk_from: dt.date | None,
            breach_on: dt.date | None, last_day_within: dt.date | None,
            today: dt.date) -> Key:
    """The sort key of a pathway in the worklist's default order on `today`.

    `news_on`: the day of its newest unseen breach or deterioration flag (None: none);
    `priority`: PRIORITY_TYPE_CODE; `at_risk_from`, `breach_on`, `last_day_within`: of its
    next deadline (None: no deadline).
    """
    t = tier(news_on, priority, at_risk_from, breach_on, today)
    if t is Tier.NEW:
        assert news_on is not None
        day = descending(news_on)
    else:
        day = last_day_within or NO_DEADLINE
    return (int(t), day, 0 if priority == CANCER_PRIORITY else 1)


def changes(news_on: dt.date | None, at_risk_from: dt.date | None,
            breach_on: dt.date | None) -> list[dt.date]:
    """The days on which the key may change (docs/rules.md §11): the day news stops being
    new (`NEW_FOR_DAYS` after it), the first day of the at-risk window, the breach day."""
    expires = news_on + dt.timedelta(days=NEW_FOR_DAYS) if news_on is not None else None
    return [d for d in (expires, at_risk_from, breach_on) if d is not None]


def stored(news_on: dt.date | None, priority: int, at_risk_from: dt.date | None,
           breach_on: dt.date | None, last_day_within: dt.date | None,
           today: dt.date) -> tuple[Key, dt.date, dt.date]:
    """The key on `today` and the span of days [first, until) it holds for unchanged: from
    the last change on or before `today` (`ALWAYS`: none) to the first after it
    (`NO_DEADLINE`: none). For any day in the span, `urgency(...)` gives the same key.
    """
    days = changes(news_on, at_risk_from, breach_on)
    first = max((d for d in days if d <= today), default=ALWAYS)
    until = min((d for d in days if d > today), default=NO_DEADLINE)
    return urgency(news_on, priority, at_risk_from, breach_on, last_day_within, today), first, until
