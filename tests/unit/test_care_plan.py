"""The plan agreed while waiting (docs/rules.md "Plans while waiting"): the Patient's
`agree_care_plan` command and its `CarePlanAgreed` event, through the event store's own
mapper; the vocabularies it takes; and what the patient reads of it and of their expected
wait (guardian/projections/patient_view.py, docs/patients.md "What a patient sees").
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest
from referrals import PW, START, fired, given_patient, report
from test_patient_reading_age import reading_age
from test_wording import first_letter_problem, not_sentence_case

from guardian.domain import codes
from guardian.domain.errors import InvalidValue, PathwayNotOpen, UnknownPathway
from guardian.domain.pathway import CarePlan
from guardian.domain.patient import events as ev
from guardian.projections.name_queries import Names
from guardian.projections.patient_view import IF_WORSE, NO_PLAN, patient_referral
from guardian.projections.status import ExpectedWait, referral_status
from guardian.projections.timeline import timeline
from guardian.store import make_mapper

D = dt.date
AGREED = D(2026, 2, 2)
ON = D(2026, 3, 2)
NAMES = Names(providers={"RAJ": "Mid and South Essex NHS Foundation Trust"},
              practices={"Z90001": "Kingswood Surgery"})


def agreed(patient, self_care=("keep-active",), call="practice", on=AGREED, note=""):
    patient.agree_care_plan(*PW, list(self_care), call, on, "sam@guardian.test", note)


# ---------------------------------------------------------------------------- the command


def test_a_plan_is_agreed_on_the_pathway_in_the_vocabulary_order():
    patient = given_patient(report())
    agreed(patient, ["sleep", "keep-active", "sleep"], "hospital", note="  Call if it wakes you ")
    [event] = patient.collect_events()
    assert type(event) is ev.CarePlanAgreed and event.TOPIC == "guardian.Patient.CarePlanAgreed"
    assert (event.provider, event.pathway_id, event.self_care, event.call_if_worse,
            event.note, event.agreed_on, event.by) == (
        *PW, ["keep-active", "sleep"], "hospital", "Call if it wakes you", AGREED,
        "sam@guardian.test")
    assert patient.pathway(*PW).care_plan == CarePlan(
        ("keep-active", "sleep"), "hospital", "Call if it wakes you", AGREED, "sam@guardian.test")


def test_the_same_plan_again_does_nothing_and_a_new_one_replaces_it():
    patient = given_patient(report())
    agreed(patient, ["keep-active", "sleep"])
    assert fired(patient) == [ev.CarePlanAgreed]
    agreed(patient, ["sleep", "keep-active"])  # the same plan, ticked in another order
    assert fired(patient) == []
    agreed(patient, ["wellbeing"], "guardian", on=ON)
    assert fired(patient) == [ev.CarePlanAgreed]
    plan = patient.pathway(*PW).care_plan
    assert (plan.self_care, plan.call_if_worse, plan.agreed_on) == (("wellbeing",), "guardian", ON)
    agreed(patient, ["wellbeing"], "guardian", on=ON + dt.timedelta(days=7))  # agreed again
    assert fired(patient) == [ev.CarePlanAgreed]


@pytest.mark.parametrize("self_care,call,note,field,words", [
    (["astrology"], "practice", "", "self_care",
     "'astrology' is not a self-care topic; one of keep-active, pain-relief"),
    (["keep-active", "Keeping active"], "practice", "", "self_care",
     "'Keeping active' is not a self-care topic"),
    ([], "practice", "", "self_care", "choose at least one thing the patient can do"),
    (["sleep"], "111", "", "call_if_worse",
     "'111' is not whom the patient calls if they get worse; one of practice, guardian, "
     "hospital"),
    (["sleep"], "the GP practice", "", "call_if_worse", "'the GP practice' is not whom"),
    (["sleep"], "practice", "x" * 301, "note",
     "the note for the patient is 301 characters long; at most 300 are allowed"),
    (["sleep"], "practice", "Call us\x00", "note",
     "the note for the patient contains a control character (U+0000)"),
], ids=["unknown topic", "a label, not a code", "no topic", "unknown caller",
        "caller's label", "note too long", "control character"])
def test_a_bad_plan_is_refused_naming_the_field_and_records_nothing(self_care, call, note,
                                                                      field, words):
    patient = given_patient(report())
    with pytest.raises(InvalidValue) as refused:
        agreed(patient, self_care, call, note=note)
    assert refused.value.field == field
    assert refused.value.message.startswith(words), refused.value.message
    assert fired(patient) == [] and patient.pathway(*PW).care_plan is None


def test_a_note_of_the_longest_length_is_kept():
    patient = given_patient(report())
    agreed(patient, note="y" * codes.PLAN_NOTE_MOST)
    assert patient.pathway(*PW).care_plan.note == "y" * 300


def test_a_plan_needs_an_open_pathway_of_the_patient_and_a_date_after_the_referral():
    patient = given_patient(report())
    with pytest.raises(UnknownPathway):
        patient.agree_care_plan("RAJ", "PPI-9", ["sleep"], "practice", ON, "sam")
    with pytest.raises(InvalidValue, match="before the referral was received"):
        agreed(patient, on=START - dt.timedelta(days=1))
    patient.stop_clock(*PW, ON, "30")
    with pytest.raises(PathwayNotOpen):
        agreed(patient, on=ON)
    closed = given_patient(report())
    agreed(closed)
    closed.close_pathway(*PW, ON, "duplicate")
    closed.collect_events()
    agreed(closed)  # the plan it already has (a demo load run again): nothing
    with pytest.raises(PathwayNotOpen):
        agreed(closed, ["sleep"], on=ON)
    assert fired(closed) == []


def test_a_new_waiting_period_starts_without_the_old_plan():
    patient = given_patient(report(as_of=ON))
    agreed(patient)
    patient.reconcile(report(as_of=D(2026, 4, 1), clock_end=D(2026, 3, 20), rtt_status="32"))
    patient.reconcile(report(as_of=D(2026, 5, 1), clock_start=D(2026, 4, 20),
                             rtt_status="11"))
    assert ev.RttPeriodStarted in fired(patient)
    assert patient.pathway(*PW).is_open and patient.pathway(*PW).care_plan is None


def test_the_event_round_trips_through_the_stored_form():
    """The event store's mapper (guardian/store/mapper.py): dates as ISO dates, the topics
    list as a JSON list; replayed, the same plan."""
    patient = given_patient(report())
    agreed(patient, ["keep-active", "symptom-diary"], "guardian", note="Ring on Mondays")
    [event] = patient.collect_events()
    mapper = make_mapper()
    stored = mapper.to_stored_event(event)
    assert stored.topic == "guardian.Patient.CarePlanAgreed"
    state = json.loads(stored.state)
    assert state["self_care"] == ["keep-active", "symptom-diary"]
    assert "2026-02-02" in json.dumps(state["agreed_on"])
    back = mapper.to_domain_event(stored)
    assert type(back) is ev.CarePlanAgreed
    assert {k: v for k, v in vars(back).items() if k != "timestamp"} == {
        k: v for k, v in vars(event).items() if k != "timestamp"}
    again = given_patient(report())
    again.pathway(*PW).care_plan = None
    back.apply(again)
    assert again.pathway(*PW).care_plan == patient.pathway(*PW).care_plan


def test_the_timeline_tells_every_plan_in_words_by_whom():
    patient = given_patient(report())
    agreed(patient, ["pain-relief", "less-alcohol"], "hospital")
    agreed(patient, ["sleep"], "practice", on=ON)
    events = patient.collect_events()
    told = [(t.on, t.text, t.by) for t in timeline(events, patient, *PW)]
    assert told == [
        (AGREED, "Plan while waiting agreed: pain relief as advised by the GP or pharmacist, "
                 "drinking less alcohol; if worse, call the hospital team", "sam@guardian.test"),
        (ON, "Plan while waiting agreed: sleeping well; if worse, call the GP practice",
         "sam@guardian.test")]


# ---------------------------------------------------------------------------- vocabularies


def test_each_self_care_topic_has_a_sentence_a_nine_year_old_can_read():
    assert list(codes.SELF_CARE) == list(codes.SELF_CARE_ADVICE)
    for code, sentence in codes.SELF_CARE_ADVICE.items():
        assert reading_age(sentence) <= 9.0, (code, sentence, reading_age(sentence))
        assert sentence.endswith(".") and sentence[0].isupper(), code
    for table in (codes.SELF_CARE, codes.CALL_IF_WORSE):
        for code, label in table.items():
            assert code == code.lower() and "," not in code  # the form joins codes by commas
            assert not not_sentence_case(label), label
    assert not any(first_letter_problem(label) for label in codes.SELF_CARE.values())


# ---------------------------------------------------------------------------- the patient


def status_of(patient, on=ON, expected=None):
    status = referral_status(patient, *PW, on, names=NAMES)
    return dataclasses.replace(status, expected_wait=expected)


def as_read(r) -> str:
    """The referral's page as the patient reads it, section by section, below its heading
    (the names of the hospital, practice and specialty in the sentences too)."""
    return " ".join([*r.where, *r.wait, r.basis, r.widened,
                     *(t.state for t in r.tests), *r.plan, *r.doing])


def wait(priority, sample=40, median=11.6, p92=23.2):
    return ExpectedWait("RAJ", "110", priority, D(2026, 2, 28), sample, median, p92,
                        provider_name="Mid and South Essex NHS Foundation Trust")


def test_without_a_plan_the_patient_is_told_so_whom_to_call_and_111_and_999():
    patient = given_patient(report())
    patient.offer_support("s1", "smoking-cessation", ON, "Booked for Tuesday", *PW)
    r = patient_referral(status_of(patient), patient.pathway(*PW), ON,
                         [("smoking-cessation", "Booked for Tuesday")])
    assert r.plan_agreed == NO_PLAN and not r.has_plan and r.self_care == []
    assert r.support == ["Support while you wait: Stop smoking service. Booked for Tuesday."]
    assert r.if_worse == ["If you feel worse, call your GP practice, Kingswood Surgery.",
                          *IF_WORSE]
    assert any("111" in line for line in r.if_worse) and any("999" in line for line in r.if_worse)
    assert r.plan_short == "You have no plan while you wait yet."


@pytest.mark.parametrize("call,sentence", [
    ("practice", "If you feel worse, call your GP practice, Kingswood Surgery."),
    ("guardian", "If you feel worse, call the Guardian team. Call your GP practice, "
                 "Kingswood Surgery, and ask for them."),
    ("hospital", "If you feel worse, call the Trauma and Orthopaedics team at Mid and South "
                 "Essex NHS Foundation Trust. Their number is on your letters from the "
                 "hospital."),
])
def test_the_plan_reads_its_self_care_note_and_whom_to_call_by_name(call, sentence):
    patient = given_patient(report())
    agreed(patient, ["keep-active", "stop-smoking"], call, note="We will ring in May.")
    r = patient_referral(status_of(patient), patient.pathway(*PW), ON)
    assert r.has_plan and r.plan_agreed == ("You agreed this plan with the Guardian team on "
                                            "2 February 2026.")
    assert r.self_care == [codes.SELF_CARE_ADVICE["keep-active"],
                           codes.SELF_CARE_ADVICE["stop-smoking"]]
    assert r.plan_note == "We will ring in May."
    assert r.if_worse == [sentence, *IF_WORSE]
    assert r.plan_short == "You have a plan while you wait, agreed on 2 February 2026."
    assert reading_age(as_read(r)) <= 9.0, as_read(r)


def test_a_closed_referral_shows_no_plan():
    patient = given_patient(report())
    agreed(patient)
    patient.close_pathway(*PW, ON, "treated-elsewhere")
    r = patient_referral(status_of(patient), patient.pathway(*PW), ON,
                         [("alcohol", "")])
    assert r.closed.startswith("This referral is closed since 2 March 2026.")
    assert (r.plan, r.self_care, r.support, r.if_worse, r.plan_agreed, r.wait) == (
        [], [], [], [], "", [])


@pytest.mark.parametrize("priority,kind", [(1, "a routine"), (2, "an urgent"),
                                           (3, "an urgent suspected cancer")])
def test_the_expected_wait_says_its_range_its_basis_and_when_it_counts_everyone(priority,
                                                                                 kind):
    patient = given_patient(report(priority=priority))
    pathway = patient.pathway(*PW)
    known = patient_referral(status_of(patient, expected=wait(priority)), pathway, ON)
    assert known.wait == ["You have waited 8 weeks so far.", "Half of people wait 12 weeks "
                          "or less.", "Most people (92 in 100) wait 23 weeks or less."]
    assert known.basis == ("This is from 40 people who waited for Trauma and Orthopaedics at "
                           "Mid and South Essex NHS Foundation Trust. They stopped waiting in "
                           "the 26 weeks to 28 February 2026.")
    assert known.widened == ""
    wider = patient_referral(status_of(patient, expected=wait(None, sample=9)), pathway, ON)
    assert wider.wait == known.wait and wider.basis.startswith("This is from 9 people")
    assert wider.widened == (
        "We counted all the people who waited for this care at this hospital. "
        f"Not just those with {kind} referral like yours. Too few of them stopped "
        "waiting lately.")
    assert reading_age(as_read(wider)) <= 9.0, as_read(wider)


def test_no_estimate_is_said_plainly():
    patient = given_patient(report())
    pathway = patient.pathway(*PW)
    few = ExpectedWait("RAJ", "110", None, ON, 3, None, None)
    r = patient_referral(status_of(patient, expected=few), pathway, ON)
    assert r.wait[1].startswith("We cannot say how long you may wait yet.")
    assert (r.basis, r.widened, len(r.wait)) == ("", "", 2)
    r = patient_referral(status_of(patient), pathway, ON)  # no estimate for this list
    assert r.wait[1] == "We cannot say how long you may wait for this kind of referral."
