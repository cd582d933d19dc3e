"""Batches and pacing: how many rows go in one lookup and one write transaction
(`BATCH_SIZE`), and how an import keeps pace with a live follower of the read models. The
pacing is the caller's (docs/deployment.md "pacing"): whoever builds the import passes a
`Pacing`, so the importer knows nothing of the read models.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

BATCH_SIZE = 1000  # rows per lookup and per write transaction


class Pacer(Protocol):
    """What one process of an import asks before each write transaction."""

    def live(self) -> bool:
        """A follower is present and worth waiting for: write smaller transactions."""
        ...

    def wait(self) -> None:
        """Return once the follower has caught up (at once when none is present)."""
        ...


@dataclass(frozen=True)
class Pacing:
    """How an import paces itself: `pacer(app)` makes one process's pacer, and
    `live_batch_size` rows go in a transaction while that pacer is live. Both must pickle
    (module-level names): worker processes make their own pacer for their own app."""

    pacer: Callable[[Any], Pacer]
    live_batch_size: int

