"""Reads of the worklist read model (`guardian/projections/worklist.py`) that the pages make
beyond a page of rows, its counts and facets: the model's position (what cached counts are
filed under), the rows of given patients (bulk assign checks every pathway chosen) and a
practice's rows (the GP view). Each takes a connection; none writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Row, select

from guardian.projections import worklist as wl
from guardian.projections.tracking import tracking

_POSITION = select(tracking.c.position).where(tracking.c.name == wl.NAME)  # built once


def position(conn: Connection) -> int | None:
    """The last event the worklist has taken in (None before its first)."""
    return conn.execute(_POSITION).scalar()


def pathways_of(conn: Connection, patient_ids: Iterable[str]) -> dict[tuple[str, str], Row]:
    """(provider, pathway id) → (provider, pathway_id, patient_id, pcn_code) of every open
    pathway of these patients (hex ids)."""
    w = wl.worklist
    q = select(w.c.provider, w.c.pathway_id, w.c.patient_id, w.c.pcn_code).where(
        w.c.patient_id.in_(sorted(set(patient_ids) or {""})))
    return {(r.provider, r.pathway_id): r for r in conn.execute(q)}


def practice_rows(conn: Connection, practice: str | None) -> list[dict[str, Any]]:
    """Every worklist row of the practice, by next deadline."""
    w = wl.worklist
    q = (select(*wl.ROW_COLUMNS).where(w.c.practice_code == practice)
         .order_by(w.c.deadline_sort, w.c.provider, w.c.pathway_id))
    return [dict(r._mapping) for r in conn.execute(q)]
