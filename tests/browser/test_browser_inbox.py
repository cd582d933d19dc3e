"""docs/notifications.md "The inbox", in a real browser: a coordinator sees how many
notifications are unread in the page header, opens the inbox, reads one in words (the
patient by name, the practice by name), follows it to the patient's page, and on coming
back finds it read and the count one less. The notifications are written straight into the
live server's store, as the dispatcher writes an inbox row."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sqlite3
import time

from playwright.sync_api import expect


def unread_of(live, user_id: int) -> int:
    [(count,)] = live.query(
        "SELECT count(*) FROM notifications WHERE user_id = ? AND channel = 'inbox' "
        "AND status = 'sent' AND read_at IS NULL", (user_id,))
    return count


def settled_unread(live, user_id: int, timeout: float = 30.0) -> int:
    """The unread count once the server's dispatcher (inside `guardian serve` on SQLite)
    has stopped adding rows from the demo's events: the same for two seconds."""
    deadline = time.monotonic() + timeout
    last = unread_of(live, user_id)
    while time.monotonic() < deadline:
        time.sleep(2)
        now = unread_of(live, user_id)
        if now == last:
            return now
        last = now
    return last


def inbox_rows_for(live, how_many: int) -> tuple[int, list[int], str, str]:
    """`how_many` unread inbox rows for the coordinator about one patient of their PCNs:
    (their user id, the rows' ids, the patient id, the patient's family name)."""
    [(user_id,)] = live.query("SELECT id FROM users WHERE email = ?",
                              (live.emails["coordinator"],))
    pcns = live.orgs["coordinator"]
    marks = ", ".join("?" for _ in pcns)
    [(pid, provider, pathway_id, practice, pcn, tf, family)] = live.query(
        "SELECT patient_id, provider, pathway_id, practice_code, pcn_code, "
        f"treatment_function, family_name FROM worklist WHERE pcn_code IN ({marks}) "
        "AND family_name IS NOT NULL ORDER BY provider, pathway_id LIMIT 1", tuple(pcns))
    now = dt.datetime.now(dt.UTC)
    stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f")
    context = json.dumps({"practice_code": practice, "pcn_code": pcn,
                          "treatment_function": tf, "priority": 2,
                          "on": now.date().isoformat()})
    conn = sqlite3.connect(live.db_path, timeout=30)
    ids = []
    try:
        with conn:
            for kind in ("deterioration", "message-waiting")[:how_many]:
                cur = conn.execute(
                    "INSERT INTO notifications (key, kind, channel, recipient, user_id, "
                    "patient_id, provider, pathway_id, context, created_at, due_at, status, "
                    "attempts, sent_at) VALUES (?, ?, 'inbox', ?, ?, ?, ?, ?, ?, ?, ?, 'sent', "
                    "0, ?)",
                    (f"browser-{os.urandom(6).hex()}|{kind}|user:{user_id}|inbox", kind,
                     f"user:{user_id}", user_id, pid, provider, pathway_id, context, stamp,
                     stamp, stamp))
                ids.append(cur.lastrowid)
    finally:
        conn.close()
    return user_id, ids, pid, family


def test_the_unread_count_the_inbox_and_an_item_to_the_patient(signed_in, live, shoot):
    [(user_id,)] = live.query("SELECT id FROM users WHERE email = ?",
                              (live.emails["coordinator"],))
    settled_unread(live, user_id)
    user_id, ids, pid, family = inbox_rows_for(live, 2)
    unread = unread_of(live, user_id)
    assert unread >= 2

    page = signed_in("coordinator")
    link = page.locator("header a.guardian-inbox-link")
    expect(link).to_have_text(re.compile(rf"Inbox \({unread}\)"))
    shoot(page, "40-inbox-count")

    link.click()
    expect(page).to_have_url(live.url("/inbox"))
    expect(page.get_by_role("heading", name="Inbox", exact=True)).to_be_visible()
    newest = page.locator(f"#inbox-{ids[-1]}")
    expect(newest).to_contain_text("Unread")
    expect(newest).to_contain_text("A message is waiting for the Guardian team")
    expect(newest).to_contain_text(family.upper())
    expect(page.locator(f"#inbox-{ids[0]}")).to_contain_text(
        "A patient reported getting worse")
    shoot(page, "41-inbox")

    # one marked read with its button (htmx swaps the page in place)
    page.locator(f"#inbox-{ids[0]}").get_by_role("button", name=re.compile("Mark as read")
                                                 ).click()
    expect(page.locator(f"#inbox-{ids[0]}")).not_to_contain_text("Unread")
    expect(page.locator("header a.guardian-inbox-link")).to_have_text(
        re.compile(rf"Inbox \({unread - 1}\)"))

    # the other followed to the patient's page: read on the way
    newest.get_by_role("link").click()
    expect(page).to_have_url(live.url(f"/patients/{pid}"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(family.upper())
    expect(page.locator("header a.guardian-inbox-link")).to_have_text(
        re.compile(rf"Inbox( \({unread - 2}\))?"))
    assert unread_of(live, user_id) == unread - 2

    page.go_back()
    page.reload()
    expect(page.locator(f"#inbox-{ids[-1]}")).not_to_contain_text("Unread")
    shoot(page, "42-inbox-read")
