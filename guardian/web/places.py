"""Places: which exist, which a principal may see, and which one a request asks for — the
one place resolution of the report pages, their CSVs, the bottleneck API and access
(docs/access.md: aggregate reports are for the place lead of that place and for admins).

- `known_places(engine)`: the places of the organisation reference, in name order (what an
  admin chooses from); `reported_places(engine)` adds those the bottleneck read model holds.
- `may_see_place(principal, place)`: the place lead of that place, and admins.
- `resolve_place(engine, principal, wanted)`: the place as Guardian spells it, None when
  nothing was asked for and nothing is implied (an admin who has not chosen yet); a place
  lead's own place when they name none. PlaceNotFound (answered 404, as if it did not exist)
  for a place that does not exist or that the principal may not see. The pages take a place
  as their own links spell it; the API forgives its case (`any_case`, docs/api.md) and knows
  the places of the read model too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Engine

from guardian import orgs
from guardian.projections import bottlenecks as bn

if TYPE_CHECKING:
    from guardian.web.access import Principal


class PlaceNotFound(Exception):
    """No such place, or not one this principal may see: 404 (existence not revealed)."""


def known_places(engine: Engine) -> list[str]:
    """The organisation reference's places, in name order."""
    return orgs.places(engine)


def reported_places(engine: Engine) -> set[str]:
    """The reference's places and those the bottleneck read model holds reports for."""
    known = set(known_places(engine))
    with engine.connect() as conn:
        return known | set(bn.places(conn))


def may_see_place(principal: Principal, place: str) -> bool:
    """Aggregate place reports: the place lead of that place and admins."""
    return principal.is_admin or (principal.role == "place-lead" and principal.place == place)


def own_place(principal: Principal) -> str | None:
    """The place a principal reports on when they name none: a place lead's own."""
    return principal.place if principal.role == "place-lead" else None


def resolve_place(engine: Engine, principal: Principal, wanted: str | None, *,
                  any_case: bool = False) -> str | None:
    """The place this request reports on (see the module's docstring)."""
    asked = (wanted or "").strip() or own_place(principal) or ""
    if not asked:
        return None
    if principal.role == "place-lead":  # their own place is the one they may see
        known = {principal.place} if principal.place else set()
    else:
        known = reported_places(engine) if any_case else set(known_places(engine))
    if any_case:
        canonical = {k.casefold(): k for k in known}.get(asked.casefold())
    else:
        canonical = asked if asked in known else None
    if canonical is None or not may_see_place(principal, canonical):
        raise PlaceNotFound(asked)
    return canonical
