"""Write the example files: `orgs-example.csv`, `providers-example.csv` and
`ptl-example.csv`.

    python examples/make_examples.py            # (re)write the files beside this script
    python examples/make_examples.py --check    # exit 1 if the committed files differ

Deterministic: the same script always writes the same bytes, and a unit test
(tests/unit/test_examples.py) checks that the committed files are exactly its output.
Everything is invented. NHS numbers come from the 999 test range and are given valid
Modulus 11 check digits by `guardian.domain.identifiers` (except the one row that is meant
to fail that check); practice and PCN codes are made-up codes in the shapes ODS uses; the
places are real places of Mid and South Essex; the providers are real NHS trusts under their
ODS codes and names. What each row is for is in README.md here.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing Guardian

from guardian.domain.identifiers import format_nhs_number, nhs_check_digit  # noqa: E402

AS_OF = dt.date(2026, 3, 31)
PROVIDER = "RAJ"

ORG_HEADER = ("PRACTICE_CODE", "PRACTICE_NAME", "PCN_CODE", "PCN_NAME", "PLACE")
# (practice name, PCN number, place): three practices in two PCNs in two places.
PRACTICES = (
    ("Sample Brook Lane Surgery", 1, "Mid Essex"),
    ("Sample Market Square Practice", 1, "Mid Essex"),
    ("Sample Pier View Medical Centre", 2, "South East Essex"),
)
PCN_NAMES = {1: "Sample Chelmer PCN", 2: "Sample Estuary PCN"}
UNKNOWN_PRACTICE = "Z99999"

PROVIDER_HEADER = ("PROVIDER_CODE", "PROVIDER_NAME")
# Real trusts by their ODS codes: the provider of ptl-example.csv and two neighbours.
PROVIDERS = (
    (PROVIDER, "Mid and South Essex NHS Foundation Trust"),
    ("RQW", "The Princess Alexandra Hospital NHS Trust"),
    ("RDE", "East Suffolk and North Essex NHS Foundation Trust"),
)

PTL_HEADER = (
    "NHS_NUMBER", "PERSON_BIRTH_DATE", "PATIENT_PATHWAY_IDENTIFIER",
    "ORGANISATION_IDENTIFIER_CODE_OF_PROVIDER", "GENERAL_MEDICAL_PRACTICE_CODE",
    "REFERRAL_REQUEST_RECEIVED_DATE", "REFERRAL_TO_TREATMENT_PERIOD_START_DATE",
    "REFERRAL_TO_TREATMENT_PERIOD_END_DATE", "REFERRAL_TO_TREATMENT_PERIOD_STATUS",
    "ACTIVITY_TREATMENT_FUNCTION_CODE", "PRIORITY_TYPE_CODE", "UBRN",
    "OUTPATIENT_FUTURE_APPOINTMENT_DATE", "WAITING_LIST_TYPE", "LOCAL_PATIENT_IDENTIFIER",
)


@dataclass(frozen=True)
class Row:
    """One pathway of the extract; `problem` names the fault a bad row is made to have."""

    practice: int | str  # index into PRACTICES, or a code that is not in the reference
    received: dt.date | str  # also the clock start; a str is written as it stands
    treatment_function: str
    priority: int
    ended: dt.date | None = None
    status: str = ""
    list_type: str = ""
    ubrn: bool = False
    appointment: dt.date | None = None
    spaced_nhs_number: bool = False
    problem: str = ""


def days_before_as_of(days: int) -> dt.date:
    return AS_OF - dt.timedelta(days=days)


# Lines 2–8 are good; 9–11 each have one fault. README.md lists what each one shows.
ROWS = (
    Row(0, days_before_as_of(148), "110", 1, status="10", list_type="ORTT", ubrn=True),
    Row(0, days_before_as_of(39), "330", 2, status="20", list_type="ORTT", ubrn=True,
        appointment=dt.date(2026, 4, 21)),
    Row(1, days_before_as_of(29), "101", 3, list_type="ORTT", spaced_nhs_number=True),
    Row(2, days_before_as_of(561), "120", 1, status="20", list_type="IRTT"),
    Row(2, dt.date(2025, 6, 2), "502", 1, ended=dt.date(2026, 1, 15), status="30"),
    Row(1, dt.date(2024, 2, 29), "X02", 1),
    Row(0, AS_OF, "301", 2, status="10"),
    Row(0, dt.date(2025, 12, 1), "130", 1, problem="check digit"),
    Row(UNKNOWN_PRACTICE, dt.date(2025, 12, 1), "130", 1, problem="unknown practice"),
    Row(1, "2025-02-30", "100", 1, problem="impossible date"),
)


def practice_code(n: int) -> str:
    return f"Z9{n + 1:04d}"


def pcn_code(n: int) -> str:
    return f"U99{n:03d}"


def nhs_numbers(count: int, start: int = 271_828, step: int = 104_729) -> list[str]:
    """`count` valid NHS numbers of the 999 range, spread out by a fixed stride."""
    found: list[str] = []
    k = 0
    while len(found) < count:
        nine = f"999{(start + k * step) % 1_000_000:06d}"
        k += 1
        check = nhs_check_digit(nine)
        if check is not None:
            found.append(f"{nine}{check}")
    return found


def wrong_check_digit(number: str) -> str:
    """The same nine digits with a check digit that cannot be right (only one is)."""
    return number[:9] + str((int(number[9]) + 1) % 10)


def birth_date(n: int) -> dt.date:
    return dt.date(1941 + (n * 13) % 58, 1 + (n * 5) % 12, 1 + (n * 11) % 28)


def ubrn(n: int) -> str:
    return f"{314_159_000_000 + 7_919 * (n + 1):012d}"


def _iso(d: dt.date | str | None) -> str:
    return "" if d is None else d if isinstance(d, str) else d.isoformat()


def org_rows() -> list[tuple[str, ...]]:
    return [
        (practice_code(i), name, pcn_code(pcn), PCN_NAMES[pcn], place)
        for i, (name, pcn, place) in enumerate(PRACTICES)
    ]


def ptl_rows() -> list[tuple[str, ...]]:
    numbers = nhs_numbers(len(ROWS))
    out = []
    for i, row in enumerate(ROWS):
        nhs = numbers[i]
        if row.problem == "check digit":
            nhs = wrong_check_digit(nhs)
        elif row.spaced_nhs_number:
            nhs = format_nhs_number(nhs)
        practice = row.practice if isinstance(row.practice, str) else practice_code(row.practice)
        out.append((
            nhs, birth_date(i).isoformat(), f"PPI-{i + 1:04d}", PROVIDER, practice,
            _iso(row.received), _iso(row.received), _iso(row.ended), row.status,
            row.treatment_function, str(row.priority), ubrn(i) if row.ubrn else "",
            _iso(row.appointment), row.list_type, f"LP{90_000 + 37 * i:06d}",
        ))
    return out


def _csv(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def render() -> dict[str, str]:
    """File name → the exact text of each example file."""
    return {
        "orgs-example.csv": _csv(ORG_HEADER, org_rows()),
        "providers-example.csv": _csv(PROVIDER_HEADER, list(PROVIDERS)),
        "ptl-example.csv": _csv(PTL_HEADER, ptl_rows()),
    }


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name, text in render().items():
        path = HERE / name
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8", newline="")
            print(f"wrote {path}")
    if stale:
        print(f"out of date: {', '.join(stale)} (run python examples/make_examples.py)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
