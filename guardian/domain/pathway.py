"""The state of one referral pathway inside a Patient aggregate, and the records it and the
patient hold (workup, tests, messages, RTT periods, check-ins, the plan while waiting,
deterioration flags, contacts, support offers): plain objects changed only by the Patient's
events (`patient/events/`), read by the wait-time rules (`standards/`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from guardian.domain.codes import NON_RTT_LIST_TYPES
from guardian.domain.report import Referral

PathwayKey = tuple[str, str]  # (provider ODS code, provider's pathway id)


def pathway_key(provider: str, pathway_id: str) -> PathwayKey:
    return (provider, pathway_id)


@dataclass
class WorkupItem:
    """An item of the agreed workup (docs/rules.md §2, `workup-14`): asked of
    `requested_from` on `required_on`, outstanding until it is completed."""

    item_id: str
    description: str
    requested_from: str  # "practice", "patient", "hospital", "guardian"
    required_on: dt.date
    completed_on: dt.date | None = None
    completed_by: str | None = None


@dataclass
class Diagnostic:
    """A DM01 diagnostic test (docs/rules.md §2): ordered on `ordered_on`, outstanding
    until its result comes."""

    test_id: str
    test: str  # key of codes.DIAGNOSTIC_TESTS
    ordered_on: dt.date
    resulted_on: dt.date | None = None
    result: str | None = None
    released_on: dt.date | None = None  # a clinician released the result to the patient


@dataclass
class Message:
    """A message on a pathway to or from a party. One Guardian received is unanswered until
    Guardian writes to that party or a coordinator marks it answered (`answered_on`); a
    reply to Guardian recorded by a coordinator (the hospital's) is an answer, not a
    question: it needs no answer of its own (docs/rules.md, "Messages")."""

    message_id: str
    # "in": received by Guardian, to be answered; "out": sent by Guardian; "reply":
    # received in answer to Guardian (recorded by a coordinator), needing no answer.
    direction: str
    party: str  # gp, hospital, patient
    on: dt.date
    at: dt.datetime
    body: str
    sender: str | None = None
    in_reply_to: str | None = None
    answered_on: dt.date | None = None


@dataclass
class RttPeriod:
    """An earlier RTT period of the pathway, kept when a new one starts (docs/rules.md §5)."""

    clock_start: dt.date
    clock_end: dt.date | None
    stop_reason: str | None


@dataclass
class CheckIn:
    """An open Waiting Well check-in (docs/rules.md §8): due, not yet answered."""

    due_on: dt.date
    reason: str
    attempts: int = 0  # unanswered attempts so far ("no response")


@dataclass(frozen=True)
class CarePlan:
    """The plan agreed with the patient while they wait (docs/rules.md "Plans while
    waiting"): what they can do for themselves (`self_care`, codes of codes.SELF_CARE, in
    its order), whom they call if they get worse (`call_if_worse`, one of
    codes.CALL_IF_WORSE), a short note for them, agreed on `agreed_on` by `by`."""

    self_care: tuple[str, ...]
    call_if_worse: str
    note: str
    agreed_on: dt.date
    by: str


@dataclass
class Pathway(Referral):
    """One referral of the patient: what the provider reported (`Referral` and the facts
    below), and what Guardian recorded and worked out on it."""

    ubrn: str | None = None
    local_patient_id: str | None = None
    clock_end: dt.date | None = None
    rtt_status: str | None = None
    stop_reason: str | None = None
    appointment_on: dt.date | None = None
    tci_on: dt.date | None = None
    last_attended_on: dt.date | None = None
    first_seen_on: dt.date | None = None  # the first attendance (bottleneck intervals)
    last_dna_on: dt.date | None = None
    procedure_priority: str | None = None
    priority_reviewed_on: dt.date | None = None
    procedure_priority_since: dt.date | None = None
    workup: dict[str, WorkupItem] = field(default_factory=dict)
    workup_completed_on: dt.date | None = None
    diagnostics: dict[str, Diagnostic] = field(default_factory=dict)
    diagnosis_communicated_on: dt.date | None = None
    diagnosis_outcome: str | None = None
    left_list_on: dt.date | None = None
    closed_on: dt.date | None = None
    close_reason: str | None = None
    coordinator: str | None = None
    messages: dict[str, Message] = field(default_factory=dict)
    breaches: dict[tuple[str, str], dt.date] = field(default_factory=dict)
    # At-risk warnings recorded: (standard, subject) → last day within of the warned window.
    at_risk: dict[tuple[str, str], dt.date] = field(default_factory=dict)
    # Breaches (standard, subject) recorded since a coordinator last opened the patient:
    # "new" on the worklist until then (docs/rules.md §11).
    unseen_breaches: set[tuple[str, str]] = field(default_factory=set)
    check_in: CheckIn | None = None  # the open check-in, if any
    # The plan agreed while waiting, the latest (None: none agreed in this RTT period).
    care_plan: CarePlan | None = None
    last_check_in_due: dt.date | None = None  # due date of the latest check-in recorded
    validated_on: dt.date | None = None  # the patient last confirmed they still need care
    last_check_in_outcome: tuple[str, dt.date] | None = None  # (outcome, date), for repeats
    reported_as_of: dt.date | None = None
    earlier_periods: list[RttPeriod] = field(default_factory=list)
    # Guardian saw this pathway waiting in its current RTT period: false only while the
    # provider's first report of it already carried the clock stop. Breaches are owed only
    # for a period Guardian watched (docs/rules.md §3).
    watched: bool = True

    @property
    def key(self) -> PathwayKey:
        return (self.provider, self.pathway_id)

    @property
    def is_rtt(self) -> bool:
        """An RTT pathway counts towards the 18-week measure (not ONON/INON lists)."""
        return self.waiting_list_type not in NON_RTT_LIST_TYPES and self.clock_start is not None

    @property
    def is_closed(self) -> bool:
        return self.closed_on is not None

    @property
    def clock_stopped(self) -> bool:
        return self.clock_end is not None

    @property
    def is_open(self) -> bool:
        """Open: on a worklist (clock running or non-RTT and waiting), not closed."""
        return self.closed_on is None and self.clock_end is None

    def stopped_by(self, on: dt.date) -> bool:
        """A clock stops on its end date: stopped on or before `on` means not waiting on `on`."""
        return self.clock_end is not None and self.clock_end <= on

    def outstanding_workup(self) -> list[WorkupItem]:
        return [w for w in self.workup.values() if w.completed_on is None]

    def outstanding_diagnostics(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics.values() if d.resulted_on is None]

    def unseen_breach_dates(self) -> list[dt.date]:
        """The breach days of the breaches no one has seen yet (docs/rules.md §11)."""
        return [self.breaches[s] for s in self.unseen_breaches if s in self.breaches]

    def unanswered_messages(self) -> list[Message]:
        return [m for m in self.messages.values() if m.direction == "in" and m.answered_on is None]

    def thread(self) -> list[Message]:
        """The pathway's messages, oldest first (by when each was sent or recorded)."""
        return sorted(self.messages.values(), key=lambda m: (m.at, m.message_id))

    def reply_to(self, sent: Message) -> Message | None:
        """What came back to Guardian's message `sent`: the first message from its party
        that names it, or else came after it; None while Guardian awaits a reply."""
        back = [m for m in self.thread() if m.direction != "out" and m.party == sent.party
                and (m.in_reply_to == sent.message_id or m.at > sent.at)]
        named = [m for m in back if m.in_reply_to == sent.message_id]
        return (named or back or [None])[0]


@dataclass
class DeteriorationFlag:
    """A report that the patient got worse, for clinical review (`reviewed_on`,
    `review_outcome`); made for one referral (`pathway`), or for none (as Contact.pathway)."""

    flag_id: str
    raised_on: dt.date
    summary: str
    source: str  # "patient", "gp", "check-in", "coordinator"
    pathway: PathwayKey | None = None
    reviewed_on: dt.date | None = None
    review_outcome: str | None = None
    seen: bool = False  # a coordinator opened the patient since it was raised


@dataclass
class Contact:
    """Guardian was in touch with the patient (`channel`, one of codes.CONTACT_CHANNELS)."""

    contact_id: str
    on: dt.date
    channel: str
    summary: str
    by: str
    pathway: PathwayKey | None = None  # the referral it was about (None: recorded before
    # contacts carried one; seen only by users who see the whole patient, docs/access.md)


@dataclass
class SupportOffer:
    """Support offered while waiting (`kind`, one of codes.SUPPORT_KINDS)."""

    offer_id: str
    kind: str
    on: dt.date
    note: str
    pathway: PathwayKey | None = None  # as Contact.pathway
