"""Saving where Guardian writes (docs/notifications.md "Contacts"): a practice's or a
hospital's e-mail address and a practice's weekly-digest choice, and webhooks. Bad input is
refused with a message that names it, before anything is written."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import urlsplit

from sqlalchemy import Engine, insert, select

from guardian.domain.identifiers import is_email_address
from guardian.notifications.kinds import WEBHOOK_KINDS
from guardian.notifications.schema import org_contacts, webhooks
from guardian.orgs import all_practices
from guardian.store import dialect_insert, providers


class ContactError(ValueError):
    """Input refused (the message names the problem)."""


def check_email(value: str) -> str:
    """A well-formed e-mail address (trimmed), or ContactError naming it."""
    email = (value or "").strip()
    if not is_email_address(email):
        raise ContactError(f"{value!r} is not an e-mail address")
    return email


def org_kind(engine: Engine, code: str) -> str:
    """"practice" or "provider" for a code Guardian knows, else ContactError."""
    with engine.connect() as conn:
        if code in all_practices(conn):
            return "practice"
        known = conn.execute(select(providers.c.provider_code).where(
            providers.c.provider_code == code)).first()
    if known:
        return "provider"
    raise ContactError(f"{code!r} is neither a practice nor a hospital Guardian knows "
                       "(guardian orgs load)")


def set_org_contact(engine: Engine, code: str, email: str | None = None,
                    weekly_digest: bool | None = None) -> str:
    code = (code or "").strip().upper()
    kind = org_kind(engine, code)
    values: dict[str, object] = {}
    if email is not None:
        values["email"] = check_email(email) if email.strip() else None
    if weekly_digest is not None:
        if kind != "practice":
            raise ContactError("only a practice takes the weekly digest")
        values["weekly_digest"] = weekly_digest
    with engine.begin() as conn:
        stmt = dialect_insert(conn, org_contacts).values(code=code, kind=kind, **values)
        conn.execute(stmt.on_conflict_do_update(index_elements=["code"],
                                                set_=values or {"kind": kind}))
    return kind


def add_hook(engine: Engine, *, name: str, url: str, practice: str | None,
             provider: str | None, kinds: list[str] | None, secret: str,
             now: dt.datetime) -> int:
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise ContactError("a webhook needs a name of at most 80 characters")
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ContactError(f"{url!r} is not an http or https URL")
    if (practice is None) == (provider is None):
        raise ContactError("give exactly one of --practice and --provider")
    code = (practice or provider or "").strip().upper()
    kind = org_kind(engine, code)
    if kind != ("practice" if practice else "provider"):
        raise ContactError(f"{code!r} is not a {'practice' if practice else 'hospital'}")
    chosen = list(kinds or WEBHOOK_KINDS)
    unknown = [k for k in chosen if k not in WEBHOOK_KINDS]
    if unknown:
        raise ContactError(f"{', '.join(unknown)}: not a kind a webhook can take; one of "
                           f"{', '.join(WEBHOOK_KINDS)}")
    with engine.begin() as conn:
        if conn.execute(select(webhooks.c.id).where(webhooks.c.name == name)).first():
            raise ContactError(f"a webhook named {name!r} exists")
        return conn.execute(insert(webhooks).values(
            name=name, url=url, secret=secret, org_kind=kind, org_code=code,
            kinds=json.dumps(chosen), created_at=now)).inserted_primary_key[0]
