"""The waiting-list tables of a place report: how long patients have waited on their RTT
clock (week-band groups, the RTT export's pathways) and the equity tables (waits by age
band, by PCN, and the median by PCN and age band). Registered in the table registry of
`guardian/web/report_tables.py`; small numbers suppressed (docs/suppression.md).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from markupsafe import Markup
from sqlalchemy import Connection

from guardian.domain.standards import week_band, within_18_weeks
from guardian.projections import bottlenecks as bn
from guardian.projections import rtt
from guardian.projections.bottleneck_queries import rtt_starts_by_pcn_and_age
from guardian.projections.suppression import suppress_count, suppress_statistic
from guardian.web import svg
from guardian.web.report_params import Params
from guardian.web.report_tables import Column, Labels, ReportTable, short, table

# RTT week-band groups: (label, first band index, last band index) of RTT_BAND_COLUMNS.
BAND_GROUPS = (("Up to 18 weeks", 0, 17), ("18 to 52 weeks", 18, 51),
               ("52 to 65 weeks", 52, 64), ("65 to 78 weeks", 65, 77),
               ("78 to 104 weeks", 78, 103), ("Over 104 weeks", 104, 104))
WHOLE_PLACE = object()  # the key of the whole place's groups in equity_pcn_age


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
    rows = [{**r, "group": labels.group(by, r["group"]), "_name": labels.name(by, r["group"])}
            for r in bn.equity(conn, p.scope, p.as_of, by)]
    t = ReportTable(slug, f"RTT waits on {p.as_of:%-d %B %Y} by {heading}",
                    [Column("group", column, "label"), *EQUITY_COLUMNS], rows,
                    empty="Nobody was waiting on an RTT pathway on this date.")
    t.chart = Markup(svg.bar_chart(f"Median wait by {heading}",
                                   [(short(r["_name"]), r["median_weeks"]) for r in rows],
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
    waits: dict[tuple[Any, str], list[int]] = defaultdict(list)
    for pcn, band, start in rtt_starts_by_pcn_and_age(conn, p.scope, p.as_of):
        days = (p.as_of - start).days
        waits[(pcn, band)].append(days)
        waits[(WHOLE_PLACE, band)].append(days)

    def median(key: tuple[Any, str]) -> str:
        days = sorted(waits.get(key, ()))
        value = bn.percentile(days, 0.5)
        return suppress_statistic(None if value is None else value / 7, len(days))

    pcns = sorted({pcn for pcn, _ in waits if pcn not in (None, WHOLE_PLACE)})
    rows: list[dict[str, Any]] = [
        {"group": labels.group("pcn_code", pcn), "_name": labels.name("pcn_code", pcn),
         **{band: median((pcn, band)) for band in bn.AGE_BANDS}} for pcn in pcns]
    if rows:
        rows.append({"group": "Whole place", "_name": p.place, "_total": True,
                     **{band: median((WHOLE_PLACE, band)) for band in bn.AGE_BANDS}})
    return ReportTable(
        "equity-pcn-age", f"Median RTT wait in weeks on {p.as_of:%-d %B %Y}, by PCN and age "
        "band",
        [Column("group", "PCN", "label"),
         *[Column(band, f"Aged {band}", "statistic") for band in bn.AGE_BANDS]],
        rows, empty="Nobody was waiting on an RTT pathway on this date.",
    )
