"""The `guardian` command line (docs/cli.md).

Exit codes: 0 success; 1 failure (message on stderr, nothing half-written); 2 usage error;
3 completed but some input rows were rejected.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from guardian.config import Settings

app = typer.Typer(
    help="Guardian: case management for referred-but-not-seen patients.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The database.", no_args_is_help=True)
orgs_app = typer.Typer(help="The organisation reference (practice → PCN → place).",
                       no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(orgs_app, name="orgs")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print exactly one JSON object.")]
log = logging.getLogger("guardian")


class Failure(Exception):
    """A failure to report on stderr with exit code 1."""


def _emit(as_json: bool, payload: dict[str, Any], text: str) -> None:
    if as_json:
        sys.stdout.write(json.dumps(payload, default=str) + "\n")
    else:
        sys.stdout.write(text + "\n")


def _run(action: Callable[[], int | None]) -> None:
    """Run a command body, turning known failures into a message and exit code 1."""
    from pydantic import ValidationError

    from guardian.application import NotInitialised
    from guardian.domain.errors import DomainError
    from guardian.ingest.ptl_csv import MalformedExtract
    from guardian.orgs import OrgFileError

    try:
        code = action() or 0
    except (Failure, MalformedExtract, NotInitialised, OrgFileError) as e:
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


def _app():
    from guardian.bootstrap import build_app

    return build_app(Settings())


def _parse_day(value: str | None, option: str) -> dt.date | None:
    """A YYYY-MM-DD option, or a usage error (exit 2) naming the option."""
    if value is None:
        return None
    from guardian.domain.errors import InvalidValue
    from guardian.ingest.ptl_csv import parse_date

    try:
        return parse_date(value, option)
    except InvalidValue as e:
        raise typer.BadParameter(e.message, param_hint=option) from None


# ---------------------------------------------------------------------------- db
@db_app.command("init")
def db_init(as_json: JsonOpt = False) -> None:
    """Create the event store and every table (idempotent)."""

    def body() -> None:
        from guardian.bootstrap import init_database

        guardian = _app()
        init_database(guardian)
        _emit(as_json, {"status": "ok"}, "database ready")

    _run(body)


@db_app.command("rebuild-index")
def db_rebuild_index(as_json: JsonOpt = False) -> None:
    """Rebuild the pathway index (import fingerprints) from the events."""

    def body() -> None:
        guardian = _app()
        guardian.namespace  # noqa: B018
        n = guardian.rebuild_pathway_index()
        _emit(as_json, {"pathways": n}, f"pathway index rebuilt: {n} pathways")

    _run(body)


# ---------------------------------------------------------------------------- orgs
@orgs_app.command("load")
def orgs_load(file: Path, as_json: JsonOpt = False) -> None:
    """Load or update the organisation reference from a CSV file."""

    def body() -> None:
        from guardian.orgs import load_orgs, read_org_file

        practices = read_org_file(file)
        guardian = _app()
        guardian.namespace  # noqa: B018 - fails clearly when not initialised
        n = load_orgs(guardian.engine, practices)
        pcns = len({p.pcn_code for p in practices})
        places = len({p.place for p in practices})
        _emit(as_json, {"practices": n, "pcns": pcns, "places": places},
              f"loaded {n} practices in {pcns} PCNs and {places} places")

    _run(body)


# ---------------------------------------------------------------------------- users
users_app = typer.Typer(help="Users, their roles and API tokens.", no_args_is_help=True)
app.add_typer(users_app, name="users")


EmailOpt = Annotated[str, typer.Option("--email", help="the user's e-mail address")]
PasswordStdinOpt = Annotated[
    bool, typer.Option("--password-stdin", help="read the password from standard input")
]


def _origin(command: str):
    """Who changed an account, for the audit log: the command line, the command and the
    operating-system user who ran it."""
    import getpass

    from guardian.users import Origin

    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (some containers)
        who = f"uid {os.getuid()}"
    return Origin("cli", f"guardian users {command} (run by {who})")


def _password_from_stdin() -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise Failure("no password on standard input (--password-stdin)")
    return password


def _users_command(work: Callable[[Any], None]) -> None:
    """Run a `guardian users …` body on an initialised database; a UserError is exit 1."""

    def body() -> None:
        from guardian.users import UserError

        guardian = _app()
        guardian.namespace  # noqa: B018 - fails clearly when not initialised
        try:
            work(guardian)
        except UserError as e:
            raise Failure(str(e)) from None

    _run(body)


@users_app.command("add")
def users_add(
    email: EmailOpt,
    role: Annotated[str, typer.Option("--role", help="coordinator, gp, place-lead or admin")],
    org: Annotated[
        list[str] | None,
        typer.Option("--org", help="PCN code (coordinator, repeatable), practice code (gp) "
                     "or place name (place-lead); none for admin"),
    ] = None,
    password_stdin: PasswordStdinOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Create a user; without --password-stdin a password is generated and printed once."""

    def work(guardian) -> None:
        from guardian.users import add_user

        password = _password_from_stdin() if password_stdin else None
        user, generated = add_user(guardian.engine, email, role, org or [], password,
                                   origin=_origin("add"))
        payload: dict[str, Any] = {"email": user.email, "role": user.role,
                                   "orgs": list(user.orgs)}
        text = f"created {user.role} {user.email}" + (
            f" ({', '.join(user.orgs)})" if user.orgs else ""
        )
        if generated:
            payload["password"] = generated
            text += f"\npassword (shown once): {generated}"
        _emit(as_json, payload, text)

    _users_command(work)


@users_app.command("token")
def users_token(email: EmailOpt, as_json: JsonOpt = False) -> None:
    """Print a new API bearer token for the user (alone on stdout; stored only as a hash).
    It expires after GUARDIAN_TOKEN_DAYS days (default 90)."""

    def work(guardian) -> None:
        from guardian.users import create_token

        token = create_token(guardian.engine, email, days=guardian.settings.token_days,
                             origin=_origin("token"))
        _emit(as_json, {"token": token}, token)

    _users_command(work)


@users_app.command("list")
def users_list(as_json: JsonOpt = False) -> None:
    """Every user: role, orgs, enabled, last sign-in, live tokens and sessions."""

    def work(guardian) -> None:
        from guardian.users import accounts

        found = accounts(guardian.engine)
        lines = [f"{'e-mail':<32} {'role':<12} {'enabled':<8} {'last sign-in':<17} "
                 f"{'tokens':>6} {'sessions':>8}  orgs"]
        for a in found:
            seen = a.last_sign_in.strftime("%Y-%m-%d %H:%M") if a.last_sign_in else "never"
            lines.append(f"{a.user.email:<32} {a.user.role:<12} "
                         f"{'yes' if a.enabled else 'no':<8} {seen:<17} {a.tokens:>6} "
                         f"{a.sessions:>8}  {', '.join(a.user.orgs) or '-'}")
        if not found:
            lines = ["no users yet: guardian users add --email E --role R"]
        _emit(as_json, {"users": [a.as_json() for a in found]}, "\n".join(lines))

    _users_command(work)


def _change_json(change) -> dict[str, Any]:
    return {"email": change.email, "changed": change.changed,
            "sessions_ended": change.sessions_ended, "tokens_revoked": change.tokens_revoked}


def _ended(change) -> str:
    return (f"{change.sessions_ended} session{'s' * (change.sessions_ended != 1)} ended, "
            f"{change.tokens_revoked} token{'s' * (change.tokens_revoked != 1)} revoked")


@users_app.command("disable")
def users_disable(email: EmailOpt, as_json: JsonOpt = False) -> None:
    """Disable a user: no sign-in, no token; their sessions and tokens end at once. The
    last enabled admin cannot be disabled."""

    def work(guardian) -> None:
        from guardian.users import disable_user

        change = disable_user(guardian.engine, email, origin=_origin("disable"))
        text = (f"disabled {change.email}: {_ended(change)}" if change.changed
                else f"{change.email} was already disabled")
        _emit(as_json, {**_change_json(change), "enabled": False}, text)

    _users_command(work)


@users_app.command("enable")
def users_enable(email: EmailOpt, as_json: JsonOpt = False) -> None:
    """Let a disabled user sign in again (their old tokens stay revoked)."""

    def work(guardian) -> None:
        from guardian.users import enable_user

        change = enable_user(guardian.engine, email, origin=_origin("enable"))
        text = (f"enabled {change.email}" if change.changed
                else f"{change.email} was already enabled")
        _emit(as_json, {"email": change.email, "changed": change.changed, "enabled": True},
              text)

    _users_command(work)


@users_app.command("reset-password")
def users_reset_password(email: EmailOpt, password_stdin: PasswordStdinOpt = False,
                         as_json: JsonOpt = False) -> None:
    """Set a new password (generated and printed once without --password-stdin); the
    user's sessions and tokens end at once."""

    def work(guardian) -> None:
        from guardian.users import reset_password

        password = _password_from_stdin() if password_stdin else None
        change = reset_password(guardian.engine, email, password,
                                origin=_origin("reset-password"))
        payload = _change_json(change)
        text = f"new password for {change.email}: {_ended(change)}"
        if change.password:
            payload["password"] = change.password
            text += f"\npassword (shown once): {change.password}"
        _emit(as_json, payload, text)

    _users_command(work)


@users_app.command("revoke-token")
def users_revoke_token(
    email: EmailOpt,
    every: Annotated[bool, typer.Option("--all", help="revoke every token of the user")] = False,
    token_stdin: Annotated[bool, typer.Option(
        "--token-stdin", help="revoke the token given on standard input")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Revoke a user's API token: their only live token, or with --token-stdin the one on
    standard input; --all revokes every one. It stops working at once."""
    if every and token_stdin:
        raise typer.BadParameter("choose --all or --token-stdin, not both",
                                 param_hint="--all")

    def work(guardian) -> None:
        from guardian.users import revoke_tokens

        token = None
        if token_stdin:
            token = sys.stdin.readline().strip()
            if not token:
                raise Failure("no token on standard input (--token-stdin)")
        change = revoke_tokens(guardian.engine, email, token, every=every,
                               origin=_origin("revoke-token"))
        n = change.tokens_revoked
        _emit(as_json, {"email": change.email, "tokens_revoked": n},
              f"{n} token{'s' * (n != 1)} of {change.email} revoked")

    _users_command(work)


# ---------------------------------------------------------------------------- import
@app.command("import-ptl")
def import_ptl(
    file: Path,
    as_of: Annotated[str | None, typer.Option("--as-of", help="YYYY-MM-DD (default today)")] = None,
    full_snapshot: Annotated[bool, typer.Option("--full-snapshot")] = False,
    errors: Annotated[Path | None, typer.Option("--errors", help="errors CSV path")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Import a waiting-list extract (PTL CSV)."""
    day = _parse_day(as_of, "--as-of")

    def body() -> int:
        from guardian.ingest.ptl_csv import import_extract

        guardian = _app()
        guardian.namespace  # noqa: B018
        result = import_extract(guardian, file, day, full_snapshot, errors)
        text = (
            f"{result.rows} rows: {result.accepted} accepted, {result.unchanged} unchanged, "
            f"{result.rejected} rejected"
            + (f" (see {result.errors_file})" if result.errors_file else "")
            + (f"; {result.left_waiting_list} left the list" if full_snapshot else "")
        )
        _emit(as_json, result.as_json(), text)
        return 3 if result.rejected else 0

    _run(body)


# ---------------------------------------------------------------------------- demo
@app.command("demo")
def demo(
    patients: Annotated[int, typer.Option("--patients", min=1)] = 3000,
    seed: Annotated[int, typer.Option("--seed")] = 20221,
    as_json: JsonOpt = False,
) -> None:
    """Load the synthetic Mid and South Essex demo (skipped when already loaded)."""

    def body() -> None:
        from guardian.demo import load_demo

        guardian = _app()
        guardian.namespace  # noqa: B018
        summary = load_demo(guardian, patients=patients, seed=seed)
        from guardian.users import ensure_demo_users

        logins = ensure_demo_users(guardian.engine, guardian.settings.var_dir)
        summary["demo_logins"] = logins["file"]
        message = summary["message"]
        if logins["created"]:
            message += (
                f"\nDemo users created (password: {logins['password']}, shown once; also in "
                f"{logins['file']}): " + ", ".join(logins["created"])
            )
        elif logins["file"]:
            message += f"\nDemo log-ins: {logins['file']}"
        _emit(as_json, summary, message)

    _run(body)


# ---------------------------------------------------------------------------- project
@app.command("project")
def project(
    follow: Annotated[bool, typer.Option("--follow", help="keep following new events")] = False,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="rebuild from all events")] = False,
    poll: Annotated[bool, typer.Option(
        "--poll", help="with --follow on PostgreSQL: poll instead of LISTEN/NOTIFY")] = False,
    batch_size: Annotated[int, typer.Option(
        "--batch-size", min=1, help="notifications per transaction when behind")] = 5000,
    as_json: JsonOpt = False,
) -> None:
    """Bring the read models up to date (once, following, or rebuilt from the events).

    Following on PostgreSQL wakes on the NOTIFY each write sends at commit; SQLite polls.
    Large batches catch up a backlog faster (bench/README.md, live lag); once caught up,
    each batch is just what the last writes added."""

    def body() -> None:
        import signal
        import threading

        from guardian.projections.registry import runner_for

        guardian = _app()
        guardian.namespace  # noqa: B018
        runner = runner_for(guardian, batch_size=batch_size)
        processed = runner.rebuild() if rebuild else runner.run_once()
        if follow:
            stop = threading.Event()
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
            typer.echo("following new events (Ctrl-C stops)", err=True)
            runner.follow(stop, listen=False if poll else None)
        lag = runner.lag()
        _emit(as_json, {"processed": processed, "lag": lag},
              f"{processed} events projected; "
              + ", ".join(f"{k} at {v['position']}" for k, v in lag.items()))

    _run(body)


# ---------------------------------------------------------------------------- export
export_app = typer.Typer(help="Exports from the read models.", no_args_is_help=True)
app.add_typer(export_app, name="export")


@export_app.command("rtt")
def export_rtt(
    as_of: Annotated[str, typer.Option("--as-of", help="YYYY-MM-DD")],
    place: Annotated[str | None, typer.Option("--place", help="a place name")] = None,
    suppress: Annotated[bool, typer.Option("--suppress", help="small numbers")] = False,
) -> None:
    """RTT waiting list CSV on stdout (docs/formats.md), for today or any past date."""
    day = _parse_day(as_of, "--as-of")

    def body() -> None:
        from guardian.orgs import places
        from guardian.projections.registry import runner_for
        from guardian.projections.rtt import write_rtt

        guardian = _app()
        guardian.namespace  # noqa: B018
        if place is not None and place not in places(guardian.engine):
            raise Failure(
                f"no place {place!r}; places: {', '.join(places(guardian.engine)) or 'none'}"
            )
        runner_for(guardian).run_once()  # reports read read models: bring them up to date
        with guardian.engine.connect() as conn:
            write_rtt(conn, sys.stdout, day, place, suppress)

    _run(body)


# ---------------------------------------------------------------------------- waits
AsOfOpt = Annotated[str | None, typer.Option("--as-of", help="YYYY-MM-DD (default today)")]


def _sweep_day(guardian, day: dt.date | None) -> dt.date:
    today = guardian.today()
    if day is not None and day > today:
        raise Failure(f"--as-of {day.isoformat()} is after today ({today.isoformat()}): a "
                      "sweep records only what has already happened")
    return day or today


@app.command("check-waits")
def check_waits(as_of: AsOfOpt = None, as_json: JsonOpt = False) -> None:
    """The wait-time sweep: record breaches and at-risk warnings due by the date."""
    day = _parse_day(as_of, "--as-of")

    def body() -> None:
        from guardian.waits import check_waits as sweep

        guardian = _app()
        guardian.namespace  # noqa: B018
        result = sweep(guardian, _sweep_day(guardian, day))
        if result.skipped:
            typer.echo(f"guardian: {result.skipped}", err=True)
        _emit(as_json, result.as_json(), result.describe())

    _run(body)


@app.command("check-ins")
def check_ins(as_of: AsOfOpt = None, as_json: JsonOpt = False) -> None:
    """Record the Waiting Well check-ins due by the date (the scheduler runs it daily)."""
    day = _parse_day(as_of, "--as-of")

    def body() -> None:
        from guardian.waits import check_ins as record

        guardian = _app()
        guardian.namespace  # noqa: B018
        result = record(guardian, _sweep_day(guardian, day))
        if result.skipped:
            typer.echo(f"guardian: {result.skipped}", err=True)
        _emit(as_json, result.as_json(), result.describe())

    _run(body)


@app.command("scheduler")
def scheduler() -> None:
    """Run the scheduled jobs; only one scheduler acts per database, others stand by."""

    def body() -> int:
        from guardian.scheduler import run

        return run(Settings())

    _run(body)


# ---------------------------------------------------------------------------- serve
@app.command("serve")
def serve(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    workers: Annotated[int, typer.Option("--workers", min=1)] = 1,
) -> None:
    """Serve the web app and API."""

    def body() -> None:
        import uvicorn

        settings = Settings()
        guardian = _app()
        guardian.namespace  # noqa: B018 - refuse to start on an uninitialised database
        # serve first brings the read models up to date, docs/cli.md (then, on SQLite the
        # in-process follower, on PostgreSQL `guardian project --follow`, keeps them so).
        from guardian.projections.registry import runner_for

        caught_up = runner_for(guardian).run_once()
        if caught_up:
            typer.echo(f"read models brought up to date ({caught_up} notifications)")
        guardian.close()
        if settings.is_sqlite:  # one process shows the whole system (docs/deployment.md)
            from guardian.scheduler import start_in_thread

            start_in_thread(settings)
        typer.echo(f"Guardian on http://{host}:{port}/  (database {settings.database_url})")
        uvicorn.run(
            "guardian.web.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="info",
            # Proxy headers are believed only from GUARDIAN_TRUSTED_PROXIES, by the app
            # itself (guardian/web/app.py): uvicorn's own rule would trust 127.0.0.1.
            proxy_headers=False,
        )

    _run(body)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    app()


if __name__ == "__main__":
    main()
