"""Deadlines: each standard applied to a pathway (and to each test, flag or message it
holds), with its dates; the ones outstanding now (`deadlines`) and every one that has
applied in the current RTT period with when its step was done (`tracked_deadlines`).
docs/rules.md §2, §3.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from guardian.domain.codes import DIAGNOSTIC_TESTS, MESSAGE_PARTIES, URGENT_SUSPECTED_CANCER
from guardian.domain.pathway import DeteriorationFlag, Pathway
from guardian.domain.standards.table import STANDARDS, Standard
from guardian.domain.standards.working_days import BankHolidays, add_working_days


@dataclass(frozen=True)
class Deadline:
    """One standard applied to one pathway (and one test, flag or message, if per item).

    docs/rules.md §2. `subject` is "" for pathway-level standards, else the test_id,
    flag_id or message_id. `breach_on` is the day the breach is recorded: the day after
    `last_day_within` (working-day standards: the next working day after). `at_risk_from`
    is the first day of the at-risk window (see `guardian.domain.standards`), or None.
    """

    standard: Standard
    subject: str
    clock_from: dt.date
    last_day_within: dt.date
    breach_on: dt.date
    at_risk_from: dt.date | None

    def describe(self, subject: str | None = None) -> str:
        """Plain English, e.g. "18 weeks from referral to treatment: clock from 5 Jan 2026;
        met if done by 11 May 2026 (day 126); breach recorded on 12 May 2026". `subject`:
        what the step is about, in words (`subject_words`); never the stored id."""
        s = self.standard
        what = s.label + (f" ({subject})" if subject else "")
        if s.working_days:
            by = f"{day_text(self.last_day_within)} ({s.last_day_within} working days)"
        else:
            by = f"{day_text(self.last_day_within)} (day {s.last_day_within})"
        text = (f"{what}: clock from {day_text(self.clock_from)}; met if done by {by}; "
                f"breach recorded on {day_text(self.breach_on)}")
        if self.at_risk_from is not None:
            text += f"; at risk from {day_text(self.at_risk_from)}"
        return text


def subject_words(p: Pathway, flags: Iterable[DeteriorationFlag], applies_to: str,
                  subject: str) -> str | None:
    """What one step of a pathway is about, as a person reads it: a test by its name and
    order date, a message by who sent it and when, a deterioration by when it was reported
    (None: the step is the pathway's own, or its subject is no longer held)."""
    if not subject:
        return None
    if applies_to == "diagnostic" and subject in p.diagnostics:
        test = p.diagnostics[subject]
        name = DIAGNOSTIC_TESTS.get(test.test, test.test)
        return f"{name} ordered {day_text(test.ordered_on)}"
    if applies_to == "message" and subject in p.messages:
        message = p.messages[subject]
        return f"message from {MESSAGE_PARTIES.get(message.party, message.party)} of " \
               f"{day_text(message.on)}"
    flag = next((f for f in flags if f.flag_id == subject), None)
    if applies_to == "deterioration" and flag is not None:
        return f"reported {day_text(flag.raised_on)}"
    return None


def day_text(d: dt.date) -> str:
    """A date in a sentence: "5 Jan 2026"."""
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


def deadlines(pathway: Pathway, flags: Iterable[DeteriorationFlag] = (),
              standards: Iterable[Standard] = STANDARDS,
              bank_holidays: BankHolidays | None = None) -> list[Deadline]:
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


def tracked_deadlines(pathway: Pathway, flags: Iterable[DeteriorationFlag] = (),
                      standards: Iterable[Standard] = STANDARDS,
                      bank_holidays: BankHolidays | None = None) -> list[TrackedDeadline]:
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
