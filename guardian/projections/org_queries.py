"""Reads of the organisation reference (practice → PCN → place, `guardian orgs load`) that
scopes are made of: which practices a set of PCNs holds, which PCN and place a practice is
in, whether a PCN is known, and the PCNs and place of a GP's practice or a place lead's
place (docs/access.md "Scopes"). Each takes a connection; none writes.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, select

from guardian.store import organisations

o = organisations


def practices_in(conn: Connection, pcns: Iterable[str] | None) -> frozenset[str]:
    """The practices of these PCNs; every practice when `pcns` is None (an admin)."""
    q = select(o.c.practice_code)
    if pcns is not None:
        q = q.where(o.c.pcn_code.in_(sorted(pcns)))
    return frozenset(conn.execute(q).scalars())


def orgs_of(conn: Connection, practices: Iterable[str]) -> dict[str, tuple[str, str]]:
    """practice code → (PCN code, place), for the practices the reference knows."""
    q = select(o.c.practice_code, o.c.pcn_code, o.c.place).where(
        o.c.practice_code.in_(sorted(set(practices))))
    return {code: (pcn, place) for code, pcn, place in conn.execute(q)}


def pcn_known(conn: Connection, pcn: str) -> bool:
    """Whether any practice of the reference is in PCN `pcn`."""
    q = select(o.c.pcn_code).where(o.c.pcn_code == pcn).limit(1)
    return conn.execute(q).first() is not None


def pcns_and_places(conn: Connection, *, practice: str | None = None,
                    place: str | None = None) -> list[tuple[str, str]]:
    """(PCN code, place) of every practice that is `practice`, or is in `place`."""
    column = o.c.practice_code if practice is not None else o.c.place
    wanted = practice if practice is not None else place
    return [(pcn, at) for pcn, at in
            conn.execute(select(o.c.pcn_code, o.c.place).where(column == wanted))]
