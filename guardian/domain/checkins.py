"""Waiting Well check-ins: when one falls due, and what the coordinator can record.

docs/rules.md §8: check-ins fall due at 12, 26 and 52 weeks of RTT wait (days 84, 182 and
364), and again every 84 days for anyone not validated in the last 84 days (NHS England's
validation programme asks for the same). Both numbers are configuration
(`CheckInSchedule`).

How Guardian reads the rule:

* Check-ins are per RTT pathway with its clock running (not stopped, closed or off the
  list): the wait is that pathway's, and so is what a validation removes.
* A milestone (clock start + 84, 182, 364 days) is due once per RTT period.
* The re-check: a check-in is also due `every_days` after the later of the last check-in's
  due date and the last validation (never before the first milestone).
* One check-in is open at a time: while one is unanswered no other is recorded (it stays
  on the worklist from its due date). A sweep after a gap records one check-in, dated on
  the latest date that fell due, not one per missed date.

Nothing here imports infrastructure: dates come in as arguments.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from guardian.domain.errors import InvalidValue
from guardian.domain.pathway import Pathway

#: The outcomes (codes.CHECK_IN_OUTCOMES) that confirm the patient still needs care (the
#: pathway is validated).
VALIDATING = frozenset({"no-change", "worse"})
#: Outcomes that take the pathway off the waiting list (a clock stop with a reason).
REMOVING = frozenset({"no-longer-needed", "treated-elsewhere"})
#: "No response after 2 attempts" closes the check-in unanswered.
NO_RESPONSE_ATTEMPTS = 2
#: The clock-stop reason of a validation removal unless the coordinator gives another:
#: 34, "decision not to treat / no further contact required".
DEFAULT_REMOVAL_REASON = "34"


@dataclass(frozen=True)
class CheckInSchedule:
    """When check-ins fall due (docs/rules.md §8; configurable per deployment)."""

    milestone_days: tuple[int, ...] = (84, 182, 364)
    every_days: int = 84  # 0: no re-checks between or after the milestones

    def describe(self) -> str:
        weeks = ", ".join(_label(d) for d in self.milestone_days)
        text = f"check-ins due at {weeks} of RTT wait"
        if self.every_days:
            text += (f", and again every {self.every_days} days for anyone not validated "
                     f"in the last {self.every_days} days")
        return text


DEFAULT_SCHEDULE = CheckInSchedule()


def _label(days: int) -> str:
    return f"{days // 7} weeks" if days % 7 == 0 else f"{days} days"


def load_check_in_schedule(
    overrides: Mapping[str, object] | None = None, base: CheckInSchedule = DEFAULT_SCHEDULE
) -> CheckInSchedule:
    """The schedule with a deployment's overrides (`milestone_days`, `every_days`).

    Raises InvalidValue naming the problem: an unknown field, a negative or non-whole
    number, no milestone at all.
    """
    if not overrides:
        return base
    if not isinstance(overrides, Mapping):
        raise InvalidValue("check-ins must be a mapping of field to value", field="check-ins")
    milestones, every = base.milestone_days, base.every_days
    for name, value in overrides.items():
        if name == "milestone_days":
            if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
                raise InvalidValue(
                    f"check-ins.milestone_days must be a list of whole numbers of days, "
                    f"not {value!r}", field="check-ins.milestone_days")
            days = [_whole("check-ins.milestone_days", v) for v in value]  # type: ignore[attr-defined]
            if not days or any(d == 0 for d in days):
                raise InvalidValue(
                    "check-ins.milestone_days needs at least one day, each after day 0",
                    field="check-ins.milestone_days")
            milestones = tuple(sorted(set(days)))
        elif name == "every_days":
            every = _whole("check-ins.every_days", value)
        else:
            raise InvalidValue(
                f"check-ins.{name} cannot be configured; only milestone_days and every_days "
                "can", field=f"check-ins.{name}")
    return CheckInSchedule(milestones, every)


def _whole(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InvalidValue(f"{field} must be a whole number of days, not {value!r}",
                           field=field)
    try:
        n = int(value)
    except ValueError:
        raise InvalidValue(f"{field} must be a whole number of days, not {value!r}",
                           field=field) from None
    if n < 0:
        raise InvalidValue(f"{field} must not be negative (got {n})", field=field)
    return n


@dataclass(frozen=True)
class CheckInDate:
    """A check-in falling due: its date, why, and the days of RTT wait on that date."""

    due_on: dt.date
    reason: str
    wait_days: int


def takes_check_ins(pathway: Pathway) -> bool:
    """RTT pathways with the clock running, without an open check-in. A pathway that left
    the provider's list keeps its clock, so its check-ins keep falling due: asking the
    patient is how the coordinator finds out what happened (docs/rules.md §5, §8)."""
    p = pathway
    return (p.is_rtt and p.clock_start is not None and p.clock_end is None
            and p.closed_on is None and p.check_in is None)


def _plan(p: Pathway, schedule: CheckInSchedule):
    start = p.clock_start
    assert start is not None
    last = p.last_check_in_due
    milestones = [(start + dt.timedelta(days=m), m) for m in sorted(schedule.milestone_days)
                  if last is None or start + dt.timedelta(days=m) > last]
    first = start + dt.timedelta(days=min(schedule.milestone_days, default=0))
    anchor = max(d for d in (start, last, p.validated_on) if d is not None)
    return start, milestones, first, anchor


def next_check_in(pathway: Pathway, schedule: CheckInSchedule = DEFAULT_SCHEDULE
                  ) -> dt.date | None:
    """The first day on which a check-in falls due for this pathway (may be in the past),
    or None (not an RTT pathway with its clock running, or a check-in is already open)."""
    if not takes_check_ins(pathway):
        return None
    _, milestones, first, anchor = _plan(pathway, schedule)
    candidates = [milestones[0][0]] if milestones else []
    every = schedule.every_days
    if every:
        k = max(1, -(-(first - anchor).days // every))  # the first re-check on/after `first`
        candidates.append(anchor + dt.timedelta(days=k * every))
    return min(candidates, default=None)


def check_in_due(pathway: Pathway, on: dt.date,
                 schedule: CheckInSchedule = DEFAULT_SCHEDULE) -> CheckInDate | None:
    """The check-in to record on `on`, or None.

    Due when `next_check_in` is on or before `on`; dated on the latest scheduled date on
    or before `on` (a sweep after a gap records the most recent one only).
    """
    nxt = next_check_in(pathway, schedule)
    if nxt is None or nxt > on:
        return None
    start, milestones, first, anchor = _plan(pathway, schedule)
    best: tuple[dt.date, str] | None = None
    for day, m in milestones:
        if day <= on:
            best = (day, f"{_label(m)} of RTT wait")
    every = schedule.every_days
    if every:
        k = (on - anchor).days // every
        recheck = anchor + dt.timedelta(days=k * every)
        if k >= 1 and recheck >= first and (best is None or recheck > best[0]):
            best = (recheck, f"not validated in the last {every} days")
    assert best is not None  # nxt <= on guarantees one
    return CheckInDate(best[0], best[1], (best[0] - start).days)
