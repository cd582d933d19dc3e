"""Letters to print (docs/access.md "Notification pages"): `GET /letters`, the letters Guardian
made for patients who prefer letters (or have no e-mail address), for the PCNs in the
user's scope, not yet printed; `GET /letters/{id}`, one letter's print-ready page (the
stored page, served as it is); `POST /letters/{id}/printed` records who printed it and when.

Coordinators (their PCNs) and admins (every PCN); anyone else gets 404. A letter of
another PCN answers 404 like an unknown one (docs/access.md). Every view is audited.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Connection, select, update

from guardian.application import GuardianApp
from guardian.notifications.schema import letters, notifications
from guardian.projections.name_queries import patients_named
from guardian.web import access
from guardian.web.access import Principal
from guardian.web.deps import AppDep
from guardian.web.inputs import LARGEST_INTEGER
from guardian.web.routes.inbox import aware
from guardian.web.templating import render

router = APIRouter(include_in_schema=False)
Staff = Annotated[Principal, Depends(access.require_role("coordinator", "admin"))]
LetterId = Annotated[int, Path(ge=1, le=LARGEST_INTEGER)]
L = letters
# The stored page keeps its own inline styles (it is also what was printed); nothing runs.
WHAT = {"patient-check-in": "Waiting Well check-in letter",
        "thread-message": "A message from the Guardian team"}
LETTER_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
                 "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def _scoped(principal: Principal) -> Any:
    if principal.pcns is None:
        return L.c.pcn_code.is_not(None)
    return L.c.pcn_code.in_(sorted(principal.pcns))


def letter_of(conn: Connection, principal: Principal, notification_id: int) -> Any:
    """A letter of the user's PCNs, else 404 (unknown or another PCN's: the same)."""
    row = conn.execute(select(L).where(L.c.notification_id == notification_id,
                                       _scoped(principal))).first()
    if row is None:
        raise HTTPException(status_code=404, detail="Not Found")
    return row


def print_queue(request: Request, principal: Principal, app: GuardianApp
                ) -> list[dict[str, Any]]:
    """The letters of the user's PCNs not yet printed, oldest first (audited, the page and
    the API alike)."""
    zone = app.settings.zone
    with app.engine.connect() as conn:
        rows = list(conn.execute(
            select(L.c.notification_id, L.c.patient_id, L.c.pcn_code, L.c.made_at,
                   notifications.c.kind)
            .join(notifications, notifications.c.id == L.c.notification_id)
            .where(_scoped(principal), L.c.printed_at.is_(None))
            .order_by(L.c.made_at, L.c.notification_id)))
        named = patients_named(conn, {r.patient_id for r in rows})
    shown = []
    for r in rows:
        p = named.get(r.patient_id)
        shown.append({
            "id": r.notification_id, "pcn": r.pcn_code, "patient_id": r.patient_id,
            "patient": f"{p.family_name.upper()}, {p.given_name}" if p else "A patient",
            "kind": r.kind, "what": WHAT.get(r.kind, "A letter"),
            "made": aware(r.made_at).astimezone(zone)})
    access.record_access(request, principal, "view-letters")
    return shown


@router.get("/letters")
def letters_page(request: Request, principal: Staff, app: AppDep) -> Response:
    shown = print_queue(request, principal, app)
    return render(request, "letters.html", {
        "letters": shown, "printed": request.query_params.get("printed") == "1"})


@router.get("/letters/{notification_id}")
def letter_page(request: Request, principal: Staff, app: AppDep,
                notification_id: LetterId) -> Response:
    with app.engine.connect() as conn:
        row = letter_of(conn, principal, notification_id)
    access.record_access(request, principal, "view-letter", patient_id=row.patient_id,
                         detail=f"letter {notification_id}")
    return HTMLResponse(row.html, headers={"Content-Security-Policy": LETTER_POLICY,
                                           "Cache-Control": "no-store"})


def record_printed(request: Request, principal: Principal, app: GuardianApp,
                   notification_id: int) -> None:
    """Record that the user printed the letter (audited, the page and the API alike); 404
    as `letter_of`. Printing it again keeps the first time."""
    with app.engine.begin() as conn:
        row = letter_of(conn, principal, notification_id)
        conn.execute(update(L).where(L.c.notification_id == row.notification_id,
                                     L.c.printed_at.is_(None))
                     .values(printed_at=dt.datetime.now(dt.UTC), printed_by=principal.email))
        access.record_access(request, principal, "letter-printed", conn=conn,
                             patient_id=row.patient_id, detail=f"letter {notification_id}")


@router.post("/letters/{notification_id}/printed")
def mark_printed(request: Request, principal: Staff, app: AppDep,
                 notification_id: LetterId) -> Response:
    record_printed(request, principal, app, notification_id)
    return RedirectResponse("/letters?printed=1", status_code=303)
