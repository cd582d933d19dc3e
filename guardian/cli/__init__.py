"""The `guardian` command line (docs/cli.md): the root Typer `app`, `main` (the console
script `guardian`, and `python -m guardian.cli`), and the place where every command is
named, in the order `guardian --help` lists them. Each group of commands lives in a module
of its own: `database` (db), `orgs`, `accounts` (users), `loading` (import-ptl, demo,
project), `export`, `sweeps` (check-waits, check-ins) and `service` (scheduler, serve);
`common` holds what they share (exit codes, --json, opening the application).

Exit codes: 0 success; 1 failure (message on stderr, nothing half-written); 2 usage error;
3 completed but some input rows were rejected.
"""

from __future__ import annotations

import logging

import typer

from guardian.cli import accounts, database, export, loading, mail, notify, orgs, service, sweeps

app = typer.Typer(
    help="Guardian: case management for referred-but-not-seen patients.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(database.app, name="db")
app.add_typer(orgs.app, name="orgs")
app.add_typer(accounts.app, name="users")
app.command("import-ptl")(loading.import_ptl)
app.command("demo")(loading.demo)
app.command("project")(loading.project)
app.add_typer(export.app, name="export")
app.command("check-waits")(sweeps.check_waits)
app.command("check-ins")(sweeps.check_ins)
app.command("notify")(notify.notify)
app.add_typer(notify.contacts, name="contacts")
app.add_typer(notify.webhooks, name="webhooks")
app.add_typer(mail.app, name="mail")
app.command("scheduler")(service.scheduler)
app.command("serve")(service.serve)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    app()
