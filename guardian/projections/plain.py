"""A referral's status in plain English, as a GP practice can read it out to the patient:
the expected wait, what the practice still needs to do and the next step, in short
sentences without jargon (docs/journeys.md, "The GP practice").

`plain_status` is a pure function of a referral's status (status.py `ReferralStatus`), its
pathway and the day: no database, no clock. The page shows its three sections at the top of
each referral, for GPs and coordinators alike. It names no hospital, practice or PCN by
code: the referral's heading says where it is, so the text says "this hospital".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import ClassVar

from guardian.domain import codes, standards
from guardian.domain.pathway import Pathway
from guardian.projections.status import ExpectedWait, Outstanding, ReferralStatus
from guardian.projections.suppression import SMALLEST_GROUP_FOR_STATISTICS
from guardian.projections.timeline import tf_name

ENDED = ("clock-stopped", "closed")
# What the referral waits for, by the kind of standard (docs/rules.md §2): the targets the
# next step may name (the practice's workup, messages and reviews are not the patient's).
PATIENT_TARGETS = ("rtt", "cancer-fds", "cancer-62", "diagnostic", "procedure")
KIND_OF = {s.code: s.applies_to for s in standards.STANDARDS}

# Why a wait ended (the national stop reasons, codes.CLOCK_STOP_REASONS), in plain words.
STOPPED_BECAUSE = {
    "30": "Treatment started.",
    "31": "The patient chose to wait and see, with the hospital keeping an eye on things.",
    "32": "The hospital decided to keep an eye on things rather than treat now.",
    "33": "The patient did not come to the first appointment.",
    "34": "The hospital decided that no treatment is needed.",
    "35": "The patient chose not to have the treatment offered.",
    "36": "The patient died before treatment.",
}


@dataclass(frozen=True)
class PlainStatus:
    """Three short sections; each is a few sentences, one string each."""

    wait: tuple[str, ...]
    owed: tuple[str, ...]
    next_step: tuple[str, ...]
    owes: bool = False  # the practice owes something: `owed` lists one item a line
    owed_overdue: bool = False  # something the practice owes is overdue

    HEADINGS: ClassVar[tuple[str, str, str]] = (
        "Expected wait", "What the practice still needs to do", "What happens next")

    def sections(self) -> list[tuple[str, tuple[str, ...]]]:
        return list(zip(self.HEADINGS, (self.wait, self.owed, self.next_step), strict=True))

    def sentences(self) -> list[str]:
        return [*self.wait, *self.owed, *self.next_step]


def date_text(day: dt.date) -> str:
    """9 April 2026."""
    return f"{day.day} {day:%B %Y}"


def weeks_text(weeks: float) -> str:
    n = int(weeks + 0.5)
    return f"{n} week{'' if n == 1 else 's'}"


def owed_text(item: Outstanding) -> str:
    """What an outstanding workup item asks for, without its "Workup:" label."""
    return item.what.split(": ", 1)[-1]


def plain_status(status: ReferralStatus, pathway: Pathway, on: dt.date) -> PlainStatus:
    """The referral in plain English on `on`: what the wait may be, what the practice
    still needs to do, and what happens next (and roughly when)."""
    owed = [o for o in status.outstanding if o.owner == "practice"]
    return PlainStatus(wait=_wait(status), owed=_owed(status, owed),
                       next_step=_next_step(status, pathway, on, owed),
                       owes=bool(owed) and status.stage not in ENDED,
                       owed_overdue=any(o.overdue for o in owed))


# ---------------------------------------------------------------------------- the wait


def _wait(status: ReferralStatus) -> tuple[str, ...]:
    if status.stage in ENDED:
        return ("The patient is no longer waiting on this referral.",)
    so_far = f"The patient has waited {weeks_text(status.waited_days // 7)} so far."
    expected = status.expected_wait
    if expected is None:
        return (so_far, "There is no estimate of the wait for this kind of referral.")
    if not expected.known:
        n = expected.sample
        who = "No patients" if n == 0 else f"Only {n} patient{'' if n == 1 else 's'}"
        return (so_far, "We cannot estimate the wait yet.",
                f"{who} finished waiting for {tf_name(expected.treatment_function)} at this "
                f"hospital in the last {expected.window_weeks} weeks.",
                f"At least {SMALLEST_GROUP_FOR_STATISTICS} are needed for a fair estimate.")
    return (so_far, *_estimate(expected))


def _estimate(expected: ExpectedWait) -> tuple[str, ...]:
    assert expected.median_weeks is not None and expected.p92_weeks is not None
    who = "patients of every priority" if expected.priority is None else \
        f"{codes.PRIORITIES.get(expected.priority, '')} patients".lstrip()
    return (
        f"Half of patients finish waiting within {weeks_text(expected.median_weeks)}.",
        f"Most (92 in every 100) finish within {weeks_text(expected.p92_weeks)}.",
        "Finishing means starting treatment, or the hospital deciding none is needed.",
        f"This is based on {expected.sample} {who} who finished waiting for "
        f"{tf_name(expected.treatment_function)} at this hospital in the "
        f"{expected.window_weeks} weeks to {date_text(expected.as_of)}.",
    )


# ------------------------------------------------------------------ what the practice owes


def _workup_due(status: ReferralStatus) -> dt.date | None:
    for d in status.deadlines:
        if KIND_OF.get(d["standard"]) == "workup":
            return dt.date.fromisoformat(d["last_day_within"])
    return None


def _owed(status: ReferralStatus, owed: list[Outstanding]) -> tuple[str, ...]:
    if status.stage in ENDED:
        return ("Nothing is needed from the practice.",)
    if not owed:
        return ("The practice does not need to do anything for this referral.",)
    due = _workup_due(status)
    lines = []
    for o in sorted(owed, key=lambda o: (not o.overdue, o.since)):
        line = f"{owed_text(o)}: asked for on {date_text(o.since)}."
        if o.overdue:  # the workup's one deadline runs from the first item asked for
            line += " This is overdue" + (f" (it was due by {date_text(due)})."
                                          if due and due >= o.since else ".")
        elif due:
            line += f" Please do this by {date_text(due)}."
        lines.append(line)
    return tuple(lines)


# ---------------------------------------------------------------------------- next step


def _next_step(status: ReferralStatus, p: Pathway, on: dt.date,
               owed: list[Outstanding]) -> tuple[str, ...]:
    stage = status.stage
    if stage == "closed":
        assert p.closed_on is not None
        why = codes.CLOSE_REASONS.get(p.close_reason or "")
        return (f"This referral was closed on {date_text(p.closed_on)}.",
                *((f"Reason: {why}.",) if why else ()), "Nothing more will happen on it.")
    if stage == "clock-stopped":
        assert p.clock_end is not None
        lines = [f"The wait ended on {date_text(p.clock_end)}."]
        if p.stop_reason in STOPPED_BECAUSE:
            lines.append(STOPPED_BECAUSE[p.stop_reason])
        if p.stop_reason == codes.FIRST_APPOINTMENT_DNA:
            lines.append("If the patient still needs care, the practice may need to refer "
                         "again.")
        return tuple(lines)
    if stage == "left-waiting-list":
        assert p.left_list_on is not None
        return (f"The hospital took the patient off its waiting list on "
                f"{date_text(p.left_list_on)}, without saying why.",
                "Guardian is finding out why. The practice does not need to do anything "
                "unless Guardian gets in touch.")
    return (*_open_step(status, p, on, owed), *_roughly_when(status, on))


def _open_step(status: ReferralStatus, p: Pathway, on: dt.date,
               owed: list[Outstanding]) -> tuple[str, ...]:
    stage = status.stage
    if stage == "awaiting-workup":
        then = "take the next step" if p.last_attended_on or p.appointment_on else \
            "book a first appointment"
        if owed:
            return (f"When the practice has done this, the hospital can {then}.",)
        others = sorted({codes.label(codes.WORKUP_OWNERS, w.requested_from)
                         for w in p.outstanding_workup()})
        return (f"The hospital is waiting for checks from {' and '.join(others)} "
                f"before it can {then}.",)
    if stage == "first-appointment-booked" and p.appointment_on is not None:
        if p.appointment_on >= on:
            return (f"The first appointment is on {date_text(p.appointment_on)}.",)
        return (f"The first appointment was on {date_text(p.appointment_on)}.",
                "The hospital has not yet said what happens next.")
    if stage == "awaiting-diagnostics":
        tests = [f"{codes.DIAGNOSTIC_TESTS.get(t.test, t.test)} (asked for on "
                 f"{date_text(t.ordered_on)})" for t in p.outstanding_diagnostics()]
        return (f"The patient is waiting for test results: {', '.join(tests)}.",
                "When the results are back, the hospital will decide the next step.")
    if stage == "awaiting-treatment":
        seen = f" (last on {date_text(p.last_attended_on)})" if p.last_attended_on else ""
        return (f"The patient has been seen at the hospital{seen}.",
                "The next step is treatment. The hospital will write with a date.")
    if stage == "treatment-booked" and p.tci_on is not None:
        if p.tci_on >= on:
            return (f"Treatment is booked for {date_text(p.tci_on)}.",)
        return (f"Treatment was booked for {date_text(p.tci_on)}.",
                "The hospital has not yet said it took place.")
    return ("The hospital will book a first appointment and write to the patient with "
            "the date.",)


def _roughly_when(status: ReferralStatus, on: dt.date) -> tuple[str, ...]:
    """The next NHS target date still ahead, and when treatment would start if this
    referral goes like recent ones."""
    lines = []
    ahead = sorted((d for d in status.deadlines if KIND_OF.get(d["standard"]) in PATIENT_TARGETS
                    and d["state"] != "breached" and d["days_left"] >= 0),
                   key=lambda d: d["last_day_within"])
    if ahead:
        lines.append(f"The next NHS target date is "
                     f"{date_text(dt.date.fromisoformat(ahead[0]['last_day_within']))} "
                     f"({ahead[0]['label'][:1].lower()}{ahead[0]['label'][1:]}).")
    expected = status.expected_wait
    if status.stage == "treatment-booked" or expected is None or not expected.known \
            or expected.median_weeks is None:
        return tuple(lines)
    start = status.clock_start or status.received_on
    typical = start + dt.timedelta(days=round(expected.median_weeks * 7))
    if typical >= on:
        lines.append(f"If this patient waits as long as a typical patient, the wait would end "
                     f"around {typical:%B %Y}.")
    else:
        lines.append("The patient has already waited longer than a typical patient.")
    return tuple(lines)
