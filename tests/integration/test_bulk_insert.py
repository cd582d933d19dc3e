"""The driver-level bulk insert (COPY on PostgreSQL) keeps every value exactly."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    select,
)

from guardian.store import bulk_insert

AWKWARD = ["tab\there", "line\nbreak", "carriage\rreturn", "back\\slash", "\\N", "Zoë Ó'Brien",
           "", "ends with backslash\\", "comma, \"quotes\""]


def test_every_value_round_trips(database_url):
    engine = create_engine(database_url)
    meta = MetaData()
    table = Table("bulk_probe", meta, Column("id", Integer, primary_key=True),
                  Column("name", Text), Column("code", String(8)), Column("day", Date),
                  Column("at", DateTime(timezone=True)), Column("flag", Boolean))
    meta.create_all(engine)
    at = dt.datetime(2026, 3, 31, 9, 30, tzinfo=dt.UTC)
    rows = [{"id": i, "name": text, "code": None if i % 2 else "R1H",
             "day": dt.date(2026, 1, 1) + dt.timedelta(days=i), "at": at if i % 3 else None,
             "flag": bool(i % 2)}
            for i, text in enumerate([*AWKWARD, None])]
    with engine.begin() as conn:
        bulk_insert(conn, table, rows)
    with engine.connect() as conn:
        back = [dict(r._mapping) for r in conn.execute(select(table).order_by(table.c.id))]
    for row in back:
        if row["at"] is not None and row["at"].tzinfo is None:  # SQLite keeps no zone
            row["at"] = row["at"].replace(tzinfo=dt.UTC)
    assert back == rows
    engine.dispose()
