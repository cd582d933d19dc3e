"""The synthetic Mid and South Essex demo (`guardian demo`, `make run`).

Everything here is invented: organisation codes `Y9xxxx`/`U9xxxx` from
`guardian/data/mse-orgs.csv`, NHS numbers from the 999 test range, made-up names and
Ofcom's drama telephone numbers. Nothing describes a real patient or practice.

Two layers:

* The **provider extract**: `generate_reports` streams the `ReferralReport`s a provider's
  waiting-list extract would give on `as_of` (the import benchmark writes the same rows to a
  PTL CSV with `write_extract`).
* **Guardian's own history** for a deterministic subset of pathways: workup, diagnostics,
  cancer diagnoses, deterioration flags, contacts, coordinators, support, messages and
  closures, recorded through the Patient aggregate's commands.

Determinism: each patient's facts come from its own `random.Random` seeded with text
(seeding from `str` hashes with SHA-512, so it is the same in every process and does not
depend on `PYTHONHASHSEED`); the wall clock is read only through `app.today()` when no
`as_of` is given. The cohort for N patients is a prefix of the cohort for more patients.
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import functools
import itertools
import json
import os
import random
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import select

from guardian.domain import codes
from guardian.domain.identifiers import nhs_check_digit
from guardian.domain.pathway import Pathway
from guardian.domain.patient import Patient
from guardian.domain.report import ReferralReport
from guardian.ingest.ptl_csv import bulk_gc
from guardian.orgs import Practice, load_orgs, read_org_file
from guardian.store import chunks, dialect_insert, meta_table

if TYPE_CHECKING:
    from guardian.application import GuardianApp

ORGS_FILE = Path(__file__).parent / "data" / "mse-orgs.csv"
DEFAULT_PATIENTS = 3000
DEFAULT_SEED = 20221
MARKER_KEY = "demo"
# Patients per transaction: large enough to amortise the commit, small enough that a batch
# of aggregates and their pending events stays a few megabytes.
SAVE_BATCH = 500
# Previous weekly extract: pathways reported then but missing from the latest full snapshot.
PREVIOUS_EXTRACT_DAYS = 7
# 999 + six digits: the bodies a test-range NHS number can have.
_NHS_BODIES = 1_000_000

T = TypeVar("T")


class Weighted(Generic[T]):
    """A fixed weighted choice; `pick` costs one random number and a bisect."""

    def __init__(self, pairs: Iterable[tuple[T, float]]) -> None:
        pairs = [(v, w) for v, w in pairs if w > 0]
        self.values = [v for v, _ in pairs]
        self.cumulative = list(itertools.accumulate(w for _, w in pairs))
        self.total = self.cumulative[-1]

    def pick(self, rng: random.Random) -> T:
        i = bisect.bisect_right(self.cumulative, rng.random() * self.total)
        return self.values[min(i, len(self.values) - 1)]


# ---------------------------------------------------------------------------- reference tables
# Providers: mostly the local acute trust (MSE NHS FT), a few neighbours.
PROVIDERS = Weighted([("RAJ", 90), ("RQW", 4), ("RDE", 3), ("RGQ", 3)])

# Age bands of referred patients (years, inclusive): older patients are referred more.
AGE_BANDS = Weighted([
    ((0, 15), 6), ((16, 29), 7), ((30, 39), 9), ((40, 49), 11), ((50, 59), 16),
    ((60, 69), 18), ((70, 79), 19), ((80, 89), 11), ((90, 99), 3),
])
CHILD_AGE = 16
OLDER_AGE = 70

# Share of adult pathways per treatment function, roughly as on England's waiting list.
_ADULT_TF = {
    "110": 12.5, "130": 9, "120": 7.5, "502": 7.5, "100": 6, "330": 5.5, "101": 5,
    "301": 5, "320": 5, "X02": 5, "140": 3.5, "X05": 3, "340": 2.5, "400": 2.5,
    "410": 2, "160": 2, "X06": 2, "300": 1.5, "430": 1, "150": 1, "170": 0.5, "X03": 0.5,
}
_OLDER_EXTRA = {"430": 4, "130": 4, "320": 2, "101": 2}
ADULT_TF = Weighted(_ADULT_TF.items())
OLDER_TF = Weighted({k: v + _OLDER_EXTRA.get(k, 0) for k, v in _ADULT_TF.items()}.items())
CHILD_TF = Weighted([("X04", 45), ("120", 15), ("130", 12), ("110", 10), ("140", 8),
                     ("330", 5), ("100", 3), ("160", 2)])

# Probability that an adult referral is urgent suspected cancer, by treatment function
# (about 10% of all pathways overall).
USC_SHARE = {
    "101": 0.27, "100": 0.25, "301": 0.27, "330": 0.25, "502": 0.20, "120": 0.13,
    "340": 0.22, "400": 0.03, "300": 0.05, "X02": 0.05, "X05": 0.07, "160": 0.05, "110": 0.01,
}
URGENT_SHARE = 0.22  # of the pathways that are not USC: about 20% overall
NON_RTT_SHARE = 0.03  # ONON / INON lists
STOPPED_SHARE = 0.10  # clock stopped on the extract (recent treatment or discharge)
LEFT_LIST_SHARE = 0.01  # of open routine/urgent RTT pathways
# Admitted (IRTT) share of RTT pathways, by treatment function.
ADMITTED_SHARE = {
    "110": 0.40, "130": 0.35, "100": 0.40, "101": 0.35, "502": 0.30, "120": 0.25,
    "160": 0.45, "140": 0.35, "150": 0.35, "170": 0.50, "X05": 0.35, "301": 0.15,
    "320": 0.12, "330": 0.08,
}
ADMITTED_DEFAULT = 0.05

# Days since the clock started (on the extract date), per referral priority: most within
# 18 weeks, a long tail past 52, 78 and 104 weeks.
WAITS = {
    1: Weighted([((0, 126), 58), ((127, 364), 37.5), ((365, 455), 2.5), ((456, 546), 1.2),
                 ((547, 728), 0.6), ((729, 900), 0.2)]),
    2: Weighted([((0, 126), 72), ((127, 364), 25), ((365, 546), 2.5), ((547, 728), 0.5)]),
    3: Weighted([((0, 62), 85), ((63, 180), 14), ((181, 364), 1)]),
}
STOP_STATUSES = Weighted([("30", 55), ("31", 4), ("32", 10), ("33", 7), ("34", 19), ("35", 5)])
PROCEDURE_PRIORITY = Weighted([("P2", 10), ("P3", 35), ("P4", 50), ("P5", 3), ("P6", 2)])

GIVEN_FEMALE = (
    "Amelia", "Olivia", "Isla", "Ava", "Mia", "Grace", "Sophie", "Lily", "Emily", "Ella",
    "Margaret", "Patricia", "Susan", "Linda", "Barbara", "Jean", "Carol", "Janet", "Sandra",
    "Pauline", "Karen", "Julie", "Tracey", "Joanne", "Nicola", "Rachel", "Claire", "Helen",
    "Priya", "Aisha", "Fatima", "Zainab", "Chloe", "Ruby", "Freya", "Evie", "Joan", "Irene",
    "Doreen", "Valerie",
)
GIVEN_MALE = (
    "Oliver", "George", "Noah", "Arthur", "Harry", "Leo", "Jack", "Oscar", "Charlie", "Alfie",
    "John", "David", "Michael", "Peter", "Robert", "Paul", "Stephen", "Anthony", "Brian",
    "Keith", "Gary", "Mark", "Darren", "Lee", "Wayne", "Craig", "Daniel", "Thomas", "Ravi",
    "Mohammed", "Ibrahim", "Tariq", "Kwame", "Samuel", "Ryan", "Liam", "Dennis", "Roy",
    "Terence", "Derek",
)
FAMILY = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel",
    "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall",
    "Wood", "Jackson", "Clarke", "Turner", "Hill", "Cooper", "Ward", "Morris", "Moore",
    "King", "Harris", "Baker", "Lewis", "Young", "Allen", "Mitchell", "Carter", "Shah",
    "Khan", "Begum", "Ahmed", "Okafor", "Mensah", "Nowak", "Kowalski", "Murphy", "Kelly",
    "O'Brien", "Reid", "Stewart", "Marsh", "Fuller", "Barker", "Pearce", "Stone", "Hart",
    "Fletcher", "Fisher", "Gardner", "Chapman", "Webb", "Palmer", "Payne", "Holmes", "Mills",
    "Lane", "Day", "Rose", "Dixon", "Knight", "Hunt", "Mason", "Sutton", "Ellis", "Russell",
    "Gibson", "Bishop", "Nash", "Sharp", "Burton", "Powell", "Newman",
)
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


# ---------------------------------------------------------------------------- the cohort


@dataclass(frozen=True)
class DemoPatient:
    """One synthetic patient: its number in the cohort, practice and provider reports."""

    n: int
    nhs_number: str
    practice: Practice
    reports: tuple[ReferralReport, ...]


def nhs_numbers(seed: int) -> Iterator[str]:
    """Distinct valid NHS numbers from the 999 test range, in a seed-dependent order.

    A full-cycle affine map k → (a·k + c) mod 10⁶ over the six digits after 999 (a is
    coprime with 10), skipping bodies whose Modulus 11 check digit would be 10 (invalid):
    about 909,000 numbers per seed.
    """
    rng = random.Random(f"guardian-demo:{seed}:nhs")
    a = rng.randrange(1, _NHS_BODIES)
    while a % 2 == 0 or a % 5 == 0:
        a = rng.randrange(1, _NHS_BODIES)
    c = rng.randrange(_NHS_BODIES)
    for k in range(_NHS_BODIES):
        first_nine = f"999{(a * k + c) % _NHS_BODIES:06d}"
        check = nhs_check_digit(first_nine)
        if check is not None:
            yield f"{first_nine}{check}"


def _days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


def _between(rng: random.Random, lo: dt.date, hi: dt.date) -> dt.date:
    """A date uniformly in [lo, hi] (lo when hi is before lo)."""
    span = (hi - lo).days
    return lo if span <= 0 else lo + _days(rng.randint(0, span))


def _practice_picker(practices: Sequence[Practice], seed: int) -> Weighted[Practice]:
    """Practices weighted by a synthetic list size, independent of the input order."""
    rng = random.Random(f"guardian-demo:{seed}:practices")
    ordered = sorted(practices, key=lambda p: p.practice_code)
    return Weighted((p, rng.uniform(0.4, 1.8)) for p in ordered)


def cohort(
    n_patients: int, seed: int, as_of: dt.date, practices: Sequence[Practice]
) -> Iterator[DemoPatient]:
    """The demo patients, one at a time (memory stays flat however many are asked for)."""
    if not practices:
        raise ValueError("the demo needs at least one practice")
    picker = _practice_picker(practices, seed)
    numbers = nhs_numbers(seed)
    for n in range(n_patients):
        nhs = next(numbers, None)
        if nhs is None:
            raise ValueError(f"the 999 test range holds fewer than {n_patients} NHS numbers")
        yield _patient(n, nhs, seed, as_of, picker)


def generate_reports(
    n_patients: int, seed: int, as_of: dt.date, practices: Sequence[Practice]
) -> Iterator[ReferralReport]:
    """The provider-extract view of the demo cohort: one report per pathway, streamed.

    Pathways that later leave the waiting list carry the previous weekly extract's date
    (`as_of` − 7 days) as their `as_of`; every date in a report is on or before its `as_of`
    (future appointment and admission dates apart).
    """
    for patient in cohort(n_patients, seed, as_of, practices):
        yield from patient.reports


def _patient(
    n: int, nhs: str, seed: int, as_of: dt.date, practices: Weighted[Practice]
) -> DemoPatient:
    rng = random.Random(f"guardian-demo:{seed}:patient:{n}")
    lo, hi = AGE_BANDS.pick(rng)
    age = rng.randint(lo, hi)
    birth = as_of - _days(int(age * 365.25) + rng.randrange(365))
    female = rng.random() < 0.55
    given = rng.choice(GIVEN_FEMALE if female else GIVEN_MALE)
    family = rng.choice(FAMILY)
    phone = f"07700 900{rng.randrange(1000):03d}" if rng.random() < 0.85 else None
    email = None
    if rng.random() < 0.5:
        local = "".join(ch for ch in f"{given}.{family}" if ch.isalnum() or ch == ".")
        email = f"{local.lower()}.{n}@example.invalid"
    practice = practices.pick(rng)
    count = 1 if rng.random() < 0.83 else (2 if rng.random() < 0.82 else 3)
    specs = [_pathway_facts(rng, n, j, seed, as_of, age) for j in range(count)]
    earliest = min(s["received_on"] for s in specs)
    if birth > earliest:  # a young child: born before the first referral
        birth = earliest - _days(rng.randint(20, 300))
    reports = tuple(
        ReferralReport(
            nhs_number=nhs, birth_date=birth, practice_code=practice.practice_code,
            given_name=given, family_name=family, phone=phone, email=email, **spec,
        )
        for spec in specs
    )
    return DemoPatient(n, nhs, practice, reports)


def _pathway_facts(
    rng: random.Random, n: int, j: int, seed: int, as_of: dt.date, age: int
) -> dict[str, Any]:
    """The provider's facts for one pathway (a `ReferralReport` without the patient)."""
    provider = PROVIDERS.pick(rng)
    if age < CHILD_AGE:
        tf = CHILD_TF.pick(rng)
    else:
        tf = (OLDER_TF if age >= OLDER_AGE else ADULT_TF).pick(rng)
    usc = age >= CHILD_AGE and rng.random() < USC_SHARE.get(tf, 0.0)
    priority = 3 if usc else (2 if rng.random() < URGENT_SHARE else 1)
    facts: dict[str, Any] = {
        "provider": provider,
        "pathway_id": f"DEMO{seed}-{n:06d}-{j + 1}",
        "treatment_function": tf,
        "priority": priority,
        "local_patient_id": f"{provider}{n:07d}",
        "ubrn": f"{rng.randrange(10**12):012d}" if rng.random() < 0.75 else None,
    }
    if rng.random() < NON_RTT_SHARE:
        facts.update(_non_rtt(rng, as_of))
        return facts
    admitted = rng.random() < ADMITTED_SHARE.get(tf, ADMITTED_DEFAULT)
    facts["waiting_list_type"] = "IRTT" if admitted else "ORTT"
    lo, hi = WAITS[priority].pick(rng)
    wait = rng.randint(lo, hi)
    if rng.random() < STOPPED_SHARE:
        facts.update(_stopped(rng, as_of, wait, admitted))
        facts["as_of"] = as_of
    else:
        left = priority != 3 and rng.random() < LEFT_LIST_SHARE
        on = as_of - _days(PREVIOUS_EXTRACT_DAYS) if left else as_of
        facts.update(_waiting(rng, on, wait, admitted, priority))
        facts["as_of"] = on
    gap = 0 if rng.random() < 0.9 else rng.randint(1, 21)
    facts["received_on"] = facts["clock_start"] - _days(gap)
    return facts


def _non_rtt(rng: random.Random, as_of: dt.date) -> dict[str, Any]:
    """A follow-up or planned list row (ONON/INON): no RTT clock."""
    received = as_of - _days(rng.randint(30, 900))
    attended = _between(rng, received, as_of) if rng.random() < 0.7 else None
    return {
        "waiting_list_type": "ONON" if rng.random() < 0.7 else "INON",
        "received_on": received,
        "clock_start": None,
        "rtt_status": rng.choice(("90", "91", "98")),
        "last_attended_on": attended,
        "appointment_on": as_of + _days(rng.randint(7, 180)) if rng.random() < 0.6 else None,
        "as_of": as_of,
    }


def _waiting(
    rng: random.Random, on: dt.date, wait: int, admitted: bool, priority: int
) -> dict[str, Any]:
    """An open RTT pathway on the extract date `on`, its clock started `wait` days before."""
    start = on - _days(wait)
    facts: dict[str, Any] = {"clock_start": start}
    if priority == 3:
        unseen = wait < 10 and rng.random() < 0.9
    else:
        unseen = rng.random() < (0.85 if wait < 28 else 0.55 if wait <= 126 else 0.35)
    if admitted:
        unseen = False  # a decision to admit follows an attendance
    if unseen:
        facts["rtt_status"] = "10" if rng.random() < 0.8 else None
        if rng.random() < (0.9 if priority == 3 else 0.45):
            facts["appointment_on"] = on + _days(rng.randint(1, 14 if priority == 3 else 70))
        return facts
    first_seen = start + _days(min(wait, 7 if priority == 3 else 14))
    attended = _between(rng, first_seen, on)
    facts["last_attended_on"] = attended
    facts["rtt_status"] = "20" if rng.random() < 0.8 else None
    if rng.random() < 0.07:
        facts["last_dna_on"] = _between(rng, start, on)
    if admitted:
        code = "P2" if priority == 3 else PROCEDURE_PRIORITY.pick(rng)
        facts["procedure_priority"] = code
        facts["priority_reviewed_on"] = _between(rng, attended, on)
        if rng.random() < 0.3:
            facts["tci_on"] = on + _days(rng.randint(1, 28 if code == "P2" else 84))
    elif rng.random() < 0.3:
        facts["appointment_on"] = on + _days(rng.randint(7, 90))
    return facts


def _stopped(rng: random.Random, as_of: dt.date, wait: int, admitted: bool) -> dict[str, Any]:
    """A clock stopped in the last eight weeks, after `wait` days."""
    end = as_of - _days(rng.randint(0, 56))
    start = end - _days(wait)
    status = STOP_STATUSES.pick(rng)
    facts: dict[str, Any] = {"clock_start": start, "clock_end": end, "rtt_status": status}
    if status == codes.FIRST_APPOINTMENT_DNA:
        facts["last_dna_on"] = end
    elif status == "30" and admitted:
        facts["last_attended_on"] = _between(rng, start, end)
        facts["tci_on"] = end
        facts["procedure_priority"] = PROCEDURE_PRIORITY.pick(rng)
        facts["priority_reviewed_on"] = _between(rng, facts["last_attended_on"], end)
    else:
        facts["last_attended_on"] = end
    return facts


# ---------------------------------------------------------------------------- the extract file

EXTRACT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("NHS_NUMBER", "nhs_number"),
    ("PERSON_BIRTH_DATE", "birth_date"),
    ("PATIENT_PATHWAY_IDENTIFIER", "pathway_id"),
    ("ORGANISATION_IDENTIFIER_CODE_OF_PROVIDER", "provider"),
    ("GENERAL_MEDICAL_PRACTICE_CODE", "practice_code"),
    ("REFERRAL_REQUEST_RECEIVED_DATE", "received_on"),
    ("REFERRAL_TO_TREATMENT_PERIOD_START_DATE", "clock_start"),
    ("REFERRAL_TO_TREATMENT_PERIOD_END_DATE", "clock_end"),
    ("REFERRAL_TO_TREATMENT_PERIOD_STATUS", "rtt_status"),
    ("ACTIVITY_TREATMENT_FUNCTION_CODE", "treatment_function"),
    ("PRIORITY_TYPE_CODE", "priority"),
    ("UBRN", "ubrn"),
    ("OUTPATIENT_FUTURE_APPOINTMENT_DATE", "appointment_on"),
    ("TCI_DATE", "tci_on"),
    ("DATE_LAST_ATTENDED", "last_attended_on"),
    ("LAST_DNA_DATE", "last_dna_on"),
    ("PROCEDURE_PRIORITY_CODE", "procedure_priority"),
    ("DATE_OF_LAST_PRIORITY_REVIEW", "priority_reviewed_on"),
    ("WAITING_LIST_TYPE", "waiting_list_type"),
    ("LOCAL_PATIENT_IDENTIFIER", "local_patient_id"),
    ("PATIENT_GIVEN_NAME", "given_name"),
    ("PATIENT_FAMILY_NAME", "family_name"),
    ("PATIENT_PHONE", "phone"),
    ("PATIENT_EMAIL", "email"),
)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def write_extract(
    path: Path | str, n_patients: int, seed: int, as_of: dt.date, practices: Sequence[Practice]
) -> int:
    """Write the demo cohort as a PTL CSV (docs/formats.md column names); return the rows written.

    Streams to a temporary file beside `path` and renames it into place, so a reader never
    sees half a file.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    rows = 0
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([column for column, _ in EXTRACT_COLUMNS])
        for report in generate_reports(n_patients, seed, as_of, practices):
            writer.writerow([_cell(getattr(report, name)) for _, name in EXTRACT_COLUMNS])
            rows += 1
    os.replace(tmp, path)
    return rows


# ---------------------------------------------------------------------------- Guardian's history


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
    _closures(care)


def _workup(care: _Care, r: ReferralReport) -> None:
    rng = care.rng
    if rng.random() >= 0.22:
        return
    p = care.pathway(r)
    items = WORKUP.get(r.treatment_function, WORKUP_DEFAULT)
    required_on = min(r.received_on + _days(rng.randint(0, 3)), care.as_of)
    recent = (care.as_of - required_on).days < 14
    for description, source in items[: rng.randint(1, len(items))]:
        item_id = care.new_id("workup")
        if item_id not in p.workup:  # the command refuses a closed pathway, even as a repeat
            care.patient.require_workup_item(
                r.provider, r.pathway_id, item_id, description, source, required_on
            )
        if rng.random() < (0.4 if recent else 0.88):
            done = required_on + _days(rng.randint(1, 25))
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
    earliest = r.received_on + _days(3)
    latest = min(care.as_of, r.received_on + _days(21)) if usc else care.as_of
    if earliest > latest:
        return
    for test in rng.sample(tests, 1 if rng.random() < 0.85 or len(tests) == 1 else 2):
        test_id = care.new_id("test")
        ordered = _between(rng, earliest, latest)
        if test_id not in p.diagnostics:  # as for workup: a repeat on a closed pathway
            care.patient.order_diagnostic(r.provider, r.pathway_id, test_id, test, ordered)
        resulted = ordered + _days(rng.randint(3, 20 if usc else 55))
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
    on = r.received_on + _days(rng.randint(7, 40))
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
        received = _between(rng, max(r.received_on, care.as_of - _days(60)), care.as_of)
        message_id = care.new_id("msg")
        body = rng.choice(GP_MESSAGES if party == "gp" else HOSPITAL_MESSAGES)
        sender = GP_USER if party == "gp" else f"{r.provider} booking team"
        care.patient.receive_message(r.provider, r.pathway_id, message_id, party,
                                     care.at(received), received, body, sender)
        replied = received + _days(rng.choice((0, 0, 1, 1, 2, 3, 6)))
        if replied <= care.as_of and rng.random() < 0.7:
            care.patient.send_message(r.provider, r.pathway_id, care.new_id("msg"), party,
                                      care.at(replied), replied, rng.choice(REPLIES),
                                      COORDINATOR_USER, in_reply_to=message_id)
    if rng.random() < 0.02:
        sent = _between(rng, max(r.received_on, care.as_of - _days(30)), care.as_of)
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
        on = r.clock_start + _days(day + rng.randint(0, 6))
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
    raised = _between(rng, max(r.received_on, care.as_of - _days(45)), care.as_of)
    flag_id = care.new_id("flag")
    care.patient.flag_deterioration(flag_id, raised, rng.choice(DETERIORATION),
                                    FLAG_SOURCES.pick(rng), r.provider, r.pathway_id)
    reviewed = raised + _days(rng.randint(0, 3))
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
    on = _between(rng, first.received_on, care.as_of)
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
    on = _between(rng, r.received_on, care.as_of)
    label = codes.treatment_function_label(r.treatment_function)
    care.patient.offer_support(care.new_id("support"), rng.choice(kinds), on,
                               f"Offered while waiting for {label}", r.provider, r.pathway_id)


def _closures(care: _Care) -> None:
    """A few pathways closed: most after their clock stopped, a very few while open."""
    rng = care.rng
    for r in care.demo.reports:
        chance = rng.random()
        if r.clock_end is not None:
            if chance < 0.15:
                on = min(r.clock_end + _days(rng.randint(0, 14)), care.as_of)
                care.patient.close_pathway(r.provider, r.pathway_id, on, CLOSE_STOPPED_REASON)
        elif r.as_of == care.as_of and chance < 0.01:
            on = _between(rng, r.received_on, care.as_of)
            care.patient.close_pathway(r.provider, r.pathway_id, on,
                                       rng.choice(CLOSE_OPEN_REASONS))


# ---------------------------------------------------------------------------- loading


def read_marker(app: GuardianApp) -> dict[str, Any] | None:
    """What `load_demo` recorded in `guardian_meta`, or None when the demo is not loaded."""
    with app.engine.connect() as conn:
        value = conn.execute(
            select(meta_table.c.value).where(meta_table.c.key == MARKER_KEY)
        ).scalar()
    return json.loads(value) if value else None


def _write_marker(app: GuardianApp, marker: dict[str, Any]) -> None:
    with app.engine.begin() as conn:
        stmt = dialect_insert(conn, meta_table)
        conn.execute(
            stmt.on_conflict_do_nothing(index_elements=["key"]),
            [{"key": MARKER_KEY, "value": json.dumps(marker, sort_keys=True)}],
        )


@dataclass
class _Totals:
    patients: int = 0
    pathways: int = 0
    events: int = 0
    providers: set[str] = field(default_factory=set)


def _load_batch(
    app: GuardianApp, batch: list[DemoPatient], seed: int, as_of: dt.date, totals: _Totals
) -> None:
    """Build (or, after an interrupted load, reload) the batch's aggregates and save once.

    New patients are constructed directly, which is what `apply_reports` would do without
    the per-batch save and reload in between; a patient already stored is loaded, and its
    unchanged pathways and repeated commands write nothing (commands are idempotent).
    """
    ids = [app.patient_id(d.nhs_number) for d in batch]
    known = app.known_patients(ids)
    patients: list[Patient] = []
    for demo, pid in zip(batch, ids, strict=True):
        patient = app.get_patient(pid) if pid in known else Patient.register(pid, demo.reports[0])
        for report in demo.reports:
            key = (report.provider, report.pathway_id)
            if key not in patient.pathways or patient.reported_facts(*key) != report.facts():
                patient.reconcile(report)
            totals.providers.add(report.provider)
        record_care_history(patient, demo, seed, as_of, app.settings.zone)
        patient.settle_ended_pathways(app.settings.standards)
        patients.append(patient)
        totals.patients += 1
        totals.pathways += len(demo.reports)
    totals.events += sum(len(p.pending_events) for p in patients)
    app.save_patients(patients)


def load_demo(
    app: GuardianApp,
    patients: int = DEFAULT_PATIENTS,
    seed: int = DEFAULT_SEED,
    as_of: dt.date | None = None,
) -> dict[str, Any]:
    """Load the organisations and the synthetic cohort once; later calls write nothing.

    Returns a summary: `patients`, `pathways`, `events` (written by this call),
    `already_loaded`, `seed`, `as_of` and a one-line `message`.
    """
    marker = read_marker(app)
    if marker is not None:
        return {
            **marker,
            "events": 0,
            "already_loaded": True,
            "message": (
                f"The demo is already loaded ({marker.get('patients', 0):,} patients, seed "
                f"{marker.get('seed')}, as of {marker.get('as_of')}); nothing was written."
            ),
        }
    if patients < 1:
        raise ValueError("the demo needs at least one patient")
    started = time.monotonic()
    as_of = as_of or app.today()
    practices = read_org_file(ORGS_FILE)
    load_orgs(app.engine, practices)
    totals = _Totals()
    with bulk_gc():
        for batch in chunks(cohort(patients, seed, as_of, practices), SAVE_BATCH):
            _load_batch(app, batch, seed, as_of, totals)
    app.record_extract_dates(dict.fromkeys(sorted(totals.providers), as_of))
    marker = {"patients": totals.patients, "pathways": totals.pathways, "seed": seed,
              "as_of": as_of.isoformat()}
    _write_marker(app, marker)
    seconds = round(time.monotonic() - started, 1)
    places = len({p.place for p in practices})
    pcns = len({p.pcn_code for p in practices})
    return {
        **marker,
        "events": totals.events,
        "practices": len(practices),
        "pcns": pcns,
        "places": places,
        "already_loaded": False,
        "seconds": seconds,
        "message": (
            f"Loaded the synthetic Mid and South Essex demo: {len(practices)} practices in "
            f"{pcns} PCNs and {places} places, {totals.patients:,} patients, "
            f"{totals.pathways:,} pathways, {totals.events:,} events (seed {seed}, as of "
            f"{as_of.isoformat()}) in {seconds:g} s."
        ),
    }
