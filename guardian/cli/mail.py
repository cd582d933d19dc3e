"""`guardian mail ingest FILE` and `guardian mail listen`: replies to Guardian's thread
messages taken in by e-mail, from an mbox or .eml file or as a small SMTP server
(docs/cli.md, docs/notifications.md "Replies by e-mail")."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from guardian.cli.common import Failure, JsonOpt, command, emit, ready_app

app = typer.Typer(help="Replies to Guardian's messages, taken in by email.",
                  no_args_is_help=True)


@app.command("ingest")
@command
def ingest(
    file: Annotated[Path, typer.Argument(help="an mbox file, or one .eml message")],
    as_json: JsonOpt = False,
) -> int:
    """Take in the replies of a mailbox file; exit 3 when some were refused."""
    from guardian.notifications.mail import MailboxError, ingest_mailbox

    guardian = ready_app()
    try:
        counts = ingest_mailbox(guardian, file)
    except MailboxError as e:
        raise Failure(str(e)) from None
    lines = [f"{counts.taken} taken in, {counts.had} already had, "
             f"{len(counts.refused)} refused"]
    lines += [f"refused {label}: {why}" for label, why in counts.refused]
    emit(as_json, counts.summary(), "\n".join(lines))
    return 3 if counts.refused else 0


@app.command("listen")
@command
def listen(
    host: Annotated[str, typer.Option("--host", help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 2525,
) -> None:
    """Take in replies as an SMTP server until stopped (Ctrl-C or SIGTERM)."""
    import signal
    import threading

    from aiosmtpd.controller import Controller

    from guardian.notifications.mail import ReplyHandler

    guardian = ready_app()
    if not guardian.settings.mail_reply_to:
        raise Failure("GUARDIAN_MAIL_REPLY_TO is not set: there are no replies to take in")
    controller = Controller(ReplyHandler(guardian), hostname=host, port=port,
                            data_size_limit=10 * 1024 * 1024)
    try:
        controller.start()
    except (OSError, RuntimeError) as e:
        raise Failure(f"cannot listen on {host}:{port} ({e})") from None
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    typer.echo(f"taking in replies by email on {host}:{port} (Ctrl-C stops)", err=True)
    try:
        stop.wait()
    finally:
        controller.stop()
