"""The long-running processes: `guardian scheduler` (the scheduled jobs, one scheduler
acting per database) and `guardian serve` (the web app and API, after bringing the read
models up to date) (docs/cli.md, docs/deployment.md)."""

from __future__ import annotations

from typing import Annotated

import typer

from guardian.cli.common import command, ready_app
from guardian.config import Settings


@command
def scheduler() -> int:
    """Run the scheduled jobs; only one scheduler acts per database, others stand by."""
    from guardian.scheduler import run

    return run(Settings())


@command
def serve(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    workers: Annotated[int, typer.Option("--workers", min=1)] = 1,
) -> None:
    """Serve the web app and API."""
    import uvicorn

    from guardian.projections.registry import runner_for

    settings = Settings()
    guardian = ready_app()  # refuse to start on an uninitialised database
    # serve first brings the read models up to date, docs/cli.md (then, on SQLite the
    # in-process follower, on PostgreSQL `guardian project --follow`, keeps them so).
    caught_up = runner_for(guardian).run_once()
    if caught_up:
        typer.echo(f"read models brought up to date ({caught_up} notifications)")
    guardian.close()
    if settings.is_sqlite:  # one process shows the whole system (docs/deployment.md)
        from guardian.scheduler import start_in_thread

        start_in_thread(settings)
    typer.echo(f"Guardian on http://{host}:{port}/  (database {settings.database_url})")
    from guardian.web.request_ids import uvicorn_log_config

    uvicorn.run(
        "guardian.web.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        # each line with its request id; the access log only when GUARDIAN_ACCESS_LOG is on
        log_config=uvicorn_log_config(),
        access_log=settings.access_log,
        # Proxy headers are believed only from GUARDIAN_TRUSTED_PROXIES, by the app
        # itself (guardian/web/app.py): uvicorn's own rule would trust 127.0.0.1.
        proxy_headers=False,
    )
