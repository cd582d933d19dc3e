"""The demo cohort: who the synthetic patients are and what their providers report. The
reference tables (providers, ages, treatment functions, waits, names) and `cohort`, which
streams one `DemoPatient` at a time from the patient's own seeded random stream, so the
cohort for N patients is a prefix of the cohort for more; `generate_reports` is its
provider-extract view, one `ReferralReport` per pathway.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from guardian.demo.chance import Weighted, between, days
from guardian.domain import codes
from guardian.domain.identifiers import nhs_check_digit
from guardian.domain.report import ReferralReport
from guardian.orgs import Practice

ORGS_FILE = Path(__file__).parent.parent / "data" / "mse-orgs.csv"
# Previous weekly extract: pathways reported then but missing from the latest full snapshot.
PREVIOUS_EXTRACT_DAYS = 7
# 999 + six digits: the bodies a test-range NHS number can have.
_NHS_BODIES = 1_000_000

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
    birth = as_of - days(int(age * 365.25) + rng.randrange(365))
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
        birth = earliest - days(rng.randint(20, 300))
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
        on = as_of - days(PREVIOUS_EXTRACT_DAYS) if left else as_of
        facts.update(_waiting(rng, on, wait, admitted, priority))
        facts["as_of"] = on
    gap = 0 if rng.random() < 0.9 else rng.randint(1, 21)
    facts["received_on"] = facts["clock_start"] - days(gap)
    return facts


def _non_rtt(rng: random.Random, as_of: dt.date) -> dict[str, Any]:
    """A follow-up or planned list row (ONON/INON): no RTT clock."""
    received = as_of - days(rng.randint(30, 900))
    attended = between(rng, received, as_of) if rng.random() < 0.7 else None
    return {
        "waiting_list_type": "ONON" if rng.random() < 0.7 else "INON",
        "received_on": received,
        "clock_start": None,
        "rtt_status": rng.choice(("90", "91", "98")),
        "last_attended_on": attended,
        "appointment_on": as_of + days(rng.randint(7, 180)) if rng.random() < 0.6 else None,
        "as_of": as_of,
    }


def _waiting(
    rng: random.Random, on: dt.date, wait: int, admitted: bool, priority: int
) -> dict[str, Any]:
    """An open RTT pathway on the extract date `on`, its clock started `wait` days before."""
    start = on - days(wait)
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
            facts["appointment_on"] = on + days(rng.randint(1, 14 if priority == 3 else 70))
        return facts
    first_seen = start + days(min(wait, 7 if priority == 3 else 14))
    attended = between(rng, first_seen, on)
    facts["last_attended_on"] = attended
    facts["rtt_status"] = "20" if rng.random() < 0.8 else None
    if rng.random() < 0.07:
        facts["last_dna_on"] = between(rng, start, on)
    if admitted:
        code = "P2" if priority == 3 else PROCEDURE_PRIORITY.pick(rng)
        facts["procedure_priority"] = code
        facts["priority_reviewed_on"] = between(rng, attended, on)
        if rng.random() < 0.3:
            facts["tci_on"] = on + days(rng.randint(1, 28 if code == "P2" else 84))
    elif rng.random() < 0.3:
        facts["appointment_on"] = on + days(rng.randint(7, 90))
    return facts


def _stopped(rng: random.Random, as_of: dt.date, wait: int, admitted: bool) -> dict[str, Any]:
    """A clock stopped in the last eight weeks, after `wait` days."""
    end = as_of - days(rng.randint(0, 56))
    start = end - days(wait)
    status = STOP_STATUSES.pick(rng)
    facts: dict[str, Any] = {"clock_start": start, "clock_end": end, "rtt_status": status}
    if status == codes.FIRST_APPOINTMENT_DNA:
        facts["last_dna_on"] = end
    elif status == "30" and admitted:
        facts["last_attended_on"] = between(rng, start, end)
        facts["tci_on"] = end
        facts["procedure_priority"] = PROCEDURE_PRIORITY.pick(rng)
        facts["priority_reviewed_on"] = between(rng, facts["last_attended_on"], end)
    else:
        facts["last_attended_on"] = end
    return facts

