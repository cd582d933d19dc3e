"""Place reports as computations: which tables each section of the report page shows
(`SECTIONS`), building them (`build`, with the app's table cache), and `Reports`, one app's
report computations — on its report pool, never on a request thread
(guardian/web/report_pool.py: a few at once per database, identical requests sharing one
computation, a statement timeout), kept in its table cache (guardian/web/caches.py) per
event-store head and parameters. The report pool's jobs are here too: the tables, the
bottleneck API's report and the RTT export, all small-number suppressed
(docs/suppression.md). The routes are `guardian/web/routes/reports.py` (pages and CSVs) and
the bottleneck API's; the settings are `report_params.py`, the tables `report_tables.py`
and `report_waits.py`, the summary at the top of the page `report_summary.py`.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Hashable
from typing import Any

from sqlalchemy import Connection

from guardian.projections import bottlenecks as bn
from guardian.projections import rtt
from guardian.web import report_waits  # noqa: F401 - registers the waiting-list tables
from guardian.web.caches import TableCache
from guardian.web.report_params import (
    DEFAULTS,
    FIELD_ORDER,
    GROUPINGS,
    GROWING,
    STAGES,
    TREND_WEEKS,
    WINDOWS,
    Params,
    as_of_problem,
    parse,
)
from guardian.web.report_pool import ReportBusy, ReportPool
from guardian.web.report_tables import TABLES, TITLES, Column, Labels, ReportTable

__all__ = [  # the names the report routes, the bottleneck API and the tests use
    "DEFAULTS", "FIELD_ORDER", "GROUPINGS", "GROWING", "SECTIONS", "STAGES", "TABLES",
    "TITLES", "TREND_WEEKS", "WINDOWS", "Column", "Labels", "Params", "ReportTable",
    "Reports", "TableCache", "as_of_problem", "bottleneck_report", "build", "build_tables",
    "not_ready", "parse", "rtt_export",
]

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


# ----------------------------------------------------------------------------- the pool's jobs


def build_tables(conn: Connection, p: Params, slugs: tuple[str, ...]
                 ) -> dict[str, ReportTable]:
    """A report-pool job: the tables (`build` without a cache)."""
    return build(conn, p, slugs)


def bottleneck_report(conn: Connection, place: str, on: dt.date) -> dict[str, Any]:
    """A report-pool job: `GET /api/v1/reports/bottlenecks`'s report, suppressed."""
    return bn.jsonable(bn.report(conn, bn.ReportScope(place=place), on, suppress=True))


def rtt_export(conn: Connection, p: Params) -> str:
    """A report-pool job: the place's RTT export, suppressed."""
    out = io.StringIO()
    rtt.write_rtt(conn, out, p.as_of, place=p.place, suppress=True)
    return out.getvalue()


# ----------------------------------------------------------------------------- one app's


class Reports:
    """One app's report computations: on its report pool, kept in its table cache
    (`guardian.web.deps.ReportsDep`)."""

    def __init__(self, pool: Callable[[], ReportPool], cache: TableCache) -> None:
        self._pool, self.cache = pool, cache  # the pool is made on first use

    @property
    def pool(self) -> ReportPool:
        return self._pool()

    async def computed(self, key: Hashable, job: Callable[..., Any], *args: Any,
                       keep: Callable[[Any], None] | None = None) -> Any:
        """`job(conn, *args)` (a module-level function) on the report pool, shared with any
        request computing the same `key`; `keep` is handed the result once computed.
        Raises ReportBusy or ReportTooSlow."""
        return await self.pool.run(key, job, *args, keep=keep)

    async def tables(self, p: Params, slugs: tuple[str, ...],
                     head: int) -> dict[str, ReportTable]:
        """The tables, from the cache or computed on the report pool."""
        cache = self.cache
        tables = {slug: cache.get(slug, p, head) for slug in slugs}
        if any(t is None for t in tables.values()):
            def keep(built: dict[str, ReportTable]) -> None:
                for slug, t in built.items():
                    cache.put(slug, p, head, t)

            tables = await self.computed(("tables", p, slugs), build_tables, p, slugs,
                                         keep=keep)
        return tables

    async def cached(self, name: str, p: Params, head: int,
                     job: Callable[..., Any], *args: Any) -> Any:
        """One report result kept like a table (the API's report, the RTT export)."""
        found = self.cache.get(name, p, head)
        if found is None:
            found = await self.computed(
                (name, p), job, *args, keep=lambda result: self.cache.put(name, p, head, result))
        return found


def not_ready(e: Exception) -> tuple[int, dict[str, str], str]:
    """Status, headers and a sentence for a report that is not ready (ReportBusy) or was
    stopped (ReportTooSlow)."""
    if isinstance(e, ReportBusy):
        return 503, {"Retry-After": str(e.retry_after)}, (
            "This report is being prepared. Reports of a whole place take a few seconds, "
            "longer when several are asked for at once: try again in a few seconds.")
    return 503, {}, ("This report took too long to prepare and was stopped. Try a shorter "
                     "time window, or try again later.")
