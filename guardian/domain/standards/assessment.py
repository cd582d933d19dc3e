"""Where a deadline stands on a date: breached, at risk or within (docs/rules.md §3, §4).

The rule is written once (`breached_when`, `at_risk_when`, `deadline_state`); the rest
applies it to a pathway's deadlines.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from guardian.domain.pathway import DeteriorationFlag, Pathway
from guardian.domain.standards.deadline import Deadline, day_text, deadlines
from guardian.domain.standards.table import STANDARDS, Standard
from guardian.domain.standards.working_days import BankHolidays

STATES = ("breached", "at-risk", "within")

# The rule of docs/rules.md §3 and §4, written once. A deadline is breached on `on` from its
# breach day onwards; at risk from the first day of its window (`at_risk_from`) until the
# day before the breach day; otherwise within. No deadline (breach_on None) is neither, and
# a standard without a window (at_risk_from None) is never at risk.
#
# `breached_when` and `at_risk_when` use nothing but comparison and `&`, so each serves both
# for dates (giving a bool) and for SQL columns of dates (giving a condition: NULL compares
# as unknown, so a row without a deadline or a window matches neither). The domain imports
# nothing from SQL: the columns bring their own operators.


def breached_when(breach_on, on):
    """Breached on `on`: `breach_on` ≤ `on` (e.g. RTT 18: from day 127). Dates or SQL
    columns; a None breach day (no deadline) is never breached."""
    if breach_on is None:
        return False
    return breach_on <= on


def at_risk_when(at_risk_from, breach_on, on):
    """At risk on `on`: `at_risk_from` ≤ `on` < `breach_on` (e.g. RTT 18 with a 14-day
    window: days 113–126). Dates or SQL columns; never at risk without a window or a
    deadline (None)."""
    if at_risk_from is None or breach_on is None:
        return False
    return (at_risk_from <= on) & (breach_on > on)


def deadline_state(breach_on: dt.date | None, at_risk_from: dt.date | None,
                   on: dt.date) -> str:
    """Where a deadline stands on `on`: "breached", "at-risk" or "within" (one of
    `STATES`), by `breached_when` and `at_risk_when`. Dates only (it chooses in Python)."""
    if breached_when(breach_on, on):
        return "breached"
    if at_risk_when(at_risk_from, breach_on, on):
        return "at-risk"
    return "within"


@dataclass(frozen=True)
class DeadlineStatus:
    """A deadline as it stands on one date (docs/rules.md §3, §4).

    `state`: "breached" from `breach_on` onwards; "at-risk" from `at_risk_from` until the
    breach day; otherwise "within". `days_left`: calendar days from that date to the last
    day within (0 on the last day within, negative once past it).
    """

    deadline: Deadline
    state: str
    days_left: int

    def describe(self, subject: str | None = None) -> str:
        """Plain English: the deadline (about `subject`, in words) and where it stands."""
        d = self.deadline
        if self.state == "breached":
            where = f"breached (recorded on {day_text(d.breach_on)})"
        elif self.days_left == 0:
            where = "today is the last day within"
        elif self.days_left < 0:
            where = "past the last day within; breach recorded on " + day_text(d.breach_on)
        else:
            plural = "" if self.days_left == 1 else "s"
            where = f"{self.days_left} day{plural} left"
        if self.state == "at-risk":
            where = "at risk: " + where
        return f"{d.describe(subject)} — {where}"


def status_on(deadline: Deadline, on: dt.date) -> DeadlineStatus:
    """Where a deadline stands on `on` (docs/rules.md §3, §4).

    Breached when `on` ≥ the breach day (e.g. RTT 18: day 127 onwards); at risk when
    `at_risk_from` ≤ `on` < breach day (calendar standards: the last N days up to the last
    day within, e.g. RTT 18 with 14 days: days 113–126); otherwise within.
    """
    state = deadline_state(deadline.breach_on, deadline.at_risk_from, on)
    return DeadlineStatus(deadline, state, (deadline.last_day_within - on).days)


def assess(pathway: Pathway, on: dt.date, flags: Iterable[DeteriorationFlag] = (),
           standards: Iterable[Standard] = STANDARDS,
           bank_holidays: BankHolidays | None = None) -> list[DeadlineStatus]:
    """Each of the pathway's current deadlines (see `deadlines`) as it stands on `on`.

    docs/rules.md §3, §4: breached from the breach day, at risk inside the at-risk window,
    otherwise within. Same order as `deadlines`.
    """
    return [status_on(d, on) for d in deadlines(pathway, flags, standards, bank_holidays)]


def breached(pathway: Pathway, on: dt.date, flags: Iterable[DeteriorationFlag] = (),
             standards: Iterable[Standard] = STANDARDS,
             bank_holidays: BankHolidays | None = None) -> list[DeadlineStatus]:
    """The deadlines breached on `on` (docs/rules.md §3: on or after the breach day)."""
    return [s for s in assess(pathway, on, flags, standards, bank_holidays)
            if s.state == "breached"]


def at_risk(pathway: Pathway, on: dt.date, flags: Iterable[DeteriorationFlag] = (),
            standards: Iterable[Standard] = STANDARDS,
            bank_holidays: BankHolidays | None = None) -> list[DeadlineStatus]:
    """The deadlines at risk on `on` (docs/rules.md §4 at-risk windows, e.g. RTT 18:
    14 days, days 113–126)."""
    return [s for s in assess(pathway, on, flags, standards, bank_holidays)
            if s.state == "at-risk"]


def next_deadline(pathway: Pathway, on: dt.date, flags: Iterable[DeteriorationFlag] = (),
                  standards: Iterable[Standard] = STANDARDS,
                  bank_holidays: BankHolidays | None = None) -> Deadline | None:
    """The earliest deadline (by last day within) not yet breached on `on`, or None.

    docs/rules.md §3: a deadline is breached from its breach day onwards.
    """
    for d in deadlines(pathway, flags, standards, bank_holidays):
        if not breached_when(d.breach_on, on):
            return d
    return None
