"""Wait-time standards as Guardian applies them: one table of rules, pure functions over it.

docs/rules.md §2 (the standards table) is the source of every
number here. The numbers live in one table, `STANDARDS`; a deployment changes them with
`load_standards(overrides)`, never by editing code.

Conventions (docs/rules.md §1, §3 and §4):

* All counting is in whole days on local dates; the clock's start date is day 0.
* "Last day within" is the last date on which the standard is still met; the breach is
  recorded on the day after it (for working-day standards: the next working day after).
* At-risk window of N days (N > 0): a deadline is at risk on the last N days up to and
  including its last day within, i.e. on dates `last_day_within - N < date <= last_day_within`
  (counted in working days for working-day standards). The first of those dates is
  `Deadline.at_risk_from`; it is never earlier than the clock's start. A window of 0 or
  None means the standard has no at-risk state.
* Working days exclude Saturdays, Sundays and England and Wales bank holidays. Every
  function that needs bank holidays takes them as a parameter; when it is None they are
  computed lazily (and cached) for the years needed from the `holidays` package.

Nothing here imports infrastructure: time always comes in as an argument.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import NamedTuple

from guardian.domain.codes import PROCEDURE_PRIORITIES, URGENT_SUSPECTED_CANCER
from guardian.domain.errors import InvalidValue
from guardian.domain.pathway import DeteriorationFlag, Pathway

# --------------------------------------------------------------------------------------
# The table of standards
# --------------------------------------------------------------------------------------

KINDS = ("rtt", "cancer-fds", "cancer-62", "diagnostic", "procedure", "workup",
         "deterioration", "message")


@dataclass(frozen=True)
class Standard:
    """One row of the standards table (docs/rules.md §2).

    `last_day_within` counts calendar days from the clock's start (day 0), or working days
    when `working_days` is true. `at_risk_days` is the length of the at-risk window that
    ends on the last day within (None or 0: no at-risk state).
    """

    code: str
    label: str
    applies_to: str
    procedure_priority: str | None
    last_day_within: int
    working_days: bool = False
    at_risk_days: int | None = None

    @property
    def breach_day(self) -> int | None:
        """Day number on which a breach is recorded (calendar standards only).

        docs/rules.md §2: the breach is recorded on the day after the last day within,
        e.g. RTT 18 weeks: last day within = day 126, breach recorded day 127. For
        working-day standards the breach day is a date, not a fixed day number: None.
        """
        return None if self.working_days else self.last_day_within + 1

    def describe(self) -> str:
        """Plain-English statement of the rule (docs/rules.md §2)."""
        if self.working_days:
            rule = (f"within {self.last_day_within} working days; breach recorded on the "
                    f"next working day after")
        else:
            rule = (f"last day within is day {self.last_day_within}; breach recorded on "
                    f"day {self.last_day_within + 1}")
        if self.at_risk_days:
            unit = "working days" if self.working_days else "days"
            rule += f"; at risk in the last {self.at_risk_days} {unit}"
        return f"{self.label}: {rule}"


STANDARDS: tuple[Standard, ...] = (
    # docs/rules.md §2: RTT 18 weeks and long waits, RTT pathways with the clock running,
    # clock from the RTT period start.
    Standard("rtt-18", "18 weeks from referral to treatment", "rtt", None, 126, False, 14),
    Standard("rtt-52", "52-week wait", "rtt", None, 364, False, 28),
    Standard("rtt-65", "65-week wait", "rtt", None, 455, False, 28),
    Standard("rtt-78", "78-week wait", "rtt", None, 546, False, 28),
    Standard("rtt-104", "104-week wait", "rtt", None, 728, False, 28),
    # Cancer (docs/rules.md §2): clock from the referral received date.
    Standard("cancer-fds-28", "Cancer diagnosis or all-clear told within 28 days",
             "cancer-fds", None, 28, False, 7),
    Standard("cancer-62", "Cancer treatment started within 62 days", "cancer-62", None,
             62, False, 14),
    # DM01 (docs/rules.md §2): each ordered test, clock from the order date; "6 weeks or
    # more" = day 42.
    Standard("diagnostic-6w", "Diagnostic test done within 6 weeks", "diagnostic", None,
             41, False, 7),
    # Procedure priority (docs/rules.md §2): clock from the last priority review.
    Standard("procedure-p2", "Procedure priority P2 (within 4 weeks)", "procedure", "P2",
             28, False, 7),
    Standard("procedure-p3", "Procedure priority P3 (within 3 months)", "procedure", "P3",
             90, False, 14),
    # Local standards (docs/rules.md §2).
    Standard("workup-14", "Agreed referral workup done within 14 days", "workup", None,
             14, False, 3),
    Standard("deterioration-review", "Reported deterioration reviewed within 2 working days",
             "deterioration", None, 2, True, None),
    Standard("message-answer", "GP or hospital message answered within 2 working days",
             "message", None, 2, True, None),
)

# Procedure priorities that are not waiting-list deadlines (docs/rules.md §2).
UNTRACKED_PROCEDURE_PRIORITIES = ("P1a", "P1b", "P4", "P5", "P6")
OVERRIDABLE_FIELDS = ("last_day_within", "at_risk_days")
_INTEGER_TEXT = re.compile(r"[+-]?\d+")


def get_standard(code: str, standards: Iterable[Standard] = STANDARDS) -> Standard:
    """The row of the standards table with this code (docs/rules.md §2).

    Raises InvalidValue for a code that is not in the table.
    """
    for s in standards:
        if s.code == code:
            return s
    raise InvalidValue(f"{code!r} is not a known standard; known: {_known_codes(standards)}",
                       field="standard")


def _known_codes(standards: Iterable[Standard]) -> str:
    return ", ".join(s.code for s in standards)


def _as_count(code: str, name: str, value: object, *, allow_none: bool) -> int | None:
    field = f"{code}.{name}"
    if value is None:
        if allow_none:
            return None
        raise InvalidValue(f"{field} must be a whole number of days, not empty", field=field)
    if isinstance(value, bool):
        raise InvalidValue(f"{field} must be a whole number of days, not {value!r}",
                           field=field)
    if isinstance(value, int):
        n = value
    elif isinstance(value, str) and _INTEGER_TEXT.fullmatch(value.strip()):
        n = int(value.strip())
    else:
        raise InvalidValue(f"{field} must be a whole number of days, not {value!r}",
                           field=field)
    if n < 0:
        raise InvalidValue(f"{field} must not be negative (got {n})", field=field)
    return n


def _unknown_code(code: str, standards: tuple[Standard, ...]) -> InvalidValue:
    if code.startswith("procedure-"):
        wanted = code.removeprefix("procedure-")
        by_upper = {p.upper(): p for p in PROCEDURE_PRIORITIES}
        prio = by_upper.get(wanted.upper())
        if prio is None:
            return InvalidValue(
                f"{code!r}: {wanted!r} is not a procedure priority "
                f"({', '.join(PROCEDURE_PRIORITIES)})", field="standard")
        return InvalidValue(
            f"{code!r}: procedure priority {prio} is not tracked as a waiting-list deadline "
            f"(only P2 and P3 are; docs/rules.md §2)", field="standard")
    return InvalidValue(f"{code!r} is not a known standard; known: {_known_codes(standards)}",
                        field="standard")


def load_standards(
    overrides: Mapping[str, Mapping[str, object]] | None = None,
    base: tuple[Standard, ...] = STANDARDS,
) -> tuple[Standard, ...]:
    """The standards table with a deployment's overrides applied.

    docs/rules.md §2: a deployment sets its targets and windows in one table of
    configuration, never in code. `overrides` maps a standard code (e.g. "rtt-18") to
    new values for `last_day_within` and/or `at_risk_days` (None or 0 switches the
    at-risk state off). Whole numbers may be given as int or as decimal text.

    Raises InvalidValue, naming the problem, for an unknown standard code, an unknown or
    untracked procedure priority (e.g. "procedure-p4", "procedure-p9"), an unknown
    field, a negative number or a value that is not a whole number.
    """
    if not overrides:
        return base
    by_code = {s.code: s for s in base}
    for raw_code, changes in overrides.items():
        code = str(raw_code).strip().lower()
        if code not in by_code:
            raise _unknown_code(code, base)
        if not isinstance(changes, Mapping):
            raise InvalidValue(f"overrides for {code!r} must be a mapping of field to value",
                               field=code)
        new: dict[str, int | None] = {}
        for name, value in changes.items():
            if name == "last_day_within":
                new[name] = _as_count(code, name, value, allow_none=False)
            elif name == "at_risk_days":
                new[name] = _as_count(code, name, value, allow_none=True)
            else:
                raise InvalidValue(
                    f"{code}.{name} cannot be configured; only "
                    f"{' and '.join(OVERRIDABLE_FIELDS)} can", field=f"{code}.{name}")
        by_code[code] = replace(by_code[code], **new)  # type: ignore[arg-type]
    return tuple(by_code[s.code] for s in base)


# --------------------------------------------------------------------------------------
# Counting days and weeks
# --------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------
# Working days
# --------------------------------------------------------------------------------------

BankHolidays = Container[dt.date]


def england_and_wales_bank_holidays(years: Iterable[int]) -> frozenset[dt.date]:
    """England and Wales bank holidays in the given years (substitute days included).

    docs/rules.md §7: working days exclude weekends and England and Wales bank
    holidays. From `holidays.country_holidays("GB", subdiv="ENG")` (England and Wales
    share their bank holidays); loaded lazily and cached per year.
    """
    out: set[dt.date] = set()
    for y in years:
        out |= _bank_holidays_in(int(y))
    return frozenset(out)


@lru_cache(maxsize=64)
def _bank_holidays_in(year: int) -> frozenset[dt.date]:
    import holidays  # lazy: only loaded when a working-day rule is first used

    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year).keys())


def _holiday_test(bank_holidays: BankHolidays | None) -> Callable[[dt.date], bool]:
    if bank_holidays is None:
        return lambda d: d in _bank_holidays_in(d.year)
    return lambda d: d in bank_holidays


def is_working_day(d: dt.date, bank_holidays: BankHolidays | None = None) -> bool:
    """docs/rules.md §7: a working day is Monday–Friday and not an England and Wales
    bank holiday. `bank_holidays` None: the holidays for `d`'s year, computed lazily."""
    return d.weekday() < 5 and not _holiday_test(bank_holidays)(d)


def add_working_days(start: dt.date, n: int,
                     bank_holidays: BankHolidays | None = None) -> dt.date:
    """The nth working day after `start` (n < 0: the |n|th working day before; n = 0: start).

    docs/rules.md §2, §7: deterioration reviews and message answers are due within 2
    working days, i.e. last day within = `add_working_days(raised_on, 2)`, and the breach
    is recorded on `add_working_days(last_day_within, 1)`. `start` itself never counts.
    """
    is_holiday = _holiday_test(bank_holidays)
    step = 1 if n >= 0 else -1
    d, left = start, abs(n)
    while left:
        d += dt.timedelta(days=step)
        if d.weekday() < 5 and not is_holiday(d):
            left -= 1
    return d


# --------------------------------------------------------------------------------------
# Who is waiting
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# Deadlines
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deadline:
    """One standard applied to one pathway (and one test, flag or message, if per item).

    docs/rules.md §2. `subject` is "" for pathway-level standards, else the test_id,
    flag_id or message_id. `breach_on` is the day the breach is recorded: the day after
    `last_day_within` (working-day standards: the next working day after). `at_risk_from`
    is the first day of the at-risk window (see the module docstring), or None.
    """

    standard: Standard
    subject: str
    clock_from: dt.date
    last_day_within: dt.date
    breach_on: dt.date
    at_risk_from: dt.date | None

    def describe(self) -> str:
        """Plain English, e.g. "18 weeks from referral to treatment: clock from 5 Jan 2026;
        met if done by 11 May 2026 (day 126); breach recorded on 12 May 2026"."""
        s = self.standard
        what = s.label + (f" ({self.subject})" if self.subject else "")
        if s.working_days:
            by = f"{_fmt(self.last_day_within)} ({s.last_day_within} working days)"
        else:
            by = f"{_fmt(self.last_day_within)} (day {s.last_day_within})"
        text = (f"{what}: clock from {_fmt(self.clock_from)}; met if done by {by}; "
                f"breach recorded on {_fmt(self.breach_on)}")
        if self.at_risk_from is not None:
            text += f"; at risk from {_fmt(self.at_risk_from)}"
        return text


def _fmt(d: dt.date) -> str:
    return f"{d.day} {d:%b %Y}"


def _deadline(standard: Standard, subject: str, clock_from: dt.date,
              bank_holidays: BankHolidays | None) -> Deadline:
    if bank_holidays is None:  # the usual case: the same few dates for many pathways
        return _cached_deadline(standard, subject, clock_from)
    return _compute_deadline(standard, subject, clock_from, bank_holidays)


@lru_cache(maxsize=1 << 17)
def _cached_deadline(standard: Standard, subject: str, clock_from: dt.date) -> Deadline:
    return _compute_deadline(standard, subject, clock_from, None)


def _compute_deadline(standard: Standard, subject: str, clock_from: dt.date,
                      bank_holidays: BankHolidays | None) -> Deadline:
    n, window = standard.last_day_within, standard.at_risk_days
    if standard.working_days:
        last = add_working_days(clock_from, n, bank_holidays)
        breach = add_working_days(last, 1, bank_holidays)
        risk = add_working_days(last, -(window - 1), bank_holidays) if window else None
    else:
        last = clock_from + dt.timedelta(days=n)
        breach = last + dt.timedelta(days=1)
        risk = last - dt.timedelta(days=window - 1) if window else None
    if risk is not None and risk < clock_from:
        risk = clock_from
    return Deadline(standard, subject, clock_from, last, breach, risk)


def _clock_running(p: Pathway) -> bool:
    # Pathway-level clocks run until the clock stops. Leaving the provider's list is not a
    # stop: they keep running until a stop, a closure or a validation (docs/rules.md §5).
    return p.clock_end is None


def _procedure_clock_from(p: Pathway) -> dt.date | None:
    return p.priority_reviewed_on or p.procedure_priority_since


def deadlines(
    pathway: Pathway,
    flags: Iterable[DeteriorationFlag] = (),
    standards: Iterable[Standard] = STANDARDS,
    bank_holidays: BankHolidays | None = None,
) -> list[Deadline]:
    """Every standard that applies to this pathway now (docs/rules.md §2).

    * RTT 18 weeks and long waits ("rtt" rows): an RTT pathway with its clock running
      (clock started, not stopped, not closed, not left the list); clock from the RTT
      period start. RTT 18: last day within day 126, breach recorded day 127.
    * Cancer FDS: priority 3 until the diagnosis is communicated (and while the clock runs);
      clock from referral received; day 28 / breach day 29.
    * Cancer 62 days: priority 3 until first treatment (clock stop); from referral
      received; day 62 / breach day 63.
    * Diagnostic 6 weeks: each ordered test without a result; from the order date; day 41 /
      breach day 42 ("6 weeks or more").
    * Procedure P2 / P3: the pathway's procedure priority, clock running; from the last
      priority review, else when the code was first seen; day 28 / 90. P1a, P1b, P4–P6
      are not tracked.
    * Workup (local): outstanding workup items; from referral received; day 14 / day 15.
    * Deterioration review (local): each unreviewed flag for this pathway or for the
      patient as a whole (flag.pathway None); last day within = 2 working days after it
      was raised; breach recorded the next working day after.
    * Message answered (local): each unanswered incoming GP or hospital message; from the
      day it was received; 2 working days, breach the next working day after.

    A closed pathway has no deadlines. A pathway that left the provider's list keeps every
    standard: leaving the list is not a clock stop (docs/rules.md §5). Sorted by last day
    within, then standard code, then subject.
    """
    if pathway.closed_on is not None:
        return []
    out: list[Deadline] = []
    flags = tuple(flags)
    for s in standards:
        kind = s.applies_to
        if kind == "rtt":
            if pathway.is_rtt and pathway.clock_start is not None and _clock_running(pathway):
                out.append(_deadline(s, "", pathway.clock_start, bank_holidays))
        elif kind == "cancer-fds":
            if (pathway.priority == URGENT_SUSPECTED_CANCER and _clock_running(pathway)
                    and pathway.diagnosis_communicated_on is None):
                out.append(_deadline(s, "", pathway.received_on, bank_holidays))
        elif kind == "cancer-62":
            if pathway.priority == URGENT_SUSPECTED_CANCER and _clock_running(pathway):
                out.append(_deadline(s, "", pathway.received_on, bank_holidays))
        elif kind == "diagnostic":
            for test in pathway.outstanding_diagnostics():
                out.append(_deadline(s, test.test_id, test.ordered_on, bank_holidays))
        elif kind == "procedure":
            code = (pathway.procedure_priority or "").upper()
            start = _procedure_clock_from(pathway)
            if (s.procedure_priority and code == s.procedure_priority.upper()
                    and _clock_running(pathway) and start is not None):
                out.append(_deadline(s, "", start, bank_holidays))
        elif kind == "workup":
            if pathway.outstanding_workup():
                out.append(_deadline(s, "", pathway.received_on, bank_holidays))
        elif kind == "deterioration":
            for f in flags:
                if f.reviewed_on is None and (f.pathway is None or f.pathway == pathway.key):
                    out.append(_deadline(s, f.flag_id, f.raised_on, bank_holidays))
        elif kind == "message":
            for m in pathway.unanswered_messages():
                if m.party in ("gp", "hospital"):
                    out.append(_deadline(s, m.message_id, m.on, bank_holidays))
    out.sort(key=lambda d: (d.last_day_within, d.standard.code, d.subject))
    return out


# --------------------------------------------------------------------------------------
# Assessing deadlines on a date
# --------------------------------------------------------------------------------------

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

    def describe(self) -> str:
        """Plain English: the deadline and where it stands."""
        d = self.deadline
        if self.state == "breached":
            where = f"breached (recorded on {_fmt(d.breach_on)})"
        elif self.days_left == 0:
            where = "today is the last day within"
        elif self.days_left < 0:
            where = "past the last day within; breach recorded on " + _fmt(d.breach_on)
        else:
            plural = "" if self.days_left == 1 else "s"
            where = f"{self.days_left} day{plural} left"
        if self.state == "at-risk":
            where = "at risk: " + where
        return f"{d.describe()} — {where}"


def status_on(deadline: Deadline, on: dt.date) -> DeadlineStatus:
    """Where a deadline stands on `on` (docs/rules.md §3, §4).

    Breached when `on` ≥ the breach day (e.g. RTT 18: day 127 onwards); at risk when
    `at_risk_from` ≤ `on` < breach day (calendar standards: the last N days up to the last
    day within, e.g. RTT 18 with 14 days: days 113–126); otherwise within.
    """
    state = deadline_state(deadline.breach_on, deadline.at_risk_from, on)
    return DeadlineStatus(deadline, state, (deadline.last_day_within - on).days)


def assess(
    pathway: Pathway,
    on: dt.date,
    flags: Iterable[DeteriorationFlag] = (),
    standards: Iterable[Standard] = STANDARDS,
    bank_holidays: BankHolidays | None = None,
) -> list[DeadlineStatus]:
    """Each of the pathway's current deadlines (see `deadlines`) as it stands on `on`.

    docs/rules.md §3, §4: breached from the breach day, at risk inside the at-risk window,
    otherwise within. Same order as `deadlines`.
    """
    return [status_on(d, on) for d in deadlines(pathway, flags, standards, bank_holidays)]


def breached(
    pathway: Pathway,
    on: dt.date,
    flags: Iterable[DeteriorationFlag] = (),
    standards: Iterable[Standard] = STANDARDS,
    bank_holidays: BankHolidays | None = None,
) -> list[DeadlineStatus]:
    """The deadlines breached on `on` (docs/rules.md §3: on or after the breach day)."""
    return [s for s in assess(pathway, on, flags, standards, bank_holidays)
            if s.state == "breached"]


def at_risk(
    pathway: Pathway,
    on: dt.date,
    flags: Iterable[DeteriorationFlag] = (),
    standards: Iterable[Standard] = STANDARDS,
    bank_holidays: BankHolidays | None = None,
) -> list[DeadlineStatus]:
    """The deadlines at risk on `on` (docs/rules.md §4 at-risk windows, e.g. RTT 18:
    14 days, days 113–126)."""
    return [s for s in assess(pathway, on, flags, standards, bank_holidays)
            if s.state == "at-risk"]


def next_deadline(
    pathway: Pathway,
    on: dt.date,
    flags: Iterable[DeteriorationFlag] = (),
    standards: Iterable[Standard] = STANDARDS,
    bank_holidays: BankHolidays | None = None,
) -> Deadline | None:
    """The earliest deadline (by last day within) not yet breached on `on`, or None.

    docs/rules.md §3: a deadline is breached from its breach day onwards.
    """
    for d in deadlines(pathway, flags, standards, bank_holidays):
        if not breached_when(d.breach_on, on):
            return d
    return None


# --------------------------------------------------------------------------------------
# What the sweep records: breaches, at-risk warnings, withdrawals
# --------------------------------------------------------------------------------------


class TrackedDeadline(NamedTuple):
    """A deadline with when its step was done (docs/rules.md §3).

    Unlike `deadlines`, this covers every standard that has applied to the pathway in its
    current RTT period, done or not, so that a recorded breach can be checked against the
    facts as they are now known. `done_on` is the day the step was done or the pathway
    stopped counting for it (result, review, answer, diagnosis told, clock stop, closure;
    leaving the provider's list is not one of them, docs/rules.md §5); None while
    outstanding.
    """

    deadline: Deadline
    done_on: dt.date | None

    @property
    def key(self) -> tuple[str, str]:
        return (self.deadline.standard.code, self.deadline.subject)

    @property
    def breaches(self) -> bool:
        """Whether the standard is (or will be) breached: the step was not done before the
        breach day. Done on or after the breach day is a breach that happened."""
        return self.done_on is None or self.done_on >= self.deadline.breach_on


def _earliest(*dates: dt.date | None) -> dt.date | None:
    return min((d for d in dates if d is not None), default=None)


def tracked_deadlines(
    pathway: Pathway,
    flags: Iterable[DeteriorationFlag] = (),
    standards: Iterable[Standard] = STANDARDS,
    bank_holidays: BankHolidays | None = None,
) -> list[TrackedDeadline]:
    """Every standard that applies or has applied to this pathway, with when it was done.

    The same rules as `deadlines` (docs/rules.md §2); for an open pathway, the
    deadlines still outstanding (`done_on` None) are exactly `deadlines(pathway, flags)`.
    `flags` may hold reviewed and other pathways' flags: only unreviewed-or-reviewed flags
    of this pathway or of the patient as a whole (flag.pathway None) count. Same order as
    `deadlines`.
    """
    p = pathway
    ended = _earliest(p.clock_end, p.closed_on)  # every clock ends with a stop or closure
    out: list[TrackedDeadline] = []

    def add(s: Standard, subject: str, clock_from: dt.date, done: dt.date | None) -> None:
        out.append(TrackedDeadline(_deadline(s, subject, clock_from, bank_holidays), done))

    for s in standards:
        kind = s.applies_to
        if kind == "rtt":
            if p.is_rtt and p.clock_start is not None:
                add(s, "", p.clock_start, ended)
        elif kind == "cancer-fds":
            if p.priority == URGENT_SUSPECTED_CANCER:
                add(s, "", p.received_on, _earliest(p.diagnosis_communicated_on, ended))
        elif kind == "cancer-62":
            if p.priority == URGENT_SUSPECTED_CANCER:
                add(s, "", p.received_on, ended)
        elif kind == "diagnostic":
            for test in p.diagnostics.values():
                add(s, test.test_id, test.ordered_on, _earliest(test.resulted_on, ended))
        elif kind == "procedure":
            code = (p.procedure_priority or "").upper()
            start = _procedure_clock_from(p)
            if (s.procedure_priority and code == s.procedure_priority.upper()
                    and start is not None):
                add(s, "", start, ended)
        elif kind == "workup":
            if p.workup:
                outstanding = p.outstanding_workup()
                done = None if outstanding else max(
                    w.completed_on for w in p.workup.values() if w.completed_on)
                add(s, "", p.received_on, _earliest(done, ended))
        elif kind == "deterioration":
            for f in flags:
                if f.pathway is None or f.pathway == p.key:
                    add(s, f.flag_id, f.raised_on, _earliest(f.reviewed_on, ended))
        elif kind == "message":
            for m in p.messages.values():
                if m.direction == "in" and m.party in ("gp", "hospital"):
                    add(s, m.message_id, m.on, _earliest(m.answered_on, ended))
    out.sort(key=lambda t: (t.deadline.last_day_within, t.deadline.standard.code,
                            t.deadline.subject))
    return out


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


# --------------------------------------------------------------------------------------
# Stages
# --------------------------------------------------------------------------------------

STAGES: tuple[str, ...] = (
    "awaiting-workup",
    "awaiting-first-appointment",
    "first-appointment-booked",
    "awaiting-diagnostics",
    "awaiting-treatment",
    "treatment-booked",
    "left-waiting-list",
    "clock-stopped",
    "closed",
)

STAGE_LABELS: dict[str, str] = {
    "awaiting-workup": "Waiting for the agreed workup to be done",
    "awaiting-first-appointment": "Waiting for a first appointment to be booked",
    "first-appointment-booked": "First appointment booked",
    "awaiting-diagnostics": "Waiting for a test result",
    "awaiting-treatment": "Seen; waiting for treatment",
    "treatment-booked": "Treatment or admission date booked",
    "left-waiting-list": "Left the hospital's waiting list — check why",
    "clock-stopped": "Clock stopped (treated, discharged or did not attend)",
    "closed": "Closed",
}


def stage(pathway: Pathway) -> str:
    """The pathway's one stage (docs/rules.md §9), checked in this order.

    closed → "closed"; clock stopped (includes first-appointment DNA, status 33) →
    "clock-stopped"; left the list → "left-waiting-list"; workup items outstanding →
    "awaiting-workup"; a test ordered without a result → "awaiting-diagnostics"; TCI date
    set → "treatment-booked"; seen (last attended) → "awaiting-treatment"; appointment
    booked → "first-appointment-booked"; otherwise "awaiting-first-appointment".
    """
    if pathway.closed_on is not None:
        return "closed"
    if pathway.clock_end is not None:
        return "clock-stopped"
    if pathway.left_list_on is not None:
        return "left-waiting-list"
    if pathway.outstanding_workup():
        return "awaiting-workup"
    if pathway.outstanding_diagnostics():
        return "awaiting-diagnostics"
    if pathway.tci_on is not None:
        return "treatment-booked"
    if pathway.last_attended_on is not None:
        return "awaiting-treatment"
    if pathway.appointment_on is not None:
        return "first-appointment-booked"
    return "awaiting-first-appointment"
