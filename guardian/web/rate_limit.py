"""Requests per minute to the JSON API, per credential (docs/api.md "Rate limit"): each
bearer token, and each signed-in user's session calls, may make GUARDIAN_API_RATE_PER_MINUTE
requests a minute (600 by default; 0: no limit). One more is **429** with `Retry-After`
(whole seconds) and `{"detail": "…", "limit_per_minute": N, "retry_after": S}`.

The count is a token bucket of that size, refilled evenly over the minute, so a burst of up
to the whole minute's allowance is let through and then one request every 60/N seconds.
Only requests with valid credentials count (the limiter is a dependency of the API's routes
that runs after `current_principal`): a 401 never uses up anybody's allowance.

Each `guardian serve` worker process counts on its own: with W workers a credential may make
up to W x N requests a minute. Sharing the count through the database would cost a write
per API request on the hot path for a limit whose purpose (stopping a runaway script) a per
process count already serves; set N with the number of workers in mind.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from typing import Annotated

from fastapi import Depends, Request
from fastapi.exceptions import HTTPException

from guardian.web.access import Principal, current_principal

WINDOW = 60.0
FORGET_AFTER = 10 * WINDOW  # a bucket untouched this long is full again: dropped


class TooManyRequests(HTTPException):
    def __init__(self, limit: int, retry_after: int) -> None:
        super().__init__(status_code=429, detail=f"more than {limit} requests a minute with "
                         f"these credentials: try again in {retry_after} seconds",
                         headers={"Retry-After": str(retry_after)})
        self.limit = limit
        self.retry_after = retry_after


class Buckets:
    """Token buckets by key, for one process (thread-safe)."""

    def __init__(self, per_minute: int, clock=time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self.lock = threading.Lock()
        self.held: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self.swept = clock()

    def take(self, key: str) -> float:
        """Use one request of `key`'s allowance: 0 when allowed, else the seconds to wait."""
        if self.per_minute <= 0:
            return 0.0
        rate = self.per_minute / WINDOW
        with self.lock:
            now = self.clock()
            if now - self.swept > FORGET_AFTER:
                self.held = {k: v for k, v in self.held.items()
                             if now - v[1] < FORGET_AFTER}
                self.swept = now
            tokens, at = self.held.get(key, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - at) * rate)
            if tokens >= 1.0:
                self.held[key] = (tokens - 1.0, now)
                return 0.0
            self.held[key] = (tokens, now)
            return (1.0 - tokens) / rate


def key_of(request: Request, principal: Principal) -> str:
    """The credential a request counts against: its bearer token (as a digest), or the
    signed-in user for a session."""
    if principal.via == "token":
        token = request.headers.get("authorization", "").partition(" ")[2].strip()
        return "token:" + hashlib.sha256(token.encode()).hexdigest()[:32]
    return f"user:{principal.user_id}"


def buckets_of(request: Request) -> Buckets:
    state = request.app.state
    found = getattr(state, "rate_buckets", None)
    if found is None:
        found = state.rate_buckets = Buckets(state.guardian.settings.api_rate_per_minute)
    return found


async def rate_limit(request: Request,
                     principal: Annotated[Principal, Depends(current_principal)]) -> None:
    """The API router's dependency: one request of the caller's allowance, or 429."""
    buckets = buckets_of(request)
    wait = buckets.take(key_of(request, principal))
    if wait > 0:
        raise TooManyRequests(buckets.per_minute, max(1, math.ceil(wait)))
