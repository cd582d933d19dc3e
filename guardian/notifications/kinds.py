"""What Guardian tells whom without being asked (docs/notifications.md "What is sent"): the
kinds of notification, and `notices_for`, the pure rule from one stored event to the
notices it makes. No database and no clock: the day an event was recorded comes in as an
argument, so the same events make the same notices whenever the outbox reads them.

A notice names its kind, its audience and what the template needs; the outbox
(`outbox.py`) turns each into rows, one per recipient and channel.

**News only.** An event makes a notice only when the fact it records happened within
`NEW_FOR_DAYS` days of the day it was recorded (the worklist's "new", docs/rules.md §11): a
first import of a long waiting list records old breaches, which the worklist shows and
nobody needs an e-mail about.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from guardian.domain.urgency import NEW_FOR_DAYS

# Kind → what it is, as the admin's outbox page names it.
COORDINATOR_KINDS: dict[str, str] = {
    "breach": "A wait standard was missed",
    "at-risk": "A step is at risk of missing its standard",
    "deterioration": "A patient reported getting worse",
    "check-in-due": "A Waiting Well check-in is due",
    "message-waiting": "A message is waiting for the Guardian team",
}
KINDS: dict[str, str] = {
    **COORDINATOR_KINDS,
    "daily-summary": "The coordinator's daily summary",
    "weekly-digest": "The practice's weekly digest",
    "patient-check-in": "A letter or e-mail to the patient at a check-in",
    "thread-message": "A message from the Guardian team to the hospital, practice or patient",
    "sign-in-code": "A patient's one-time code to sign in (docs/patients.md)",
}
# The kinds a webhook may subscribe to: what happens on a pathway.
WEBHOOK_KINDS = tuple(COORDINATOR_KINDS)

COORDINATORS, PATIENT, ADDRESSEE = "coordinators", "patient", "addressee"


@dataclass(frozen=True)
class Notice:
    """One thing to tell: `kind`, `audience` (the pathway's coordinators, the patient, or
    the addressee of a message), the pathway (None: every open pathway of the patient, for
    a deterioration reported of the patient as a whole) and the template's `context`."""

    kind: str
    audience: str
    provider: str | None
    pathway_id: str | None
    context: dict[str, Any] = field(default_factory=dict)


def is_news(happened_on: dt.date, recorded_on: dt.date) -> bool:
    """Whether a fact recorded on `recorded_on` is news: it happened within NEW_FOR_DAYS
    days before (or on) that day (docs/notifications.md "News only")."""
    return happened_on >= recorded_on - dt.timedelta(days=NEW_FOR_DAYS - 1)


def _day(value: Any) -> str:
    return value.isoformat()


def notices_for(event: Any, recorded_on: dt.date) -> list[Notice]:
    """The notices one stored event makes (none for most events)."""
    name = type(event).__name__
    where = (getattr(event, "provider", None), getattr(event, "pathway_id", None))
    if name == "WaitBreached" and is_news(event.breach_on, recorded_on):
        return [Notice("breach", COORDINATORS, *where, {
            "standard": event.standard, "subject": event.subject,
            "on": _day(event.breach_on)})]
    if name == "StepAtRisk" and is_news(event.at_risk_from, recorded_on):
        return [Notice("at-risk", COORDINATORS, *where, {
            "standard": event.standard, "subject": event.subject,
            "on": _day(event.at_risk_from), "last_day_within": _day(event.last_day_within)})]
    if name == "DeteriorationFlagged" and is_news(event.raised_on, recorded_on):
        return [Notice("deterioration", COORDINATORS, *where, {
            "flag_id": event.flag_id, "source": event.source, "on": _day(event.raised_on)})]
    if name == "CheckInDue" and is_news(event.due_on, recorded_on):
        context = {"on": _day(event.due_on), "reason": event.reason,
                   "wait_days": event.wait_days}
        return [Notice("check-in-due", COORDINATORS, *where, context),
                Notice("patient-check-in", PATIENT, *where, context)]
    if name == "MessageReceived" and is_news(event.on, recorded_on):
        return [Notice("message-waiting", COORDINATORS, *where, {
            "message_id": event.message_id, "party": event.party, "on": _day(event.on)})]
    if name == "MessageSent" and is_news(event.on, recorded_on):
        return [Notice("thread-message", ADDRESSEE, *where, {
            "message_id": event.message_id, "party": event.party, "on": _day(event.on),
            "in_reply_to": event.in_reply_to})]
    return []


TOPICS = tuple(f"guardian.Patient.{name}" for name in (
    "WaitBreached", "StepAtRisk", "DeteriorationFlagged", "CheckInDue", "MessageReceived",
    "MessageSent"))
