"""The coordinator worklist: `GET /worklist` (one PCN or every PCN in scope, filters, sort,
the drop-downs' attribute filters, keyset pages whose "next" link carries the one worklist
cursor of guardian/web/cursor.py; an htmx request gets the results block) and
`POST /worklist/assign` (bulk assign the chosen pathways to a care coordinator of their
PCN). Coordinators and admins only; another PCN's worklist answers 404 (audited).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response

from guardian import users
from guardian.domain import codes, standards
from guardian.projections import worklist as wl
from guardian.projections.report_queries import pcn_names
from guardian.web import access, cursor
from guardian.web.access import Principal, require_role
from guardian.web.bulk_assign import assign_many, parse_key
from guardian.web.caches import worklist_counts
from guardian.web.deps import AppDep, CatchUpDep, ConnDep, PageCacheDep, ScopeDep
from guardian.web.inputs import LARGEST_INTEGER
from guardian.web.names import names_of
from guardian.web.present import covering, enabled_coordinators, with_departed
from guardian.web.routes import inbox
from guardian.web.templating import is_htmx, page_or_fragment
from guardian.web.worklist_rows import shown_rows

router = APIRouter(include_in_schema=False)

Coordinator = Annotated[Principal, Depends(require_role("coordinator", "admin"))]
PAGE_SIZE = 50
# What a page that could not do what was asked says on the list it comes back to: a notice
# code in the address, never text from it (no dead ends, docs/access.md).
NOTICES = {
    "bad-page": "That page link is not valid any more, so this is the first page of the list.",
    "bad-filter": "Part of that worklist address was not valid, so it was left out.",
    "assign-none": "Select at least one pathway to assign, then choose a care coordinator.",
    "assign-nobody": "Choose the care coordinator to assign the selected pathways to.",
    "assign-outside": "That care coordinator does not work for the PCN of every pathway "
                      "selected: choose a coordinator of their PCN.",
}


@dataclass
class WorklistQuery:
    """What a worklist view is (the page and its CSV export take the same query): the PCN
    (none: every PCN in scope), the ticked filters, the sort and the drop-downs."""

    pcn: str | None = None
    filter: list[str] = field(default_factory=list)
    sort: str = "urgency"
    practice_code: str | None = None
    provider: str | None = None
    treatment_function: str | None = None
    priority: str | None = None
    stage: str | None = None

    def __post_init__(self) -> None:
        self.pcn = self.pcn or None

    def problems(self) -> dict[str, str]:
        """What is wrong with the query, field by field."""
        errors = {}
        unknown = [f for f in self.filter if f not in wl.FILTERS]
        if unknown:
            errors["filter"] = f"Unknown filter: {', '.join(unknown)}"
        if self.sort not in wl.SORTS:
            errors["sort"] = f"Unknown sort order {self.sort!r}"
        if self.priority not in (None, "") and self.priority not in {
                str(k) for k in codes.PRIORITIES}:
            errors["priority"] = f"Unknown priority {self.priority!r}"
        if self.stage not in (None, "") and self.stage not in standards.STAGES:
            errors["stage"] = f"Unknown stage {self.stage!r}"
        return errors

    @property
    def filters(self) -> list[str]:
        """The known filters ticked, in the worklist's order."""
        return [f for f in wl.FILTERS if f in self.filter]

    @property
    def attrs(self) -> dict[str, Any]:
        """The drop-downs, as `worklist.page` takes them (a valid query's)."""
        return {"practice_code": self.practice_code or None, "provider": self.provider or None,
                "treatment_function": self.treatment_function or None,
                "priority": int(self.priority) if self.priority else None,
                "stage": self.stage or None}


async def worklist_query(  # async: no thread of its own for what only reads the query
    pcn: str | None = None,
    filter: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI reads the default
    sort: str = "urgency",
    practice_code: str | None = None,
    provider: str | None = None,
    treatment_function: str | None = None,
    priority: str | None = None,
    stage: str | None = None,
) -> WorklistQuery:
    return WorklistQuery(pcn, filter, sort, practice_code, provider, treatment_function,
                         priority, stage)


QueryDep = Annotated[WorklistQuery, Depends(worklist_query)]


def in_scope_or_404(request: Request, principal: Principal, pcn: str | None,
                    detail: str = "") -> None:
    """Another PCN's worklist answers 404, audited (docs/access.md)."""
    if pcn is not None and not access.may_see_pcn(principal, pcn):
        access.record_access(request, principal, "denied-worklist", detail=f"PCN {pcn}{detail}")
        raise HTTPException(status_code=404, detail="Not Found")


def _back_to(pairs: list[tuple[str, str]], notice: str) -> RedirectResponse:
    """Back to the list these query pairs show, with a notice (see NOTICES)."""
    return RedirectResponse("/worklist?" + urlencode([*pairs, ("notice", notice)]),
                            status_code=303)


@router.get("/worklist")
def worklist_page(
    request: Request,
    principal: Coordinator,
    app: AppDep,
    connect: ConnDep,
    scope: ScopeDep,
    cache: PageCacheDep,
    asked: QueryDep,
    after: str | None = None,
    before: str | None = None,
    page: str | None = None,
    notice: str | None = None,
    assigned: Annotated[int, Query(ge=0, le=LARGEST_INTEGER)] = 0,
) -> Response:
    pcn = asked.pcn
    in_scope_or_404(request, principal, pcn)
    errors = asked.problems()
    filters = asked.filters
    state = {"pcn": pcn or "", "filter": filters,
             "sort": asked.sort if "sort" not in errors else "urgency",
             "practice_code": asked.practice_code or "", "provider": asked.provider or "",
             "treatment_function": asked.treatment_function or "",
             "priority": asked.priority if "priority" not in errors else "",
             "stage": asked.stage if "stage" not in errors else ""}
    pairs = [(k, v) for k, vs in state.items()
             for v in (vs if isinstance(vs, list) else [vs]) if v]
    if errors:
        return _back_to(pairs, "bad-filter")
    sort = state["sort"]
    try:
        number = int(page) if page else 1
        after_at = cursor.decode(sort, after) if after else None
        before_at = cursor.decode(sort, before) if before else None
    except (ValueError, cursor.BadCursor):
        return _back_to(pairs, "bad-page")
    # page 1 has no cursor, every other page exactly one
    if number < 1 or (after and before) or bool(after or before) != (number > 1):
        return _back_to(pairs, "bad-page")
    attrs = asked.attrs
    today = app.today()
    with connect() as conn:
        # no transaction around the reads (each sees the latest committed rows, as under
        # READ COMMITTED) and the audit entry commits as it is written: no BEGIN,
        # ROLLBACK or second connection on every view
        conn.execution_options(isolation_level="AUTOCOMMIT")
        people = users.list_users(conn)  # not cached: who left, and whom to offer
        scope = with_departed(conn, scope, people)
        rows = wl.page(conn, scope, pcn, today, filters, sort, after_at, PAGE_SIZE + 1, attrs,
                       before=before_at)
        # The counts scan every row in scope: reused until the worklist changes.
        counts = worklist_counts(cache, conn, scope, pcn, today, attrs, filters)
        facets = cache.get(("facets", scope.pcns, pcn), lambda: wl.facets(conn, scope, pcn))
        names = cache.get(("pcn-names",), lambda: pcn_names(conn))
        if before_at is not None:
            # a previous page: the rows just before, so there is always a next one
            more, rows = True, rows[-PAGE_SIZE:]
        else:
            more, rows = len(rows) > PAGE_SIZE, rows[:PAGE_SIZE]
        if not rows and number > 1:
            return _back_to(pairs, "bad-page")
        access.record_access(request, principal, "view-worklist", conn=conn,
                             detail=f"PCN {pcn or 'all in scope'}; filters {','.join(filters)}")
        # the header's unread count, on this connection (a fragment has no header)
        unread = None if is_htmx(request) else inbox.unread_count(conn, principal.user_id)
    pages = max(1, -(-counts["matching"] // PAGE_SIZE))
    number = min(number, pages)
    # only coordinators of the PCNs on the page may be given its pathways (docs/access.md)
    coordinators = [u.email for u in covering(enabled_coordinators(people),
                                              {pcn} if pcn else principal.pcns)]
    query = urlencode(pairs, doseq=True)
    next_href = prev_href = None
    if more:
        next_href = "/worklist?" + urlencode(
            [*pairs, ("after", cursor.encode(sort, rows[-1])), ("page", number + 1)])
    if number > 1:
        prev_href = "/worklist?" + (urlencode(
            [*pairs, ("before", cursor.encode(sort, rows[0])), ("page", number - 1)])
            if number > 2 else query)
    my_pcns = sorted(principal.pcns) if principal.pcns is not None else sorted(names)
    return page_or_fragment(request, "worklist.html", {
        "rows": shown_rows(rows, today, scope.gone, names_of(request)), "counts": counts,
        "facets": facets,
        "state": state, "query": query, "next_href": next_href, "prev_href": prev_href,
        "page_number": number, "pages": pages, "notice": NOTICES.get(notice or ""),
        "filters": wl.FILTERS, "filter_labels": wl.FILTER_LABELS,
        "sorts": wl.SORTS, "sort_labels": wl.SORT_LABELS,
        "pcns": [(c, names.get(c, c)) for c in my_pcns], "today": today,
        "stages": standards.STAGES, "stage_labels": standards.STAGE_LABELS,
        "priorities": codes.PRIORITIES, "tf_names": codes.TREATMENT_FUNCTIONS,
        "coordinators": coordinators, "assigned": assigned, "fragment": is_htmx(request),
        "header_unread_count": unread,
    }, "results")


@router.post("/worklist/assign")
async def bulk_assign(request: Request, principal: Coordinator, app: AppDep,
                      connect: ConnDep, scope: ScopeDep, catch_up: CatchUpDep) -> Response:
    form = await request.form()
    keys = [k for k in form.getlist("pathway") if isinstance(k, str)]
    coordinator = str(form.get("coordinator") or "").strip()
    back = str(form.get("back") or "")
    back = back if back.startswith("/worklist") else "/worklist"
    path, _, query = back.partition("?")
    back = path + "?" + urlencode([(k, v) for k, v in parse_qsl(query)
                                   if k not in ("notice", "assigned")])
    # the page and the API's command alike (guardian/web/bulk_assign.py)
    problem, _ = assign_many(request, app, principal, scope, connect,
                             [parse_key(k) for k in keys], coordinator)
    sep = "&" if not back.endswith("?") else ""
    if problem is not None:
        return RedirectResponse(f"{back}{sep}notice={problem}", status_code=303)
    catch_up()
    return RedirectResponse(f"{back}{sep}assigned={len(keys)}", status_code=303)
