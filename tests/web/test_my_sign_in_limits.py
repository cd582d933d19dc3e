"""The limits of signing in with a code (docs/patients.md "Signing in"), on SQLite and
PostgreSQL, each tried just before and at its limit on Guardian's own clock: at most 3 codes
an hour to one patient; a lock-out by NHS number runs out after a day and one by address
after an hour, each audited with the kind of key locked (never the number or the address);
a letter's code works for 7 days; and the cookie that keeps the typed details for the code
page holds nothing readable and lasts as long as an emailed code."""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import re

from sqlalchemy import func, select
from test_my_pages import (
    BORN,
    NHS,
    START,
    details,
    form_token,
    last_code,
    refer,
    still_clock,
)

from guardian import audit
from guardian.domain.identifiers import nhs_check_digit
from guardian.notifications.schema import notifications
from guardian.patient_access.codes import CLIENT, CODES_PER_HOUR, LETTER_DAYS, NHS_NUMBER
from guardian.patient_access.schema import patient_codes
from guardian.web.routes.my import DETAILS_COOKIE

SECOND = dt.timedelta(seconds=1)


def ask(client, token, nhs=NHS, born=BORN):
    """Ask for a code: the same answer whatever happens behind it."""
    answer = client.post("/my/sign-in", data={**details(nhs, born), "csrf_token": token},
                         follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/my/code"
    return answer


def try_code(client, token, code, nhs=NHS, born=BORN):
    return client.post("/my/code", data={**details(nhs, born), "code": code,
                                         "csrf_token": token}, follow_redirects=False)


def codes_made(guardian) -> int:
    with guardian.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(patient_codes)).scalar()


def audited(guardian, action: str) -> list[audit.Entry]:
    log = audit.audit_log
    with guardian.engine.connect() as conn:
        return [audit.Entry(**r._mapping) for r in conn.execute(
            select(log).where(log.c.action == action).order_by(log.c.id))]


def wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def test_the_limits_are_the_documented_ones():
    assert CODES_PER_HOUR == 3 and LETTER_DAYS == 7
    assert (NHS_NUMBER.failures, NHS_NUMBER.locked_for) == (10, dt.timedelta(days=1))
    assert (CLIENT.failures, CLIENT.locked_for) == (50, dt.timedelta(hours=1))


def test_at_most_3_codes_an_hour_go_to_one_patient(client):
    guardian = client.app.state.guardian
    clock = still_clock(guardian)
    refer(guardian)
    token = form_token(client)
    for minute in range(CODES_PER_HOUR):
        clock.now = START + dt.timedelta(minutes=minute)
        ask(client, token)
    assert codes_made(guardian) == CODES_PER_HOUR
    clock.now = START + dt.timedelta(hours=1) - SECOND  # the first is not an hour old yet
    ask(client, token)
    assert codes_made(guardian) == CODES_PER_HOUR
    clock.now = START + dt.timedelta(hours=1)  # now it is: one more may go
    ask(client, token)
    assert codes_made(guardian) == CODES_PER_HOUR + 1
    ask(client, token)  # and no more, in that hour
    assert codes_made(guardian) == CODES_PER_HOUR + 1
    with guardian.engine.connect() as conn:
        sent = conn.execute(select(func.count()).select_from(notifications).where(
            notifications.c.kind == "sign-in-code")).scalar()
    assert sent == CODES_PER_HOUR + 1
    assert [e.detail for e in audited(guardian, "patient-code-asked")] == [
        "sent", "sent", "sent", "too-many", "sent", "too-many"]
    # the newest code still signs in
    assert try_code(client, token, last_code(guardian)).headers["location"] == "/my"


def test_a_locked_nhs_number_is_free_again_after_a_day(client):
    guardian = client.app.state.guardian
    clock = still_clock(guardian)
    refer(guardian)
    token = form_token(client)
    ask(client, token)
    code = last_code(guardian)
    statuses = [try_code(client, token, wrong(code)).status_code
                for _ in range(NHS_NUMBER.failures)]
    assert statuses == [400] * (NHS_NUMBER.failures - 1) + [429]
    clock.now = START + NHS_NUMBER.locked_for - SECOND
    ask(client, token)
    assert last_code(guardian) == code  # locked: no new code
    held = try_code(client, token, code)
    assert held.status_code == 429 and "with this NHS number" in held.text
    clock.now = START + NHS_NUMBER.locked_for  # the lock is over at its end
    ask(client, token)
    assert last_code(guardian) != code
    assert try_code(client, token, last_code(guardian)).headers["location"] == "/my"
    assert [e.detail for e in audited(guardian, "patient-code-asked")] == [
        "sent", "locked", "sent"]
    assert [e.detail for e in audited(guardian, "patient-sign-in-locked")] == [
        "nhs-number", "nhs-number"]


def test_a_locked_address_is_free_again_after_an_hour(client):
    guardian = client.app.state.guardian
    clock = still_clock(guardian)
    numbers = [f"999{n:06d}{d}" for n in range(100, 400)
               if (d := nhs_check_digit(f"999{n:06d}")) is not None][:CLIENT.failures]
    token = form_token(client)
    statuses = [try_code(client, token, "123456", nhs=nhs).status_code for nhs in numbers]
    assert statuses == [400] * (CLIENT.failures - 1) + [429]
    refer(guardian)
    clock.now = START + CLIENT.locked_for - SECOND
    ask(client, token)
    assert last_code(guardian) is None  # the address is locked: no code for anyone
    held = try_code(client, token, "123456")
    assert held.status_code == 429 and "from this internet connection" in held.text
    clock.now = START + CLIENT.locked_for
    ask(client, token)
    assert try_code(client, token, last_code(guardian)).headers["location"] == "/my"
    locked = audited(guardian, "patient-sign-in-locked")
    assert [e.detail for e in locked] == ["address", "address"]
    assert {e.client for e in locked} == {"testclient"}  # the address is the entry's own


def test_a_letters_code_works_for_7_days(client):
    guardian = client.app.state.guardian
    clock = still_clock(guardian)
    refer(guardian, email=None)  # no email address: a letter
    token = form_token(client)
    ask(client, token)
    with guardian.engine.connect() as conn:
        row = conn.execute(select(patient_codes)).one()
        channel = conn.execute(select(notifications.c.channel).where(
            notifications.c.kind == "sign-in-code")).scalar()
    assert (row.channel, channel) == ("letter", "letter")
    clock.now = START + dt.timedelta(days=LETTER_DAYS) - SECOND
    assert try_code(client, token, last_code(guardian)).headers["location"] == "/my"
    client.cookies.clear()

    later = clock.move(days=1)
    token = form_token(client)
    ask(client, token)
    clock.now = later + dt.timedelta(days=LETTER_DAYS)  # run out, at the very moment
    answer = try_code(client, token, last_code(guardian))
    assert answer.status_code == 400 and "run out" in answer.text


def _revealed(value: str) -> str:
    """The cookie's value and whatever base64 inside it decodes to."""
    found = [value]
    for part in re.split(r"[.|]", value):
        for decode in (base64.urlsafe_b64decode, base64.b64decode):
            with contextlib.suppress(binascii.Error, ValueError):
                found.append(decode(part + "=" * (-len(part) % 4)).decode("latin-1"))
    return " ".join(found)


def test_the_details_cookie_holds_nothing_readable_and_lasts_as_an_emailed_code(client):
    guardian = client.app.state.guardian
    clock = still_clock(guardian)
    refer(guardian)
    token = form_token(client)
    answers = [ask(client, token), ask(client, token, nhs="9990000018")]  # known, unknown
    for answer in answers:
        [set_cookie] = [h for h in answer.headers.get_list("set-cookie")
                        if h.startswith(DETAILS_COOKIE + "=")]
        assert "Max-Age=900;" in set_cookie and "HttpOnly" in set_cookie
    value = client.cookies.get(DETAILS_COOKIE)
    shown = _revealed(value)
    for secret in (NHS, "999 526 0182", BORN.isoformat(), "1960", "05-01"):
        assert secret not in shown

    def prefilled() -> bool:
        return 'value="9990000018"' in client.get("/my/code").text

    assert prefilled()  # the code page still fills in what was typed
    clock.now = START + dt.timedelta(minutes=15)
    assert prefilled()
    clock.now = START + dt.timedelta(minutes=15) + SECOND
    assert not prefilled()  # gone, even from a browser that kept the cookie


def test_an_altered_or_old_style_details_cookie_fills_in_nothing(client):
    guardian = client.app.state.guardian
    still_clock(guardian)
    token = form_token(client)
    ask(client, token)
    value = client.cookies.get(DETAILS_COOKIE)
    form = client.cookies.get("guardian_patient_form")
    for sent, fills_in in ((value, True),  # as it was set: the way the browser sends it
                           (value[:-4] + ("AAAA" if not value.endswith("AAAA") else "BBBB"),
                            False),
                           ("9995260182|1960-05-01.c2lnbmF0dXJl", False), ("%%%", False)):
        client.cookies.clear()
        client.cookies.set("guardian_patient_form", form)
        client.cookies.set(DETAILS_COOKIE, sent)
        page = client.get("/my/code")
        assert page.status_code == 200 and ('value="9995260182"' in page.text) is fills_in
