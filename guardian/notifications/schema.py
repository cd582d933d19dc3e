"""The stored shape of notifications (docs/notifications.md): the outbox, each attempt to
send, users' preferences, the organisations' contact addresses, webhook subscriptions,
printable letters and the outbox projector's own record of which events it has read.

The outbox (`notifications`) has one row per notification, unique by `key`: what it is
about (an event's patient id and version, or a summary's recipient and period), who it is
for and the channel. The projector inserts with "on conflict do nothing", so a replayed,
rebuilt or duplicated event never makes a second row, and the dispatcher moves each row
once from `queued` to `sent` (or `parked`, `withheld`, `skipped`).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    false,
    true,
)

from guardian.store import metadata

# Row states (docs/notifications.md "Life of a notification").
QUEUED, SENDING, SENT, PARKED, WITHHELD, SKIPPED = (
    "queued", "sending", "sent", "parked", "withheld", "skipped")
STATES = (QUEUED, SENDING, SENT, PARKED, WITHHELD, SKIPPED)

notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # what it is about | who for | channel: unique, so nothing is made twice
    Column("key", String(240), nullable=False, unique=True),
    Column("kind", String(32), nullable=False),  # guardian/notifications/kinds.py
    Column("channel", String(16), nullable=False),  # email, inbox, webhook, letter
    # "user:<id>", "practice:<code>", "provider:<code>", "patient", "webhook:<id>"
    Column("recipient", String(64), nullable=False),
    Column("user_id", Integer),  # for a user's inbox and e-mail
    Column("patient_id", String(32)),  # hex; None for a summary or a digest
    Column("provider", String(8)),
    Column("pathway_id", String(64)),
    Column("context", Text, nullable=False),  # JSON: what the template says (kinds.py)
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False, default=QUEUED),
    Column("attempts", Integer, nullable=False, default=0),  # failures counted to parking
    Column("last_error", Text),
    Column("claimed_until", DateTime(timezone=True)),  # a dispatcher is sending it
    Column("sent_at", DateTime(timezone=True)),
    Column("read_at", DateTime(timezone=True)),  # inbox: when its user read it
    Index("notifications_due", "status", "due_at"),
    Index("notifications_inbox", "user_id", "channel", "read_at"),
)

# Every attempt to send: sent, failed (with why), withheld (and why), down (channel unreachable).
notification_attempts = Table(
    "notification_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("notification_id", Integer, ForeignKey("notifications.id"), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("detail", Text),
    Index("notification_attempts_of", "notification_id"),
)

# A user's choice: alerts by e-mail at once or in one daily summary, and quiet hours
# ("HH:MM" in GUARDIAN_TIMEZONE) during which no e-mail goes to them. No row: at once,
# no quiet hours.
notification_preferences = Table(
    "notification_preferences",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id"), primary_key=True),
    Column("email_mode", String(16), nullable=False, default="immediate"),
    Column("quiet_from", String(5)),
    Column("quiet_until", String(5)),
)

# Where a practice or a provider is written to: its e-mail address; for a practice, whether
# it takes the weekly digest.
org_contacts = Table(
    "org_contacts",
    metadata,
    Column("code", String(8), primary_key=True),  # a practice's or a provider's ODS code
    Column("kind", String(8), nullable=False),  # "practice" or "provider"
    Column("email", String(254)),
    Column("weekly_digest", Boolean, nullable=False, server_default=true()),
)

# A signed webhook for a practice system or a hospital integration: events of the
# practice's (or the provider's) pathways, of the kinds it names.
webhooks = Table(
    "webhooks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(80), nullable=False, unique=True),
    Column("url", Text, nullable=False),
    Column("secret", String(128), nullable=False),
    Column("org_kind", String(8), nullable=False),  # "practice" or "provider"
    Column("org_code", String(8), nullable=False),
    Column("kinds", Text, nullable=False),  # JSON list of kinds
    Column("disabled", Boolean, nullable=False, server_default=false()),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Letters to print and post: the printable page a letter notification made.
letters = Table(
    "letters",
    metadata,
    Column("notification_id", Integer, ForeignKey("notifications.id"), primary_key=True),
    Column("patient_id", String(32), nullable=False),
    Column("pcn_code", String(8), nullable=False),  # whose coordinators print it
    Column("html", Text, nullable=False),
    Column("made_at", DateTime(timezone=True), nullable=False),
    Column("printed_at", DateTime(timezone=True)),
    Column("printed_by", String(254)),
    Index("letters_to_print", "pcn_code", "printed_at"),
)
