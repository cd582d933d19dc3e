"""Every kind of notification, through every channel it goes by, composed and rendered
from the demo's own data: a template that fails to render, leaves a value out or prints
"None" fails here, not in someone's inbox (docs/notifications.md "What is sent")."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import uuid
from collections import defaultdict

import pytest
from sqlalchemy import text

from guardian import users
from guardian.bootstrap import build_app, init_database
from guardian.config import Settings
from guardian.demo import load_demo
from guardian.demo.loading import add_demo_contacts
from guardian.notifications.digests import (
    make_daily_summaries,
    make_weekly_digests,
    summary_day,
)
from guardian.notifications.dispatcher import Dispatcher
from guardian.notifications.kinds import KINDS
from guardian.notifications.schema import notification_preferences
from guardian.waits import check_ins, check_waits

# The channels each kind goes by.
EXPECTED = {
    **{kind: {"inbox", "email", "webhook"} for kind in (
        "breach", "at-risk", "deterioration", "check-in-due", "message-waiting")},
    "daily-summary": {"email"}, "weekly-digest": {"email"},
    "patient-check-in": {"email", "letter"}, "thread-message": {"email", "letter"},
    "sign-in-code": {"email", "letter"},
}


class Capture:
    """A channel that keeps what it is given."""

    def __init__(self, name: str, kept: dict):
        self.name, self.kept = name, kept

    @contextlib.contextmanager
    def session(self):
        yield self

    def send(self, row, message):
        self.kept[(row.kind, self.name)].append(message)


@pytest.fixture
def app(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path}/g.sqlite", var_dir=tmp_path,
                        secret_key="k", mail_reply_to="guardian@replies.example")
    guardian = build_app(settings)
    init_database(guardian)
    yield guardian
    guardian.close()


@pytest.mark.one_backend
def test_every_kind_renders_through_every_channel_with_the_demos_data(app):
    from guardian.notifications.contacts import add_hook

    load_demo(app, patients=300, seed=11)
    add_demo_contacts(app.engine)
    with app.engine.connect() as conn:
        pcns = [p for (p,) in conn.execute(text(
            "SELECT DISTINCT pcn_code FROM organisations ORDER BY 1"))]
        practices = [c for (c,) in conn.execute(text(
            "SELECT practice_code FROM organisations ORDER BY 1"))]
    users.add_user(app.engine, "daily@guardian.test", "coordinator", pcns, "pw-123456789")
    users.add_user(app.engine, "atonce@guardian.test", "coordinator", pcns, "pw-123456789")
    with app.engine.begin() as conn:
        conn.execute(notification_preferences.insert().values(user_id=1, email_mode="daily"))
    for code in practices:
        add_hook(app.engine, name=f"hook {code}", url="http://127.0.0.1:9/hook",
                 practice=code, provider=None, kinds=None, secret="s",
                 now=dt.datetime.now(dt.UTC))
    today = app.today()
    check_waits(app, today)
    check_ins(app, today)
    # messages, a deterioration and a letter-writing patient on open pathways of the demo
    with app.engine.connect() as conn:
        open_ones = list(conn.execute(text(
            "SELECT patient_id, provider, pathway_id FROM worklist ORDER BY 1 LIMIT 60")))
    if not open_ones:  # the worklist is a read model: bring it up first
        from guardian.projections.registry import runner_for
        runner_for(app).run_once()
        with app.engine.connect() as conn:
            open_ones = list(conn.execute(text(
                "SELECT patient_id, provider, pathway_id FROM worklist ORDER BY 1 LIMIT 60")))
    for i, (pid, provider, pathway) in enumerate(open_ones[:3]):
        patient = uuid.UUID(hex=pid)
        for party in ("hospital", "gp", "patient"):
            app.send_message(patient, provider, pathway, f"m-{party}-{i}", party,
                             "Please tell us when the appointment is.", "atonce@guardian.test")
        app.receive_message(patient, provider, pathway, f"in-{i}", "gp", "Any news?",
                            "gp@practice.example")
        app.flag_deterioration(patient, f"f{i}", "worse", "patient", provider=provider,
                               pathway_id=pathway)
    letter_writer = uuid.UUID(hex=open_ones[3][0])
    app.record_contact_preference(letter_writer, "letter", by="atonce@guardian.test")
    app.send_message(letter_writer, open_ones[3][1], open_ones[3][2], "m-letter", "patient",
                     "We have asked the hospital for a date.", "atonce@guardian.test")

    # a code to sign in, by email and by letter
    from guardian.patient_access.codes import request_code

    by_email = next(p for p in app.load_patients([uuid.UUID(hex=r[0]) for r in open_ones
                                                   ]).values()
                    if p.email and p.id != letter_writer)  # (ids are random per store)
    for patient in (by_email, app.get_patient(letter_writer)):
        assert request_code(app, patient.nhs_number, patient.birth_date, None,
                            dt.datetime.now(dt.UTC)) == "sent"

    kept: dict = defaultdict(list)
    channels = {name: Capture(name, kept) for name in ("email", "inbox", "webhook", "letter")}
    dispatcher = Dispatcher(app, channels=channels)
    dispatcher.run_once()
    # the summary whose 07:00-to-07:00 window holds now (after midnight: today's)
    make_daily_summaries(app, summary_day(app.now(), app.settings.zone)
                         + dt.timedelta(days=1))
    make_weekly_digests(app, today)
    with app.engine.begin() as conn:  # the summary is due at 07:00 tomorrow: send it now
        conn.execute(text("UPDATE notifications SET due_at = '2000-01-01' "
                          "WHERE status = 'queued'"))
    report = dispatcher.run_once()
    assert report.failed == 0, report.summary()

    made = {(kind, channel) for kind, channel in kept}
    assert made == {(k, c) for k, cs in EXPECTED.items() for c in cs}
    assert set(EXPECTED) == set(KINDS)
    for (kind, channel), messages in kept.items():
        for m in messages:
            for part in (m.subject, m.text, m.html):
                assert part.strip(), (kind, channel)
                assert "None" not in part and "{{" not in part and "{%" not in part, (
                    kind, channel, part[:400])
            if channel != "webhook":
                assert not re.search(r"\bU9\d{4}\b", m.text), (kind, "a PCN code shown alone")
            if kind not in ("patient-check-in", "thread-message") and channel == "email":
                assert not re.search(r"\b999 ?\d{3} ?\d{4}\b", m.text), (
                    kind, "an NHS number in a staff email")
