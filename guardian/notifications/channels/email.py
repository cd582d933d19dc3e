"""E-mail over SMTP (GUARDIAN_SMTP_URL: `smtp://host:port`, `smtp+starttls://…` or
`smtps://…`, with `user:password@` when the server wants them).

A batch goes out over a few connections at once (GUARDIAN_SMTP_CONNECTIONS, default 4),
each message built straight into its bytes (`mime_bytes`: a plain-text part and an HTML
alternative, both UTF-8 in base64): most of a message's time is waiting for the server's
answers, which the other connections fill (bench/README.md "Notifications: sending").

A server that cannot be reached is `ChannelDown` (the messages wait, and the connections
not yet open do not try again in this batch); a recipient the server refuses is a
`SendFailed` (permanent for a 5xx answer).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import smtplib
import ssl
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from email.header import Header
from email.utils import formataddr, formatdate, parseaddr
from typing import Any

from guardian.config import parse_smtp_url
from guardian.notifications.channels import ChannelDown, Outgoing, SendFailed

TIMEOUT = 10.0
CONNECTIONS = 4


def _header(value: str) -> str:
    """A header's value on one line; RFC 2047 encoded words when it is not plain ASCII."""
    value = " ".join(value.split())  # no CR or LF: nothing can be added to the headers
    if value.isascii() and len(value) < 900:
        return value
    return Header(value, "utf-8", maxlinelen=76).encode(linesep="\r\n")


def _address(value: str) -> str:
    name, address = parseaddr(value)
    return formataddr((name, address), charset="utf-8") if name else address


def _base64(text: str) -> bytes:
    return base64.encodebytes(text.encode("utf-8")).replace(b"\n", b"\r\n")


def message_id(key: str | None, sender: str) -> str:
    """`<guardian-…@domain>` made from the notification's key: the same on every attempt,
    so a receiver can tell a message sent again after a crash."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "guardian.invalid"
    ident = hashlib.sha256((key or str(threading.get_ident())).encode()).hexdigest()[:32]
    return f"<guardian-{ident}@{domain}>"


def mime_bytes(message: Outgoing, sender: str, key: str | None = None) -> bytes:
    """The message as it goes over the wire: headers, then the text with its HTML
    alternative (multipart/alternative), CRLF line ends."""
    boundary = "=_guardian_" + hashlib.sha256((key or message.subject).encode()).hexdigest()[:24]
    headers = [("From", _address(sender)), ("To", message.to or ""),
               ("Subject", _header(message.subject)), ("Date", formatdate(localtime=False)),
               ("Message-ID", message_id(key, sender)), ("MIME-Version", "1.0")]
    headers += [(name, _header(value)) for name, value in message.headers.items()]
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    text_part = (b'Content-Type: text/plain; charset="utf-8"\r\n'
                 b"Content-Transfer-Encoding: base64\r\n\r\n" + _base64(message.text))
    if not message.html:
        return head.encode() + text_part
    html_part = (b'Content-Type: text/html; charset="utf-8"\r\n'
                 b"Content-Transfer-Encoding: base64\r\n\r\n" + _base64(message.html))
    edge = f"--{boundary}\r\n".encode()
    return (head.encode()
            + f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'.encode()
            + edge + text_part + b"\r\n" + edge + html_part + b"\r\n"
            + f"--{boundary}--\r\n".encode())


class Email:
    name = "email"

    def __init__(self, url: str | None, sender: str, connections: int = CONNECTIONS):
        self.url = url
        self.sender = sender
        self.connections = connections

    @contextlib.contextmanager
    def session(self) -> Iterator[_Session]:
        if not self.url:
            raise ChannelDown("e-mail is off (GUARDIAN_SMTP_URL is not set)")
        session = _Session(parse_smtp_url(self.url), self.sender, self.connections)
        try:
            yield session
        finally:
            session.close()


class _Session:
    """Up to `connections` SMTP connections, one per sending thread, opened when needed."""

    def __init__(self, parts: dict[str, Any], sender: str, connections: int):
        self.parts, self.sender = parts, sender
        self.envelope_from = parseaddr(sender)[1]
        self.connections = max(1, connections)
        self._local = threading.local()
        self._open_ones: list[smtplib.SMTP] = []
        self._lock = threading.Lock()
        self._down: str | None = None  # once the server could not be reached: why
        # The sending threads live as long as the session, so that each keeps its
        # connection from one batch to the next.
        self._pool: ThreadPoolExecutor | None = None

    def _open(self) -> smtplib.SMTP:
        if self._down is not None:
            raise ChannelDown(self._down)
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
            self._down = f"the mail server {p['host']}:{p['port']} cannot be reached ({e})"
            raise ChannelDown(self._down) from None
        with self._lock:
            self._open_ones.append(smtp)
        return smtp

    def send(self, row: Any, message: Outgoing) -> None:
        """One message, on this thread's connection."""
        if not message.to:
            raise SendFailed("no e-mail address to send to", permanent=True)
        smtp = getattr(self._local, "smtp", None)
        if smtp is None:
            smtp = self._local.smtp = self._open()
        data = mime_bytes(message, self.sender, getattr(row, "key", None))
        try:
            smtp.sendmail(self.envelope_from, [message.to], data)
        except smtplib.SMTPRecipientsRefused as e:
            codes = [code for code, _ in e.recipients.values()]
            raise SendFailed(f"the mail server refused {message.to} ({codes})",
                             permanent=all(c >= 500 for c in codes)) from None
        except smtplib.SMTPResponseException as e:
            raise SendFailed(f"the mail server answered {e.smtp_code}",
                             permanent=e.smtp_code >= 500) from None
        except (TimeoutError, smtplib.SMTPServerDisconnected, OSError) as e:
            self._local.smtp = None
            raise ChannelDown(f"the mail server went away ({e})") from None

    def send_batch(self, items: Sequence[tuple[Any, Outgoing]]) -> list[Exception | None]:
        """Many messages over the session's connections at once; per message, None when
        sent or the exception that stopped it (ChannelDown, SendFailed)."""
        return self.start_batch(items)()

    def start_batch(self, items: Sequence[tuple[Any, Outgoing]]
                    ) -> Callable[[], list[Exception | None]]:
        """Start sending `items` over the session's connections and return at once; the
        function returned waits for them and gives send_batch's answer."""
        if self.connections == 1 or len(items) < 2:
            done = [self._one(item) for item in items]
            return lambda: done
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.connections, thread_name_prefix="smtp")
        futures = [self._pool.submit(self._one, item) for item in items]
        return lambda: [f.result() for f in futures]

    def _one(self, item: tuple[Any, Outgoing]) -> Exception | None:
        try:
            self.send(*item)
        except (ChannelDown, SendFailed) as e:
            return e
        return None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        with self._lock:
            opened, self._open_ones = self._open_ones, []
        for smtp in opened:
            with contextlib.suppress(Exception):
                smtp.quit()
