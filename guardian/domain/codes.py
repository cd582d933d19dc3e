"""National codes Guardian reads and shows (domain reference §5, §7, §8, §10)."""

from __future__ import annotations

from guardian.domain.errors import InvalidValue

# RTT period status (NHS Data Dictionary), domain reference §5.
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
CLOCK_STOP_STATUSES = frozenset({"30", "31", "32", "33", "34", "35", "36"})
FIRST_APPOINTMENT_DNA = "33"
REPORTED_BY_PROVIDER = "reported by provider"

PRIORITIES: dict[int, str] = {1: "routine", 2: "urgent", 3: "urgent suspected cancer"}
URGENT_SUSPECTED_CANCER = 3

PROCEDURE_PRIORITIES = ("P1a", "P1b", "P2", "P3", "P4", "P5", "P6")
_PROCEDURE_BY_UPPER = {p.upper(): p for p in PROCEDURE_PRIORITIES}

# Waiting list types, domain reference §10 (legacy values mapped as the contract says).
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

# DM01: the 15 diagnostic tests, domain reference §7.
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

# Tier II, community and lifestyle support (strategy §5.1.1; domain reference §12).
SUPPORT_KINDS: dict[str, str] = {
    "smoking-cessation": "Stop smoking service",
    "weight-management": "Weight management",
    "physical-activity": "Physical activity programme",
    "alcohol": "Alcohol support",
    "mental-health": "Mental health and wellbeing support",
    "social-prescribing": "Social prescribing link worker",
    "financial-help": "Social and financial help",
    "falls-service": "Community falls service",
    "community-msk": "Community MSK (tier II)",
    "community-dermatology": "Community dermatology (tier II)",
    "pain-management": "Pain management",
}

MESSAGE_PARTIES = ("gp", "hospital", "patient")
CONTACT_CHANNELS = ("phone", "letter", "email", "sms", "in-person", "video")


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
    try:
        return _PROCEDURE_BY_UPPER[value.strip().upper()]
    except KeyError:
        raise InvalidValue(
            f"procedure priority {value!r} is not one of {', '.join(PROCEDURE_PRIORITIES)}",
            field="PROCEDURE_PRIORITY_CODE",
        ) from None


def parse_waiting_list_type(value: str) -> str:
    v = value.strip().upper()
    if not v:
        return "ORTT"
    try:
        return WAITING_LIST_TYPES[v]
    except KeyError:
        raise InvalidValue(
            f"waiting list type {value!r} is not ORTT, IRTT, ONON or INON",
            field="WAITING_LIST_TYPE",
        ) from None


def treatment_function_label(code: str) -> str:
    return TREATMENT_FUNCTIONS.get(code, f"Treatment function {code}")
