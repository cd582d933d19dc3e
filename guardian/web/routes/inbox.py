"""The in-app inbox (docs/access.md "Notification pages"): `GET /inbox`, the signed-in user's
notifications sent to the inbox channel, newest first, 50 a page, each told in words
(what happened, the patient by name, the specialty, hospital and practice by name, when)
and linking to the patient; `POST /inbox/{id}/read` and `POST /inbox/read-all` mark them
read; `GET /inbox/{id}` marks one read and opens the patient. `/inbox/settings` is the
user's choice of e-mail alerts (at once or one daily summary) and quiet hours.

Scope is checked again when listing (docs/access.md "By pathway"): a row about a pathway
the user may no longer see is not shown, and reading one answers 404 like another user's.
`unread_count` is the header's "Inbox (3)": one COUNT on the index `notifications_inbox`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from jinja2 import pass_context
from sqlalchemy import Connection, bindparam, func, select, update

from guardian.application import GuardianApp
from guardian.notifications.compose import pathway_words
from guardian.notifications.kinds import KINDS
from guardian.notifications.schema import SENT, notification_preferences, notifications
from guardian.projections import worklist as wl
from guardian.projections.name_queries import Names, patients_named
from guardian.projections.org_queries import orgs_of
from guardian.store import dialect_insert
from guardian.web import access
from guardian.web.access import Principal
from guardian.web.deps import AppDep
from guardian.web.inputs import LARGEST_INTEGER
from guardian.web.names import NamesDep
from guardian.web.templating import render

router = APIRouter(include_in_schema=False)
PAGE = 50
INBOX = "inbox"
N = notifications

EMAIL_MODES = {"immediate": "At once, one email for each alert",
               "daily": "In one daily summary at 07:00"}
RowId = Annotated[int, Path(ge=1, le=LARGEST_INTEGER)]
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


@dataclass(frozen=True)
class Item:
    """One inbox row as the page shows it."""

    id: int
    sentence: str
    patient_id: str
    when: dt.datetime
    unread: bool


def aware(value: dt.datetime) -> dt.datetime:
    """SQLite gives timestamps back without their zone: they were stored in UTC."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _mine(principal: Principal) -> Any:
    return (N.c.user_id == principal.user_id) & (N.c.channel == INBOX) & (N.c.status == SENT)


# Built once: every page a coordinator or an admin sees shows the count.
_UNREAD = select(func.count()).select_from(N).where(
    N.c.user_id == bindparam("user_id"), N.c.channel == INBOX, N.c.read_at.is_(None),
    N.c.status == SENT)


def unread_count(conn: Connection, user_id: int) -> int:
    """The user's unread inbox notifications (the header's count)."""
    return int(conn.execute(_UNREAD, {"user_id": user_id}).scalar_one())


@pass_context
def header_unread(context: Any) -> int | None:
    """For base.html: the signed-in coordinator's or admin's unread count (None: none shown,
    e.g. while the database is down on the error page)."""
    principal = context.get("principal")
    request = context.get("request")
    if principal is None or request is None or principal.role not in ("coordinator", "admin"):
        return None
    counted = context.get("header_unread_count")  # read by the page on its own connection
    if counted is not None:
        return int(counted)
    try:
        with request.app.state.guardian.engine.connect() as conn:
            return unread_count(conn, principal.user_id)
    except Exception:
        return None


def install(templates: Any) -> None:
    """Give the templates `inbox_unread()` (base.html's header)."""
    templates.env.globals["inbox_unread"] = header_unread


def in_scope(conn: Connection, principal: Principal, rows: list[Any]) -> list[Any]:
    """The rows about pathways the user may still see: by the pathway's practice as the
    worklist holds it now (else as when the row was made)."""
    if principal.is_admin:
        return rows
    keys = {(r.provider, r.pathway_id) for r in rows if r.provider and r.pathway_id}
    practice: dict[tuple[str, str], str] = {}
    if keys:
        w = wl.worklist
        for provider, pathway_id, code in conn.execute(
                select(w.c.provider, w.c.pathway_id, w.c.practice_code).where(
                    w.c.pathway_id.in_(sorted({p for _, p in keys})))):
            practice[(provider, pathway_id)] = code
    for r in rows:
        practice.setdefault((r.provider, r.pathway_id),
                            json.loads(r.context).get("practice_code"))
    orgs = orgs_of(conn, {c for c in practice.values() if c})
    return [r for r in rows
            if access.may_see_patient(principal, practice[(r.provider, r.pathway_id)],
                                      *orgs.get(practice[(r.provider, r.pathway_id)] or "",
                                                (None, None)))]


def visible_page(conn: Connection, principal: Principal, before: int | None
                 ) -> tuple[list[Any], int | None]:
    """Up to PAGE rows in scope, newest first, before the row `before`; and the id to
    page on from (None: no more)."""
    shown: list[Any] = []
    cursor = before
    while len(shown) <= PAGE:
        q = select(N).where(_mine(principal)).order_by(N.c.id.desc()).limit(PAGE * 2)
        if cursor is not None:
            q = q.where(N.c.id < cursor)
        batch = list(conn.execute(q))
        if not batch:
            break
        shown += in_scope(conn, principal, batch)
        cursor = batch[-1].id
    more = len(shown) > PAGE
    shown = shown[:PAGE]
    return shown, (shown[-1].id if more and shown else None)


def sentence(row: Any, names: Names, patient: str, standards: dict[str, str],
             zone: Any) -> str:
    """What the notification says, in words."""
    context = json.loads(row.context)
    words = pathway_words({**context, "provider": row.provider}, names)
    what = KINDS.get(row.kind, row.kind.replace("-", " ").capitalize())
    if context.get("standard"):
        what += f" ({standards.get(context['standard'], context['standard'])})"
    on = context.get("on")
    day = dt.date.fromisoformat(on).strftime("%-d %b %Y") if on else \
        aware(row.created_at).astimezone(zone).strftime("%-d %b %Y")
    return (f"{what}: {patient}, {words['specialty']} at {words['hospital']}, "
            f"registered with {words['practice']}, on {day}.")


def items_of(app: GuardianApp, conn: Connection, names: Names, rows: list[Any]) -> list[Item]:
    found = patients_named(conn, {r.patient_id for r in rows if r.patient_id})
    standards = {s.code: s.label for s in app.settings.standards}
    zone = app.settings.zone
    out = []
    for r in rows:
        p = found.get(r.patient_id or "")
        who = f"{p.family_name.upper()}, {p.given_name}" if p else "a patient"
        out.append(Item(r.id, sentence(r, names, who, standards, zone), r.patient_id or "",
                        aware(r.created_at).astimezone(zone), r.read_at is None))
    return out


def unread_in_scope(conn: Connection, principal: Principal) -> int:
    """The unread rows the page can show (the header's cheap count also counts rows about
    pathways the user no longer sees; "Mark all as read" clears those too)."""
    rows = list(conn.execute(select(N.c.id, N.c.provider, N.c.pathway_id, N.c.context)
                             .where(_mine(principal), N.c.read_at.is_(None))))
    return len(in_scope(conn, principal, rows))


@dataclass(frozen=True)
class Listing:
    """A page of the inbox: its items, where the next starts, the unread counts."""

    items: list[Item]
    next_before: int | None
    unread: int  # in scope
    any_unread: bool  # the header's count: also rows about pathways no longer seen


def listing(request: Request, principal: Principal, app: GuardianApp, names: Names,
            before: int | None) -> Listing:
    """The inbox page before row `before` (audited, the page and the API alike)."""
    with app.engine.connect() as conn:
        rows, next_before = visible_page(conn, principal, before)
        found = Listing(items_of(app, conn, names, rows), next_before,
                        unread_in_scope(conn, principal),
                        unread_count(conn, principal.user_id) > 0)
    access.record_access(request, principal, "view-inbox")
    return found


@router.get("/inbox")
def inbox_page(request: Request, principal: access.PatientReader, app: AppDep,
               names: NamesDep,
               before: Annotated[int | None, Query(ge=1, le=LARGEST_INTEGER)] = None
               ) -> Response:
    found = listing(request, principal, app, names, before)
    items, next_before = found.items, found.next_before
    unread, any_unread = found.unread, found.any_unread
    return render(request, "inbox.html", {"items": items, "next_before": next_before,
                                          "unread": unread, "any_unread": any_unread,
                                          "first": before is None})


# ---------------------------------------------------------------------------- settings


def preferences_of(conn: Connection, user_id: int) -> dict[str, str]:
    row = conn.execute(select(notification_preferences).where(
        notification_preferences.c.user_id == user_id)).first()
    if row is None:
        return {"email_mode": "immediate", "quiet_from": "", "quiet_until": ""}
    return {"email_mode": row.email_mode, "quiet_from": row.quiet_from or "",
            "quiet_until": row.quiet_until or ""}


def check_preferences(form: dict[str, str]) -> dict[str, str]:
    """The problems with a submitted settings form, by field (none: it may be saved)."""
    errors: dict[str, str] = {}
    if form.get("email_mode") not in EMAIL_MODES:
        errors["email_mode"] = "Choose when to get email alerts"
    start, end = form.get("quiet_from", ""), form.get("quiet_until", "")
    for name, value in (("quiet_from", start), ("quiet_until", end)):
        if value and not _TIME.match(value):
            errors[name] = (f"Enter the time as HH:MM on the 24-hour clock, for example "
                            f"{'22:00' if name == 'quiet_from' else '07:30'}")
    if not errors and bool(start) != bool(end):
        missing = "quiet_until" if start else "quiet_from"
        errors[missing] = "Enter both times of the quiet hours, or neither"
    if not errors and start and start == end:
        errors["quiet_until"] = "The quiet hours must end at another time than they start"
    return errors


def _settings_page(request: Request, values: dict[str, str], errors: dict[str, str],
                   saved: bool = False, status_code: int = 200) -> Response:
    app = request.app.state.guardian
    return render(request, "inbox_settings.html", {
        "values": values, "errors": errors, "saved": saved, "modes": EMAIL_MODES,
        "zone": app.settings.timezone}, status_code=status_code)


def read_preferences(request: Request, principal: Principal, app: GuardianApp
                     ) -> dict[str, str]:
    """The user's notification settings (audited, the page and the API alike)."""
    with app.engine.connect() as conn:
        values = preferences_of(conn, principal.user_id)
    access.record_access(request, principal, "view-notification-settings")
    return values


def save_preferences(request: Request, principal: Principal, app: GuardianApp,
                     form: dict[str, str]) -> dict[str, str]:
    """Save the user's notification settings (audited, the page and the API alike); the
    problems by field instead, when there are any (nothing saved)."""
    errors = check_preferences(form)
    if errors:
        return errors
    values = {"email_mode": form["email_mode"], "quiet_from": form["quiet_from"] or None,
              "quiet_until": form["quiet_until"] or None}
    with app.engine.begin() as conn:
        stmt = dialect_insert(conn, notification_preferences).values(
            user_id=principal.user_id, **values)
        conn.execute(stmt.on_conflict_do_update(index_elements=["user_id"], set_=values))
        access.record_access(request, principal, "change-notification-settings", conn=conn,
                             detail=f"email {form['email_mode']}; quiet hours "
                             f"{form['quiet_from'] or 'none'}-{form['quiet_until'] or 'none'}")
    return {}


@router.get("/inbox/settings")
def settings_page(request: Request, principal: access.PatientReader, app: AppDep) -> Response:
    values = read_preferences(request, principal, app)
    return _settings_page(request, values, {}, saved=request.query_params.get("saved") == "1")


@router.post("/inbox/settings")
async def save_settings(request: Request, principal: access.PatientReader, app: AppDep
                        ) -> Response:
    raw = await request.form()
    form = {k: raw.get(k).strip() if isinstance(raw.get(k), str) else ""  # type: ignore[union-attr]
            for k in ("email_mode", "quiet_from", "quiet_until")}
    errors = save_preferences(request, principal, app, form)
    if errors:
        return _settings_page(request, form, errors, status_code=422)
    return RedirectResponse("/inbox/settings?saved=1", status_code=303)


# ---------------------------------------------------------------------------- reading


def own_row(conn: Connection, principal: Principal, notification_id: int) -> Any:
    """The user's own inbox row in scope, else 404 (another user's, unknown, or about a
    pathway they no longer see: the same answer)."""
    row = conn.execute(select(N).where(_mine(principal), N.c.id == notification_id)).first()
    if row is None or not in_scope(conn, principal, [row]):
        raise HTTPException(status_code=404, detail="Not Found")
    return row


def mark_read(conn: Connection, ids: list[int] | None, principal: Principal,
              now: dt.datetime) -> int:
    q = update(N).where(_mine(principal), N.c.read_at.is_(None))
    if ids is not None:
        q = q.where(N.c.id.in_(ids))
    return conn.execute(q.values(read_at=now)).rowcount


def _back(request: Request) -> Response:
    return RedirectResponse("/inbox", status_code=303)


def read_everything(request: Request, principal: Principal, app: GuardianApp) -> int:
    """Mark all the user's rows read (audited, the page and the API alike): how many."""
    with app.engine.begin() as conn:
        count = mark_read(conn, None, principal, app.now())
        access.record_access(request, principal, "inbox-read", conn=conn,
                             detail=f"all ({count})")
    return count


@router.post("/inbox/read-all")
def read_all(request: Request, principal: access.PatientReader, app: AppDep) -> Response:
    read_everything(request, principal, app)
    return _back(request)


def read(request: Request, principal: Principal, app: GuardianApp, notification_id: int
         ) -> Any:
    """Mark one of the user's rows read (audited); 404 as `own_row`."""
    with app.engine.begin() as conn:
        row = own_row(conn, principal, notification_id)
        mark_read(conn, [row.id], principal, app.now())
        access.record_access(request, principal, "inbox-read", conn=conn,
                             patient_id=row.patient_id, detail=f"notification {row.id}")
    return row


@router.post("/inbox/{notification_id}/read")
def read_one(request: Request, principal: access.PatientReader, app: AppDep,
             notification_id: RowId) -> Response:
    read(request, principal, app, notification_id)
    return _back(request)


@router.get("/inbox/{notification_id}")
def open_one(request: Request, principal: access.PatientReader, app: AppDep,
             notification_id: RowId) -> Response:
    """Opening an item reads it: the patient's page."""
    row = read(request, principal, app, notification_id)
    if not row.patient_id:
        return _back(request)
    return RedirectResponse(f"/patients/{row.patient_id}", status_code=303)
