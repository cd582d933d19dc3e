"""Messages to patients end to end (docs/notifications.md "Patients", "Letters"), against a
real local SMTP server and the real print queue: a patient who changes how they want to be
written to after a message was queued gets it the new way, once, however often the
dispatcher runs; a thread message to a patient who prefers letters is a letter to print;
and the check-in says how long people wait, or that Guardian cannot say yet."""

from __future__ import annotations

import datetime as dt

import pytest
from notify_helpers import SAM, nhs, refer, rows
from sqlalchemy import select, update

from guardian.domain.report import ReferralReport
from guardian.notifications.dispatcher import Dispatcher
from guardian.notifications.outbox import Outbox
from guardian.notifications.schema import letters, notifications
from guardian.waits import check_ins

pytestmark = pytest.mark.usefixtures("cheap_hashes")  # conftest.py

ADA = "ada@example.invalid"


def printed(app) -> list:
    with app.engine.connect() as conn:
        return list(conn.execute(select(letters).order_by(letters.c.notification_id)))


def to_patient(app, pid) -> list:
    return [r for r in rows(app, recipient="patient") if r.patient_id == pid.hex]


def test_a_patient_who_now_prefers_letters_gets_the_check_in_by_letter_once(app, mail):
    pid = refer(app, 300, email=ADA)
    check_ins(app, app.today())
    Outbox(app).run_once()
    [queued] = to_patient(app, pid)
    assert (queued.kind, queued.channel, queued.status) == ("patient-check-in", "email", "queued")
    app.record_contact_preference(pid, "letter", by=SAM)

    Dispatcher(app).run_once()
    moved, letter = to_patient(app, pid)
    assert moved.id == queued.id and moved.status == "withheld"
    assert moved.last_error == "moved: the patient now prefers to be written to by letter"
    assert (letter.kind, letter.channel, letter.status) == ("patient-check-in", "letter", "sent")
    assert letter.key == queued.key.removesuffix("|email") + "|letter"
    [page] = printed(app)
    assert page.notification_id == letter.id and page.pcn_code == "U90001"
    assert "Dear Ada Test" in page.html and "If you get worse" in page.html
    assert not mail.to(ADA)

    # the move made again (a dispatcher that settled the row twice): nothing new
    with app.engine.begin() as conn:
        conn.execute(update(notifications).where(notifications.c.id == moved.id).values(
            status="queued", due_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)))
    Dispatcher(app).run_once()
    Dispatcher(app).run_once()
    assert [(r.id, r.status) for r in to_patient(app, pid)] == [
        (moved.id, "withheld"), (letter.id, "sent")]
    assert len(printed(app)) == 1 and not mail.to(ADA)


def test_a_patient_who_now_prefers_email_gets_the_check_in_by_email_once(app, mail):
    pid = refer(app, 301, email=ADA)
    app.record_contact_preference(pid, "letter", by=SAM)
    check_ins(app, app.today())
    Outbox(app).run_once()
    [queued] = to_patient(app, pid)
    assert (queued.channel, queued.status) == ("letter", "queued")
    app.record_contact_preference(pid, "email", by=SAM)

    Dispatcher(app).run_once()
    Dispatcher(app).run_once()
    [message] = mail.to(ADA)
    text = message.get_body(("plain",)).get_content()
    assert "Dear Ada Test" in text and "Answer online: https://guardian.example/my" in text
    assert not printed(app)
    moved, sent = to_patient(app, pid)
    assert (moved.status, sent.channel, sent.status) == ("withheld", "email", "sent")
    assert moved.last_error == "moved: the patient now prefers to be written to by email"


@pytest.mark.one_backend
def test_back_and_forth_between_dispatches_still_sends_once(app, mail):
    pid = refer(app, 302, email=ADA)
    check_ins(app, app.today())
    Outbox(app).run_once()
    app.record_contact_preference(pid, "letter", by=SAM)
    Dispatcher(app).run_once(limit=1)  # one batch: moves the e-mail, the letter is queued
    email_row, letter_row = to_patient(app, pid)
    assert (email_row.status, letter_row.status) == ("withheld", "queued")
    app.record_contact_preference(pid, "email", by=SAM)  # and back, before it is printed
    Dispatcher(app).run_once()
    Dispatcher(app).run_once()
    assert [(r.id, r.channel, r.status) for r in to_patient(app, pid)] == [
        (email_row.id, "email", "sent"), (letter_row.id, "letter", "withheld")]
    assert len(mail.to(ADA)) == 1 and not printed(app)


@pytest.mark.one_backend
def test_a_thread_message_to_a_patient_who_prefers_letters_is_printed(app, mail):
    pid = refer(app, 310, email=ADA)
    app.record_contact_preference(pid, "letter", by=SAM)
    app.send_message(pid, "RAJ", "N-1", "m1", "patient", "Your echo is on 3 June.", SAM)
    Dispatcher(app).run_once()
    [row] = rows(app, kind="thread-message")
    assert (row.recipient, row.channel, row.status) == ("patient", "letter", "sent")
    [page] = printed(app)
    assert page.notification_id == row.id and page.patient_id == pid.hex
    assert "Dear Ada Test" in page.html and "Your echo is on 3 June." in page.html
    assert "call your GP practice and ask for the Guardian team" in page.html
    assert "reply to this email" not in page.html and "111" in page.html
    assert not mail.messages


def completed(n: int, tf: str, waits: list[int], as_of: dt.date) -> list[ReferralReport]:
    """Referrals at RAJ whose clocks stopped a week ago after `waits` days each."""
    end = as_of - dt.timedelta(days=7)
    return [ReferralReport(
        provider="RAJ", pathway_id=f"D-{tf}-{i}", nhs_number=nhs(n + 10 * i),
        birth_date=dt.date(1950, 1, 1), practice_code="Y90002", treatment_function=tf,
        priority=1, waiting_list_type="ORTT", received_on=end - dt.timedelta(days=days),
        clock_start=end - dt.timedelta(days=days), clock_end=end, as_of=as_of,
        given_name="Bo", family_name="Done") for i, days in enumerate(waits)]


@pytest.mark.one_backend
def test_the_check_in_says_how_long_people_wait_or_that_it_cannot_say(app, mail):
    today = app.today()
    # cardiology: 8 waits of 4 to 11 weeks (the fewest for an estimate); orthopaedics: 7
    app.apply_reports(completed(1000, "320", [28, 35, 42, 49, 56, 63, 70, 77], today)
                      + completed(1005, "110", [28, 35, 42, 49, 56, 63, 70], today))
    refer(app, 320, email="known@example.invalid", tf="320")
    refer(app, 321, email="unknown@example.invalid", tf="110", pathway="N-2")
    check_ins(app, today)
    Dispatcher(app).run_once()

    [known] = mail.to("known@example.invalid")
    text = known.get_body(("plain",)).get_content()
    html = known.get_body(("html",)).get_content()
    # median of 49 and 56 days (7.5 weeks, said as 8); 92nd centile 73.1 days (10 weeks)
    for said in ("Half of people wait 8 weeks or less.", "Most people wait 10 weeks or less.",
                 "This is from 8 people who waited for the same care at this hospital in "
                 "the last 26 weeks."):
        assert said in text and said in html
    assert "We cannot say yet" not in text and "You have waited 12 weeks so far." in text

    [unknown] = mail.to("unknown@example.invalid")
    text = unknown.get_body(("plain",)).get_content()
    assert ("We cannot say yet. Not enough people have finished waiting for this care at "
            "this hospital lately.") in text
    assert "Half of people wait" not in text and "people who waited" not in text
    assert "Trauma and Orthopaedics" in unknown["Subject"]
