"""The admin's view of the outbox (docs/access.md "Notification pages"; docs/notifications.md
"Sending"): `GET /admin/notifications`, how many notifications there are by state and by
kind, the parked ones (what, to whom in words, how many failures, the last error, when
made) each with a "Send again" button (`POST /admin/notifications/{id}/resend`, which
queues it again), and the last 50 attempts to send. Admins only (others get 404); views
and resends are audited.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Connection, func, select

from guardian.application import GuardianApp
from guardian.notifications.dispatcher import resend
from guardian.notifications.kinds import KINDS
from guardian.notifications.schema import (
    PARKED,
    STATES,
    notification_attempts,
    notifications,
    webhooks,
)
from guardian.projections.name_queries import Names
from guardian.users.directory import list_users
from guardian.web.access import AdminPrincipal, Principal, record_access
from guardian.web.deps import AppDep
from guardian.web.inputs import LARGEST_INTEGER
from guardian.web.names import NamesDep
from guardian.web.routes.inbox import aware
from guardian.web.routes.patient import EMAIL_WORD
from guardian.web.templating import render

router = APIRouter(include_in_schema=False)
N, A = notifications, notification_attempts
SHOWN = 50
PARKED_SHOWN = 200

STATE_WORDS = {"queued": "Waiting to be sent", "sending": "Being sent", "sent": "Sent",
               "parked": "Parked (failed; send again by hand)",
               "withheld": "Withheld (a check failed)",
               "skipped": "Skipped (email is off)"}
OUTCOME_WORDS = {"sent": "Sent", "withheld": "Withheld", "skipped": "Skipped",
                 "down": "Could not reach the channel", "failed": "Failed"}
CHANNEL_WORDS = {"email": "email", "inbox": "inbox", "webhook": "webhook", "letter": "letter"}


def kind_words(kind: str) -> str:
    return EMAIL_WORD.sub("email", KINDS.get(kind, kind))


class Recipients:
    """Who a row's recipient is, in words: a user's name, a practice or hospital by
    name, the patient, a webhook's name."""

    def __init__(self, conn: Connection, names: Names):
        self.names = names
        self.users = {u.id: u.email for u in list_users(conn)}
        self.hooks = {r.id: r.name for r in conn.execute(select(webhooks.c.id,
                                                                webhooks.c.name))}

    def __call__(self, recipient: str) -> str:
        kind, _, ident = recipient.partition(":")
        if kind == "user" and ident.isdigit():
            email = self.users.get(int(ident))
            return self.names.person(email) if email else "A user who was removed"
        if kind == "practice":
            return self.names.practice(ident)
        if kind == "provider":
            return self.names.provider(ident)
        if kind == "patient":
            return "The patient"
        if kind == "webhook" and ident.isdigit():
            return f"Webhook {self.hooks.get(int(ident), 'that was removed')}"
        return recipient


def outbox_view(conn: Connection, names: Names, zone: Any) -> dict[str, Any]:
    by_state = {s: 0 for s in STATES}
    by_kind: dict[str, dict[str, int]] = defaultdict(lambda: {s: 0 for s in STATES})
    for kind, status, count in conn.execute(
            select(N.c.kind, N.c.status, func.count()).group_by(N.c.kind, N.c.status)):
        by_state[status] = by_state.get(status, 0) + count
        by_kind[kind][status] = count
    who = Recipients(conn, names)
    parked = [{"id": r.id, "kind": kind_words(r.kind), "to": who(r.recipient),
               "kind_code": r.kind, "channel_code": r.channel, "patient_id": r.patient_id,
               "channel": CHANNEL_WORDS.get(r.channel, r.channel), "attempts": r.attempts,
               "error": r.last_error or "", "created": aware(r.created_at).astimezone(zone)}
              for r in conn.execute(select(N).where(N.c.status == PARKED)
                                    .order_by(N.c.created_at.desc(), N.c.id.desc())
                                    .limit(PARKED_SHOWN))]
    attempts = [{"at": aware(r.at).astimezone(zone), "id": r.notification_id,
                 "kind": kind_words(r.kind), "to": who(r.recipient),
                 "channel": CHANNEL_WORDS.get(r.channel, r.channel),
                 "outcome": OUTCOME_WORDS.get(r.outcome, r.outcome), "detail": r.detail or ""}
                for r in conn.execute(
                    select(A.c.at, A.c.notification_id, A.c.outcome, A.c.detail, N.c.kind,
                           N.c.recipient, N.c.channel)
                    .join(N, N.c.id == A.c.notification_id)
                    .order_by(A.c.id.desc()).limit(SHOWN))]
    kinds = sorted(((kind_words(k), counts) for k, counts in by_kind.items()),
                   key=lambda kc: kc[0])
    return {"by_state": [(STATE_WORDS[s], by_state.get(s, 0)) for s in STATES],
            "states": [STATE_WORDS[s] for s in STATES], "state_codes": STATES,
            "by_kind": kinds, "parked": parked, "attempts": attempts,
            "total": sum(by_state.values())}


def outbox(request: Request, principal: Principal, app: GuardianApp, names: Names
           ) -> dict[str, Any]:
    """The outbox as the page shows it (audited, the page and the API alike)."""
    with app.engine.connect() as conn:
        view = outbox_view(conn, names, app.settings.zone)
    record_access(request, principal, "view-outbox")
    return view


@router.get("/admin/notifications")
def outbox_page(request: Request, principal: AdminPrincipal, app: AppDep, names: NamesDep
                ) -> Response:
    view = outbox(request, principal, app, names)
    resent = request.query_params.get("resent")
    return render(request, "admin_notifications.html", {
        **view, "resent": resent if resent in ("1", "0") else None})


def queue_again(request: Request, principal: Principal, app: GuardianApp,
                notification_id: int) -> bool:
    """Queue a parked notification again (audited, the page and the API alike); False
    when it is not parked (nothing done)."""
    queued = resend(app.engine, notification_id, app.now())
    record_access(request, principal, "notification-resend",
                  detail=f"notification {notification_id}"
                  + ("" if queued else " (not parked: nothing done)"))
    return queued


@router.post("/admin/notifications/{notification_id}/resend")
def send_again(request: Request, principal: AdminPrincipal, app: AppDep,
               notification_id: Annotated[int, Path(ge=1, le=LARGEST_INTEGER)]
               ) -> Response:
    queued = queue_again(request, principal, app, notification_id)
    return RedirectResponse(f"/admin/notifications?resent={int(queued)}", status_code=303)
