"""create_app: the FastAPI application, built from Settings (nothing wired at import time)."""

from __future__ import annotations

import logging
import threading
from contextlib import asynccontextmanager
from pathlib import Path

import anyio.to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from guardian.application import GuardianApp
from guardian.bootstrap import build_app
from guardian.config import Settings
from guardian.projections import store_queries
from guardian.projections.registry import runner_for
from guardian.projections.report_queries import event_head
from guardian.web import access, api, auth, docs, fhir, rate_limit, request_ids
from guardian.web.body_limits import BodyLimits
from guardian.web.deps import AppDep, RunnerDep
from guardian.web.inputs import refuse_bad_text
from guardian.web.routes import (
    actions,
    admin_outbox,
    admin_users,
    gp,
    inbox,
    letters,
    my,
    my_oidc,
    patient,
    search,
    worklist,
    worklist_export,
)
from guardian.web.routes import help as help_pages
from guardian.web.routes import reports as report_pages
from guardian.web.templating import make_templates
from guardian.web.warm import warm_up

HERE = Path(__file__).parent
log = logging.getLogger("guardian.web")

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


class SecurityHeaders:
    """The security headers on every answer that does not set its own (a plain ASGI
    middleware: no task and no streaming wrapper per request)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.headers = [(k.lower().encode("latin-1"), v.encode("latin-1"))
                        for k, v in SECURITY_HEADERS.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                missing = [(k, v) for k, v in self.headers if k not in present]
                if missing:
                    message = {**message,
                               "headers": [*message.get("headers", []), *missing]}
            await send(message)

        await self.app(scope, receive, with_headers)


def store_counts(guardian: GuardianApp) -> dict[str, int]:
    """Whole-store counts for the start page (admins only): no patient-level data."""
    with guardian.engine.connect() as conn:
        return store_queries.store_counts(conn)


def is_admin(request: Request) -> bool:
    """Whether a signed-in admin (session or bearer token) is asking: only they see
    whole-store figures and the scheduler's runners. Anyone else, with or without
    credentials, is answered as anonymous (never 401: these pages are for everyone)."""
    principal = access.peek(request)
    return principal is not None and principal.is_admin


def create_app(settings: Settings | None = None, follow_events: bool = True) -> FastAPI:
    settings = settings or Settings()
    request_ids.install_logging()  # every log record carries its request's id
    templates = make_templates()
    inbox.install(templates)  # the header's unread count (guardian/web/routes/inbox.py)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # Route handlers run on the thread pool: as many at once as the database pool has
        # connections (config.py, web_threads); more wait their turn in the event loop.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.web_threads
        guardian = build_app(settings)
        app.state.guardian = guardian
        app.state.runner = runner_for(guardian)
        if settings.web_warm_up:  # guardian/web/warm.py
            await anyio.to_thread.run_sync(warm_up, app, templates)
        stop = threading.Event()
        follower = None
        if settings.is_sqlite and follow_events:
            # One process shows the whole system on SQLite (docs/deployment.md); on PostgreSQL
            # `guardian project --follow` runs as its own process.
            follower = threading.Thread(
                target=app.state.runner.follow, args=(stop,), name="projector", daemon=True
            )
            follower.start()
            # and the notification dispatcher (on PostgreSQL: `guardian notify --follow`)
            from guardian.notifications.dispatcher import Dispatcher

            sender = threading.Thread(target=Dispatcher(guardian).follow, args=(stop,),
                                      name="notifications", daemon=True)
            sender.start()
        try:
            yield
        finally:
            stop.set()
            if follower is not None:
                follower.join(timeout=10)
                sender.join(timeout=10)
            pool = getattr(app.state, "report_pool", None)  # guardian/web/report_pool.py
            if pool is not None:
                pool.close()
            guardian.close()

    app = FastAPI(
        title="Guardian",
        description="Case management for an NHS Guardian Service: referred-but-not-seen "
        "patients, PCN worklists and place-level pathway bottlenecks.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # /docs is served from the vendored Swagger UI (guardian/web/docs.py)
        redoc_url=None,
        # Every path, query and form value goes through the one text rule first (docs/api.md).
        dependencies=[Depends(refuse_bad_text)],
    )
    app.state.templates = templates
    app.add_middleware(BodyLimits, max_bytes=settings.max_body_bytes)  # 413, 415
    app.add_middleware(SecurityHeaders)
    if settings.proxies:
        # The one rule for client addresses (docs/access.md "Client addresses"): only a
        # configured proxy's X-Forwarded-For / X-Forwarded-Proto are believed; they set
        # request.client (access.client_of, the audit log, the sign-in throttle) and the
        # scheme (Secure cookies). `guardian serve` turns uvicorn's own handling off.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.proxies)
    # Outermost but for compression: every answer, the 413s and 415s included, carries the
    # request id (guardian/web/request_ids.py); bodies are compressed last.
    app.add_middleware(request_ids.RequestIds)
    # Level 1: a 95 KB worklist page in 0.45 ms on the benchmark machine, against 0.9 ms at
    # level 4 and 1.5 ms at the default 9, for an answer about 15 % larger (9.6 KB against
    # 8.3 KB): the bytes saved are worth less than the CPU (bench/README.md, the web layer's
    # cost).
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=1)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    auth.install(app)  # sign-in/out, admin pages, 401/403/404 answers (guardian/web/access.py)
    app.include_router(docs.router)
    for pages in (worklist, worklist_export, patient, actions, gp, search,
                  admin_users, inbox, letters, admin_outbox, my, my_oidc):  # guardian/web/routes/
        app.include_router(pages.router)
    my.install(app)  # a patient page without a session: to the patients' sign-in
    app.include_router(api.router)  # the JSON API under /api/v1 (guardian/web/api/)
    app.include_router(fhir.router)  # FHIR R4 under /fhir/R4 (guardian/web/fhir/)
    app.include_router(report_pages.router)  # place-lead reports and CSVs
    app.include_router(help_pages.router)  # the glossary

    @app.exception_handler(rate_limit.TooManyRequests)
    async def too_many(request: Request, exc: Exception):
        assert isinstance(exc, rate_limit.TooManyRequests)
        return JSONResponse({"detail": exc.detail, "limit_per_minute": exc.limit,
                             "retry_after": exc.retry_after}, status_code=429,
                            headers=exc.headers)

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception):
        ref = request_ids.of(request)  # the reference given is the request id
        log.exception("unhandled error %s on %s %s", ref, request.method, request.url.path)
        # Starlette answers an unhandled error outside the middleware stack: the security
        # headers and the request id are set here too.
        headers = {**SECURITY_HEADERS, request_ids.HEADER: ref}
        if request.url.path.startswith(("/api/", "/healthz")):
            return JSONResponse(
                {"detail": "internal error", "reference": ref, "request_id": ref},
                status_code=500, headers=headers,
            )
        return templates.TemplateResponse(
            request, "error.html", {"reference": ref}, status_code=500, headers=headers,
        )

    @app.get("/healthz", tags=["operations"])
    def healthz(request: Request, guardian: AppDep, runner: RunnerDep) -> JSONResponse:
        """200 when the database answers, with each read model's lag; 503 otherwise. Signed-in
        admins (session or bearer token) also get the store position, the database kind,
        read-model positions and the scheduler's last runs (docs/api.md)."""
        try:
            with guardian.engine.connect() as conn:
                position = event_head(conn)
            lag = runner.lag()
        except Exception as e:  # the database does not answer or is not initialised
            log.warning("health check failed: %s", e)
            return JSONResponse(
                {"status": "unavailable", "detail": "the database does not answer"},
                status_code=503,
            )
        if not is_admin(request):
            return JSONResponse({"status": "ok", "read_models": {
                name: {"events_behind": m["events_behind"],
                       "seconds_behind": m["seconds_behind"]}
                for name, m in lag.items()}})
        try:  # the scheduler's last runs and projection-lag watch (docs/api.md)
            from guardian.job_runs import status as scheduler_status

            scheduler = scheduler_status(guardian.engine)
        except Exception as e:  # e.g. a database initialised before the scheduler existed
            log.warning("scheduler status unavailable: %s", e)
            scheduler = None
        return JSONResponse(
            {"status": "ok", "database": guardian.engine.dialect.name,
             "events": int(position or 0), "read_models": lag, "scheduler": scheduler}
        )

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def start(request: Request, guardian: AppDep):
        counts = store_counts(guardian) if is_admin(request) else None
        return templates.TemplateResponse(request, "start.html", {"counts": counts})

    return app
