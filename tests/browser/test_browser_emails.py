"""docs/notifications.md "Daily summary" and "Weekly digest", end to end: the live server
(`guardian serve` on SQLite runs the dispatcher) e-mails a coordinator who chose one daily
summary and every practice its weekly digest through a real local SMTP server; each e-mail
is then opened in Chromium as its reader's mail program would show it, on a desktop and on
a phone, with screenshots."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import pytest

from guardian.bootstrap import build_app
from guardian.config import Settings
from guardian.notifications.digests import (
    make_daily_summaries,
    make_weekly_digests,
    summary_day,
)
from guardian.notifications.schema import notification_preferences, notifications
from guardian.store import dialect_insert


def wait_for(live, subject_starts: str, to: str | None = None, timeout: float = 45.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for m in list(live.mail):
            if str(m["Subject"]).startswith(subject_starts) and (to is None or m["To"] == to):
                return m
        time.sleep(0.5)
    rows = live.query("SELECT kind, recipient, status, last_error FROM notifications "
                      "WHERE kind IN ('daily-summary', 'weekly-digest') LIMIT 3")
    raise AssertionError(f"no e-mail {subject_starts!r} to {to} within {timeout:.0f} s; "
                         f"{len(live.mail)} received; rows {rows}:\n{live.log_tail()}")


@pytest.fixture(scope="module")
def queued(live, tmp_path_factory):
    """The daily summary of the demo coordinator and every practice's weekly digest, made
    as the scheduler's 07:00 jobs make them and due now."""
    app = build_app(Settings(database_url=f"sqlite:///{live.db_path}",
                             var_dir=tmp_path_factory.mktemp("emails"),
                             secret_key="browser-emails", base_url="http://guardian.test"))
    try:
        with app.engine.begin() as conn:
            user_id = conn.execute(
                notification_preferences.metadata.tables["users"].select().where(
                    notification_preferences.metadata.tables["users"].c.email
                    == live.emails["coordinator"])).first().id
            stmt = dialect_insert(conn, notification_preferences).values(
                user_id=user_id, email_mode="daily")
            conn.execute(stmt.on_conflict_do_update(index_elements=["user_id"],
                                                    set_={"email_mode": "daily"}))
        # something new for the coordinator today: a deterioration on one of their pathways,
        # which the server's dispatcher puts in their inbox
        pcns = live.orgs["coordinator"]
        [(patient_id, provider, pathway_id)] = live.query(
            "SELECT patient_id, provider, pathway_id FROM worklist WHERE pcn_code IN "
            f"({', '.join('?' * len(pcns))}) ORDER BY patient_id LIMIT 1", tuple(pcns))
        app.flag_deterioration(uuid.UUID(hex=patient_id), "emails-1", "more breathless",
                               "patient", provider=provider, pathway_id=pathway_id)
        deadline = time.monotonic() + 30
        while not live.query("SELECT 1 FROM notifications WHERE user_id = ? AND channel = "
                             "'inbox' AND patient_id = ? AND kind = 'deterioration'",
                             (user_id, patient_id)):
            assert time.monotonic() < deadline, "the deterioration never reached the inbox"
            time.sleep(0.3)
        today = app.today()
        # the summary whose 07:00-to-07:00 window holds now (after midnight: today's)
        make_daily_summaries(app, summary_day(app.now(), app.settings.zone)
                             + dt.timedelta(days=1))
        make_weekly_digests(app, today)
        with app.engine.begin() as conn:
            conn.execute(notifications.update().where(
                notifications.c.kind.in_(["daily-summary", "weekly-digest"]),
                notifications.c.status == "queued").values(
                    due_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)))
    finally:
        app.close()
    return True


@pytest.mark.parametrize("kind,subject,to_role", [
    ("daily-summary", "Your Guardian daily summary", "coordinator"),
    ("weekly-digest", "Guardian weekly digest for", None),
])
def test_the_email_reads_well_on_a_desktop_and_a_phone(live, new_context, shoot, queued,
                                                        kind, subject, to_role):
    message = wait_for(live, subject, live.emails[to_role] if to_role else None)
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert "None" not in text and "http://guardian.test" in text
    for width, name in ((1366, "desktop"), (390, "phone")):
        page = new_context(width).new_page()
        page.set_content(html)
        assert page.locator("body").inner_text().strip()
        # no sideways scrolling on a phone: the layout is one column at most 640 px wide
        overflow = page.evaluate("document.documentElement.scrollWidth - "
                                 "document.documentElement.clientWidth")
        assert overflow <= 1, f"{kind} scrolls sideways by {overflow} px at {width} px"
        if kind == "daily-summary":
            assert page.get_by_role("link").count() >= 1  # each item links to its patient
        shoot(page, f"5{'0' if kind == 'daily-summary' else '1'}-{kind}-{name}")
