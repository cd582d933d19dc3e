"""Build the application from Settings. Nothing is wired at import time."""

from __future__ import annotations

from guardian.application import Clock, GuardianApp, system_clock
from guardian.config import Settings
from guardian.store import create_schema, ensure_sqlite_directory


def build_app(settings: Settings | None = None, clock: Clock = system_clock) -> GuardianApp:
    settings = settings or Settings()
    ensure_sqlite_directory(settings.database_url)
    return GuardianApp(settings, clock=clock)


def init_database(app: GuardianApp) -> None:
    """Create every table, read models included, and the deployment's id namespace."""
    import guardian.audit  # noqa: F401 - registers audit_log (append-only triggers)
    import guardian.projections.registry  # noqa: F401 - registers the read-model tables
    import guardian.scheduler  # noqa: F401 - registers scheduler_runs
    import guardian.users  # noqa: F401 - registers users, api_tokens, user_sessions
    import guardian.waits  # noqa: F401 - registers sweep_runs

    create_schema(app.engine, app.recorder)  # type: ignore[arg-type]
