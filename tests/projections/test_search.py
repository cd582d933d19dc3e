"""The patient search read model and its query, on SQLite and PostgreSQL: a row per
pathway (open or closed) after catch-up and after a rebuild alike, the scope applied before
the limit, "more" past the limit, and the query served by the indexes on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter

import pytest
from sqlalchemy import func, select, text

from guardian.bootstrap import build_app, init_database
from guardian.config import Settings
from guardian.demo import load_demo
from guardian.projections.registry import runner_for
from guardian.projections.search import patient_search
from guardian.projections.search_queries import find, matches
from guardian.projections.search_terms import name_key, parse

AS_OF = dt.date(2026, 3, 31)
s = patient_search


@pytest.fixture
def app(database_url, tmp_path):
    guardian = build_app(Settings(database_url=database_url, var_dir=tmp_path))
    init_database(guardian)
    load_demo(guardian, patients=300, seed=5, as_of=AS_OF)
    runner_for(guardian).run_once()
    yield guardian
    guardian.close()


def all_rows(app) -> list[tuple]:
    with app.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(s).order_by(s.c.provider,
                                                                  s.c.pathway_id))]


def test_a_row_per_pathway_open_or_closed_the_same_after_a_rebuild(app):
    with app.engine.connect() as conn:
        ids = [uuid.UUID(h) for h in conn.execute(select(s.c.patient_id).distinct()).scalars()]
    patients = app.load_patients(ids)
    pathways = [p for patient in patients.values() for p in patient.pathways.values()]
    before = all_rows(app)
    assert len(before) == len(pathways) and any(not p.is_open for p in pathways)
    with app.engine.connect() as conn:
        closed = conn.execute(select(func.count()).where(s.c.is_open.is_(False))).scalar()
    assert closed == sum(1 for p in pathways if not p.is_open) > 0
    runner_for(app).rebuild()
    assert all_rows(app) == before


def test_every_name_key_is_folded(app):
    with app.engine.connect() as conn:
        for family, key in conn.execute(select(s.c.family_name, s.c.family_key)):
            assert key == name_key(family or "")


def common_family(app) -> tuple[str, list[str]]:
    """The family name shared by most patients, and their practices (most common first)."""
    with app.engine.connect() as conn:
        rows = list(conn.execute(select(s.c.family_key, s.c.practice_code, s.c.patient_id)))
    family = Counter(f for f, _, _ in rows).most_common(1)[0][0]
    practices = Counter(p for f, p, _ in rows if f == family)
    return family, [p for p, _ in practices.most_common()]


def test_the_scope_is_applied_before_the_limit(app):
    family, practices = common_family(app)
    last = practices[-1]  # a practice with few of them: its patients may sort late
    with app.engine.connect() as conn:
        everyone = find(conn, parse(family), None, limit=500).patients
        theirs = find(conn, parse(family), frozenset({last}), limit=1)
    expected = [p.patient_id for p in everyone
                if any(w["practice_code"] == last for w in p.pathways)]
    assert [p.patient_id for p in theirs.patients] == expected[:1]
    assert theirs.more is (len(expected) > 1)
    assert all(w["practice_code"] == last for p in theirs.patients for w in p.pathways)


def test_more_than_the_limit_says_so(app):
    family, _ = common_family(app)
    with app.engine.connect() as conn:
        every = find(conn, parse(family[:2]), None, limit=500)
        two = find(conn, parse(family[:2]), None, limit=2)
        nobody = find(conn, parse(family), frozenset(), limit=2)
    assert len(every.patients) > 2 and not every.more
    assert [p.patient_id for p in two.patients] == [p.patient_id for p in every.patients[:2]]
    assert two.more and nobody.patients == [] and not nobody.more


@pytest.mark.postgres
def test_postgresql_serves_each_way_of_searching_from_an_index(pg_url, tmp_path):
    guardian = build_app(Settings(database_url=pg_url, var_dir=tmp_path))
    init_database(guardian)
    try:
        with guardian.engine.begin() as conn:
            conn.execute(text("SET LOCAL enable_seqscan = off"))
            for q in ("9434765919", "123456789012", "Okafor 14/03/1958", "Okafor Grace",
                      "DEMO-1"):
                condition = matches(parse(q))
                plan = "\n".join(conn.execute(text("EXPLAIN " + str(
                    select(s.c.patient_id).where(condition).compile(
                        conn, compile_kwargs={"literal_binds": True})))).scalars())
                assert "Seq Scan" not in plan, (q, plan)
    finally:
        guardian.close()
