"""The stage of a pathway, one of a fixed list, with its plain label (docs/rules.md §9)."""

from __future__ import annotations

from guardian.domain.pathway import Pathway

STAGES: tuple[str, ...] = (
    "awaiting-workup",
    "awaiting-first-appointment",
    "first-appointment-booked",
    "awaiting-diagnostics",
    "awaiting-treatment",
    "treatment-booked",
    "left-waiting-list",
    "clock-stopped",
    "closed",
)

STAGE_LABELS: dict[str, str] = {
    "awaiting-workup": "Waiting for the agreed workup to be done",
    "awaiting-first-appointment": "Waiting for a first appointment to be booked",
    "first-appointment-booked": "First appointment booked",
    "awaiting-diagnostics": "Waiting for a test result",
    "awaiting-treatment": "Seen; waiting for treatment",
    "treatment-booked": "Treatment or admission date booked",
    "left-waiting-list": "Left the hospital's waiting list — check why",
    "clock-stopped": "Clock stopped (treated, discharged or did not attend)",
    "closed": "Closed",
}


def stage(pathway: Pathway) -> str:
    """The pathway's one stage (docs/rules.md §9), checked in this order.

    closed → "closed"; clock stopped (includes first-appointment DNA, status 33) →
    "clock-stopped"; left the list → "left-waiting-list"; workup items outstanding →
    "awaiting-workup"; a test ordered without a result → "awaiting-diagnostics"; TCI date
    set → "treatment-booked"; seen (last attended) → "awaiting-treatment"; appointment
    booked → "first-appointment-booked"; otherwise "awaiting-first-appointment".
    """
    if pathway.closed_on is not None:
        return "closed"
    if pathway.clock_end is not None:
        return "clock-stopped"
    if pathway.left_list_on is not None:
        return "left-waiting-list"
    if pathway.outstanding_workup():
        return "awaiting-workup"
    if pathway.outstanding_diagnostics():
        return "awaiting-diagnostics"
    if pathway.tci_on is not None:
        return "treatment-booked"
    if pathway.last_attended_on is not None:
        return "awaiting-treatment"
    if pathway.appointment_on is not None:
        return "first-appointment-booked"
    return "awaiting-first-appointment"
