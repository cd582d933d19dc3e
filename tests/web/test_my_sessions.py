"""Patients' sessions run out (docs/patients.md "Sessions"), on SQLite and PostgreSQL: after
`IDLE` (30 minutes) without a request and `LONGEST` (4 hours) after signing in, each tried
just before, at and just after its limit on Guardian's own clock; an ended session is gone
from the database, and the next page asks the patient to sign in again."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from test_my_pages import START, refer, sign_in, still_clock

from guardian.patient_access.schema import patient_sessions
from guardian.patient_access.sessions import IDLE, LONGEST

SECOND = dt.timedelta(seconds=1)


def signed_in(client) -> bool:
    """Whether /my shows the patient's referrals (else it sends them to sign in)."""
    answer = client.get("/my", follow_redirects=False)
    if answer.status_code == 303:
        assert answer.headers["location"] == "/my/sign-in"
        return False
    assert answer.status_code == 200 and "Cardiology at" in answer.text
    return True


def sessions_held(guardian) -> int:
    with guardian.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(patient_sessions)).scalar()


def test_the_limits_are_the_documented_ones():
    assert [dt.timedelta(minutes=30), dt.timedelta(hours=4)] == [IDLE, LONGEST]


def test_a_session_ends_after_30_minutes_without_a_request(client):
    guardian = client.app.state.guardian
    clock = still_clock(guardian)
    refer(guardian)
    sign_in(client, guardian)  # signs in, and shows /my, at START
    clock.now = START + IDLE - SECOND
    assert signed_in(client)  # just before: alive, and the idle time starts again
    last = clock.now
    clock.now = last + IDLE
    assert signed_in(client)  # at the limit exactly: alive
    last = clock.now
    clock.now = last + IDLE + SECOND
    assert not signed_in(client)  # just after: ended
    assert sessions_held(guardian) == 0
    clock.now = last + SECOND  # an ended session stays ended, whatever the time
    assert not signed_in(client)


def test_the_last_request_is_kept_to_the_minute(client):
    """A request within a minute of the last one kept does not move it (one write a
    minute at most), so the idle limit counts from that one: the session may end up to a
    minute before 30 minutes have passed since the very last request."""
    guardian = client.app.state.guardian
    clock = still_clock(guardian)
    refer(guardian)
    sign_in(client, guardian)
    with guardian.engine.connect() as conn:
        [kept] = conn.execute(select(patient_sessions.c.last_seen_at)).scalars()
    clock.now = START + dt.timedelta(seconds=59)
    assert signed_in(client)
    with guardian.engine.connect() as conn:
        assert conn.execute(select(patient_sessions.c.last_seen_at)).scalar() == kept
    clock.now = START + IDLE + SECOND  # 29 minutes 2 seconds after the last request
    assert not signed_in(client)


def test_a_session_ends_4_hours_after_signing_in_however_busy(client):
    guardian = client.app.state.guardian
    clock = still_clock(guardian)
    refer(guardian)
    sign_in(client, guardian)
    for _ in range(9):  # a request every 25 minutes: never idle, 3 hours 45 in all
        clock.move(minutes=25)
        assert signed_in(client)
    clock.now = START + LONGEST - SECOND
    assert signed_in(client)  # just before
    clock.now = START + LONGEST
    assert signed_in(client)  # at the limit exactly
    clock.now = START + LONGEST + SECOND
    assert not signed_in(client)  # one second after the last request, but 4 hours are up
    assert sessions_held(guardian) == 0


def test_signing_in_again_after_the_end_starts_a_new_session(client):
    guardian = client.app.state.guardian
    clock = still_clock(guardian)
    refer(guardian)
    sign_in(client, guardian)
    clock.now = START + LONGEST + SECOND
    assert not signed_in(client)
    sign_in(client, guardian)
    clock.move(minutes=29)
    assert signed_in(client)
