"""Notifications end to end on SQLite and PostgreSQL against real local servers: the outbox
made once per recipient and channel whatever is replayed, each kind through each channel
(SMTP e-mail, inbox, signed webhook, letter), the checks made again at send time, an SMTP
outage, and a webhook receiver that fails or times out (docs/notifications.md)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from notify_helpers import (
    SAM,
    WebhookReceiver,
    flag,
    make_due,
    nhs,
    refer,
    rows,
)
from sqlalchemy import select, update

from guardian import users
from guardian.notifications import dispatcher as dispatching
from guardian.notifications.channels.webhook import verify
from guardian.notifications.contacts import add_hook, set_org_contact
from guardian.notifications.dispatcher import Dispatcher
from guardian.notifications.kinds import COORDINATOR_KINDS
from guardian.notifications.outbox import POSITION, Outbox
from guardian.notifications.schema import (
    letters,
    notification_attempts,
    notification_preferences,
)
from guardian.projections.tracking import tracking
from guardian.waits import check_ins, check_waits

pytestmark = pytest.mark.usefixtures("cheap_hashes")  # conftest.py

KIM = "kim@guardian.test"


def test_a_deterioration_goes_to_the_pcns_coordinators_by_inbox_and_email(app, mail):
    pid = refer(app, 100)
    flag(app, pid)
    report = Dispatcher(app).run_once()
    assert report.sent == 2 and report.withheld == 0
    mine = rows(app, kind="deterioration")
    assert {(r.channel, r.recipient) for r in mine} == {("inbox", "user:1"), ("email", "user:1")}
    [message] = mail.to(SAM)
    assert message["Subject"] == "Getting worse: Cardiology at " + message["Subject"].split(
        " at ", 1)[1]
    body = message.get_body(("plain",)).get_content()
    assert f"https://guardian.example/patients/{pid.hex}" in body
    assert "Synthetic Basildon Town Centre Surgery" in body  # the practice by name
    assert "Ada" not in body and nhs(100) not in body  # no name or NHS number in an e-mail
    assert message.get_body(("html",)) is not None
    assert not mail.to(KIM)  # another PCN's coordinator hears nothing


def test_nothing_is_made_or_sent_twice_whatever_is_replayed(app, mail):
    pid = refer(app, 101)
    flag(app, pid)
    Dispatcher(app).run_once()
    before = rows(app)
    # the outbox reads the whole log again (a rebuild, a replay), twice at once
    with app.engine.begin() as conn:
        conn.execute(update(tracking).where(tracking.c.name == POSITION).values(position=0))
    assert Outbox(app).run_once() == 0
    with app.engine.begin() as conn:
        conn.execute(update(tracking).where(tracking.c.name == POSITION).values(position=0))
    first, second = Outbox(app), Outbox(app)
    assert first.run_once() + second.run_once() == 0
    Dispatcher(app).run_once()
    assert [(r.id, r.status) for r in rows(app)] == [(r.id, r.status) for r in before]
    assert len(mail.to(SAM)) == 1
    # the same command again records nothing new, so tells no one again
    flag(app, pid)
    Dispatcher(app).run_once()
    assert len(mail.to(SAM)) == 1


@pytest.mark.one_backend
def test_old_news_makes_no_notification(app, mail):
    pid = refer(app, 102, weeks=30)
    today = app.today()
    app.record_breach(pid, "RAJ", "N-1", "rtt-18", "", today - dt.timedelta(days=14))
    app.record_breach(pid, "RAJ", "N-1", "diagnostic-6", "", today - dt.timedelta(days=13))
    Dispatcher(app).run_once()
    assert {json.loads(r.context)["standard"] for r in rows(app, kind="breach")} == {
        "diagnostic-6"}


def test_the_mail_server_down_for_a_while_loses_nothing_and_sends_nothing_twice(app, mail):
    pids = [refer(app, 110 + i, pathway=f"N-{i}") for i in range(3)]
    mail.stop()
    for i, pid in enumerate(pids):
        flag(app, pid, f"f{i}", pathway=f"N-{i}")
    report = Dispatcher(app).run_once()
    assert report.down == 3 and report.sent == 3  # the inbox does not need the server
    waiting = rows(app, channel="email")
    assert {r.status for r in waiting} == {"queued"} and all(r.attempts == 0 for r in waiting)
    assert Dispatcher(app).run_once().summary()["sent"] == 0  # not due again yet
    mail.start()  # back, on the same port
    make_due(app)  # a minute has passed
    assert Dispatcher(app).run_once().sent == 3
    assert Dispatcher(app).run_once().sent == 0
    assert len(mail.to(SAM)) == 3
    assert {r.status for r in rows(app, channel="email")} == {"sent"}
    with app.engine.connect() as conn:
        outcomes = [o for (o,) in conn.execute(select(notification_attempts.c.outcome))]
    assert outcomes.count("down") == 3


@pytest.mark.one_backend
def test_a_signed_webhook_is_sent_and_verifiable(app):
    pid = refer(app, 120)
    with WebhookReceiver(200) as receiver:
        add_hook(app.engine, name="Practice system", url=receiver.url, practice="Y90001",
                 provider=None, kinds=["deterioration"], secret="s3cret",
                 now=dt.datetime.now(dt.UTC))
        flag(app, pid)
        Dispatcher(app).run_once()
    [(headers, body)] = receiver.requests
    assert verify("s3cret", headers["Guardian-Signature"], body)
    assert not verify("other", headers["Guardian-Signature"], body)
    payload = json.loads(body)
    assert payload["kind"] == "deterioration" and payload["practice_code"] == "Y90001"
    assert headers["Guardian-Notification"] == payload["notification"]
    assert "Ada" not in body.decode()


@pytest.mark.one_backend
@pytest.mark.parametrize("status,delay", [(500, 0.0), (200, 2.0)])
def test_a_failing_webhook_is_retried_then_parked(app, status, delay, monkeypatch):
    monkeypatch.setattr("guardian.notifications.channels.webhook.TIMEOUT", 0.5)
    app.settings.notify_max_attempts = 3
    pid = refer(app, 121)
    with WebhookReceiver(status, delay) as receiver:
        add_hook(app.engine, name="Hospital", url=receiver.url, practice=None, provider="RAJ",
                 kinds=None, secret="x", now=dt.datetime.now(dt.UTC))
        flag(app, pid)
        for _ in range(3):
            Dispatcher(app).run_once()
            make_due(app)
        [row] = rows(app, channel="webhook")
        assert row.status == "parked" and row.attempts == 3
        assert len(receiver.requests) == 3
        assert dispatching.resend(app.engine, row.id, dt.datetime.now(dt.UTC))
        receiver.status, receiver.delay = 200, 0.0
        assert Dispatcher(app).run_once().sent == 1
    assert rows(app, channel="webhook")[0].status == "sent"


@pytest.mark.one_backend
def test_a_4xx_webhook_answer_parks_at_once(app):
    pid = refer(app, 122)
    with WebhookReceiver(410) as receiver:
        add_hook(app.engine, name="Gone", url=receiver.url, practice="Y90001", provider=None,
                 kinds=None, secret="x", now=dt.datetime.now(dt.UTC))
        flag(app, pid)
        Dispatcher(app).run_once()
    assert rows(app, channel="webhook")[0].status == "parked"


def test_checked_again_when_sent_closed_case_lost_access_do_not_contact(app, mail):
    a = refer(app, 130, pathway="A")
    b = refer(app, 131, pathway="B")
    flag(app, a, "fa", pathway="A")
    flag(app, b, "fb", pathway="B")
    Outbox(app).run_once()
    app.close_pathway(a, "RAJ", "A", "withdrawn")  # closed before sending
    users.disable_user(app.engine, SAM)
    report = Dispatcher(app).run_once()
    assert report.sent == 0
    reasons = {r.pathway_id: r.last_error for r in rows(app) if r.kind == "deterioration"}
    assert "closed" in reasons["A"]
    assert "disabled" in reasons["B"]
    assert not mail.messages


@pytest.mark.one_backend
def test_a_coordinator_moved_to_another_pcn_is_not_told(app, mail):
    pid = refer(app, 132)
    flag(app, pid)
    Outbox(app).run_once()
    users.change_user(app.engine, SAM, orgs=["U90002"])
    Dispatcher(app).run_once()
    assert {r.status for r in rows(app, kind="deterioration")} == {"withheld"}
    assert not mail.messages


@pytest.mark.one_backend
def test_the_patient_is_written_to_as_they_prefer(app, mail):
    by_email = refer(app, 140, email="ada@example.invalid", pathway="E")
    by_letter = refer(app, 141, pathway="L")
    not_at_all = refer(app, 142, email="no@example.invalid", pathway="X")
    app.record_contact_preference(not_at_all, "none", by=SAM)
    check_ins(app, app.today())
    Dispatcher(app).run_once()
    [mine] = mail.to("ada@example.invalid")
    text = mine.get_body(("plain",)).get_content()
    assert "Dear Ada Test" in text and "111" in text and "999" in text
    assert "12 weeks" in text
    with app.engine.connect() as conn:
        [letter] = list(conn.execute(select(letters)))
    assert letter.patient_id == by_letter.hex and letter.pcn_code == "U90001"
    assert "If you get worse" in letter.html and "Answer online" not in letter.html
    assert not mail.to("no@example.invalid")
    assert not [r for r in rows(app, recipient="patient") if r.patient_id == not_at_all.hex]
    assert {r.kind for r in rows(app, user_id=1)} == {"check-in-due"}

    # a message to a patient who asks not to be contacted before it goes: withheld
    app.send_message(by_email, "RAJ", "E", "m-1", "patient", "Your scan is booked.", SAM)
    Outbox(app).run_once()
    [queued] = rows(app, kind="thread-message")
    assert (queued.status, queued.channel) == ("queued", "email")
    app.record_contact_preference(by_email, "none", by=SAM)
    before = len(mail.messages)
    assert Dispatcher(app).run_once().withheld == 1
    [withheld] = rows(app, kind="thread-message")
    assert withheld.status == "withheld"
    assert withheld.last_error == "the patient asked not to be contacted"
    # ... and once they have asked, a message to them makes no notification at all
    app.send_message(by_email, "RAJ", "E", "m-2", "patient", "Your scan is moved.", SAM)
    Dispatcher(app).run_once()
    assert [r.id for r in rows(app, kind="thread-message")] == [withheld.id]
    assert len(mail.messages) == before and len(mail.to("ada@example.invalid")) == 1


@pytest.mark.one_backend
def test_quiet_hours_hold_the_email_not_the_inbox(app, mail):
    with app.engine.begin() as conn:
        now = dt.datetime.now(app.settings.zone)
        start = (now - dt.timedelta(hours=1)).strftime("%H:%M")
        until = (now + dt.timedelta(hours=1)).strftime("%H:%M")
        conn.execute(notification_preferences.insert().values(
            user_id=1, email_mode="immediate", quiet_from=start, quiet_until=until))
    flag(app, refer(app, 150))
    report = Dispatcher(app).run_once()
    assert report.sent == 1 and not mail.messages
    [held] = rows(app, channel="email")
    assert held.status == "queued"
    due = held.due_at if held.due_at.tzinfo else held.due_at.replace(tzinfo=dt.UTC)
    assert dt.timedelta(minutes=55) < due - dt.datetime.now(dt.UTC) < dt.timedelta(minutes=65)


@pytest.mark.one_backend
def test_a_daily_summary_user_gets_no_email_per_event(app, mail):
    with app.engine.begin() as conn:
        conn.execute(notification_preferences.insert().values(user_id=1, email_mode="daily"))
    flag(app, refer(app, 151))
    Dispatcher(app).run_once()
    assert {r.channel for r in rows(app, kind="deterioration")} == {"inbox"}


@pytest.mark.one_backend
def test_a_thread_message_goes_to_the_hospital_with_a_reply_address(app, mail):
    pid = refer(app, 160)
    set_org_contact(app.engine, "RAJ", email="cardiology@hospital.example")
    app.send_message(pid, "RAJ", "N-1", "m1", "hospital", "Is the echo booked?", SAM)
    Dispatcher(app).run_once()
    [sent] = mail.to("cardiology@hospital.example")
    assert "Is the echo booked?" in sent.get_body(("plain",)).get_content()
    assert sent["Reply-To"].startswith("guardian+") and sent["Reply-To"].endswith(
        "@replies.example")


@pytest.mark.one_backend
def test_email_off_skips_email_and_still_fills_the_inbox(app, mail):
    app.settings.smtp_url = None
    flag(app, refer(app, 170))
    report = Dispatcher(app).run_once()
    assert report.sent == 1 and report.skipped == 1


def test_a_due_row_is_claimed_by_one_dispatcher_only(app):
    flag(app, refer(app, 180))
    Outbox(app).run_once()
    first, second = Dispatcher(app), Dispatcher(app)
    now = dt.datetime.now(dt.UTC)
    taken = first.claim(now)
    assert taken and second.claim(now) == []
    # a dispatcher that died: its claim runs out, and another takes the rows
    later = now + dt.timedelta(seconds=dispatching.CLAIM_SECONDS + 1)
    assert {r.id for r in second.claim(later)} == {r.id for r in taken}


@pytest.mark.one_backend
def test_other_events_make_no_notification(app):
    pid = refer(app, 190)
    app.log_contact(pid, "c1", "phone", "rang", SAM, provider="RAJ", pathway_id="N-1")
    assert Outbox(app).run_once() == 0


def make_news(app, kind: str):
    """The event that makes a coordinator's notification of this kind, on a new referral."""
    if kind == "at-risk":  # day 115 of 18 weeks: inside the at-risk window since day 112
        refer(app, 200, days=115)
        check_waits(app, app.today())
        return
    pid = refer(app, 201)
    if kind == "breach":
        app.record_breach(pid, "RAJ", "N-1", "rtt-18", "", app.today())
    elif kind == "deterioration":
        flag(app, pid)
    elif kind == "check-in-due":
        check_ins(app, app.today())
    elif kind == "message-waiting":
        app.receive_message(pid, "RAJ", "N-1", "m1", "gp", "Any news?", "gp@practice.example")


@pytest.mark.one_backend
@pytest.mark.parametrize("kind", list(COORDINATOR_KINDS))
def test_each_coordinator_kind_goes_by_inbox_email_and_webhook(app, mail, kind):
    with WebhookReceiver(200) as receiver:
        add_hook(app.engine, name="Practice", url=receiver.url, practice="Y90001",
                 provider=None, kinds=None, secret="s", now=dt.datetime.now(dt.UTC))
        make_news(app, kind)
        Dispatcher(app).run_once()
    made = rows(app, kind=kind)
    assert {(r.channel, r.status) for r in made} == {
        ("inbox", "sent"), ("email", "sent"), ("webhook", "sent")}
    [message] = mail.to(SAM)
    assert "Cardiology" in message["Subject"]
    assert [json.loads(body)["kind"] for _, body in receiver.requests] == [kind]


@pytest.mark.one_backend
@pytest.mark.parametrize("party,address", [
    ("hospital", "cardiology@hospital.example"), ("gp", "surgery@practice.example"),
    ("patient", "ada@example.invalid")])
def test_a_thread_message_goes_to_its_addressee(app, mail, party, address):
    pid = refer(app, 210, email="ada@example.invalid")
    set_org_contact(app.engine, "RAJ", email="cardiology@hospital.example")
    set_org_contact(app.engine, "Y90001", email="surgery@practice.example")
    app.send_message(pid, "RAJ", "N-1", "m1", party, "Your echo is booked.", SAM)
    Dispatcher(app).run_once()
    [sent] = mail.messages
    assert sent["To"] == address
    text = sent.get_body(("plain",)).get_content()
    assert "Your echo is booked." in text
    assert ("111" in text) is (party == "patient")
