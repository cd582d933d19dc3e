"""Reads the place reports make beside the bottleneck read model: the event store's head
(what a built report table is filed under, guardian/web/caches.py; what /healthz reports)
and the PCN names (the report tables label their groups with them, the worklist its PCN
choice). Each takes a connection; none writes.
"""

from __future__ import annotations

from sqlalchemy import Connection, select, text

from guardian.store import EVENTS_TABLE, organisations


def event_head(conn: Connection) -> int:
    """The id of the newest stored event (0 for an empty store)."""
    return int(conn.execute(text(f"SELECT max(id) FROM {EVENTS_TABLE}")).scalar() or 0)


def pcn_names(conn: Connection) -> dict[str, str]:
    """PCN code → PCN name, from the organisation reference."""
    q = select(organisations.c.pcn_code, organisations.c.pcn_name).distinct()
    return {code: name for code, name in conn.execute(q)}
