"""Messages on a pathway, both ways (docs/rules.md, "Messages"): a GP's message waits for
Guardian's answer (written back, or marked answered); Guardian's message to the hospital
awaits a reply, and the hospital's reply recorded by a coordinator is an answer, not a new
question: it clears "awaiting reply", adds no unanswered message and no answer deadline."""

from __future__ import annotations

import datetime as dt

import pytest
from referrals import fired, given_patient
from referrals import report_2025 as report

from guardian.domain import standards
from guardian.domain.errors import DomainError, InvalidValue
from guardian.domain.patient import events as ev
from guardian.projections.timeline import timeline
from guardian.projections.worklist import rows_for

D = dt.date
KEY = ("RAJ", "PPI-0001")


def at(day: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, tzinfo=dt.UTC)


def row(patient) -> dict:
    [r] = rows_for(patient, {})
    return r


@pytest.fixture
def patient():
    return given_patient(report())


def test_a_gp_message_waits_for_an_answer_until_guardian_writes_back(patient):
    patient.receive_message(*KEY, "m1", "gp", at(2), D(2026, 3, 2), "Pain much worse", "gp@x")
    assert row(patient)["unanswered_messages"] == 1
    assert row(patient)["awaiting_reply_since"] is None  # the GP waits, not Guardian
    patient.send_message(*KEY, "m2", "gp", at(3), D(2026, 3, 3), "Expedited", "sam@x",
                         in_reply_to="m1")
    p = patient.pathway(*KEY)
    assert p.messages["m1"].answered_on == D(2026, 3, 3)
    assert row(patient)["unanswered_messages"] == 0
    # Guardian wrote last to the GP: now Guardian awaits the practice
    assert row(patient)["awaiting_reply_since"] == D(2026, 3, 3)
    assert p.reply_to(p.messages["m2"]) is None


def test_a_received_message_can_be_marked_answered_without_writing_back(patient):
    patient.receive_message(*KEY, "m1", "gp", at(2), D(2026, 3, 2), "Pain much worse", "gp@x")
    fired(patient)
    with pytest.raises(InvalidValue, match="before it came"):
        patient.mark_message_answered(*KEY, "m1", "sam@x", D(2026, 3, 1))
    patient.mark_message_answered(*KEY, "m1", "sam@x", D(2026, 3, 4))
    patient.mark_message_answered(*KEY, "m1", "sam@x", D(2026, 3, 5))  # a repeat: no-op
    assert fired(patient) == [ev.MessageMarkedAnswered]
    assert patient.pathway(*KEY).messages["m1"].answered_on == D(2026, 3, 4)
    assert row(patient)["unanswered_messages"] == 0
    patient.send_message(*KEY, "m2", "hospital", at(4), D(2026, 3, 4), "Please review", "sam")
    with pytest.raises(DomainError, match="Guardian received"):  # Guardian's own message
        patient.mark_message_answered(*KEY, "m2", "sam@x", D(2026, 3, 4))
    with pytest.raises(DomainError, match="Guardian received"):
        patient.mark_message_answered(*KEY, "nope", "sam@x", D(2026, 3, 4))


def test_the_hospitals_reply_clears_awaiting_reply_and_needs_no_answer(patient):
    patient.send_message(*KEY, "m1", "hospital", at(2), D(2026, 3, 2),
                         "Please re-prioritise: two falls", "sam@x")
    assert row(patient)["awaiting_reply_since"] == D(2026, 3, 2)
    fired(patient)
    patient.record_reply(*KEY, "r1", "hospital", at(5, 14), D(2026, 3, 5),
                         "Reviewed by consultant, moved to P2", "sam@x", in_reply_to="m1",
                         received_on=D(2026, 3, 4))
    patient.record_reply(*KEY, "r1", "hospital", at(5, 14), D(2026, 3, 5),
                         "Reviewed by consultant, moved to P2", "sam@x", in_reply_to="m1")
    assert fired(patient) == [ev.ReplyRecorded]
    p = patient.pathway(*KEY)
    reply = p.messages["r1"]
    assert (reply.direction, reply.on, reply.in_reply_to) == ("reply", D(2026, 3, 4), "m1")
    assert p.reply_to(p.messages["m1"]) is reply
    assert [m.message_id for m in p.thread()] == ["m1", "r1"]  # newest last
    r = row(patient)
    assert r["awaiting_reply_since"] is None
    assert r["unanswered_messages"] == 0 and p.unanswered_messages() == []
    # no "message answered" deadline runs for a reply, so no breach can be recorded
    assert not [t for t in standards.tracked_deadlines(p) if t.deadline.subject == "r1"]


def test_a_reply_names_one_of_guardians_messages_to_that_party_and_comes_after_it(patient):
    patient.receive_message(*KEY, "g1", "gp", at(2), D(2026, 3, 2), "Any news?", "gp@x")
    patient.send_message(*KEY, "m1", "hospital", at(3), D(2026, 3, 3), "Please review", "sam")
    for wrong in ("g1", "nope"):
        with pytest.raises(DomainError, match="Guardian's messages to the hospital"):
            patient.record_reply(*KEY, "r1", "hospital", at(4), D(2026, 3, 4), "Seen", "sam",
                                 in_reply_to=wrong)
    with pytest.raises(InvalidValue, match="before the message it answers"):
        patient.record_reply(*KEY, "r1", "hospital", at(4), D(2026, 3, 4), "Seen", "sam",
                             in_reply_to="m1", received_on=D(2026, 3, 2))
    with pytest.raises(InvalidValue, match="future"):
        patient.record_reply(*KEY, "r1", "hospital", at(4), D(2026, 3, 4), "Seen", "sam",
                             received_on=D(2026, 3, 5))
    with pytest.raises(InvalidValue, match="empty"):
        patient.record_reply(*KEY, "r1", "hospital", at(4), D(2026, 3, 4), "  ", "sam")
    # a reply without naming the message still answers Guardian's latest to the hospital
    patient.record_reply(*KEY, "r1", "hospital", at(4), D(2026, 3, 4), "Seen", "sam")
    p = patient.pathway(*KEY)
    assert p.reply_to(p.messages["m1"]).message_id == "r1"
    # the GP's message is still Guardian's to answer: a hospital reply does not answer it
    assert [m.message_id for m in p.unanswered_messages()] == ["g1"]


def test_the_timeline_tells_a_reply_and_a_message_marked_answered(patient):
    patient.collect_events()
    patient.receive_message(*KEY, "g1", "gp", at(2), D(2026, 3, 2), "Any news?", "gp@x")
    patient.send_message(*KEY, "m1", "hospital", at(3), D(2026, 3, 3), "Please review", "sam")
    patient.record_reply(*KEY, "r1", "hospital", at(4), D(2026, 3, 4), "Seen", "sam")
    patient.mark_message_answered(*KEY, "g1", "sam", D(2026, 3, 4))
    told = [(e.on, e.text, e.by_label)
            for e in timeline(patient.collect_events(), patient, *KEY)]
    assert told[-2:] == [
        (D(2026, 3, 4), "Reply from the hospital team recorded", "the hospital"),
        (D(2026, 3, 4), "Message from the GP practice marked answered", "Guardian"),
    ]
