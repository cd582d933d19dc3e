"""The channels a notification goes out by (docs/notifications.md "Channels"): e-mail over
SMTP, the in-app inbox, signed webhooks and printable letters. Each is a `Channel`: it
opens a session for a batch (one SMTP connection for many messages) and sends one
`Outgoing` at a time, raising `ChannelDown` when it cannot be reached at all (the row
waits, not counted as a failure) or `SendFailed` when this message failed (counted; parked
after GUARDIAN_NOTIFY_MAX_ATTEMPTS, or at once when `permanent`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class Outgoing:
    """One message, ready to send: its address (e-mail, URL, or None for the inbox and a
    letter), subject, plain text and HTML, extra headers, and a webhook's JSON payload."""

    to: str | None
    subject: str
    text: str
    html: str
    headers: dict[str, str] = field(default_factory=dict)
    payload: dict[str, Any] | None = None


class ChannelDown(Exception):
    """The channel cannot be reached (the mail server is down): try again later."""


class SendFailed(Exception):
    """This message could not be sent; `permanent` when trying again cannot help."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class Sender(Protocol):
    def send(self, row: Any, message: Outgoing) -> None: ...


class Channel(Protocol):
    name: str

    def session(self) -> contextlib.AbstractContextManager[Sender]: ...


class Delivered:
    """The inbox: the notification row is the inbox item, so sending it is recording it."""

    name = "inbox"

    @contextlib.contextmanager
    def session(self) -> Iterator[Delivered]:
        yield self

    def send(self, row: Any, message: Outgoing) -> None:
        return None
