"""Sign-in throttling: growing delays by account and by client, never a lock-out
(docs/access.md "Signing in and sessions").

Two counts of failed sign-ins are kept: one per e-mail address typed (whether or not it has
an account, so the answers never reveal who has one) and one per client address. After a
few failures each further attempt must wait a delay that doubles with every failure, up to
a cap; while a delay runs the attempt is answered "try again in N seconds" without the
password being checked (no argon2 time is spent, and a right password does not get in
either). A delay is all anyone can impose on an account: its owner waits at most the cap.

An attempt is counted *before* its password is checked (`claim`), and a success takes the
count back (`forgive`): so a burst of parallel guesses cannot all slip in between a check
and its count. The claim is one short transaction that locks the two rows (PostgreSQL
`FOR UPDATE`; SQLite takes its write lock with the first INSERT), so concurrent attempts,
in any worker process, are counted one after another.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    Index,
    Integer,
    String,
    Table,
    delete,
    select,
    update,
)

from guardian.store import dialect_insert, metadata


@dataclass(frozen=True)
class Rule:
    """`free` failures cost nothing; after that the next attempt waits `base`, doubling with
    each further failure up to `cap`. A count is forgotten after `forget` without a failure."""

    free: int
    base: dt.timedelta
    cap: dt.timedelta
    forget: dt.timedelta

    def delay(self, failures: int) -> dt.timedelta:
        if failures < self.free:
            return dt.timedelta(0)
        return min(self.cap, self.base * 2 ** min(failures - self.free, 30))


# After the 3rd wrong password in a row for an address: 5 s, then 10, 20, 40 … at most 5 min.
ACCOUNT = Rule(free=3, base=dt.timedelta(seconds=5), cap=dt.timedelta(minutes=5),
               forget=dt.timedelta(hours=1))
# A client address may serve a whole site behind one NAT: 20 failures (any addresses typed)
# in a row before its delays start.
CLIENT = Rule(free=20, base=dt.timedelta(seconds=5), cap=dt.timedelta(minutes=5),
              forget=dt.timedelta(minutes=15))

sign_in_failures = Table(
    "sign_in_failures",
    metadata,
    Column("key", String(300), primary_key=True),  # "account:<e-mail>" or "client:<address>"
    Column("failures", Integer, nullable=False),
    Column("last_at", DateTime(timezone=True), nullable=False),
    Index("sign_in_failures_last", "last_at"),
)


def account_key(email: str) -> str:
    return f"account:{email[:254]}"


def _keys(email: str, client: str | None) -> dict[str, Rule]:
    found = {account_key(email): ACCOUNT}
    if client:
        found[f"client:{client[:64]}"] = CLIENT
    return found


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def claim(engine: Engine, email: str, client: str | None, now: dt.datetime) -> int:
    """0 when this attempt may check its password (it is counted as a failure now; call
    `forgive` if it succeeds); otherwise the whole seconds it must wait (nothing counted)."""
    rules = _keys(email, client)
    keys = sorted(rules)  # always locked in the same order: no deadlock between attempts
    with engine.begin() as conn:
        conn.execute(
            dialect_insert(conn, sign_in_failures)
            .values([{"key": k, "failures": 0, "last_at": now} for k in keys])
            .on_conflict_do_nothing(index_elements=["key"])
        )
        rows = conn.execute(
            select(sign_in_failures).where(sign_in_failures.c.key.in_(keys))
            .order_by(sign_in_failures.c.key).with_for_update()
        ).all()
        counts, wait = {}, 0.0
        for row in rows:
            rule, last = rules[row.key], _aware(row.last_at)
            counts[row.key] = row.failures if now - last < rule.forget else 0
            wait = max(wait, (last + rule.delay(counts[row.key]) - now).total_seconds())
        if wait > 0:
            return math.ceil(wait)
        for key in keys:
            conn.execute(
                update(sign_in_failures).where(sign_in_failures.c.key == key)
                .values(failures=counts.get(key, 0) + 1, last_at=now)
            )
        # Counts nobody has added to for longer than any rule remembers are gone.
        conn.execute(delete(sign_in_failures).where(
            sign_in_failures.c.last_at < now - max(ACCOUNT.forget, CLIENT.forget)))
    return 0


def forgive(conn: Connection, email: str, client: str | None) -> None:
    """A successful sign-in: the account's count starts again, and the client's loses the
    attempt `claim` counted (its other failures stay: a good password for one account
    does not buy more guesses at others)."""
    conn.execute(delete(sign_in_failures).where(sign_in_failures.c.key == account_key(email)))
    for key in _keys(email, client):
        if key.startswith("client:"):
            conn.execute(
                update(sign_in_failures)
                .where(sign_in_failures.c.key == key, sign_in_failures.c.failures > 0)
                .values(failures=sign_in_failures.c.failures - 1)
            )


def clear_account(conn: Connection, email: str) -> None:
    """An administrator set a new password: the account's count starts again."""
    conn.execute(delete(sign_in_failures).where(sign_in_failures.c.key == account_key(email)))
