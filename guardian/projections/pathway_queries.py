"""Reads of the pathway index (provider + pathway id → patient, kept by the application with
every referral written): which patients hold a pathway id, for the referral API's lookup by
the provider's own id (docs/api.md, `GET /api/v1/referrals/{pathway_id}`). Takes a
connection; writes nothing.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import Connection, select

from guardian.store import pathway_index


def holders(conn: Connection, pathway_id: str,
            provider: str | None = None) -> list[tuple[str, UUID]]:
    """(provider, patient id) of every pathway with this id (of `provider` only, when
    given), in provider order."""
    t = pathway_index
    q = select(t.c.provider, t.c.patient_id).where(t.c.pathway_id == pathway_id)
    if provider is not None:
        q = q.where(t.c.provider == provider)
    return [(p, UUID(pid)) for p, pid in conn.execute(q.order_by(t.c.provider))]
