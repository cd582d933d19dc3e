"""The one way a route reaches the running app: FastAPI `Annotated` dependencies for the
GuardianApp, its read-model connections, the projection runner (read-your-writes), the
principal's worklist scope, the app's caches and its place reports. Routes never read
`request.app.state` themselves (the templates are `guardian/web/templating.py`'s); they
declare what they need:

    @router.get("/worklist")
    def worklist_page(request: Request, principal: Coordinator, app: AppDep,
                      connect: ConnDep, scope: ScopeDep) -> Response:
        with connect() as conn:             # one short connection at a time (config.py,
            rows = wl.page(conn, scope, …)  # web_threads: a request thread holds one)

`ConnDep` is `engine.connect` of the app's engine: the route opens a connection for its
reads and closes it before anything else takes one (an audit entry, a command), as the
tests check (tests/web/conftest.py, one connection per thread).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Connection

from guardian.application import GuardianApp
from guardian.projections.runner import ProjectionRunner
from guardian.projections.worklist import Scope
from guardian.web import access
from guardian.web.access import CurrentPrincipal
from guardian.web.caches import TableCache, TimedCache
from guardian.web.report_pool import pool_of
from guardian.web.reports import Reports

CATCH_UP_SECONDS = 2.0  # a request carries at most this much of a backlog

Connect = Callable[[], Connection]
CatchUp = Callable[[], bool]

# The dependencies that only look something up are coroutines: FastAPI runs them on the
# event loop, not on a request thread (config.py, web_threads).


async def guardian_app(request: Request) -> GuardianApp:
    """The GuardianApp the app was started with (guardian/web/app.py, lifespan)."""
    return request.app.state.guardian


AppDep = Annotated[GuardianApp, Depends(guardian_app)]


async def read_connections(app: AppDep) -> Connect:
    """Opens a read-model connection: `with connect() as conn: …`."""
    return app.engine.connect


ConnDep = Annotated[Connect, Depends(read_connections)]


async def projection_runner(request: Request) -> ProjectionRunner:
    return request.app.state.runner


RunnerDep = Annotated[ProjectionRunner, Depends(projection_runner)]


async def catch_up_of(runner: RunnerDep) -> CatchUp:
    """Read-your-writes: bring the read models up to the events just written, spending at
    most about 2 s (during a bulk import the follower carries the backlog, not the
    request). Call it after the write; it answers whether nothing is left behind."""
    return lambda: runner.catch_up_within(CATCH_UP_SECONDS)


CatchUpDep = Annotated[CatchUp, Depends(catch_up_of)]


async def scope_of(principal: CurrentPrincipal) -> Scope:
    """The principal's worklist scope (access.scope_for: 404 for a place lead)."""
    return access.scope_for(principal)


ScopeDep = Annotated[Scope, Depends(scope_of)]


def _kept(state: Any, name: str, make: Callable[[], Any]) -> Any:
    """The app's `name` on its state, made on first use."""
    found = getattr(state, name, None)
    if found is None:
        found = make()
        setattr(state, name, found)
    return found


async def page_cache(request: Request) -> TimedCache:
    """The app's cache of worklist reference values (guardian/web/caches.py)."""
    return _kept(request.app.state, "page_cache", TimedCache)


PageCacheDep = Annotated[TimedCache, Depends(page_cache)]


async def reports_of(request: Request) -> Reports:
    """The app's report computations: its report pool (guardian/web/report_pool.py, made
    on first use) and its cache of built tables and results (guardian/web/caches.py)."""
    state = request.app.state
    guardian = state.guardian
    return Reports(lambda: pool_of(state, guardian.engine, guardian.settings),
                   _kept(state, "report_tables", TableCache))


ReportsDep = Annotated[Reports, Depends(reports_of)]
