"""The answer first: the summary at the top of a place report (docs/journeys.md, "The place
lead"). `summarise` is a pure function of the report's tables as the page shows them: the
three groups whose longest stage is longest, the queues growing fastest, the standards most
breached and the widest equity gap, each a few plain sentences and a small chart.

It reads only the tables' shown values, which the small-number rule (docs/suppression.md)
has already been through: a median withheld as * is never "the longest" or part of a gap,
a count shown as * is never printed or ranked, and every number in a sentence is one the
table beside it shows. Rankings break ties by name, never by a hidden value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from guardian.projections import bottlenecks as bn
from guardian.projections.suppression import SMALLEST_GROUP_FOR_STATISTICS as SMALLEST
from guardian.web import svg
from guardian.web.report_params import Params
from guardian.web.report_tables import (
    NOT_KNOWN,
    SHORT_STEPS,
    ReportTable,
    grouping_words,
    longest_stages,
    short,
)

TOP = 3  # groups named in each finding
CHART_WIDTH, LABEL_WIDTH = 450, 180  # small charts: two side by side on a desktop
# The tables each finding reads (a finding is left out when its tables were not built).
NEEDS = {"stages": ("stage-overview",), "queues": ("queues-growing",),
         "breaches": ("breaches",), "equity": ("equity-pcn-age", "equity-pcn")}


@dataclass(frozen=True)
class Finding:
    """One answer: what it is about (`key`, also the id of the section with the detail),
    a heading, plain sentences and a small chart (None when there is nothing to draw)."""

    key: str
    heading: str
    sentences: tuple[str, ...]
    chart: Markup | None = None


def summarise(tables: Mapping[str, ReportTable], p: Params) -> list[Finding]:
    """The findings of the tables that were built, in the page's order."""
    finders = {"stages": _stages, "queues": _queues, "breaches": _breaches,
               "equity": _equity}
    return [finders[key](tables, p) for key, slugs in NEEDS.items()
            if all(slug in tables for slug in slugs)]


def _number(value: Any) -> float | None:
    """A shown value as a number; None for *, a dash or nothing."""
    if value is None or value == "*" or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _known(row: Mapping[str, Any]) -> bool:
    return not row.get("_total") and row.get("_name", row.get("group")) != NOT_KNOWN


def _name(row: Mapping[str, Any]) -> str:
    return str(row.get("_name") or row.get("group"))


def _stage(kind: str) -> str:
    label = bn.KIND_LABELS[kind]
    return label[:1].lower() + label[1:]


def _weeks(value: Any) -> str:
    n = _number(value)
    return f"{n:.1f} weeks" if n is not None else str(value)


def _chart(title: str, rows: list[tuple[str, Any]], unit: str = "") -> Markup | None:
    if not rows:
        return None
    return Markup(svg.bar_chart(title, rows, unit=unit, width=CHART_WIDTH,
                                label_width=LABEL_WIDTH))


# ----------------------------------------------------------------------------- findings


def _stages(tables: Mapping[str, ReportTable], p: Params) -> Finding:
    """Each group's longest stage (shown medians only), the three longest of those."""
    t = tables["stage-overview"]
    ranked = []
    for row in t.rows:
        kinds = longest_stages(row)
        if kinds and _known(row):
            ranked.append((-(_number(row[kinds[0]]) or 0.0), _name(row), kinds, row))
    ranked.sort(key=lambda r: (r[0], r[1]))
    top = ranked[:TOP]
    heading = "The longest stages"
    if not top:
        why = (t.empty if not t.rows else
               f"Too few pathways completed each stage in the last {p.window} weeks to say "
               f"which takes longest (a median needs {SMALLEST} or more).")
        return Finding("stages", heading, (why,))
    sentences = []
    for _, name, kinds, row in top:
        if len(kinds) == 1:
            sentences.append(f"For {name} the longest stage is {_stage(kinds[0])}: "
                             f"median {_weeks(row[kinds[0]])}.")
        else:
            stages = " and ".join(_stage(k) for k in kinds)
            sentences.append(f"For {name} the longest stages are {stages}: "
                             f"median {_weeks(row[kinds[0]])} each.")
    lead = f"Steps completed in the last {p.window} weeks, by {grouping_words(p.by)}:"
    chart = _chart("Median weeks of the longest stages",
                   [(f"{short(name, 12)} · {SHORT_STEPS[kinds[0]]}", row[kinds[0]])
                    for _, name, kinds, row in top], unit=" weeks")
    return Finding("stages", heading, (lead, *sentences), chart)


def _queues(tables: Mapping[str, ReportTable], p: Params) -> Finding:
    """The queues whose inflow beat their outflow for the most weeks in a row (the table's
    order: longest run, then the growth as shown, then name)."""
    t = tables["queues-growing"]
    top = [r for r in t.rows if _known(r)][:TOP]
    heading = "The queues growing fastest"
    if not top:
        return Finding("queues", heading, (
            f"No queue had more referrals arriving than leaving the list in each of the "
            f"last {p.growing} weeks, by {grouping_words(p.qby)}.",))
    sentences = []
    for r in top:
        growth = _number(r.get("net"))
        tail = f" ({growth:,.0f} more in all)" if growth is not None and growth > 0 else ""
        sentences.append(f"In {_name(r)} more referrals arrived than left the list in each "
                         f"of the last {r['weeks_growing']} weeks{tail}.")
    if len(t.rows) > len(top):
        sentences.append(f"{len(t.rows)} queues in all grew for {p.growing} weeks in a row "
                         "or more.")
    chart = _chart("Weeks in a row growing",
                   [(short(_name(r), 22), r["weeks_growing"]) for r in top], unit=" weeks")
    return Finding("queues", heading, tuple(sentences), chart)


def _breaches(tables: Mapping[str, ReportTable], p: Params) -> Finding:
    """The standards with the most breaches shown (a * is never ranked)."""
    t = tables["breaches"]
    shown = [r for r in t.rows if (_number(r["breaches"]) or 0) > 0]
    shown.sort(key=lambda r: (-(_number(r["breaches"]) or 0.0), str(r["standard"])))
    top = shown[:TOP]
    heading = "The standards most breached"
    window = f"in the {p.window} weeks up to {p.as_of:%-d %B %Y}"
    if not top:
        if t.rows:
            return Finding("breaches", heading, (
                f"Fewer than {SMALLEST} breaches of each standard were recorded {window}.",))
        return Finding("breaches", heading, (f"No breaches were recorded {window}.",))
    sentences = [f"Recorded {window}:",
                 *(f"{r['standard']}: {_number(r['breaches']):,.0f} breaches." for r in top)]
    chart = _chart("Breaches by standard",
                   [(short(str(r["standard"]), 22), r["breaches"]) for r in top])
    return Finding("breaches", heading, tuple(sentences), chart)


def _band_words(band: str) -> str:
    return f"aged {band.replace('+', ' and over').replace('-', ' to ')}"


def _equity(tables: Mapping[str, ReportTable], p: Params) -> Finding:
    """The PCN and age band whose median wait is furthest above the whole place's median
    for that age band (both shown), then the spread of the PCNs' medians."""
    heading = "The widest gap in waits"
    by_band = tables["equity-pcn-age"]
    whole = next((r for r in by_band.rows if r.get("_total")), {})
    gaps = []
    for row in (r for r in by_band.rows if _known(r)):
        for n, band in enumerate(bn.AGE_BANDS):
            mine, place = _number(row.get(band)), _number(whole.get(band))
            if mine is not None and place is not None and mine > place:
                gaps.append((-(round(mine - place, 1)), _name(row), n, band, mine, place))
    gaps.sort()
    sentences = []
    chart = None
    if gaps:
        gap, pcn, _, band, mine, place = gaps[0]
        sentences.append(
            f"Patients {_band_words(band)} registered in {pcn} wait longest for their age: a "
            f"median of {mine:.1f} weeks, {-gap:.1f} weeks longer than patients "
            f"{_band_words(band)} across {p.place} ({place:.1f} weeks).")
        bars = [(short(_name(r), 22), r[band]) for r in by_band.rows
                if _known(r) and _number(r.get(band)) is not None]
        bars.sort(key=lambda b: (-(_number(b[1]) or 0.0), b[0]))
        chart = _chart(f"Median wait in weeks, patients {_band_words(band)}",
                       [*bars, (f"All of {short(p.place, 18)}", whole[band])], unit=" weeks")
    pcns = [(v, _name(r)) for r in tables["equity-pcn"].rows
            if _known(r) and (v := _number(r.get("median_weeks"))) is not None]
    if len(pcns) >= 2:
        low, high = min(pcns), min(pcns, key=lambda x: (-x[0], x[1]))  # ties: by name
        if high[0] > low[0]:
            sentences.append(f"Across PCNs the median wait runs from {low[0]:.1f} weeks "
                             f"({low[1]}) to {high[0]:.1f} weeks ({high[1]}).")
    if not sentences:
        sentences.append("Too few patients are waiting in each PCN and age band to compare "
                         f"their waits (a median needs {SMALLEST} or more).")
    return Finding("equity", heading, tuple(sentences), chart)
