"""Who is told, and how (docs/notifications.md "Who is told"): the pathway's coordinators
(in-app inbox always; e-mail at once or in the daily summary, outside their quiet hours),
the webhooks of the pathway's practice or provider, the patient by their chosen channel
(e-mail or letter; none when they asked not to be contacted), and the addressee of a
message (the hospital's or the practice's address, or the patient).

`Directory` reads users, preferences, contacts and webhooks once per outbox batch.
`still_reaches` is the check made again when a row is sent: the pathway is still open and
the recipient may still see it.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select

from guardian.notifications.kinds import ADDRESSEE, COORDINATORS, PATIENT, Notice
from guardian.notifications.schema import notification_preferences, org_contacts, webhooks
from guardian.orgs import all_practices
from guardian.users.directory import list_users

EMAIL, INBOX, WEBHOOK, LETTER = "email", "inbox", "webhook", "letter"
CHANNELS = (EMAIL, INBOX, WEBHOOK, LETTER)


@dataclass(frozen=True)
class Recipient:
    who: str  # "user:<id>", "practice:<code>", "provider:<code>", "patient", "webhook:<id>"
    channel: str
    user_id: int | None = None
    due_at: dt.datetime | None = None  # later than now: held for quiet hours


def patient_channel(patient: Any) -> str | None:
    """How to write to the patient: their recorded preference ("none": not at all), else
    e-mail when they have an address, else a letter."""
    chosen = getattr(patient, "contact_preference", None)
    if chosen == "none":
        return None
    if chosen == "email" and patient.email:
        return EMAIL
    if chosen == "letter":
        return LETTER
    return EMAIL if patient.email else LETTER


def end_of_quiet(now: dt.datetime, zone: Any, quiet_from: str | None,
                 quiet_until: str | None) -> dt.datetime | None:
    """When `now` falls in the quiet hours [from, until) (local times, possibly spanning
    midnight), the moment they end (UTC); else None."""
    if not quiet_from or not quiet_until or quiet_from == quiet_until:
        return None
    local = now.astimezone(zone)
    start = dt.time.fromisoformat(quiet_from)
    end = dt.time.fromisoformat(quiet_until)
    t = local.time()
    inside = start <= t < end if start < end else (t >= start or t < end)
    if not inside:
        return None
    day = local.date() if t < end else local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, end, tzinfo=zone).astimezone(dt.UTC)


class Directory:
    """Users, their preferences, organisations' contacts and webhooks, read once."""

    def __init__(self, engine: Engine, settings: Any):
        self.settings = settings
        with engine.connect() as conn:
            self.practices = all_practices(conn)
            self.users = [u for u in list_users(conn) if u.enabled]
            self.preferences = {r.user_id: r for r in conn.execute(
                select(notification_preferences))}
            self.hooks = [r for r in conn.execute(select(webhooks)) if not r.disabled]

    def pcn_of(self, practice_code: str) -> str | None:
        practice = self.practices.get(practice_code)
        return practice.pcn_code if practice else None

    def pathway_context(self, pathway: Any) -> dict[str, Any]:
        return {"practice_code": pathway.practice_code,
                "pcn_code": self.pcn_of(pathway.practice_code),
                "treatment_function": pathway.treatment_function,
                "priority": pathway.priority}

    def coordinators_of(self, pcn: str | None) -> list[Any]:
        return [u for u in self.users if u.role == "coordinator" and pcn in u.orgs]

    def recipients(self, notice: Notice, patient: Any, now: dt.datetime
                   ) -> list[tuple[Any, Recipient]]:
        """(pathway, recipient) for every row a notice makes."""
        if notice.provider is not None and notice.pathway_id is not None:
            pathways = [patient.pathway(notice.provider, notice.pathway_id)]
        else:
            pathways = [p for p in patient.pathways.values() if p.is_open]
        out: list[tuple[Any, Recipient]] = []
        for pathway in pathways:
            if notice.audience == COORDINATORS:
                out += [(pathway, r) for r in self._coordinators(pathway, now)]
                out += [(pathway, r) for r in self._webhooks(notice.kind, pathway)]
            elif notice.audience == PATIENT:
                channel = patient_channel(patient)
                if channel:
                    out.append((pathway, Recipient("patient", channel)))
            elif notice.audience == ADDRESSEE:
                out += [(pathway, r) for r in self._addressee(notice, patient, pathway)]
        return out

    def _coordinators(self, pathway: Any, now: dt.datetime) -> list[Recipient]:
        out = []
        for user in self.coordinators_of(self.pcn_of(pathway.practice_code)):
            who = f"user:{user.id}"
            out.append(Recipient(who, INBOX, user.id))
            pref = self.preferences.get(user.id)
            if pref is not None and pref.email_mode == "daily":
                continue  # the daily summary tells them (digests.py)
            later = end_of_quiet(now, self.settings.zone, pref.quiet_from if pref else None,
                                 pref.quiet_until if pref else None)
            out.append(Recipient(who, EMAIL, user.id, later))
        return out

    def _webhooks(self, kind: str, pathway: Any) -> list[Recipient]:
        out = []
        for hook in self.hooks:
            org = pathway.practice_code if hook.org_kind == "practice" else pathway.provider
            if hook.org_code == org and kind in json.loads(hook.kinds):
                out.append(Recipient(f"webhook:{hook.id}", WEBHOOK))
        return out

    def _addressee(self, notice: Notice, patient: Any, pathway: Any) -> list[Recipient]:
        party = notice.context.get("party")
        if party == "hospital":
            return [Recipient(f"provider:{pathway.provider}", EMAIL)]
        if party == "gp":
            return [Recipient(f"practice:{pathway.practice_code}", EMAIL)]
        if party == "patient":
            channel = patient_channel(patient)
            return [Recipient("patient", channel)] if channel else []
        return []


def org_email(engine_or_conn: Any, code: str) -> tuple[str | None, bool]:
    """An organisation's e-mail address and whether it takes the weekly digest."""
    q = select(org_contacts.c.email, org_contacts.c.weekly_digest).where(
        org_contacts.c.code == code)
    if isinstance(engine_or_conn, Engine):
        with engine_or_conn.connect() as conn:
            row = conn.execute(q).first()
    else:
        row = engine_or_conn.execute(q).first()
    return (row.email, bool(row.weekly_digest)) if row else (None, True)
