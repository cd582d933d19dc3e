"""The outbox projector: reads the stored events in order and writes the notifications they
make (docs/notifications.md "The outbox").

For each event of a topic in `kinds.TOPICS`, `kinds.notices_for` says what to tell; this
module says to whom and by which channel (`recipients.py`) and inserts one row per
recipient and channel, keyed by the event (its patient and version), the kind, the
recipient and the channel. The insert does nothing when the key exists, and the projector's
position moves by compare-and-set in the same transaction (the read models' tracking
table, position `outbox`): a replayed or duplicated event, a rebuild of the read models or
two projectors at once never make a notification twice.

`move_row` queues a patient's row again on the channel they now prefer (docs/notifications.md
"Patients"), keyed by that channel, so however often it is moved it is there once.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, update

from guardian.notifications.kinds import TOPICS, notices_for
from guardian.notifications.recipients import Directory, Recipient
from guardian.notifications.schema import QUEUED, WITHHELD, notifications
from guardian.projections.tracking import PositionRecorder, PositionTaken
from guardian.store import dialect_insert

log = logging.getLogger("guardian.notifications")

POSITION = "outbox"
BATCH = 500
# How the reason of a row moved to another channel begins (checks.py, move_row).
MOVED = "moved:"


def key_of(source: str, kind: str, recipient: Recipient) -> str:
    """The row's key: what it is about | kind | who | channel."""
    return f"{source}|{kind}|{recipient.who}|{recipient.channel}"


class Outbox:
    """Turns new events into notification rows. `run_once` brings it up to the head."""

    def __init__(self, app: Any, batch_size: int = BATCH):
        self.app = app
        self.batch_size = batch_size
        self.positions = PositionRecorder(app.engine)

    def position(self) -> int:
        return self.positions.max_tracking_id(POSITION) or 0

    def run_once(self) -> int:
        """Read every event after the position; return the rows written."""
        self.positions.ensure(POSITION)
        written = 0
        while True:
            position = self.position()
            head = int(self.app.recorder.max_notification_id() or 0)
            if head <= position:
                return written
            found = self.app.recorder.select_notifications(
                start=position + 1, limit=self.batch_size, stop=head, topics=TOPICS)
            new = found[-1].id if len(found) == self.batch_size else head
            rows = self.rows_for(found)
            try:
                with self.app.engine.begin() as conn:
                    PositionRecorder.advance(conn, POSITION, position, new)
                    written += insert_rows(conn, rows)
            except PositionTaken:
                log.info("another outbox projector advanced first; reading on")

    def rows_for(self, found: Iterable[Any]) -> list[dict[str, Any]]:
        """The rows a batch of stored events makes."""
        events = []
        for notification in found:
            try:
                events.append(self.app.mapper.to_domain_event(notification))
            except Exception:  # an event this version cannot read: nothing to tell
                log.warning("notification %s cannot be read; no notice made", notification.id)
        if not events:
            return []
        patients = self.app.load_patients({e.originator_id for e in events})
        directory = Directory(self.app.engine, self.app.settings)
        now = self.app.now().astimezone(dt.UTC)
        zone = self.app.settings.zone
        rows: list[dict[str, Any]] = []
        for event in events:
            patient = patients.get(event.originator_id)
            if patient is None:
                continue
            recorded_on = event.timestamp.astimezone(zone).date()
            source = f"{event.originator_id.hex}:{event.originator_version}"
            for notice in notices_for(event, recorded_on):
                for pathway, recipient in directory.recipients(notice, patient, now):
                    context = {**notice.context, **directory.pathway_context(pathway)}
                    rows.append({
                        "key": key_of(source, notice.kind, recipient), "kind": notice.kind,
                        "channel": recipient.channel, "recipient": recipient.who,
                        "user_id": recipient.user_id, "patient_id": patient.id.hex,
                        "provider": pathway.provider, "pathway_id": pathway.pathway_id,
                        "context": json.dumps(context, sort_keys=True),
                        "created_at": now, "due_at": recipient.due_at or now,
                        "status": QUEUED, "attempts": 0,
                    })
        return rows


def insert_rows(conn: Connection, rows: list[dict[str, Any]]) -> int:
    """Insert notification rows; a row whose key exists is left as it is. Returns how many
    were new."""
    if not rows:
        return 0
    seen: dict[str, dict[str, Any]] = {}
    for row in rows:
        seen.setdefault(row["key"], row)
    stmt = dialect_insert(conn, notifications).on_conflict_do_nothing(index_elements=["key"])
    total = 0
    batch = list(seen.values())
    for start in range(0, len(batch), 500):
        result = conn.execute(stmt, batch[start:start + 500])
        total += max(result.rowcount, 0)
    return total


def move_row(conn: Connection, row: Any, channel: str, now: dt.datetime) -> None:
    """Queue `row` (withheld because the patient now prefers `channel`) again on `channel`,
    in the caller's transaction: the same event, kind and recipient, keyed by the new
    channel. When that key exists, the row is left as it is, unless it was itself moved
    away earlier (the patient went back to it): then it is queued again. Either way one
    row of the notification is live at a time, and it is sent at most once."""
    key = f"{row.key.rpartition('|')[0]}|{channel}"
    made = insert_rows(conn, [{
        "key": key, "kind": row.kind, "channel": channel, "recipient": row.recipient,
        "user_id": row.user_id, "patient_id": row.patient_id, "provider": row.provider,
        "pathway_id": row.pathway_id, "context": row.context, "created_at": now,
        "due_at": now, "status": QUEUED, "attempts": 0}])
    if not made:
        n = notifications
        conn.execute(update(n).where(
            n.c.key == key, n.c.status == WITHHELD, n.c.last_error.startswith(MOVED)
        ).values(status=QUEUED, due_at=now, attempts=0, claimed_until=None, last_error=None))
