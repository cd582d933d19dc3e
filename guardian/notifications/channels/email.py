"""E-mail over SMTP (GUARDIAN_SMTP_URL: `smtp://host:port`, `smtp+starttls://…` or
`smtps://…`, with `user:password@` when the server wants them). One connection per batch;
a server that cannot be reached is `ChannelDown` (the messages wait), a recipient the
server refuses is a `SendFailed` (permanent for a 5xx answer)."""

from __future__ import annotations

import contextlib
import email.policy
import smtplib
import ssl
from collections.abc import Iterator
from email.headerregistry import HeaderRegistry
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from guardian.config import parse_smtp_url
from guardian.notifications.channels import ChannelDown, Outgoing, SendFailed

TIMEOUT = 10.0


class _Headers(HeaderRegistry):
    """The standard header registry, but making each header's class once: the standard one
    makes a new class for every header of every message, half the cost of building one
    (docs/notifications.md "Sending")."""

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type] = {}

    def __getitem__(self, name: str) -> type:
        key = name.lower()
        made = self._classes.get(key)
        if made is None:
            made = self._classes[key] = super().__getitem__(name)
        return made


POLICY = email.policy.default.clone(header_factory=_Headers())


def email_message(message: Outgoing, sender: str, key: str | None = None) -> EmailMessage:
    """The MIME message: plain text with an HTML alternative; a Message-ID made from the
    notification's key, so a receiver can tell a message sent again after a crash."""
    mail = EmailMessage(policy=POLICY)
    mail["From"] = sender
    mail["To"] = message.to or ""
    mail["Subject"] = message.subject
    mail["Date"] = formatdate(localtime=False)
    domain = sender.rpartition("@")[2].strip(">") or "guardian.invalid"
    mail["Message-ID"] = (make_msgid(domain=domain) if key is None
                          else f"<{_id_part(key)}@{domain}>")
    for name, value in message.headers.items():
        mail[name] = value
    mail.set_content(message.text)
    if message.html:
        mail.add_alternative(message.html, subtype="html")
    return mail


def _id_part(key: str) -> str:
    import hashlib

    return "guardian-" + hashlib.sha256(key.encode()).hexdigest()[:32]


class Email:
    name = "email"

    def __init__(self, url: str | None, sender: str):
        self.url = url
        self.sender = sender

    @contextlib.contextmanager
    def session(self) -> Iterator[_Connection]:
        if not self.url:
            raise ChannelDown("e-mail is off (GUARDIAN_SMTP_URL is not set)")
        conn = _Connection(parse_smtp_url(self.url), self.sender)
        try:
            yield conn
        finally:
            conn.close()


class _Connection:
    def __init__(self, parts: dict[str, Any], sender: str):
        self.parts, self.sender = parts, sender
        self.smtp: smtplib.SMTP | None = None

    def _open(self) -> smtplib.SMTP:
        p = self.parts
        try:
            if p["scheme"] == "smtps":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(p["host"], p["port"], timeout=TIMEOUT,
                                                      context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(p["host"], p["port"], timeout=TIMEOUT)
                if p["scheme"] == "smtp+starttls":
                    smtp.starttls(context=ssl.create_default_context())
            if p["user"]:
                smtp.login(p["user"], p["password"] or "")
        except (OSError, smtplib.SMTPException) as e:
            raise ChannelDown(f"the mail server {p['host']}:{p['port']} cannot be reached "
                              f"({e})") from None
        return smtp

    def send(self, row: Any, message: Outgoing) -> None:
        if not message.to:
            raise SendFailed("no e-mail address to send to", permanent=True)
        if self.smtp is None:
            self.smtp = self._open()
        mail = email_message(message, self.sender, getattr(row, "key", None))
        try:
            self.smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as e:
            codes = [code for code, _ in e.recipients.values()]
            raise SendFailed(f"the mail server refused {message.to} ({codes})",
                             permanent=all(c >= 500 for c in codes)) from None
        except smtplib.SMTPResponseException as e:
            raise SendFailed(f"the mail server answered {e.smtp_code}",
                             permanent=e.smtp_code >= 500) from None
        except (TimeoutError, smtplib.SMTPServerDisconnected, OSError) as e:
            self.smtp = None
            raise ChannelDown(f"the mail server went away ({e})") from None

    def close(self) -> None:
        if self.smtp is not None:
            with contextlib.suppress(Exception):
                self.smtp.quit()
            self.smtp = None
