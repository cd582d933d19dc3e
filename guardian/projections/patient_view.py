"""A referral as the patient reads it online (docs/patients.md "What a patient sees"), in
short sentences at a reading age of about 9: where it is, how long they have waited and may
still wait (with what the estimate is based on, and whether it counts every priority), their
tests (a result only once a clinician has released it), their plan while waiting (the
self-care agreed, the support offered, whom to call by name if they get worse, and 111 and
999), and what the Guardian team is doing. A closed referral says so plainly and shows
nothing else that could be out of date (no plan).

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
from guardian.projections.status import ExpectedWait, ReferralStatus
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
# What to do if worse, after whom to call (docs/patients.md "What a patient sees").
IF_WORSE = ("You can also tell us with the button on this page.",
            "If you need help now, call 111. They are there day and night.",
            "Call 999 in an emergency, for example chest pain or if you cannot breathe well.")
NO_PLAN = ("Your Guardian team has not agreed a plan with you yet. You can write to them on "
           "this page to ask about one.")


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
    wait: list[str] = field(default_factory=list)  # waited so far, then half and most wait
    basis: str = ""  # how many people the estimate counts, where and when
    widened: str = ""  # said when it counts every priority, not only the patient's
    tests: list[Test] = field(default_factory=list)
    # "Your plan while you wait": when it was agreed (or that it was not yet), the
    # self-care agreed, a note from the team, the support offered, what to do if worse.
    plan_agreed: str = ""
    plan_short: str = ""  # the plan in one sentence, for the list of referrals
    self_care: list[str] = field(default_factory=list)
    plan_note: str = ""
    support: list[str] = field(default_factory=list)
    if_worse: list[str] = field(default_factory=list)
    doing: list[str] = field(default_factory=list)
    closed: str = ""
    check_in_due: bool = False
    has_plan: bool = False

    @property
    def plan(self) -> list[str]:
        """The whole plan section, sentence by sentence."""
        note = [f"A note from the Guardian team: {self.plan_note}"] if self.plan_note else []
        lines = [self.plan_agreed, *self.self_care, *note, *self.support, *self.if_worse]
        return [line for line in lines if line]


def test_state(result: str | None, resulted_on: dt.date | None,
               released_on: dt.date | None) -> str:
    """What the patient is told of a test: its result only once released."""
    if resulted_on is None:
        return "Waiting for the result."
    if released_on is None:
        return ("The result has come back but is not yet released. The team who asked for "
                "the test will tell you about it first.")
    return f"Result: {result}" if result else "The result is ready. Ask your GP practice."


def expected_sentences(expected: ExpectedWait | None, priority: int,
                       hospital: str) -> tuple[list[str], str, str]:
    """How long the patient may wait, in sentences: (half and most wait …, the basis, the
    sentence saying the estimate counts every priority when it was widened; else "")."""
    if expected is None:
        return ["We cannot say how long you may wait for this kind of referral."], "", ""
    if not expected.known or expected.median_weeks is None or expected.p92_weeks is None:
        return (["We cannot say how long you may wait yet. Not enough people have finished "
                 "waiting for this care at this hospital lately."], "", "")
    care = tf_name(expected.treatment_function)
    where = expected.provider_name or hospital or expected.provider
    wait = [f"Half of people wait {weeks_text(expected.median_weeks)} or less.",
            f"Most people (92 in 100) wait {weeks_text(expected.p92_weeks)} or less."]
    basis = (f"This is from {expected.sample} people who waited for {care} at {where}. "
             f"They stopped waiting in the {expected.window_weeks} weeks to "
             f"{date_text(expected.as_of)}.")
    widened = ""
    if expected.priority is None:  # too few of the patient's priority: every priority
        kind = codes.PRIORITIES.get(priority, "")
        widened = (f"We counted all the people who waited for this care at this hospital. "
                   f"Not just those with {_a(kind)} {kind} referral like yours. Too few of "
                   f"them stopped waiting lately.")
    return wait, basis, widened


def _sentence(note: str) -> str:
    """A note as a sentence of its own (a full stop added when it has no ending)."""
    note = note.strip()
    return note + ("" if not note or note[-1] in ".!?" else ".")


def _a(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def whom_to_call(call_if_worse: str | None, practice: str, care: str,
                 hospital: str) -> str:
    """Whom to call if worse, by name (docs/rules.md "Plans while waiting"); without a plan,
    the GP practice. No phone numbers: Guardian holds none for practices or hospitals."""
    if call_if_worse == "hospital":
        return (f"If you feel worse, call the {care} team at {hospital}. Their number is on "
                "your letters from the hospital.")
    if call_if_worse == "guardian":
        return (f"If you feel worse, call the Guardian team. Call your GP practice, "
                f"{practice}, and ask for them.")
    return f"If you feel worse, call your GP practice, {practice}."


def patient_referral(status: ReferralStatus, p: Pathway, on: dt.date,
                     support: Sequence[tuple[str, str]] = (),
                     last_contact: dt.date | None = None) -> PatientReferral:
    """The referral as the patient reads it on `on`. `support`: the support offered for it
    (kind, note); `last_contact`: when the Guardian team was last in touch about it."""
    hospital = status.provider_name or p.provider
    heading = f"{tf_name(p.treatment_function)} at {hospital}"
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
    estimate, out.basis, out.widened = expected_sentences(status.expected_wait, p.priority,
                                                          hospital)
    out.wait = [f"You have waited {weeks_text(weeks)} so far.", *estimate]
    out.tests = [Test(DIAGNOSTIC_TESTS.get(d.test, d.test), date_text(d.ordered_on),
                      test_state(d.result, d.resulted_on, d.released_on))
                 for d in sorted(p.diagnostics.values(), key=lambda d: d.ordered_on)]
    _plan(out, status, p, support)
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


def _plan(out: PatientReferral, status: ReferralStatus, p: Pathway,
          support: Sequence[tuple[str, str]]) -> None:
    """"Your plan while you wait": the plan agreed for this wait, or that there is none
    yet; the support offered; whom to call if worse, by name, and 111 and 999."""
    plan = p.care_plan
    out.has_plan = plan is not None
    if plan is None:
        out.plan_agreed = NO_PLAN
        out.plan_short = "You have no plan while you wait yet."
    else:
        out.plan_agreed = (f"You agreed this plan with the Guardian team on "
                           f"{date_text(plan.agreed_on)}.")
        out.plan_short = (f"You have a plan while you wait, agreed on "
                          f"{date_text(plan.agreed_on)}.")
        out.self_care = [codes.SELF_CARE_ADVICE[code] for code in plan.self_care
                         if code in codes.SELF_CARE_ADVICE]
        out.plan_note = plan.note
    out.support = [(f"Support while you wait: {codes.label(codes.SUPPORT_KINDS, kind)}. "
                    + _sentence(note)).strip() for kind, note in support]
    practice = status.practice_name or p.practice_code
    out.if_worse = [whom_to_call(plan.call_if_worse if plan else None, practice,
                                 tf_name(p.treatment_function),
                                 status.provider_name or p.provider), *IF_WORSE]
