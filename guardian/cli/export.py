"""`guardian export …`: exports from the read models, today the RTT waiting list CSV for
today or any past date (docs/cli.md, docs/formats.md)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from guardian.cli.common import Failure, command, parse_day, ready_app

app = typer.Typer(help="Exports from the read models.", no_args_is_help=True)


@app.command("rtt")
@command
def export_rtt(
    as_of: Annotated[str, typer.Option("--as-of", help="YYYY-MM-DD")],
    place: Annotated[str | None, typer.Option("--place", help="a place name")] = None,
    suppress: Annotated[bool, typer.Option("--suppress", help="small numbers")] = False,
) -> None:
    """RTT waiting list CSV on stdout (docs/formats.md), for today or any past date."""
    day = parse_day(as_of, "--as-of")
    from guardian.orgs import places
    from guardian.projections.registry import runner_for
    from guardian.projections.rtt import write_rtt

    guardian = ready_app()
    if place is not None and place not in places(guardian.engine):
        raise Failure(
            f"no place {place!r}; places: {', '.join(places(guardian.engine)) or 'none'}"
        )
    runner_for(guardian).run_once()  # reports read read models: bring them up to date
    with guardian.engine.connect() as conn:
        write_rtt(conn, sys.stdout, day, place, suppress)
