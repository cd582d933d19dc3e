"""The tables of a place report, as the page shows them and the CSV download writes them
(the same rows): `Column`, `ReportTable`, the plain-language group names (`Labels`), and the
registry of table builders (`TABLES`, slug → builder) with the builders of stage durations,
bottlenecks, growing queues, breaches, removals and the weekly trend; the waiting-list
tables (RTT bands, equity) are in `guardian/web/report_waits.py`. Every number comes from
the read models' report functions, small numbers already suppressed (docs/suppression.md);
rankings never order suppressed values by their hidden size.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup
from sqlalchemy import Connection

from guardian.domain.codes import PRIORITIES, TREATMENT_FUNCTIONS
from guardian.projections import bottlenecks as bn
from guardian.projections.name_queries import load_names
from guardian.projections.suppression import SUPPRESSED
from guardian.web import svg
from guardian.web.report_params import GROUPINGS, STAGES, Params

SHORT_STEPS = {"workup": "Workup", "diagnostic": "Test", "first-seen": "First seen",
               "treatment": "Treatment"}
QUEUE_WEEKS = 13  # weeks of flow looked at for queues growing: 12 whole weeks + this one
NOT_KNOWN = "Not known"  # a group without a value (a practice outside the reference)


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


def short(label: str, width: int = 26) -> str:
    """A chart label that fits beside its bar (the table beside it has the full name)."""
    label = label.removesuffix(" PCN")
    return label if len(label) <= width else label[: width - 1].rstrip() + "…"


def grouping_words(by: str) -> str:
    """A grouping's name inside a sentence: "by treatment function", "by primary care
    network (PCN)"."""
    words = GROUPINGS[by]
    return words[:1].lower() + words[1:]


def _shown_first(rows: list[dict[str, Any]], key: str, name: str) -> list[dict[str, Any]]:
    """Largest shown value first; suppressed values last in name order (so that the order
    never says what suppression hides)."""
    def order(r: dict[str, Any]) -> tuple:
        n = _number(r[key])
        return (1, 0.0, str(r[name])) if n is None else (0, -n, str(r[name]))

    return sorted(rows, key=order)


class Labels:
    """Plain-language names of the groups reports show: `group` for a table's cell (the name
    with its code beside it where the code helps), `name` for a sentence (the name alone)."""

    def __init__(self, conn: Connection) -> None:
        self.names = load_names(conn)

    def name(self, by: str | None, value: Any) -> str:
        if value is None:
            return NOT_KNOWN
        if by == "treatment_function":
            return TREATMENT_FUNCTIONS.get(value) or f"Treatment function {value}"
        if by == "pcn_code":
            return self.names.pcn(value)
        if by == "provider":
            return self.names.provider(value)
        if by == "priority":
            return PRIORITIES.get(value, str(value)).capitalize()
        return str(value)

    def group(self, by: str | None, value: Any) -> str:
        if value is None:
            return NOT_KNOWN
        if by == "treatment_function" and value in TREATMENT_FUNCTIONS:
            return f"{TREATMENT_FUNCTIONS[value]} ({value})"
        if by == "pcn_code":
            return self.names.pcn_coded(value)
        if by == "provider":
            return self.names.provider_coded(value)
        return self.name(by, value)


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
        {"group": labels.group(p.by, r["group"]), "_name": labels.name(p.by, r["group"]),
         "completed": r["completed"],
         "median_weeks": _weeks(r["median_days"]), "p90_weeks": _weeks(r["p90_days"]),
         "in_progress": r["in_progress"],
         "in_progress_median_weeks": _weeks(r["in_progress_median_days"])}
        for r in bn.stage_durations(conn, p.scope, p.stage, p.as_of, by=p.by,
                                    window_days=p.window_days)
    ]
    t = ReportTable(
        "stage-durations",
        f"{STAGES[p.stage]}: weeks by {grouping_words(p.by)}",
        [Column("group", GROUPINGS[p.by], "label"),
         Column("completed", f"Completed in the last {p.window} weeks"),
         Column("median_weeks", "Median (weeks)", "statistic"),
         Column("p90_weeks", "9 in 10 within (weeks)", "statistic"),
         Column("in_progress", "Still in this stage"),
         Column("in_progress_median_weeks", "Median so far (weeks)", "statistic")],
        rows, empty="No pathway went through this stage in the window.",
    )
    t.chart = Markup(svg.bar_chart(
        f"Median weeks, {STAGES[p.stage]}, by {grouping_words(p.by)}",
        [(short(r["_name"]), r["median_weeks"]) for r in rows], unit=" weeks"))
    return t


def longest_stages(row: dict[str, Any]) -> list[str]:
    """The stage kinds of a stage-overview row with the longest median shown (several when
    they tie, in the journey's order); none when every median is withheld. Only shown
    medians count, so a stage of fewer than 8 pathways is never "the longest"."""
    shown = {k: n for k in bn.STEP_KINDS if (n := _number(row.get(k))) is not None}
    top = max(shown.values(), default=None)
    return [k for k in bn.STEP_KINDS if k in shown and shown[k] == top]


@table("stage-overview", "Median weeks in each stage")
def stage_overview(conn: Connection, p: Params, labels: Labels) -> ReportTable:
    medians: dict[Any, dict[str, Any]] = defaultdict(dict)
    for kind in bn.STEP_KINDS:
        for r in bn.stage_durations(conn, p.scope, kind, p.as_of, by=p.by,
                                    window_days=p.window_days):
            medians[r["group"]][kind] = _weeks(r["median_days"])
    rows = []
    for group, by_kind in medians.items():
        row: dict[str, Any] = {"group": labels.group(p.by, group),
                               "_name": labels.name(p.by, group)}
        for kind in bn.STEP_KINDS:
            row[kind] = by_kind.get(kind, SUPPRESSED)
        longest = longest_stages(row)
        row["_longest"] = longest
        row["longest"] = (" and ".join(bn.KIND_LABELS[k] for k in longest) if longest
                          else "Not enough pathways to say")
        rows.append(row)
    rows.sort(key=lambda r: r["group"])
    t = ReportTable(
        "stage-overview",
        f"Median weeks in each stage, by {grouping_words(p.by)} (steps completed in the "
        f"last {p.window} weeks)",
        [Column("group", GROUPINGS[p.by], "label"),
         *[Column(kind, bn.KIND_LABELS[kind], "statistic") for kind in bn.STEP_KINDS],
         Column("longest", "Longest stage", "label")],
        rows, empty="No pathway completed a stage in the window.",
    )
    drawn = _shown_first([{**r, "_top": r[r["_longest"][0]] if r["_longest"] else SUPPRESSED}
                          for r in rows], "_top", "group")
    t.chart = Markup(svg.bar_chart(
        f"Median weeks of each {grouping_words(p.by)}'s longest stage",
        [(f"{short(r['_name'], 14)} · {SHORT_STEPS[r['_longest'][0]]}", r["_top"])
         for r in drawn if r["_longest"]], unit=" weeks"))
    return t


@table("top-bottlenecks", "Where most pathways are stuck")
def top_bottlenecks(conn: Connection, p: Params, labels: Labels) -> ReportTable:
    rows = [
        {"step": r["step_label"], "_short": SHORT_STEPS[r["step"]],
         "provider": labels.group("provider", r["provider"]),
         "_provider": labels.name("provider", r["provider"]),
         "treatment_function": labels.group("treatment_function", r["treatment_function"]),
         "_tf_name": labels.name("treatment_function", r["treatment_function"]),
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
    several = len({r["_provider"] for r in rows}) > 1  # name the provider only if it varies
    t.chart = Markup(svg.bar_chart(
        "Pathways over the stage's target",
        [(f"{r['_short']} · {short(r['_tf_name'], 14 if several else 20)}"
          + (f" · {short(r['_provider'], 8)}" if several else ""), r["over_target"])
         for r in rows]))
    return t


@table("queues-growing", "Queues growing")
def queues_growing(conn: Connection, p: Params, labels: Labels) -> ReportTable:
    found = bn.queues_growing(conn, p.scope, p.as_of, by=p.qby, min_weeks=p.growing,
                              weeks=QUEUE_WEEKS)
    rows = [{"group": labels.group(p.qby, r["group"]), "_name": labels.name(p.qby, r["group"]),
             "weeks_growing": r["weeks_growing"],
             "inflow": r["inflow"], "outflow": r["outflow"], "net": r["net"],
             "waiting": r["waiting"]} for r in found]
    # Longest run first, then the growth as shown (never by a hidden number).
    rows.sort(key=lambda r: (-r["weeks_growing"], *_shown_key(r["net"]), r["group"]))
    t = ReportTable(
        "queues-growing",
        f"Queues where more arrived than left, {p.growing} or more weeks in a row, by "
        f"{grouping_words(p.qby)}",
        [Column("group", GROUPINGS[p.qby], "label"),
         Column("weeks_growing", "Weeks in a row growing", "number"),
         Column("inflow", "Referrals received in those weeks"),
         Column("outflow", "Came off the list in those weeks"),
         Column("net", "Growth in those weeks"),
         Column("waiting", "Waiting now")],
        rows, empty=f"No queue grew for {p.growing} weeks in a row up to this date.",
    )
    t.chart = Markup(svg.bar_chart("Weeks in a row growing",
                                   [(short(r["_name"]), r["weeks_growing"]) for r in rows],
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
                                   [(short(r["standard"]), r["breaches"]) for r in rows]))
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


