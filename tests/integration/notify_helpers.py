"""Real local servers for the notification tests: an SMTP server (aiosmtpd) that keeps
what it receives and can be stopped and started again on its port (also by itself, in the
middle of a batch, as a crash would), and an HTTP receiver for webhooks that answers with
the status it is told to and keeps each request. Also what the notification tests share:
the application on a database with the demo's organisations and two coordinators, and
referrals of patients of the 999 test range."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.message
import email.policy
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from sqlalchemy import select, update

SAM, KIM = "sam@guardian.test", "kim@guardian.test"  # coordinators of U90001 and U90002


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MailServer:
    """A real SMTP server on 127.0.0.1 keeping every message (parsed) it receives."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[email.message.EmailMessage] = []
        self.controller: Controller | None = None
        self.down_after: int | None = None  # messages kept before it goes down by itself
        self._stopper: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        if self.down_after is not None and len(self.messages) >= self.down_after:
            # the server dies with this message in hand: it is neither kept nor answered
            if self._stopper is None:
                self._stopper = threading.Thread(target=self.stop, daemon=True)
                self._stopper.start()
            await asyncio.sleep(60)  # cancelled by the stop
        self.messages.append(email.message_from_bytes(envelope.content,
                                                      policy=email.policy.default))
        return "250 OK"

    def go_down_after(self, kept: int) -> None:
        """Stop the server when the message after the next `kept` arrives."""
        self.down_after = len(self.messages) + kept

    def start(self) -> MailServer:
        if self._stopper is not None:  # it went down by itself: wait for that to finish
            self._stopper.join(10)
            self._stopper = None
        self.down_after = None
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        controller, self.controller = self.controller, None
        if controller is not None:
            controller.stop()

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


class WebhookReceiver:
    """An HTTP server answering each POST with `status` (after `delay` seconds)."""

    def __init__(self, status: int = 200, delay: float = 0.0) -> None:
        self.status, self.delay = status, delay
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append((dict(self.headers), body))
                time.sleep(receiver.delay)
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------------------- the app


def make_app(database_url: str, tmp_path, mail: MailServer, **settings):
    """Guardian on an initialised database with the demo's organisations, e-mail through
    `mail`, and the coordinators SAM (PCN U90001, user 1) and KIM (U90002, user 2)."""
    from guardian import users
    from guardian.bootstrap import build_app, init_database
    from guardian.config import Settings
    from guardian.demo import ORGS_FILE
    from guardian.orgs import load_orgs, read_org_file

    guardian = build_app(Settings(
        database_url=database_url, var_dir=tmp_path, secret_key="k", smtp_url=mail.url,
        base_url="https://guardian.example", mail_reply_to="guardian@replies.example",
        **settings))
    init_database(guardian)
    load_orgs(guardian.engine, read_org_file(ORGS_FILE))
    users.add_user(guardian.engine, SAM, "coordinator", ["U90001"], "pw-123456789",
                   display_name="Sam Taylor")
    users.add_user(guardian.engine, KIM, "coordinator", ["U90002"], "pw-123456789")
    return guardian


def nhs(n: int) -> str:
    """A valid NHS number of the 999 test range, the n-th or just after."""
    from guardian.domain.identifiers import nhs_check_digit

    for k in range(n, n + 50):
        nine = f"999{k:06d}"
        digit = nhs_check_digit(nine)
        if digit is not None:
            return f"{nine}{digit}"
    raise AssertionError("no NHS number")


def refer(app, n: int, practice: str = "Y90001", weeks: int = 12, email: str | None = None,
          pathway: str = "N-1", days: int | None = None, tf: str = "320",
          ended_on: dt.date | None = None):
    """A referral (cardiology by default) at RAJ whose clock started `weeks` weeks (or
    `days` days) ago, stopped on `ended_on` if given; its patient. Again with the same `n`
    and pathway and another practice: the patient registered with that practice."""
    from guardian.domain.report import ReferralReport

    today = app.today()
    start = today - dt.timedelta(days=days if days is not None else 7 * weeks)
    report = ReferralReport(
        provider="RAJ", pathway_id=pathway, nhs_number=nhs(n),
        birth_date=dt.date(1960, 1, 1), practice_code=practice, treatment_function=tf,
        priority=1, waiting_list_type="ORTT", received_on=start, clock_start=start,
        clock_end=ended_on, as_of=today, given_name="Ada", family_name="Test", email=email)
    app.apply_reports([report])
    return app.patient_id(report.nhs_number)


def flag(app, pid, flag_id="f1", pathway="N-1"):
    app.flag_deterioration(pid, flag_id, "more breathless", "patient", provider="RAJ",
                           pathway_id=pathway)


def rows(app, **where):
    from guardian.notifications.schema import notifications as n

    q = select(n)
    for k, v in where.items():
        q = q.where(n.c[k] == v)
    with app.engine.connect() as conn:
        return list(conn.execute(q.order_by(n.c.id)))


def make_due(app):
    """Every queued row due now (as if the wait before trying again had passed)."""
    from guardian.notifications.schema import notifications as n

    with app.engine.begin() as conn:
        conn.execute(update(n).where(n.c.status == "queued")
                     .values(due_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)))
