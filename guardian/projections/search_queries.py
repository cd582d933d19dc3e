"""Finding patients in the search read model (`search`) by the terms of `search_terms`,
within a scope given as the practices whose pathways the caller may see (None: every
practice, for admins; the web derives it from guardian/web/access.py).

The scope is a condition of the query itself, before its LIMIT: a pathway outside it is
never read as a match, and a patient who matches only outside the scope is not found —
exactly as one who does not exist. Two indexed steps: the matching patients (at most
`limit` + 1, ordered by name, date of birth and id), then their pathways, of which a
result holds only those in scope, open ones first, each with its practice's PCN from the
organisation reference (None when the reference does not know the practice).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from guardian.domain.visibility import takes_in_whole_patient
from guardian.projections.search import patient_search
from guardian.projections.search_terms import Terms, prefix_end
from guardian.store import organisations

s = patient_search
LIMIT = 50


@dataclass(frozen=True)
class _Key:
    """What `takes_in_whole_patient` reads of a pathway."""

    key: tuple[str, str]
    is_open: bool


@dataclass
class Found:
    """One patient found, with the pathways the caller may see (open ones first)."""

    patient_id: str
    nhs_number: str
    family_name: str | None
    given_name: str | None
    birth_date: dt.date
    pathways: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Results:
    patients: list[Found]
    more: bool  # more than the limit matched: the caller should refine the search


def _prefix(column: Any, key: str) -> Any:
    return and_(column >= key, column < prefix_end(key))


def matches(terms: Terms) -> Any:
    """The condition a pathway's row meets when it matches the terms (None: nothing can)."""
    ways = []
    if terms.nhs_number:
        ways.append(s.c.nhs_number == terms.nhs_number)
    if terms.ubrn:
        ways.append(s.c.ubrn == terms.ubrn)
    if terms.pathway_ids:
        ways.append(s.c.pathway_id.in_(terms.pathway_ids))
    for name in terms.names:
        parts = [_prefix(s.c.family_key, name.family)]
        if name.given:
            parts.append(_prefix(s.c.given_key, name.given))
        if terms.birth_date:
            parts.append(s.c.birth_date == terms.birth_date)
        ways.append(and_(*parts))
    return or_(*ways) if ways else None


def in_scope(practices: Iterable[str] | None) -> Any:
    """The rows of these practices (None: every row); an empty scope matches nothing."""
    if practices is None:
        return None
    return s.c.practice_code.in_(sorted(practices))


def find(conn: Connection, terms: Terms, practices: frozenset[str] | None,
         limit: int = LIMIT) -> Results:
    """The patients with a pathway in scope that matches `terms`, at most `limit`."""
    condition = matches(terms)
    if condition is None or (practices is not None and not practices):
        return Results([], False)
    scope = in_scope(practices)
    q = (select(s.c.patient_id).where(condition, *([scope] if scope is not None else []))
         .group_by(s.c.patient_id)
         .order_by(func.min(s.c.family_key), func.min(s.c.given_key),
                   func.min(s.c.birth_date), s.c.patient_id)
         .limit(limit + 1))
    ids = list(conn.execute(q).scalars())
    more = len(ids) > limit
    ids = ids[:limit]
    if not ids:
        return Results([], False)
    rows: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    with_pcn = (select(s, organisations.c.pcn_code)
                .outerjoin(organisations, organisations.c.practice_code == s.c.practice_code)
                .where(s.c.patient_id.in_(ids)))
    for r in conn.execute(with_pcn):
        rows[r.patient_id].append(dict(r._mapping))
    return Results([_found(rows[i], practices) for i in ids], more)


def _found(rows: list[dict[str, Any]], practices: frozenset[str] | None) -> Found:
    """A patient as the caller sees them (docs/access.md, "By pathway"): the patient's own
    details when the visible pathways take in the whole patient, else those reported with
    the latest visible pathway; only the visible pathways."""
    visible = [r for r in rows if practices is None or r["practice_code"] in practices]
    whole = takes_in_whole_patient(
        [_Key((r["provider"], r["pathway_id"]), r["is_open"]) for r in rows],
        [(r["provider"], r["pathway_id"]) for r in visible])
    if whole:
        first = rows[0]
        family, given, born = (first["own_family_name"], first["own_given_name"],
                               first["own_birth_date"])
    else:
        latest = max(visible, key=lambda r: (r["reported_as_of"] or dt.date.min,
                                             r["received_on"]))
        family, given, born = latest["family_name"], latest["given_name"], latest["birth_date"]
    visible.sort(key=lambda r: (not r["is_open"], r["received_on"], r["provider"],
                                r["pathway_id"]))
    return Found(rows[0]["patient_id"], rows[0]["nhs_number"], family, given, born, visible)
