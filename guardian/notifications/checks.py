"""The checks made again when a notification is sent (docs/notifications.md "Sending"):
nothing goes out about a closed case, to someone who lost access, or to a patient who
asked not to be written to that way; and where it goes is read now, not when it was queued
(a user's or a practice's address as it is today).

`Checks.verdict(row, patient)` gives the address (e-mail or URL; None for the inbox and a
letter), or the reason the row is withheld, and for a summary or a digest what it gathers.
A row to a patient who now prefers another channel is not lost: its verdict names the
channel (`move_to`), and the dispatcher settles it and queues it there (outbox.move_row).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from guardian.notifications.compose import World
from guardian.notifications.outbox import MOVED
from guardian.notifications.recipients import patient_channel
from guardian.notifications.schema import notification_preferences, org_contacts, webhooks
from guardian.orgs import all_practices
from guardian.projections.name_queries import load_names
from guardian.users.directory import list_users


@dataclass
class Verdict:
    reason: str | None = None  # why it is withheld; None: send it
    address: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    move_to: str | None = None  # withheld here, to be queued on this channel instead


class Checks:
    """Everything the checks read, once per batch."""

    def __init__(self, app: Any):
        self.app = app
        with app.engine.connect() as conn:
            self.practices = all_practices(conn)
            self.users = {u.id: u for u in list_users(conn)}
            self.contacts = {r.code: r for r in conn.execute(select(org_contacts))}
            self.hooks = {r.id: r for r in conn.execute(select(webhooks))}
            self.preferences = {r.user_id: r for r in conn.execute(
                select(notification_preferences))}
            self.names = load_names(conn)

    def world(self) -> World:
        from guardian.notifications.threads import reply_address
        from guardian.projections.status import expected_wait

        engine = self.app.engine
        settings = self.app.settings

        def expected(provider: str, tf: str, priority: int, on: Any) -> Any:
            with engine.connect() as conn:
                return expected_wait(conn, provider, tf, priority, on, names=self.names)

        return World(names=self.names, settings=settings,
                     standards={s.code: s.label for s in settings.standards},
                     expected_wait=expected,
                     reply_address=lambda row, patient: reply_address(settings, row))

    def pcn_of(self, practice_code: str) -> str | None:
        practice = self.practices.get(practice_code)
        return practice.pcn_code if practice else None

    def verdict(self, row: Any, patient: Any) -> Verdict:
        who, _, ident = row.recipient.partition(":")
        if row.kind == "daily-summary":
            return self._summary(row, int(ident))
        if row.kind == "weekly-digest":
            return self._digest(row, ident)
        if patient is None:
            return Verdict("the patient is no longer in the record")
        if row.kind == "sign-in-code":  # about no one referral: the patient asked for it
            return self._code(row, patient)
        try:
            pathway = patient.pathway(row.provider, row.pathway_id)
        except Exception:
            return Verdict("the referral is no longer in the record")
        if not pathway.is_open:
            return Verdict("the referral is closed")
        if who == "user":
            user = self.users.get(int(ident))
            if user is None or not user.enabled:
                return Verdict("the user's account is disabled")
            if user.role != "coordinator" or self.pcn_of(pathway.practice_code) not in user.orgs:
                return Verdict("the user no longer looks after this patient's PCN")
            return Verdict(address=user.email)
        if who == "practice":
            if pathway.practice_code != ident:
                return Verdict("the patient is no longer registered with this practice")
            return self._org_address(ident, "practice")
        if who == "provider":
            return self._org_address(ident, "hospital")
        if who == "webhook":
            hook = self.hooks.get(int(ident))
            if hook is None or hook.disabled:
                return Verdict("the webhook was removed or switched off")
            org = pathway.practice_code if hook.org_kind == "practice" else pathway.provider
            if org != hook.org_code:
                return Verdict("the referral is no longer the webhook's organisation's")
            return Verdict(address=hook.url)
        if who == "patient":
            channel = patient_channel(patient)
            if channel is None:
                return Verdict("the patient asked not to be contacted")
            if channel != row.channel:  # docs/notifications.md "Patients": moved, not lost
                return Verdict(f"{MOVED} the patient now prefers to be written to by "
                               f"{channel}", move_to=channel)
            return Verdict(address=patient.email if channel == "email" else None)
        return Verdict(f"unknown recipient {row.recipient!r}")

    @staticmethod
    def _code(row: Any, patient: Any) -> Verdict:
        expires = json.loads(row.context).get("expires_at")
        if expires and dt.datetime.fromisoformat(expires) <= dt.datetime.now(dt.UTC):
            return Verdict("the sign-in code expired before it could be sent")
        if row.channel == "email":
            if not patient.email:
                return Verdict("the patient has no email address")
            return Verdict(address=patient.email)
        return Verdict()

    def _org_address(self, code: str, what: str) -> Verdict:
        contact = self.contacts.get(code)
        if contact is None or not contact.email:
            return Verdict(f"the {what} has no email address in Guardian "
                           f"(guardian contacts set {code} --email …)")
        return Verdict(address=contact.email)

    def _summary(self, row: Any, user_id: int) -> Verdict:
        from guardian.notifications.digests import daily_summary_items

        user = self.users.get(user_id)
        if user is None or not user.enabled or user.role != "coordinator":
            return Verdict("the user's account is disabled or no longer a coordinator")
        items = daily_summary_items(self.app, row, user, self)
        if not items:
            return Verdict("nothing new for the daily summary")
        return Verdict(address=user.email, extra={"items": items, "name": user.name})

    def _digest(self, row: Any, code: str) -> Verdict:
        contact = self.contacts.get(code)
        if contact is None or not contact.email:
            return Verdict("the practice has no email address in Guardian")
        if not contact.weekly_digest:
            return Verdict("the practice opted out of the weekly digest")
        return Verdict(address=contact.email, extra=json.loads(row.context))
