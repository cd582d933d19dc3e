"""What the wait-time sweep records for a pathway: breaches, at-risk warnings and the
withdrawal of breaches the facts no longer support (docs/rules.md §3, §4).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from guardian.domain.pathway import DeteriorationFlag, Pathway
from guardian.domain.standards.deadline import (
    Deadline,
    TrackedDeadline,
    tracked_deadlines,
)
from guardian.domain.standards.table import STANDARDS, Standard
from guardian.domain.standards.working_days import BankHolidays

FINDING_KINDS = ("withdraw", "breach", "at-risk")
#: The due date of a withdrawal: any sweep, on any date, makes it.
AT_ONCE = dt.date.min


class WaitFinding(NamedTuple):
    """Something the wait-time sweep has to record for a pathway (docs/rules.md §3, §4).

    * "breach": record `WaitBreached` dated `due_on` (the breach day) once that day has
      come; once per pathway × standard × subject.
    * "at-risk": record `StepAtRisk` from `due_on` (first day of the window) until the
      breach day; once per pathway × standard × subject × window.
    * "withdraw": a recorded breach the facts no longer support (`reason` says why);
      `due_on` is `AT_ONCE`.

    Findings do not depend on the day the sweep runs: only whether they are due does.
    """

    kind: str
    standard: str
    subject: str
    due_on: dt.date
    deadline: Deadline | None = None
    reason: str = ""

    def due(self, on: dt.date) -> bool:
        """Whether a sweep on `on` records it (an at-risk warning only before the breach)."""
        if self.kind == "at-risk":
            assert self.deadline is not None
            return self.due_on <= on < self.deadline.breach_on
        return self.due_on <= on


def wait_findings(
    pathway: Pathway,
    flags: Iterable[DeteriorationFlag] = (),
    standards: Iterable[Standard] = STANDARDS,
    bank_holidays: BankHolidays | None = None,
    tracked: Sequence[TrackedDeadline] | None = None,
) -> list[WaitFinding]:
    """What the sweep still has to record for this pathway, whatever the date.

    docs/rules.md §3: a breach is recorded once per pathway × standard (× test, flag or
    message), dated on the breach day. That holds for a stopped or closed pathway too
    when Guardian watched it waiting and its step was not done before the breach day (the
    stop came on or after it); a pathway first reported already stopped owes none. A
    recorded breach stands while the facts as now known still show it: the
    standard applies, its step was not done before the breach day, and that day is the one
    recorded. Otherwise (e.g. a corrected clock start, a clock stop reported late) it is
    withdrawn; where the breach still happened on another day, it is recorded again with
    that day. An at-risk warning is due from the first day of the window for a step still
    outstanding whose breach is not recorded, once per window (a moved deadline is a new
    window). Withdrawals come first, then the rest in deadline order.
    """
    p = pathway
    if tracked is None:
        tracked = tracked_deadlines(p, flags, standards, bank_holidays)
    standing: set[tuple[str, str]] = set()
    by_key: dict[tuple[str, str], TrackedDeadline] = {}
    todo: list[WaitFinding] = []
    for t in tracked:
        d, key = t.deadline, t.key
        by_key[key] = t
        recorded = p.breaches.get(key)
        if not t.breaches:
            continue
        if recorded == d.breach_on:
            standing.add(key)
            continue
        if not (p.is_open or p.watched):
            continue  # first reported already stopped: it never waited while watched
        todo.append(WaitFinding("breach", key[0], key[1], d.breach_on, d))
        if (d.at_risk_from is not None and t.done_on is None
                and p.at_risk.get(key) != d.last_day_within):
            todo.append(WaitFinding("at-risk", key[0], key[1], d.at_risk_from, d))
    withdrawals = []
    for key, breach_on in p.breaches.items():
        if key in standing:
            continue
        t = by_key.get(key)
        if t is None:
            reason = "the standard no longer applies to this pathway"
        elif not t.breaches:
            reason = (f"done on {t.done_on.isoformat()}, before the breach day "  # type: ignore[union-attr]
                      f"{t.deadline.breach_on.isoformat()}")
        else:
            reason = (f"the breach day is {t.deadline.breach_on.isoformat()}, "
                      f"not {breach_on.isoformat()}")
        withdrawals.append(WaitFinding("withdraw", key[0], key[1], AT_ONCE, reason=reason))
    return withdrawals + todo


def sweep_due_on(findings: Iterable[WaitFinding]) -> dt.date | None:
    """The first day on which a sweep has something to record (None: nothing pending).

    The worklist keeps it in an indexed column, so a sweep loads only the patients with
    something due instead of every aggregate.
    """
    return min((f.due_on for f in findings), default=None)
