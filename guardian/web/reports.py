"""Place-lead reports: the bottleneck dashboard and CSV downloads of every table.

Routes (not in the OpenAPI schema; the JSON form is `GET /api/v1/reports/bottlenecks`):

- `GET /reports` — the dashboard of one place on an as-of date. Query parameters (every one
  optional, so a link with them can be shared):
  `place` (admins choose; a place lead's is their own), `as_of` (YYYY-MM-DD, default today),
  `window` (weeks of completed steps and breaches: 4, 13, 26, 52; default 26), `weeks`
  (weeks of trend: 8, 12, 26, 52; default 12), `by` and `stage` (stage durations: grouped by
  treatment function, provider or PCN; which stage), `qby` and `growing` (queues growing:
  grouping, and how many whole weeks in a row inflow must have beaten outflow).
  An htmx request answers the fragment of the section it targets (the `HX-Target` header:
  `stages-results`, `queues-results`, `trend-results`; anything else gets the `report`
  block), and the page pushes the request URL into the address bar (`hx-push-url`).
  Bad values: a 400 page whose error summary says what to change, keeping what was typed.
- `GET /reports/{table}.csv` — one table, with the same query parameters, exactly as the
  page shows it (the page and the download render the same rows), UTF-8 with a byte-order
  mark for spreadsheet programs; `GET /reports/rtt.csv` — the place's RTT waiting-list
  export (docs/formats.md "RTT export", as `guardian export rtt --suppress` writes it).

Decisions:

- Who: place leads (their own place; another place answers 404 as if it did not exist) and
  admins (any place, picked with `?place=`). Coordinators and GPs get 404 (docs/access.md:
  aggregate reports are for place leads; `access.may_see_place` says so).
  No session: the sign-in page, then back here.
- Everything shown or downloaded goes through the small-number rule of docs/suppression.md
  (`projections/suppression.py`, via `projections/bottlenecks.py` and `projections/rtt.py`)
  — for admins too, so a table forwarded from any account is safe to forward. Rankings
  never order suppressed values by their hidden size.
- No patient-level data: every table is a group (place, PCN, provider, treatment function,
  standard, age band, week) with counts and statistics; nothing here reads a name, NHS
  number, patient or pathway id into a response.
- Speed: each table is built from the read models once per event-store head and parameters
  (`TableCache`, per app, at most 5 minutes; and for 30 seconds whatever the head): a second
  look, a shared link or a download of a table just seen costs no analytics. A fragment
  builds only its own section's tables.
- Nobody else waits behind a report: tables are computed on the report pool
  (guardian/web/report_pool.py: helper processes at the lowest priority, a few reports at
  once per database, identical requests sharing one computation, a statement timeout), never
  on a request thread; a report not ready within GUARDIAN_REPORT_WAIT_SECONDS is answered
  "being prepared, try again" (503 with Retry-After; a section: 202 with the same sentence).
- Each view (page or fragment) is audited as "view-report", each download as
  "download-report", with the place, date and table in the detail and no patient id.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from markupsafe import Markup
from sqlalchemy import Connection, or_, select, text

from guardian import orgs
from guardian.domain.codes import PRIORITIES, TREATMENT_FUNCTIONS
from guardian.domain.standards import week_band, within_18_weeks
from guardian.projections import bottlenecks as bn
from guardian.projections import rtt
from guardian.projections.suppression import (
    SMALLEST_GROUP_FOR_STATISTICS,
    SUPPRESSED,
    suppress_count,
    suppress_statistic,
)
from guardian.store import organisations
from guardian.web import svg
from guardian.web.access import Principal, record_access, require_role
from guardian.web.report_pool import ReportBusy, ReportTooSlow, pool_of
from guardian.web.templating import is_htmx, render

router = APIRouter(include_in_schema=False)
ReportReader = Annotated[Principal, Depends(require_role("place-lead", "admin"))]

# ----------------------------------------------------------------------------- choices

WINDOWS = {4: "4 weeks", 13: "13 weeks (3 months)", 26: "26 weeks (6 months)",
           52: "52 weeks (1 year)"}
TREND_WEEKS = {8: "8 weeks", 12: "12 weeks", 26: "26 weeks", 52: "52 weeks"}
GROUPINGS = {"treatment_function": "Treatment function", "provider": "Provider",
             "pcn_code": "Primary care network (PCN)"}
STAGES = {kind: bn.KIND_LABELS[kind] for kind in bn.KINDS}
SHORT_STEPS = {"workup": "Workup", "diagnostic": "Test", "first-seen": "First seen",
               "treatment": "Treatment"}
GROWING = {n: f"{n} weeks in a row" for n in (2, 3, 4, 6, 8, 12)}
QUEUE_WEEKS = 13  # weeks of flow looked at for queues growing: 12 whole weeks + this one
EARLIEST = dt.date(2000, 1, 1)
DEFAULTS = {"window": 26, "weeks": 12, "by": "treatment_function", "stage": "first-seen",
            "qby": "treatment_function", "growing": 4}
# RTT week-band groups: (label, first band index, last band index) of RTT_BAND_COLUMNS.
BAND_GROUPS = (("Up to 18 weeks", 0, 17), ("18 to 52 weeks", 18, 51),
               ("52 to 65 weeks", 52, 64), ("65 to 78 weeks", 65, 77),
               ("78 to 104 weeks", 78, 103), ("Over 104 weeks", 104, 104))
# The htmx targets of the page and the template block each one gets.
FRAGMENTS = {"stages-results": "stages", "queues-results": "queues",
             "trend-results": "trend", "report": "report"}
SETTING_LABELS = {"by": "Group stage durations by", "stage": "Stage",
                  "qby": "Group growing queues by", "growing": "Queues growing for at least",
                  "weeks": "Weeks of trend shown"}
WHOLE_PLACE = object()  # the key of the whole place's groups in equity_pcn_age
SUPPRESSION_RULE = "* = fewer than 8; counts rounded to the nearest 5"


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


# ----------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class Column:
    """A table column. `kind`: "count" (suppressed: 0, * or a multiple of 5), "statistic"
    (a median, percentile or percentage: * for groups under 8), "number" (not a count of
    pathways: a target, a run of weeks) or "label"."""

    key: str
    header: str
    kind: str = "count"

    @property
    def numeric(self) -> bool:
        return self.kind != "label"


@dataclass
class ReportTable:
    """One table as the page shows it and the CSV download writes it (the same rows)."""

    slug: str
    caption: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    empty: str = "Nothing to show for this place and date."
    chart: Markup | None = None
    charts: list[Markup] = field(default_factory=list)
    csv_url: str = ""

    def csv_text(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([c.header for c in self.columns])
        for row in self.rows:
            writer.writerow([_csv_cell(row.get(c.key)) for c in self.columns])
        return out.getvalue()


def _csv_cell(value: Any) -> Any:
    """Cells as text; a text cell that a spreadsheet would run as a formula is quoted."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _weeks(days: Any) -> Any:
    """A statistic in days (a string from the suppression rule, or "*") in weeks."""
    if days is None or days == SUPPRESSED:
        return SUPPRESSED if days == SUPPRESSED else None
    return f"{float(days) / 7:.1f}"


def _number(value: Any) -> float | None:
    try:
        return None if value in (None, SUPPRESSED) else float(value)
    except (TypeError, ValueError):
        return None


def _short(label: str, width: int = 26) -> str:
    """A chart label that fits beside its bar (the table beside it has the full name)."""
    label = label.removesuffix(" PCN")
    return label if len(label) <= width else label[: width - 1].rstrip() + "…"


def _shown_first(rows: list[dict[str, Any]], key: str, name: str) -> list[dict[str, Any]]:
    """Largest shown value first; suppressed values last in name order (so that the order
    never says what suppression hides)."""
    def order(r: dict[str, Any]) -> tuple:
        n = _number(r[key])
        return (1, 0.0, str(r[name])) if n is None else (0, -n, str(r[name]))

    return sorted(rows, key=order)


class Labels:
    """Plain-language names of the groups reports show."""

    def __init__(self, conn: Connection) -> None:
        q = select(organisations.c.pcn_code, organisations.c.pcn_name).distinct()
        self.pcn_names = {code: name for code, name in conn.execute(q)}

    def group(self, by: str | None, value: Any) -> str:
        if value is None:
            return "Not known"
        if by == "treatment_function":
            name = TREATMENT_FUNCTIONS.get(value)
            return f"{name} ({value})" if name else f"Treatment function {value}"
        if by == "pcn_code":
            name = self.pcn_names.get(value)
            return f"{name} ({value})" if name else str(value)
        if by == "priority":
            return PRIORITIES.get(value, str(value)).capitalize()
        return str(value)


Builder = Callable[[Connection, Params, Labels], ReportTable]
TABLES: dict[str, Builder] = {}
TITLES: dict[str, str] = {}


def table(slug: str, title: str) -> Callable[[Builder], Builder]:
    def register(fn: Builder) -> Builder:
        TABLES[slug] = fn
        TITLES[slug] = title
        return fn

    return register


@table("stage-durations", "How long one stage takes")
def stage_durations(conn: Connection, p: Params, labels: Labels) -> ReportTable:
    rows = [
        {"group": labels.group(p.by, r["group"]), "completed": r["completed"],
         "median_weeks": _weeks(r["median_days"]), "p90_weeks": _weeks(r["p90_days"]),
         "in_progress": r["in_progress"],
         "in_progress_median_weeks": _weeks(r["in_progress_median_days"])}
        for r in bn.stage_durations(conn, p.scope, p.stage, p.as_of, by=p.by,
                                    window_days=p.window_days)
    ]
    t = ReportTable(
        "stage-durations",
        f"{STAGES[p.stage]}: weeks by {GROUPINGS[p.by].lower()}",
        [Column("group", GROUPINGS[p.by], "label"),
         Column("completed", f"Completed in the last {p.window} weeks"),
         Column("median_weeks", "Median (weeks)", "statistic"),
         Column("p90_weeks", "9 in 10 within (weeks)", "statistic"),
         Column("in_progress", "Still in this stage"),
         Column("in_progress_median_weeks", "Median so far (weeks)", "statistic")],
        rows, empty="No pathway went through this stage in the window.",
    )
    t.chart = Markup(svg.bar_chart(
        f"Median weeks, {STAGES[p.stage]}, by {GROUPINGS[p.by].lower()}",
        [(_short(r["group"]), r["median_weeks"]) for r in rows], unit=" weeks"))
    return t


@table("stage-overview", "Median weeks in each stage")
def stage_overview(conn: Connection, p: Params, labels: Labels) -> ReportTable:
    medians: dict[Any, dict[str, Any]] = defaultdict(dict)
    for kind in bn.STEP_KINDS:
        for r in bn.stage_durations(conn, p.scope, kind, p.as_of, by=p.by,
                                    window_days=p.window_days):
            medians[r["group"]][kind] = _weeks(r["median_days"])
    rows = []
    for group, by_kind in medians.items():
        row: dict[str, Any] = {"group": labels.group(p.by, group)}
        for kind in bn.STEP_KINDS:
            row[kind] = by_kind.get(kind, SUPPRESSED)
        shown = [(_number(row[k]), k) for k in bn.STEP_KINDS if _number(row[k]) is not None]
        row["longest"] = (bn.KIND_LABELS[max(shown)[1]] if shown
                          else "Not enough pathways to say")
        rows.append(row)
    rows.sort(key=lambda r: r["group"])
    return ReportTable(
        "stage-overview",
        f"Median weeks in each stage, by {GROUPINGS[p.by].lower()} (steps completed in the "
        f"last {p.window} weeks)",
        [Column("group", GROUPINGS[p.by], "label"),
         *[Column(kind, bn.KIND_LABELS[kind], "statistic") for kind in bn.STEP_KINDS],
         Column("longest", "Longest stage", "label")],
        rows, empty="No pathway completed a stage in the window.",
    )


@table("top-bottlenecks", "Where most pathways are stuck")
def top_bottlenecks(conn: Connection, p: Params, labels: Labels) -> ReportTable:
    rows = [
        {"step": r["step_label"], "_short": SHORT_STEPS[r["step"]], "_tf": r["treatment_function"],
         "provider": r["provider"],
         "treatment_function": labels.group("treatment_function", r["treatment_function"]),
         "target_days": r["target_days"], "in_step": r["in_step"],
         "over_target": r["over_target"], "median_days": r["median_days_in_step"]}
        for r in bn.top_bottlenecks(conn, p.scope, p.as_of)
    ]
    t = ReportTable(
        "top-bottlenecks", f"Stages with most pathways over their target on "
        f"{p.as_of:%-d %B %Y}",
        [Column("step", "Stage", "label"), Column("provider", "Provider", "label"),
         Column("treatment_function", "Treatment function", "label"),
         Column("target_days", "Target (days)", "number"), Column("in_step", "In this stage"),
         Column("over_target", "Over the target"),
         Column("median_days", "Median time in stage so far (days)", "statistic")],
        rows, empty="No stage has 8 or more pathways over its target on this date.",
    )
    t.chart = Markup(svg.bar_chart(
        "Pathways over the stage's target",
        [(f"{r['_short']} · {r['provider']} · {r['_tf']}", r["over_target"]) for r in rows]))
    return t


@table("queues-growing", "Queues growing")
def queues_growing(conn: Connection, p: Params, labels: Labels) -> ReportTable:
    found = bn.queues_growing(conn, p.scope, p.as_of, by=p.qby, min_weeks=p.growing,
                              weeks=QUEUE_WEEKS)
    rows = [{"group": labels.group(p.qby, r["group"]), "weeks_growing": r["weeks_growing"],
             "inflow": r["inflow"], "outflow": r["outflow"], "net": r["net"],
             "waiting": r["waiting"]} for r in found]
    # Longest run first, then the growth as shown (never by a hidden number).
    rows.sort(key=lambda r: (-r["weeks_growing"], *_shown_key(r["net"]), r["group"]))
    t = ReportTable(
        "queues-growing",
        f"Queues where more arrived than left, {p.growing} or more weeks in a row, by "
        f"{GROUPINGS[p.qby].lower()}",
        [Column("group", GROUPINGS[p.qby], "label"),
         Column("weeks_growing", "Weeks in a row growing", "number"),
         Column("inflow", "Referrals received in those weeks"),
         Column("outflow", "Came off the list in those weeks"),
         Column("net", "Growth in those weeks"),
         Column("waiting", "Waiting now")],
        rows, empty=f"No queue grew for {p.growing} weeks in a row up to this date.",
    )
    t.chart = Markup(svg.bar_chart("Weeks in a row growing",
                                   [(_short(r["group"]), r["weeks_growing"]) for r in rows],
                                   unit=" weeks"))
    return t


def _shown_key(value: Any) -> tuple:
    n = _number(value)
    return (1, 0.0) if n is None else (0, -n)


@table("breaches", "Breaches by standard")
def breaches(conn: Connection, p: Params, labels: Labels) -> ReportTable:
    rows = [{"standard": r["standard_label"], "breaches": r["breaches"]}
            for r in bn.breaches_by_standard(conn, p.scope, p.as_of,
                                             window_days=p.window_days)]
    rows = _shown_first(rows, "breaches", "standard")
    t = ReportTable(
        "breaches", f"Breaches recorded in the {p.window} weeks up to {p.as_of:%-d %B %Y}",
        [Column("standard", "Standard", "label"), Column("breaches", "Breaches")],
        rows, empty="No breaches were recorded in the window.",
    )
    t.chart = Markup(svg.bar_chart("Breaches by standard",
                                   [(_short(r["standard"]), r["breaches"]) for r in rows]))
    return t


@table("removals", "Off the waiting list, and why")
def removals(conn: Connection, p: Params, labels: Labels) -> ReportTable:
    """Pathways that came off the list in the window, per treatment function and reason:
    validation removals from Waiting Well check-ins show as "validated off the list"."""
    rows = [{"group": labels.group("treatment_function", r["group"]),
             "reason": r["reason"], "pathways": r["pathways"]}
            for r in bn.removals(conn, p.scope, p.as_of, window_days=p.window_days)]
    rows.sort(key=lambda r: (r["group"], _shown_key(r["pathways"]), r["reason"]))
    return ReportTable(
        "removals",
        f"Pathways off the list in the {p.window} weeks up to {p.as_of:%-d %B %Y}, by "
        "treatment function and reason",
        [Column("group", "Treatment function", "label"), Column("reason", "Reason", "label"),
         Column("pathways", "Pathways")],
        rows, empty="No pathway came off the list in the window.",
    )


@table("rtt-bands", "How long patients have waited (RTT)")
def rtt_bands(conn: Connection, p: Params, labels: Labels) -> ReportTable:
    """The place's RTT waiting list (the export's pathways) in week-band groups."""
    waits: dict[str, list[int]] = defaultdict(list)
    for _provider, tf, days in rtt.waiting_days(conn, p.as_of, p.place):
        waits[tf].append(days)
    every = sorted(d for days in waits.values() for d in days)
    rows = [_band_row(labels.group("treatment_function", tf), sorted(days))
            for tf, days in sorted(waits.items())]
    if every:
        rows.append({**_band_row("All treatment functions", every), "_total": True})
    t = ReportTable(
        "rtt-bands", f"Patients waiting on {p.as_of:%-d %B %Y}, by weeks waited since their "
        "RTT clock started",
        [Column("group", "Treatment function", "label"),
         *[Column(f"band{n}", label) for n, (label, _, _) in enumerate(BAND_GROUPS)],
         Column("total", "Total waiting"), Column("pct18", "% within 18 weeks", "statistic"),
         Column("median", "Median wait (weeks)", "statistic"),
         Column("p92", "92nd percentile wait (weeks)", "statistic")],
        rows, empty="Nobody was waiting on an RTT pathway on this date.",
    )
    if every:
        t.chart = Markup(svg.bar_chart(
            "Patients waiting, by weeks waited",
            [(label, rows[-1][f"band{n}"]) for n, (label, _, _) in enumerate(BAND_GROUPS)]))
    return t


def _band_row(label: str, days: list[int]) -> dict[str, Any]:
    counts = [0] * len(BAND_GROUPS)
    for d in days:
        band = week_band(d)
        for n, (_, first, last) in enumerate(BAND_GROUPS):
            if first <= band <= last:
                counts[n] += 1
    total = len(days)
    within = sum(1 for d in days if within_18_weeks(d))
    row: dict[str, Any] = {"group": label}
    for n, count in enumerate(counts):
        row[f"band{n}"] = suppress_count(count)
    row["total"] = suppress_count(total)
    row["pct18"] = suppress_statistic(100 * within / total, total)
    row["median"] = suppress_statistic(rtt.percentile(days, 0.5) / 7, total)
    row["p92"] = suppress_statistic(rtt.percentile(days, 0.92) / 7, total)
    return row


EQUITY_COLUMNS = [Column("waiting", "Waiting"),
                  Column("median_weeks", "Median wait (weeks)", "statistic"),
                  Column("p92_weeks", "92nd percentile wait (weeks)", "statistic"),
                  Column("pct_within_18_weeks", "% within 18 weeks", "statistic"),
                  Column("over_52_weeks", "Waiting over 52 weeks")]


def _equity(conn: Connection, p: Params, labels: Labels, by: str, slug: str,
            heading: str, column: str) -> ReportTable:
    rows = [{**r, "group": labels.group(by, r["group"])}
            for r in bn.equity(conn, p.scope, p.as_of, by)]
    t = ReportTable(slug, f"RTT waits on {p.as_of:%-d %B %Y} by {heading}",
                    [Column("group", column, "label"), *EQUITY_COLUMNS], rows,
                    empty="Nobody was waiting on an RTT pathway on this date.")
    t.chart = Markup(svg.bar_chart(f"Median wait by {heading}",
                                   [(_short(r["group"]), r["median_weeks"]) for r in rows],
                                   unit=" weeks"))
    return t


@table("equity-age", "Waits by age band")
def equity_age(conn: Connection, p: Params, labels: Labels) -> ReportTable:
    return _equity(conn, p, labels, "age_band", "equity-age", "age band", "Age band")


@table("equity-pcn", "Waits by PCN")
def equity_pcn(conn: Connection, p: Params, labels: Labels) -> ReportTable:
    return _equity(conn, p, labels, "pcn_code", "equity-pcn", "PCN", "PCN")


@table("equity-pcn-age", "Median wait by PCN and age band")
def equity_pcn_age(conn: Connection, p: Params, labels: Labels) -> ReportTable:
    """`bn.equity`'s medians for each PCN × age band and for the whole place, from one
    query (RTT periods in progress on the date, age at clock start)."""
    t = bn.intervals
    q = select(t.c.pcn_code, t.c.age_band, t.c.started_on).where(
        t.c.kind == "rtt", *p.scope.where(t), t.c.started_on <= p.as_of,
        or_(t.c.ended_on.is_(None), t.c.ended_on > p.as_of),
    )
    waits: dict[tuple[Any, str], list[int]] = defaultdict(list)
    for pcn, band, start in conn.execute(q):
        days = (p.as_of - start).days
        waits[(pcn, band)].append(days)
        waits[(WHOLE_PLACE, band)].append(days)

    def median(key: tuple[Any, str]) -> str:
        days = sorted(waits.get(key, ()))
        value = bn.percentile(days, 0.5)
        return suppress_statistic(None if value is None else value / 7, len(days))

    pcns = sorted({pcn for pcn, _ in waits if pcn not in (None, WHOLE_PLACE)})
    rows: list[dict[str, Any]] = [
        {"group": labels.group("pcn_code", pcn),
         **{band: median((pcn, band)) for band in bn.AGE_BANDS}} for pcn in pcns]
    if rows:
        rows.append({"group": "Whole place", "_total": True,
                     **{band: median((WHOLE_PLACE, band)) for band in bn.AGE_BANDS}})
    return ReportTable(
        "equity-pcn-age", f"Median RTT wait in weeks on {p.as_of:%-d %B %Y}, by PCN and age "
        "band",
        [Column("group", "PCN", "label"),
         *[Column(band, f"Aged {band}", "statistic") for band in bn.AGE_BANDS]],
        rows, empty="Nobody was waiting on an RTT pathway on this date.",
    )


@table("trend", "Trend over weeks")
def trend(conn: Connection, p: Params, labels: Labels) -> ReportTable:
    rows = [{"week": r["week"].isoformat(), "inflow": r["inflow"], "outflow": r["outflow"],
             "waiting": r["waiting"], "breaches": r["breaches"]}
            for r in bn.trend(conn, p.scope, p.as_of, weeks=p.weeks)]
    t = ReportTable(
        "trend", f"Each week (Monday to Sunday), the {p.weeks} weeks up to "
        f"{p.as_of:%-d %B %Y}",
        [Column("week", "Week beginning", "label"),
         Column("inflow", "Referrals received"), Column("outflow", "Came off the list"),
         Column("waiting", "Waiting at the end of the week"),
         Column("breaches", "Breaches")],
        rows,
    )
    x = [dt.date.fromisoformat(r["week"]).strftime("%-d %b") for r in rows]
    t.charts = [
        Markup(svg.line_chart(
            "Referrals received, pathways off the list and breaches each week", x,
            [("Received", "in", [r["inflow"] for r in rows]),
             ("Off the list", "out", [r["outflow"] for r in rows]),
             ("Breaches", "breaches", [r["breaches"] for r in rows])])),
        Markup(svg.line_chart("Pathways waiting at the end of each week", x,
                              [("Waiting", "waiting", [r["waiting"] for r in rows])])),
    ]
    return t


# Each section of the page and the tables it shows (a fragment computes only its own).
SECTIONS: dict[str, tuple[str, ...]] = {
    "stages": ("stage-overview", "stage-durations"),
    "bottlenecks": ("top-bottlenecks",),
    "queues": ("queues-growing",),
    "breaches": ("breaches", "removals"),
    "rtt": ("rtt-bands",),
    "equity": ("equity-pcn-age", "equity-pcn", "equity-age"),
    "trend": ("trend",),
}


def build(conn: Connection, p: Params, slugs: tuple[str, ...],
          cache: TableCache | None = None, head: int | None = None) -> dict[str, ReportTable]:
    """The tables; with a `cache`, those built at the same event-store `head` are reused
    (read the head before bringing the read models up to date, so that a table is never
    filed under a newer head than the events it was built from)."""
    labels: Labels | None = None
    out = {}
    for slug in slugs:
        t = cache.get(slug, p, head) if cache is not None else None
        if t is None:
            labels = labels or Labels(conn)
            t = TABLES[slug](conn, p, labels)
            t.csv_url = f"/reports/{slug}.csv?{p.query()}"
            if cache is not None:
                cache.put(slug, p, head, t)
        out[slug] = t
    return out


class TableCache:
    """Built tables of one app (and the other report results: the API's report, the RTT
    export), per table and parameters. A table is reused while the event store's head is
    unchanged (a report is a function of the events and its parameters), for at most
    `seconds` (so that a changed organisation reference shows within minutes); and, whatever
    the head, for `fresh` seconds after it was built: a report asked for again at once (the
    retry after "being prepared", a colleague opening the same link) is not computed again
    for the few events that came in meanwhile. Tables are not changed once built. Bounded:
    the least recently used go first."""

    def __init__(self, size: int = 256, seconds: float = 300.0, fresh: float = 30.0) -> None:
        self.size, self.seconds, self.fresh = size, seconds, fresh
        self._tables: OrderedDict[tuple, tuple[float, int | None, Any]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def head(conn: Connection) -> int:
        return int(conn.execute(text("SELECT max(id) FROM guardian_events")).scalar() or 0)

    def get(self, slug: str, p: Params, head: int | None) -> Any:
        with self._lock:
            found = self._tables.get((slug, p))
            if found is None:
                return None
            built, at, t = found
            age = time.monotonic() - built
            if age > self.seconds or (at != head and age > self.fresh):
                return None
            self._tables.move_to_end((slug, p))
            return t

    def put(self, slug: str, p: Params, head: int | None, t: Any) -> None:
        with self._lock:
            self._tables[(slug, p)] = (time.monotonic(), head, t)
            self._tables.move_to_end((slug, p))
            while len(self._tables) > self.size:
                self._tables.popitem(last=False)


def cache_of(request: Request) -> TableCache:
    state = request.app.state
    found = getattr(state, "report_tables", None)
    if found is None:
        found = state.report_tables = TableCache()
    return found


# ----------------------------------------------------------------------------- routes


def _known_places(request: Request) -> list[str]:
    return orgs.places(request.app.state.guardian.engine)


def _resolve_place(request: Request, principal: Principal, wanted: str) -> str | None:
    """The place this request may report on: a place lead's own (another → 404); for an
    admin the one asked for (None: not chosen yet; unknown → 404)."""
    if principal.role == "place-lead":
        own = principal.place
        if own is None or (wanted and wanted != own):
            raise HTTPException(status_code=404, detail="Not Found")
        return own
    if not wanted:
        return None
    if wanted not in _known_places(request):
        raise HTTPException(status_code=404, detail="Not Found")
    return wanted


def _bring_up_to_date(request: Request) -> int:
    """The event store's head, then the read models brought up to it (or beyond)."""
    with request.app.state.guardian.engine.connect() as conn:
        head = TableCache.head(conn)
    runner = getattr(request.app.state, "runner", None)
    if runner is not None:
        runner.catch_up_within(2.0)
    return head


def _detail(p: Params, **extra: Any) -> str:
    parts = {"place": p.place, "as_of": p.as_of.isoformat(), **extra}
    return " ".join(f"{k}={v}" for k, v in parts.items() if v is not None)


async def computed(request: Request, key: Hashable, job: Callable[..., Any], *args: Any,
                   keep: Callable[[Any], None] | None = None) -> Any:
    """`job(conn, *args)` (a module-level function) on the report pool, never on a request
    thread, shared with any request computing the same `key`; `keep` is handed the result
    once computed (guardian/web/report_pool.py). Raises ReportBusy or ReportTooSlow."""
    guardian = request.app.state.guardian
    pool = pool_of(request.app.state, guardian.engine, guardian.settings)
    return await pool.run(key, job, *args, keep=keep)


async def tables_for(request: Request, p: Params, slugs: tuple[str, ...],
                     head: int) -> dict[str, ReportTable]:
    """The tables, from the cache or computed on the report pool."""
    cache = cache_of(request)
    tables = {slug: cache.get(slug, p, head) for slug in slugs}
    if any(t is None for t in tables.values()):
        def keep(built: dict[str, ReportTable]) -> None:
            for slug, t in built.items():
                cache.put(slug, p, head, t)

        tables = await computed(request, ("tables", p, slugs), build_tables, p, slugs,
                                keep=keep)
    return tables


def build_tables(conn: Connection, p: Params, slugs: tuple[str, ...]
                 ) -> dict[str, ReportTable]:
    """A report-pool job: the tables (`build` without a cache)."""
    return build(conn, p, slugs)


async def cached(request: Request, name: str, p: Params, head: int,
                 job: Callable[..., Any], *args: Any) -> Any:
    """One report result kept like a table (the API's report, the RTT export)."""
    cache = cache_of(request)
    found = cache.get(name, p, head)
    if found is None:
        found = await computed(request, (name, p), job, *args,
                               keep=lambda result: cache.put(name, p, head, result))
    return found


def bottleneck_report(conn: Connection, place: str, on: dt.date) -> dict[str, Any]:
    """A report-pool job: `GET /api/v1/reports/bottlenecks`'s report, suppressed."""
    return bn.jsonable(bn.report(conn, bn.ReportScope(place=place), on, suppress=True))


def not_ready(e: Exception) -> tuple[int, dict[str, str], str]:
    """Status, headers and a sentence for a report that is not ready (ReportBusy) or was
    stopped (ReportTooSlow)."""
    if isinstance(e, ReportBusy):
        return 503, {"Retry-After": str(e.retry_after)}, (
            "This report is being prepared. Reports of a whole place take a few seconds, "
            "longer when several are asked for at once: try again in a few seconds.")
    return 503, {}, ("This report took too long to prepare and was stopped. Try a shorter "
                     "time window, or try again later.")


@dataclass
class _PageRequest:
    context: dict[str, Any]
    headers: dict[str, str]
    fragment: str | None
    params: Params | None = None
    slugs: tuple[str, ...] = ()
    head: int = 0


@router.get("/reports")
async def reports_page(request: Request, principal: ReportReader) -> Response:
    asked = await run_in_threadpool(_page_request, request, principal)
    if isinstance(asked, Response):
        return asked
    assert asked.params is not None
    try:
        tables = await tables_for(request, asked.params, asked.slugs, asked.head)
    except (ReportBusy, ReportTooSlow) as e:
        return await run_in_threadpool(_page_not_ready, request, asked, e)
    return await run_in_threadpool(_page, request, principal, asked, tables)


def _page_request(request: Request, principal: Principal) -> _PageRequest | Response:
    """The checks before a page's tables: who, which place, which settings; the store's head
    with the read models brought up to it."""
    query = request.query_params
    guardian = request.app.state.guardian
    today = guardian.today()
    place = _resolve_place(request, principal, (query.get("place") or "").strip())
    values, errors = parse(query, today)
    raw = {name: (query.get(name) or "").strip() for name in FIELD_ORDER}
    fields = {**{k: str(v) for k, v in DEFAULTS.items()}, "as_of": today.isoformat(),
              "place": place or "", **{k: v for k, v in raw.items() if v}}
    context: dict[str, Any] = {
        "place": place,
        "place_options": {p: p for p in _known_places(request)} if principal.is_admin else {},
        "fields": fields, "errors": errors, "setting_labels": SETTING_LABELS, "today": today,
        "tables": {}, "params": None, "oob_status": False,
        "choices": {"window": WINDOWS, "weeks": TREND_WEEKS, "by": GROUPINGS,
                    "stage": STAGES, "qby": GROUPINGS, "growing": GROWING},
        "rule": SUPPRESSION_RULE, "smallest": SMALLEST_GROUP_FOR_STATISTICS,
        "targets": bn.step_targets(),
    }
    fragment = (FRAGMENTS.get(request.headers.get("hx-target", ""), "report")
                if is_htmx(request) else None)
    headers = {"Vary": "HX-Request, HX-Target", "Cache-Control": "no-store"}
    if errors:
        if fragment is not None:  # htmx would not swap a 400: show the page with its errors
            headers["HX-Redirect"] = f"/reports?{request.url.query}"
        return render(request, "reports.html", context, status_code=400, headers=headers)
    if place is None:  # an admin who has not chosen a place yet
        return render(request, "reports.html", context, headers=headers)
    p = Params(place=place, **values)
    slugs = (tuple(s for sec in SECTIONS.values() for s in sec) if fragment in (None, "report")
             else SECTIONS[fragment])
    return _PageRequest(context, headers, fragment, p, slugs, _bring_up_to_date(request))


def _page(request: Request, principal: Principal, asked: _PageRequest,
          tables: dict[str, ReportTable]) -> Response:
    p, fragment = asked.params, asked.fragment
    assert p is not None
    asked.context.update(params=p, tables=tables, query=p.query(),
                         oob_status=fragment in ("stages", "queues", "trend"),
                         rtt_url=f"/reports/rtt.csv?{p.query()}")
    record_access(request, principal, "view-report",
                  detail=_detail(p, section=fragment or "page", window=p.window))
    return render(request, "reports.html", asked.context, block=fragment,
                  headers=asked.headers)


def _page_not_ready(request: Request, asked: _PageRequest, e: Exception) -> Response:
    """The page (503) or, for htmx, the section (202: htmx swaps it in) saying so, with a
    link to ask again."""
    status, headers, message = not_ready(e)
    target = request.headers.get("hx-target", "") if asked.fragment is not None else ""
    return render(request, "report_not_ready.html",
                  {"message": message, "again": f"/reports?{request.url.query}",
                   "target": target if target in FRAGMENTS else "report"},
                  block="notice" if asked.fragment is not None else None,
                  status_code=202 if asked.fragment is not None else status,
                  headers={**asked.headers, **headers})


@router.get("/reports/{table}.csv")
async def report_csv(request: Request, principal: ReportReader, table: str) -> Response:
    asked = await run_in_threadpool(_csv_request, request, principal, table)
    if isinstance(asked, Response):
        return asked
    p, head = asked
    try:
        if table == "rtt":
            body = await cached(request, "rtt.csv", p, head, rtt_export, p)
        else:
            # A byte-order mark: spreadsheet programs then read the "→" and "–" as UTF-8.
            body = "\ufeff" + (await tables_for(request, p, (table,), head))[table].csv_text()
    except (ReportBusy, ReportTooSlow) as e:
        status, headers, message = not_ready(e)
        return Response(message + "\n", status_code=status, media_type="text/plain",
                        headers={**headers, "Cache-Control": "no-store"})
    await run_in_threadpool(record_access, request, principal, "download-report",
                            detail=_detail(p, table=table))
    name = re.sub(r"[^a-z0-9]+", "-", p.place.lower()).strip("-")
    filename = f"guardian-{name}-{table}-{p.as_of.isoformat()}.csv"
    return Response(body, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store",
    })


def _csv_request(request: Request, principal: Principal,
                 table: str) -> tuple[Params, int] | Response:
    if table != "rtt" and table not in TABLES:
        raise HTTPException(status_code=404, detail="Not Found")
    query = request.query_params
    guardian = request.app.state.guardian
    place = _resolve_place(request, principal, (query.get("place") or "").strip())
    if place is None:
        return Response("Choose a place: add ?place=… to the address.\n", status_code=400,
                        media_type="text/plain")
    values, errors = parse(query, guardian.today())
    if errors:
        text = "".join(f"{name}: {message}\n" for name, message in errors.items())
        return Response(text, status_code=400, media_type="text/plain")
    return Params(place=place, **values), _bring_up_to_date(request)


def rtt_export(conn: Connection, p: Params) -> str:
    """A report-pool job: the place's RTT export, suppressed."""
    out = io.StringIO()
    rtt.write_rtt(conn, out, p.as_of, place=p.place, suppress=True)
    return out.getvalue()
