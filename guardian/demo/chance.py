"""Deterministic chance for the demo: `Weighted` (a fixed weighted choice costing one random
number), `days` and `between` (a date uniformly in a range). Every pick takes the caller's
own `random.Random`, seeded with text (seeding from `str` hashes with SHA-512, so it is the
same in every process and does not depend on `PYTHONHASHSEED`): each patient's facts come
from its own stream, and the wall clock is read only through `app.today()` when no `as_of`
is given.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import random
from collections.abc import Iterable
from typing import Generic, TypeVar

T = TypeVar("T")


class Weighted(Generic[T]):
    """A fixed weighted choice; `pick` costs one random number and a bisect."""

    def __init__(self, pairs: Iterable[tuple[T, float]]) -> None:
        pairs = [(v, w) for v, w in pairs if w > 0]
        self.values = [v for v, _ in pairs]
        self.cumulative = list(itertools.accumulate(w for _, w in pairs))
        self.total = self.cumulative[-1]

    def pick(self, rng: random.Random) -> T:
        i = bisect.bisect_right(self.cumulative, rng.random() * self.total)
        return self.values[min(i, len(self.values) - 1)]


def days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


def between(rng: random.Random, lo: dt.date, hi: dt.date) -> dt.date:
    """A date uniformly in [lo, hi] (lo when hi is before lo)."""
    span = (hi - lo).days
    return lo if span <= 0 else lo + days(rng.randint(0, span))
