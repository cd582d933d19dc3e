"""Build the application from Settings. Nothing is wired at import time."""

from __future__ import annotations

from guardian.application import Clock, GuardianApp, system_clock
from guardian.config import Settings
from guardian.store import create_schema, ensure_sqlite_directory


def build_app(settings: Settings | None = None, clock: Clock = system_clock) -> GuardianApp:
    settings = settings or Settings()
    ensure_sqlite_directory(settings.database_url)
    return GuardianApp(settings, clock=clock)


# Indexes of earlier versions that a newer index replaced: `guardian db init` drops them.
RETIRED_INDEXES = ("pathway_intervals_kind_place",)  # now pathway_intervals_report


def init_database(app: GuardianApp) -> None:
    """Create every table, read models included, and the deployment's id namespace."""
    import guardian.audit  # noqa: F401 - registers audit_log (append-only triggers)
    import guardian.projections.registry  # noqa: F401 - registers the read-model tables
    import guardian.scheduler  # noqa: F401 - registers scheduler_runs
    import guardian.users  # noqa: F401 - registers users, api_tokens, user_sessions
    import guardian.waits  # noqa: F401 - registers sweep_runs

    reset_changed_read_models(app)
    create_schema(app.engine, app.recorder)  # type: ignore[arg-type]
    with app.engine.begin() as conn:  # indexes a newer one replaced
        for index in RETIRED_INDEXES:
            conn.exec_driver_sql(f"DROP INDEX IF EXISTS {index}")
    guardian.users.upgrade(app.engine, app.settings.token_days)  # tokens made before expiry


def reset_changed_read_models(app: GuardianApp) -> list[str]:
    """Drop each read model whose stored tables lack a column its definition has (a newer
    version added it), with its tracking position, so that it is rebuilt from the events.

    Read models are disposable (rebuilt from the events); `CREATE TABLE` never alters a table, so an
    existing database would otherwise keep the old columns. Returns the models reset.
    """
    from sqlalchemy import inspect

    from guardian.projections.registry import all_projections
    from guardian.projections.runner import tracking

    existing = inspect(app.engine)
    names = set(existing.get_table_names())
    reset = []
    for projection in all_projections():
        tables = [t for t in projection.tables() if t.name in names]
        changed = [t for t in tables if {c.name for c in t.columns}
                   - {c["name"] for c in existing.get_columns(t.name)}]
        if not changed:
            continue
        with app.engine.begin() as conn:
            for table in tables:
                table.drop(conn)
            if tracking.name in names:
                conn.execute(tracking.delete().where(tracking.c.name == projection.name))
        reset.append(projection.name)
    return reset
