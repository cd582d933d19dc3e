"""Guardian's own history of a demo patient (`record_care_history`): workup, diagnostics,
cancer diagnoses, deterioration flags, contacts, coordinators, support, plans while
waiting, messages and closures, recorded through the Patient aggregate's commands from the
patient's own seeded random stream (a plan from the patient's number alone, so the stream
and all the rest stay as they were), with the vocabulary they are written in. Every
command is idempotent, so a patient recorded again after an interrupted load writes
nothing.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import random
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from guardian.demo.chance import Weighted, between, days
from guardian.demo.cohort import OLDER_AGE, ORGS_FILE, DemoPatient
from guardian.domain import codes
from guardian.domain.pathway import Pathway
from guardian.domain.patient import Patient
from guardian.domain.report import ReferralReport
from guardian.orgs import read_org_file

COORDINATORS = (
    "sam.coordinator@demo.invalid", "jo.coordinator@demo.invalid",
    "alex.coordinator@demo.invalid", "priya.coordinator@demo.invalid",
    "chris.coordinator@demo.invalid", "kemi.coordinator@demo.invalid",
    "lee.coordinator@demo.invalid", "morgan.coordinator@demo.invalid",
)
GP_USER = "gp@demo.invalid"
COORDINATOR_USER = "coordinator@demo.invalid"
COLLEAGUE_USER = "robin.coordinator@demo.invalid"  # a demo user too (guardian.users)

# Agreed referral workup by treatment function: (description, requested from).
WORKUP: dict[str, tuple[tuple[str, str], ...]] = {
    "110": (("X-ray of the affected joint within the last 6 months", "practice"),
            ("BMI and smoking status recorded", "practice")),
    "130": (("Optometrist report attached", "patient"),),
    "120": (("Audiogram from community audiology", "practice"),),
    "330": (("Photographs of the lesion", "practice"),
            ("Dermatoscopy images", "practice")),
    "502": (("Pelvic ultrasound report", "practice"), ("Recent FBC and ferritin", "practice")),
    "101": (("PSA result", "practice"), ("Urine dipstick and culture", "practice")),
    "100": (("Recent blood tests (FBC, U&E, LFT)", "practice"),),
    "301": (("FIT result", "practice"), ("Coeliac serology", "practice")),
    "320": (("12-lead ECG", "practice"), ("Blood pressure readings", "patient")),
    "340": (("Spirometry result", "practice"), ("Chest X-ray report", "hospital")),
    "400": (("Medication history and seizure diary", "patient"),),
    "410": (("Inflammatory markers (CRP, ESR)", "practice"),),
}
WORKUP_DEFAULT = (("Recent blood tests (FBC, U&E)", "practice"),
                  ("Pre-referral questionnaire completed", "patient"))

# DM01 tests ordered, by treatment function (keys of codes.DIAGNOSTIC_TESTS).
TESTS: dict[str, tuple[str, ...]] = {
    "110": ("mri", "dexa", "ultrasound"), "130": ("ultrasound",),
    "120": ("audiology", "ct", "mri"), "330": ("ultrasound",),
    "502": ("ultrasound", "mri"), "101": ("cystoscopy", "ultrasound", "urodynamics", "ct"),
    "100": ("ultrasound", "ct", "colonoscopy"),
    "301": ("colonoscopy", "gastroscopy", "flexi-sigmoidoscopy", "ct", "barium-enema"),
    "320": ("echocardiography", "electrophysiology"), "340": ("ct", "sleep-study"),
    "400": ("mri", "neurophysiology"), "410": ("ultrasound", "dexa"),
    "430": ("ct", "echocardiography"), "X02": ("ultrasound", "ct", "echocardiography"),
    "150": ("mri",), "170": ("ct", "echocardiography"), "X04": ("ultrasound", "audiology"),
}
RESULTS = ("No significant abnormality", "Normal study", "Abnormal: see the report",
           "Findings discussed with the referring clinician")

DETERIORATION = (
    "Pain worse, two falls, no red flags", "Symptoms worse; now struggling to walk",
    "New bleeding reported at check-in", "Weight loss reported by the patient",
    "Sleeping badly with pain; asking for an earlier date",
    "Breathless on stairs, worse than at referral", "Vision worse in the affected eye",
    "Cannot work because of the pain",
)
FLAG_SOURCES = Weighted([("check-in", 50), ("patient", 25), ("gp", 15), ("coordinator", 10)])
# Keys of codes.REVIEW_OUTCOMES.
REVIEW_OUTCOMES = ("no-change", "reprioritised", "urgent-care", "priority-reviewed")
CHECK_IN_DAYS = (84, 182, 364)
CHECK_IN_NOTES = ("no change", "no change", "no change", "slightly worse", "better",
                  "still wants treatment")
CONTACT_NOTES = (
    "Patient rang asking about the wait; expected timescale explained",
    "Phone number confirmed for the booking team",
    "Letter sent with the waiting-well offer",
    "Patient asked to reschedule; passed to the booking team",
)
GP_MESSAGES = (
    "Patient asking for an update on the expected date; any news?",
    "Results of the FIT test attached; please expedite if possible",
    "Symptoms worsening according to the patient; please ask the team to review priority",
    "Is the referral still active? The patient has heard nothing",
)
HOSPITAL_MESSAGES = (
    "Please ask the practice for a recent HbA1c before listing",
    "We could not reach the patient to book; please confirm the phone number",
    "Pre-assessment needs an up-to-date medication list",
    "Clinic letter sent; please make sure the practice has it",
)
REPLIES = (
    "Thank you: passed to the validation team, update by Friday",
    "Done: the practice has sent it today",
    "Patient contacted and the details confirmed",
    "Chased with the service; the patient is on the list for next month",
)
OUTGOING = (
    "Please review the clinical priority: patient reports deterioration",
    "Could you confirm whether this pathway is still needed?",
)
# Keys of codes.CLOSE_REASONS.
CLOSE_OPEN_REASONS = ("moved-away", "duplicate", "no-longer-needed")
CLOSE_STOPPED_REASON = "follow-up-finished"
SUPPORT: dict[str, tuple[str, ...]] = {
    "110": ("community-msk", "weight-management", "physical-activity", "pain-management"),
    "330": ("community-dermatology",), "340": ("smoking-cessation", "physical-activity"),
    "320": ("smoking-cessation", "weight-management"), "410": ("pain-management",),
}
SUPPORT_DEFAULT = ("social-prescribing", "mental-health", "financial-help",
                   "smoking-cessation", "weight-management", "alcohol")


# Plans while waiting (docs/rules.md "Plans while waiting"): the self-care agreed, by
# treatment function (keys of codes.SELF_CARE), whom to call if worse (codes.CALL_IF_WORSE)
# and, for some, a note for the patient; picked by the patient's number.
PLAN_SELF_CARE: dict[str, tuple[str, ...]] = {
    "110": ("keep-active", "pain-relief", "healthy-eating"),
    "410": ("keep-active", "pain-relief", "sleep"),
    "320": ("keep-active", "stop-smoking", "usual-medicines"),
    "340": ("stop-smoking", "keep-active", "symptom-diary"),
    "301": ("healthy-eating", "less-alcohol", "symptom-diary"),
    "330": ("symptom-diary", "wellbeing"),
}
PLAN_SELF_CARE_DEFAULT = ("wellbeing", "sleep", "symptom-diary", "keep-active")
PLAN_CALLS = tuple(codes.CALL_IF_WORSE)
PLAN_NOTES = ("", "We will call you again in about six weeks.", "",
              "Ask for Sam at the practice if you need us.")
PLAN_FROM_DAY = 70  # agreed 10 to 12 weeks into the wait, before the first check-in (day 84)


@dataclass
class _Care:
    """What one patient's care history is recorded with: its random stream and its ids."""

    patient: Patient
    demo: DemoPatient
    rng: random.Random
    as_of: dt.date
    zone: ZoneInfo
    counter: itertools.count = field(default_factory=itertools.count)

    def new_id(self, kind: str) -> str:
        """Deterministic command ids: `demo-<patient>-<kind>-<k>`."""
        return f"demo-{self.demo.n}-{kind}-{next(self.counter)}"

    def at(self, on: dt.date) -> dt.datetime:
        """A working-hours time on `on`, in the deployment's time zone."""
        hour, minute = self.rng.randint(8, 17), self.rng.choice((0, 10, 20, 30, 40, 50))
        return dt.datetime.combine(on, dt.time(hour, minute), tzinfo=self.zone)

    def coordinator(self) -> str:
        """One of two colleagues per PCN; in the demo coordinator's PCNs, the two demo
        coordinator users, so "assigned to me" has pathways when they sign in."""
        code = self.demo.practice.pcn_code
        k = self.rng.randint(0, 1)
        if code in _demo_user_pcns():
            return (COORDINATOR_USER, COLLEAGUE_USER)[k]
        return COORDINATORS[(int(code[1:]) + k) % len(COORDINATORS)]

    def pathway(self, r: ReferralReport) -> Pathway:
        return self.patient.pathways[(r.provider, r.pathway_id)]


def _is_open(r: ReferralReport) -> bool:
    return r.clock_end is None


def _waiting_rtt(r: ReferralReport, as_of: dt.date) -> bool:
    """Open on the latest extract and counted in RTT (so on the RTT worklists)."""
    return (r.clock_end is None and r.clock_start is not None and r.as_of == as_of
            and r.waiting_list_type not in codes.NON_RTT_LIST_TYPES)


@functools.cache
def _demo_user_pcns() -> frozenset[str]:
    """The PCNs of the demo coordinator (`guardian.users.demo_orgs`, for the demo's orgs)."""
    from guardian.users import demo_orgs_of

    return frozenset(demo_orgs_of(read_org_file(ORGS_FILE))["coordinator"])


def record_care_history(
    patient: Patient, demo: DemoPatient, seed: int, as_of: dt.date, zone: ZoneInfo
) -> None:
    """Guardian's own history for this patient, through the aggregate's commands.

    What is recorded depends only on the provider's reports and the patient's own random
    stream, never on what the aggregate already holds, and every command is idempotent:
    so running this again on a stored patient (after an interrupted load) writes nothing.
    Every date lies between the referral and `as_of`. Pathways reported only on the
    previous extract leave the list on `as_of`.
    """
    care = _Care(patient, demo, random.Random(f"guardian-demo:{seed}:care:{demo.n}"),
                 as_of, zone)
    for r in demo.reports:
        if _is_open(r):
            _workup(care, r)
            _diagnostics(care, r)
            if care.rng.random() < 0.35:
                patient.assign_coordinator(r.provider, r.pathway_id, care.coordinator())
            _messages(care, r)
            _check_ins(care, r)
        if r.priority == codes.URGENT_SUSPECTED_CANCER:
            _cancer_diagnosis(care, r)
        if r.as_of < as_of and _is_open(r):
            patient.leave_waiting_list(r.provider, r.pathway_id, as_of)
    _deterioration(care)
    _contacts(care)
    _support(care)
    _plans(care)
    _closures(care)


def _workup(care: _Care, r: ReferralReport) -> None:
    rng = care.rng
    if rng.random() >= 0.22:
        return
    p = care.pathway(r)
    items = WORKUP.get(r.treatment_function, WORKUP_DEFAULT)
    required_on = min(r.received_on + days(rng.randint(0, 3)), care.as_of)
    recent = (care.as_of - required_on).days < 14
    for description, source in items[: rng.randint(1, len(items))]:
        item_id = care.new_id("workup")
        if item_id not in p.workup:  # the command refuses a closed pathway, even as a repeat
            care.patient.require_workup_item(
                r.provider, r.pathway_id, item_id, description, source, required_on
            )
        if rng.random() < (0.4 if recent else 0.88):
            done = required_on + days(rng.randint(1, 25))
            if done <= care.as_of:
                by = GP_USER if source == "practice" else COORDINATOR_USER
                care.patient.complete_workup_item(r.provider, r.pathway_id, item_id, done, by)


def _diagnostics(care: _Care, r: ReferralReport) -> None:
    rng = care.rng
    tests = TESTS.get(r.treatment_function)
    usc = r.priority == codes.URGENT_SUSPECTED_CANCER
    if not tests or rng.random() >= (0.65 if usc else 0.18):
        return
    p = care.pathway(r)
    earliest = r.received_on + days(3)
    latest = min(care.as_of, r.received_on + days(21)) if usc else care.as_of
    if earliest > latest:
        return
    for test in rng.sample(tests, 1 if rng.random() < 0.85 or len(tests) == 1 else 2):
        test_id = care.new_id("test")
        ordered = between(rng, earliest, latest)
        if test_id not in p.diagnostics:  # as for workup: a repeat on a closed pathway
            care.patient.order_diagnostic(r.provider, r.pathway_id, test_id, test, ordered)
        resulted = ordered + days(rng.randint(3, 20 if usc else 55))
        if resulted <= care.as_of and rng.random() < 0.9:
            care.patient.record_diagnostic_result(
                r.provider, r.pathway_id, test_id, resulted, rng.choice(RESULTS)
            )


def _cancer_diagnosis(care: _Care, r: ReferralReport) -> None:
    """Diagnosis or all-clear told (FDS), after any test results and within the pathway."""
    rng = care.rng
    latest = min(care.as_of, r.clock_end or care.as_of)
    if rng.random() >= (0.5 if _is_open(r) else 0.9):
        return
    on = r.received_on + days(rng.randint(7, 40))
    outcome = "cancer-diagnosed" if rng.random() < 0.2 else "cancer-ruled-out"
    tests = care.pathway(r).diagnostics.values()
    if any(d.resulted_on is None for d in tests):
        return  # a test is still outstanding
    on = max([on, *(d.resulted_on for d in tests if d.resulted_on)])
    if on <= latest:
        care.patient.communicate_diagnosis(r.provider, r.pathway_id, on, outcome)


def _messages(care: _Care, r: ReferralReport) -> None:
    rng = care.rng
    if rng.random() < 0.07:
        party = "gp" if rng.random() < 0.6 else "hospital"
        received = between(rng, max(r.received_on, care.as_of - days(60)), care.as_of)
        message_id = care.new_id("msg")
        body = rng.choice(GP_MESSAGES if party == "gp" else HOSPITAL_MESSAGES)
        sender = GP_USER if party == "gp" else f"{r.provider} booking team"
        care.patient.receive_message(r.provider, r.pathway_id, message_id, party,
                                     care.at(received), received, body, sender)
        replied = received + days(rng.choice((0, 0, 1, 1, 2, 3, 6)))
        if replied <= care.as_of and rng.random() < 0.7:
            care.patient.send_message(r.provider, r.pathway_id, care.new_id("msg"), party,
                                      care.at(replied), replied, rng.choice(REPLIES),
                                      COORDINATOR_USER, in_reply_to=message_id)
    if rng.random() < 0.02:
        sent = between(rng, max(r.received_on, care.as_of - days(30)), care.as_of)
        care.patient.send_message(r.provider, r.pathway_id, care.new_id("msg"), "hospital",
                                  care.at(sent), sent, rng.choice(OUTGOING), COORDINATOR_USER)


def _check_ins(care: _Care, r: ReferralReport) -> None:
    """Waiting Well check-ins at 12, 26 and 52 weeks of RTT wait, for some patients."""
    rng = care.rng
    if r.clock_start is None or r.waiting_list_type in codes.NON_RTT_LIST_TYPES:
        return
    if rng.random() >= 0.3:
        return
    channel = rng.choice(("phone", "sms", "sms"))
    for day in CHECK_IN_DAYS:
        on = r.clock_start + days(day + rng.randint(0, 6))
        if on > care.as_of:
            break
        note = f"{day // 7}-week check-in: {rng.choice(CHECK_IN_NOTES)}"
        care.patient.log_contact(care.new_id("contact"), on, channel, note, COORDINATOR_USER,
                                 r.provider, r.pathway_id)


def _first_waiting(care: _Care) -> ReferralReport | None:
    return next((r for r in care.demo.reports if _waiting_rtt(r, care.as_of)), None)


def _deterioration(care: _Care) -> None:
    rng = care.rng
    r = _first_waiting(care)
    if r is None or r.clock_start is None:
        return
    long_wait = (care.as_of - r.clock_start).days > 84
    if rng.random() >= (0.08 if long_wait else 0.015):
        return
    raised = between(rng, max(r.received_on, care.as_of - days(45)), care.as_of)
    flag_id = care.new_id("flag")
    care.patient.flag_deterioration(flag_id, raised, rng.choice(DETERIORATION),
                                    FLAG_SOURCES.pick(rng), r.provider, r.pathway_id)
    reviewed = raised + days(rng.randint(0, 3))
    chance = 0.75 if (care.as_of - raised).days >= 3 else 0.3
    if reviewed <= care.as_of and rng.random() < chance:
        care.patient.review_deterioration(flag_id, reviewed, rng.choice(REVIEW_OUTCOMES))
        care.patient.log_contact(care.new_id("contact"), reviewed, "phone",
                                 "Called about the reported deterioration", COORDINATOR_USER,
                                 r.provider, r.pathway_id)


def _contacts(care: _Care) -> None:
    rng = care.rng
    if rng.random() >= 0.06:
        return
    first = min(care.demo.reports, key=lambda r: r.received_on)
    on = between(rng, first.received_on, care.as_of)
    channel = rng.choice(tuple(codes.CONTACT_CHANNELS))
    care.patient.log_contact(care.new_id("contact"), on, channel, rng.choice(CONTACT_NOTES),
                             COORDINATOR_USER, first.provider, first.pathway_id)


def _support(care: _Care) -> None:
    rng = care.rng
    r = _first_waiting(care)
    if r is None or rng.random() >= 0.09:
        return
    kinds = SUPPORT.get(r.treatment_function, SUPPORT_DEFAULT)
    if (care.as_of - r.birth_date).days // 365 >= OLDER_AGE and rng.random() < 0.4:
        kinds = ("falls-service",)
    on = between(rng, r.received_on, care.as_of)
    label = codes.treatment_function_label(r.treatment_function)
    care.patient.offer_support(care.new_id("support"), rng.choice(kinds), on,
                               f"Offered while waiting for {label}", r.provider, r.pathway_id)


def _plans(care: _Care) -> None:
    """A plan while waiting on each referral waiting in RTT for 12 weeks or more, agreed
    10 to 12 weeks in, in the PCNs that have started agreeing plans: the demo
    coordinator's (as a pilot would), so each of their patients with a check-in due has
    one, and newer referrals and the other PCNs' show "no plan yet". A few in a hundred
    patients, one event each, chosen by the patient's number, not the random stream."""
    if care.demo.practice.pcn_code not in _demo_user_pcns():
        return
    n = care.demo.n
    for r in care.demo.reports:
        if r.clock_end is not None or r.clock_start is None \
                or r.waiting_list_type in codes.NON_RTT_LIST_TYPES \
                or (care.as_of - r.clock_start).days < 84:  # also those that left the list
            continue
        topics = PLAN_SELF_CARE.get(r.treatment_function, PLAN_SELF_CARE_DEFAULT)
        chosen = topics[: 1 + n % len(topics)]
        on = max(r.received_on, r.clock_start + days(PLAN_FROM_DAY + n % 14))
        care.patient.agree_care_plan(r.provider, r.pathway_id, list(chosen),
                                     PLAN_CALLS[n % len(PLAN_CALLS)], on, COORDINATOR_USER,
                                     PLAN_NOTES[n % len(PLAN_NOTES)])


def _closures(care: _Care) -> None:
    """A few pathways closed: most after their clock stopped, a very few while open."""
    rng = care.rng
    for r in care.demo.reports:
        chance = rng.random()
        if r.clock_end is not None:
            if chance < 0.15:
                on = min(r.clock_end + days(rng.randint(0, 14)), care.as_of)
                care.patient.close_pathway(r.provider, r.pathway_id, on, CLOSE_STOPPED_REASON)
        elif r.as_of == care.as_of and chance < 0.01:
            on = between(rng, r.received_on, care.as_of)
            care.patient.close_pathway(r.provider, r.pathway_id, on,
                                       rng.choice(CLOSE_OPEN_REASONS))

