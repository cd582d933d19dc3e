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
  The page opens with the summary (guardian/web/report_summary.py: each answer a few
  sentences and a small chart); a section's fragment brings that section's answer along
  (an out-of-band swap), so the summary always says what the sections below show. In each
  section the chart comes first and long tables are folded behind "Show the table" (every
  row is still in the page).
  Bad values: a 400 page whose error summary says what to change, keeping what was typed.
- `GET /reports/{table}.csv` — one table, with the same query parameters, exactly as the
  page shows it (the page and the download render the same rows), UTF-8 with a byte-order
  mark for spreadsheet programs; `GET /reports/rtt.csv` — the place's RTT waiting-list
  export (docs/formats.md "RTT export", as `guardian export rtt --suppress` writes it).

Decisions:

- Who: place leads (their own place; another place answers 404 as if it did not exist) and
  admins (any place, picked with `?place=`). Coordinators and GPs get 404 (docs/access.md:
  aggregate reports are for place leads; guardian/web/places.py says which place).
  No session: the sign-in page, then back here.
- Everything shown or downloaded goes through the small-number rule of docs/suppression.md
  (`projections/suppression.py`, via `projections/bottlenecks/` and `projections/rtt.py`)
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
  (guardian/web/reports.py `Reports`), never on a request thread; a report not ready within
  GUARDIAN_REPORT_WAIT_SECONDS is answered "being prepared, try again" (503 with
  Retry-After; a section: 202 with the same sentence).
- Each view (page or fragment) is audited as "view-report", each download as
  "download-report", with the place, date and table in the detail and no patient id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from guardian.projections.bottlenecks import step_targets
from guardian.projections.report_queries import event_head
from guardian.projections.suppression import SMALLEST_GROUP_FOR_STATISTICS
from guardian.web.access import Principal, record_access, require_role
from guardian.web.deps import AppDep, CatchUpDep, ReportsDep
from guardian.web.places import PlaceNotFound, known_places, resolve_place
from guardian.web.report_pool import ReportBusy, ReportTooSlow
from guardian.web.report_summary import summarise
from guardian.web.report_tables import grouping_words
from guardian.web.reports import (
    DEFAULTS,
    FIELD_ORDER,
    GROUPINGS,
    GROWING,
    SECTIONS,
    STAGES,
    TABLES,
    TREND_WEEKS,
    WINDOWS,
    Params,
    ReportTable,
    not_ready,
    parse,
    rtt_export,
)
from guardian.web.templating import is_htmx, render

router = APIRouter(include_in_schema=False)
ReportReader = Annotated[Principal, Depends(require_role("place-lead", "admin"))]

# The htmx targets of the page and the template block each one gets.
FRAGMENTS = {"stages-results": "stages", "queues-results": "queues",
             "trend-results": "trend", "report": "report"}
SETTING_LABELS = {"by": "Group stage durations by", "stage": "Stage",
                  "qby": "Group growing queues by", "growing": "Queues growing for at least",
                  "weeks": "Weeks of trend shown"}
SUPPRESSION_RULE = "* = fewer than 8; counts rounded to the nearest 5"
# The sections of the page (their ids are also the summary's findings' keys).
SECTION_TITLES = {"stages": "How long each stage takes",
                  "bottlenecks": "Where most pathways are stuck",
                  "queues": "Queues growing", "breaches": "Breaches by standard",
                  "rtt": "How long patients have waited",
                  "equity": "Do some groups wait longer?", "trend": "Trend over weeks"}


def _place(app: Any, principal: Principal, wanted: str) -> str | None:
    """The place this request may report on: a place lead's own (another → 404); for an
    admin the one asked for (None: not chosen yet; unknown → 404)."""
    try:
        place = resolve_place(app.engine, principal, wanted)
    except PlaceNotFound:
        raise HTTPException(status_code=404, detail="Not Found") from None
    if place is None and not principal.is_admin:  # a place lead without a place
        raise HTTPException(status_code=404, detail="Not Found")
    return place


def _bring_up_to_date(app: Any, catch_up: Any) -> int:
    """The event store's head, then the read models brought up to it (or beyond)."""
    with app.engine.connect() as conn:
        head = event_head(conn)
    catch_up()
    return head


def _detail(p: Params, **extra: Any) -> str:
    parts = {"place": p.place, "as_of": p.as_of.isoformat(), **extra}
    return " ".join(f"{k}={v}" for k, v in parts.items() if v is not None)


@dataclass
class _PageRequest:
    context: dict[str, Any]
    headers: dict[str, str]
    fragment: str | None
    params: Params | None = None
    slugs: tuple[str, ...] = ()
    head: int = 0


@router.get("/reports")
async def reports_page(request: Request, principal: ReportReader, app: AppDep,
                       catch_up: CatchUpDep, reports: ReportsDep) -> Response:
    asked = await run_in_threadpool(_page_request, request, principal, app, catch_up)
    if isinstance(asked, Response):
        return asked
    assert asked.params is not None
    try:
        tables = await reports.tables(asked.params, asked.slugs, asked.head)
    except (ReportBusy, ReportTooSlow) as e:
        return await run_in_threadpool(_page_not_ready, request, asked, e)
    return await run_in_threadpool(_page, request, principal, asked, tables)


def _page_request(request: Request, principal: Principal, app: Any,
                  catch_up: Any) -> _PageRequest | Response:
    """The checks before a page's tables: who, which place, which settings; the store's head
    with the read models brought up to it."""
    query = request.query_params
    today = app.today()
    place = _place(app, principal, (query.get("place") or "").strip())
    values, errors = parse(query, today)
    raw = {name: (query.get(name) or "").strip() for name in FIELD_ORDER}
    fields = {**{k: str(v) for k, v in DEFAULTS.items()}, "as_of": today.isoformat(),
              "place": place or "", **{k: v for k, v in raw.items() if v}}
    context: dict[str, Any] = {
        "place": place,
        "place_options": ({p: p for p in known_places(app.engine)} if principal.is_admin
                          else {}),
        "fields": fields, "errors": errors, "setting_labels": SETTING_LABELS, "today": today,
        "tables": {}, "params": None, "oob_status": False,
        "choices": {"window": WINDOWS, "weeks": TREND_WEEKS, "by": GROUPINGS,
                    "stage": STAGES, "qby": GROUPINGS, "growing": GROWING},
        "rule": SUPPRESSION_RULE, "smallest": SMALLEST_GROUP_FOR_STATISTICS,
        "targets": step_targets(), "summary": [], "section_titles": SECTION_TITLES,
        "grouping_words": grouping_words,
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
    return _PageRequest(context, headers, fragment, p, slugs, _bring_up_to_date(app, catch_up))


def _page(request: Request, principal: Principal, asked: _PageRequest,
          tables: dict[str, ReportTable]) -> Response:
    p, fragment = asked.params, asked.fragment
    assert p is not None
    asked.context.update(params=p, tables=tables, query=p.query(),
                         summary=summarise(tables, p),
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
async def report_csv(request: Request, principal: ReportReader, table: str, app: AppDep,
                     catch_up: CatchUpDep, reports: ReportsDep) -> Response:
    asked = await run_in_threadpool(_csv_request, request, principal, table, app, catch_up)
    if isinstance(asked, Response):
        return asked
    p, head = asked
    try:
        if table == "rtt":
            body = await reports.cached("rtt.csv", p, head, rtt_export, p)
        else:
            # A byte-order mark: spreadsheet programs then read the "→" and "–" as UTF-8.
            body = "\ufeff" + (await reports.tables(p, (table,), head))[table].csv_text()
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


def _csv_request(request: Request, principal: Principal, table: str, app: Any,
                 catch_up: Any) -> tuple[Params, int] | Response:
    if table != "rtt" and table not in TABLES:
        raise HTTPException(status_code=404, detail="Not Found")
    query = request.query_params
    place = _place(app, principal, (query.get("place") or "").strip())
    if place is None:
        return Response("Choose a place: add ?place=… to the address.\n", status_code=400,
                        media_type="text/plain")
    values, errors = parse(query, app.today())
    if errors:
        text = "".join(f"{name}: {message}\n" for name, message in errors.items())
        return Response(text, status_code=400, media_type="text/plain")
    return Params(place=place, **values), _bring_up_to_date(app, catch_up)
