"""Notification settings, the print queue and the outbox of the JSON API (docs/api.md
"Inbox, letters and the outbox"), by the pages' own functions (guardian/web/routes/inbox.py,
letters.py, admin_outbox.py), audited as the pages are:

- `GET /inbox/settings`, `PUT /inbox/settings`: your email alerts and quiet hours
  (coordinators, GPs and admins), checked by the settings page's own rules;
- `GET /letters`: the letters of your PCNs waiting to be printed (coordinators, admins);
- `GET /admin/notifications`: the outbox by state and the parked notifications (admins).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from guardian.notifications.schema import STATES
from guardian.web.access import AdminPrincipal, PatientReader, Principal, require_role
from guardian.web.api.answers import NO_STORE, invalid, responses, writes
from guardian.web.deps import AppDep
from guardian.web.names import NamesDep
from guardian.web.routes import admin_outbox, inbox, letters

router = APIRouter()
Staff = Annotated[Principal, Depends(require_role("coordinator", "admin"))]
Time = Field(None, max_length=5, description="HH:MM on the 24-hour clock, in the "
                                             "deployment's time zone (null: no quiet hours)")


class NotificationSettings(BaseModel):
    """When email alerts come, and the quiet hours (both times, or neither)."""

    model_config = ConfigDict(extra="forbid")

    email_mode: Literal.__getitem__(tuple(inbox.EMAIL_MODES)) = Field(  # type: ignore
        description="; ".join(f"`{code}` {words}" for code, words in inbox.EMAIL_MODES.items()))
    quiet_from: str | None = Time
    quiet_until: str | None = Time


class LetterOut(BaseModel):
    letter_id: int
    patient_id: str
    patient: str = Field(description="\"FAMILY, Given\" (\"A patient\" when not known)")
    pcn_code: str
    pcn_name: str
    kind: str
    what: str = Field(description="The letter in words")
    made_at: dt.datetime


class PrintQueue(BaseModel):
    letters: list[LetterOut] = Field(description="Not yet printed, oldest first")


class ParkedOut(BaseModel):
    notification_id: int
    kind: str
    kind_words: str
    channel: str
    recipient: str = Field(description="Who it is for, in words")
    patient_id: str | None
    attempts: int
    last_error: str
    created_at: dt.datetime


class Outbox(BaseModel):
    by_state: dict[str, int] = Field(description="How many notifications are in each "
                                                 "state: " + ", ".join(STATES))
    total: int
    parked: list[ParkedOut] = Field(description="The parked ones, newest first (at most "
                                                f"{admin_outbox.PARKED_SHOWN}); "
                                                "`POST …/{id}/resend` queues one again")


def _settings(values: dict[str, str]) -> NotificationSettings:
    return NotificationSettings(email_mode=values["email_mode"],
                                quiet_from=values["quiet_from"] or None,
                                quiet_until=values["quiet_until"] or None)


@router.get("/inbox/settings", summary="Your notification settings",
            response_model=NotificationSettings, responses=responses())
def get_settings(request: Request, principal: PatientReader, app: AppDep
                 ) -> NotificationSettings:
    return _settings(inbox.read_preferences(request, principal, app))


@router.put("/inbox/settings", summary="Change your notification settings",
            response_model=NotificationSettings, responses=writes())
def put_settings(request: Request, principal: PatientReader, app: AppDep,
                 body: Annotated[NotificationSettings, Body()]) -> NotificationSettings:
    """The settings page's rules: a time is HH:MM; both quiet times or neither, not the
    same; each problem is 422 naming its field."""
    form = {"email_mode": body.email_mode, "quiet_from": (body.quiet_from or "").strip(),
            "quiet_until": (body.quiet_until or "").strip()}
    errors = inbox.save_preferences(request, principal, app, form)
    if errors:
        name, message = sorted(errors.items())[0]
        raise invalid(("body", name), message)
    return _settings(form)


@router.get("/letters", summary="Letters of your PCNs waiting to be printed",
            response_model=PrintQueue, responses=responses())
def print_queue(request: Request, response: Response, principal: Staff, app: AppDep,
                names: NamesDep) -> PrintQueue:
    """Coordinators (their PCNs) and admins (every PCN); others get 404. `GET
    /letters/{id}` on the web app is the print-ready page."""
    found = letters.print_queue(request, principal, app)
    response.headers["Cache-Control"] = NO_STORE
    return PrintQueue(letters=[
        LetterOut(letter_id=r["id"], patient_id=r["patient_id"], patient=r["patient"],
                  pcn_code=r["pcn"], pcn_name=names.pcn(r["pcn"]), kind=r["kind"],
                  what=r["what"], made_at=r["made"]) for r in found])


@router.get("/admin/notifications", summary="The outbox: counts by state and the parked "
                                            "notifications (admins)",
            response_model=Outbox, responses=responses())
def outbox(request: Request, response: Response, principal: AdminPrincipal, app: AppDep,
           names: NamesDep) -> Outbox:
    view = admin_outbox.outbox(request, principal, app, names)
    response.headers["Cache-Control"] = NO_STORE
    return Outbox(
        by_state=dict(zip(view["state_codes"], (n for _, n in view["by_state"]), strict=True)),
        total=view["total"],
        parked=[ParkedOut(notification_id=r["id"], kind=r["kind_code"], kind_words=r["kind"],
                          channel=r["channel_code"], recipient=r["to"],
                          patient_id=r["patient_id"], attempts=r["attempts"],
                          last_error=r["error"], created_at=r["created"])
                for r in view["parked"]])
