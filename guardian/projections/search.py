"""The patient search read model: one row per pathway, open or closed, with what a search
looks up (docs/api.md, "finding a patient"; the query is `search_queries`).

Each row carries the keys a search compares — the NHS number, the UBRN, the provider's
pathway id, and the family and given names as reported with that pathway, folded by
`search_terms.name_key` — and the pathway's practice, which decides who may see it
(docs/access.md, "By pathway"). It also keeps what a result shows: the details as reported
with the pathway, the patient's own details (shown only to a user whose scope takes in the
whole patient), the stage and whether the pathway is open. Rows are rebuilt per patient
from the aggregate, like the worklist's.

Every way of searching has its index: the NHS number, the UBRN, the pathway id, the family
name key with the given name key (prefix ranges; on PostgreSQL the keys use the "C"
collation, so a range is a range of code points and its index serves it) — also after the
practice, for a coordinator's scope — and the patient.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Column, Date, Index, MetaData, String, Table, Text

from guardian.domain import standards
from guardian.domain.patient import Patient
from guardian.domain.visibility import reported_details
from guardian.projections.readmodel import ReadModel, Rows
from guardian.projections.search_terms import name_key
from guardian.projections.tables import pathway_key
from guardian.store import metadata

NAME = "patient_search"
# What changes no name, number, practice, treatment function, stage or open state: the
# runner skips these for this read model (tests/projections/test_readmodel.py checks it).
UNAFFECTED_BY = frozenset(f"guardian.Patient.{name}" for name in (
    "SupportOffered", "ContactLogged", "CoordinatorAssigned", "DeteriorationFlagged",
    "DeteriorationReviewed", "MessageReceived", "MessageSent",
    "WaitBreached", "BreachWithdrawn", "StepAtRisk", "CheckInDue",
    "PriorityChanged", "ProcedurePriorityReviewed", "DiagnosisCommunicated",
))


def _key_column(name: str) -> Column:
    """A name key: compared by code point on both backends (prefix ranges)."""
    return Column(name, String(100).with_variant(String(100, collation="C"), "postgresql"),
                  nullable=False)


def _define(name: str, md: MetaData) -> Table:
    return Table(
        name, md, *pathway_key(),
        Column("patient_id", String(32), nullable=False),
        Column("nhs_number", String(10), nullable=False),
        Column("ubrn", String(12)),
        Column("practice_code", String(8), nullable=False),
        Column("treatment_function", String(3), nullable=False),
        Column("stage", String(32), nullable=False),
        Column("is_open", Boolean, nullable=False),
        Column("received_on", Date, nullable=False),
        Column("reported_as_of", Date),
        # as reported with this pathway (what a search compares)
        _key_column("family_key"),
        _key_column("given_key"),
        Column("family_name", Text),
        Column("given_name", Text),
        Column("birth_date", Date, nullable=False),
        # the patient's own details (shown only with every open pathway in scope)
        Column("own_family_name", Text),
        Column("own_given_name", Text),
        Column("own_birth_date", Date, nullable=False),
        Index(f"{name}_nhs_number", "nhs_number"),
        Index(f"{name}_ubrn", "ubrn"),
        Index(f"{name}_pathway_id", "pathway_id"),
        Index(f"{name}_name", "family_key", "given_key", "birth_date", "patient_id"),
        # a coordinator's name search reads only their practices' rows of that name
        Index(f"{name}_practice_name", "practice_code", "family_key", "given_key",
              "patient_id"),
        Index(f"{name}_patient", "patient_id"),
    )


patient_search = _define(NAME, metadata)


def rows_for(patient: Patient) -> list[dict[str, Any]]:
    """One row per pathway of the patient, open or closed."""
    rows = []
    for p in patient.pathways.values():
        details = reported_details(patient, (p.key,))
        rows.append({
            "provider": p.provider, "pathway_id": p.pathway_id,
            "patient_id": patient.id.hex, "nhs_number": patient.nhs_number, "ubrn": p.ubrn,
            "practice_code": p.practice_code, "treatment_function": p.treatment_function,
            "stage": standards.stage(p), "is_open": p.is_open,
            "received_on": p.received_on, "reported_as_of": p.reported_as_of,
            "family_key": name_key(details["family_name"] or "")[:100],
            "given_key": name_key(details["given_name"] or "")[:100],
            "family_name": details["family_name"], "given_name": details["given_name"],
            "birth_date": details["birth_date"],
            "own_family_name": patient.family_name, "own_given_name": patient.given_name,
            "own_birth_date": patient.birth_date,
        })
    return rows


class SearchProjection(ReadModel):
    """A row per pathway, open or closed, rebuilt per patient."""

    name = NAME
    definers = ((patient_search, _define),)
    unaffected_by = UNAFFECTED_BY

    def rows(self, app: Any, patients: list[Patient], orgs: dict[str, Any]) -> Rows:
        return [[row for p in patients for row in rows_for(p)]]
