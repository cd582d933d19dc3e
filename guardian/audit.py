"""The audit log: who did or saw what, when, from where. Append-only.

Every view of patient-identifiable data and every action is recorded with `record`. Nothing
in Guardian updates or deletes an audit row, and the database refuses it too: triggers
created with the table (`guardian db init`) abort any UPDATE or DELETE on both SQLite and
PostgreSQL (and TRUNCATE on PostgreSQL). The table itself is defined with the store's
tables (`guardian.store.tables.audit_log`), so that an action's entry can be written in the
transaction of its events.

Actions are short kebab-case verbs: "sign-in", "sign-in-failed", "sign-in-throttled",
"sign-out", "view-patient", "view-worklist", "record-workup-done", "view-audit",
"denied-patient" (an out-of-scope attempt, answered 404), "add-user", "disable-user" …
A detail is at most DETAIL_LIMIT characters (longer ones are cut, marked TRUNCATED).
The actions of the patient page's forms are recorded as their names with spaces ("workup
done", "clock stop"). `words` says what an action means in words (the audit log page).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from guardian.store.tables import audit_log


@dataclass(frozen=True)
class Entry:
    id: int
    at: dt.datetime
    user_email: str | None
    role: str | None
    action: str
    patient_id: str | None
    provider: str | None
    pathway_id: str | None
    detail: str | None
    client: str | None
    user_agent: str | None


_INSERT = insert(audit_log)  # one statement, compiled once per engine


def record(bind: Engine | Connection, **fields: Any) -> None:
    """Append one entry (`fields` as for `entry`). With a Connection it joins the caller's
    transaction (the entry and the action it records commit together); with an Engine it
    commits on its own: one INSERT sent in autocommit mode, which commits as it runs (no
    BEGIN and COMMIT round trips around it, on the hot path of every page view)."""
    values = entry(**fields)
    if isinstance(bind, Connection):
        bind.execute(_INSERT, values)
    else:
        with bind.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(_INSERT, values)


def entry(
    *,
    action: str,
    email: str | None,
    role: str | None = None,
    patient_id: str | None = None,
    provider: str | None = None,
    pathway_id: str | None = None,
    detail: str | None = None,
    client: str | None = None,
    user_agent: str | None = None,
    at: dt.datetime | None = None,
) -> dict[str, Any]:
    """The row of one entry, every value cut to fit its column (see `record`)."""
    values = {
        "at": at or dt.datetime.now(dt.UTC),
        "user_email": email or None,
        "role": role,
        "action": action,
        "patient_id": getattr(patient_id, "hex", patient_id),
        "provider": provider,
        "pathway_id": pathway_id,
        "detail": bounded(detail),
        "client": client or None,
        "user_agent": (user_agent or None) and user_agent[:512],
    }
    # Whatever a request sent fits its column: cut to the column's length (PostgreSQL
    # would refuse a longer value, and the action with it).
    for name, value in values.items():
        length = getattr(audit_log.c[name].type, "length", None)
        if length and isinstance(value, str) and len(value) > length:
            values[name] = value[:length]
    return values


DETAIL_LIMIT = 1000
TRUNCATED = " … [truncated]"


def bounded(detail: str | None) -> str | None:
    """A detail of at most DETAIL_LIMIT characters; a longer one is cut, ending in
    TRUNCATED, so that no request can grow the append-only log without bound."""
    if detail is None or len(detail) <= DETAIL_LIMIT:
        return detail
    return detail[: DETAIL_LIMIT - len(TRUNCATED)] + TRUNCATED


def entries(
    bind: Engine | Connection,
    *,
    email: str | None = None,
    patient_id: str | None = None,
    action: str | None = None,
    before: int | None = None,
    limit: int = 50,
) -> list[Entry]:
    """Newest first, keyset-paged on id (pass the last id shown as `before`)."""
    q = select(audit_log)
    if email:
        q = q.where(audit_log.c.user_email == email.strip().lower())
    if patient_id:
        q = q.where(audit_log.c.patient_id == patient_id)
    if action:
        q = q.where(audit_log.c.action == action)
    if before is not None:
        q = q.where(audit_log.c.id < before)
    q = q.order_by(audit_log.c.id.desc()).limit(limit)
    found = []
    for r in _rows(bind, q):
        values = dict(r._mapping)
        if values["at"].tzinfo is None:  # SQLite gives back naive datetimes: they are UTC
            values["at"] = values["at"].replace(tzinfo=dt.UTC)
        found.append(Entry(**values))
    return found


def _rows(bind: Engine | Connection, q: Any) -> list[Any]:
    if isinstance(bind, Connection):
        return list(bind.execute(q))
    with bind.connect() as conn:
        return list(conn.execute(q))


# What each action means, as the audit log page says it: the user did this.
ACTION_WORDS = {
    "sign-in": "Signed in",
    "sign-in-failed": "Sign-in refused (wrong email address or password, or account disabled)",
    "sign-in-throttled": "Sign-in held back after repeated failures",
    "sign-in-locked": "Sign-in refused: account locked",
    "sign-out": "Signed out",
    "view-patient": "Viewed the patient's page",
    "view-referral": "Viewed the referral through the API",
    "submit-referral": "Sent a referral through the API",
    "view-worklist": "Viewed the worklist",
    "export-worklist": "Downloaded the worklist as CSV",
    "view-practice-overview": "Viewed the practice's referred patients",
    "find-patient": "Found a patient by searching",
    "find-patient-none": "Searched for a patient and found none",
    "view-report": "Viewed the bottleneck report",
    "download-report": "Downloaded a report table",
    "view-audit": "Viewed the audit log",
    "denied-patient": "Was refused a patient outside their scope",
    "denied-worklist": "Was refused a worklist outside their scope",
    "add-user": "Account created",
    "disable-user": "Account disabled",
    "enable-user": "Account enabled again",
    "change-user": "Account changed",
    "reset-password": "Password reset",
    "create-token": "API token issued",
    "revoke-token": "API token revoked",
    "assign-coordinator": "Assigned a care coordinator",
    "workup required": "Asked for workup",
    "workup done": "Marked workup done",
    "diagnostic ordered": "Recorded a test ordered",
    "diagnostic resulted": "Recorded a test result",
    "diagnosis communicated": "Recorded what the patient was told",
    "result released": "Released a test result for the patient to see online",
    "patient-code-asked": "A patient asked for a sign-in code",
    "patient-signed-in": "A patient signed in",
    "patient-sign-in-failed": "A patient's sign-in was refused (wrong or expired code)",
    "patient-sign-in-locked": ("A patient's sign-in was refused: too many tries (the entry "
                               "says which locked: the NHS number or the address)"),
    "patient-signed-out": "A patient signed out",
    "patient-view": "A patient viewed their referrals",
    "patient-view-referral": "A patient viewed a referral",
    "patient-check-in": "A patient answered a Waiting Well check-in online",
    "patient-worse": "A patient reported getting worse online",
    "patient-message": "A patient wrote to the Guardian team",
    "patient-nhs-login-failed": "A patient's NHS login was refused (the entry says why)",
    "contact": "Logged contact with the patient",
    "check in": "Recorded a Waiting Well check-in",
    "deterioration flagged": "Reported that the patient is worse",
    "deterioration reviewed": "Recorded the clinical review of a deterioration",
    "support": "Offered support while waiting",
    "care plan": "Agreed a plan while waiting with the patient",
    "message": "Wrote a message",
    "hospital reply": "Recorded the hospital's reply",
    "message answered": "Marked a message answered",
    "assign": "Assigned a care coordinator",
    "clock stop": "Stopped the clock",
    "close": "Closed the pathway",
    "contact-preference": "Recorded how the patient wants to be contacted",
    "view-inbox": "Viewed their inbox",
    "inbox-read": "Marked inbox notifications read",
    "view-notification-settings": "Viewed their email alert settings",
    "change-notification-settings": "Changed their email alert settings",
    "view-letters": "Viewed the letters to print",
    "view-letter": "Opened a letter to print",
    "letter-printed": "Marked a letter printed",
    "view-outbox": "Viewed the notifications outbox",
    "notification-resend": "Sent a parked notification again",
    "mail-received": "Took in a reply by email",
    "mail-refused": "Refused an email reply (the entry says why)",
}


def words(action: str) -> str:
    """What the action means in words; an action without words reads as its name."""
    found = ACTION_WORDS.get(action)
    if found is None:
        plain = action.replace("-", " ").strip()
        found = plain[:1].upper() + plain[1:]
    return found
