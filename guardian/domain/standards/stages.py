"""The stage of a pathway, one of a fixed list, with its plain label (docs/rules.md §9)."""

from __future__ import annotations

from collections.abc import Callable

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


#: What puts a pathway in each stage, checked in this order (docs/rules.md §9); a pathway in
#: none of them is "awaiting-first-appointment". A stopped clock includes a DNA of the first
#: appointment (status 33); "seen" is a last attendance.
STAGE_TESTS: tuple[tuple[str, Callable[[Pathway], object]], ...] = (
    ("closed", lambda p: p.closed_on is not None),
    ("clock-stopped", lambda p: p.clock_end is not None),
    ("left-waiting-list", lambda p: p.left_list_on is not None),
    ("awaiting-workup", Pathway.outstanding_workup),
    ("awaiting-diagnostics", Pathway.outstanding_diagnostics),
    ("treatment-booked", lambda p: p.tci_on is not None),
    ("awaiting-treatment", lambda p: p.last_attended_on is not None),
    ("first-appointment-booked", lambda p: p.appointment_on is not None),
)


def stage(pathway: Pathway) -> str:
    """The pathway's one stage (docs/rules.md §9): the first of `STAGE_TESTS` that holds."""
    for name, holds in STAGE_TESTS:
        if holds(pathway):
            return name
    return "awaiting-first-appointment"
