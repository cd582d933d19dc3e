"""The inbox, letters and outbox of the JSON API (docs/api.md "Inbox, letters and the
outbox"), by the pages' own functions (guardian/web/routes/inbox.py, letters.py,
admin_outbox.py), audited as the pages are:

- `GET /inbox[?before=ID]`: the caller's inbox, newest first, 50 at a time (coordinators,
  GPs and admins), each item in words as the page tells it;
- `POST /inbox/{id}/read`, `POST /inbox/read-all`: mark read (another user's row, or one
  about a pathway no longer in scope, is 404);
- `POST /letters/{id}/printed`: a letter printed (coordinators of its PCN, admins);
- `POST /admin/notifications/{id}/resend`: queue a parked notification again (admins).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field

from guardian.web.access import AdminPrincipal, PatientReader, Principal, require_role
from guardian.web.api.answers import NO_STORE, responses, writes
from guardian.web.deps import AppDep
from guardian.web.inputs import LARGEST_INTEGER
from guardian.web.names import NamesDep
from guardian.web.routes import admin_outbox, inbox, letters

router = APIRouter()
RowId = Annotated[int, Path(ge=1, le=LARGEST_INTEGER, description="The notification's id")]
Staff = Annotated[Principal, Depends(require_role("coordinator", "admin"))]


class InboxItem(BaseModel):
    id: int
    sentence: str = Field(description="What happened, in words (patient, specialty, "
                                      "hospital and practice by name, when)")
    patient_id: str
    when: dt.datetime
    unread: bool


class InboxPage(BaseModel):
    items: list[InboxItem]
    next_before: int | None = Field(description="Ask with `?before=` this for the next "
                                                "page (null: no more)")
    unread: int = Field(description="Unread items in your scope")


class MarkedRead(BaseModel):
    marked: int = Field(description="How many were marked read (0: already read)")


class LetterPrinted(BaseModel):
    letter_id: int
    printed: bool = True


class Resent(BaseModel):
    notification_id: int
    queued: bool = Field(description="False: it was not parked, so nothing was done")


@router.get("/inbox", summary="Your inbox, newest first, 50 at a time",
            response_model=InboxPage, responses=responses())
def inbox_list(request: Request, response: Response, principal: PatientReader, app: AppDep,
               names: NamesDep,
               before: Annotated[int | None, Query(ge=1, le=LARGEST_INTEGER)] = None
               ) -> InboxPage:
    found = inbox.listing(request, principal, app, names, before)
    response.headers["Cache-Control"] = NO_STORE
    return InboxPage(items=[InboxItem(id=i.id, sentence=i.sentence, patient_id=i.patient_id,
                                      when=i.when, unread=i.unread) for i in found.items],
                     next_before=found.next_before, unread=found.unread)


@router.post("/inbox/read-all", summary="Mark every item of your inbox read",
             response_model=MarkedRead, responses=writes())
def inbox_read_all(request: Request, principal: PatientReader, app: AppDep) -> MarkedRead:
    return MarkedRead(marked=inbox.read_everything(request, principal, app))


@router.post("/inbox/{notification_id}/read", summary="Mark one item of your inbox read",
             response_model=MarkedRead, responses=writes())
def inbox_read(request: Request, principal: PatientReader, app: AppDep,
               notification_id: RowId) -> MarkedRead:
    row = inbox.read(request, principal, app, notification_id)
    return MarkedRead(marked=int(row.read_at is None))


@router.post("/letters/{notification_id}/printed", summary="Record a letter as printed",
             response_model=LetterPrinted, responses=writes())
def letter_printed(request: Request, principal: Staff, app: AppDep,
                   notification_id: RowId) -> LetterPrinted:
    letters.record_printed(request, principal, app, notification_id)
    return LetterPrinted(letter_id=notification_id)


@router.post("/admin/notifications/{notification_id}/resend",
             summary="Queue a parked notification again (admins)",
             response_model=Resent, responses=writes())
def resend(request: Request, principal: AdminPrincipal, app: AppDep,
           notification_id: RowId) -> Resent:
    return Resent(notification_id=notification_id,
                  queued=admin_outbox.queue_again(request, principal, app, notification_id))
