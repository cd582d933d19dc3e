"""Replies by e-mail (docs/notifications.md "Replies by e-mail"), on SQLite and PostgreSQL:
a thread message sent through a real local SMTP server, answered, and the answer taken in
from an mbox file and through `guardian mail listen`'s SMTP handler; refusals (forged,
expired and unknown tokens, an empty reply, a closed referral) and repeats; the CLI's exit
codes."""

from __future__ import annotations

import datetime as dt
import json
import mailbox
import os
import signal
import smtplib
import subprocess
import sys
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from notify_helpers import free_port
from sqlalchemy import select
from typer.testing import CliRunner

from guardian.audit import entries
from guardian.bootstrap import build_app, init_database
from guardian.cli import app as cli
from guardian.config import Settings
from guardian.domain.report import ReferralReport
from guardian.notifications.contacts import set_org_contact
from guardian.notifications.dispatcher import Dispatcher
from guardian.notifications.mail import (
    REFUSED,
    TAKEN,
    ReplyHandler,
    ingest_mailbox,
    ingest_message,
    reply_text,
)
from guardian.notifications.schema import notifications
from guardian.notifications.threads import make_token
from guardian.orgs import load_orgs, read_org_file
from guardian.projections import worklist as wl
from guardian.projections.registry import runner_for

ROOT = Path(__file__).resolve().parents[2]
REPLY_TO = "guardian@replies.example"
HOSPITAL = "referrals@hospital.example"
SECRET = "test-secret-key"
ASKED = "Please tell us when the MRI is booked."
ANSWER = "The MRI is booked for 14 May at Broomfield.\nThe letter went out today."


@pytest.fixture
def settings(database_url, tmp_path, mail) -> Settings:  # mail: conftest.py
    return Settings(database_url=database_url, var_dir=tmp_path / "var", secret_key=SECRET,
                    smtp_url=mail.url, mail_reply_to=REPLY_TO,
                    mail_from="Guardian Service <guardian@guardian.example>")


@pytest.fixture
def app(settings):
    guardian = build_app(settings)
    init_database(guardian)
    load_orgs(guardian.engine, read_org_file(ROOT / "examples" / "orgs-example.csv"))
    today = guardian.today()
    guardian.apply_reports([ReferralReport(
        provider="RAJ", pathway_id="P1", nhs_number="9995260182",
        birth_date=dt.date(1958, 3, 14), practice_code="Z90001", treatment_function="110",
        priority=1, waiting_list_type="ORTT", received_on=today - dt.timedelta(days=60),
        clock_start=today - dt.timedelta(days=60), as_of=today)])
    set_org_contact(guardian.engine, "RAJ", email=HOSPITAL)
    yield guardian
    guardian.close()


@pytest.fixture
def sent(app, mail):
    """Guardian's message to the hospital, sent through the SMTP server: the e-mail."""
    pid = app.patient_id("9995260182")
    app.send_message(pid, "RAJ", "P1", "m1", "hospital", ASKED, "sam@demo.invalid")
    report = Dispatcher(app).run_once()
    assert report.sent == 1, report.summary()
    [message] = mail.to(HOSPITAL)
    assert message["Reply-To"].startswith("guardian+")
    assert message["Reply-To"].endswith("@replies.example")
    return message


def reply(to: str, text: str = ANSWER, *, quoted: str = ASKED, html: str | None = None
          ) -> EmailMessage:
    """A reply as a mail program writes it: the answer, then the message quoted."""
    mail = EmailMessage()
    mail["From"] = f"Broomfield referrals <{HOSPITAL}>"
    mail["To"] = to
    mail["Subject"] = "Re: Guardian Service: about a referral"
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain="hospital.example")
    quote = "\n".join(f"> {line}" for line in quoted.splitlines())
    mail.set_content(f"{text}\n\nOn Mon, 4 May 2026 at 10:02, Guardian Service "
                     f"<{REPLY_TO}> wrote:\n{quote}\n")
    if html is not None:
        mail.add_alternative(html, subtype="html")
    return mail


def received(app) -> list:
    pathway = app.get_patient(app.patient_id("9995260182")).pathway("RAJ", "P1")
    return [m for m in pathway.thread() if m.direction == "in"]


def worklist_row(app) -> dict:
    runner_for(app).run_once()
    with app.engine.connect() as conn:
        return dict(conn.execute(select(wl.worklist).where(
            wl.worklist.c.pathway_id == "P1")).mappings().one())


def write_mbox(path: Path, *mails: EmailMessage) -> Path:
    box = mailbox.mbox(path)
    for mail in mails:
        box.add(mail)
    box.flush()
    box.close()
    return path


def test_a_reply_from_an_mbox_is_taken_in_once(app, sent, tmp_path):
    before = worklist_row(app)
    assert before["awaiting_reply_since"] == app.today()
    assert before["unanswered_messages"] == 0

    box = write_mbox(tmp_path / "replies.mbox", reply(sent["Reply-To"]))
    counts = ingest_mailbox(app, box)
    assert (counts.taken, counts.had, counts.refused) == (1, 0, [])

    [message] = received(app)
    assert message.party == "hospital"
    assert message.body == ANSWER  # the quoted message left out
    assert message.sender == HOSPITAL
    assert message.message_id.startswith("mail-")
    after = worklist_row(app)
    assert after["awaiting_reply_since"] is None  # the hospital answered
    assert after["unanswered_messages"] == 1  # and their answer waits for the coordinator

    again = ingest_mailbox(app, box)  # the same e-mail taken in again: nothing changes
    assert (again.taken, again.had, again.refused) == (0, 1, [])
    assert len(received(app)) == 1
    [audited] = entries(app.engine, action="mail-received")
    assert audited.pathway_id == "P1" and HOSPITAL in audited.detail

@pytest.mark.one_backend

def test_a_reply_through_the_smtp_listener(app, sent):
    controller = Controller(ReplyHandler(app), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        mail = reply(sent["Reply-To"], "Booked for 14 May.")
        with smtplib.SMTP("127.0.0.1", controller.port) as client:
            assert client.send_message(mail) == {}
            client.send_message(mail)  # sent again: answered 250, recorded once
            forged = reply(sent["Reply-To"].replace("+", "+f"))
            with pytest.raises(smtplib.SMTPDataError) as refused:
                client.send_message(forged)
            assert refused.value.smtp_code == 550
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                client.send_message(reply("someone@elsewhere.example"))
    finally:
        controller.stop()
    [message] = received(app)
    assert message.body == "Booked for 14 May."

@pytest.mark.one_backend

def test_an_html_only_reply_is_read_as_text(app, sent):
    mail = EmailMessage()
    mail["From"] = HOSPITAL
    mail["To"] = sent["Reply-To"]
    mail["Message-ID"] = make_msgid()
    mail.set_content("<div>Booked for <b>14&nbsp;May</b>.</div><div>Thanks</div>"
                     "<div class=\"gmail_quote\">On Mon … wrote:<blockquote>"
                     f"{ASKED}</blockquote></div>", subtype="html")
    result = ingest_message(app, mail.as_bytes())
    assert result.outcome == TAKEN, result.reason
    assert received(app)[0].body == "Booked for 14 May.\n\nThanks"


def token_address(notification_id: int, made_on: dt.date) -> str:
    return f"guardian+{make_token(SECRET, notification_id, made_on)}@replies.example"


def test_refusals_are_logged_and_audited_and_write_nothing(app, sent, caplog):
    with app.engine.connect() as conn:
        nid = conn.execute(select(notifications.c.id).where(
            notifications.c.kind == "thread-message")).scalar_one()
    today = app.today()
    good = sent["Reply-To"]
    local, _, domain = good.partition("@")
    cases = {
        "forged": (reply(f"{local[:-1]}{'0' if local[-1] != '0' else '1'}@{domain}"),
                   "forged"),
        "expired": (reply(token_address(nid, today - dt.timedelta(days=91))), "expired"),
        "unknown": (reply(token_address(nid + 999, today)), "names no message"),
        "no token": (reply(REPLY_TO), "no reply address"),
        "other domain": (reply(f"guardian+{local.partition('+')[2]}@elsewhere.example"),
                         "no reply address"),
        "only a quote": (reply(good, ""), "no text"),
    }
    with caplog.at_level("WARNING", logger="guardian.notifications"):
        for name, (mail, why) in cases.items():
            result = ingest_message(app, mail, today)
            assert result.outcome == REFUSED, name
            assert why in result.reason, (name, result.reason)
    assert received(app) == []
    refused = entries(app.engine, action="mail-refused")
    assert len(refused) == len(cases)
    forged = [e for e in refused if "forged" in (e.detail or "")]
    assert forged and forged[0].patient_id is None and forged[0].pathway_id is None
    assert sum("reply by email refused" in r.getMessage() for r in caplog.records) == len(cases)
    # the good token among the copies (Cc), in capitals, is still taken in
    ok = reply(REPLY_TO)
    ok["Cc"] = good.upper()
    assert ingest_message(app, ok, today).outcome == TAKEN

@pytest.mark.one_backend

def test_a_malformed_email_is_refused_or_read_never_a_crash(app, sent):
    token = sent["Reply-To"]
    garbage = ingest_message(app, b"\x00\xff not an email at all")
    assert garbage.outcome == REFUSED and "no reply address" in garbage.reason
    odd = (f"To: <<<@@@>>>, \"unterminated\nCc: Someone\n  <{token.upper()}>\n"
           "Message-ID: <\nFrom: ,,,\nDate: not a date\n"
           "Content-Type: text/plain; charset=klingon\n\nBooked.\n").encode()
    result = ingest_message(app, odd)
    assert result.outcome == TAKEN, result.reason
    assert [m.body for m in received(app)] == ["Booked."]

@pytest.mark.one_backend

def test_a_reply_to_a_closed_referral_is_refused(app, sent):
    app.close_pathway(app.patient_id("9995260182"), "RAJ", "P1", "treated-elsewhere")
    result = ingest_message(app, reply(sent["Reply-To"]))
    assert result.outcome == REFUSED and "closed" in result.reason
    [entry] = entries(app.engine, action="mail-refused")
    assert entry.pathway_id == "P1"


@pytest.mark.parametrize(("text", "kept"), [
    ("Yes.\n\n-----Original Message-----\nFrom: Guardian\nplease", "Yes."),
    ("Yes.\n\nOn Mon, 4 May 2026 at 10:02, Guardian Service <g@x>\nwrote:\n> hi", "Yes."),
    ("Yes.\n________________________________\nFrom: Guardian\nSent: Monday", "Yes."),
    ("Yes.\nFrom: Guardian\nSent: Monday 4 May\n\nhi", "Yes."),
    ("Yes.\n> quoted\nand more\n\n\n\nlast\n-- \nA. Person, Booking office",
     "Yes.\nand more\n\nlast"),
])
def test_the_quoted_part_is_left_out(text, kept):
    mail = EmailMessage()
    mail.set_content(text)
    assert reply_text(mail) == kept


def test_a_long_reply_is_cut():
    mail = EmailMessage()
    mail.set_content("word " * 3000)
    body = reply_text(mail)
    assert len(body) <= 5000 and body.endswith("[cut: the email was longer]")


def environment(settings) -> dict[str, str]:
    return {"GUARDIAN_DATABASE_URL": settings.database_url,
            "GUARDIAN_VAR_DIR": str(settings.var_dir), "GUARDIAN_SECRET_KEY": SECRET,
            "GUARDIAN_MAIL_REPLY_TO": REPLY_TO}


@pytest.mark.one_backend
def test_cli_exit_codes(app, sent, settings, tmp_path, monkeypatch):
    for name, value in environment(settings).items():
        monkeypatch.setenv(name, value)
    good = reply(sent["Reply-To"])
    forged = reply(sent["Reply-To"].replace("+", "+f"))
    runner = CliRunner()

    mixed = write_mbox(tmp_path / "mixed.mbox", good, forged)
    result = runner.invoke(cli, ["mail", "ingest", str(mixed), "--json"])
    assert result.exit_code == 3, result.output
    out = json.loads(result.stdout)
    assert out["taken"] == 1 and out["already_had"] == 0
    assert len(out["refused"]) == 1 and "token" in out["refused"][0]["reason"]

    single = tmp_path / "reply.eml"
    single.write_bytes(good.as_bytes())
    result = runner.invoke(cli, ["mail", "ingest", str(single)])
    assert result.exit_code == 0, result.output
    assert "0 taken in, 1 already had, 0 refused" in result.stdout

    result = runner.invoke(cli, ["mail", "ingest", str(tmp_path / "missing.mbox")])
    assert result.exit_code == 1
    assert "cannot be read" in result.stderr
    assert len(received(app)) == 1


@pytest.mark.one_backend
def test_guardian_mail_listen_takes_replies_in_until_stopped(app, sent, settings):
    port = free_port()
    listener = subprocess.Popen(
        [sys.executable, "-m", "guardian.cli", "mail", "listen", "--port", str(port)],
        env={**os.environ, **environment(settings)}, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                client = smtplib.SMTP("127.0.0.1", port, timeout=5)
                break
            except OSError:
                assert listener.poll() is None, listener.stderr.read()
                assert time.monotonic() < deadline, "guardian mail listen did not start"
                time.sleep(0.1)
        with client:
            assert client.send_message(reply(sent["Reply-To"])) == {}
    finally:
        listener.send_signal(signal.SIGTERM)
        assert listener.wait(timeout=10) == 0
    [message] = received(app)
    assert message.body == ANSWER
