"""A patient as the patient page shows them, as JSON (docs/api.md "`GET /api/v1/patients/
{patient_id}`"): the page's own `load_visible_patient` and `patient_context`
(guardian/web/routes/patient.py), so the scope (each pathway's practice, docs/access.md
"By pathway"), the details shown and the audit entry (`view-patient`) are the page's.
Each pathway has the shape of `GET /api/v1/referrals/{pathway_id}` (`ReferralPathway`),
with its messages thread and whether it has news.

Unlike the page, reading a patient here does not mark their news seen: a script reading
is not a person looking (docs/api.md says why); `new` tells what the page would mark.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field

from guardian.domain import codes
from guardian.domain.pathway import Message, Pathway
from guardian.projections.name_queries import Names
from guardian.projections.org_queries import orgs_of
from guardian.web import access
from guardian.web.access import PatientReader
from guardian.web.api.answers import NO_STORE, invalid, responses
from guardian.web.api.referral_models import PatientDetails, ReferralPathway
from guardian.web.api.referrals import pathway_fields
from guardian.web.deps import AppDep
from guardian.web.names import NamesDep
from guardian.web.routes.patient import load_visible_patient, news_of, patient_context

router = APIRouter()


class PatientShown(PatientDetails):
    age: int = Field(description="Age in whole years today")
    phone: str | None = Field(description="Null for GPs (the page does not show it to them)")
    email: str | None = Field(description="Null for GPs (the page does not show it to them)")
    whole: bool = Field(description="You see the whole patient (every pathway is in your "
                                    "scope), not only the details your referrals carry")


class MessageOut(BaseModel):
    message_id: str
    direction: Literal["in", "out", "reply"] = Field(
        description="`in` to Guardian (to be answered), `out` from Guardian, `reply` a "
                    "reply to Guardian (needs no answer)")
    party: str = Field(description="`gp`, `hospital` or `patient`")
    party_name: str = Field(description="The practice or hospital by name, or the patient")
    on: dt.date
    at: dt.datetime
    body: str
    sender: str | None
    sender_name: str | None
    in_reply_to: str | None
    answered_on: dt.date | None
    state: Literal["replied", "awaiting-reply", "reply", "answered", "not-answered"]
    replied_on: dt.date | None = Field(description="For `out`: when the reply came")


class PatientPathway(ReferralPathway):
    open: bool = Field(description="The clock runs (or a non-RTT wait) and it is not closed")
    new: bool = Field(description="A breach or a deterioration was recorded since a "
                                  "coordinator last opened the patient (the page's “New”; "
                                  "always false for GPs)")
    messages: list[MessageOut] = Field(description="The thread, oldest first")


class FlagOut(BaseModel):
    flag_id: str
    raised_on: dt.date
    summary: str
    source: str
    source_label: str
    provider: str | None = Field(description="The referral it is about (null: none)")
    pathway_id: str | None
    reviewed_on: dt.date | None
    review_outcome: str | None
    review_outcome_label: str | None


class ContactOut(BaseModel):
    contact_id: str
    on: dt.date
    channel: str
    channel_label: str
    summary: str
    by: str
    by_name: str


class PatientRecord(BaseModel):
    as_of: dt.date
    version: int = Field(description="The patient's version (a command's "
                                     "`expected_version`)")
    patient: PatientShown
    contact_preference: str | None = Field(
        description="`email`, `letter` or `none`; null when not chosen, and for GPs")
    pathways: list[PatientPathway] = Field(description="The pathways in your scope, open "
                                                       "ones first, as the page orders them")
    flags: list[FlagOut] = Field(description="Deterioration reports you may see, oldest "
                                             "first (`reviewed_on` null: awaiting review)")
    contacts: list[ContactOut] = Field(description="Contact with the patient, newest first "
                                                   "(empty for GPs, as on the page)")


def _message(p: Pathway, m: Message, names: Names) -> MessageOut:
    party = {"gp": names.practice(p.practice_code), "hospital": names.provider(p.provider),
             "patient": "The patient"}.get(m.party, m.party)
    back = p.reply_to(m) if m.direction == "out" else None
    if m.direction == "out":
        state = "replied" if back else "awaiting-reply"
    elif m.direction == "reply":
        state = "reply"
    else:
        state = "answered" if m.answered_on else "not-answered"
    return MessageOut(message_id=m.message_id, direction=m.direction,  # type: ignore[arg-type]
                      party=m.party, party_name=party, on=m.on, at=m.at, body=m.body,
                      sender=m.sender, sender_name=names.person(m.sender) if m.sender else None,
                      in_reply_to=m.in_reply_to, answered_on=m.answered_on,
                      state=state, replied_on=back.on if back else None)  # type: ignore[arg-type]


@router.get(
    "/patients/{patient_id}",
    summary="A patient as their page shows them: each pathway's status, flags, messages",
    response_model=PatientRecord, responses=responses(),
)
def get_patient(request: Request, response: Response, principal: PatientReader,
                app: AppDep, names: NamesDep,
                patient_id: Annotated[str, Path(max_length=64, description=(
                    "The patient's id (32 hex digits)"))]) -> PatientRecord:
    """Coordinators (their PCNs' pathways), GPs (their practice's) and admins; a patient
    with no pathway in your scope is 404, as one who does not exist (audited). Audited
    as opening the page is (`view-patient`); the patient's news stays new."""
    try:
        uuid.UUID(hex=patient_id)
    except ValueError:
        raise invalid(("path", "patient_id"), "not a patient id (32 hex digits)") from None
    patient, visible = load_visible_patient(request, app, principal, patient_id)
    access.record_access(request, principal, "view-patient", patient_id=patient.id.hex)
    is_gp = principal.role == "gp"
    new = set() if is_gp else news_of(patient, visible)
    page = patient_context(request, app, principal, patient, visible)
    view, pathways = page["patient"], page["pathways"]
    with app.engine.connect() as conn:
        pcn_of = {code: pcn for code, (pcn, _) in
                  orgs_of(conn, {p.practice_code for p in pathways.values()}).items()}
    cards = []
    for s in page["statuses"]:
        p = pathways[(s.provider, s.pathway_id)]
        cards.append(PatientPathway(
            open=p.is_open, new=p.key in new,
            messages=[_message(p, m, names) for m in p.thread()],
            **pathway_fields(p, s, pcn_of.get(p.practice_code), names)))
    response.headers["Cache-Control"] = NO_STORE
    return PatientRecord(
        as_of=page["today"], version=patient.version,
        patient=PatientShown(
            patient_id=patient.id.hex, nhs_number=patient.nhs_number,
            given_name=view.given_name, family_name=view.family_name,
            birth_date=view.birth_date, age=page["age"], whole=view.whole,
            phone=None if is_gp else view.phone, email=None if is_gp else view.email),
        contact_preference=None if is_gp else patient.contact_preference,
        pathways=cards,
        flags=[FlagOut(flag_id=f.flag_id, raised_on=f.raised_on, summary=f.summary,
                       source=f.source,
                       source_label=codes.DETERIORATION_SOURCES.get(f.source, f.source),
                       provider=f.pathway[0] if f.pathway else None,
                       pathway_id=f.pathway[1] if f.pathway else None,
                       reviewed_on=f.reviewed_on, review_outcome=f.review_outcome,
                       review_outcome_label=codes.REVIEW_OUTCOMES.get(
                           f.review_outcome, f.review_outcome) if f.review_outcome else None)
               for f in sorted(view.flags, key=lambda f: f.raised_on)],
        contacts=[] if is_gp else [
            ContactOut(contact_id=c.contact_id, on=c.on, channel=c.channel,
                       channel_label=codes.CONTACT_CHANNELS.get(c.channel, c.channel),
                       summary=c.summary, by=c.by, by_name=names.person(c.by))
            for c in page["contacts"]],
    )
