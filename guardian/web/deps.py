"""The one way a route reaches the running app: FastAPI `Annotated` dependencies for the
GuardianApp, its read-model connections, the projection runner (read-your-writes), the
principal's worklist scope, the app's caches and its report pool. Only this module reads
`request.app.state`; routes declare what they need:

    @router.get("/worklist")
    def worklist_page(request: Request, principal: Coordinator, app: AppDep,
                      connect: ConnDep, scope: ScopeDep) -> Response:
        with connect() as conn:          # one short connection at a time (config.py,
            rows = wl.page(conn, scope, …)  # web_threads: a request thread holds one)

`ConnDep` is `engine.connect` of the app's engine: the route opens a connection for its
reads and closes it before anything else takes one (an audit entry, a command), as the
tests check (tests/web/conftest.py, one connection per thread).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Connection

from guardian.application import GuardianApp
from guardian.projections.runner import ProjectionRunner
from guardian.projections.worklist import Scope
from guardian.web import access
from guardian.web.access import CurrentPrincipal
from guardian.web.caches import TableCache, TimedCache
from guardian.web.report_pool import ReportPool, pool_of

CATCH_UP_SECONDS = 2.0  # a request carries at most this much of a backlog

Connect = Callable[[], Connection]
CatchUp = Callable[[], bool]


def guardian_app(request: Request) -> GuardianApp:
    """The GuardianApp the app was started with (guardian/web/app.py, lifespan)."""
    return request.app.state.guardian


AppDep = Annotated[GuardianApp, Depends(guardian_app)]


def read_connections(app: AppDep) -> Connect:
    """Opens a read-model connection: `with connect() as conn: …`."""
    return app.engine.connect


ConnDep = Annotated[Connect, Depends(read_connections)]


def projection_runner(request: Request) -> ProjectionRunner:
    return request.app.state.runner


RunnerDep = Annotated[ProjectionRunner, Depends(projection_runner)]


def catch_up_of(runner: RunnerDep) -> CatchUp:
    """Read-your-writes: bring the read models up to the events just written, spending at
    most about 2 s (during a bulk import the follower carries the backlog, not the
    request). Call it after the write; it answers whether nothing is left behind."""
    return lambda: runner.catch_up_within(CATCH_UP_SECONDS)


CatchUpDep = Annotated[CatchUp, Depends(catch_up_of)]


def scope_of(principal: CurrentPrincipal) -> Scope:
    """The principal's worklist scope (access.scope_for: 404 for a place lead)."""
    return access.scope_for(principal)


ScopeDep = Annotated[Scope, Depends(scope_of)]


def page_cache(request: Request) -> TimedCache:
    """The app's cache of worklist reference values (guardian/web/caches.py)."""
    state = request.app.state
    found = getattr(state, "page_cache", None)
    if found is None:
        found = state.page_cache = TimedCache()
    return found


PageCacheDep = Annotated[TimedCache, Depends(page_cache)]


def table_cache(request: Request) -> TableCache:
    """The app's cache of built report tables and results (guardian/web/caches.py)."""
    state = request.app.state
    found = getattr(state, "report_tables", None)
    if found is None:
        found = state.report_tables = TableCache()
    return found


TableCacheDep = Annotated[TableCache, Depends(table_cache)]


def report_pool(request: Request, app: AppDep) -> ReportPool:
    """The app's report pool (guardian/web/report_pool.py), made on first use."""
    return pool_of(request.app.state, app.engine, app.settings)


ReportPoolDep = Annotated[ReportPool, Depends(report_pool)]
