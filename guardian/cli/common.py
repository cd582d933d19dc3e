"""What every `guardian` command shares: the `command` decorator that turns a command's
failures into one line on stderr and its result into the exit code (docs/cli.md "Exit
codes"), opening the application, printing text or exactly one JSON object (`--json`),
and the options and dates several commands take."""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import sys
import traceback
from collections.abc import Callable
from typing import Annotated, Any, ParamSpec

import typer

from guardian.config import Settings

P = ParamSpec("P")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print exactly one JSON object.")]
AsOfOpt = Annotated[str | None, typer.Option("--as-of", help="YYYY-MM-DD (default today)")]


class Failure(Exception):
    """A failure to report on stderr with exit code 1."""


def emit(as_json: bool, payload: dict[str, Any], text: str) -> None:
    """The command's report on stdout: the JSON object with --json, else the text."""
    if as_json:
        sys.stdout.write(json.dumps(payload, default=str) + "\n")
    else:
        sys.stdout.write(text + "\n")


def command(body: Callable[P, int | None]) -> Callable[P, None]:
    """A command's body, run so that its return value (None is 0) is the exit code and a
    failure is a message on stderr with exit code 1, never a bare traceback (docs/cli.md
    "Exit codes"); a usage error (typer.BadParameter) stays exit code 2."""

    @functools.wraps(body)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        from pydantic import ValidationError

        from guardian.application import NotInitialised
        from guardian.domain.errors import DomainError
        from guardian.ingest.ptl import MalformedExtract
        from guardian.notifications.contacts import ContactError
        from guardian.orgs import OrgFileError

        try:
            code = body(*args, **kwargs) or 0
        except typer.BadParameter:  # a usage error: typer reports it (exit code 2)
            raise
        except (Failure, MalformedExtract, NotInitialised, OrgFileError, ContactError) as e:
            typer.echo(f"guardian: {e}", err=True)
            raise typer.Exit(1) from None
        except DomainError as e:
            typer.echo(f"guardian: {e.message}", err=True)
            raise typer.Exit(1) from None
        except ValidationError as e:
            problems = "; ".join(err["msg"] for err in e.errors())
            typer.echo(f"guardian: configuration error: {problems}", err=True)
            raise typer.Exit(1) from None
        except Exception as e:  # the last line of defence: a message, never a bare traceback
            if os.environ.get("GUARDIAN_DEBUG"):
                traceback.print_exc()
            typer.echo(f"guardian: failed: {type(e).__name__}: {e}", err=True)
            raise typer.Exit(1) from None
        raise typer.Exit(code)

    return run


def open_app():
    """The application, built from the environment's settings."""
    from guardian.bootstrap import build_app

    return build_app(Settings())


def ready_app():
    """The application on a database `guardian db init` has initialised; otherwise
    NotInitialised, which says so (exit code 1)."""
    guardian = open_app()
    guardian.namespace  # noqa: B018 - fails clearly when not initialised
    return guardian


def parse_day(value: str | None, option: str) -> dt.date | None:
    """A YYYY-MM-DD option, or a usage error (exit 2) naming the option."""
    if value is None:
        return None
    from guardian.domain.errors import InvalidValue
    from guardian.ingest.ptl import parse_date

    try:
        return parse_date(value, option)
    except InvalidValue as e:
        raise typer.BadParameter(e.message, param_hint=option) from None
