"""`guardian orgs load`: loading or updating the organisation reference (practice → PCN →
place) or the hospital providers' names from a CSV file, told apart by the file's header
(docs/cli.md, docs/formats.md)."""

from __future__ import annotations

from pathlib import Path

import typer

from guardian.cli.common import JsonOpt, command, emit, ready_app

app = typer.Typer(help="The organisation reference (practice → PCN → place, provider names).",
                  no_args_is_help=True)


@app.command("load")
@command
def orgs_load(file: Path, as_json: JsonOpt = False) -> None:
    """Load or update the organisation reference, or the providers' names (a file whose
    header is PROVIDER_CODE,PROVIDER_NAME), from a CSV file."""
    from guardian.orgs import (
        is_providers_file,
        load_orgs,
        load_providers,
        read_org_file,
        read_providers_file,
    )

    if is_providers_file(file):
        found = read_providers_file(file)
        n = load_providers(ready_app().engine, found)
        emit(as_json, {"providers": n}, f"loaded the names of {n} providers")
        return
    practices = read_org_file(file)
    n = load_orgs(ready_app().engine, practices)
    pcns = len({p.pcn_code for p in practices})
    places = len({p.place for p in practices})
    emit(as_json, {"practices": n, "pcns": pcns, "places": places},
         f"loaded {n} practices in {pcns} PCNs and {places} places")
