"""Replies to Guardian's thread messages taken in by e-mail (docs/notifications.md "Replies
by e-mail"): `ingest_message` turns one reply into a `MessageReceived` on the pathway its
reply token names, `ingest_mailbox` does so for an mbox file or a single .eml message, and
`ReplyHandler` is the aiosmtpd handler of `guardian mail listen`.

A reply is refused, with a reason that is logged and written to the audit log, when its
token is missing, forged or expired, names no thread message, when the referral is closed
or gone, or when nothing is left of it once the quoted message is cut off. Its message id
is made from its Message-ID header (or its bytes), so an e-mail taken in twice is recorded
once. Nothing is half-written: the message and its audit entry commit together.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.errors
import email.policy
import hashlib
import logging
import mailbox
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from uuid import UUID

from sqlalchemy import select

from guardian import audit
from guardian.domain.errors import DomainError
from guardian.notifications.schema import notifications
from guardian.notifications.threads import BadToken, read_token

log = logging.getLogger("guardian.notifications")

TAKEN, HAD, REFUSED = "taken", "had", "refused"
MAX_BODY = 5000  # characters of a reply kept; a longer one is cut, marked CUT
CUT = "\n… [cut: the email was longer]"
ADDRESS_HEADERS = ("To", "Cc", "Delivered-To", "X-Original-To")
PARTIES = {"provider": "hospital", "practice": "gp", "patient": "patient"}
# Where the quoted message begins (the reply above it is kept).
QUOTE_STARTS = (
    re.compile(r"^\s*On\b.*\bwrote:\s*$", re.IGNORECASE),
    re.compile(r"^\s*-{2,}\s*Original Message\s*-{2,}\s*$", re.IGNORECASE),
    re.compile(r"^\s*_{10,}\s*$"),  # Outlook's line above "From: … Sent: …"
    re.compile(r"^-- $"),  # a signature
)
# A quote's first line wrapped over two ("On Mon, … Guardian <…>" / "wrote:"), or the
# header block of a quote ("From: …" / "Sent: …").
QUOTE_PAIRS = (
    (re.compile(r"^\s*On\s", re.IGNORECASE), re.compile(r"\bwrote:\s*$", re.IGNORECASE)),
    (re.compile(r"^\s*\*?From:\*?\s", re.IGNORECASE),
     re.compile(r"^\s*\*?(Sent|Date):\*?\s", re.IGNORECASE)),
)


@dataclass(frozen=True)
class Result:
    """What became of one e-mail: taken in, already had, or refused (with why)."""

    outcome: str  # TAKEN, HAD or REFUSED
    reason: str | None = None
    message_id: str | None = None  # the MessageReceived's id, once known
    header_id: str | None = None  # the e-mail's Message-ID, to name it in a report

    @property
    def ok(self) -> bool:
        return self.outcome != REFUSED


@dataclass
class Counts:
    """What `ingest_mailbox` did: taken in, already had, and each refusal with why."""

    taken: int = 0
    had: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)  # (which e-mail, why)

    def add(self, label: str, result: Result) -> None:
        if result.outcome == TAKEN:
            self.taken += 1
        elif result.outcome == HAD:
            self.had += 1
        else:
            self.refused.append((label, result.reason or "refused"))

    def summary(self) -> dict[str, Any]:
        return {"taken": self.taken, "already_had": self.had,
                "refused": [{"email": label, "reason": why} for label, why in self.refused]}


class MailboxError(ValueError):
    """A mailbox file that cannot be read (the message names it)."""


class Refused(Exception):
    """Why a reply is not taken in; `where` names its referral once known."""

    def __init__(self, reason: str, **where: Any):
        super().__init__(reason)
        self.reason = reason
        self.where = where


# ---------------------------------------------------------------------------- one e-mail
def ingest_message(app: Any, message: bytes | Message, today: dt.date | None = None,
                   recipients: list[str] | None = None) -> Result:
    """Take in one reply (raw bytes or a parsed message). `recipients`: the envelope's,
    looked at before the headers (SMTP). Never raises for a bad e-mail: a refusal is a
    Result, logged and audited."""
    mail, raw = _parse(message)
    header_id = (headers(mail, "Message-ID") or [""])[0].strip()[:998] or None
    try:
        return _ingest(app, mail, raw, header_id, today or app.today(), recipients or [])
    except Refused as e:
        _refuse(app, e, header_id)
        return Result(REFUSED, e.reason, header_id=header_id)


def _parse(message: bytes | Message) -> tuple[Message, bytes]:
    if isinstance(message, bytes | bytearray):
        raw = bytes(message)
        return email.message_from_bytes(raw, policy=email.policy.default), raw
    try:
        raw = message.as_bytes()
    except Exception:  # an e-mail that cannot be written back out: its text will do
        raw = str(message).encode("utf-8", "replace")
    return message, raw


def _ingest(app: Any, mail: Message, raw: bytes, header_id: str | None, today: dt.date,
            recipients: list[str]) -> Result:
    settings = app.settings
    if not getattr(settings, "mail_reply_to", None):
        raise Refused("replies by email are not taken in (GUARDIAN_MAIL_REPLY_TO is not set)")
    tokens = find_tokens(settings.mail_reply_to, mail, recipients)
    if not tokens:
        raise Refused(f"no reply address of Guardian's ({settings.mail_reply_to} with a "
                      "token) among the recipients")
    token, problems = None, []
    for candidate in tokens:  # the first that is good (a reply to several threads: rare)
        try:
            token = read_token(settings.session_secret(), candidate, today)
            break
        except BadToken as e:
            problems.append(str(e))
    if token is None:
        raise Refused(problems[0])
    with app.engine.connect() as conn:
        row = conn.execute(select(notifications).where(
            notifications.c.id == token.notification_id)).first()
    if row is None or row.kind != "thread-message" or not row.patient_id:
        raise Refused(f"the reply token names no message Guardian sent (notification "
                      f"{token.notification_id})")
    where = {"patient_id": row.patient_id, "provider": row.provider,
             "pathway_id": row.pathway_id}
    party = PARTIES.get(row.recipient.partition(":")[0])
    if party is None:
        raise Refused(f"notification {row.id} went to {row.recipient!r}, who cannot reply",
                      **where)
    body = reply_text(mail)
    if not body:
        raise Refused("the reply has no text once the quoted message is left out", **where)
    patient_id = UUID(hex=row.patient_id)
    try:
        pathway = app.get_patient(patient_id).pathway(row.provider, row.pathway_id)
    except Exception:
        raise Refused("the referral is no longer in the record", **where) from None
    if not pathway.is_open:
        raise Refused("the referral is closed", **where)
    message_id = "mail-" + hashlib.sha256(
        header_id.encode() if header_id else raw).hexdigest()[:16]
    if message_id in pathway.messages:
        return Result(HAD, message_id=message_id, header_id=header_id)
    sender = parseaddr((headers(mail, "From") or [""])[0])[1][:254] or "unknown sender"
    at = _when(app, mail, pathway.messages.get(_context_message(row)))
    entry = audit.entry(action="mail-received", email=None, detail=(
        f"reply by email from {sender} to notification {row.id} ({party})"), **where)
    try:
        with app.audited(entry) as pending:
            written = app.receive_message(
                patient_id=patient_id, provider=row.provider, pathway_id=row.pathway_id,
                message_id=message_id, party=party, body=body, sender=sender, at=at)
            if written is None:  # another ingest recorded it first
                pending.clear()
    except DomainError as e:
        raise Refused(e.message, **where) from None
    if written is None:
        return Result(HAD, message_id=message_id, header_id=header_id)
    log.info("reply by email taken in as message %s (notification %s)", message_id, row.id)
    return Result(TAKEN, message_id=message_id, header_id=header_id)


def _refuse(app: Any, refusal: Refused, header_id: str | None) -> None:
    """Log and audit a refusal; a forged or unknown token's entry names no patient."""
    log.warning("reply by email refused: %s (Message-ID %s)", refusal.reason, header_id)
    detail = refusal.reason + (f" (Message-ID {header_id[:200]})" if header_id else "")
    try:
        audit.record(app.engine, action="mail-refused", email=None, detail=detail,
                     **refusal.where)
    except Exception:  # the refusal stands even when the audit log cannot be written
        log.exception("the refusal of a reply by email could not be audited")


def _context_message(row: Any) -> str | None:
    import json

    try:
        return json.loads(row.context).get("message_id")
    except (TypeError, ValueError):
        return None


def _when(app: Any, mail: Message, asked: Any) -> dt.datetime:
    """When the reply was written: its Date header, else now; never in the future, and
    never before the message it answers (a sender's clock may be slow)."""
    now = app.now()
    at = None
    try:
        at = parsedate_to_datetime((headers(mail, "Date") or [""])[0])
    except (TypeError, ValueError, IndexError):
        at = None
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    if at is None or at > now:
        at = now
    if asked is not None and at <= asked.at:
        at = now if now > asked.at else asked.at + dt.timedelta(milliseconds=1)
    return at


# ---------------------------------------------------------------------------- addresses
def find_tokens(reply_to: str, mail: Message, recipients: Iterable[str] = ()) -> list[str]:
    """The reply tokens among the envelope recipients and the To, Cc, Delivered-To and
    X-Original-To headers: `local+TOKEN@domain` where local@domain is GUARDIAN_MAIL_REPLY_TO
    (letter case aside), in order, each once."""
    local, _, domain = parseaddr(reply_to)[1].lower().rpartition("@")
    addresses = list(recipients)
    for name in ADDRESS_HEADERS:
        addresses += [address for _, address in getaddresses(headers(mail, name))]
    found: list[str] = []
    for address in addresses:
        box, _, host = address.strip().strip("<>").rpartition("@")
        head, plus, token = box.partition("+")
        if plus and token and head.lower() == local and host.lower() == domain \
                and token.lower() not in found:
            found.append(token.lower())
    return found


def is_reply_address(reply_to: str, address: str) -> bool:
    """Whether an envelope recipient is GUARDIAN_MAIL_REPLY_TO, with or without a token."""
    local, _, domain = parseaddr(reply_to)[1].lower().rpartition("@")
    box, _, host = address.strip().strip("<>").lower().rpartition("@")
    return host == domain and box.partition("+")[0] == local


# ---------------------------------------------------------------------------- the text
def headers(mail: Message, name: str) -> list[str]:
    """A header's values as sent (unfolded), never parsed: a malformed header is text."""
    out = []
    for key, value in mail.raw_items():
        if key.lower() == name.lower():
            out.append(re.sub(r"\r?\n[ \t]+", " ", str(value)).strip())
    return out


def reply_text(mail: Message) -> str:
    """The reply's own words: its plain text (else its HTML as text), without the quoted
    message, trimmed and at most MAX_BODY characters."""
    try:
        text = _plain(mail)
    except (LookupError, ValueError, TypeError, IndexError, AttributeError,
            email.errors.MessageError):  # a part that cannot be read: no text
        log.info("a reply's text could not be read", exc_info=True)
        text = ""
    kept: list[str] = []
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for i, line in enumerate(lines):
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if any(p.match(line) for p in QUOTE_STARTS) or any(
                first.match(line) and second.search(following) for first, second in QUOTE_PAIRS):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line.rstrip())
    body = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
    body = "".join(c for c in body if c in "\n\t" or c.isprintable())
    if len(body) > MAX_BODY:
        body = body[:MAX_BODY - len(CUT)].rstrip() + CUT
    return body


def _plain(mail: Message) -> str:
    part: Any = None
    if isinstance(mail, EmailMessage):
        part = mail.get_body(preferencelist=("plain", "html"))
    else:
        for candidate in mail.walk():
            if candidate.get_content_type() in ("text/plain", "text/html") \
                    and not candidate.get_filename():
                part = candidate
                if candidate.get_content_type() == "text/plain":
                    break
    if part is None:
        return ""
    try:
        content = part.get_content() if hasattr(part, "get_content") else None
    except (LookupError, ValueError, AttributeError):
        content = None
    if not isinstance(content, str):
        payload = part.get_payload(decode=True) or b""
        try:
            content = payload.decode(part.get_content_charset() or "utf-8", "replace")
        except LookupError:  # a charset Python does not know
            content = payload.decode("utf-8", "replace")
    if part.get_content_type() == "text/html":
        return html_text(content)
    return content


class _Text(HTMLParser):
    BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "blockquote", "hr"}
    SKIP = {"script", "style", "head", "title"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skipping = 0
        self.quoted = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag == "blockquote" or (tag == "div" and any(
                k == "class" and v and ("gmail_quote" in v or "moz-cite" in v)
                for k, v in attrs)):
            self.quoted += 1 if tag == "blockquote" else 1000  # a quote: nothing after it
        if tag in self.BLOCKS:
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag == "blockquote" and 0 < self.quoted < 1000:
            self.quoted -= 1
        if tag in self.BLOCKS:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping and not self.quoted:
            self.out.append(data)


def html_text(html: str) -> str:
    """An HTML e-mail's words, one block a line, quoted blocks left out."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = [re.sub(r"[ \t\xa0]+", " ", line).strip() for line in "".join(parser.out).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))


# ---------------------------------------------------------------------------- many e-mails
def ingest_mailbox(app: Any, path: Path | str, today: dt.date | None = None) -> Counts:
    """Take in every e-mail of an mbox file, or the one e-mail of a .eml file."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            head = f.read(5)
    except OSError as e:
        raise MailboxError(f"{path} cannot be read ({e.strerror or e})") from None
    counts = Counts()
    if head != b"From ":
        result = ingest_message(app, path.read_bytes(), today)
        counts.add(result.header_id or path.name, result)
        return counts
    try:
        box = mailbox.mbox(path, create=False)
        keys = box.keys()
    except (OSError, mailbox.Error) as e:
        raise MailboxError(f"{path} is not a readable mbox file ({e})") from None
    try:
        for n, key in enumerate(keys, 1):
            result = ingest_message(app, box.get_bytes(key), today)
            counts.add(result.header_id or f"email {n}", result)
    finally:
        box.close()
    return counts


# ---------------------------------------------------------------------------- SMTP
class ReplyHandler:
    """The aiosmtpd handler of `guardian mail listen`: accepts only Guardian's reply
    addresses, and answers each e-mail 250 when taken in (or already had), 550 with the
    reason when refused."""

    def __init__(self, app: Any):
        self.app = app

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        reply_to = getattr(self.app.settings, "mail_reply_to", None)
        if not reply_to or not is_reply_address(reply_to, address):
            return "550 not a Guardian reply address"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        try:
            result = await asyncio.to_thread(ingest_message, self.app, content, None,
                                             list(envelope.rcpt_tos))
        except Exception:  # a failure of Guardian's own: the sender tries again later
            log.exception("a reply by email could not be taken in")
            return "451 the reply could not be taken in now; try again later"
        if result.outcome == TAKEN:
            return "250 OK: taken in"
        if result.outcome == HAD:
            return "250 OK: already had"
        reason = re.sub(r"[^\x20-\x7e]", "?", result.reason or "refused")[:400]
        return f"550 {reason}"
