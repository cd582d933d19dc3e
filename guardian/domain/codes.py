"""The codes Guardian reads, records and shows: the national ones (docs/rules.md §10) and
the vocabularies of what Guardian's users record.
Each vocabulary is an ordered mapping, code → the words people read. It is the one home of
its values: a form offers exactly these choices (value = code, text = label, in this order),
the domain's commands accept exactly these codes, events store the code, and pages show the
label (`label`). Labels may be reworded at any time; codes never change, since events
already hold them.
"""

from __future__ import annotations

from collections.abc import Mapping

from guardian.domain.errors import InvalidValue

# RTT period status (NHS Data Dictionary), docs/rules.md §10.
RTT_STATUS: dict[str, str] = {
    "10": "first activity of an RTT period",
    "11": "first activity of a new period after active monitoring ends",
    "12": "consultant referred directly for a separate condition",
    "20": "subsequent activity, more expected",
    "21": "transfer to another provider",
    "30": "first definitive treatment",
    "31": "active monitoring started by the patient",
    "32": "active monitoring started by the clinician",
    "33": "did not attend the first appointment",
    "34": "decision not to treat",
    "35": "patient declined offered treatment",
    "36": "patient died before treatment",
    "90": "activity after treatment",
    "91": "activity during active monitoring",
    "92": "not yet referred",
    "98": "not applicable",
    "99": "not yet known",
}
CLOCK_START_STATUSES = frozenset({"10", "11", "12"})
#: Why an RTT clock stops: the national stop statuses (the reasons a coordinator can give).
CLOCK_STOP_REASONS: dict[str, str] = {
    code: RTT_STATUS[code][:1].upper() + RTT_STATUS[code][1:]
    for code in ("30", "31", "32", "33", "34", "35", "36")
}
CLOCK_STOP_STATUSES = frozenset(CLOCK_STOP_REASONS)
FIRST_APPOINTMENT_DNA = "33"
REPORTED_BY_PROVIDER = "reported by provider"

PRIORITIES: dict[int, str] = {1: "routine", 2: "urgent", 3: "urgent suspected cancer"}
URGENT_SUSPECTED_CANCER = 3

PROCEDURE_PRIORITIES = ("P1a", "P1b", "P2", "P3", "P4", "P5", "P6")
_PROCEDURE_BY_UPPER = {p.upper(): p for p in PROCEDURE_PRIORITIES}
_NOT_PROCEDURE = "procedure priority {!r} is not one of " + ", ".join(PROCEDURE_PRIORITIES)

# Waiting list types, docs/rules.md §10 (legacy values mapped as docs/formats.md says).
WAITING_LIST_TYPES = {"ORTT": "ORTT", "IRTT": "IRTT", "ONON": "ONON", "INON": "INON",
                      "PTLO": "ORTT", "RTTO": "ORTT", "PTLI": "IRTT", "RTTI": "IRTT"}
NON_RTT_LIST_TYPES = frozenset({"ONON", "INON"})

TREATMENT_FUNCTIONS: dict[str, str] = {
    "100": "General Surgery", "101": "Urology", "110": "Trauma and Orthopaedics",
    "120": "ENT", "130": "Ophthalmology", "140": "Oral Surgery", "150": "Neurosurgery",
    "160": "Plastic Surgery", "170": "Cardiothoracic Surgery",
    "300": "General Internal Medicine", "301": "Gastroenterology", "320": "Cardiology",
    "330": "Dermatology", "340": "Respiratory Medicine", "400": "Neurology",
    "410": "Rheumatology", "430": "Elderly Medicine", "502": "Gynaecology",
    "X01": "Other", "X02": "Other – Medical Services", "X03": "Other – Mental Health Services",
    "X04": "Other – Paediatric Services", "X05": "Other – Surgical Services",
    "X06": "Other – Other Services",
}

# DM01: the 15 diagnostic tests, docs/rules.md §10.
DIAGNOSTIC_TESTS: dict[str, str] = {
    "mri": "MRI", "ct": "CT", "ultrasound": "Non-obstetric ultrasound",
    "barium-enema": "Barium enema", "dexa": "DEXA scan",
    "audiology": "Audiology assessment", "echocardiography": "Echocardiography",
    "electrophysiology": "Electrophysiology",
    "neurophysiology": "Peripheral neurophysiology", "sleep-study": "Sleep study",
    "urodynamics": "Urodynamics", "colonoscopy": "Colonoscopy",
    "flexi-sigmoidoscopy": "Flexible sigmoidoscopy", "cystoscopy": "Cystoscopy",
    "gastroscopy": "Gastroscopy",
}

# Tier II, community and lifestyle support (strategy §5.1.1; docs/rules.md §8).
SUPPORT_KINDS: dict[str, str] = {
    "physical-activity": "Physical activity programme",
    "weight-management": "Weight management",
    "smoking-cessation": "Stop smoking service",
    "alcohol": "Alcohol support",
    "mental-health": "Mental health and wellbeing support",
    "social-prescribing": "Social prescribing link worker",
    "financial-help": "Financial, housing and social help",
    "falls-service": "Falls prevention (community falls service)",
    "pain-management": "Pain management",
    "community-msk": "Community MSK (tier II)",
    "community-dermatology": "Community dermatology (tier II)",
    "other": "Other support (say which in the note)",
}

# The plan agreed with the patient while they wait (docs/rules.md "Plans while waiting"):
# what they can do for themselves, each topic with the sentence the patient reads on their
# own page (SELF_CARE_ADVICE, same codes, reading age about 9: docs/patients.md), and whom
# they call if they get worse (labels read inside a sentence: "if worse, call the GP
# practice"; the patient reads each by name, and 111 and 999 always).
SELF_CARE: dict[str, str] = {
    "keep-active": "Keeping active",
    "pain-relief": "Pain relief as advised by the GP or pharmacist",
    "usual-medicines": "Keeping on with usual medicines",
    "healthy-eating": "Healthy eating and weight",
    "stop-smoking": "Stopping smoking",
    "less-alcohol": "Drinking less alcohol",
    "sleep": "Sleeping well",
    "wellbeing": "Mental wellbeing",
    "symptom-diary": "Keeping a note of symptoms",
}
SELF_CARE_ADVICE: dict[str, str] = {
    "keep-active": "Try to move about every day, for example a short walk. Stop if it hurts "
                   "more.",
    "pain-relief": "Take pain relief the way your GP or pharmacist told you. Ask them if it "
                   "does not help.",
    "usual-medicines": "Keep on with the medicine you take now. Ask your GP or pharmacist "
                       "before you stop any.",
    "healthy-eating": "Eat fruit and vegetables every day. Ask us if you want help with your "
                      "weight.",
    "stop-smoking": "If you smoke, try to stop. Free help is there if you want it.",
    "less-alcohol": "Try to drink less alcohol. Have some days each week with none at all.",
    "sleep": "Try to go to bed and get up at the same time each day.",
    "wellbeing": "Waiting can be hard. Talk to someone you trust about how you feel.",
    "symptom-diary": "Write down how you feel each week. Then you can tell us if things "
                     "change.",
}
CALL_IF_WORSE: dict[str, str] = {
    "practice": "the GP practice", "guardian": "the Guardian team",
    "hospital": "the hospital team",
}
# The longest note for the patient a plan may carry, in characters: a sentence or two.
PLAN_NOTE_MOST = 300

# How Guardian was in touch with the patient.
CONTACT_CHANNELS: dict[str, str] = {
    "phone": "Phone", "sms": "Text message", "letter": "Letter", "email": "Email",
    "in-person": "In person", "video": "Video call",
}

# How the patient wants Guardian to write to them (docs/notifications.md "Patients").
CONTACT_PREFERENCES: dict[str, str] = {
    "email": "By email", "letter": "By letter", "none": "Do not contact",
}

# Who a message comes from or goes to (labels read inside a sentence: "from the GP practice").
MESSAGE_PARTIES: dict[str, str] = {
    "hospital": "the hospital team", "gp": "the GP practice", "patient": "the patient",
}

# Who is asked for an item of workup, and who owns what is outstanding.
WORKUP_OWNERS: dict[str, str] = {
    "practice": "the GP practice", "patient": "the patient", "hospital": "the hospital",
    "guardian": "the Guardian team",
}

# What an urgent suspected cancer patient was told (it stops the 28-day Faster Diagnosis clock).
DIAGNOSIS_OUTCOMES: dict[str, str] = {
    "cancer-diagnosed": "Cancer diagnosed",
    "cancer-ruled-out": "Cancer ruled out",
}

# What a coordinator records after a Waiting Well check-in (docs/rules.md §8).
CHECK_IN_OUTCOMES: dict[str, str] = {
    "no-change": "Still waiting, no change: still needs the appointment",
    "worse": "Worse: deterioration flagged for clinical review",
    "no-longer-needed": "No longer needs the appointment: validated off the list",
    "treated-elsewhere": "Treated elsewhere: validated off the list",
    "no-response": "No response",
}

# Who reported that a patient got worse (labels read inside a sentence: "via the patient").
DETERIORATION_SOURCES: dict[str, str] = {
    "patient": "the patient", "gp": "the GP practice",
    "coordinator": "a Guardian care coordinator", "check-in": "a Waiting Well check-in",
}

# The outcome of the clinical review of a reported deterioration.
REVIEW_OUTCOMES: dict[str, str] = {
    "no-change": "No change to priority; safety-netting advice given",
    "reprioritised": "Re-prioritised by the hospital",
    "urgent-care": "Redirected to urgent care",
    "monitor": "Patient advised; monitor",
    "priority-reviewed": "Procedure priority reviewed by the consultant",
}

# Why Guardian closed a pathway.
CLOSE_REASONS: dict[str, str] = {
    "treated-elsewhere": "Treated elsewhere",
    "declined": "Patient declined further care",
    "withdrawn": "Referral withdrawn",
    "duplicate": "Duplicate referral",
    "moved-away": "Patient moved away",
    "died": "Patient died",
    "no-longer-needed": "No longer needs treatment (agreed with the patient and the consultant)",
    "follow-up-finished": "Treatment complete; Guardian follow-up finished",
}


def label(vocabulary: Mapping[str, str], code: str | None) -> str:
    """The words people read for a stored code. A value recorded before its vocabulary had
    codes (free text, e.g. an early close reason) reads as it was written."""
    if code is None:
        return ""
    return vocabulary.get(code, code)


def check_code(vocabulary: Mapping[str, str], code: str, field: str, what: str) -> str:
    """`code` if it is one of the vocabulary's codes; else InvalidValue naming the choices."""
    if code not in vocabulary:
        raise InvalidValue(f"{code!r} is not {what}; one of {', '.join(vocabulary)}",
                           field=field)
    return code

def parse_priority(value: str) -> int:
    v = value.strip()
    if v not in ("1", "2", "3"):
        raise InvalidValue(
            f"priority {value!r} is not 1 (routine), 2 (urgent) or 3 (urgent suspected cancer)",
            field="PRIORITY_TYPE_CODE",
        )
    return int(v)


def parse_treatment_function(value: str) -> str:
    v = value.strip().upper()
    if v.startswith("C_"):
        v = v[2:]
    if (len(v) == 3 and v.isdigit()) or v in ("X01", "X02", "X03", "X04", "X05", "X06"):
        return v
    raise InvalidValue(
        f"treatment function {value!r} is not a 3-digit code or X01–X06",
        field="ACTIVITY_TREATMENT_FUNCTION_CODE",
    )


def parse_rtt_status(value: str) -> str:
    v = value.strip()
    if v not in RTT_STATUS:
        raise InvalidValue(
            f"RTT status {value!r} is not a national RTT period status code",
            field="REFERRAL_TO_TREATMENT_PERIOD_STATUS",
        )
    return v


def parse_procedure_priority(value: str) -> str:
    return _look_up(_PROCEDURE_BY_UPPER, value.strip().upper(), value, _NOT_PROCEDURE,
                    "PROCEDURE_PRIORITY_CODE")


def parse_waiting_list_type(value: str) -> str:
    v = value.strip().upper()
    if not v:
        return "ORTT"
    return _look_up(WAITING_LIST_TYPES, v, value,
                    "waiting list type {!r} is not ORTT, IRTT, ONON or INON", "WAITING_LIST_TYPE")


def _look_up(table: Mapping[str, str], key: str, value: str, problem: str, field: str) -> str:
    """`table[key]` (`key`: `value` as given, normalised); else InvalidValue saying the
    `problem` of `value` (it stands in for "{!r}")."""
    try:
        return table[key]
    except KeyError:
        raise InvalidValue(problem.format(value), field=field) from None


def treatment_function_label(code: str) -> str:
    return TREATMENT_FUNCTIONS.get(code, f"Treatment function {code}")
