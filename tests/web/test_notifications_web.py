"""The web side of notifications (docs/notifications.md): the inbox (scope checked again
when listing, unread count in the header, mark read, open an item), the user's email
alert settings, the admin's outbox page (404 to others; send a parked row again, and a
webhook that failed until it was parked sent again from the page to a real receiver),
letters to print (scope, the stored page, mark as printed) and the patient's contact
preference on the patient page. Inbox rows come from the real pipeline: a deterioration
flagged on a patient, then the dispatcher."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import insert, select
from web_helpers import ACCOUNTS, PASSWORD, csrf_of, referred_patient, sign_in

from guardian import audit, users
from guardian.notifications.contacts import add_hook
from guardian.notifications.dispatcher import Dispatcher
from guardian.notifications.schema import (
    letters,
    notification_preferences,
    notifications,
)

OTHER = "olu@guardian.test"  # a coordinator of PCN U90003 only
COORDINATOR = ACCOUNTS["coordinator"][0]


def text_of(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def user_id(engine, email: str) -> int:
    return users.find_user(engine, email).id


def flagged(client) -> tuple[str, str]:
    """A deterioration flagged today on a patient of U90001 (the coordinator's) and one of
    U90003 (OTHER's), sent by the dispatcher: (our patient's id, theirs)."""
    guardian = client.app.state.guardian
    users.add_user(guardian.engine, OTHER, "coordinator", ["U90003"], PASSWORD)
    ours, pathway = referred_patient(guardian)
    theirs, their_pathway = referred_patient(guardian, "INPUT-2", "9995260190", "Y90016")
    for pid, key in ((ours, pathway), (theirs, their_pathway)):
        provider, pathway_id = key.split("|")
        guardian.flag_deterioration(uuid.UUID(pid), f"f-{pid[:6]}", "Pain much worse",
                                    "coordinator", provider, pathway_id)
    client.app.state.runner.run_once()
    Dispatcher(guardian).run_once()
    return ours, theirs


def inbox_rows(engine, email: str) -> list:
    uid = user_id(engine, email)
    with engine.connect() as conn:
        return list(conn.execute(select(notifications).where(
            notifications.c.user_id == uid,
            notifications.c.channel == "inbox")))


def test_the_inbox_lists_ones_own_rows_in_scope_and_marks_them_read(client):
    engine = client.app.state.guardian.engine
    ours, theirs = flagged(client)
    [mine] = inbox_rows(engine, COORDINATOR)
    [other] = inbox_rows(engine, OTHER)
    assert mine.status == other.status == "sent" and mine.patient_id == ours

    # a row of the coordinator's about another PCN's pathway (they lost it): never shown
    with engine.begin() as conn:
        stray = conn.execute(insert(notifications).values(
            key="stray", kind="breach", channel="inbox",
            recipient=f"user:{mine.user_id}", user_id=mine.user_id, patient_id=theirs,
            provider="RAJ", pathway_id="INPUT-2", context=other.context,
            created_at=mine.created_at, due_at=mine.created_at, status="sent",
            attempts=0)).inserted_primary_key[0]

    sign_in(client, "coordinator")
    page = client.get("/inbox")
    assert page.status_code == 200
    said = text_of(page.text)
    assert "A patient reported getting worse: EXAMPLE, Ada" in said
    assert "Synthetic Basildon Town Centre Surgery (demo)" in said  # the practice by name
    assert "Unread" in said and f'href="/inbox/{mine.id}"' in page.text
    assert f"/inbox/{stray}" not in page.text and f"/inbox/{other.id}" not in page.text
    # the header's count is the cheap one (own unread rows)
    assert re.search(r'guardian-inbox-link" href="/inbox">Inbox \(2\)', page.text)

    token = csrf_of(client)
    # another user's row, an out-of-scope row and an unknown one: the same 404
    for ident in (other.id, stray, 999999):
        assert client.post(f"/inbox/{ident}/read", data={"csrf_token": token},
                           follow_redirects=False).status_code == 404
        assert client.get(f"/inbox/{ident}", follow_redirects=False).status_code == 404
    # without the CSRF token: refused
    assert client.post(f"/inbox/{mine.id}/read", follow_redirects=False).status_code == 403

    done = client.post(f"/inbox/{mine.id}/read", data={"csrf_token": token},
                       follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/inbox"
    mine = next(r for r in inbox_rows(engine, COORDINATOR) if r.id == mine.id)
    assert mine.read_at is not None
    page = client.get("/inbox").text
    assert "Everything is read" in text_of(page), text_of(page)

    # opening an item marks it read and goes to the patient
    with engine.begin() as conn:
        conn.execute(notifications.update().where(notifications.c.id == mine.id)
                     .values(read_at=None))
    opened = client.get(f"/inbox/{mine.id}", follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"] == f"/patients/{ours}"
    assert next(r for r in inbox_rows(engine, COORDINATOR) if r.id == mine.id).read_at

    # the other coordinator sees theirs only, and marks all read
    sign_in(client, OTHER)
    said = text_of(client.get("/inbox").text)
    assert "EXAMPLE, Ada" in said and "Inbox (1)" in said
    assert client.post("/inbox/read-all", data={"csrf_token": csrf_of(client)},
                       follow_redirects=False).status_code == 303
    assert all(r.read_at is not None for r in inbox_rows(engine, OTHER))
    assert "Inbox (1)" not in text_of(client.get("/inbox").text)
    with engine.connect() as conn:
        actions = {e.action for e in audit.entries(conn, email=OTHER, limit=20)}
    assert {"view-inbox", "inbox-read"} <= actions


@pytest.mark.one_backend
def test_an_empty_inbox_pages_and_who_may_open_it(client):
    engine = client.app.state.guardian.engine
    uid = user_id(engine, COORDINATOR)
    now = dt.datetime.now(dt.UTC)
    ours, _ = referred_patient(client.app.state.guardian)
    client.app.state.runner.run_once()
    context = json.dumps({"practice_code": "Y90001", "pcn_code": "U90001",
                          "treatment_function": "110", "on": now.date().isoformat()})
    with engine.begin() as conn:
        conn.execute(insert(notifications), [
            {"key": f"k{i}", "kind": "message-waiting", "channel": "inbox",
             "recipient": f"user:{uid}", "user_id": uid, "patient_id": ours,
             "provider": "RAJ", "pathway_id": "INPUT-1", "context": context,
             "created_at": now, "due_at": now, "status": "sent", "attempts": 0}
            for i in range(55)])
    sign_in(client, "coordinator")
    first = client.get("/inbox").text
    assert first.count('class="guardian-inbox-item') == 50 and "Inbox (55)" in first
    older = re.search(r'href="/inbox\?before=(\d+)"', first).group(1)
    assert client.get(f"/inbox?before={older}").text.count('class="guardian-inbox-item') == 5
    sign_in(client, "gp")
    assert "Nothing yet" in client.get("/inbox").text
    assert "Inbox (" not in client.get("/gp").text  # the header link is for coordinators
    sign_in(client, "place-lead")
    assert client.get("/inbox").status_code == 404


def test_settings_every_choice_and_refusals_keep_what_was_typed(client):
    engine = client.app.state.guardian.engine
    sign_in(client, "coordinator")
    page = client.get("/inbox/settings")
    assert page.status_code == 200
    offered = re.findall(r'name="email_mode" type="radio" value="([^"]+)"', page.text)
    assert offered == ["immediate", "daily"]
    token = csrf_of(client)

    def save(**form):
        return client.post("/inbox/settings", data={"csrf_token": token, **form},
                           follow_redirects=False)

    def stored():
        with engine.connect() as conn:
            return conn.execute(select(notification_preferences)).one()

    for mode in offered:
        assert save(email_mode=mode, quiet_from="", quiet_until="").status_code == 303
        assert stored().email_mode == mode and stored().quiet_from is None
    assert save(email_mode="immediate", quiet_from="22:00",
                quiet_until="07:30").status_code == 303
    row = stored()
    assert (row.email_mode, row.quiet_from, row.quiet_until) == ("immediate", "22:00", "07:30")
    page = client.get("/inbox/settings?saved=1").text
    assert "Your choices are saved" in page and 'value="22:00"' in page

    for form, problem in (
            ({"email_mode": "daily", "quiet_from": "25:00", "quiet_until": "07:00"},
             "Enter the time as HH:MM"),
            ({"email_mode": "daily", "quiet_from": "22:00", "quiet_until": ""},
             "Enter both times of the quiet hours, or neither"),
            ({"email_mode": "daily", "quiet_from": "", "quiet_until": "7.30"},
             "Enter the time as HH:MM"),
            ({"email_mode": "daily", "quiet_from": "08:00", "quiet_until": "08:00"},
             "must end at another time"),
            ({"email_mode": "hourly", "quiet_from": "", "quiet_until": ""},
             "Choose when to get email alerts")):
        refused = save(**form)
        assert refused.status_code == 422, form
        assert problem in refused.text and "There is a problem" in refused.text
        for name in ("quiet_from", "quiet_until"):
            if form[name]:
                assert f'value="{form[name]}"' in refused.text  # kept as typed
    assert stored().quiet_from == "22:00"  # nothing refused was written


def parked_row(engine, recipient: str = "practice:Y90001") -> int:
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        return conn.execute(insert(notifications).values(
            key=f"parked|{recipient}", kind="thread-message", channel="email",
            recipient=recipient, patient_id=uuid.uuid4().hex, provider="RAJ",
            pathway_id="P-1", context="{}", created_at=now, due_at=now, status="parked",
            attempts=8, last_error="550 mailbox unavailable")).inserted_primary_key[0]


def test_the_admins_outbox_page_and_send_again(client):
    engine = client.app.state.guardian.engine
    flagged(client)
    parked = parked_row(engine)
    for role in ("coordinator", "gp", "place-lead"):
        sign_in(client, role)
        assert client.get("/admin/notifications").status_code == 404
        assert client.post(f"/admin/notifications/{parked}/resend",
                           data={"csrf_token": csrf_of(client)},
                           follow_redirects=False).status_code == 404
    sign_in(client, "admin")
    page = client.get("/admin/notifications")
    assert page.status_code == 200
    said = text_of(page.text)
    assert "Synthetic Basildon Town Centre Surgery (demo) (email)" in said  # by name
    assert "550 mailbox unavailable" in said and "Send again" in said
    assert "A patient reported getting worse" in said  # by kind and in the attempts
    assert "Skipped" in said  # the coordinators' e-mails: no GUARDIAN_SMTP_URL
    sent = client.post(f"/admin/notifications/{parked}/resend",
                       data={"csrf_token": csrf_of(client)}, follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"].endswith("resent=1")
    with engine.connect() as conn:
        row = conn.execute(select(notifications).where(notifications.c.id == parked)).one()
        assert (row.status, row.attempts) == ("queued", 0)
        actions = [e.action for e in audit.entries(conn, email=ACCOUNTS["admin"][0])]
    assert "notification-resend" in actions and "view-outbox" in actions
    again = client.post(f"/admin/notifications/{parked}/resend",
                        data={"csrf_token": csrf_of(client)}, follow_redirects=False)
    assert again.headers["location"].endswith("resent=0")
    assert "no longer parked" in client.get(again.headers["location"]).text


class Receiver:
    """A real HTTP server for a webhook: answers each POST with `status`, keeps the
    requests' `Guardian-Notification` headers."""

    def __init__(self) -> None:
        self.status, self.keys = 500, []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.keys.append(self.headers["Guardian-Notification"])
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.one_backend
def test_a_webhook_parked_after_failing_is_sent_again_from_the_outbox_page(client):
    guardian = client.app.state.guardian
    guardian.settings.notify_max_attempts = 2
    receiver = Receiver()
    try:
        add_hook(guardian.engine, name="Basildon practice system", url=receiver.url,
                 practice="Y90001", provider=None, kinds=["deterioration"], secret="s",
                 now=dt.datetime.now(dt.UTC))
        pid, _ = referred_patient(guardian)
        client.app.state.runner.run_once()
        guardian.flag_deterioration(uuid.UUID(pid), "f1", "Pain much worse", "coordinator",
                                    "RAJ", "INPUT-1")
        for _ in range(2):  # the receiver answers 500: tried again, then parked
            Dispatcher(guardian).run_once()
            with guardian.engine.begin() as conn:
                conn.execute(notifications.update().where(notifications.c.status == "queued")
                             .values(due_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)))
        with guardian.engine.connect() as conn:
            [row] = conn.execute(select(notifications).where(
                notifications.c.channel == "webhook")).all()
        assert (row.status, row.attempts) == ("parked", 2) and len(receiver.keys) == 2

        sign_in(client, "admin")
        page = client.get("/admin/notifications").text
        parked = text_of(page.split('id="parked"', 1)[1].split("Last attempts", 1)[0])
        assert ("What A patient reported getting worse To Webhook Basildon practice system "
                "(webhook) Failures 2 Last error the receiver answered 500") in parked
        assert f'action="/admin/notifications/{row.id}/resend"' in page
        sent = client.post(f"/admin/notifications/{row.id}/resend",
                           data={"csrf_token": csrf_of(client)}, follow_redirects=False)
        assert sent.status_code == 303 and sent.headers["location"].endswith("resent=1")

        receiver.status = 200  # the receiver is mended
        assert Dispatcher(guardian).run_once().sent == 1
        with guardian.engine.connect() as conn:
            row = conn.execute(select(notifications).where(notifications.c.id == row.id)).one()
        assert row.status == "sent" and row.sent_at is not None
        assert receiver.keys == [row.key] * 3  # the same notification, three times
        page = client.get("/admin/notifications").text
        assert "Nothing is parked." in page
        assert f"/admin/notifications/{row.id}/resend" not in page
    finally:
        receiver.close()

def test_letters_in_scope_open_and_are_marked_printed(client):
    engine = client.app.state.guardian.engine
    ours, _ = referred_patient(client.app.state.guardian)
    client.app.state.runner.run_once()
    now = dt.datetime.now(dt.UTC)
    ids = {}
    with engine.begin() as conn:
        for pcn in ("U90001", "U90003"):
            ids[pcn] = conn.execute(insert(notifications).values(
                key=f"letter|{pcn}", kind="patient-check-in", channel="letter",
                recipient="patient", patient_id=ours, provider="RAJ", pathway_id="INPUT-1",
                context="{}", created_at=now, due_at=now, status="sent",
                attempts=0)).inserted_primary_key[0]
            conn.execute(insert(letters).values(
                notification_id=ids[pcn], patient_id=ours, pcn_code=pcn,
                html=f"<!DOCTYPE html><p style=\"color:red\">Dear Ada ({pcn})</p>",
                made_at=now))
    sign_in(client, "gp")
    assert client.get("/letters").status_code == 404
    sign_in(client, "coordinator")
    page = client.get("/letters")
    said = text_of(page.text)
    assert "EXAMPLE, Ada" in said and "Demo Basildon Central PCN" in said
    assert f"/letters/{ids['U90001']}" in page.text and f"/letters/{ids['U90003']}" not in page.text
    letter = client.get(f"/letters/{ids['U90001']}")
    assert letter.status_code == 200 and "Dear Ada (U90001)" in letter.text
    assert "style-src 'unsafe-inline'" in letter.headers["content-security-policy"]
    assert "script-src" not in letter.headers["content-security-policy"]
    token = csrf_of(client)
    for unknown in (ids["U90003"], 999999):
        assert client.get(f"/letters/{unknown}").status_code == 404
        assert client.post(f"/letters/{unknown}/printed", data={"csrf_token": token},
                           follow_redirects=False).status_code == 404
    done = client.post(f"/letters/{ids['U90001']}/printed", data={"csrf_token": token},
                       follow_redirects=False)
    assert done.status_code == 303
    with engine.connect() as conn:
        row = conn.execute(select(letters).where(
            letters.c.notification_id == ids["U90001"])).one()
    assert row.printed_at is not None and row.printed_by == COORDINATOR
    after = client.get(done.headers["location"]).text
    assert "Recorded as printed" in after and "No letters to print" in after
    sign_in(client, "admin")
    assert f"/letters/{ids['U90003']}" in client.get("/letters").text  # every PCN


@pytest.mark.one_backend
def test_the_patients_contact_preference_every_choice(client):
    guardian = client.app.state.guardian
    pid, _ = referred_patient(guardian)
    client.app.state.runner.run_once()
    sign_in(client, "coordinator")
    page = client.get(f"/patients/{pid}").text
    offered = re.findall(r'name="preference" type="radio" value="([^"]+)"', page)
    assert offered == ["email", "letter", "none"]
    assert "not recorded (by letter until it is)" in text_of(page)
    token = csrf_of(client)

    def choose(value: str):
        return client.post(f"/patients/{pid}/contact-preference",
                           data={"csrf_token": token, "preference": value},
                           follow_redirects=False)

    refused = choose("email")  # no address on record: the domain's message
    assert refused.status_code == 422
    assert "There is no email address for this patient; choose a letter" in refused.text
    assert choose("").status_code == 422
    for value, said in (("letter", "by letter"), ("none", "do not contact")):
        done = choose(value)
        assert done.status_code == 303, done.text
        assert guardian.get_patient(uuid.UUID(pid)).contact_preference == value
        assert f"How to contact the patient: {said}" in text_of(client.get(f"/patients/{pid}").text)
    # a patient with an address can be written to by e-mail
    from guardian.domain.report import ReferralReport

    today = guardian.today()
    [outcome] = guardian.apply_reports([ReferralReport(
        provider="RAJ", pathway_id="INPUT-9", nhs_number="9995260204",
        birth_date=dt.date(1970, 1, 1), practice_code="Y90001", treatment_function="110",
        priority=2, waiting_list_type="ORTT", received_on=today, clock_start=today,
        as_of=today, given_name="Bea", family_name="Mail", email="bea@example.invalid")])
    client.app.state.runner.run_once()
    other = outcome.patient_id.hex
    assert client.post(f"/patients/{other}/contact-preference",
                       data={"csrf_token": token, "preference": "email"},
                       follow_redirects=False).status_code == 303
    assert guardian.get_patient(outcome.patient_id).contact_preference == "email"
    sign_in(client, "gp")
    assert client.post(f"/patients/{pid}/contact-preference",
                       data={"csrf_token": csrf_of(client), "preference": "letter"},
                       follow_redirects=False).status_code == 404
