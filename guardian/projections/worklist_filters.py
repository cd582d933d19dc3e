"""The worklist's filters as SQL conditions: what each filter of the worklist page and of
`GET /api/v1/worklists/{pcn}` shows (docs/api.md), over the columns of the worklist read
model (guardian/projections/worklist.py), on the day asked about.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Table, literal_column, or_

from guardian.domain import standards
from guardian.projections.worklist_order import is_new

FILTERS = ("new", "breached", "at-risk", "deterioration", "workup-incomplete",
           "diagnostics-overdue", "unanswered-messages", "check-in-due", "assigned-to-me",
           "unassigned", "diagnostics-outstanding", "left-list")
FILTER_LABELS = {
    "new": "New since last opened",
    "breached": "Breached", "at-risk": "At risk", "deterioration": "Deterioration flagged",
    "workup-incomplete": "Workup incomplete", "diagnostics-overdue": "Tests overdue (6 weeks)",
    "unanswered-messages": "Unanswered messages", "check-in-due": "Check-in due",
    "assigned-to-me": "Assigned to me", "unassigned": "Unassigned",
    "diagnostics-outstanding": "Tests awaiting result", "left-list": "Left the hospital list",
}
DIAGNOSTIC_OVERDUE_DAYS = 42  # DM01 "6 weeks or more" (docs/rules.md §2)


def condition(w: Table, name: str, on: dt.date, scope: Any) -> Any:
    """The SQL condition of one filter on `on` for `scope` (its `user` and `gone`); only
    that one is built: a page asks for each."""
    made = _FILTERS.get(name)
    if made is None:
        raise ValueError(f"unknown filter {name!r}; one of {', '.join(FILTERS)}")
    return made(w, on, scope)


_FILTERS: dict[str, Any] = {
    # the rule of standards.deadline_state, as SQL conditions
    "new": lambda w, on, scope: is_new(w, on),
    "breached": lambda w, on, scope: standards.breached_when(w.c.next_breach_on, on),
    "at-risk": lambda w, on, scope: standards.at_risk_when(w.c.next_at_risk_from,
                                                           w.c.next_breach_on, on),
    "deterioration": lambda w, on, scope: w.c.deterioration_since.is_not(None),
    "workup-incomplete": lambda w, on, scope: w.c.workup_outstanding > 0,
    "diagnostics-overdue": lambda w, on, scope: w.c.oldest_diagnostic_on
    <= on - dt.timedelta(days=DIAGNOSTIC_OVERDUE_DAYS),
    "assigned-to-me": lambda w, on, scope: w.c.coordinator == (scope.user or ""),
    "unassigned": lambda w, on, scope: or_(w.c.coordinator.is_(None),
                                           w.c.coordinator.in_(sorted(scope.gone)))
    if scope.gone else w.c.coordinator.is_(None),
    # A literal 0, as in the partial index's predicate (SQLite matches it by text).
    "unanswered-messages": lambda w, on, scope: w.c.unanswered_messages > literal_column("0"),
    "diagnostics-outstanding": lambda w, on, scope: w.c.diagnostics_outstanding > 0,
    "left-list": lambda w, on, scope: w.c.left_list_on.is_not(None),
    "check-in-due": lambda w, on, scope: w.c.check_in_due <= on,
}
assert set(_FILTERS) == set(FILTERS)
