"""Events of Guardian's contact with the patient and the people around them: reported
deterioration and its review, contacts, support offered, the plan agreed while waiting, and
messages (received, sent, a reply recorded, a message marked answered).
Deterioration flags, contacts and support offers are the patient's, each made for one
referral (`provider`, `pathway_id`) or, when recorded before they carried one, for none
(docs/access.md). Plans and messages belong to a pathway.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import field
from typing import TYPE_CHECKING

from guardian.domain.pathway import (
    CarePlan,
    Contact,
    DeteriorationFlag,
    Message,
    PathwayKey,
    SupportOffer,
)
from guardian.domain.patient.events.base import PathwayEvent, PatientEvent, optional_key

if TYPE_CHECKING:
    from guardian.domain.patient.aggregate import Patient


class RecordMadeFor(PatientEvent):
    """A record of the patient made for one referral (`provider`, `pathway_id`), or for none
    when recorded before records carried one (both None)."""

    provider: str | None = field(default=None, kw_only=True)
    pathway_id: str | None = field(default=None, kw_only=True)

    def made_for(self) -> PathwayKey | None:
        return optional_key(self.provider, self.pathway_id)


class DeteriorationFlagged(RecordMadeFor):
    """Someone reported that the patient got worse: a flag for clinical review."""

    TOPIC = "guardian.Patient.DeteriorationFlagged"
    flag_id: str
    raised_on: dt.date
    summary: str
    source: str

    def apply(self, patient: Patient) -> None:
        flag = DeteriorationFlag(self.flag_id, self.raised_on, self.summary, self.source,
                                 self.made_for())
        patient.flags[self.flag_id] = flag


class DeteriorationReviewed(PatientEvent):
    """A deterioration flag was reviewed (`outcome`, one of codes.REVIEW_OUTCOMES)."""

    TOPIC = "guardian.Patient.DeteriorationReviewed"
    flag_id: str
    reviewed_on: dt.date
    outcome: str

    def apply(self, patient: Patient) -> None:
        flag = patient.flags[self.flag_id]
        flag.reviewed_on, flag.review_outcome = self.reviewed_on, self.outcome


class ContactLogged(RecordMadeFor):
    """Guardian was in touch with the patient (`channel`, one of codes.CONTACT_CHANNELS)."""

    TOPIC = "guardian.Patient.ContactLogged"
    contact_id: str
    on: dt.date
    channel: str
    summary: str
    by: str

    def apply(self, patient: Patient) -> None:
        patient.contacts[self.contact_id] = Contact(
            self.contact_id, self.on, self.channel, self.summary, self.by, self.made_for())


class SupportOffered(RecordMadeFor):
    """Support offered while waiting (`kind`, one of codes.SUPPORT_KINDS)."""

    TOPIC = "guardian.Patient.SupportOffered"
    offer_id: str
    kind: str
    on: dt.date
    note: str

    def apply(self, patient: Patient) -> None:
        offer = SupportOffer(self.offer_id, self.kind, self.on, self.note, self.made_for())
        patient.support[self.offer_id] = offer


class CarePlanAgreed(PathwayEvent):
    """A plan agreed with the patient while they wait (docs/rules.md "Plans while
    waiting"): what they can do for themselves (`self_care`, codes of codes.SELF_CARE),
    whom they call if they get worse (`call_if_worse`, one of codes.CALL_IF_WORSE) and a
    short note for them, agreed on `agreed_on` by `by`. It replaces the pathway's earlier
    plan; the earlier one stays in the history."""

    TOPIC = "guardian.Patient.CarePlanAgreed"
    self_care: list[str]
    call_if_worse: str
    note: str
    agreed_on: dt.date
    by: str

    def apply(self, patient: Patient) -> None:
        self.pathway(patient).care_plan = CarePlan(
            tuple(self.self_care), self.call_if_worse, self.note, self.agreed_on, self.by)


class MessageEvent(PathwayEvent):
    """A message on a pathway, to or from a party (the GP practice, the hospital or the
    patient); `on` is the day it counts from, `at` when it was sent."""

    message_id: str
    party: str
    at: dt.datetime
    on: dt.date
    body: str
    sender: str

    def message(self, direction: str, in_reply_to: str | None = None) -> Message:
        return Message(self.message_id, direction, self.party, self.on, self.at, self.body,
                       self.sender, in_reply_to)


class MessageReceived(MessageEvent):
    """A message to Guardian from the GP practice, the hospital or the patient."""

    TOPIC = "guardian.Patient.MessageReceived"

    def apply(self, patient: Patient) -> None:
        self.pathway(patient).messages[self.message_id] = self.message("in")


class MessageSent(MessageEvent):
    """Guardian wrote to a party: it answers the message it replies to and the party's
    other unanswered messages on the pathway."""

    TOPIC = "guardian.Patient.MessageSent"
    in_reply_to: str | None

    def apply(self, patient: Patient) -> None:
        p = self.pathway(patient)
        for m in p.messages.values():
            if (m.direction == "in" and m.answered_on is None
                    and (m.message_id == self.in_reply_to or m.party == self.party)):
                m.answered_on = self.on
        p.messages[self.message_id] = self.message("out", self.in_reply_to)


class ReplyRecorded(MessageEvent):
    """A party's reply to Guardian (the hospital's, by phone or letter), recorded by a
    coordinator (`sender`) on the day it came (`on`): it answers Guardian, so Guardian no
    longer awaits a reply, and needs no answer of its own (direction "reply")."""

    TOPIC = "guardian.Patient.ReplyRecorded"
    in_reply_to: str | None = None

    def apply(self, patient: Patient) -> None:
        self.pathway(patient).messages[self.message_id] = self.message("reply", self.in_reply_to)


class MessageMarkedAnswered(PathwayEvent):
    """A message Guardian received was dealt with without writing back (the answer came
    another way, e.g. by phone): it is answered on `on`, marked so by `by`."""

    TOPIC = "guardian.Patient.MessageMarkedAnswered"
    message_id: str
    on: dt.date
    by: str

    def apply(self, patient: Patient) -> None:
        self.pathway(patient).messages[self.message_id].answered_on = self.on


class ContactPreferenceRecorded(PatientEvent):
    """How the patient wants Guardian to write to them (`preference`, one of
    codes.CONTACT_PREFERENCES: by e-mail, by letter, or not at all), as they told `by` on
    `on` (docs/notifications.md "Patients")."""

    TOPIC = "guardian.Patient.ContactPreferenceRecorded"
    preference: str
    on: dt.date
    by: str

    def apply(self, patient: Patient) -> None:
        patient.contact_preference = self.preference
