"""The dispatcher: sends the notifications that are due (docs/notifications.md "Sending").

`Dispatcher.run_once` claims a batch of due rows (on PostgreSQL with `FOR UPDATE SKIP
LOCKED`, so several dispatchers share the work and never take the same row), checks each
again (`Checks`: the pathway is still open, the recipient may still see it, the patient
still wants to be written to this way), composes it (`compose.py`) and sends it through its
channel, then records the attempts and the rows' new states, a few messages at a time
(`SEND_CHUNK`), each chunk in one transaction as soon as it has gone:

- sent: `sent`, with the time;
- the recipient no longer qualifies: `withheld`, with why (never sent later); a patient
  who now prefers another channel: `withheld` here and queued on that one (outbox.move_row);
- e-mail switched off (no GUARDIAN_SMTP_URL): `skipped`;
- the channel cannot be reached (`ChannelDown`: the mail server is down): back to `queued`
  for a minute later, not counted as a failure, so an outage of any length loses nothing;
- this message failed (`SendFailed`): counted, tried again after 1, 2, 4 … minutes (at most
  an hour apart), and `parked` after GUARDIAN_NOTIFY_MAX_ATTEMPTS failures or at once when
  trying again cannot help; an admin can send a parked row again.

A row claimed by a dispatcher that died is claimed again once its claim (`CLAIM_SECONDS`)
runs out. What it had sent and recorded stays sent; only the chunks it was sending when it
died (at most two, `AT_MOST_TWICE` messages: one being recorded while the next goes) may
go a second time, with the same Message-ID (e-mail) or notification key (webhook), by
which a receiver can tell.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
import secrets
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import and_, insert, or_, select, update

from guardian.notifications.channels import ChannelDown, Delivered, SendFailed
from guardian.notifications.channels.email import Email
from guardian.notifications.channels.letter import Letter
from guardian.notifications.channels.webhook import Webhook
from guardian.notifications.checks import Checks
from guardian.notifications.compose import compose
from guardian.notifications.outbox import Outbox, move_row
from guardian.notifications.schema import (
    PARKED,
    QUEUED,
    SENDING,
    SENT,
    SKIPPED,
    WITHHELD,
    notification_attempts,
    notifications,
)

log = logging.getLogger("guardian.notifications")

CLAIM_SECONDS = 300
DOWN_RETRY_SECONDS = 60
FIRST_RETRY_SECONDS = 60
LONGEST_RETRY_SECONDS = 3600
BATCH = 500
# Messages sent between two records of what went: all a dispatcher killed mid-send can send
# twice. Two per e-mail connection keeps the connections busy (config.py, smtp_connections).
SEND_CHUNK = 8
AT_MOST_TWICE = 2 * SEND_CHUNK  # the chunk being recorded and the next, on its way


def retry_delay(failures: int) -> dt.timedelta:
    """After the n-th failure: 1, 2, 4, … minutes, at most an hour."""
    return dt.timedelta(seconds=min(FIRST_RETRY_SECONDS * 2 ** max(0, failures - 1),
                                    LONGEST_RETRY_SECONDS))


@dataclass
class Outcome:
    row: Any
    outcome: str  # sent, withheld, skipped, down, failed
    detail: str | None = None
    permanent: bool = False
    move_to: str | None = None  # withheld: queue it on this channel instead (checks.py)


@dataclass
class Report:
    sent: int = 0
    withheld: int = 0
    skipped: int = 0
    down: int = 0
    failed: int = 0
    parked: int = 0

    def add(self, other: Report) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def summary(self) -> dict[str, int]:
        return dict(vars(self))

    def __bool__(self) -> bool:
        return any(vars(self).values())


class Dispatcher:
    """Sends due notifications through their channels; `channels` may be given (tests)."""

    def __init__(self, app: Any, channels: dict[str, Any] | None = None,
                 batch_size: int = BATCH):
        self.app = app
        self.settings = app.settings
        self.engine = app.engine
        self.batch_size = batch_size
        self.max_attempts = getattr(self.settings, "notify_max_attempts", 8)
        self._channels = channels

    def channels(self) -> dict[str, Any]:
        if self._channels is not None:
            return self._channels
        from guardian.notifications.schema import webhooks

        with self.engine.connect() as conn:
            secrets = {r.id: r.secret for r in conn.execute(select(webhooks))}
        return {"email": Email(self.settings.smtp_url, self.settings.mail_from,
                               self.settings.smtp_connections),
                "inbox": Delivered(), "webhook": Webhook(secrets),
                "letter": Letter(self.engine)}

    # ------------------------------------------------------------------ claiming
    def claim(self, now: dt.datetime) -> list[Any]:
        """Due rows, claimed by this dispatcher: marked `sending` until a claim time of its
        own, by an update that only takes rows still due, so two dispatchers (or two
        processes on one SQLite file) never take the same row."""
        n = notifications
        due = or_(and_(n.c.status == QUEUED, n.c.due_at <= now),
                  and_(n.c.status == SENDING, n.c.claimed_until < now))
        mark = now + dt.timedelta(seconds=CLAIM_SECONDS,
                                  microseconds=secrets.randbelow(1_000_000))
        with self.engine.begin() as conn:
            q = select(n.c.id).where(due).order_by(n.c.due_at, n.c.id).limit(self.batch_size)
            if self.engine.dialect.name == "postgresql":
                q = q.with_for_update(skip_locked=True)
            ids = list(conn.execute(q).scalars())
            if not ids:
                return []
            conn.execute(update(n).where(n.c.id.in_(ids), due).values(
                status=SENDING, claimed_until=mark))
            return list(conn.execute(select(n).where(
                n.c.id.in_(ids), n.c.status == SENDING, n.c.claimed_until == mark
            ).order_by(n.c.id)))

    # ------------------------------------------------------------------ sending
    def run_once(self, limit: int | None = None) -> Report:
        """Project new events into the outbox, then send what is due, batch after batch,
        until nothing is due (or `limit` rows were handled)."""
        Outbox(self.app).run_once()
        total, handled = Report(), 0
        channels = None
        while limit is None or handled < limit:
            now = self.app.now().astimezone(dt.UTC)
            rows = self.claim(now)
            if not rows:
                break
            channels = channels or self.channels()
            for outcomes in self.send(rows, channels, now):
                total.add(self.record(outcomes, now))
            handled += len(rows)
        return total

    def send(self, rows: list[Any], channels: dict[str, Any], now: dt.datetime
             ) -> Iterator[list[Outcome]]:
        """The rows' outcomes, a list at a time, each to be recorded before the next is
        sent. Channel by channel, each chunk is checked and composed while the one before
        it is on its way (`_send`); what was settled without sending (withheld, or not
        composed) comes after the channel's chunks."""
        checks = Checks(self.app)
        patients = self.app.load_patients(
            {UUID(hex=r.patient_id) for r in rows if r.patient_id})
        world = checks.world()
        by_channel: dict[str, list[Any]] = defaultdict(list)
        for row in rows:
            by_channel[row.channel].append(row)
        for name, group in by_channel.items():
            if name == "email" and not self.settings.smtp_url and self._channels is None:
                yield [Outcome(r, "skipped", "e-mail is off (no GUARDIAN_SMTP_URL)")
                       for r in group]
                continue
            settled: list[Outcome] = []  # known without sending

            def composed(group: list[Any] = group, settled: list[Outcome] = settled
                         ) -> Iterator[list[tuple[Any, Any]]]:
                """(row, message) chunks, checked and composed, to send."""
                chunk = []
                for row in group:
                    patient = (patients.get(UUID(hex=row.patient_id)) if row.patient_id
                               else None)
                    verdict = checks.verdict(row, patient)
                    if verdict.reason is not None:
                        settled.append(Outcome(row, "withheld", verdict.reason,
                                               move_to=verdict.move_to))
                        continue
                    try:
                        chunk.append((row, compose(row, patient, world, verdict.address,
                                                   verdict.extra)))
                    except Exception as e:  # a bug must not stop the other messages
                        log.exception("notification %s could not be composed", row.id)
                        settled.append(Outcome(row, "failed", f"{type(e).__name__}: {e}"))
                    if len(chunk) == SEND_CHUNK:
                        yield chunk
                        chunk = []
                if chunk:
                    yield chunk

            yield from self._send(channels[name], composed())
            if settled:
                yield settled

    @staticmethod
    def _send(channel: Any, chunks: Iterator[list[tuple[Any, Any]]]
              ) -> Iterator[list[Outcome]]:
        """Send composed messages through one channel, a chunk at a time on one session (at
        once where it can: e-mail over several connections); an outage leaves the rest for
        later. Where the channel can start a chunk without waiting for it (`start_batch`),
        the next chunk is on its way while the caller records the one before: never more
        than two chunks are sent and not yet recorded."""
        gone = "the channel went down before this message"
        try:
            with channel.session() as sender:
                pending = None  # the chunk on its way: a function giving its outcomes
                for chunk in itertools.chain(chunks, [None]):  # None: the last is sent
                    started = Dispatcher._start_chunk(sender, chunk) if chunk else None
                    if pending is not None:
                        out = pending()
                        yield out
                        if any(o.outcome == "down" for o in out):
                            if started is not None:  # already on its way: as it went
                                yield started()
                            yield [Outcome(row, "down", gone) for rest in chunks
                                   for row, _ in rest]
                            return
                    pending = started
        except ChannelDown as e:  # opening the session: nothing of this channel went
            yield [Outcome(row, "down", str(e)) for rest in chunks for row, _ in rest]

    @staticmethod
    def _start_chunk(sender: Any, ready: list[tuple[Any, Any]]) -> Callable[[], list[Outcome]]:
        """Start sending a chunk; a function that waits for it and gives its outcomes (the
        chunk is sent at once, before returning, by a channel that cannot start one)."""
        if hasattr(sender, "start_batch"):
            waiting = sender.start_batch(ready)
            return lambda: Dispatcher._outcomes(ready, waiting())
        if hasattr(sender, "send_batch"):
            errors = sender.send_batch(ready)
        else:
            errors = []
            for row, message in ready:
                try:
                    sender.send(row, message)
                    errors.append(None)
                except (ChannelDown, SendFailed) as e:
                    errors.append(e)
                    if isinstance(e, ChannelDown):
                        break
        out = Dispatcher._outcomes(ready, errors)
        return lambda: out

    @staticmethod
    def _outcomes(ready: list[tuple[Any, Any]], errors: list[Exception | None]
                  ) -> list[Outcome]:
        out = []
        for (row, _), error in zip(ready, errors, strict=False):
            if error is None:
                out.append(Outcome(row, "sent"))
            elif isinstance(error, ChannelDown):
                out.append(Outcome(row, "down", str(error)))
            else:
                out.append(Outcome(row, "failed", str(error), error.permanent))
        gone = ChannelDown("the channel went down before this message")
        out += [Outcome(row, "down", str(gone)) for row, _ in ready[len(errors):]]
        return out

    def record(self, outcomes: list[Outcome], now: dt.datetime) -> Report:
        n = notifications
        report = Report()
        attempts = []
        with self.engine.begin() as conn:
            finished: dict[str, list[int]] = defaultdict(list)
            for o in outcomes:
                row = o.row
                attempts.append({"notification_id": row.id, "at": now, "outcome": o.outcome,
                                 "detail": o.detail})
                if o.outcome == "sent":
                    report.sent += 1
                    finished[SENT].append(row.id)
                elif o.outcome == "withheld":
                    report.withheld += 1
                    conn.execute(update(n).where(n.c.id == row.id).values(
                        status=WITHHELD, last_error=o.detail, claimed_until=None))
                    if o.move_to:
                        move_row(conn, row, o.move_to, now)
                elif o.outcome == "skipped":
                    report.skipped += 1
                    conn.execute(update(n).where(n.c.id == row.id).values(
                        status=SKIPPED, last_error=o.detail, claimed_until=None))
                elif o.outcome == "down":
                    report.down += 1
                    conn.execute(update(n).where(n.c.id == row.id).values(
                        status=QUEUED, last_error=o.detail, claimed_until=None,
                        due_at=now + dt.timedelta(seconds=DOWN_RETRY_SECONDS)))
                else:
                    failures = row.attempts + 1
                    park = o.permanent or failures >= self.max_attempts
                    report.failed += 1
                    report.parked += park
                    conn.execute(update(n).where(n.c.id == row.id).values(
                        status=PARKED if park else QUEUED, attempts=failures,
                        last_error=o.detail, claimed_until=None,
                        due_at=now + retry_delay(failures)))
                    if park:
                        log.warning("notification %s parked after %s failure(s): %s",
                                    row.id, failures, o.detail)
            if finished[SENT]:
                ids = finished[SENT]
                for start in range(0, len(ids), 500):
                    conn.execute(update(n).where(n.c.id.in_(ids[start:start + 500])).values(
                        status=SENT, sent_at=now, claimed_until=None, last_error=None))
            if attempts:
                conn.execute(insert(notification_attempts), attempts)
            # A sign-in code is kept only until it has gone (or will not go): then the
            # outbox no longer holds it (docs/patients.md "Signing in").
            for o in outcomes:
                if o.row.kind == "sign-in-code" and o.outcome != "down" and not (
                        o.outcome == "failed" and not o.permanent
                        and o.row.attempts + 1 < self.max_attempts):
                    context = {k: v for k, v in json.loads(o.row.context).items()
                               if k != "code"}
                    conn.execute(update(n).where(n.c.id == o.row.id).values(
                        context=json.dumps(context, sort_keys=True)))
        return report

    # ------------------------------------------------------------------ following
    def follow(self, stop: threading.Event, poll: float = 1.0) -> None:
        """Send what is due every `poll` seconds until `stop` is set."""
        while not stop.is_set():
            try:
                report = self.run_once()
                if report:
                    log.info("notifications: %s", report.summary())
            except Exception:
                log.exception("the notification dispatcher failed; trying again")
            stop.wait(poll)


def resend(engine: Any, notification_id: int, now: dt.datetime) -> bool:
    """Queue a parked notification again (an admin's "send again"); False if it is not
    parked."""
    n = notifications
    with engine.begin() as conn:
        result = conn.execute(update(n).where(n.c.id == notification_id, n.c.status == PARKED)
                              .values(status=QUEUED, attempts=0, due_at=now,
                                      claimed_until=None))
        return result.rowcount == 1
