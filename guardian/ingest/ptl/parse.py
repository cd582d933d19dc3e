"""One record (column → text) into a `ReferralReport`, or the (column, reason) problems that
refuse it: the column table's parsers after the one text rule, then the rules between dates
(docs/formats.md "Columns"). Shared by the CSV importer and `POST /api/v1/referrals`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from guardian.domain.errors import InvalidValue
from guardian.domain.report import ReferralReport
from guardian.ingest.ptl.columns import (
    DATE,
    PRACTICE,
    TABLE,
    Column,
    field_problem,
    parse_date,
    practice_parser,
)

_RTT = frozenset({"ORTT", "IRTT"})
Problems = list[tuple[str | None, str]]


def _parse_order(table: tuple[Column, ...]) -> tuple[Column, ...]:
    """The table's order, but the list type just before the clock start: it decides whether
    a clock start is required (docs/formats.md)."""
    listed = [c for c in table if c.field != "waiting_list_type"]
    at = next(i for i, c in enumerate(listed) if c.field == "clock_start")
    list_type = next(c for c in table if c.field == "waiting_list_type")
    return (*listed[:at], list_type, *listed[at:])


_ORDER = _parse_order(TABLE)


class RecordParser:
    """Parses records (column → text) into reports; one per import or API request.

    Shared by the CSV importer and `POST /api/v1/referrals`.
    """

    def __init__(
        self, as_of: dt.date, practices: frozenset[str] | set[str] | dict[str, object]
    ) -> None:
        self.as_of = as_of
        self.plan = []
        for c in _ORDER:
            if c.parse == PRACTICE:
                parse = practice_parser(practices)
            elif c.parse == DATE:
                parse = _date_parser(c.name)
            else:
                parse = c.parse  # type: ignore[assignment]
            self.plan.append(
                (c.field, c.name, _checked(c.name, parse), c.required, {} if c.memo else None))

    def parse(self, get: Callable[[str], str | None]) -> tuple[ReferralReport | None, Problems]:
        problems: Problems = []
        values: dict[str, object] = {}
        for attr, column, parse, required, memo in self.plan:
            raw = get(column)
            if not raw or raw.isspace():
                if required or (attr == "clock_start" and values["waiting_list_type"] in _RTT):
                    problems.append((column, f"{column} is required"))
                values[attr] = "ORTT" if attr == "waiting_list_type" else None
                continue
            if memo is not None:
                hit = memo.get(raw)
                if hit is None:
                    try:
                        hit = (parse(raw), None)
                    except InvalidValue as e:
                        hit = (None, e.message)
                    if len(memo) < 100_000:
                        memo[raw] = hit
                value, message = hit
                if message is not None:
                    problems.append((column, message))
                values[attr] = value
            else:
                try:
                    values[attr] = parse(raw)
                except InvalidValue as e:
                    problems.append((column, e.message))
                    values[attr] = None
        _check_dates(values, self.as_of, problems)
        if problems:
            return None, problems
        return ReferralReport(as_of=self.as_of, **values), []  # type: ignore[arg-type]


def parse_record(
    get: Callable[[str], str | None],
    as_of: dt.date,
    practices: frozenset[str] | set[str] | dict[str, object],
) -> tuple[ReferralReport | None, Problems]:
    """Turn one record (column → text) into a report, or the list of (column, reason) problems."""
    return RecordParser(as_of, practices).parse(get)


def _date_parser(column: str) -> Callable[[str], dt.date]:
    return lambda v: parse_date(v, column)


def _check_dates(v: dict[str, object], as_of: dt.date, problems: Problems) -> None:
    for key, column, label in (
        ("birth_date", "PERSON_BIRTH_DATE", "birth date"),
        ("received_on", "REFERRAL_REQUEST_RECEIVED_DATE", "received date"),
        ("clock_start", "REFERRAL_TO_TREATMENT_PERIOD_START_DATE", "clock start"),
        ("clock_end", "REFERRAL_TO_TREATMENT_PERIOD_END_DATE", "end date"),
        ("last_attended_on", "DATE_LAST_ATTENDED", "last attended date"),
        ("last_dna_on", "LAST_DNA_DATE", "last DNA date"),
        ("priority_reviewed_on", "DATE_OF_LAST_PRIORITY_REVIEW", "priority review date"),
    ):
        d = v.get(key)
        if isinstance(d, dt.date) and d > as_of:
            problems.append(
                (column, f"{label} {d.isoformat()} is after the extract's as-of date "
                         f"{as_of.isoformat()}")
            )
    start, end = v.get("clock_start"), v.get("clock_end")
    if isinstance(start, dt.date) and isinstance(end, dt.date) and end < start:
        problems.append(
            (
                "REFERRAL_TO_TREATMENT_PERIOD_END_DATE",
                f"end date {end.isoformat()} is before the clock start {start.isoformat()}",
            )
        )
    born, received = v.get("birth_date"), v.get("received_on")
    if isinstance(born, dt.date) and isinstance(received, dt.date) and received < born:
        problems.append(
            ("REFERRAL_REQUEST_RECEIVED_DATE", "the referral was received before the birth date")
        )


def _checked(column: str, parse: Callable[[str], object]) -> Callable[[str], object]:
    """`parse`, after the one text rule (docs/formats.md: no control characters)."""

    def run(value: str) -> object:
        message = field_problem(column, value)
        if message is not None:
            v = value.strip()
            shown = repr(v[:40]) + ("…" if len(v) > 40 else "")
            raise InvalidValue(f"{column} {shown} {message}", column)
        return parse(value)

    return run
