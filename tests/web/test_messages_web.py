"""Messages on the patient page (docs/rules.md, "Messages"): the thread of each pathway
with every message's text, who, when and whether it is answered, for a coordinator and for
the GP within their practice; a coordinator records the hospital's reply (which clears
"awaiting reply" on the worklist and needs no answer) and marks a GP's message answered;
bad input comes back next to the field."""

from __future__ import annotations

import datetime as dt
import html
import re
import uuid

import pytest
from sqlalchemy import select
from web_helpers import csrf_of, referred_patient, sign_in

from guardian import audit
from guardian.projections import worklist as wl

# One backend: the thread's forms and page; the events are the domain's.
pytestmark = pytest.mark.one_backend


def post(client, pid: str, action: str, data: dict):
    version = client.app.state.guardian.get_patient(uuid.UUID(pid)).version
    return client.post(f"/patients/{pid}/actions/{action}",
                       data={**data, "version": version, "csrf_token": csrf_of(client)},
                       follow_redirects=False)


def text_of(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def row_of(guardian, pathway: str):
    provider, pathway_id = pathway.split("|")
    with guardian.engine.connect() as conn:
        return conn.execute(select(wl.worklist).where(
            wl.worklist.c.provider == provider, wl.worklist.c.pathway_id == pathway_id)).one()


def thread_of(page: str, pathway: str) -> str:
    provider, pathway_id = pathway.split("|")
    found = re.search(rf'id="thread-{provider}-{pathway_id}">(.*?)(?=<details|</section>)', page,
                      re.S)
    assert found, "no thread on the page"
    return text_of(found.group(1))


def test_the_thread_both_ways_for_a_coordinator_and_the_gp(client):
    guardian = client.app.state.guardian
    pid, pathway = referred_patient(guardian)
    runner = client.app.state.runner

    sign_in(client, "gp")
    assert post(client, pid, "message", {"pathway": pathway,
                                         "body": "Pain much worse, please expedite"}
                ).status_code == 303
    sign_in(client, "coordinator")
    assert post(client, pid, "message", {"pathway": pathway, "party": "hospital",
                                         "body": "Please re-prioritise: two falls"}
                ).status_code == 303
    runner.run_once()
    row = row_of(guardian, pathway)
    assert row.awaiting_reply_since == guardian.today() and row.unanswered_messages == 1

    page = client.get(f"/patients/{pid}").text
    thread = thread_of(page, pathway)
    gp_at = thread.index("Pain much worse, please expedite")
    asked_at = thread.index("Please re-prioritise: two falls")
    assert gp_at < asked_at  # newest last
    assert "to Guardian" in thread and "Not answered yet" in thread
    assert "Awaiting a reply" in thread
    assert "gp@guardian.test" not in thread and "sam@guardian.test" not in thread  # names
    assert "RAJ" not in thread  # the hospital by name
    assert re.search(r"\d{1,2} \w+ \d{4}, \d\d:\d\d", thread)  # date and time

    # the hospital's reply, in answer to Guardian's message
    asked = re.search(r'name="in_reply_to".*?<option value="(m-[0-9a-f]+)"', page, re.S)
    assert asked, "no message to reply to offered"
    r = post(client, pid, "hospital-reply", {
        "pathway": pathway, "body": "Reviewed by consultant, moved to P2",
        "in_reply_to": asked.group(1), "on": guardian.today().isoformat()})
    assert r.status_code == 303 and "done=hospital-reply" in r.headers["location"]
    runner.run_once()
    row = row_of(guardian, pathway)
    assert row.awaiting_reply_since is None  # answered
    assert row.unanswered_messages == 1  # the reply is no new question; the GP still waits
    thread = thread_of(client.get(f"/patients/{pid}").text, pathway)
    assert "Reviewed by consultant, moved to P2" in thread and "Replied" in thread
    assert "needs no answer" in thread and "Awaiting a reply" not in thread

    # the GP's message, answered by phone: marked answered
    page = client.get(f"/patients/{pid}").text
    gp_message = re.search(r'name="message_id".*?<option value="(m-[0-9a-f]+)"', page, re.S)
    r = post(client, pid, "message-answered", {"pathway": pathway,
                                               "message_id": gp_message.group(1)})
    assert r.status_code == 303
    runner.run_once()
    assert row_of(guardian, pathway).unanswered_messages == 0
    page = client.get(f"/patients/{pid}").text
    assert "Not answered yet" not in thread_of(page, pathway)
    assert 'name="message_id"' not in page  # nothing left to mark
    done = {e.action for e in audit.entries(guardian.engine, patient_id=pid)}
    assert {"hospital reply", "message answered"} <= done

    # the GP reads the same thread, without the coordinator's forms
    sign_in(client, "gp")
    page = client.get(f"/patients/{pid}").text
    thread = thread_of(page, pathway)
    for said in ("Pain much worse", "Please re-prioritise", "Reviewed by consultant"):
        assert said in thread
    assert "/actions/hospital-reply" not in page and "/actions/message-answered" not in page
    for action in ("hospital-reply", "message-answered"):
        assert post(client, pid, action, {"pathway": pathway, "body": "x",
                                          "message_id": "m-1"}).status_code == 404


def test_a_gp_outside_the_practice_sees_no_thread(client):
    guardian = client.app.state.guardian
    pid, _ = referred_patient(guardian, practice="Y90004", nhs_number="9995260190")
    sign_in(client, "gp")
    assert client.get(f"/patients/{pid}").status_code == 404


def test_bad_replies_come_back_next_to_the_field(client):
    guardian = client.app.state.guardian
    pid, pathway = referred_patient(guardian)
    sign_in(client, "coordinator")
    assert post(client, pid, "message", {"pathway": pathway, "party": "hospital",
                                         "body": "Please review"}).status_code == 303
    tomorrow = (guardian.today() + dt.timedelta(days=1)).isoformat()
    for data, field, message in (
        ({"body": "  "}, "body", "Write what the hospital said"),
        ({"body": "Seen", "in_reply_to": "m-nope"}, "in_reply_to",
         "Choose one of Guardian's messages to the hospital team"),
        ({"body": "Seen", "on": tomorrow}, "on", "The date cannot be in the future"),
        ({"body": "Seen", "on": "31/02/2026"}, "on", "Enter a date as YYYY-MM-DD"),
    ):
        r = post(client, pid, "hospital-reply", {"pathway": pathway, **data})
        assert r.status_code == 422, data
        assert message in html.unescape(r.text), data
        assert f'{pathway.replace("|", "-")}-{field}-error' in r.text, data
    r = post(client, pid, "message-answered", {"pathway": pathway, "message_id": "m-nope"})
    assert r.status_code == 422 and "Choose a message Guardian received" in r.text
    [kept] = guardian.get_patient(uuid.UUID(pid)).pathway(*pathway.split("|")).messages.values()
    assert kept.body == "Please review"  # nothing refused was recorded
