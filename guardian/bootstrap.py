"""Build the application from Settings, and wire what needs more than one layer: the PTL
import paced to the read models' live follower. Nothing is wired at import time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from guardian.application import Clock, GuardianApp, system_clock
from guardian.config import Settings
from guardian.ingest import ptl
from guardian.orgs import add_shipped_providers
from guardian.projections.pacing import LIVE_BATCH_SIZE, Pacer
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
    import guardian.job_runs  # noqa: F401 - registers scheduler_runs
    import guardian.notifications.schema  # noqa: F401 - registers the outbox and its tables
    import guardian.patient_access.schema  # noqa: F401 - registers patients' codes, sessions
    import guardian.projections.registry  # noqa: F401 - registers the read-model tables
    import guardian.users  # noqa: F401 - registers users, api_tokens, user_sessions
    import guardian.waits  # noqa: F401 - registers sweep_runs

    reset_changed_read_models(app)
    create_schema(app.engine, app.recorder)  # type: ignore[arg-type]
    record_read_model_versions(app)
    with app.engine.begin() as conn:  # indexes a newer one replaced
        for index in RETIRED_INDEXES:
            conn.exec_driver_sql(f"DROP INDEX IF EXISTS {index}")
    guardian.users.upgrade(app.engine, app.settings.token_days)  # tokens made before expiry
    add_shipped_providers(app.engine)  # the trusts' names it lacks (docs/cli.md)


def reset_changed_read_models(app: GuardianApp) -> list[str]:
    """Drop each read model whose stored tables lack a column its definition has, or whose
    rows were made by an earlier `version` of it (rows of a kind it did not make then),
    with its tracking position, so that it is rebuilt from the events.

    Read models are disposable (rebuilt from the events); `CREATE TABLE` never alters a
    table, so an existing database would otherwise keep the old columns and rows. The
    version each read model's rows were made by is kept in `guardian_meta`. Returns the
    models reset.
    """
    from sqlalchemy import inspect, select

    from guardian.projections.registry import all_projections
    from guardian.projections.tracking import tracking
    from guardian.store import meta_table

    existing = inspect(app.engine)
    names = set(existing.get_table_names())
    made_by: dict[str, str] = {}
    if meta_table.name in names:
        with app.engine.connect() as conn:
            made_by = {k: v for k, v in conn.execute(select(meta_table.c.key, meta_table.c.value))
                       if k.startswith("read-model-version:")}
    reset = []
    for projection in all_projections():
        tables = [t for t in projection.tables() if t.name in names]
        changed = [t for t in tables if {c.name for c in t.columns}
                   - {c["name"] for c in existing.get_columns(t.name)}]
        stored = made_by.get(f"read-model-version:{projection.name}", "1")
        if tables and (changed or stored != str(projection.version)):
            with app.engine.begin() as conn:
                for table in tables:
                    table.drop(conn)
                if tracking.name in names:
                    conn.execute(tracking.delete().where(tracking.c.name == projection.name))
            reset.append(projection.name)
    return reset


def record_read_model_versions(app: GuardianApp) -> None:
    """Remember which version of each read model its rows are made by (see above)."""
    from guardian.projections.registry import all_projections
    from guardian.store import dialect_insert, meta_table

    with app.engine.begin() as conn:
        for projection in all_projections():
            stmt = dialect_insert(conn, meta_table).values(
                key=f"read-model-version:{projection.name}", value=str(projection.version))
            conn.execute(stmt.on_conflict_do_update(index_elements=["key"],
                                                    set_={"value": stmt.excluded.value}))


def import_extract(app: GuardianApp, path: Path, *args: Any, **kwargs: Any) -> ptl.ImportResult:
    """The PTL import (guardian.ingest.ptl.import_extract, with its arguments) paced to a
    live follower of the read models: batches of LIVE_BATCH_SIZE rows, each once the read
    models have caught up, and no waiting at all while no follower is present
    (docs/deployment.md)."""
    pacing = ptl.Pacing(Pacer, LIVE_BATCH_SIZE)
    return ptl.import_extract(app, path, *args, pacing=pacing, **kwargs)
