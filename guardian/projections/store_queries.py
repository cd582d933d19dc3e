"""Whole-store counts for the start page (admins only): patients, pathways, open pathways,
stored events, and the practices, PCNs and places of the organisation reference. Counts
only, no patient-level data. Takes a connection; writes nothing.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from guardian.store import EVENTS_TABLE, organisations, pathway_index


def store_counts(conn: Connection) -> dict[str, int]:
    def scalar(sql: str) -> int:
        return int(conn.execute(text(sql)).scalar_one() or 0)

    return {
        "patients": scalar(f"SELECT count(DISTINCT patient_id) FROM {pathway_index.name}"),
        "pathways": scalar(f"SELECT count(*) FROM {pathway_index.name}"),
        "open_pathways": scalar(
            f"SELECT count(*) FROM {pathway_index.name} WHERE state IN ('O', 'L')"
        ),
        "events": scalar(f"SELECT count(*) FROM {EVENTS_TABLE}"),
        "practices": scalar(f"SELECT count(*) FROM {organisations.name}"),
        "pcns": scalar(f"SELECT count(DISTINCT pcn_code) FROM {organisations.name}"),
        "places": scalar(f"SELECT count(DISTINCT place) FROM {organisations.name}"),
    }

