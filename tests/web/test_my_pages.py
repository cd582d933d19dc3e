"""Patients' own pages (docs/patients.md) on SQLite and PostgreSQL: sign in with a one-time
code sent through the outbox, see only their own referrals, answer a check-in (each answer
the domain accepts), say they are getting worse, write to the Guardian team; wrong,
expired and reused codes, lock-out by NHS number and by address (each audited with the key
that locked), another patient's referral on every route with one in its address (the same
404 page as an unknown one), a referral closed since the page was opened (each form
refused), no session, no CSRF token; every view and action audited. The helpers here
(`refer`, `sign_in`, `still_clock` …) serve the other tests/web/test_my_*.py files."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from sqlalchemy import select, text, update

from guardian import audit
from guardian.domain.report import ReferralReport
from guardian.notifications.schema import notifications
from guardian.patient_access.codes import TRIES_PER_CODE
from guardian.patient_access.schema import patient_codes
from guardian.web.routes.my import CLOSED, ONLINE_ANSWERS

BORN = dt.date(1960, 5, 1)
NHS = "9995260182"
OTHER = "9990000018"
START = dt.datetime(2026, 6, 2, 9, 0, tzinfo=dt.UTC)  # a Tuesday, for the tests' clocks


def refer(guardian, nhs=NHS, pathway_id="P-1", days=84, email="ada@example.invalid",
          practice="Y90001", family="Example"):
    today = guardian.today()
    start = today - dt.timedelta(days=days)
    report = ReferralReport(
        provider="RAJ", pathway_id=pathway_id, nhs_number=nhs, birth_date=BORN,
        practice_code=practice, treatment_function="320", priority=1,
        waiting_list_type="ORTT", received_on=start, clock_start=start, as_of=today,
        given_name="Ada", family_name=family, email=email)
    [outcome] = guardian.apply_reports([report])
    return outcome.patient_id


def form_token(client, path="/my/sign-in"):
    page = client.get(path)
    assert page.status_code == 200
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def details(nhs=NHS, born=BORN):
    return {"nhs_number": f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}", "day": str(born.day),
            "month": str(born.month), "year": str(born.year)}


def last_code(guardian) -> str | None:
    with guardian.engine.connect() as conn:
        row = conn.execute(select(notifications.c.context).where(
            notifications.c.kind == "sign-in-code").order_by(notifications.c.id.desc())
        ).first()
    return json.loads(row.context)["code"] if row else None


def sign_in(client, guardian, nhs=NHS, born=BORN):
    token = form_token(client)
    asked = client.post("/my/sign-in", data={**details(nhs, born), "csrf_token": token},
                        follow_redirects=False)
    assert asked.status_code == 303 and asked.headers["location"] == "/my/code"
    code = last_code(guardian)
    done = client.post("/my/code", data={**details(nhs, born), "code": code,
                                         "csrf_token": token}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/my", done.text[:500]
    page = client.get("/my")
    assert page.status_code == 200
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


class Clock:
    """Guardian's clock (GuardianApp.clock) standing still until moved: the pages read the
    time from it, so a test puts a request just before, at or after a limit."""

    def __init__(self, now: dt.datetime = START):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def move(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


def still_clock(guardian) -> Clock:
    """Guardian's clock replaced by one standing at START."""
    guardian.clock = Clock()
    return guardian.clock


def actions(guardian) -> list[str]:
    with guardian.engine.connect() as conn:
        return [a for (a,) in conn.execute(select(audit.audit_log.c.action)
                                           .where(audit.audit_log.c.role == "patient"))]


def locks_audited(guardian) -> list[tuple[str, str]]:
    """(detail, client) of each `patient-sign-in-locked` entry; no entry holds an NHS
    number anywhere."""
    log = audit.audit_log
    with guardian.engine.connect() as conn:
        rows = conn.execute(select(log).where(log.c.role == "patient")
                            .order_by(log.c.id)).all()
    for row in rows:
        assert not re.search(r"999\s?\d{3}\s?\d{4}", " ".join(map(str, row)))
    return [(r.detail, r.client) for r in rows if r.action == "patient-sign-in-locked"]


@pytest.fixture
def guardian(client):
    return client.app.state.guardian


def test_a_patient_signs_in_with_a_code_and_sees_their_referral(client, guardian):
    refer(guardian)
    sign_in(client, guardian)
    page = client.get("/my").text
    assert "Cardiology at" in page and "Example" in page
    detail = client.get("/my/referrals/RAJ/P-1")
    assert detail.status_code == 200
    assert "How long you may wait" in detail.text and "111" in detail.text
    assert {"patient-code-asked", "patient-signed-in", "patient-view",
            "patient-view-referral"} <= set(actions(guardian))


@pytest.mark.one_backend
def test_an_unknown_number_or_wrong_birth_date_is_answered_the_same_and_sends_nothing(
        client, guardian):
    refer(guardian)
    token = form_token(client)
    for nhs, born in ((OTHER, BORN), (NHS, BORN.replace(day=2))):
        asked = client.post("/my/sign-in", data={**details(nhs, born), "csrf_token": token},
                            follow_redirects=False)
        assert asked.status_code == 303 and asked.headers["location"] == "/my/code"
    assert last_code(guardian) is None


@pytest.mark.one_backend
@pytest.mark.parametrize("bad,field", [
    ({"nhs_number": "123"}, "Enter your 10-digit NHS number"),
    ({"day": "31", "month": "2"}, "Enter your date of birth"),
    ({"year": "2999"}, "Enter your date of birth"),
])
def test_bad_details_are_named_and_kept(client, guardian, bad, field):
    token = form_token(client)
    answer = client.post("/my/sign-in", data={**details(), **bad, "csrf_token": token})
    assert answer.status_code == 400 and field in answer.text


def test_wrong_reused_and_expired_codes_are_refused(client, guardian):
    refer(guardian)
    token = form_token(client)
    client.post("/my/sign-in", data={**details(), "csrf_token": token})
    code = last_code(guardian)
    wrong = "000000" if code != "000000" else "111111"
    answer = client.post("/my/code", data={**details(), "code": wrong, "csrf_token": token})
    assert answer.status_code == 400 and "not right" in answer.text
    client.post("/my/code", data={**details(), "code": code, "csrf_token": token})
    client.cookies.clear()
    token = form_token(client)
    reused = client.post("/my/code", data={**details(), "code": code, "csrf_token": token})
    assert reused.status_code == 400  # a code works once
    client.post("/my/sign-in", data={**details(), "csrf_token": token})
    with guardian.engine.begin() as conn:
        conn.execute(update(patient_codes).values(
            expires_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)))
    expired = client.post("/my/code", data={**details(), "code": last_code(guardian),
                                            "csrf_token": token})
    assert expired.status_code == 400
    assert "patient-sign-in-failed" in actions(guardian)


def test_guessing_locks_the_nhs_number_out(client, guardian):
    refer(guardian)
    token = form_token(client)
    client.post("/my/sign-in", data={**details(), "csrf_token": token})
    code = last_code(guardian)
    wrong = "000000" if code != "000000" else "111111"
    statuses = [client.post("/my/code", data={**details(), "code": wrong,
                                              "csrf_token": token}).status_code
                for _ in range(10)]
    assert statuses[-1] == 429 and statuses[0] == 400
    # locked: even the right code (a new one) does not get in
    client.post("/my/sign-in", data={**details(), "csrf_token": token})
    locked = client.post("/my/code", data={**details(), "code": code, "csrf_token": token})
    assert locked.status_code == 429 and "too many times" in locked.text
    assert "with this NHS number" in locked.text
    # audited with the key that locked: its kind, never the number
    assert locks_audited(guardian) == [("nhs-number", "testclient")] * 2
    with guardian.engine.connect() as conn:
        tries = conn.execute(select(patient_codes.c.attempts)).scalars().all()
    assert max(tries) <= TRIES_PER_CODE


# Every route with a referral in its address: (method, what follows the referral, form).
REFERRAL_ROUTES = [
    ("GET", "", {}),
    ("POST", "/check-in", {"answer": "worse"}),
    ("POST", "/worse", {"what": "More breathless at night"}),
    ("POST", "/message", {"body": "When is my appointment?"}),
]


def without_reference(answer) -> str:
    """The page less what differs from one request to the next: the request reference
    and the CSRF token."""
    page = answer.text.replace(answer.headers["x-request-id"], "REFERENCE")
    return re.sub(r'(name="csrf_token" value=|name="csrf-token" content=)"[^"]*"', r'\1""',
                  page)


@pytest.mark.parametrize("method,suffix,form", REFERRAL_ROUTES,
                         ids=[f"{m} {s or '/'}" for m, s, _ in REFERRAL_ROUTES])
def test_another_patients_referral_is_the_same_404_as_an_unknown_one(client, guardian,
                                                                     method, suffix, form):
    from guardian.waits import check_ins

    refer(guardian)
    theirs = refer(guardian, nhs=OTHER, pathway_id="THEIRS")
    check_ins(guardian, guardian.today())  # so a check-in answer would be taken, if let in
    before = guardian.get_patient(theirs).version
    token = sign_in(client, guardian)

    def ask(provider: str, pathway_id: str):
        path = f"/my/referrals/{provider}/{pathway_id}{suffix}"
        if method == "GET":
            return client.get(path)
        return client.post(path, data={**form, "csrf_token": token})

    answers = [ask("RAJ", "THEIRS"), ask("RAJ", "NOPE"), ask("RXX", "P-1")]
    assert [a.status_code for a in answers] == [404, 404, 404]
    assert answers[0].headers["x-request-id"] != answers[1].headers["x-request-id"]
    pages = [without_reference(a) for a in answers]
    assert pages[0] == pages[1] == pages[2] and "Page not found" in pages[0]
    assert "THEIRS" not in pages[0] and "REFERENCE" in pages[0]
    assert guardian.get_patient(theirs).version == before  # nothing recorded for them
    assert "THEIRS" not in client.get("/my").text


@pytest.mark.one_backend
@pytest.mark.parametrize("path", ["/my", "/my/referrals/RAJ/P-1"])
def test_without_a_session_a_page_goes_to_sign_in(client, guardian, path):
    answer = client.get(path, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/my/sign-in"


@pytest.mark.one_backend
def test_a_form_without_the_sessions_token_is_refused(client, guardian):
    refer(guardian)
    sign_in(client, guardian)
    answer = client.post("/my/referrals/RAJ/P-1/worse", data={"what": "worse"})
    assert answer.status_code == 403


@pytest.mark.one_backend
@pytest.mark.parametrize("answer", list(ONLINE_ANSWERS))
def test_each_check_in_answer_is_the_event_a_phone_answer_makes(client, guardian, answer):
    from guardian.waits import check_ins

    pid = refer(guardian)
    check_ins(guardian, guardian.today())
    token = sign_in(client, guardian)
    page = client.get("/my/referrals/RAJ/P-1").text
    assert "How are you?" in page
    done = client.post("/my/referrals/RAJ/P-1/check-in",
                       data={"answer": answer, "csrf_token": token}, follow_redirects=False)
    assert done.status_code == 303
    pathway = guardian.get_patient(pid).pathway("RAJ", "P-1")
    assert pathway.last_check_in_outcome[0] == answer
    flags = guardian.get_patient(pid).flags
    assert bool(flags) is (answer == "worse")


def test_getting_worse_flags_the_patient_on_the_coordinators_worklist(client, guardian):
    from guardian.projections import worklist as wl

    pid = refer(guardian)
    token = sign_in(client, guardian)
    empty = client.post("/my/referrals/RAJ/P-1/worse", data={"what": "", "csrf_token": token})
    assert empty.status_code == 400 and "Tell us how you are worse" in empty.text
    done = client.post("/my/referrals/RAJ/P-1/worse",
                       data={"what": "More breathless at night", "csrf_token": token},
                       follow_redirects=False)
    assert done.status_code == 303
    [flag] = guardian.get_patient(pid).flags.values()
    assert flag.source == "patient" and flag.summary == "More breathless at night"
    client.app.state.runner.run_once()
    with guardian.engine.connect() as conn:
        row = conn.execute(select(wl.worklist).where(
            wl.worklist.c.patient_id == pid.hex)).first()
    assert row.deterioration_since == guardian.today()


@pytest.mark.one_backend
def test_a_message_lands_in_the_pathways_thread(client, guardian):
    pid = refer(guardian)
    token = sign_in(client, guardian)
    client.post("/my/referrals/RAJ/P-1/message",
                data={"body": "When is my appointment?", "csrf_token": token})
    [message] = guardian.get_patient(pid).pathway("RAJ", "P-1").messages.values()
    assert (message.party, message.direction) == ("patient", "in")
    assert message.body == "When is my appointment?"

@pytest.mark.one_backend
def test_a_closed_referral_says_so_and_offers_nothing_stale(client, guardian):
    pid = refer(guardian)
    guardian.close_pathway(pid, "RAJ", "P-1", "withdrawn")
    sign_in(client, guardian)
    page = client.get("/my").text
    assert "no open referrals" in page and "This referral is closed" in page
    detail = client.get("/my/referrals/RAJ/P-1").text
    assert "How long you may wait" not in detail and "I am getting worse" not in detail
    assert "<textarea" not in detail and 'name="answer"' not in detail


@pytest.mark.parametrize("suffix,form", [r[1:] for r in REFERRAL_ROUTES if r[0] == "POST"],
                         ids=[r[1] for r in REFERRAL_ROUTES if r[0] == "POST"])
def test_a_referral_closed_since_the_last_visit_takes_nothing(client, guardian, suffix, form):
    """The page was open, with its forms; the referral closed; what is sent is refused,
    saying the referral is closed, and nothing is recorded."""
    from guardian.waits import check_ins

    pid = refer(guardian)
    check_ins(guardian, guardian.today())
    token = sign_in(client, guardian)
    assert f'action="/my/referrals/RAJ/P-1{suffix}"' in client.get("/my/referrals/RAJ/P-1").text
    guardian.close_pathway(pid, "RAJ", "P-1", "withdrawn")
    before = guardian.get_patient(pid).version
    refused = client.post(f"/my/referrals/RAJ/P-1{suffix}", data={**form, "csrf_token": token},
                          follow_redirects=False)
    assert refused.status_code == 400
    assert "There is a problem" in refused.text and CLOSED in refused.text
    assert "/check-in\"" not in refused.text and "/worse\"" not in refused.text
    assert "/message\"" not in refused.text  # no form offered again
    patient = guardian.get_patient(pid)
    assert patient.version == before and not patient.flags
    assert not patient.pathway("RAJ", "P-1").messages
    assert not {"patient-check-in", "patient-worse", "patient-message"} & set(actions(guardian))


@pytest.mark.one_backend
def test_a_result_shows_only_once_released(client, guardian):
    pid = refer(guardian)
    guardian.order_diagnostic(pid, "RAJ", "P-1", "t1", "echocardiography")
    guardian.record_diagnostic_result(pid, "RAJ", "P-1", "t1", "Normal heart function")
    sign_in(client, guardian)
    page = client.get("/my/referrals/RAJ/P-1").text
    assert "not yet released" in page and "Normal heart function" not in page
    guardian.release_result(pid, "RAJ", "P-1", "t1", by="dr@guardian.test")
    page = client.get("/my/referrals/RAJ/P-1").text
    assert "Normal heart function" in page


@pytest.mark.one_backend
def test_signing_out_ends_the_session(client, guardian):
    refer(guardian)
    token = sign_in(client, guardian)
    client.post("/my/sign-out", data={"csrf_token": token})
    assert client.get("/my", follow_redirects=False).status_code == 303


@pytest.mark.one_backend
def test_a_patient_who_asked_not_to_be_contacted_gets_no_code(client, guardian):
    pid = refer(guardian)
    guardian.record_contact_preference(pid, "none", by="sam@guardian.test")
    token = form_token(client)
    client.post("/my/sign-in", data={**details(), "csrf_token": token})
    assert last_code(guardian) is None
    with guardian.engine.connect() as conn:
        detail = conn.execute(text("SELECT detail FROM audit_log WHERE action = "
                                   "'patient-code-asked'")).scalar()
    assert detail == "not-contacted"


@pytest.mark.one_backend
def test_guessing_from_one_address_locks_that_address_out(client, guardian):
    """50 failures from one client address, whatever NHS numbers it types, lock it."""
    from guardian.domain.identifiers import nhs_check_digit

    numbers = [f"999{n:06d}{d}" for n in range(100, 400)
               if (d := nhs_check_digit(f"999{n:06d}")) is not None][:50]
    token = form_token(client)
    statuses = [client.post("/my/code", data={**details(nhs), "code": "123456",
                                              "csrf_token": token}).status_code
                for nhs in numbers]
    assert statuses[0] == 400 and statuses[-1] == 429
    refer(guardian)  # a real patient from the same address is held back too
    answer = client.post("/my/code", data={**details(), "code": "654321",
                                           "csrf_token": token})
    assert answer.status_code == 429 and "too many times" in answer.text
    assert "from this internet connection" in answer.text
    # audited with the key that locked: the address (the entry's own client), by kind
    assert locks_audited(guardian) == [("address", "testclient")] * 2


@pytest.mark.one_backend
def test_once_sent_the_code_is_no_longer_kept_in_the_outbox(client, guardian):
    import contextlib

    from guardian.notifications.dispatcher import Dispatcher

    sent = []

    class Capture:
        @contextlib.contextmanager
        def session(self):
            yield self

        def send(self, row, message):
            sent.append(message)

    refer(guardian)
    token = form_token(client)
    client.post("/my/sign-in", data={**details(), "csrf_token": token})
    code = last_code(guardian)
    Dispatcher(guardian, channels={n: Capture() for n in ("email", "inbox", "webhook",
                                                          "letter")}).run_once()
    [message] = [m for m in sent if "Your code" in m.subject]
    assert code in message.text
    with guardian.engine.connect() as conn:
        context = json.loads(conn.execute(select(notifications.c.context).where(
            notifications.c.kind == "sign-in-code")).scalar())
    assert "code" not in context and context["channel"] == "email"
