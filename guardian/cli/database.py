"""`guardian db …`: creating or upgrading the database (`db init`) and rebuilding the
pathway index from the events (`db rebuild-index`) (docs/cli.md)."""

from __future__ import annotations

import typer

from guardian.cli.common import JsonOpt, command, emit, open_app, ready_app

app = typer.Typer(help="The database.", no_args_is_help=True)


@app.command("init")
@command
def db_init(as_json: JsonOpt = False) -> None:
    """Create the event store and every table (idempotent)."""
    from guardian.bootstrap import init_database

    init_database(open_app())
    emit(as_json, {"status": "ok"}, "database ready")


@app.command("rebuild-index")
@command
def db_rebuild_index(as_json: JsonOpt = False) -> None:
    """Rebuild the pathway index (import fingerprints) from the events."""
    n = ready_app().rebuild_pathway_index()
    emit(as_json, {"pathways": n}, f"pathway index rebuilt: {n} pathways")
