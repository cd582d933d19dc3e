"""`guardian users …`: adding users, listing them with their state, changing their role,
orgs and name, disabling, enabling, new passwords, and API tokens (docs/cli.md,
docs/access.md "Accounts"). Every change is audited as made from the command line, by the
operating-system user who ran it."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Annotated, Any, ParamSpec

import typer

from guardian.cli.common import Failure, JsonOpt, command, emit, ready_app

P = ParamSpec("P")

app = typer.Typer(help="Users, their roles and API tokens.", no_args_is_help=True)

EmailOpt = Annotated[str, typer.Option("--email", help="the user's email address")]
PasswordStdinOpt = Annotated[
    bool, typer.Option("--password-stdin", help="read the password from standard input")
]


def users_command(body: Callable[P, None]) -> Callable[P, None]:
    """A `guardian users …` command: a UserError (no such user, a wrong org …) is a failure
    like the others, its message on stderr and exit code 1."""

    @functools.wraps(body)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        from guardian.users import UserError

        try:
            body(*args, **kwargs)
        except UserError as e:
            raise Failure(str(e)) from None

    return command(run)


def _origin(name: str):
    """Who changed an account, for the audit log: the command line, the command and the
    operating-system user who ran it."""
    import getpass

    from guardian.users import Origin

    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (some containers)
        who = f"uid {os.getuid()}"
    return Origin("cli", f"guardian users {name} (run by {who})")


def _password(password_stdin: bool) -> str | None:
    """With --password-stdin the first line of standard input, as typed; else None (one is
    generated)."""
    if not password_stdin:
        return None
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise Failure("no password on standard input (--password-stdin)")
    return password


def _shown_once(payload: dict[str, Any], text: str, password: str | None) -> str:
    """Add a generated password to the report (payload and text): it is shown this once."""
    if password:
        payload["password"] = password
        text += f"\npassword (shown once): {password}"
    return text


@app.command("add")
@users_command
def users_add(
    email: EmailOpt,
    role: Annotated[str, typer.Option("--role", help="coordinator, gp, place-lead or admin")],
    org: Annotated[
        list[str] | None,
        typer.Option("--org", help="PCN code (coordinator, repeatable), practice code (gp) "
                     "or place name (place-lead); none for admin"),
    ] = None,
    password_stdin: PasswordStdinOpt = False,
    name: Annotated[str | None, typer.Option(
        "--name", help='the name people read, e.g. "Sam Taylor" (optional)')] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a user; without --password-stdin a password is generated and printed once."""
    from guardian.users import add_user

    guardian = ready_app()
    user, generated = add_user(guardian.engine, email, role, org or [],
                               _password(password_stdin), origin=_origin("add"),
                               display_name=name)
    payload: dict[str, Any] = {"email": user.email, "role": user.role,
                               "orgs": list(user.orgs), "display_name": user.display_name}
    named = f"{user.display_name} <{user.email}>" if user.display_name else user.email
    text = f"created {user.role} {named}" + (
        f" ({', '.join(user.orgs)})" if user.orgs else ""
    )
    text = _shown_once(payload, text, generated)
    emit(as_json, payload, text)


@app.command("token")
@users_command
def users_token(email: EmailOpt, as_json: JsonOpt = False) -> None:
    """Print a new API bearer token for the user (alone on stdout; stored only as a hash).
    It expires after GUARDIAN_TOKEN_DAYS days (default 90)."""
    from guardian.users import create_token

    guardian = ready_app()
    token = create_token(guardian.engine, email, days=guardian.settings.token_days,
                         origin=_origin("token"))
    emit(as_json, {"token": token}, token)


@app.command("list")
@users_command
def users_list(as_json: JsonOpt = False) -> None:
    """Every user: name, role, orgs, enabled, last sign-in, live tokens and sessions."""
    from guardian.users import accounts

    found = accounts(ready_app().engine)
    lines = [f"{'email':<32} {'name':<20} {'role':<12} {'enabled':<8} {'last sign-in':<17} "
             f"{'tokens':>6} {'sessions':>8}  orgs"]
    for a in found:
        seen = a.last_sign_in.strftime("%Y-%m-%d %H:%M") if a.last_sign_in else "never"
        lines.append(f"{a.user.email:<32} {a.user.name:<20} {a.user.role:<12} "
                     f"{'yes' if a.enabled else 'no':<8} {seen:<17} {a.tokens:>6} "
                     f"{a.sessions:>8}  {', '.join(a.user.orgs) or '-'}")
    if not found:
        lines = ["no users yet: guardian users add --email E --role R"]
    emit(as_json, {"users": [a.as_json() for a in found]}, "\n".join(lines))


def _change_json(change) -> dict[str, Any]:
    return {"email": change.email, "changed": change.changed,
            "sessions_ended": change.sessions_ended, "tokens_revoked": change.tokens_revoked}


def _plural(n: int, thing: str) -> str:
    return f"{n} {thing}{'s' * (n != 1)}"


def _ended(change) -> str:
    return (f"{_plural(change.sessions_ended, 'session')} ended, "
            f"{_plural(change.tokens_revoked, 'token')} revoked")


@app.command("disable")
@users_command
def users_disable(email: EmailOpt, as_json: JsonOpt = False) -> None:
    """Disable a user: no sign-in, no token; their sessions and tokens end at once. The
    last enabled admin cannot be disabled."""
    from guardian.users import disable_user

    change = disable_user(ready_app().engine, email, origin=_origin("disable"))
    text = (f"disabled {change.email}: {_ended(change)}" if change.changed
            else f"{change.email} was already disabled")
    emit(as_json, {**_change_json(change), "enabled": False}, text)


@app.command("enable")
@users_command
def users_enable(email: EmailOpt, as_json: JsonOpt = False) -> None:
    """Let a disabled user sign in again (their old tokens stay revoked)."""
    from guardian.users import enable_user

    change = enable_user(ready_app().engine, email, origin=_origin("enable"))
    text = (f"enabled {change.email}" if change.changed
            else f"{change.email} was already enabled")
    emit(as_json, {"email": change.email, "changed": change.changed, "enabled": True}, text)


@app.command("reset-password")
@users_command
def users_reset_password(email: EmailOpt, password_stdin: PasswordStdinOpt = False,
                         as_json: JsonOpt = False) -> None:
    """Set a new password (generated and printed once without --password-stdin); the
    user's sessions and tokens end at once."""
    from guardian.users import reset_password

    guardian = ready_app()
    change = reset_password(guardian.engine, email, _password(password_stdin),
                            origin=_origin("reset-password"))
    payload = _change_json(change)
    text = f"new password for {change.email}: {_ended(change)}"
    text = _shown_once(payload, text, change.password)
    emit(as_json, payload, text)


@app.command("change")
@users_command
def users_change(
    email: EmailOpt,
    role: Annotated[str | None, typer.Option(
        "--role", help="a new role: coordinator, gp, place-lead or admin")] = None,
    org: Annotated[list[str] | None, typer.Option(
        "--org", help="the new orgs (as for users add); needed with a new role")] = None,
    name: Annotated[str | None, typer.Option(
        "--name", help='a new name people read ("" removes it)')] = None,
    as_json: JsonOpt = False,
) -> None:
    """Change a user's role, orgs or name; what is not given stays. The last enabled admin
    stays an admin."""
    from guardian.users import change_user, find_user

    guardian = ready_app()
    change = change_user(guardian.engine, email, role=role, orgs=org, display_name=name,
                         origin=_origin("change"))
    user = find_user(guardian.engine, change.email)
    assert user is not None
    payload = {"email": user.email, "changed": change.changed, "role": user.role,
               "orgs": list(user.orgs), "display_name": user.display_name}
    text = (f"changed {user.email}: {user.name}, {user.role}"
            + (f" ({', '.join(user.orgs)})" if user.orgs else "")
            if change.changed else f"{user.email} was already so: nothing changed")
    emit(as_json, payload, text)


@app.command("revoke-token")
@users_command
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
    from guardian.users import revoke_tokens

    guardian = ready_app()
    token = None
    if token_stdin:
        token = sys.stdin.readline().strip()
        if not token:
            raise Failure("no token on standard input (--token-stdin)")
    change = revoke_tokens(guardian.engine, email, token, every=every,
                           origin=_origin("revoke-token"))
    n = change.tokens_revoked
    emit(as_json, {"email": change.email, "tokens_revoked": n},
         f"{_plural(n, 'token')} of {change.email} revoked")
