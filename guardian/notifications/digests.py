"""The coordinators' daily summary and the practices' weekly digest (docs/notifications.md
"Daily summary", "Weekly digest"): the rows the scheduled jobs make, and what each says.

- `make_daily_summaries(app, day)`: at 07:00 (GUARDIAN_TIMEZONE) one e-mail row per enabled
  coordinator who chose a daily summary, about the 24 hours before. What it lists is read
  when it is sent (`daily_summary_items`, called by checks.py): the coordinator's inbox
  notifications of those hours whose pathway is still open and still in their PCNs.
- `make_weekly_digests(app, week_ending)`: on Fridays at 07:00 one e-mail row per practice
  with an address that takes the digest. Its content is computed when the row is made and
  stored in the row's context: each measure is ONE grouped query over every practice, on
  the read models (`worklist`, `breach_facts`, `pathway_intervals`) and the audit log.

Both are keyed by their period (outbox.key_of, insert_rows), so running a job again, or
two schedulers at once, never makes a second row.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, and_, func, select, true

from guardian.domain import codes
from guardian.notifications.compose import base_url, pathway_words
from guardian.notifications.kinds import COORDINATOR_KINDS
from guardian.notifications.outbox import insert_rows, key_of
from guardian.notifications.recipients import EMAIL, INBOX, Recipient, end_of_quiet
from guardian.notifications.schema import (
    QUEUED,
    SENT,
    notification_preferences,
    notifications,
    org_contacts,
)
from guardian.orgs import all_practices
from guardian.projections.bottlenecks.model import breach_facts, intervals
from guardian.projections.name_queries import load_names
from guardian.projections.worklist import worklist
from guardian.store.tables import audit_log
from guardian.users.directory import list_users

DAILY, WEEKLY = "daily-summary", "weekly-digest"
SUMMARY_AT = dt.time(7, 0)  # local time of both jobs
DIGEST_WEEKDAY = 4  # Friday
OPT_OUT = "opt out: ask the Guardian team"
LINKS_SHOWN = 20  # pathway links in a digest's workup list; the rest are counted
# The audit actions that are a GP's question about a referral's status, answered by
# Guardian: the patient's page, and the referral through the API (guardian/audit.py).
STATUS_QUESTIONS = ("view-patient", "view-referral")


# ---------------------------------------------------------------------------- periods


def summary_day(now: dt.datetime, zone: Any) -> dt.date:
    """The day of the latest daily summary due by `now` (07:00 local has passed)."""
    local = now.astimezone(zone)
    return local.date() if local.time() >= SUMMARY_AT else local.date() - dt.timedelta(days=1)


def digest_week_ending(now: dt.datetime, zone: Any) -> dt.date:
    """The Friday of the latest weekly digest due by `now` (Friday 07:00 local has passed)."""
    day = summary_day(now, zone)
    return day - dt.timedelta(days=(day.weekday() - DIGEST_WEEKDAY) % 7)


def _at(day: dt.date, zone: Any, time: dt.time = SUMMARY_AT) -> dt.datetime:
    return dt.datetime.combine(day, time, tzinfo=zone)


def _utc(value: str | dt.datetime) -> dt.datetime:
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(dt.UTC)


# ---------------------------------------------------------------------------- daily


def make_daily_summaries(app: Any, day: dt.date) -> int:
    """One daily-summary row per enabled coordinator whose e-mail mode is "daily", about
    07:00 the day before to 07:00 on `day` (local). Returns how many rows were new."""
    zone = app.settings.zone
    since, until = _at(day - dt.timedelta(days=1), zone), _at(day, zone)
    now = app.now()
    with app.engine.begin() as conn:
        chosen = {r.user_id: r for r in conn.execute(select(notification_preferences).where(
            notification_preferences.c.email_mode == "daily"))}
        rows = []
        for user in list_users(conn):
            pref = chosen.get(user.id)
            if pref is None or not user.enabled or user.role != "coordinator":
                continue
            recipient = Recipient(f"user:{user.id}", EMAIL, user.id)
            later = end_of_quiet(now, zone, pref.quiet_from, pref.quiet_until)
            rows.append({
                "key": key_of(f"{DAILY}:{day.isoformat()}", DAILY, recipient),
                "kind": DAILY, "channel": EMAIL, "recipient": recipient.who,
                "user_id": user.id, "patient_id": None, "provider": None, "pathway_id": None,
                "context": json.dumps({"since": since.isoformat(), "until": until.isoformat(),
                                       "day": day.isoformat()}, sort_keys=True),
                "created_at": now, "due_at": max(later or now, now), "status": QUEUED,
                "attempts": 0,
            })
        return insert_rows(conn, rows)


def daily_summary_items(app: Any, row: Any, user: Any, checks: Any) -> list[dict[str, Any]]:
    """What a daily summary lists, read when it is sent: the user's inbox notifications made
    in (since, until] that checks.verdict still passes (the pathway open, in their PCNs),
    oldest first. No patient's name or NHS number: specialty, hospital, practice, the day,
    and a link to the patient's page."""
    context = json.loads(row.context)
    n = notifications
    with app.engine.connect() as conn:
        found = list(conn.execute(select(n).where(
            n.c.user_id == user.id, n.c.channel == INBOX, n.c.status == SENT,
            n.c.created_at > _utc(context["since"]), n.c.created_at <= _utc(context["until"]),
        ).order_by(n.c.created_at, n.c.id)))
    patients = app.load_patients({UUID(hex=r.patient_id) for r in found if r.patient_id})
    url = base_url(app.settings)
    items = []
    for r in found:
        patient = patients.get(UUID(hex=r.patient_id)) if r.patient_id else None
        if checks.verdict(r, patient).reason is not None:
            continue
        values = {**json.loads(r.context), "provider": r.provider}
        words = pathway_words(values, checks.names)
        items.append({
            "kind": r.kind, "what": COORDINATOR_KINDS.get(r.kind, r.kind),
            "specialty": words["specialty"], "hospital": words["hospital"],
            "practice": words["practice"],
            "on": values.get("on") or r.created_at.date().isoformat(),
            "url": f"{url}/patients/{r.patient_id}",
        })
    return items


# ---------------------------------------------------------------------------- weekly


def make_weekly_digests(app: Any, week_ending: dt.date) -> int:
    """One weekly-digest row per practice with an e-mail address that takes the digest,
    its content computed now for the seven days before `week_ending` (a Friday). Returns
    how many rows were new."""
    with app.engine.begin() as conn:
        return queue_weekly_digests(app, conn, week_ending)


def queue_weekly_digests(app: Any, conn: Connection, week_ending: dt.date) -> int:
    """`make_weekly_digests` in the caller's transaction (bench/digest.py rolls it back)."""
    now = app.now()
    wanted = [r.code for r in conn.execute(select(org_contacts.c.code).where(
        org_contacts.c.kind == "practice", org_contacts.c.weekly_digest == true(),
        org_contacts.c.email.is_not(None), org_contacts.c.email != ""))]
    if not wanted:
        return 0
    contents = digest_contents(conn, week_ending, app.settings.zone, base_url(app.settings))
    rows = []
    for code in sorted(wanted):
        recipient = Recipient(f"practice:{code}", EMAIL)
        rows.append({
            "key": key_of(f"{WEEKLY}:{week_ending.isoformat()}", WEEKLY, recipient),
            "kind": WEEKLY, "channel": EMAIL, "recipient": recipient.who,
            "user_id": None, "patient_id": None, "provider": None, "pathway_id": None,
            "context": json.dumps(contents(code), sort_keys=True),
            "created_at": now, "due_at": now, "status": QUEUED, "attempts": 0,
        })
    return insert_rows(conn, rows)


def digest_contents(conn: Connection, week_ending: dt.date, zone: Any, url: str) -> Any:
    """Every measure for every practice, one grouped query each; returns a function from a
    practice code to its digest's context."""
    first, last = week_ending - dt.timedelta(days=7), week_ending - dt.timedelta(days=1)
    since, until = _at(first, zone, dt.time(0)), _at(week_ending, zone, dt.time(0))
    names = load_names(conn)
    practices = all_practices(conn)
    waiting = waiting_by_specialty(conn)
    breaches = breaches_by_specialty(conn, first, last)
    owed = workup_owed(conn)
    answered = messages_answered(conn, first, last)
    questions = status_questions(conn, since, until)

    def contents(code: str) -> dict[str, Any]:
        practice = practices.get(code)
        owing = owed.get(code, [])
        return {
            "practice_code": code, "pcn_code": practice.pcn_code if practice else None,
            "week_first": first.isoformat(), "week_last": last.isoformat(),
            "week_ending": week_ending.isoformat(),
            "waiting": _by_specialty(waiting.get(code, Counter())),
            "waiting_total": sum(waiting.get(code, Counter()).values()),
            "breaches": _by_specialty(breaches.get(code, Counter())),
            "breaches_total": sum(breaches.get(code, Counter()).values()),
            "workup_total": sum(w["items"] for w in owing),
            "workup_pathways": len(owing),
            "workup": [{**w, "hospital": names.provider(w["provider"]),
                        "url": f"{url}/patients/{w['patient_id']}"}
                       for w in owing[:LINKS_SHOWN]],
            "workup_more": max(0, len(owing) - LINKS_SHOWN),
            "answered": answered.get(code, 0),
            "status_questions": questions.get(code, 0),
            "opt_out": OPT_OUT,
        }

    return contents


def _by_specialty(counts: Counter[str]) -> list[dict[str, Any]]:
    named = [(codes.TREATMENT_FUNCTIONS.get(tf, tf), n) for tf, n in counts.items()]
    return [{"specialty": name, "count": n}
            for name, n in sorted(named, key=lambda kv: (-kv[1], kv[0]))]


def waiting_by_specialty(conn: Connection) -> dict[str, Counter[str]]:
    """Practice → treatment function → open pathways (the worklist: one row per open one)."""
    w = worklist
    out: dict[str, Counter[str]] = defaultdict(Counter)
    for code, tf, n in conn.execute(
            select(w.c.practice_code, w.c.treatment_function, func.count())
            .group_by(w.c.practice_code, w.c.treatment_function)):
        out[code][tf] = n
    return out


def breaches_by_specialty(conn: Connection, first: dt.date, last: dt.date
                          ) -> dict[str, Counter[str]]:
    """Practice → treatment function → breaches dated first..last (the sweep's, recorded
    in `breach_facts`)."""
    b = breach_facts
    out: dict[str, Counter[str]] = defaultdict(Counter)
    for code, tf, n in conn.execute(
            select(b.c.practice_code, b.c.treatment_function, func.count())
            .where(b.c.breach_on >= first, b.c.breach_on <= last)
            .group_by(b.c.practice_code, b.c.treatment_function)):
        out[code][tf] = n
    return out


def workup_owed(conn: Connection) -> dict[str, list[dict[str, Any]]]:
    """Practice → the pathways (still on the list) with workup items asked of the practice
    and not done: the `practice-workup` intervals still open, oldest first."""
    t = intervals
    q = (select(t.c.practice_code, t.c.provider, t.c.pathway_id, t.c.patient_id,
                t.c.treatment_function, func.min(t.c.started_on), func.count())
         .where(t.c.kind == "practice-workup", t.c.ended_on.is_(None),
                t.c.pathway_ended_on.is_(None))
         .group_by(t.c.practice_code, t.c.provider, t.c.pathway_id, t.c.patient_id,
                   t.c.treatment_function))
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for code, provider, pathway_id, patient_id, tf, since, n in conn.execute(q):
        out[code].append({"provider": provider, "pathway_id": pathway_id,
                          "patient_id": patient_id,
                          "specialty": codes.TREATMENT_FUNCTIONS.get(tf, tf),
                          "since": since.isoformat(), "items": n})
    for owing in out.values():
        owing.sort(key=lambda w: (w["since"], w["provider"], w["pathway_id"]))
    return out


def messages_answered(conn: Connection, first: dt.date, last: dt.date) -> dict[str, int]:
    """Practice → messages from the GP practice that Guardian answered first..last."""
    t = intervals
    return dict(conn.execute(
        select(t.c.practice_code, func.count())
        .where(t.c.kind == "gp-message", t.c.ended_on >= first, t.c.ended_on <= last)
        .group_by(t.c.practice_code)).all())


def status_questions(conn: Connection, since: dt.datetime, until: dt.datetime
                     ) -> dict[str, int]:
    """Practice → how many times its GPs (on the web or through the API) read a referral's
    status from Guardian in [since, until): the audit log's views by GP users, each user
    counted to their practice."""
    a = audit_log
    by_user = conn.execute(
        select(a.c.user_email, func.count())
        .where(and_(a.c.role == "gp", a.c.action.in_(STATUS_QUESTIONS),
                    a.c.at >= _utc(since), a.c.at < _utc(until)))
        .group_by(a.c.user_email)).all()
    if not by_user:
        return {}
    practice_of = {u.email: u.orgs[0] for u in list_users(conn) if u.role == "gp" and u.orgs}
    out: Counter[str] = Counter()
    for email, n in by_user:
        code = practice_of.get((email or "").lower())
        if code:
            out[code] += n
    return dict(out)
