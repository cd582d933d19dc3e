"""docs/notifications.md "Sending" and "Webhooks", and docs/access.md "Notification pages",
in a real browser: a practice's webhook receiver on 127.0.0.1 refuses Guardian's signature
(it was given the wrong secret: 401, which trying again cannot help), so the live server's
dispatcher parks the deterioration it was sent; the admin finds it on the outbox page with
the receiver's answer, the receiver is put right, the admin presses "Send again", and it
goes, signed and with the same notification key. Screenshots 43 (parked) and 44 (sent
again)."""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect
from sqlalchemy import delete

from guardian.bootstrap import build_app
from guardian.config import Settings
from guardian.notifications.channels.webhook import KEY_HEADER, SIGNATURE_HEADER, verify
from guardian.notifications.contacts import add_hook
from guardian.notifications.schema import webhooks

HOOK = "Practice system (browser test)"
SUMMARY = "Short of breath at rest since this morning (browser test)"


class Receiver:
    """A webhook receiver: 200 for a body signed with `secret`, else 401. Keeps each
    request's notification key and whether its signature was good."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.seen: list[tuple[str, bool]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                good = verify(receiver.secret, self.headers.get(SIGNATURE_HEADER, ""), body)
                receiver.seen.append((self.headers.get(KEY_HEADER, ""), good))
                self.send_response(200 if good else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/guardian"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver(secret="not-the-secret-guardian-signs-with")
    yield r
    r.close()


@pytest.fixture
def app(live, tmp_path_factory):
    """The live store in this process; the test's webhook removed afterwards, as `guardian
    webhooks remove` does."""
    guardian = build_app(Settings(database_url=f"sqlite:///{live.db_path}",
                                  var_dir=tmp_path_factory.mktemp("outbox"),
                                  secret_key="browser-outbox", base_url="http://guardian.test"))
    yield guardian
    with guardian.engine.begin() as conn:
        conn.execute(delete(webhooks).where(webhooks.c.name == HOOK))
    guardian.close()


def row_of(live, hook_id: int) -> tuple | None:
    found = live.query("SELECT id, key, status, attempts, last_error FROM notifications "
                       "WHERE channel = 'webhook' AND recipient = ?", (f"webhook:{hook_id}",))
    assert len(found) <= 1, found
    return found[0] if found else None


def wait_for_status(live, hook_id: int, status: str, timeout: float = 30.0) -> tuple:
    deadline = time.monotonic() + timeout
    while True:
        row = row_of(live, hook_id)
        if row and row[2] == status:
            return row
        assert time.monotonic() < deadline, \
            f"the webhook's row is {row}, not {status}, after {timeout:.0f} s:\n" \
            f"{live.log_tail()}"
        time.sleep(0.3)


def test_a_parked_webhook_is_sent_again_by_the_admin(live, signed_in, shoot, receiver, app):
    # a pathway outside the demo coordinator's PCNs and the demo GP's practice (whose
    # inboxes and counts the other browser tests read)
    pcns, practices = live.orgs["coordinator"], live.orgs["gp"]
    [(patient_id, provider, pathway_id, practice)] = live.query(
        "SELECT patient_id, provider, pathway_id, practice_code FROM worklist WHERE "
        f"(pcn_code IS NULL OR pcn_code NOT IN ({', '.join('?' * len(pcns))})) AND "
        f"practice_code NOT IN ({', '.join('?' * len(practices))}) "
        "ORDER BY patient_id, provider, pathway_id LIMIT 1", tuple(pcns) + tuple(practices))
    secret = secrets.token_hex(32)  # what `guardian webhooks add` prints once
    hook_id = add_hook(app.engine, name=HOOK, url=receiver.url, practice=practice,
                       provider=None, kinds=["deterioration"], secret=secret,
                       now=dt.datetime.now(dt.UTC))
    app.flag_deterioration(uuid.UUID(hex=patient_id), f"outbox-{os.urandom(4).hex()}",
                           SUMMARY, "gp", provider=provider, pathway_id=pathway_id)
    row_id, key, _, attempts, error = wait_for_status(live, hook_id, "parked")
    assert (attempts, error) == (1, "the receiver answered 401"), (attempts, error)
    assert receiver.seen == [(key, False)]

    page = signed_in("admin")
    with page.expect_navigation():
        page.locator("header").get_by_role("link", name="Notifications").click()
    expect(page).to_have_url(live.url("/admin/notifications"))
    parked = page.locator(f'[id="parked-{row_id}"]')
    expect(parked).to_contain_text("A patient reported getting worse")
    expect(parked).to_contain_text(f"Webhook {HOOK} (webhook)")
    expect(parked).to_contain_text("the receiver answered 401")
    expect(parked.locator("td").nth(2)).to_contain_text("1")  # failures
    parked.scroll_into_view_if_needed()
    shoot(page, "43-outbox-parked")

    receiver.secret = secret  # the practice puts its receiver right
    with page.expect_navigation():
        parked.get_by_role("button", name=re.compile(r"^Send again")).click()
    expect(page).to_have_url(live.url("/admin/notifications?resent=1"))
    expect(page.locator("main")).to_contain_text("Queued to be sent again")
    wait_for_status(live, hook_id, "sent")
    assert receiver.seen == [(key, False), (key, True)]  # the same key: a receiver can tell

    page.goto("/admin/notifications")
    expect(page.locator(f'[id="parked-{row_id}"]')).to_have_count(0)
    last = page.locator("table").filter(has_text="Outcome").locator("tbody tr")
    expect(last.filter(has_text=f"Webhook {HOOK}").first).to_contain_text("Sent")
    expect(last.filter(has_text=f"Webhook {HOOK}").nth(1)).to_contain_text("Failed")
    shoot(page, "44-outbox-sent-again")
    actions = live.query("SELECT detail FROM audit_log WHERE action = 'notification-resend' "
                         "AND user_email = ?", (live.emails["admin"],))
    assert (f"notification {row_id}",) in actions, actions
