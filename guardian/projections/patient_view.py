"""A referral as the patient reads it online (docs/patients.md "What a patient sees"), in
short sentences at a reading age of about 9: where it is, how long they have waited and may
still wait (with what the estimate is based on), their tests (a result only once a clinician
has released it), their plan while waiting and what to do if they get worse, and what the
Guardian team is doing. A closed referral says so plainly and shows nothing else that could
be out of date.

`patient_referral` is a pure function of the referral's status (status.py), its pathway and
the day; the page and the tests read the same sentences.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from guardian.domain import codes
from guardian.domain.codes import DIAGNOSTIC_TESTS
from guardian.domain.pathway import Pathway
from guardian.projections.plain import date_text, weeks_text
from guardian.projections.status import ReferralStatus
from guardian.projections.timeline import tf_name

WHERE = {
    "awaiting-workup": "Your GP practice and the hospital are getting things ready for your "
                       "first appointment.",
    "awaiting-first-appointment": "You are waiting for the hospital to give you a first "
                                  "appointment.",
    "first-appointment-booked": "You have a first appointment booked.",
    "awaiting-diagnostics": "You are waiting for a test result.",
    "awaiting-treatment": "You have been seen. You are waiting for treatment.",
    "treatment-booked": "You have a date for your treatment.",
    "left-waiting-list": "The hospital has taken you off its waiting list. The Guardian team "
                         "will check why and tell you.",
}
IF_WORSE = ("If you feel worse, tell us with the button on this page.",
            "If you need help now, call 111. They are there day and night.",
            "Call 999 in an emergency, for example chest pain or if you cannot breathe well.")


@dataclass(frozen=True)
class Test:
    name: str
    ordered_on: str
    state: str


@dataclass
class PatientReferral:
    """One referral, in sections of short sentences."""

    provider: str
    pathway_id: str
    heading: str  # "Cardiology at Basildon University Hospital"
    is_open: bool
    where: list[str] = field(default_factory=list)
    wait: list[str] = field(default_factory=list)
    basis: str = ""
    tests: list[Test] = field(default_factory=list)
    plan: list[str] = field(default_factory=list)
    doing: list[str] = field(default_factory=list)
    closed: str = ""
    check_in_due: bool = False


def test_state(result: str | None, resulted_on: dt.date | None,
               released_on: dt.date | None) -> str:
    """What the patient is told of a test: its result only once released."""
    if resulted_on is None:
        return "Waiting for the result."
    if released_on is None:
        return ("The result has come back but is not yet released. The team who asked for "
                "the test will tell you about it first.")
    return f"Result: {result}" if result else "The result is ready. Ask your GP practice."


def patient_referral(status: ReferralStatus, p: Pathway, on: dt.date,
                     support: Sequence[tuple[str, str]] = (),
                     last_contact: dt.date | None = None) -> PatientReferral:
    """The referral as the patient reads it on `on`. `support`: the support offered for it
    (kind, note); `last_contact`: when the Guardian team was last in touch about it."""
    heading = f"{tf_name(p.treatment_function)} at {status.provider_name or p.provider}"
    out = PatientReferral(p.provider, p.pathway_id, heading, p.is_open)
    if not p.is_open:
        ended = p.closed_on or p.clock_end
        out.closed = ("This referral is closed" + (f" since {date_text(ended)}." if ended
                                                   else ".")
                      + " If you think you still need it, call your GP practice.")
        return out
    out.where = [WHERE.get(status.stage, "You are waiting for the hospital.")]
    start = p.clock_start or p.received_on
    out.where.append(f"You were referred on {date_text(p.received_on)}.")
    weeks = max(0, (on - start).days) // 7
    out.wait = [f"You have waited {weeks_text(weeks)} so far."]
    expected = status.expected_wait
    if expected is not None and expected.known:
        out.wait += [f"Half of people wait {weeks_text(expected.median_weeks)} or less.",
                     f"Most people wait {weeks_text(expected.p92_weeks)} or less."]
        out.basis = (f"This is from {expected.sample} people who finished waiting for "
                     f"{tf_name(expected.treatment_function).lower()} at this hospital in the "
                     f"{expected.window_weeks} weeks to {date_text(expected.as_of)}.")
    else:
        out.wait.append("We cannot say how long you may wait yet. Not enough people have "
                        "finished waiting for this care at this hospital lately.")
    out.tests = [Test(DIAGNOSTIC_TESTS.get(d.test, d.test), date_text(d.ordered_on),
                      test_state(d.result, d.resulted_on, d.released_on))
                 for d in sorted(p.diagnostics.values(), key=lambda d: d.ordered_on)]
    out.plan = [f"Support while you wait: {codes.label(codes.SUPPORT_KINDS, kind)}"
                + (f". {note}" if note else ".") for kind, note in support]
    out.plan += [f"Your GP practice is {status.practice_name or p.practice_code}.", *IF_WORSE]
    out.doing = ["The Guardian team keeps an eye on your referral while you wait."]
    if p.coordinator:
        out.doing.append("A Guardian care coordinator looks after your referral.")
    if last_contact:
        out.doing.append(f"We were last in touch with you on {date_text(last_contact)}.")
    if p.diagnostics:
        n = len(p.diagnostics)
        out.doing.append(f"{n} test{'' if n == 1 else 's'} asked for (see below).")
    out.check_in_due = p.check_in is not None
    return out
