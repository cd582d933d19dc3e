"""Putting data in and keeping the read models current: `guardian import-ptl` (a
waiting-list extract), `guardian demo` (the synthetic demo and its log-ins) and `guardian
project` (the read models, once, following or rebuilt) (docs/cli.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from guardian.cli.common import AsOfOpt, JsonOpt, command, emit, parse_day, ready_app


@command
def import_ptl(
    file: Path,
    as_of: AsOfOpt = None,
    full_snapshot: Annotated[bool, typer.Option("--full-snapshot")] = False,
    errors: Annotated[Path | None, typer.Option("--errors", help="errors CSV path")] = None,
    as_json: JsonOpt = False,
) -> int:
    """Import a waiting-list extract (PTL CSV)."""
    day = parse_day(as_of, "--as-of")
    from guardian.bootstrap import import_extract

    result = import_extract(ready_app(), file, day, full_snapshot, errors)
    text = (
        f"{result.rows} rows: {result.accepted} accepted, {result.unchanged} unchanged, "
        f"{result.rejected} rejected"
        + (f" (see {result.errors_file})" if result.errors_file else "")
        + (f"; {result.left_waiting_list} left the list" if full_snapshot else "")
    )
    emit(as_json, result.as_json(), text)
    return 3 if result.rejected else 0


@command
def demo(
    patients: Annotated[int, typer.Option("--patients", min=1)] = 3000,
    seed: Annotated[int, typer.Option("--seed")] = 20221,
    as_json: JsonOpt = False,
) -> None:
    """Load the synthetic Mid and South Essex demo (skipped when already loaded)."""
    from guardian.demo import load_demo
    from guardian.demo.loading import add_demo_contacts
    from guardian.users import ensure_demo_users

    guardian = ready_app()
    summary = load_demo(guardian, patients=patients, seed=seed)
    logins = ensure_demo_users(guardian.engine, guardian.settings.var_dir)
    add_demo_contacts(guardian.engine)  # so the demo's messages and digests have addresses
    summary["demo_logins"] = logins["file"]
    message = summary["message"]
    if logins["created"]:
        message += (
            f"\nDemo users created (password: {logins['password']}, shown once; also in "
            f"{logins['file']}): " + ", ".join(logins["created"])
        )
    elif logins["file"]:
        message += f"\nDemo log-ins: {logins['file']}"
    emit(as_json, summary, message)


@command
def project(
    follow: Annotated[bool, typer.Option("--follow", help="keep following new events")] = False,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="rebuild from all events")] = False,
    poll: Annotated[bool, typer.Option(
        "--poll", help="with --follow on PostgreSQL: poll instead of LISTEN/NOTIFY")] = False,
    batch_size: Annotated[int, typer.Option(
        "--batch-size", min=1, help="notifications per transaction when behind")] = 5000,
    read_models: Annotated[str | None, typer.Option(
        "--read-models", help="only these read models, comma-separated "
        "(worklist, bottlenecks, patient_search); default all")] = None,
    processes: Annotated[int | None, typer.Option(
        "--processes", min=1, help="worker processes for --rebuild and a large backlog, "
        "each taking a share of the patients (default: one per core)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Bring the read models up to date (once, following, or rebuilt from the events).

    Following on PostgreSQL wakes on the NOTIFY each write sends at commit; SQLite polls.
    Large batches catch up a backlog faster (bench/README.md, live lag); once caught up,
    each batch is just what the last writes added. A rebuild, and a backlog of more than
    100,000 events on PostgreSQL, are shared out by patient among `--processes` worker
    processes (docs/deployment.md, "The projector")."""
    import signal
    import threading

    from guardian.projections.registry import named
    from guardian.projections.runner import ProjectionRunner, default_processes

    names = [n.strip() for n in read_models.split(",")] if read_models is not None else None
    try:
        chosen = named(names)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--read-models") from None
    guardian = ready_app()
    runner = ProjectionRunner(guardian, chosen, batch_size=batch_size,
                              processes=processes or default_processes())
    processed = runner.rebuild() if rebuild else runner.run_once()
    if follow:
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        typer.echo("following new events (Ctrl-C stops)", err=True)
        runner.follow(stop, listen=False if poll else None)
    lag = runner.lag()
    emit(as_json, {"processed": processed, "lag": lag},
         f"{processed} events projected; "
         + ", ".join(f"{k} at {v['position']}" for k, v in lag.items()))
