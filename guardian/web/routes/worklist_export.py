"""The worklist as CSV: `GET /worklist.csv` takes exactly the worklist page's query (pcn,
filter, sort, practice_code, provider, treatment_function, priority, stage) and gives every
row that view shows, every page of it, in the view's order (docs/access.md, "Exports").

Streamed: a generator reads the view 1,000 rows at a time along the worklist's keyset
(`worklist.page` after `worklist.position_after` of the last row), each page on a short
connection of its own, so memory stays flat however long the list. Scoped as the page is
(another PCN answers 404, audited); the export is audited when the stream opens, with the
view it shows and its row count. A query the worklist would not take goes back to the
worklist, which says what was wrong. Cells a spreadsheet would run as a formula are
written as text. People and places are named, with their codes in columns of their own.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from guardian.domain import codes, standards
from guardian.domain.identifiers import format_nhs_number
from guardian.projections import worklist as wl
from guardian.web import access
from guardian.web.deps import AppDep, ConnDep, ScopeDep
from guardian.web.names import names_of
from guardian.web.present import age_on, with_departed
from guardian.web.routes.worklist import Coordinator, QueryDep, in_scope_or_404

router = APIRouter(include_in_schema=False)

BATCH = 1000  # rows read per query while streaming
FORMULA_STARTS = frozenset("=+-@\t\r")
STATE_WORDS = {"breached": "Breached", "at-risk": "At risk", "on-track": "On track"}


def safe(value: Any) -> str:
    """A cell as text a spreadsheet shows rather than runs: one that starts like a formula
    (=, +, -, @, a tab or a carriage return) is prefixed with an apostrophe."""
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, dt.date) else str(value)
    return "'" + text if text[:1] in FORMULA_STARTS else text


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


STANDARD_LABELS = {s.code: s.label for s in standards.STANDARDS}


# (header, the cell of a row): the columns of the export, in order
COLUMNS: list[tuple[str, Any]] = [
    ("NHS number", lambda r, n, t: format_nhs_number(r["nhs_number"])),
    ("Family name", lambda r, n, t: r["family_name"]),
    ("Given name", lambda r, n, t: r["given_name"]),
    ("Date of birth", lambda r, n, t: r["birth_date"]),
    ("Age", lambda r, n, t: age_on(r["birth_date"], t)),
    ("Hospital", lambda r, n, t: n.provider(r["provider"])),
    ("Hospital code", lambda r, n, t: r["provider"]),
    ("Pathway id", lambda r, n, t: r["pathway_id"]),
    ("Specialty", lambda r, n, t: n.treatment_function(r["treatment_function"])),
    ("Specialty code", lambda r, n, t: r["treatment_function"]),
    ("Priority", lambda r, n, t: _sentence(codes.PRIORITIES.get(r["priority"], ""))),
    ("GP practice", lambda r, n, t: n.practice(r["practice_code"])),
    ("Practice code", lambda r, n, t: r["practice_code"]),
    ("PCN", lambda r, n, t: n.pcn(r["pcn_code"])),
    ("PCN code", lambda r, n, t: r["pcn_code"]),
    ("Stage", lambda r, n, t: standards.STAGE_LABELS.get(r["stage"], r["stage"])),
    ("Waiting since", lambda r, n, t: r["wait_from"]),
    ("Weeks waiting", lambda r, n, t: (t - r["wait_from"]).days // 7),
    ("Next deadline", lambda r, n, t: STANDARD_LABELS.get(r["next_standard"],
                                                          r["next_standard"] or "")),
    ("Last day within", lambda r, n, t: r["next_deadline"]),
    ("Deadline state", lambda r, n, t: STATE_WORDS.get(standards.deadline_state(
        r["next_breach_on"], r["next_at_risk_from"], t), "") if r["next_standard"] else ""),
    ("Breaches recorded", lambda r, n, t: r["breaches"]),
    ("Workup outstanding", lambda r, n, t: r["workup_outstanding"]),
    ("Tests awaiting result", lambda r, n, t: r["diagnostics_outstanding"]),
    ("Deterioration reported", lambda r, n, t: r["deterioration_since"]),
    ("Unanswered messages", lambda r, n, t: r["unanswered_messages"]),
    ("Awaiting reply since", lambda r, n, t: r["awaiting_reply_since"]),
    ("Check-in due", lambda r, n, t: r["check_in_due"]),
    ("Left the hospital list", lambda r, n, t: r["left_list_on"]),
    ("Care coordinator", lambda r, n, t: n.person(r["coordinator"])),
]


def _lines(rows: list[list[Any]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(
        [[safe(cell) for cell in row] for row in rows])
    return out.getvalue()


@router.get("/worklist.csv")
def worklist_csv(request: Request, principal: Coordinator, app: AppDep, connect: ConnDep,
                 scope: ScopeDep, asked: QueryDep) -> Response:
    pcn, sort = asked.pcn, asked.sort
    in_scope_or_404(request, principal, pcn, " (CSV)")
    if asked.problems():
        # the worklist itself says what is wrong with the query, on the list
        return RedirectResponse(f"/worklist?{request.url.query}", status_code=303)
    filters, attrs = asked.filters, asked.attrs
    today = app.today()
    names = names_of(request)
    with connect() as conn:
        scope = with_departed(conn, scope)
        total = wl.counts(conn, scope, pcn, today, attrs, filters)["matching"]
    view = "; ".join([
        f"PCN {names.pcn_coded(pcn) if pcn else 'all in scope'}",
        f"filters {', '.join(wl.FILTER_LABELS[f] for f in filters) or 'none'}",
        *(f"{k.replace('_', ' ')} {v}" for k, v in attrs.items() if v is not None),
        f"sort {sort}"])
    access.record_access(request, principal, "export-worklist",
                         detail=f"{view}; {total} rows")

    def stream() -> Iterator[str]:
        yield "\ufeff" + _lines([[header for header, _ in COLUMNS]])
        after = None
        while True:
            with connect() as conn:
                rows = wl.page(conn, scope, pcn, today, filters, sort, after, BATCH, attrs)
            if not rows:
                return
            yield _lines([[cell(r, names, today) for _, cell in COLUMNS] for r in rows])
            if len(rows) < BATCH:
                return
            after = wl.position_after(sort, rows[-1])

    return StreamingResponse(stream(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": attachment(
            f"Worklist {names.pcn(pcn) if pcn else 'all PCNs'} {today.isoformat()}.csv"),
        "Cache-Control": "no-store"})


def attachment(filename: str) -> str:
    """A Content-Disposition naming the download: plain ASCII for old clients, the name
    as it is (RFC 6266 `filename*`) for the rest."""
    plain = re.sub(r'[^A-Za-z0-9 ._-]', "_", filename)
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename, safe='')}"
