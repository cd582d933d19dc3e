"""`guardian notify [--follow]` (send the notifications that are due, once or following),
`guardian contacts set|list` (the e-mail addresses of practices and hospitals, and the
practices' weekly digest) and `guardian webhooks add|list|remove` (docs/cli.md,
docs/notifications.md)."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from typing import Annotated

import typer
from sqlalchemy import delete, select

from guardian.cli.common import Failure, JsonOpt, command, emit, ready_app


@command
def notify(
    follow: Annotated[bool, typer.Option("--follow", help="keep sending as they fall due")
                      ] = False,
    poll: Annotated[float, typer.Option("--poll", min=0.05,
                                        help="with --follow: seconds between rounds")] = 1.0,
    as_json: JsonOpt = False,
) -> None:
    """Send the notifications that are due; each goes out once per recipient and channel,
    whatever is replayed or retried."""
    import signal
    import threading

    from guardian.notifications.dispatcher import Dispatcher

    dispatcher = Dispatcher(ready_app())
    report = dispatcher.run_once()
    if follow:
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        typer.echo("sending notifications as they fall due (Ctrl-C stops)", err=True)
        dispatcher.follow(stop, poll)
    summary = report.summary()
    emit(as_json, summary, ", ".join(f"{v} {k}" for k, v in summary.items()))


contacts = typer.Typer(help="E-mail addresses of practices and hospitals.",
                       no_args_is_help=True)


@contacts.command("set")
@command
def set_contact(
    code: Annotated[str, typer.Argument(help="a practice's or a hospital's ODS code")],
    email: Annotated[str | None, typer.Option("--email", help="its e-mail address")] = None,
    digest: Annotated[bool | None, typer.Option(
        "--digest/--no-digest", help="a practice: send (or not) the weekly digest")] = None,
) -> None:
    """Set where Guardian writes to a practice or a hospital."""
    from guardian.notifications.contacts import set_org_contact

    app = ready_app()
    kind = set_org_contact(app.engine, code, email=email, weekly_digest=digest)
    typer.echo(f"{kind} {code.strip().upper()}: saved")


@contacts.command("list")
@command
def list_contacts(as_json: JsonOpt = False) -> None:
    """Every practice's and hospital's e-mail address and digest choice."""
    from guardian.notifications.schema import org_contacts

    app = ready_app()
    with app.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(
            select(org_contacts).order_by(org_contacts.c.kind, org_contacts.c.code))]
    emit(as_json, {"contacts": rows}, "\n".join(
        f"{r['kind']:9} {r['code']:6} {r['email'] or '-'}"
        + ("" if r["kind"] != "practice" else
           ("  weekly digest" if r["weekly_digest"] else "  no digest"))
        for r in rows) or "no contacts")


webhooks = typer.Typer(help="Signed webhooks for practice and hospital systems.",
                       no_args_is_help=True)


@webhooks.command("add")
@command
def add_webhook(
    name: Annotated[str, typer.Option("--name", help="what people call it")],
    url: Annotated[str, typer.Option("--url", help="where to POST (http or https)")],
    practice: Annotated[str | None, typer.Option("--practice", help="a practice's code")] = None,
    provider: Annotated[str | None, typer.Option("--provider", help="a hospital's code")] = None,
    kinds: Annotated[list[str] | None, typer.Option(
        "--kind", help="a kind to send (repeat; default every kind)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a webhook; its signing secret is printed once."""
    from guardian.notifications.contacts import add_hook

    app = ready_app()
    secret = secrets.token_hex(32)
    hook_id = add_hook(app.engine, name=name, url=url, practice=practice, provider=provider,
                       kinds=kinds or None, secret=secret, now=dt.datetime.now(dt.UTC))
    emit(as_json, {"id": hook_id, "name": name, "secret": secret},
         f"webhook {name!r} added; its signing secret (shown once):\n{secret}")


@webhooks.command("list")
@command
def list_webhooks(as_json: JsonOpt = False) -> None:
    """Every webhook (never its secret)."""
    from guardian.notifications.schema import webhooks as table

    app = ready_app()
    with app.engine.connect() as conn:
        rows = [{"id": r.id, "name": r.name, "url": r.url, "org_kind": r.org_kind,
                 "org_code": r.org_code, "kinds": json.loads(r.kinds),
                 "disabled": r.disabled} for r in conn.execute(select(table).order_by(table.c.id))]
    emit(as_json, {"webhooks": rows}, "\n".join(
        f"{r['name']}: {r['url']} ({r['org_kind']} {r['org_code']}; "
        f"{', '.join(r['kinds'])})" for r in rows) or "no webhooks")


@webhooks.command("remove")
@command
def remove_webhook(name: Annotated[str, typer.Option("--name")]) -> None:
    """Remove a webhook: what it had queued is withheld."""
    from guardian.notifications.schema import webhooks as table

    app = ready_app()
    with app.engine.begin() as conn:
        if conn.execute(delete(table).where(table.c.name == name)).rowcount != 1:
            raise Failure(f"no webhook named {name!r}")
    typer.echo(f"webhook {name!r} removed")
