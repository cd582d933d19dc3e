"""Sending, end to end against real local servers (docs/notifications.md "Sending"): the
mail server dying in the middle of a batch loses nothing and sends nothing twice; an
e-mail held for quiet hours goes once they end, once; and the checks made again when a
row is sent follow a patient who registered with another practice, for the practice's
message and for the practice's webhook."""

from __future__ import annotations

import datetime as dt

import pytest
from notify_helpers import (
    KIM,
    SAM,
    WebhookReceiver,
    flag,
    make_due,
    refer,
    rows,
)
from sqlalchemy import insert, select

from guardian.notifications.channels.email import message_id
from guardian.notifications.contacts import add_hook, set_org_contact
from guardian.notifications.dispatcher import Dispatcher
from guardian.notifications.outbox import Outbox
from guardian.notifications.schema import (
    notification_attempts,
    notification_preferences,
    notifications,
)

pytestmark = pytest.mark.usefixtures("cheap_hashes")  # conftest.py


def test_the_mail_server_dying_mid_batch_loses_nothing_and_sends_nothing_twice(app, mail):
    ours = refer(app, 500, practice="Y90001")  # Sam's PCN
    theirs = refer(app, 501, practice="Y90009", pathway="N-2")  # Kim's
    for i in range(6):
        flag(app, ours, f"a{i}")
        flag(app, theirs, f"b{i}", pathway="N-2")
    Outbox(app).run_once()
    assert len(rows(app, channel="email")) == 12

    mail.go_down_after(5)  # the sixth message finds the server dying
    report = Dispatcher(app).run_once()
    assert len(mail.messages) == 5 and mail.controller is None
    emails = rows(app, channel="email")
    assert len([r for r in emails if r.status == "sent"]) == 5
    waiting = [r for r in emails if r.status != "sent"]
    assert len(waiting) == 7
    assert {r.status for r in waiting} == {"queued"} and {r.attempts for r in waiting} == {0}
    # the messages it died with (gone away, or refused when a connection opened after),
    # and those not yet begun
    assert all(r.last_error.startswith("the mail server ")
               or r.last_error == "the channel went down before this message" for r in waiting)
    assert (report.sent, report.down, report.failed, report.parked) == (12 + 5, 7, 0, 0)

    mail.start()  # back on the same port
    assert Dispatcher(app).run_once().sent == 0  # not due again for a minute
    make_due(app)
    assert Dispatcher(app).run_once().sent == 7
    assert Dispatcher(app).run_once().sent == 0
    assert {r.status for r in rows(app, channel="email")} == {"sent"}
    assert len(mail.to(SAM)) == 6 and len(mail.to(KIM)) == 6
    received = [m["Message-ID"] for m in mail.messages]
    assert len(received) == len(set(received)) == 12
    sender = app.settings.mail_from
    assert set(received) == {message_id(r.key, sender) for r in rows(app, channel="email")}
    a, n = notification_attempts, notifications
    with app.engine.connect() as conn:
        outcomes = list(conn.execute(select(a.c.outcome).join(
            n, n.c.id == a.c.notification_id).where(n.c.channel == "email")).scalars())
    assert (outcomes.count("sent"), outcomes.count("down"), outcomes.count("failed")) == (
        12, 7, 0)


@pytest.mark.one_backend
def test_an_email_held_for_quiet_hours_goes_when_they_end_once(app, mail):
    zone = app.settings.zone
    evening = dt.datetime.combine(dt.datetime.now(zone).date(), dt.time(23, 0), tzinfo=zone)
    app.clock = lambda: evening
    with app.engine.begin() as conn:
        conn.execute(insert(notification_preferences).values(
            user_id=1, email_mode="immediate", quiet_from="22:00", quiet_until="07:00"))
    flag(app, refer(app, 510))
    assert Dispatcher(app).run_once().sent == 1  # the inbox, not the e-mail
    [held] = rows(app, channel="email")
    assert held.status == "queued" and not mail.messages

    morning = dt.datetime.combine(evening.date() + dt.timedelta(days=1), dt.time(7, 0),
                                  tzinfo=zone)  # the end of the quiet hours
    app.clock = lambda: morning - dt.timedelta(minutes=1)
    assert Dispatcher(app).run_once().sent == 0 and not mail.messages
    app.clock = lambda: morning
    assert Dispatcher(app).run_once().sent == 1
    app.clock = lambda: morning + dt.timedelta(hours=2)
    assert Dispatcher(app).run_once().sent == 0
    [message] = mail.to(SAM)
    assert message["Subject"].startswith("Getting worse: Cardiology")
    [sent] = rows(app, channel="email")
    assert sent.status == "sent" and sent.id == held.id


def test_a_practice_and_its_webhook_are_checked_again_after_the_patient_moves(app, mail):
    set_org_contact(app.engine, "Y90001", email="surgery@practice.example")
    set_org_contact(app.engine, "Y90002", email="fryerns@practice.example")
    pid = refer(app, 520, practice="Y90001")
    with WebhookReceiver(200) as receiver:
        add_hook(app.engine, name="Basildon system", url=receiver.url, practice="Y90001",
                 provider=None, kinds=["deterioration"], secret="s",
                 now=dt.datetime.now(dt.UTC))
        app.send_message(pid, "RAJ", "N-1", "m1", "gp", "Has the echo been done?", SAM)
        flag(app, pid)
        Outbox(app).run_once()
        assert {(r.kind, r.recipient) for r in rows(app, status="queued")} >= {
            ("thread-message", "practice:Y90001"), ("deterioration", "webhook:1")}
        refer(app, 520, practice="Y90002")  # registered with another practice meanwhile
        Dispatcher(app).run_once()
    [message] = rows(app, kind="thread-message")
    assert message.status == "withheld"
    assert message.last_error == "the patient is no longer registered with this practice"
    [hook] = rows(app, channel="webhook")
    assert hook.status == "withheld"
    assert hook.last_error == "the referral is no longer the webhook's organisation's"
    assert receiver.requests == []
    assert not mail.to("surgery@practice.example") and not mail.to("fryerns@practice.example")
    # the coordinators of the PCN, which both practices are in, are still told
    assert [m["Subject"][:13] for m in mail.to(SAM)] == ["Getting worse"]
