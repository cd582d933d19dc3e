"""Waits: breaches and at-risk warnings (the wait-time sweep, docs/rules.md §3, §4) and
Waiting Well check-ins (docs/rules.md §8).

The rules themselves are pure functions (`guardian.domain.standards.wait_findings`,
`guardian.domain.checkins`); these commands record what they find, as the events of
`events/waits.py`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from guardian.domain import checkins, codes
from guardian.domain.errors import DomainError, InvalidValue
from guardian.domain.pathway import Pathway
from guardian.domain.patient import events as ev
from guardian.domain.patient.state import PatientState, refuse_before
from guardian.domain.standards import STANDARDS, BankHolidays, Standard, wait_findings


@dataclass(frozen=True)
class WaitChanges:
    """What one wait-time sweep of a patient recorded."""

    breaches: int = 0
    at_risk: int = 0
    withdrawn: int = 0


class WaitCommands(PatientState):
    """Breaches, at-risk warnings, check-ins and their outcomes."""

    # ------------------------------------------------------------------ breaches
    def record_breach(self, provider: str, pathway_id: str, standard: str, subject: str,
                      breach_on: dt.date) -> None:
        """Record a wait breach once per pathway × standard × subject (docs/rules.md §3)."""
        if (standard, subject) in self.pathway(provider, pathway_id).breaches:
            return
        self.trigger_event(ev.WaitBreached, provider=provider, pathway_id=pathway_id,
                           standard=standard, subject=subject, breach_on=breach_on)

    def withdraw_breach(self, provider: str, pathway_id: str, standard: str, subject: str,
                        reason: str) -> None:
        if (standard, subject) not in self.pathway(provider, pathway_id).breaches:
            return
        self.trigger_event(ev.BreachWithdrawn, provider=provider, pathway_id=pathway_id,
                           standard=standard, subject=subject, reason=reason)

    def with_news(self, pathways: list[tuple[str, str]], whole: bool) -> set[tuple[str, str]]:
        """Which of these pathways have news no coordinator has seen: a breach, or an
        unreviewed deterioration flag made for it (or, seeing the `whole` patient, for no
        referral) (docs/rules.md §11)."""
        fresh = [f for f in self.flags.values() if not f.seen and f.reviewed_on is None]
        return {key for key in pathways if key in self.pathways and (
            self.pathways[key].unseen_breaches
            or any(f.pathway == key or (f.pathway is None and whole) for f in fresh))}

    def see_news(self, pathways: list[tuple[str, str]], whole: bool, by: str) -> None:
        """A coordinator opened the patient, seeing these pathways (and the whole patient
        when `whole`): their new breaches and deterioration flags are no longer new
        (docs/rules.md §11). Nothing is recorded when nothing was new."""
        keys = [key for key in pathways if key in self.pathways]
        if self.with_news(keys, whole):
            self.trigger_event(ev.NewsSeen, pathways=[list(key) for key in keys],
                               whole=whole, by=by)

    # ------------------------------------------------------------------ the wait-time sweep
    def check_waits(
        self,
        on: dt.date,
        standards: Iterable[Standard] = STANDARDS,
        bank_holidays: BankHolidays | None = None,
    ) -> WaitChanges:
        """Record what the standards say has happened by `on` (docs/rules.md §3, §4).

        For each pathway: withdraws recorded breaches the facts no longer support, records
        each breach due by `on` dated on its breach day (on a stopped or closed pathway too,
        when Guardian watched it waiting on that day), and an at-risk warning for each
        outstanding step inside its window on `on`. Running it again, or for an earlier
        day, records nothing new.
        """
        return self._record_findings(self.pathways.values(), on, standards, bank_holidays)

    def settle_ended_pathways(
        self,
        standards: Iterable[Standard] = STANDARDS,
        bank_holidays: BankHolidays | None = None,
    ) -> WaitChanges:
        """Record the breaches a stop or closure leaves behind, whatever the date today.

        docs/rules.md §3: a pathway Guardian watched waiting, whose clock was still running
        on a breach day, has breached even when its stop (dated on or after that day)
        arrives before any sweep ran on or after it. The command that brings the stop or
        closure calls this, so the result never depends on when the sweep ran. Every such
        breach is due (its day is on or before the stop), and no at-risk warning is owed
        for a step that is over. Recorded breaches the facts no longer support are
        withdrawn. Open pathways are left to the sweep.
        """
        ended = [p for p in self.pathways.values()
                 if not p.is_open and (p.watched or p.breaches)]
        return self._record_findings(ended, dt.date.max, standards, bank_holidays)

    def _record_findings(
        self,
        pathways: Iterable[Pathway],
        on: dt.date,
        standards: Iterable[Standard],
        bank_holidays: BankHolidays | None,
    ) -> WaitChanges:
        standards = tuple(standards)
        flags = tuple(self.flags.values())
        fire = self.trigger_event
        breaches = at_risk = withdrawn = 0
        for p in list(pathways):
            if not p.is_open and not p.watched and not p.breaches:
                continue
            ids = {"provider": p.provider, "pathway_id": p.pathway_id}
            for f in wait_findings(p, flags, standards, bank_holidays):
                if f.kind == "withdraw":
                    fire(ev.BreachWithdrawn, standard=f.standard, subject=f.subject,
                         reason=f.reason, **ids)
                    withdrawn += 1
                elif not f.due(on):
                    continue
                elif f.kind == "breach":
                    fire(ev.WaitBreached, standard=f.standard, subject=f.subject,
                         breach_on=f.due_on, **ids)
                    breaches += 1
                else:
                    assert f.deadline is not None
                    fire(ev.StepAtRisk, standard=f.standard, subject=f.subject,
                         at_risk_from=f.due_on, last_day_within=f.deadline.last_day_within,
                         **ids)
                    at_risk += 1
        return WaitChanges(breaches, at_risk, withdrawn)

    # ------------------------------------------------------------------ Waiting Well check-ins
    def check_ins(
        self, on: dt.date, schedule: checkins.CheckInSchedule = checkins.DEFAULT_SCHEDULE
    ) -> int:
        """Record a `CheckInDue` on each pathway whose check-in has fallen due by `on`
        (docs/rules.md §8, dated on the day it fell due); return how many."""
        recorded = 0
        for p in list(self.pathways.values()):
            due = checkins.check_in_due(p, on, schedule)
            if due is None:
                continue
            self.trigger_event(
                ev.CheckInDue, provider=p.provider, pathway_id=p.pathway_id,
                due_on=due.due_on, reason=due.reason, wait_days=due.wait_days,
            )
            recorded += 1
        return recorded

    def record_check_in_outcome(
        self,
        provider: str,
        pathway_id: str,
        outcome: str,
        on: dt.date,
        by: str,
        note: str = "",
        stop_reason: str | None = None,
    ) -> None:
        """The coordinator records how a check-in went (docs/rules.md §8).

        no-change: validated, still needs care. worse: validated, and a deterioration flag
        is raised for clinical review. no-longer-needed / treated-elsewhere: validated off
        the list, the clock stopped on `on` with `stop_reason` (default 34, "decision not
        to treat / no further contact"). no-response: one unanswered attempt at the open
        check-in; the second closes it unanswered. The same outcome again on the same day
        is a no-op.
        """
        codes.check_code(codes.CHECK_IN_OUTCOMES, outcome, "outcome", "a check-in outcome")
        if self.pathway(provider, pathway_id).last_check_in_outcome == (outcome, on):
            return
        p = self._open_pathway(provider, pathway_id)
        refuse_before(on, p.received_on, "a check-in cannot come before the referral")
        check_in = p.check_in
        if check_in is not None and on < check_in.due_on:
            raise InvalidValue(
                f"the open check-in is due on {check_in.due_on.isoformat()}; record its "
                "outcome on or after that day", field="on")
        if outcome == "no-response" and check_in is None:
            raise DomainError("no check-in is due on this pathway to record no response to",
                              field="outcome")
        code = None
        if outcome in checkins.REMOVING:
            code = stop_reason or checkins.DEFAULT_REMOVAL_REASON
            if code not in codes.CLOCK_STOP_STATUSES:
                raise InvalidValue(f"{code!r} is not a clock-stop reason (30–36)",
                                   field="stop_reason")
            refuse_before(on, p.clock_start, "a clock cannot stop before it started")
        note = note.strip()
        ids = {"provider": provider, "pathway_id": pathway_id}
        self.trigger_event(
            ev.CheckInOutcomeRecorded, treatment_function=p.treatment_function,
            practice_code=p.practice_code, due_on=check_in.due_on if check_in else None,
            outcome=outcome, on=on, attempt=(check_in.attempts if check_in else 0) + 1,
            by=by, note=note, **ids,
        )
        if outcome == "worse":
            flag_id = f"check-in:{provider}:{pathway_id}:{on.isoformat()}"
            if flag_id not in self.flags:
                self.trigger_event(
                    ev.DeteriorationFlagged, flag_id=flag_id, raised_on=on,
                    summary=note or "Reported worse at a Waiting Well check-in",
                    source="check-in", **ids,
                )
        elif code is not None:
            self.trigger_event(ev.ClockStopped, stopped_on=on, reason_code=code,
                               reason=codes.RTT_STATUS[code], reported_on=None, **ids)
