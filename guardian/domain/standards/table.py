"""The table of wait-time standards (docs/rules.md §2) and a deployment's overrides of it.

Every number of the standards lives in one table, `STANDARDS`; a deployment changes
`last_day_within` and `at_risk_days` with `load_standards(overrides)`, never by editing code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from guardian.domain.codes import PROCEDURE_PRIORITIES
from guardian.domain.errors import InvalidValue

KINDS = ("rtt", "cancer-fds", "cancer-62", "diagnostic", "procedure", "workup",
         "deterioration", "message")


@dataclass(frozen=True)
class Standard:
    """One row of the standards table (docs/rules.md §2).

    `last_day_within` counts calendar days from the clock's start (day 0), or working days
    when `working_days` is true. `at_risk_days` is the length of the at-risk window that
    ends on the last day within (None or 0: no at-risk state).
    """

    code: str
    label: str
    applies_to: str
    procedure_priority: str | None
    last_day_within: int
    working_days: bool = False
    at_risk_days: int | None = None

    @property
    def breach_day(self) -> int | None:
        """Day number on which a breach is recorded (calendar standards only).

        docs/rules.md §2: the breach is recorded on the day after the last day within,
        e.g. RTT 18 weeks: last day within = day 126, breach recorded day 127. For
        working-day standards the breach day is a date, not a fixed day number: None.
        """
        return None if self.working_days else self.last_day_within + 1

    def describe(self) -> str:
        """Plain-English statement of the rule (docs/rules.md §2)."""
        if self.working_days:
            rule = (f"within {self.last_day_within} working days; breach recorded on the "
                    f"next working day after")
        else:
            rule = (f"last day within is day {self.last_day_within}; breach recorded on "
                    f"day {self.last_day_within + 1}")
        if self.at_risk_days:
            unit = "working days" if self.working_days else "days"
            rule += f"; at risk in the last {self.at_risk_days} {unit}"
        return f"{self.label}: {rule}"


STANDARDS: tuple[Standard, ...] = (
    # docs/rules.md §2: RTT 18 weeks and long waits, RTT pathways with the clock running,
    # clock from the RTT period start.
    Standard("rtt-18", "18 weeks from referral to treatment", "rtt", None, 126, False, 14),
    Standard("rtt-52", "52-week wait", "rtt", None, 364, False, 28),
    Standard("rtt-65", "65-week wait", "rtt", None, 455, False, 28),
    Standard("rtt-78", "78-week wait", "rtt", None, 546, False, 28),
    Standard("rtt-104", "104-week wait", "rtt", None, 728, False, 28),
    # Cancer (docs/rules.md §2): clock from the referral received date.
    Standard("cancer-fds-28", "Cancer diagnosis or all-clear told within 28 days",
             "cancer-fds", None, 28, False, 7),
    Standard("cancer-62", "Cancer treatment started within 62 days", "cancer-62", None,
             62, False, 14),
    # DM01 (docs/rules.md §2): each ordered test, clock from the order date; "6 weeks or
    # more" = day 42.
    Standard("diagnostic-6w", "Diagnostic test done within 6 weeks", "diagnostic", None,
             41, False, 7),
    # Procedure priority (docs/rules.md §2): clock from the last priority review.
    Standard("procedure-p2", "Procedure priority P2 (within 4 weeks)", "procedure", "P2",
             28, False, 7),
    Standard("procedure-p3", "Procedure priority P3 (within 3 months)", "procedure", "P3",
             90, False, 14),
    # Local standards (docs/rules.md §2).
    Standard("workup-14", "Agreed referral workup done within 14 days", "workup", None,
             14, False, 3),
    Standard("deterioration-review", "Reported deterioration reviewed within 2 working days",
             "deterioration", None, 2, True, None),
    Standard("message-answer", "GP or hospital message answered within 2 working days",
             "message", None, 2, True, None),
)

# Procedure priorities that are not waiting-list deadlines (docs/rules.md §2).
UNTRACKED_PROCEDURE_PRIORITIES = ("P1a", "P1b", "P4", "P5", "P6")
OVERRIDABLE_FIELDS = ("last_day_within", "at_risk_days")
_INTEGER_TEXT = re.compile(r"[+-]?\d+")


def get_standard(code: str, standards: Iterable[Standard] = STANDARDS) -> Standard:
    """The row of the standards table with this code (docs/rules.md §2).

    Raises InvalidValue for a code that is not in the table.
    """
    for s in standards:
        if s.code == code:
            return s
    raise InvalidValue(f"{code!r} is not a known standard; known: {_known_codes(standards)}",
                       field="standard")


def _known_codes(standards: Iterable[Standard]) -> str:
    return ", ".join(s.code for s in standards)


def _as_count(code: str, name: str, value: object, *, allow_none: bool) -> int | None:
    field = f"{code}.{name}"
    if value is None:
        if allow_none:
            return None
        raise InvalidValue(f"{field} must be a whole number of days, not empty", field=field)
    if isinstance(value, bool):
        raise InvalidValue(f"{field} must be a whole number of days, not {value!r}",
                           field=field)
    if isinstance(value, int):
        n = value
    elif isinstance(value, str) and _INTEGER_TEXT.fullmatch(value.strip()):
        n = int(value.strip())
    else:
        raise InvalidValue(f"{field} must be a whole number of days, not {value!r}",
                           field=field)
    if n < 0:
        raise InvalidValue(f"{field} must not be negative (got {n})", field=field)
    return n


def _unknown_code(code: str, standards: tuple[Standard, ...]) -> InvalidValue:
    if code.startswith("procedure-"):
        wanted = code.removeprefix("procedure-")
        by_upper = {p.upper(): p for p in PROCEDURE_PRIORITIES}
        prio = by_upper.get(wanted.upper())
        if prio is None:
            return InvalidValue(
                f"{code!r}: {wanted!r} is not a procedure priority "
                f"({', '.join(PROCEDURE_PRIORITIES)})", field="standard")
        return InvalidValue(
            f"{code!r}: procedure priority {prio} is not tracked as a waiting-list deadline "
            f"(only P2 and P3 are; docs/rules.md §2)", field="standard")
    return InvalidValue(f"{code!r} is not a known standard; known: {_known_codes(standards)}",
                        field="standard")


def load_standards(
    overrides: Mapping[str, Mapping[str, object]] | None = None,
    base: tuple[Standard, ...] = STANDARDS,
) -> tuple[Standard, ...]:
    """The standards table with a deployment's overrides applied.

    docs/rules.md §2: a deployment sets its targets and windows in one table of
    configuration, never in code. `overrides` maps a standard code (e.g. "rtt-18") to
    new values for `last_day_within` and/or `at_risk_days` (None or 0 switches the
    at-risk state off). Whole numbers may be given as int or as decimal text.

    Raises InvalidValue, naming the problem, for an unknown standard code, an unknown or
    untracked procedure priority (e.g. "procedure-p4", "procedure-p9"), an unknown
    field, a negative number or a value that is not a whole number.
    """
    if not overrides:
        return base
    by_code = {s.code: s for s in base}
    for raw_code, changes in overrides.items():
        code = str(raw_code).strip().lower()
        if code not in by_code:
            raise _unknown_code(code, base)
        if not isinstance(changes, Mapping):
            raise InvalidValue(f"overrides for {code!r} must be a mapping of field to value",
                               field=code)
        new: dict[str, int | None] = {}
        for name, value in changes.items():
            if name == "last_day_within":
                new[name] = _as_count(code, name, value, allow_none=False)
            elif name == "at_risk_days":
                new[name] = _as_count(code, name, value, allow_none=True)
            else:
                raise InvalidValue(
                    f"{code}.{name} cannot be configured; only "
                    f"{' and '.join(OVERRIDABLE_FIELDS)} can", field=f"{code}.{name}")
        by_code[code] = replace(by_code[code], **new)  # type: ignore[arg-type]
    return tuple(by_code[s.code] for s in base)
