"""The web app's caches, each owned by one app (kept on its state, reached through
`guardian/web/deps.py`), never by a module: `TimedCache` for reference values the worklist
shows on every request (drop-down choices, PCN names, coordinators, counts at one read-model
position: `worklist_counts`, which the page and the JSON API share), `TableCache` for built
report tables and the other report results (the API's report, the RTT export), per
event-store head and parameters.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from sqlalchemy import Connection

from guardian.projections import worklist as wl
from guardian.projections import worklist_queries

FACET_TTL = 60.0  # seconds the worklist's drop-down values are reused


class TimedCache:
    """Values reused for `ttl` seconds: they change rarely, and a new value shows within a
    minute. Keys carry whatever makes a value stale sooner (a read model's position, the
    day); entries for old positions are never asked for again, so past `size` entries the
    cache starts afresh."""

    def __init__(self, ttl: float = FACET_TTL, size: int = 10_000) -> None:
        self.ttl, self.size = ttl, size
        self._values: dict[Hashable, tuple[float, Any]] = {}

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        hit = self._values.get(key)
        if hit and time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        if len(self._values) > self.size:
            self._values.clear()
        found = compute()
        self._values[key] = (time.monotonic(), found)
        return found


def worklist_counts(cache: TimedCache, conn: Connection, scope: wl.Scope, pcn: str | None,
                    on: Any, attrs: dict[str, Any], filters: Sequence[str] = ()
                    ) -> dict[str, int]:
    """`wl.counts` (a scan of every row in scope, the worklist's costliest query), reused
    until the worklist changes (its tracking position moves with every projected event,
    and is read before the counts, so a count is never older than its key) or the day
    does. The worklist page and the JSON API's worklist share the entries: an attribute
    left out is the same as one given as None."""
    key = ("counts", scope.pcns, scope.user, scope.gone, pcn,
           tuple(sorted((k, str(v)) for k, v in attrs.items() if v not in (None, ""))),
           tuple(filters), on, worklist_queries.position(conn))
    return cache.get(key, lambda: wl.counts(conn, scope, pcn, on, attrs, filters))


class TableCache:
    """Built tables of one app (and the other report results: the API's report, the RTT
    export), per table and parameters. A table is reused while the event store's head is
    unchanged (a report is a function of the events and its parameters), for at most
    `seconds` (so that a changed organisation reference shows within minutes); and, whatever
    the head, for `fresh` seconds after it was built: a report asked for again at once (the
    retry after "being prepared", a colleague opening the same link) is not computed again
    for the few events that came in meanwhile. Tables are not changed once built. Bounded:
    the least recently used go first."""

    def __init__(self, size: int = 256, seconds: float = 300.0, fresh: float = 30.0) -> None:
        self.size, self.seconds, self.fresh = size, seconds, fresh
        self._tables: OrderedDict[tuple, tuple[float, int | None, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, slug: str, p: Hashable, head: int | None) -> Any:
        with self._lock:
            found = self._tables.get((slug, p))
            if found is None:
                return None
            built, at, t = found
            age = time.monotonic() - built
            if age > self.seconds or (at != head and age > self.fresh):
                return None
            self._tables.move_to_end((slug, p))
            return t

    def put(self, slug: str, p: Hashable, head: int | None, t: Any) -> None:
        with self._lock:
            self._tables[(slug, p)] = (time.monotonic(), head, t)
            self._tables.move_to_end((slug, p))
            while len(self._tables) > self.size:
                self._tables.popitem(last=False)
