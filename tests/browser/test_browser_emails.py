"""docs/notifications.md "Daily summary" and "Weekly digest", end to end: the live server
(`guardian serve` on SQLite runs the dispatcher) e-mails a coordinator who chose one daily
summary and every practice its weekly digest through a real local SMTP server; each e-mail
is then opened in Chromium as its reader's mail program would show it, on a desktop and on
a phone, with screenshots.

The digest shown is that of a practice with new breaches in the week, workup it owes and a
message from it Guardian answered in the week (arranged with the application's commands
when the demo gave it none), and it must say those numbers, as counted here from the read
models' tables."""

from __future__ import annotations

import datetime as dt
import re
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

MEASURES = ("breaches", "workup", "answered")


def wait_for(live, subject_starts: str, to: str, subject_has: str = "",
             timeout: float = 45.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for m in list(live.mail):
            subject = str(m["Subject"])
            if subject.startswith(subject_starts) and subject_has in subject \
                    and to in str(m["To"]):
                return m
        time.sleep(0.5)
    rows = live.query("SELECT kind, recipient, status, last_error FROM notifications "
                      "WHERE kind IN ('daily-summary', 'weekly-digest') LIMIT 3")
    raise AssertionError(f"no e-mail {subject_starts!r} to {to} within {timeout:.0f} s; "
                         f"{len(live.mail)} received; rows {rows}:\n{live.log_tail()}")


def digest_counts(live, first: dt.date, last: dt.date) -> dict[str, dict[str, int]]:
    """Practice → what its digest for first..last must say, counted here with SQL on the
    read models' tables (docs/notifications.md "Weekly digest", the table of measures)."""
    week = (first.isoformat(), last.isoformat())
    out: dict[str, dict[str, int]] = {}
    for measure, sql, params in (
            ("breaches", "SELECT practice_code, count(*) FROM breach_facts WHERE breach_on "
                         "BETWEEN ? AND ? GROUP BY practice_code", week),
            ("workup", "SELECT practice_code, count(*) FROM pathway_intervals WHERE kind = "
                       "'practice-workup' AND ended_on IS NULL AND pathway_ended_on IS NULL "
                       "GROUP BY practice_code", ()),
            ("answered", "SELECT practice_code, count(*) FROM pathway_intervals WHERE kind = "
                         "'gp-message' AND ended_on BETWEEN ? AND ? GROUP BY practice_code",
             week)):
        for code, n in live.query(sql, params):
            out.setdefault(code, dict.fromkeys(MEASURES, 0))[measure] = n
    return out


def arrange_digest(live, app, first: dt.date, last: dt.date) -> tuple[str, dict[str, int]]:
    """A practice taking the digest, away from the demo coordinator's PCNs and the demo
    GP's practice, with new breaches in the week (the start-up sweep's); workup owed and a
    message answered in the week given to it by the application's commands when it has
    none. (The practice's code, what its digest must say.)"""
    pcns, gp = live.orgs["coordinator"], live.orgs["gp"]
    candidates = {code for (code,) in live.query(
        "SELECT c.code FROM org_contacts c JOIN organisations o ON o.practice_code = c.code "
        "WHERE c.kind = 'practice' AND c.weekly_digest AND c.email IS NOT NULL AND "
        f"o.pcn_code NOT IN ({', '.join('?' * len(pcns))})", tuple(pcns))} - set(gp)
    counts = digest_counts(live, first, last)
    practice = max((c for c in candidates if counts.get(c, {}).get("breaches")),
                   key=lambda c: (sum(map(bool, counts[c].values())),
                                  sum(counts[c].values()), c), default=None)
    assert practice, f"no practice taking the digest has a new breach in {first}..{last}"
    [(pid, provider, pathway_id)] = live.query(
        "SELECT patient_id, provider, pathway_id FROM worklist WHERE practice_code = ? "
        "ORDER BY received_on, provider, pathway_id LIMIT 1", (practice,))
    patient = uuid.UUID(hex=pid)
    if not counts[practice]["workup"]:
        app.require_workup_item(patient, provider, pathway_id, "emails-workup",
                                "Blood tests: full blood count", "practice")
    if not counts[practice]["answered"]:
        asked = dt.datetime.combine(first + dt.timedelta(days=2), dt.time(10), tzinfo=dt.UTC)
        app.receive_message(patient, provider, pathway_id, "emails-gp-question", "gp",
                            "Could the appointment be sooner? (browser test)",
                            "the practice's reception (browser test)", at=asked)
        app.mark_message_answered(patient, provider, pathway_id, "emails-gp-question",
                                  "browser test", on=first + dt.timedelta(days=3))
    deadline = time.monotonic() + 30  # the server's follower projects them
    while not all(digest_counts(live, first, last).get(practice, {}).values()):
        assert time.monotonic() < deadline, \
            f"{practice}'s digest counts stay {digest_counts(live, first, last).get(practice)}"
        time.sleep(0.3)
    return practice, digest_counts(live, first, last)[practice]


def said_in(text: str, expected: dict[str, int]) -> None:
    """The digest says each of the practice's numbers (in its HTML and plain-text words)."""
    patterns = {"breaches": r"New breaches\b[^:\n]*: {}\b",
                "workup": r"Workup the practice still owes: {}\b",
                "answered": r"Messages from the practice\b[^:\n]*answered this week: {}\b"}
    flat = " ".join(text.split())
    for measure, pattern in patterns.items():
        assert re.search(pattern.format(expected[measure]), flat), \
            f"the digest does not say {measure} {expected[measure]}:\n{text}"


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
        # The digest of the seven days to today (the week ending tomorrow): a week that the
        # scheduler, which makes the latest Friday's (at start-up too), has not made, so its
        # row is made here, after the data is arranged.
        today = app.today()
        week_ending = today + dt.timedelta(days=1)
        practice, expected = arrange_digest(live, app, week_ending - dt.timedelta(days=7),
                                            today)
        [(address,)] = live.query("SELECT email FROM org_contacts WHERE code = ?", (practice,))
        # the summary whose 07:00-to-07:00 window holds now (after midnight: today's)
        make_daily_summaries(app, summary_day(app.now(), app.settings.zone)
                             + dt.timedelta(days=1))
        make_weekly_digests(app, week_ending)
        with app.engine.begin() as conn:
            conn.execute(notifications.update().where(
                notifications.c.kind.in_(["daily-summary", "weekly-digest"]),
                notifications.c.status == "queued").values(
                    due_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)))
    finally:
        app.close()
    return {"daily-summary": (live.emails["coordinator"], "", None),
            "weekly-digest": (address, f"{today.day} {today:%B %Y}", expected)}


@pytest.mark.parametrize("kind,subject", [
    ("daily-summary", "Your Guardian daily summary"),
    ("weekly-digest", "Guardian weekly digest for"),
])
def test_the_email_reads_well_on_a_desktop_and_a_phone(live, new_context, shoot, queued,
                                                        kind, subject):
    to, week_to, expected = queued[kind]
    message = wait_for(live, subject, to, week_to)
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert "None" not in text and "http://guardian.test" in text
    if expected:
        assert all(expected.values()), expected
        said_in(text, expected)
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
        else:
            said_in(page.locator("body").inner_text(), expected)
        shoot(page, f"5{'0' if kind == 'daily-summary' else '1'}-{kind}-{name}")
