"""The bottleneck read model itself: its two tables and how a patient's rows are built.

`pathway_intervals` holds every stage interval of every pathway (open or not) and
`breach_facts` every recorded breach, each row with the dimensions reports group by (place,
PCN, practice, provider, treatment function, priority, age band) as at projection time. The
rows are rebuilt from the whole Patient rather than folded from events: an interval's end
and its reason (a clock stop, a closure, leaving the list, a Waiting Well validation), the
workup's completion and the RTT periods are the aggregate's rules (docs/rules.md §5, §8),
and folding would write them a second time here. Events that change none of these rows
(`UNAFFECTED_BY`) are skipped.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Column, Date, Index, Integer, MetaData, String, Table, Text

from guardian.domain.checkins import REMOVING
from guardian.domain.codes import CLOSE_REASONS, NON_RTT_LIST_TYPES, RTT_STATUS, label
from guardian.domain.patient import Patient
from guardian.projections.readmodel import ReadModel, Rows
from guardian.projections.tables import pathway_key
from guardian.store import metadata

NAME = "bottlenecks"
KINDS = ("workup", "diagnostic", "first-seen", "treatment", "rtt", "pathway")
STEP_KINDS = ("workup", "diagnostic", "first-seen", "treatment")
# Facts the practices' weekly digest counts (docs/notifications.md "Weekly digest"), no
# report's: each workup item asked of the practice (required → completed) and each message
# from the GP practice (received → answered).
DIGEST_KINDS = ("practice-workup", "gp-message")
KIND_LABELS = {
    "workup": "Referral received → agreed workup complete",
    "diagnostic": "Test ordered → test resulted",
    "first-seen": "Referral received → first seen",
    "treatment": "First seen → clock stop (treatment)",
    "rtt": "RTT clock start → clock stop",
    "pathway": "Referral received → off the waiting list",
}
DIMENSIONS = ("place", "pcn_code", "practice_code", "provider", "treatment_function",
              "priority", "age_band")
DIMENSION_LABELS = {
    "place": "Place", "pcn_code": "PCN", "practice_code": "Practice", "provider": "Provider",
    "treatment_function": "Treatment function", "priority": "Priority",
    "age_band": "Age band",
}
AGE_BANDS = ("0-17", "18-39", "40-64", "65-79", "80+")

# What a row here is made of: the pathway's dates, steps, periods, breaches and dimensions,
# the patient's birth date. These events change none of that (appointments, messages,
# contacts, coordinators, flags, check-ins falling due are the worklist's; messages are
# the digest's `gp-message` intervals).
UNAFFECTED_BY = frozenset({
    "guardian.Patient.ReferralDetailsReported",
    "guardian.Patient.ContactDetailsChanged",
    "guardian.Patient.RttStatusReported",
    "guardian.Patient.AppointmentBooked",
    "guardian.Patient.TreatmentScheduled",
    "guardian.Patient.BookingCancelled",
    "guardian.Patient.DidNotAttend",
    "guardian.Patient.ProcedurePriorityReviewed",
    "guardian.Patient.DiagnosisCommunicated",
    "guardian.Patient.CoordinatorAssigned",
    "guardian.Patient.StepAtRisk",
    "guardian.Patient.CheckInDue",
    "guardian.Patient.DeteriorationFlagged",
    "guardian.Patient.DeteriorationReviewed",
    "guardian.Patient.ContactLogged",
    "guardian.Patient.SupportOffered",
})


def age_band(birth_date: dt.date, on: dt.date) -> str:
    """Age in whole years on `on`, in the bands the equity view uses."""
    years = on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))
    for upper, band in ((17, "0-17"), (39, "18-39"), (64, "40-64"), (79, "65-79")):
        if years <= upper:
            return band
    return "80+"


# ------------------------------------------------------------------------------ tables


def _dimension_columns() -> list[Column]:
    return [
        Column("patient_id", String(32), nullable=False),
        Column("place", Text),
        Column("pcn_code", String(8)),
        Column("practice_code", String(8), nullable=False),
        Column("treatment_function", String(3), nullable=False),
        Column("priority", Integer, nullable=False),
        Column("age_band", String(8), nullable=False),
    ]


def _define_intervals(name: str, md: MetaData) -> Table:
    return Table(
        name, md, *pathway_key(),
        Column("kind", String(16), primary_key=True),
        Column("seq", Integer, primary_key=True),
        *_dimension_columns(),
        Column("started_on", Date, nullable=False),
        Column("ended_on", Date),
        Column("pathway_ended_on", Date),  # the pathway's own end (None while open)
        Column("end_reason", Text),  # kind "pathway": why it came off the list
        Index(f"{name}_patient", "patient_id"),
        # A report reads one place's intervals of a kind: on PostgreSQL from this index
        # alone (index-only scans), so that it neither reads nor evicts the table's pages,
        # which the worklists need in memory (docs/deployment.md "Reports beside the
        # worklists"). It replaced `{name}_kind_place` (the same keys, nothing included).
        Index(f"{name}_report", "kind", "place", "started_on",
              postgresql_include=["ended_on", "pathway_ended_on", "treatment_function",
                                  "provider", "pcn_code", "age_band"]),
        Index(f"{name}_expected", "kind", "provider", "treatment_function", "priority",
              "ended_on"),
    )


def _define_breaches(name: str, md: MetaData) -> Table:
    return Table(
        name, md, *pathway_key(),
        Column("standard", String(32), primary_key=True),
        Column("subject", String(64), primary_key=True),
        *_dimension_columns(),
        Column("breach_on", Date, nullable=False),
        Index(f"{name}_patient", "patient_id"),
        Index(f"{name}_place", "place", "breach_on"),
    )


intervals = _define_intervals("pathway_intervals", metadata)
breach_facts = _define_breaches("breach_facts", metadata)


# ------------------------------------------------------------------------------ rows


def _pathway_end(p) -> tuple[dt.date | None, str | None]:
    """When and why the pathway came off the waiting list (None while it is on it)."""
    ends = []
    if p.clock_end is not None:
        outcome = p.last_check_in_outcome
        if outcome is not None and outcome[0] in REMOVING and outcome[1] == p.clock_end:
            # a Waiting Well check-in validated the patient off the list (docs/rules.md §8)
            reason = f"validated off the list: {outcome[0].replace('-', ' ')}"
        elif p.stop_reason in RTT_STATUS:
            reason = f"clock stopped: {RTT_STATUS[p.stop_reason]}"
        else:
            reason = f"clock stopped: {p.stop_reason}" if p.stop_reason else "clock stopped"
        ends.append((p.clock_end, reason))
    if p.closed_on is not None:
        why = label(CLOSE_REASONS, p.close_reason)
        ends.append((p.closed_on, f"closed: {why}" if why else "closed"))
    if p.left_list_on is not None:
        ends.append((p.left_list_on, "left the waiting list"))
    if not ends:
        return None, None
    return min(ends)


def rows_for(patient: Patient, orgs: dict[str, Any]) -> tuple[list[dict], list[dict]]:
    """The interval rows and breach rows of one patient (every pathway, open or not)."""
    interval_rows: list[dict[str, Any]] = []
    breach_rows: list[dict[str, Any]] = []
    for p in patient.pathways.values():
        org = orgs.get(p.practice_code)
        dims = {
            "patient_id": patient.id.hex,
            "place": org.place if org else None,
            "pcn_code": org.pcn_code if org else None,
            "practice_code": p.practice_code,
            "treatment_function": p.treatment_function,
            "priority": p.priority,
        }
        ended_on, end_reason = _pathway_end(p)

        def add(kind: str, seq: int, start: dt.date | None, end: dt.date | None,
                reason: str | None = None, p=p, dims=dims, ended_on=ended_on) -> None:
            if start is None:
                return
            if end is not None and end < start:  # a corrected start after the end: no step
                return
            interval_rows.append({
                "provider": p.provider, "pathway_id": p.pathway_id, "kind": kind, "seq": seq,
                **dims, "age_band": age_band(patient.birth_date, start),
                "started_on": start, "ended_on": end, "pathway_ended_on": ended_on,
                "end_reason": reason,
            })

        add("pathway", 0, p.received_on, ended_on, end_reason)
        if p.workup:
            add("workup", 0, p.received_on, p.workup_completed_on
                if not p.outstanding_workup() else None)
        asked = sorted((w for w in p.workup.values() if w.requested_from == "practice"),
                       key=lambda w: (w.required_on, w.item_id))
        for n, w in enumerate(asked):
            add("practice-workup", n, w.required_on, w.completed_on)
        from_gp = sorted((m for m in p.messages.values() if m.direction == "in"
                          and m.party == "gp"), key=lambda m: (m.on, m.message_id))
        for n, m in enumerate(from_gp):
            add("gp-message", n, m.on, m.answered_on)
        tests = sorted(p.diagnostics.values(), key=lambda d: (d.ordered_on, d.test_id))
        for n, d in enumerate(tests):
            add("diagnostic", n, d.ordered_on, d.resulted_on)
        add("first-seen", 0, p.received_on, p.first_seen_on)
        add("treatment", 0, p.first_seen_on, p.clock_end if p.first_seen_on else None)
        if p.waiting_list_type not in NON_RTT_LIST_TYPES:
            periods = [(e.clock_start, e.clock_end) for e in p.earlier_periods]
            if p.clock_start is not None:
                periods.append((p.clock_start, p.clock_end))
            for n, (start, end) in enumerate(periods):
                add("rtt", n, start, end)
        for (standard, subject), breach_on in p.breaches.items():
            breach_rows.append({
                "provider": p.provider, "pathway_id": p.pathway_id, "standard": standard,
                "subject": subject, **dims, "age_band": age_band(patient.birth_date, breach_on),
                "breach_on": breach_on,
            })
    return interval_rows, breach_rows


class BottleneckProjection(ReadModel):
    """Stage intervals and breach facts, every pathway's, rebuilt per patient."""

    name = NAME
    version = 2  # 2: the digest's practice-workup and gp-message intervals
    definers = ((intervals, _define_intervals), (breach_facts, _define_breaches))
    unaffected_by = UNAFFECTED_BY

    def rows(self, app: Any, patients: list[Patient], orgs: dict[str, Any]) -> Rows:
        all_intervals: list[dict] = []
        all_breaches: list[dict] = []
        for patient in patients:
            i, b = rows_for(patient, orgs)
            all_intervals += i
            all_breaches += b
        return [all_intervals, all_breaches]
