"""Sign-in throttling instead of lock-out (docs/access.md "Signing in and sessions").

Given the users of conftest, when wrong passwords are sent for an address or from a client,
then further attempts wait a delay that doubles up to a cap, during which no password is
checked; known and unknown addresses are answered alike; and the rightful owner is at most
delayed, never locked out.
"""

from __future__ import annotations

import datetime as dt
import re
import threading

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from web_helpers import PASSWORD, sign_in

from guardian import audit, throttle, users

GP = "gp@guardian.test"
NOBODY = "nobody@guardian.test"


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    found = Clock()
    monkeypatch.setattr(users.records, "utcnow", found)
    return found


class CountingHasher(PasswordHasher):
    """Counts the argon2 verifications: a throttled attempt must make none."""

    calls = 0

    def verify(self, hash, password):  # noqa: A002 - argon2's own parameter name
        CountingHasher.calls += 1
        return super().verify(hash, password)


@pytest.fixture
def hasher(monkeypatch) -> type[CountingHasher]:
    CountingHasher.calls = 0
    monkeypatch.setattr(users.passwords, "_hasher", CountingHasher(time_cost=1, memory_cost=1024,
                                                                   parallelism=1))
    monkeypatch.setattr(users.passwords, "_dummy_hash", None)
    return CountingHasher


def from_address(client: TestClient, address: str) -> TestClient:
    return TestClient(client.app, client=(address, 40000))


def answer(r, email: str) -> tuple[int, str | None, str]:
    """What a sign-in answer says: its status, Retry-After and the page without the address
    typed (echoed in the form) and the form's own random CSRF token."""
    text = re.sub(r'(name="csrf_token" value|name="csrf-token" content)="[^"]*"', "",
                  r.text.replace(email, "EMAIL"))
    return r.status_code, r.headers.get("retry-after"), text


@pytest.mark.parametrize("email", [GP, NOBODY])
def test_after_three_wrong_passwords_the_next_attempt_waits_unchecked(client, engine, clock,
                                                                      hasher, email):
    assert [sign_in(client, email, "wrong password").status_code for _ in range(3)] \
        == [401, 401, 401]
    checked = hasher.calls
    r = sign_in(client, email, PASSWORD)  # even the right password is not looked at
    assert r.status_code == 429 and r.headers["retry-after"] == "5"
    assert "Try again in 5 seconds" in r.text and "There is a problem" in r.text
    assert hasher.calls == checked  # no argon2 time spent on a throttled attempt
    assert client.get("/", follow_redirects=False).status_code == 200
    assert "guardian_session" not in r.headers.get("set-cookie", "")
    actions = [e.action for e in audit.entries(engine, email=email)
               if e.action.startswith("sign-in")]
    assert actions == ["sign-in-throttled"] + ["sign-in-failed"] * 3
    throttled = audit.entries(engine, action="sign-in-throttled")[0]
    assert throttled.client == "testclient" and "5 s" in throttled.detail


def test_known_and_unknown_addresses_are_answered_alike(client, clock, hasher):
    def story(email: str) -> list[tuple[int, str | None, str]]:
        seen = [answer(sign_in(client, email, "wrong password"), email) for _ in range(3)]
        seen.append(answer(sign_in(client, email, "wrong password"), email))  # throttled
        clock.advance(5)
        seen.append(answer(sign_in(client, email, "wrong password"), email))
        seen.append(answer(sign_in(client, email, "wrong password"), email))  # 10 s now
        return seen

    before = hasher.calls
    known = story(GP)
    known_checks = hasher.calls - before
    unknown = story(NOBODY)
    assert known == unknown
    assert [s for s, _, _ in known] == [401, 401, 401, 429, 401, 429]
    assert [w for _, w, _ in known] == [None, None, None, "5", None, "10"]
    # The same work either way: an unknown address verifies a dummy hash.
    assert hasher.calls - before - known_checks == known_checks == 4


def test_the_delay_doubles_with_each_failure_up_to_five_minutes(client, clock):
    statuses, waits = [], []
    while len(waits) < 9:  # each time as soon as allowed
        r = sign_in(client, GP, "wrong password")
        statuses.append(r.status_code)
        if r.status_code == 429:
            waits.append(int(r.headers["retry-after"]))
            clock.advance(waits[-1])
    assert statuses[:6] == [401, 401, 401, 429, 401, 429]
    assert waits == [5, 10, 20, 40, 80, 160, 300, 300, 300]


def test_the_owner_is_at_most_delayed_never_locked_out(client, clock):
    """Someone guessing from ever new addresses, as fast as allowed, for hours: the owner
    waits no longer than the current delay, and trying meanwhile does not make it longer."""
    for n in range(40):
        attacker = from_address(client, f"203.0.113.{n}")
        r = sign_in(attacker, GP, f"guess {n}")
        if r.status_code == 429:
            assert int(r.headers["retry-after"]) <= 300
            clock.advance(int(r.headers["retry-after"]))
            r = sign_in(attacker, GP, f"guess {n}")
        assert r.status_code == 401
    owner = client
    waits = []
    for _ in range(5):  # the owner tries during the delay: told to wait, not kept out longer
        r = sign_in(owner, GP)
        assert r.status_code == 429
        waits.append(int(r.headers["retry-after"]))
        clock.advance(30)
    assert waits[0] <= 300 and waits == [waits[0] - 30 * i for i in range(5)]
    clock.advance(waits[-1])
    assert sign_in(owner, GP).status_code == 303
    # and a success starts the account's count again
    assert sign_in(from_address(client, "203.0.113.200"), GP, "wrong").status_code == 401


def test_a_client_is_throttled_across_e_mail_addresses(client, clock):
    for n in range(throttle.CLIENT.free):
        assert sign_in(client, f"nobody{n}@guardian.test", "wrong password").status_code \
            == 401
    r = sign_in(client, GP)  # another address, the right password: the client must wait
    assert r.status_code == 429 and r.headers["retry-after"] == "5"
    assert sign_in(from_address(client, "198.51.100.7"), GP).status_code == 303
    clock.advance(5)
    assert sign_in(client, GP).status_code == 303


def test_a_success_starts_the_account_count_again(client, clock):
    for _ in range(2):
        assert sign_in(client, GP, "wrong password").status_code == 401
    assert sign_in(client, GP).status_code == 303
    statuses = [sign_in(client, GP, "wrong password").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]


def test_parallel_guesses_are_counted_before_they_are_checked(engine):
    """Attempts that arrive together cannot all slip in before the first is counted."""
    now = dt.datetime.now(dt.UTC)
    results: list[int] = []
    start = threading.Barrier(12)

    def attempt(n: int) -> None:
        start.wait()
        results.append(throttle.claim(engine, GP, f"192.0.2.{n}", now))

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [0, 0, 0] + [5] * 9  # three free attempts, then the delay
