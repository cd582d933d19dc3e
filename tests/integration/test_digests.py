"""The coordinators' daily summary and the practices' weekly digest on SQLite and
PostgreSQL (docs/notifications.md "Daily summary", "Weekly digest"): rows made once however
often the scheduled jobs run, none for a practice that opted out or has no address, the
summary leaving out closed pathways and lost scope, the digest's every number exact for a
week built to know them (and withheld from a practice that opted out after it was made),
and both rendered from the demo's data and sent through a real local SMTP server."""

from __future__ import annotations

import datetime as dt
import email
import email.message
import email.policy
import json
import re
import socket

import pytest
from aiosmtpd.controller import Controller
from argon2 import PasswordHasher
from sqlalchemy import func, insert, select

from guardian import audit, users
from guardian.bootstrap import build_app, init_database
from guardian.config import Settings
from guardian.demo import ORGS_FILE, load_demo
from guardian.domain.identifiers import nhs_check_digit
from guardian.domain.report import ReferralReport
from guardian.job_runs import status as job_status
from guardian.notifications.contacts import set_org_contact
from guardian.notifications.digests import (
    OPT_OUT,
    digest_week_ending,
    make_daily_summaries,
    make_weekly_digests,
    summary_day,
)
from guardian.notifications.dispatcher import Dispatcher
from guardian.notifications.render import day_text
from guardian.notifications.schema import notification_preferences, notifications
from guardian.orgs import (
    PROVIDERS_FILE,
    load_orgs,
    load_providers,
    read_org_file,
    read_providers_file,
)
from guardian.projections.bottlenecks.model import intervals
from guardian.projections.registry import runner_for
from guardian.projections.worklist import worklist
from guardian.scheduler import DAILY_JOB, WEEKLY_JOB, Jobs
from guardian.users.changes import change_user
from guardian.waits import check_waits

SAM = "sam@guardian.test"
BASE = "https://guardian.example"
NHS_NUMBER = re.compile(r"(?<![0-9a-f])999\d{7}(?![0-9a-f])")  # the demo's, never sent


class Inbox:
    """A real SMTP server on 127.0.0.1, on a free port, keeping what it receives."""

    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.received: list[email.message.EmailMessage] = []
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.received.append(email.message_from_bytes(envelope.content,
                                                      policy=email.policy.default))
        return "250 OK"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for m in self.received if m["To"] == address]


@pytest.fixture
def smtp():
    server = Inbox()
    server.controller.start()
    yield server
    server.controller.stop()


@pytest.fixture
def app(database_url, tmp_path, smtp):
    settings = Settings(database_url=database_url, var_dir=tmp_path, secret_key="k",
                        smtp_url=f"smtp://127.0.0.1:{smtp.port}", base_url=BASE)
    guardian = build_app(settings)
    init_database(guardian)
    load_orgs(guardian.engine, read_org_file(ORGS_FILE))
    yield guardian
    guardian.close()


def daily(app, user_id: int) -> None:
    with app.engine.begin() as conn:
        conn.execute(insert(notification_preferences).values(user_id=user_id,
                                                             email_mode="daily"))


def coordinator(app, email_address: str, pcns: list[str], mode: str = "daily") -> int:
    users.add_user(app.engine, email_address, "coordinator", pcns, "pw-123456789",
                   display_name="Sam Taylor")
    user = users.find_user(app.engine, email_address)
    if mode == "daily":
        daily(app, user.id)
    return user.id


def rows(app, kind: str) -> list:
    n = notifications
    with app.engine.connect() as conn:
        return list(conn.execute(select(n).where(n.c.kind == kind).order_by(n.c.id)))


def nhs(n: int) -> str:
    for k in range(n, n + 50):
        digit = nhs_check_digit(f"999{k:06d}")
        if digit is not None:
            return f"999{k:06d}{digit}"
    raise AssertionError("no NHS number")


def refer(app, n: int, practice: str) -> object:
    today = app.today()
    start = today - dt.timedelta(weeks=10)
    report = ReferralReport(
        provider="RAJ", pathway_id=f"P-{n}", nhs_number=nhs(n),
        birth_date=dt.date(1960, 1, 1), practice_code=practice, treatment_function="320",
        priority=1, waiting_list_type="ORTT", received_on=start, clock_start=start,
        as_of=today, given_name="Ada", family_name=f"Test{n}")
    app.apply_reports([report])
    return app.patient_id(report.nhs_number)


def next_summary(app) -> dt.date:
    """The summary day whose 24 hours hold the present moment."""
    return summary_day(app.now(), app.settings.zone) + dt.timedelta(days=1)


def test_the_jobs_make_each_row_once_and_none_for_opted_out_or_unaddressed(app):
    sam = coordinator(app, SAM, ["U90001"])
    coordinator(app, "kim@guardian.test", ["U90002"], mode="immediate")
    set_org_contact(app.engine, "Y90001", email="basildon@nhs.example")
    set_org_contact(app.engine, "Y90002", email="fryerns@nhs.example", weekly_digest=False)
    set_org_contact(app.engine, "Y90003", weekly_digest=True)  # no address
    jobs = Jobs(app)
    for _ in range(3):  # as GUARDIAN_SCHEDULER_INTERVAL runs them: again and again
        jobs.daily_summaries()
        jobs.weekly_digests()
    day = summary_day(app.now(), app.settings.zone)
    week = digest_week_ending(app.now(), app.settings.zone)
    assert make_daily_summaries(app, day) == 0 and make_weekly_digests(app, week) == 0
    [summary] = rows(app, "daily-summary")
    assert summary.key == f"daily-summary:{day}|daily-summary|user:{sam}|email"
    assert summary.recipient == f"user:{sam}" and summary.channel == "email"
    [digest] = rows(app, "weekly-digest")
    assert digest.key == f"weekly-digest:{week}|weekly-digest|practice:Y90001|email"
    assert week.weekday() == 4  # a Friday
    recorded = job_status(app.engine)
    assert recorded[DAILY_JOB]["status"] == recorded[WEEKLY_JOB]["status"] == "ok"


def test_the_summary_leaves_out_closed_pathways_and_lost_scope(app, smtp):
    coordinator(app, SAM, ["U90001", "U90002"])
    kept = refer(app, 1, "Y90001")  # Basildon Central PCN
    closed = refer(app, 2, "Y90002")  # the same PCN, closed before the summary
    elsewhere = refer(app, 3, "Y90009")  # Basildon East PCN, taken from Sam
    for pid, provider_pathway in ((kept, "P-1"), (closed, "P-2"), (elsewhere, "P-3")):
        app.flag_deterioration(pid, "f1", "more breathless", "patient", provider="RAJ",
                               pathway_id=provider_pathway)
    Dispatcher(app).run_once()  # the inbox rows; no e-mail: Sam chose the daily summary
    assert not smtp.to(SAM)
    assert len([r for r in rows(app, "deterioration") if r.channel == "inbox"]) == 3
    app.close_pathway(closed, "RAJ", "P-2", "withdrawn")
    change_user(app.engine, SAM, orgs=["U90001"])
    assert make_daily_summaries(app, next_summary(app)) == 1
    Dispatcher(app).run_once()
    [message] = smtp.to(SAM)
    text = message.get_body(("plain",)).get_content()
    assert message["Subject"] == "Your Guardian daily summary: 1 new notification"
    assert f"{BASE}/patients/{kept.hex}" in text
    assert closed.hex not in text and elsewhere.hex not in text
    assert "A patient reported getting worse: Cardiology at" in text
    assert "Synthetic Basildon Town Centre Surgery (demo)" in text
    assert "Ada" not in text and "Test1" not in text and nhs(1) not in text
    assert "Dear Sam Taylor" in text
    assert message.get_body(("html",)) is not None


@pytest.mark.one_backend
def test_nothing_new_withholds_the_summary(app, smtp):
    coordinator(app, SAM, ["U90001"])
    assert make_daily_summaries(app, next_summary(app)) == 1
    Dispatcher(app).run_once()
    [row] = rows(app, "daily-summary")
    assert row.status == "withheld" and row.last_error == "nothing new for the daily summary"
    assert not smtp.received


def _busiest_practice(app) -> str:
    """The demo practice with the most to tell: workup owed, then pathways waiting."""
    t, w = intervals, worklist
    with app.engine.connect() as conn:
        owed = conn.execute(select(t.c.practice_code).where(
            t.c.kind == "practice-workup", t.c.ended_on.is_(None),
            t.c.pathway_ended_on.is_(None)).group_by(t.c.practice_code)
            .order_by(func.count().desc(), t.c.practice_code)).scalars().first()
        return owed or conn.execute(select(w.c.practice_code).group_by(w.c.practice_code)
                                    .order_by(func.count().desc(), w.c.practice_code)
                                    ).scalars().first()


@pytest.mark.one_backend
def test_demo_digest_and_summary_go_through_smtp(app, smtp):
    load_demo(app, patients=200, seed=5)
    check_waits(app, app.today())
    practice = _busiest_practice(app)
    other = "Y90105" if practice != "Y90105" else "Y90106"
    set_org_contact(app.engine, practice, email="practice@nhs.example")
    set_org_contact(app.engine, other, email="other@nhs.example", weekly_digest=False)
    users.add_user(app.engine, "gp@practice.test", "gp", [practice], "pw-123456789")
    week = digest_week_ending(app.now(), app.settings.zone)
    in_week = dt.datetime.combine(week - dt.timedelta(days=2), dt.time(10),
                                  tzinfo=app.settings.zone)
    for action in ("view-patient", "view-referral", "view-worklist"):
        audit.record(app.engine, action=action, email="gp@practice.test", role="gp",
                     at=in_week)
    with app.engine.connect() as conn:
        pcn = conn.execute(select(worklist.c.pcn_code).group_by(worklist.c.pcn_code)
                           .order_by(func.count().desc())).scalars().first()
    coordinator(app, SAM, [pcn])

    Dispatcher(app).run_once()  # the demo's news: inbox rows for Sam
    assert make_weekly_digests(app, week) == 1
    assert make_daily_summaries(app, next_summary(app)) == 1
    Dispatcher(app).run_once()

    [digest] = smtp.to("practice@nhs.example")
    assert not smtp.to("other@nhs.example")
    context = json.loads(rows(app, "weekly-digest")[0].context)
    text = digest.get_body(("plain",)).get_content()
    html = digest.get_body(("html",)).get_content()
    assert digest["Subject"].startswith("Guardian weekly digest for Synthetic ")
    assert f"Referrals waiting: {context['waiting_total']}" in text
    assert context["waiting_total"] > 0
    for row in context["waiting"]:
        assert f"- {row['specialty']}: {row['count']}" in text
    assert f"New breaches of a wait standard this week: {context['breaches_total']}" in text
    assert f"Workup the practice still owes: {context['workup_total']}" in text
    for owed in context["workup"]:
        assert f"{BASE}/patients/{owed['patient_id']}" in text
    assert "Questions about a referral's status that Guardian answered for the practice " \
           "this week: 2" in text
    assert OPT_OUT in text and OPT_OUT in html
    assert not NHS_NUMBER.search(text) and not NHS_NUMBER.search(html)

    [summary] = smtp.to(SAM)  # the busiest PCN has news in the demo's last fortnight
    body = summary.get_body(("plain",)).get_content()
    assert summary["Subject"].startswith("Your Guardian daily summary: ")
    assert f"{BASE}/patients/" in body and not NHS_NUMBER.search(body)


def referral(app, n: int, practice: str, tf: str, started: dt.date) -> tuple[object, str]:
    """A routine referral at RAJ whose clock started on `started`: (its patient, pathway)."""
    report = ReferralReport(
        provider="RAJ", pathway_id=f"W-{n}", nhs_number=nhs(n),
        birth_date=dt.date(1960, 1, 1), practice_code=practice, treatment_function=tf,
        priority=1, waiting_list_type="ORTT", received_on=started, clock_start=started,
        as_of=app.today(), given_name="Ada", family_name=f"Test{n}")
    app.apply_reports([report])
    return app.patient_id(report.nhs_number), f"W-{n}"


def test_the_weekly_digest_counts_exactly_what_happened_in_its_week(app, smtp, monkeypatch):
    monkeypatch.setattr(users.passwords, "_hasher", PasswordHasher(
        time_cost=1, memory_cost=1024, parallelism=1))
    load_providers(app.engine, read_providers_file(PROVIDERS_FILE))
    zone = app.settings.zone
    week = digest_week_ending(app.now(), zone)  # the Friday; the week is the 7 days before
    day = {k: week - dt.timedelta(days=k) for k in (2, 3, 4, 9, 10, 12, 20)}

    def at(d: dt.date) -> dt.datetime:
        return dt.datetime.combine(d, dt.time(10), tzinfo=zone)

    # Basildon Town Centre (Y90001): three referrals waiting, one closed
    breached, b = referral(app, 600, "Y90001", "320", day[3] - dt.timedelta(days=127))
    app.record_breach(breached, "RAJ", b, "rtt-18", "", day[3])  # in the week
    asked, a = referral(app, 610, "Y90001", "320", day[20] - dt.timedelta(days=30))
    older, o = referral(app, 620, "Y90001", "110", day[10] - dt.timedelta(days=127))
    app.record_breach(older, "RAJ", o, "rtt-18", "", day[10])  # the week before
    closed, c = referral(app, 630, "Y90001", "320", day[20])
    app.close_pathway(closed, "RAJ", c, "withdrawn")
    # workup: one item the practice owes, one it did, one the hospital owes
    app.require_workup_item(breached, "RAJ", b, "w1", "Blood test", "practice", on=day[20])
    app.require_workup_item(asked, "RAJ", a, "w2", "ECG", "practice", on=day[20])
    app.complete_workup_item(asked, "RAJ", a, "w2", by=SAM, on=day[9])
    app.require_workup_item(asked, "RAJ", a, "w3", "Echo", "hospital", on=day[20])
    # the practice's messages: one answered in the week, one before it, one not yet
    for ident, received, answered in (("g0", day[12], day[9]), ("g1", day[4], day[3]),
                                      ("g2", day[2], None)):
        app.receive_message(asked, "RAJ", a, ident, "gp", "Any news?", "gp1@nhs.example",
                            at=at(received))
        if answered:
            app.mark_message_answered(asked, "RAJ", a, ident, by=SAM, on=answered)
    # Fryerns (Y90002): one referral waiting, breached in the week
    other, f = referral(app, 640, "Y90002", "110", day[2] - dt.timedelta(days=127))
    app.record_breach(other, "RAJ", f, "rtt-18", "", day[2])
    # status questions: the practice's GP read three referrals in the week
    users.add_user(app.engine, "gp1@nhs.example", "gp", ["Y90001"], "pw-123456789")
    users.add_user(app.engine, "gp2@nhs.example", "gp", ["Y90002"], "pw-123456789")
    for action, who, when in (
            ("view-patient", "gp1", day[2]), ("view-patient", "gp1", day[4]),
            ("view-referral", "gp1", day[3]), ("view-worklist", "gp1", day[3]),
            ("view-patient", "gp1", day[9]), ("view-patient", "gp2", day[3])):
        audit.record(app.engine, action=action, email=f"{who}@nhs.example", role="gp",
                     at=at(when))
    set_org_contact(app.engine, "Y90001", email="basildon@nhs.example")
    set_org_contact(app.engine, "Y90002", email="fryerns@nhs.example")
    runner_for(app).run_once()

    assert make_weekly_digests(app, week) == 2
    set_org_contact(app.engine, "Y90002", weekly_digest=False)  # opted out after the row
    Dispatcher(app).run_once()

    [digest] = smtp.to("basildon@nhs.example")
    text = digest.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert digest["Subject"].startswith(
        "Guardian weekly digest for Synthetic Basildon Town Centre Surgery (demo), the week to ")
    assert ("Referrals waiting: 3\n- Cardiology: 2\n- Trauma and Orthopaedics: 1\n\n"
            "New breaches of a wait standard this week: 1\n- Cardiology: 1\n\n"
            "Workup the practice still owes: 1 item on 1 referral\n"
            f"- Cardiology at Mid and South Essex NHS Foundation Trust, asked for on "
            f"{day_text(day[20])}: {BASE}/patients/{breached.hex}\n\n"
            "Messages from the practice that Guardian answered this week: 1\n"
            "Questions about a referral's status that Guardian answered for the practice "
            "this week: 3\n") in text, text
    assert not NHS_NUMBER.search(text)
    [mine, theirs] = rows(app, "weekly-digest")
    assert mine.status == "sent" and mine.recipient == "practice:Y90001"
    assert (theirs.status, theirs.last_error) == (
        "withheld", "the practice opted out of the weekly digest")
    assert json.loads(theirs.context)["breaches_total"] == 1  # it was made, then withheld
    assert not smtp.to("fryerns@nhs.example")
