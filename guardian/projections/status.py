"""Referral status for GPs and patients: where the referral is, in plain English.

`referral_status` puts together, for one pathway of one patient:
- the stage (docs/rules.md §9) and its plain-language label;
- how long the patient has waited, and each deadline with where it stands (docs/rules.md §2, §4);
- what is outstanding and who owns it (the practice, the patient, the hospital, Guardian);
- what Guardian is doing (coordinator, last contact, support offered, reviews);
- an expected wait from recent history: the median and 92nd percentile of RTT waits
  completed in the last 26 weeks for the same provider × treatment function × priority,
  with the sample size; when fewer than 8 such waits completed, the basis widens to the
  provider × treatment function (all priorities) and says so, and below that no estimate
  is given (the same threshold as the small-number rule);
- a timeline: every event of the pathway (and the patient-wide ones: contacts, support,
  deterioration flags) as a dated sentence (guardian/projections/timeline.py).

The aggregate and its events are the source; the expected wait reads the bottleneck read
model's completed RTT intervals.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from guardian.domain import codes, standards
from guardian.domain.codes import DIAGNOSTIC_TESTS, PRIORITIES
from guardian.domain.pathway import Pathway
from guardian.domain.patient import Patient
from guardian.domain.visibility import goes_with
from guardian.projections.bottlenecks import intervals, percentile
from guardian.projections.name_queries import NO_NAMES, Names, load_names
from guardian.projections.suppression import SMALLEST_GROUP_FOR_STATISTICS
from guardian.projections.timeline import (
    TimelineEntry,
    channel_name,
    day_text,
    party_name,
    tf_name,
    timeline,
)

EXPECTED_WAIT_WEEKS = 26


# ------------------------------------------------------------------------ expected wait


@dataclass(frozen=True)
class ExpectedWait:
    """Completed RTT waits in the window before `as_of`, and what they say."""

    provider: str
    treatment_function: str
    priority: int | None  # None: all priorities (the widened basis)
    as_of: dt.date
    sample: int
    median_weeks: float | None
    p92_weeks: float | None
    window_weeks: int = EXPECTED_WAIT_WEEKS
    provider_name: str | None = None  # the provider as people read it (None: its code)

    @property
    def known(self) -> bool:
        return self.median_weeks is not None

    def basis(self) -> str:
        who = f"{self.provider_name or self.provider}, {tf_name(self.treatment_function)}"
        if self.priority is not None:
            who += f", {PRIORITIES.get(self.priority, self.priority)} referrals"
        else:
            who += ", all priorities"
        plural = "" if self.sample == 1 else "s"
        return (f"{self.sample} wait{plural} completed in the {self.window_weeks} weeks "
                f"to {day_text(self.as_of)} at {who}")

    def describe(self) -> str:
        if not self.known:
            return (f"Not enough recent history to estimate the wait ({self.basis()}; "
                    f"at least {SMALLEST_GROUP_FOR_STATISTICS} are needed).")
        return (f"Half of recent patients were treated within {self.median_weeks:.0f} weeks "
                f"and 92 in 100 within {self.p92_weeks:.0f} weeks (based on {self.basis()}).")

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "as_of": self.as_of.isoformat(), "known": self.known,
                "basis": self.basis(),
                "summary": self.describe()}


def _completed_waits(conn: Connection, provider: str, tf: str, priority: int | None,
                     as_of: dt.date, weeks: int) -> list[int]:
    t = intervals
    since = as_of - dt.timedelta(weeks=weeks)
    q = select(t.c.started_on, t.c.ended_on).where(
        t.c.kind == "rtt", t.c.provider == provider, t.c.treatment_function == tf,
        t.c.ended_on > since, t.c.ended_on <= as_of,
    )
    if priority is not None:
        q = q.where(t.c.priority == priority)
    return sorted((end - start).days for start, end in conn.execute(q))


def expected_wait(conn: Connection, provider: str, tf: str, priority: int, as_of: dt.date,
                  weeks: int = EXPECTED_WAIT_WEEKS, names: Names = NO_NAMES) -> ExpectedWait:
    """Median and 92nd percentile (weeks) of RTT waits completed in the `weeks` up to
    `as_of` at this provider × treatment function × priority; widened to all priorities
    when that gives fewer than 8; no estimate below 8 either way."""
    basis: int | None = priority
    waits = _completed_waits(conn, provider, tf, priority, as_of, weeks)
    if len(waits) < SMALLEST_GROUP_FOR_STATISTICS:
        wider = _completed_waits(conn, provider, tf, None, as_of, weeks)
        if len(wider) >= SMALLEST_GROUP_FOR_STATISTICS:
            basis, waits = None, wider
    if len(waits) < SMALLEST_GROUP_FOR_STATISTICS:
        return ExpectedWait(provider, tf, basis, as_of, len(waits), None, None, weeks,
                            names.provider(provider))
    return ExpectedWait(provider, tf, basis, as_of, len(waits),
                        round(percentile(waits, 0.5) / 7, 1),
                        round(percentile(waits, 0.92) / 7, 1), weeks, names.provider(provider))



# ------------------------------------------------------------------------------ status


@dataclass
class Outstanding:
    what: str
    owner: str  # practice, patient, hospital, guardian
    since: dt.date
    overdue: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"what": self.what, "owner": self.owner,
                "owner_label": codes.label(codes.WORKUP_OWNERS, self.owner),
                "since": self.since.isoformat(), "overdue": self.overdue}


@dataclass
class ReferralStatus:
    provider: str
    pathway_id: str
    treatment_function: str
    priority: int
    practice_code: str
    stage: str
    stage_label: str
    summary: str
    received_on: dt.date
    clock_start: dt.date | None
    waited_days: int
    deadlines: list[dict[str, Any]]
    breaches: list[dict[str, Any]]
    outstanding: list[Outstanding]
    guardian_actions: list[str]
    expected_wait: ExpectedWait | None
    timeline: list[TimelineEntry] = field(default_factory=list)
    provider_name: str = ""  # as people read them (the code when it has no name)
    practice_name: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider, "provider_name": self.provider_name or self.provider,
            "pathway_id": self.pathway_id,
            "treatment_function": self.treatment_function,
            "treatment_function_name": tf_name(self.treatment_function),
            "priority": self.priority, "priority_label": PRIORITIES.get(self.priority, ""),
            "practice_code": self.practice_code,
            "practice_name": self.practice_name or self.practice_code, "stage": self.stage,
            "stage_label": self.stage_label, "summary": self.summary,
            "received_on": self.received_on.isoformat(),
            "clock_start": self.clock_start.isoformat() if self.clock_start else None,
            "waited_days": self.waited_days, "waited_weeks": self.waited_days // 7,
            "deadlines": self.deadlines, "breaches": self.breaches,
            "outstanding": [o.as_dict() for o in self.outstanding],
            "guardian_actions": self.guardian_actions,
            "expected_wait": self.expected_wait.as_dict() if self.expected_wait else None,
            "history": [t.as_dict() for t in self.timeline],
        }


def outstanding(patient: Patient, p: Pathway, on: dt.date, bank_holidays=None,
                table: Sequence[standards.Standard] = standards.STANDARDS,
                whole: bool = True) -> list[Outstanding]:
    """What is still to be done on this pathway, who owns it, and whether it is overdue
    against its standard (of the deployment's `table`) on `on`. `whole` as for
    `timeline`."""
    due = {(d.standard.applies_to, d.subject): d for d in
           standards.deadlines(p, [f for f in patient.flags.values() if f.reviewed_on is None
                                   and (f.pathway is None or f.pathway == p.key)],
                               table, bank_holidays=bank_holidays)}

    def overdue(kind: str, subject: str = "") -> bool:
        d = due.get((kind, subject))
        return d is not None and standards.breached_when(d.breach_on, on)

    items = [Outstanding(f"Workup: {w.description}", w.requested_from, w.required_on,
                         overdue("workup")) for w in p.outstanding_workup()]
    items += [Outstanding(f"Test result: {DIAGNOSTIC_TESTS.get(t.test, t.test)}", "hospital",
                          t.ordered_on, overdue("diagnostic", t.test_id))
              for t in p.outstanding_diagnostics()]
    items += [Outstanding(f"Answer {party_name(m.party)}'s message", "guardian", m.on,
                          overdue("message", m.message_id)) for m in p.unanswered_messages()]
    items += [Outstanding(f"Review reported deterioration: {f.summary}", "guardian",
                          f.raised_on, overdue("deterioration", f.flag_id))
              for f in patient.flags.values() if f.reviewed_on is None
              and goes_with(f.pathway, {p.key}, whole)]
    if p.is_open and p.appointment_on is None and p.first_seen_on is None \
            and not p.outstanding_workup() and p.left_list_on is None:
        items.append(Outstanding("Book a first appointment", "hospital", p.received_on))
    if p.left_list_on is not None and p.is_open:
        items.append(Outstanding("Find out why the referral left the hospital's list",
                                 "guardian", p.left_list_on))
    return items


def _summary(p: Pathway, stage: str, waited: int, on: dt.date, names: Names) -> str:
    weeks = waited // 7
    where = f"{tf_name(p.treatment_function)} at {names.provider(p.provider)}"
    if stage == "closed":
        return f"The referral to {where} was closed on {day_text(p.closed_on)}."
    if stage == "clock-stopped":
        return f"The wait for {where} ended on {day_text(p.clock_end)}."
    lines = [f"Referred to {where}; waiting {weeks} week{'s' if weeks != 1 else ''} "
             f"({waited} days)."]
    if p.appointment_on and p.appointment_on >= on:
        lines.append(f"An appointment is booked for {day_text(p.appointment_on)}.")
    if p.tci_on and p.tci_on >= on:
        lines.append(f"Treatment is booked for {day_text(p.tci_on)}.")
    return " ".join(lines)


def _plain(status: standards.DeadlineStatus) -> str:
    """A deadline in a sentence for GPs and patients: "18 weeks from referral to
    treatment: by 22 Jun 2026, 40 days left" (or "missed on …", "today is the last day")."""
    d = status.deadline
    if status.state == "breached":
        return f"{d.standard.label}: missed (recorded {day_text(d.breach_on)})"
    if status.days_left == 0:
        return f"{d.standard.label}: today is the last day"
    if status.days_left < 0:
        return f"{d.standard.label}: was due by {day_text(d.last_day_within)}"
    plural = "" if status.days_left == 1 else "s"
    return (f"{d.standard.label}: by {day_text(d.last_day_within)}, "
            f"{status.days_left} day{plural} left")


def referral_status(
    patient: Patient,
    provider: str,
    pathway_id: str,
    on: dt.date,
    events: Iterable[Any] = (),
    conn: Connection | None = None,
    bank_holidays=None,
    table: Sequence[standards.Standard] = standards.STANDARDS,
    whole: bool = True,
    names: Names | None = None,
) -> ReferralStatus:
    """Everything a GP or patient needs to know about one referral on `on`, against the
    deployment's standards `table` (Settings.standards). `whole`: the reader sees the whole
    patient (docs/access.md); otherwise only what was recorded for this referral. `names`:
    providers and practices by name (read on `conn` when not given)."""
    if names is None:
        names = load_names(conn) if conn is not None else NO_NAMES
    p = patient.pathway(provider, pathway_id)
    stage = standards.stage(p)
    start = p.clock_start or p.received_on
    end = p.clock_end or p.closed_on or on
    waited = max(0, (min(end, on) - start).days)
    flags = [f for f in patient.flags.values() if f.reviewed_on is None
             and (f.pathway is None or f.pathway == p.key)]
    deadlines = [
        {"standard": s.deadline.standard.code, "label": s.deadline.standard.label,
         "subject": s.deadline.subject,
         "last_day_within": s.deadline.last_day_within.isoformat(),
         "breach_on": s.deadline.breach_on.isoformat(), "state": s.state,
         "days_left": s.days_left, "plain": _plain(s),
         "text": s.describe(standards.subject_words(p, flags, s.deadline.standard.applies_to,
                                                    s.deadline.subject))}
        for s in standards.assess(p, on, flags, table, bank_holidays=bank_holidays)
    ] if p.is_open else []
    labels = {s.code: s.label for s in table}
    breaches = [{"standard": std, "label": labels.get(std, std), "subject": subject,
                 "breach_on": day.isoformat(), "breach_on_text": day_text(day)}
                for (std, subject), day in sorted(p.breaches.items(), key=lambda kv: kv[1])]
    actions = []
    if p.coordinator:
        actions.append("A Guardian care coordinator looks after this referral.")
    mine = {p.key}
    contacts = sorted((c for c in patient.contacts.values() if goes_with(c.pathway, mine, whole)),
                      key=lambda c: c.on)
    if contacts:
        actions.append(f"Last in touch with the patient on {day_text(contacts[-1].on)} "
                       f"({channel_name(contacts[-1].channel)}).")
    for offer in sorted((s for s in patient.support.values()
                         if goes_with(s.pathway, mine, whole)), key=lambda s: s.on):
        actions.append(f"Support offered on {day_text(offer.on)}: "
                       f"{codes.label(codes.SUPPORT_KINDS, offer.kind)}.")
    if p.diagnostics:
        actions.append(f"{len(p.diagnostics)} test(s) organised, "
                       f"{len(p.outstanding_diagnostics())} awaiting a result.")
    expected = None
    if conn is not None and p.is_open and p.is_rtt:
        expected = expected_wait(conn, p.provider, p.treatment_function, p.priority, on,
                                 names=names)
    return ReferralStatus(
        provider=p.provider, pathway_id=p.pathway_id, treatment_function=p.treatment_function,
        priority=p.priority, practice_code=p.practice_code, stage=stage,
        stage_label=standards.STAGE_LABELS[stage],
        summary=_summary(p, stage, waited, on, names),
        received_on=p.received_on, clock_start=p.clock_start, waited_days=waited,
        deadlines=deadlines, breaches=breaches,
        outstanding=outstanding(patient, p, on, bank_holidays, table, whole)
        if p.is_open else [],
        guardian_actions=actions, expected_wait=expected,
        timeline=timeline(events, patient, provider, pathway_id, whole, names),
        provider_name=names.provider(p.provider), practice_name=names.practice(p.practice_code),
    )
