"""What a place report shows: the settings a report page or download takes (place, as-of
date, window, weeks of trend, groupings, stage, weeks growing), their choices and defaults,
and `parse`, which validates the query parameters field by field into `Params` (one report's
settings, the key its tables are cached and shared under). The as-of range is the page's
and the API's one (`as_of_problem`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from guardian.projections import bottlenecks as bn

WINDOWS = {4: "4 weeks", 13: "13 weeks (3 months)", 26: "26 weeks (6 months)",
           52: "52 weeks (1 year)"}
TREND_WEEKS = {8: "8 weeks", 12: "12 weeks", 26: "26 weeks", 52: "52 weeks"}
GROUPINGS = {"treatment_function": "Treatment function", "provider": "Provider",
             "pcn_code": "Primary care network (PCN)"}
STAGES = {kind: bn.KIND_LABELS[kind] for kind in bn.KINDS}
GROWING = {n: f"{n} weeks in a row" for n in (2, 3, 4, 6, 8, 12)}
EARLIEST = dt.date(2000, 1, 1)
DEFAULTS = {"window": 26, "weeks": 12, "by": "treatment_function", "stage": "first-seen",
            "qby": "treatment_function", "growing": 4}


@dataclass(frozen=True)
class Params:
    """What one report shows: validated query parameters."""

    place: str
    as_of: dt.date
    window: int = DEFAULTS["window"]
    weeks: int = DEFAULTS["weeks"]
    by: str = DEFAULTS["by"]
    stage: str = DEFAULTS["stage"]
    qby: str = DEFAULTS["qby"]
    growing: int = DEFAULTS["growing"]

    @property
    def scope(self) -> bn.ReportScope:
        return bn.ReportScope(place=self.place)

    @property
    def window_days(self) -> int:
        return self.window * 7

    def query(self) -> str:
        return urlencode({"place": self.place, "as_of": self.as_of.isoformat(),
                          "window": self.window, "weeks": self.weeks, "by": self.by,
                          "stage": self.stage, "qby": self.qby, "growing": self.growing},
                         quote_via=quote)


# ----------------------------------------------------------------------------- parsing

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
FIELD_ORDER = ("place", "as_of", "window", "weeks", "by", "stage", "qby", "growing")


def parse_as_of(raw: str, today: dt.date) -> tuple[dt.date | None, str | None]:
    """The as-of date, or an error message that says what to enter."""
    if not _ISO_DATE.match(raw):
        return None, "Enter the date as year-month-day, for example 2026-03-31"
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        return None, "Enter a real date, for example 2026-03-31"
    message = as_of_problem(day, today)
    return (None, message) if message else (day, None)


def as_of_problem(day: dt.date, today: dt.date) -> str | None:
    """Why a report cannot be as of `day` (the page's and the API's one range), or None."""
    if day > today:
        return f"The date must be today ({today.isoformat()}) or earlier"
    if day < EARLIEST:
        return "The date must be 1 January 2000 or later"
    return None


def parse(query: Mapping[str, str], today: dt.date) -> tuple[dict[str, Any], dict[str, str]]:
    """Validated values (defaults filled in) and error messages, field by field."""
    values: dict[str, Any] = dict(DEFAULTS)
    errors: dict[str, str] = {}
    raw_date = (query.get("as_of") or "").strip()
    if raw_date:
        values["as_of"], message = parse_as_of(raw_date, today)
        if message:
            errors["as_of"] = message
    else:
        values["as_of"] = today

    def choose(name: str, options: Mapping[Any, str], message: str, number: bool) -> None:
        raw = (query.get(name) or "").strip()
        if not raw:
            return
        value: Any = raw
        if number:
            value = int(raw) if raw.isdigit() and len(raw) < 4 else None
        if value not in options:
            errors[name] = message
        else:
            values[name] = value

    choose("window", WINDOWS, "Choose a time window from the list", True)
    choose("weeks", TREND_WEEKS, "Choose how many weeks of trend to show from the list", True)
    choose("by", GROUPINGS, "Choose how to group stage durations from the list", False)
    choose("stage", STAGES, "Choose a stage from the list", False)
    choose("qby", GROUPINGS, "Choose how to group growing queues from the list", False)
    choose("growing", GROWING, "Choose how many weeks of growth from the list", True)
    return values, errors

