"""The database fixtures themselves: isolated, working, cleaned up.

The tests run in file order: the first creates a table, the next must not see it, the
last checks that the PostgreSQL schemas used above were dropped.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

PROBE = "harness_probe"
# In one pytest-xdist worker, in file order (``make test`` runs ``--dist loadgroup``).
pytestmark = pytest.mark.xdist_group("harness")

# Schemas handed out by pg_url in this module, checked by the last test.
_seen_schemas: list[str] = []
# Connections deliberately left open past their test's teardown.
_leftovers: list[sa.Connection] = []


def _remember_schema(url: str) -> None:
    if url.startswith("postgresql"):
        options = make_url(url).query["options"]
        _seen_schemas.append(options.removeprefix("-csearch_path="))


def test_database_url_gives_a_working_database(database_url: str) -> None:
    _remember_schema(database_url)
    engine = sa.create_engine(database_url)
    try:
        metadata = sa.MetaData()
        probe = sa.Table(
            PROBE,
            metadata,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("name", sa.String(50), nullable=False),
        )
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(probe.insert(), [{"id": 1, "name": "first"}, {"id": 2, "name": "second"}])
        with engine.connect() as conn:
            rows = conn.execute(sa.select(probe.c.id, probe.c.name).order_by(probe.c.id)).all()
        assert [tuple(r) for r in rows] == [(1, "first"), (2, "second")]
    finally:
        engine.dispose()


def test_each_test_gets_an_empty_database(database_url: str) -> None:
    _remember_schema(database_url)
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            assert sa.inspect(conn).get_table_names() == []
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_pg_url_puts_unqualified_tables_in_its_own_schema(pg_url: str) -> None:
    schema = make_url(pg_url).query["options"].removeprefix("-csearch_path=")
    _seen_schemas.append(schema)
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        assert conn.execute(sa.text("SELECT current_schema()")).scalar_one() == schema
        conn.execute(sa.text(f"CREATE TABLE {PROBE} (id int)"))
        located = (
            conn.execute(
                sa.text("SELECT table_schema FROM information_schema.tables WHERE table_name = :t"),
                {"t": PROBE},
            )
            .scalars()
            .all()
        )
        assert located == [schema]
    # Left open on purpose, idle in a transaction that holds a lock on the table, as a
    # careless test might: the fixture's teardown must still drop the schema.
    leftover = engine.connect()
    leftover.execute(sa.text(f"SELECT * FROM {PROBE}"))
    _leftovers.append(leftover)


@pytest.mark.postgres
def test_pg_database_is_per_session(pg_database_url: str) -> None:
    name = make_url(pg_database_url).database
    assert name is not None
    assert name.startswith("guardian_test_")


@pytest.mark.postgres
def test_pg_schemas_are_dropped_after_each_test(pg_database_url: str) -> None:
    if not _seen_schemas:
        pytest.skip("needs the earlier tests of this module, which record their schemas")
    engine = sa.create_engine(pg_database_url)
    try:
        with engine.connect() as conn:
            existing = set(
                conn.execute(sa.text("SELECT nspname FROM pg_namespace")).scalars().all()
            )
    finally:
        engine.dispose()
    assert not existing & set(_seen_schemas)
