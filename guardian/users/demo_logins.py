"""The demo log-ins: the five demo users (every role, and a coordinator's colleague) and
their invented names, the orgs they get from the organisation reference, and
var/demo-logins.txt, which holds their one shared password (synthetic data only; docs/cli.md
`demo`)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from guardian.store import organisations
from guardian.users.directory import add_user, find_user
from guardian.users.passwords import generate_password
from guardian.users.records import UserError

DEMO_USERS = (
    ("coordinator", "coordinator@demo.invalid"),
    ("coordinator", "robin.coordinator@demo.invalid"),  # a colleague on the same PCNs
    ("gp", "gp@demo.invalid"),
    ("place-lead", "place-lead@demo.invalid"),
    ("admin", "admin@demo.invalid"),
)
# Invented names, as people read them in the app.
DEMO_NAMES = {
    "coordinator@demo.invalid": "Sam Taylor",
    "robin.coordinator@demo.invalid": "Robin Patel",
    "gp@demo.invalid": "Dr Aisha Khan",
    "place-lead@demo.invalid": "Morgan Hughes",
    "admin@demo.invalid": "Jordan Lee",
}
DEMO_LOGINS_FILE = "demo-logins.txt"


def demo_orgs(engine: Engine) -> dict[str, list[str]]:
    """Orgs for the demo users, from the organisation table (`demo_orgs_of`)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(organisations.c.practice_code, organisations.c.pcn_code,
                   organisations.c.place)
        ).all()
    return demo_orgs_of(rows)


def demo_orgs_of(practices: Iterable[Any]) -> dict[str, list[str]]:
    """Orgs for the demo users: a coordinator covering two PCNs of one place, a GP in the
    first of them, the place lead of that place (the first place with two PCNs, by code).
    `practices`: anything with practice_code, pcn_code and place."""
    rows = sorted(practices, key=lambda r: (r.pcn_code, r.practice_code))
    pcns_by_place: dict[str, list[str]] = {}
    for r in rows:
        pcns = pcns_by_place.setdefault(r.place, [])
        if r.pcn_code not in pcns:
            pcns.append(r.pcn_code)
    place = next((p for p, pcns in pcns_by_place.items() if len(pcns) >= 2), None)
    if place is None:
        raise UserError("the demo users need a place with at least two PCNs")
    pcns = pcns_by_place[place][:2]
    practice = next(r.practice_code for r in rows if r.pcn_code == pcns[0])
    return {"coordinator": pcns, "gp": [practice], "place-lead": [place], "admin": []}


def ensure_demo_users(engine: Engine, var_dir: Path) -> dict[str, Any]:
    """Create the demo users that are missing (one shared password), and write the log-ins
    to var/demo-logins.txt. Existing users are never changed. Returns
    {"created": [emails], "file": path, "password": the new password or None}."""
    path = Path(var_dir) / DEMO_LOGINS_FILE
    missing = [(role, email) for role, email in DEMO_USERS if find_user(engine, email) is None]
    if not missing:
        return {"created": [], "file": str(path) if path.exists() else None, "password": None}
    orgs = demo_orgs(engine)
    password = _password_from(path) if len(missing) < len(DEMO_USERS) else None
    password = password or generate_password()
    for role, email in missing:
        add_user(engine, email, role, orgs[role], password, display_name=DEMO_NAMES[email])
    _write_logins(path, password, orgs)
    return {"created": [e for _, e in missing], "file": str(path), "password": password}


def _password_from(path: Path) -> str | None:
    try:
        for line in path.read_text().splitlines():
            if line.startswith("password:"):
                return line.split(":", 1)[1].strip() or None
    except OSError:
        return None
    return None


def _write_logins(path: Path, password: str, orgs: dict[str, list[str]]) -> None:
    lines = [
        "Guardian demo log-ins (synthetic data only): sign in at http://127.0.0.1:8000/sign-in",
        f"password: {password}",
        "",
    ]
    describe = {
        "coordinator": "PCNs " + ", ".join(orgs["coordinator"]),
        "gp": "practice " + ", ".join(orgs["gp"]),
        "place-lead": "place " + ", ".join(orgs["place-lead"]),
        "admin": "everything",
    }
    for role, email in DEMO_USERS:
        lines.append(f"{role:<12} {email:<31} {DEMO_NAMES[email]:<14} {describe[role]}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, path)
