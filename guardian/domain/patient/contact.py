"""Guardian's contact with the patient and the people around them: reported deterioration
and its review, contacts, support offered while waiting, the plan agreed while waiting,
and messages.

A contact, support offer or deterioration flag is made for one referral (`provider`,
`pathway_id`), and only those who may see that referral see it (docs/access.md). Each
command checks the rules, does nothing when it was already applied, and otherwise fires
its event (`events/contact.py`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from guardian.domain import codes, text
from guardian.domain.errors import ConflictingCommand, DomainError, InvalidValue
from guardian.domain.patient import events as ev
from guardian.domain.patient.state import PatientState, refuse_before


class ContactCommands(PatientState):
    """Deterioration flags, contacts, support and messages."""

    def _check_pathway_given(self, provider: str | None, pathway_id: str | None) -> None:
        """A record made for a pathway must name one of the patient's."""
        if provider is not None and pathway_id is not None:
            self.pathway(provider, pathway_id)

    # ------------------------------------------------------------------ deterioration
    def flag_deterioration(self, flag_id: str, on: dt.date, summary: str, source: str,
                           provider: str | None = None, pathway_id: str | None = None) -> None:
        self._check_pathway_given(provider, pathway_id)
        if not summary.strip():
            raise InvalidValue("say what has got worse", field="summary")
        codes.check_code(codes.DETERIORATION_SOURCES, source, "source", "who reported it")
        existing = self.flags.get(flag_id)
        if existing is not None:
            if existing.summary == summary.strip():
                return
            raise ConflictingCommand(f"flag {flag_id!r} was raised with another text")
        self.trigger_event(ev.DeteriorationFlagged, flag_id=flag_id, raised_on=on,
                           summary=summary.strip(), source=source, provider=provider,
                           pathway_id=pathway_id)

    def review_deterioration(self, flag_id: str, on: dt.date, outcome: str) -> None:
        flag = self.flags.get(flag_id)
        if flag is None:
            raise DomainError(f"no deterioration flag {flag_id!r}", field="flag_id")
        if flag.reviewed_on is not None:
            return
        refuse_before(on, flag.raised_on, "a review cannot come before the flag was raised")
        codes.check_code(codes.REVIEW_OUTCOMES, outcome, "outcome", "a review outcome")
        self.trigger_event(ev.DeteriorationReviewed, flag_id=flag_id, reviewed_on=on,
                           outcome=outcome)

    # ------------------------------------------------------------------ contact and support
    def log_contact(self, contact_id: str, on: dt.date, channel: str, summary: str, by: str,
                    provider: str | None = None, pathway_id: str | None = None) -> None:
        """A contact with the patient about one referral (`provider`, `pathway_id`): only
        those who may see that referral see it (docs/access.md)."""
        self._check_pathway_given(provider, pathway_id)
        if channel not in codes.CONTACT_CHANNELS:
            raise InvalidValue(
                f"channel must be one of {', '.join(codes.CONTACT_CHANNELS)}", field="channel"
            )
        if not summary.strip():
            raise InvalidValue("summarise the contact", field="summary")
        if contact_id in self.contacts:
            return
        self.trigger_event(ev.ContactLogged, contact_id=contact_id, on=on, channel=channel,
                           summary=summary.strip(), by=by, provider=provider,
                           pathway_id=pathway_id)

    def record_contact_preference(self, preference: str, on: dt.date, by: str) -> None:
        """How the patient wants to be written to; e-mail needs an address on record."""
        codes.check_code(codes.CONTACT_PREFERENCES, preference, "preference",
                         "a contact preference")
        if preference == "email" and not getattr(self, "email", None):
            raise InvalidValue("there is no email address for this patient; choose a letter",
                               field="preference")
        if self.contact_preference == preference:
            return
        self.trigger_event(ev.ContactPreferenceRecorded, preference=preference, on=on, by=by)

    def offer_support(self, offer_id: str, kind: str, on: dt.date, note: str = "",
                      provider: str | None = None, pathway_id: str | None = None) -> None:
        """Tier II, community or lifestyle support offered while waiting for one referral."""
        self._check_pathway_given(provider, pathway_id)
        if kind not in codes.SUPPORT_KINDS:
            raise InvalidValue(f"{kind!r} is not a support service Guardian offers", field="kind")
        if offer_id in self.support:
            return
        self.trigger_event(ev.SupportOffered, offer_id=offer_id, kind=kind, on=on,
                           note=note.strip(), provider=provider, pathway_id=pathway_id)

    # ------------------------------------------------------------------ plan while waiting
    def agree_care_plan(self, provider: str, pathway_id: str, self_care: Sequence[str],
                        call_if_worse: str, on: dt.date, by: str, note: str = "") -> None:
        """The plan agreed with the patient while they wait on this pathway (docs/rules.md
        "Plans while waiting"): one or more self-care topics, whom they call if worse, a
        short note for them. It replaces the pathway's plan; the same plan agreed again on
        the same day does nothing."""
        p = self.pathway(provider, pathway_id)
        topics = _self_care(self_care)
        codes.check_code(codes.CALL_IF_WORSE, call_if_worse, "call_if_worse",
                         "whom the patient calls if they get worse")
        note = _plan_note(note)
        plan = p.care_plan
        if plan is not None and (plan.self_care, plan.call_if_worse, plan.note,
                                 plan.agreed_on) == (topics, call_if_worse, note, on):
            return
        self._open_pathway(provider, pathway_id)
        refuse_before(on, p.received_on,
                      f"a plan cannot be agreed ({on.isoformat()}) before the referral was "
                      f"received ({p.received_on.isoformat()})")
        self.trigger_event(ev.CarePlanAgreed, provider=provider, pathway_id=pathway_id,
                           self_care=list(topics), call_if_worse=call_if_worse, note=note,
                           agreed_on=on, by=by)

    # ------------------------------------------------------------------ messages
    def receive_message(self, provider: str, pathway_id: str, message_id: str, party: str,
                        at: dt.datetime, on: dt.date, body: str, sender: str) -> None:
        p = self.pathway(provider, pathway_id)
        _check_message(party, body, at)
        if message_id in p.messages:
            return
        self.trigger_event(ev.MessageReceived, provider=provider, pathway_id=pathway_id,
                           message_id=message_id, party=party, at=at, on=on,
                           body=body.strip(), sender=sender)

    def send_message(self, provider: str, pathway_id: str, message_id: str, party: str,
                     at: dt.datetime, on: dt.date, body: str, sender: str,
                     in_reply_to: str | None = None) -> None:
        """Guardian sends a message; it answers the party's unanswered messages on the pathway."""
        p = self.pathway(provider, pathway_id)
        _check_message(party, body, at)
        if in_reply_to is not None and in_reply_to not in p.messages:
            raise DomainError(f"no message {in_reply_to!r} to reply to", field="in_reply_to")
        if message_id in p.messages:
            return
        self.trigger_event(ev.MessageSent, provider=provider, pathway_id=pathway_id,
                           message_id=message_id, party=party, at=at, on=on,
                           body=body.strip(), sender=sender, in_reply_to=in_reply_to)

    def record_reply(self, provider: str, pathway_id: str, message_id: str, party: str,
                     at: dt.datetime, on: dt.date, body: str, sender: str,
                     in_reply_to: str | None = None, received_on: dt.date | None = None
                     ) -> None:
        """A party's reply to Guardian, recorded `at` by a coordinator (`sender`), received
        on `received_on` (default `on`): Guardian no longer awaits a reply, and the reply
        needs no answer (docs/rules.md, "Messages"). `in_reply_to`, when given, is one of
        Guardian's messages to that party, sent on or before the reply came."""
        p = self.pathway(provider, pathway_id)
        _check_message(party, body, at)
        day = received_on or on
        refuse_before(on, day, "the reply cannot have come in the future")
        if in_reply_to is not None:
            asked = p.messages.get(in_reply_to)
            if asked is None or asked.direction != "out" or asked.party != party:
                raise DomainError("Choose one of Guardian's messages to "
                                  f"{codes.label(codes.MESSAGE_PARTIES, party)}",
                                  field="in_reply_to")
            refuse_before(day, asked.on, "a reply cannot come before the message it answers")
        if message_id in p.messages:
            return
        self.trigger_event(ev.ReplyRecorded, provider=provider, pathway_id=pathway_id,
                           message_id=message_id, party=party, at=at, on=day,
                           body=body.strip(), sender=sender, in_reply_to=in_reply_to)

    def mark_message_answered(self, provider: str, pathway_id: str, message_id: str,
                              by: str, on: dt.date) -> None:
        """A received message dealt with without writing back (answered by phone, say)."""
        p = self.pathway(provider, pathway_id)
        m = p.messages.get(message_id)
        if m is None or m.direction != "in":
            raise DomainError("Choose a message Guardian received", field="message_id")
        if m.answered_on is not None:
            return
        refuse_before(on, m.on, "a message cannot be answered before it came")
        self.trigger_event(ev.MessageMarkedAnswered, provider=provider, pathway_id=pathway_id,
                           message_id=message_id, on=on, by=by)


def _check_message(party: str, body: str, at: dt.datetime) -> None:
    if party not in codes.MESSAGE_PARTIES:
        raise InvalidValue(
            f"messages go to or from the GP, the hospital or the patient, not {party!r}",
            field="party",
        )
    if not body.strip():
        raise InvalidValue("the message is empty", field="body")
    if at.tzinfo is None:
        raise InvalidValue("message times must carry a time zone", field="at")


def _self_care(chosen: Sequence[str]) -> tuple[str, ...]:
    """The self-care topics chosen, each once, in the order of codes.SELF_CARE; at least
    one, and each one of its codes."""
    if isinstance(chosen, str):
        chosen = [chosen]
    for code in chosen:
        codes.check_code(codes.SELF_CARE, code, "self_care", "a self-care topic")
    if not chosen:
        raise InvalidValue("choose at least one thing the patient can do for themselves",
                           field="self_care")
    return tuple(code for code in codes.SELF_CARE if code in chosen)


def _plan_note(note: str) -> str:
    """The plan's note for the patient, trimmed: free text of at most PLAN_NOTE_MOST
    characters (docs/rules.md "Plans while waiting")."""
    note = note.strip()
    problem = text.problem(note, "note")
    if problem is None and len(note) > codes.PLAN_NOTE_MOST:
        problem = (f"is {len(note)} characters long; at most {codes.PLAN_NOTE_MOST} are "
                   "allowed")
    if problem is not None:
        raise InvalidValue(f"the note for the patient {problem}", field="note")
    return note
