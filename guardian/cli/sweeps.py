"""The scheduled jobs run by hand: `guardian check-waits` (the wait-time sweep) and
`guardian check-ins` (Waiting Well check-ins), each as of a date no later than today
(docs/cli.md, docs/rules.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import typer

from guardian.cli.common import AsOfOpt, Failure, JsonOpt, command, emit, parse_day, ready_app


def _sweep(job: Callable[[Any, dt.date], Any], as_of: str | None, as_json: bool) -> None:
    """Run a job as of the date (today by default; never a date after today), and report
    its counts, or on stderr why it recorded nothing."""
    day = parse_day(as_of, "--as-of")
    guardian = ready_app()
    today = guardian.today()
    if day is not None and day > today:
        raise Failure(f"--as-of {day.isoformat()} is after today ({today.isoformat()}): a "
                      "sweep records only what has already happened")
    result = job(guardian, day or today)
    if result.skipped:
        typer.echo(f"guardian: {result.skipped}", err=True)
    emit(as_json, result.as_json(), result.describe())


@command
def check_waits(as_of: AsOfOpt = None, as_json: JsonOpt = False) -> None:
    """The wait-time sweep: record breaches and at-risk warnings due by the date."""
    from guardian.waits import check_waits as sweep

    _sweep(sweep, as_of, as_json)


@command
def check_ins(as_of: AsOfOpt = None, as_json: JsonOpt = False) -> None:
    """Record the Waiting Well check-ins due by the date (the scheduler runs it daily)."""
    from guardian.waits import check_ins as record

    _sweep(record, as_of, as_json)
