"""How the pages show people and rows: a worklist row as the worklist and GP tables show it
(state words, waits in weeks, ages in days), a referral as a person picks it, an age, and
the care coordinators a pathway may be given to (docs/access.md: only coordinators of its
PCN).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy import Connection

from guardian import users
from guardian.domain import codes, standards, urgency
from guardian.domain.identifiers import format_nhs_number
from guardian.projections.name_queries import NO_NAMES, Names


def age_on(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


# The standards as a worklist cell names them (the full label is its tooltip), so a
# deadline reads in one line; a deployment's own standard shows its label.
SHORT_STANDARDS = {
    "rtt-18": "18 weeks (RTT)", "rtt-52": "52 weeks (RTT)", "rtt-65": "65 weeks (RTT)",
    "rtt-78": "78 weeks (RTT)", "rtt-104": "104 weeks (RTT)",
    "cancer-fds-28": "Cancer: told in 28 days", "cancer-62": "Cancer: treated in 62 days",
    "diagnostic-6w": "Test within 6 weeks", "procedure-p2": "P2: within 4 weeks",
    "procedure-p3": "P3: within 3 months", "workup-14": "Workup within 14 days",
    "deterioration-review": "Review within 2 working days",
    "message-answer": "Answer within 2 working days",
}


STANDARD_LABELS = {s.code: s.label for s in standards.STANDARDS}


def present_row(row: dict[str, Any], today: dt.date,
                gone: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A worklist row as the table shows it: state words, waits in weeks, ages in days."""
    state = standards.deadline_state(row["next_breach_on"], row["next_at_risk_from"], today)
    label = None
    if row["next_standard"]:
        label = STANDARD_LABELS.get(row["next_standard"], row["next_standard"])
    waited = (today - row["wait_from"]).days
    return {
        **row,
        "patient_href": f"/patients/{row['patient_id']}",
        "nhs_formatted": format_nhs_number(row["nhs_number"]),
        "age": age_on(row["birth_date"], today),
        "waited_days": waited,
        "waited_weeks": waited // 7,
        "deadline_state": state,
        "deadline_label": label,
        "deadline_short": SHORT_STANDARDS.get(row["next_standard"] or "", label),
        "stage_label": standards.STAGE_LABELS.get(row["stage"], row["stage"]),
        "tf_name": codes.TREATMENT_FUNCTIONS.get(row["treatment_function"],
                                                 row["treatment_function"]),
        "priority_label": codes.PRIORITIES.get(row["priority"], str(row["priority"])),
        "is_new": urgency.is_new(row.get("news_on"), today),
        "coordinator_gone": row["coordinator"] in gone,
        "deterioration_days": (today - row["deterioration_since"]).days
        if row["deterioration_since"] else None,
        "unanswered_days": (today - row["oldest_unanswered_on"]).days
        if row["oldest_unanswered_on"] else None,
        "key": f"{row['provider']}|{row['pathway_id']}|{row['patient_id']}",
    }


def referral_label(p: Any, names: Names = NO_NAMES) -> str:
    """A referral as a person picks it: "Dermatology at Mid and South Essex NHS Foundation
    Trust (pathway PPI-0002)"."""
    return f"{codes.treatment_function_label(p.treatment_function)} at " \
           f"{names.provider(p.provider)} (pathway {p.pathway_id})"


def coordinators_of(conn: Connection) -> list[users.User]:
    """Every care coordinator whose account is enabled (on the caller's connection): the
    only ones a pathway may be given to."""
    return enabled_coordinators(users.list_users(conn))


def enabled_coordinators(people: list[users.User]) -> list[users.User]:
    return [u for u in people if u.role == "coordinator" and u.enabled]


def with_departed(conn: Connection, scope: Any,
                  people: list[users.User] | None = None) -> Any:
    """The worklist scope knowing the coordinators whose accounts are disabled (from
    `people`, every user, when the caller has read them): their pathways show and filter
    as unassigned (docs/access.md, "Someone leaves")."""
    people = users.list_users(conn) if people is None else people
    gone = frozenset(u.email for u in people if u.role == "coordinator" and not u.enabled)
    return dataclasses.replace(scope, gone=gone)


def covering(coordinators: list[users.User], pcns: Any) -> list[users.User]:
    """The coordinators who work for at least one of `pcns` (None: any PCN): the only ones
    a pathway of those PCNs may be assigned to (docs/access.md)."""
    if pcns is None:
        return list(coordinators)
    return [u for u in coordinators if set(u.orgs) & set(pcns)]
