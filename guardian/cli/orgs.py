"""`guardian orgs load`: loading or updating the organisation reference (practice → PCN →
place) from a CSV file (docs/cli.md, docs/formats.md)."""

from __future__ import annotations

from pathlib import Path

import typer

from guardian.cli.common import JsonOpt, command, emit, ready_app

app = typer.Typer(help="The organisation reference (practice → PCN → place).",
                  no_args_is_help=True)


@app.command("load")
@command
def orgs_load(file: Path, as_json: JsonOpt = False) -> None:
    """Load or update the organisation reference from a CSV file."""
    from guardian.orgs import load_orgs, read_org_file

    practices = read_org_file(file)
    n = load_orgs(ready_app().engine, practices)
    pcns = len({p.pcn_code for p in practices})
    places = len({p.place for p in practices})
    emit(as_json, {"practices": n, "pcns": pcns, "places": places},
         f"loaded {n} practices in {pcns} PCNs and {places} places")
