"""The pure rules of notifications on their boundaries: news (14 days), quiet hours (across
midnight and daylight saving), retry back-off, reply tokens, webhook signatures, addresses
(docs/notifications.md); and every heading of docs/notifications.md the code cites, and
every link into it, is there."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from guardian.notifications.channels.webhook import sign, verify
from guardian.notifications.contacts import ContactError, check_email
from guardian.notifications.dispatcher import retry_delay
from guardian.notifications.kinds import is_news, notices_for
from guardian.notifications.recipients import end_of_quiet, patient_channel
from guardian.notifications.threads import BadToken, make_token, read_token

DAY = dt.date(2026, 12, 5)
LONDON = ZoneInfo("Europe/London")


@pytest.mark.parametrize("days_before,news", [(0, True), (13, True), (14, False), (-1, True)])
def test_news_is_what_happened_within_14_days_of_its_recording(days_before, news):
    assert is_news(DAY - dt.timedelta(days=days_before), DAY) is news


def test_which_events_make_which_notices():
    breach = type("WaitBreached", (), dict(provider="RAJ", pathway_id="P", standard="rtt-18",
                                           subject="", breach_on=DAY))()
    [notice] = notices_for(breach, DAY)
    assert (notice.kind, notice.audience) == ("breach", "coordinators")
    due = type("CheckInDue", (), dict(provider="RAJ", pathway_id="P", due_on=DAY,
                                      reason="12 weeks", wait_days=84))()
    assert [(n.kind, n.audience) for n in notices_for(due, DAY)] == [
        ("check-in-due", "coordinators"), ("patient-check-in", "patient")]
    sent = type("MessageSent", (), dict(provider="RAJ", pathway_id="P", message_id="m",
                                        party="gp", on=DAY, in_reply_to=None))()
    assert notices_for(sent, DAY)[0].audience == "addressee"
    old = type("WaitBreached", (), dict(provider="RAJ", pathway_id="P", standard="rtt-18",
                                        subject="", breach_on=DAY - dt.timedelta(days=14)))()
    assert notices_for(old, DAY) == []
    assert notices_for(type("ContactLogged", (), {})(), DAY) == []


def at(hour, minute=0, day=DAY):
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=LONDON).astimezone(dt.UTC)


@pytest.mark.parametrize("now,quiet,ends", [
    (at(21, 59), ("22:00", "07:00"), None),
    (at(22, 0), ("22:00", "07:00"), at(7, 0, DAY + dt.timedelta(days=1))),
    (at(3, 0), ("22:00", "07:00"), at(7, 0)),
    (at(7, 0), ("22:00", "07:00"), None),
    (at(13, 0), ("12:00", "14:00"), at(14, 0)),
    (at(14, 0), ("12:00", "14:00"), None),
    (at(13, 0), (None, None), None),
    (at(13, 0), ("12:00", "12:00"), None),
])
def test_quiet_hours(now, quiet, ends):
    assert end_of_quiet(now, LONDON, *quiet) == ends


def test_quiet_hours_end_at_local_time_across_the_clock_change():
    # the clocks go back on 25 October 2026: 07:00 local is 07:00 UTC, not 06:00
    now = at(23, 0, dt.date(2026, 10, 24))
    assert end_of_quiet(now, LONDON, "22:00", "07:00") == dt.datetime(
        2026, 10, 25, 7, 0, tzinfo=dt.UTC)


def test_retries_back_off_to_an_hour():
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 7, 8, 20)] == [
        60, 120, 240, 3600, 3600, 3600]


def test_reply_tokens():
    token = make_token("secret", 4711, DAY)
    assert read_token("secret", token, DAY + dt.timedelta(days=90)).notification_id == 4711
    with pytest.raises(BadToken, match="expired"):
        read_token("secret", token, DAY + dt.timedelta(days=91))
    with pytest.raises(BadToken, match="forged"):
        read_token("other", token, DAY)
    forged = token.replace(token.split("-")[0], "1", 1)
    with pytest.raises(BadToken, match="forged"):
        read_token("secret", forged, DAY)
    with pytest.raises(BadToken, match="not a Guardian reply token"):
        read_token("secret", "hello", DAY)
    assert len(f"guardian+{token}") <= 64  # fits the local part of an address


def test_webhook_signatures_are_dated():
    body = b'{"kind": "breach"}'
    header = sign("s", 1_000_000, body)
    assert verify("s", header, body, now=1_000_100)
    assert not verify("s", header, body, now=1_000_400)  # too old: a replay
    assert not verify("s", header, body + b" ", now=1_000_100)
    assert not verify("s", "nonsense", body)


@pytest.mark.parametrize("bad", ["", "sam", "sam@", "@nhs.net", "sam@nhs", "sam @nhs.net",
                                 "sam@@nhs.net", "sam..x@nhs.net", "a" * 250 + "@nhs.net"])
def test_malformed_addresses_are_refused(bad):
    with pytest.raises(ContactError, match="is not an e-mail address"):
        check_email(bad)


def test_a_good_address_is_kept():
    assert check_email(" sam.taylor+alerts@nhs.net ") == "sam.taylor+alerts@nhs.net"


@pytest.mark.parametrize("preference,email,channel", [
    (None, "a@b.example", "email"), (None, None, "letter"), ("letter", "a@b.example", "letter"),
    ("email", "a@b.example", "email"), ("none", "a@b.example", None), ("none", None, None),
])
def test_how_the_patient_is_written_to(preference, email, channel):
    patient = SimpleNamespace(contact_preference=preference, email=email)
    assert patient_channel(patient) == channel


def test_a_message_built_into_bytes_reads_back_whole():
    import email
    import email.policy

    from guardian.notifications.channels import Outgoing
    from guardian.notifications.channels.email import mime_bytes

    message = Outgoing("zoë@example.nhs.uk".replace("ë", "e"), "Getting worse: Zoë's\r\nBcc: x",
                       "Dear Zoë,\nline two — with a dash", "<p>Dear Zoë</p>",
                       {"Reply-To": "guardian+abc@replies.example"})
    raw = mime_bytes(message, "Guardian Service <guardian@nhs.example>", key="k1")
    assert b"\r\nBcc:" not in raw  # a line break in a value cannot add a header
    read = email.message_from_bytes(raw, policy=email.policy.default)
    assert read["Subject"] == "Getting worse: Zoë's Bcc: x"
    assert read["To"] == "zoe@example.nhs.uk" and read["Reply-To"] == "guardian+abc@replies.example"
    assert read.get_body(("plain",)).get_content() == "Dear Zoë,\nline two — with a dash"
    assert read.get_body(("html",)).get_content() == "<p>Dear Zoë</p>"
    again = email.message_from_bytes(mime_bytes(message, "guardian@nhs.example", key="k1"),
                                     policy=email.policy.default)
    assert again["Message-ID"] == read["Message-ID"]  # the same on every attempt


# ---------------------------------------------------------------------------- the rule book

ROOT = Path(__file__).resolve().parents[2]
RULE_BOOK = ROOT / "docs" / "notifications.md"
# `docs/notifications.md "Sending"`, or several: `"Daily summary", "Weekly digest"`; a quoted
# heading may run over a line break (in a comment, after a `#`).
CITED = re.compile(r'notifications\.md((?:[\s#]*,?[\s#]*(?:and\s+)?"[A-Z][^"]{0,60}")+)')
QUOTED = re.compile(r'"([^"]+)"')
LINKED = re.compile(r"notifications\.md#([a-z0-9-]+)")


def slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it."""
    return re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-")


def headings() -> set[str]:
    return {line.lstrip("#").strip() for line in RULE_BOOK.read_text().splitlines()
            if line.startswith("#")}


def test_the_headings_cited_from_the_code_are_in_the_rule_book():
    have = headings()
    cited: dict[str, set[str]] = {}
    for path in sorted((ROOT / "guardian").rglob("*")):
        if path.suffix not in (".py", ".html", ".txt") or "vendor" in path.parts:
            continue
        for names in CITED.findall(path.read_text()):
            for name in QUOTED.findall(names):
                name = " ".join(name.replace("#", " ").split())
                cited.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    assert {"Channels", "Contacts", "Life of a notification", "Patients", "Sending"} <= set(
        cited)  # the pattern finds them
    assert {name: where for name, where in cited.items() if name not in have} == {}


def test_the_links_into_the_rule_book_reach_a_heading():
    anchors = {slug(h) for h in headings()}
    broken = {}
    for path in sorted([*(ROOT / "docs").glob("*.md"), *(ROOT / "guardian").rglob("*.py")]):
        for anchor in LINKED.findall(path.read_text()):
            if anchor not in anchors:
                broken.setdefault(str(path.relative_to(ROOT)), []).append(anchor)
    assert broken == {}
