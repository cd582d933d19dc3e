"""Message threads by e-mail (docs/notifications.md "Replies by e-mail"): a message Guardian
sends goes out with a Reply-To address carrying a signed, dated token, and a reply to it
is taken in as a `MessageReceived` on the same pathway (`mail.py`).

The token is short enough for the local part of an address (`guardian+<token>@…`): the
notification's id, the day it was made (days since 1970) and an HMAC-SHA256 of both under
GUARDIAN_SECRET_KEY, cut to 16 hex digits. A token whose signature does not match is
forged; one older than `TOKEN_DAYS` has expired; either is refused and logged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

TOKEN_DAYS = 90
EPOCH = dt.date(1970, 1, 1)


class BadToken(ValueError):
    """A reply token that is malformed, forged or expired (the message says which)."""


@dataclass(frozen=True)
class ThreadToken:
    notification_id: int
    made_on: dt.date


def _mac(secret: str, notification_id: int, day: int) -> str:
    msg = f"thread:{notification_id}:{day}".encode()
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()[:16]


def make_token(secret: str, notification_id: int, made_on: dt.date) -> str:
    day = (made_on - EPOCH).days
    return f"{notification_id:x}-{day:x}-{_mac(secret, notification_id, day)}"


def read_token(secret: str, token: str, today: dt.date) -> ThreadToken:
    """The token's notification and day; raises BadToken when malformed, forged or expired."""
    try:
        ident, day_hex, mac = token.strip().lower().split("-")
        notification_id, day = int(ident, 16), int(day_hex, 16)
    except ValueError:
        raise BadToken(f"{token!r} is not a Guardian reply token") from None
    if not hmac.compare_digest(mac, _mac(secret, notification_id, day)):
        raise BadToken(f"the reply token {token!r} is forged (its signature does not match)")
    made_on = EPOCH + dt.timedelta(days=day)
    if (today - made_on).days > TOKEN_DAYS:
        raise BadToken(f"the reply token {token!r} expired ({TOKEN_DAYS} days after "
                       f"{made_on.isoformat()})")
    return ThreadToken(notification_id, made_on)


def reply_address(settings: Any, row: Any) -> str | None:
    """The Reply-To address of a thread message (GUARDIAN_MAIL_REPLY_TO with the token
    after a +), or None when replies are not taken in."""
    base = getattr(settings, "mail_reply_to", None)
    if not base or row.kind != "thread-message":
        return None
    local, _, domain = base.partition("@")
    made_on = row.created_at.date() if row.created_at else dt.date.today()
    return f"{local}+{make_token(settings.session_secret(), row.id, made_on)}@{domain}"
