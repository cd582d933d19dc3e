"""The Patient aggregate's care, contact and wait commands, in given / when / then form
(provider reports: test_provider_reports.py)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from eventsourcing.utils import resolve_topic
from referrals import fired, given_patient
from referrals import report_2025 as report

from guardian.domain.errors import ConflictingCommand, DomainError, InvalidValue, PathwayNotOpen
from guardian.domain.patient import Patient
from guardian.domain.patient import events as ev

D = dt.date


# ------------------------------------------------------------------ care commands


def test_workup_completes_when_its_last_item_is_done():
    patient = given_patient(report())
    patient.require_workup_item("RAJ", "PPI-0001", "w1", "X-ray of the knee", "practice",
                                D(2025, 11, 4))
    patient.require_workup_item("RAJ", "PPI-0001", "w2", "Weight and BMI", "practice",
                                D(2025, 11, 4))
    patient.complete_workup_item("RAJ", "PPI-0001", "w1", D(2025, 11, 10), "gp")
    assert fired(patient) == [ev.WorkupItemRequired, ev.WorkupItemRequired, ev.WorkupItemCompleted]
    patient.complete_workup_item("RAJ", "PPI-0001", "w2", D(2025, 11, 12), "gp")
    assert fired(patient) == [ev.WorkupItemCompleted, ev.WorkupCompleted]
    assert patient.pathway("RAJ", "PPI-0001").workup_completed_on == D(2025, 11, 12)


def test_repeating_a_command_is_a_no_op():
    patient = given_patient(report())
    for _ in range(2):
        patient.order_diagnostic("RAJ", "PPI-0001", "t1", "mri", D(2026, 1, 5))
        patient.log_contact("c1", D(2026, 1, 6), "phone", "pain worse", "sam")
        patient.assign_coordinator("RAJ", "PPI-0001", "sam@demo.invalid")
        patient.record_breach("RAJ", "PPI-0001", "rtt-18", "", D(2026, 3, 10))
    assert fired(patient) == [
        ev.DiagnosticOrdered, ev.ContactLogged, ev.CoordinatorAssigned, ev.WaitBreached
    ]


def test_reusing_an_id_for_something_else_is_refused():
    patient = given_patient(report())
    patient.order_diagnostic("RAJ", "PPI-0001", "t1", "mri", D(2026, 1, 5))
    with pytest.raises(ConflictingCommand):
        patient.order_diagnostic("RAJ", "PPI-0001", "t1", "ct", D(2026, 1, 5))


def test_ordering_a_diagnostic_on_a_stopped_pathway_is_refused():
    patient = given_patient(report(), report(clock_end=D(2026, 3, 1), rtt_status="30"))
    with pytest.raises(PathwayNotOpen, match="stopped"):
        patient.order_diagnostic("RAJ", "PPI-0001", "t1", "mri", D(2026, 3, 5))


def test_a_result_for_a_test_never_ordered_is_refused():
    patient = given_patient(report())
    with pytest.raises(DomainError, match="no diagnostic"):
        patient.record_diagnostic_result("RAJ", "PPI-0001", "nope", D(2026, 3, 5), "normal")


def test_a_result_before_the_order_is_refused():
    patient = given_patient(report())
    patient.order_diagnostic("RAJ", "PPI-0001", "t1", "ct", D(2026, 1, 5))
    with pytest.raises(InvalidValue, match="before the test was ordered"):
        patient.record_diagnostic_result("RAJ", "PPI-0001", "t1", D(2026, 1, 4), "normal")


def test_a_clock_stop_before_its_start_is_refused():
    patient = given_patient(report())
    with pytest.raises(InvalidValue, match="before it started"):
        patient.stop_clock("RAJ", "PPI-0001", D(2025, 11, 2), "30")


def test_a_clock_stop_needs_a_national_stop_reason():
    patient = given_patient(report())
    with pytest.raises(InvalidValue, match="clock-stop reason"):
        patient.stop_clock("RAJ", "PPI-0001", D(2026, 1, 2), "20")


def test_diagnosis_communicated_stops_the_fds_clock_once():
    patient = given_patient(report(priority=3))
    patient.communicate_diagnosis("RAJ", "PPI-0001", D(2025, 11, 20), "cancer-ruled-out")
    patient.communicate_diagnosis("RAJ", "PPI-0001", D(2025, 11, 20), "cancer-ruled-out")
    assert fired(patient) == [ev.DiagnosisCommunicated]
    with pytest.raises(ConflictingCommand):
        patient.communicate_diagnosis("RAJ", "PPI-0001", D(2025, 11, 21), "cancer-diagnosed")


def test_deterioration_flag_and_review():
    patient = given_patient(report())
    patient.flag_deterioration("f1", D(2026, 3, 2), "pain worse, two falls", "check-in",
                               "RAJ", "PPI-0001")
    patient.review_deterioration("f1", D(2026, 3, 3), "reprioritised")
    patient.review_deterioration("f1", D(2026, 3, 4), "again")
    assert fired(patient) == [ev.DeteriorationFlagged, ev.DeteriorationReviewed]
    assert patient.flags["f1"].reviewed_on == D(2026, 3, 3)
    with pytest.raises(InvalidValue):
        patient.flag_deterioration("f2", D(2026, 3, 2), "  ", "patient")


def test_sending_to_a_party_answers_their_messages():
    patient = given_patient(report())
    at = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
    patient.receive_message("RAJ", "PPI-0001", "m1", "gp", at, D(2026, 3, 2),
                            "Any news on this referral?", "gp@demo.invalid")
    p = patient.pathway("RAJ", "PPI-0001")
    assert [m.message_id for m in p.unanswered_messages()] == ["m1"]
    patient.send_message("RAJ", "PPI-0001", "m2", "gp", at, D(2026, 3, 3),
                         "Appointment booked for 20 April", "sam", in_reply_to="m1")
    assert p.unanswered_messages() == []
    with pytest.raises(InvalidValue, match="time zone"):
        patient.receive_message("RAJ", "PPI-0001", "m3", "gp", at.replace(tzinfo=None),
                                D(2026, 3, 2), "hello", "gp")


def test_support_offer_must_be_a_known_service():
    patient = given_patient(report())
    patient.offer_support("s1", "smoking-cessation", D(2026, 3, 1), "referred to service")
    assert fired(patient) == [ev.SupportOffered]
    with pytest.raises(InvalidValue, match="support service"):
        patient.offer_support("s2", "astrology", D(2026, 3, 1))


def test_commands_on_an_unknown_pathway_name_it():
    patient = given_patient(report())
    with pytest.raises(DomainError, match="PPI-9999"):
        patient.assign_coordinator("RAJ", "PPI-9999", "sam")


def test_every_event_has_an_explicit_stable_topic():
    r = report(appointment_on=D(2026, 4, 20))
    patient = Patient.register(uuid.uuid4(), r)
    patient.reconcile(r)
    patient.order_diagnostic("RAJ", "PPI-0001", "t1", "mri", D(2026, 1, 5))
    for e in patient.collect_events():
        assert f"guardian.Patient.{type(e).__name__}" == type(e).TOPIC


def test_every_event_class_is_stored_under_its_topic_and_found_by_it():
    """Stored history resolves: each topic names its class (docs/formats.md), also the
    history-only ProviderRecordCorrected."""
    assert ev.ProviderRecordCorrected in ev.STORED.values()
    for topic, cls in ev.STORED.items():
        assert topic == f"guardian.Patient.{cls.__name__}" == cls.TOPIC
        assert resolve_topic(topic) is cls


@pytest.mark.parametrize("command", [
    lambda p: p.close_pathway("RAJ", "PPI-0001", D(2026, 3, 1), "fed up"),
    lambda p: p.flag_deterioration("f9", D(2026, 3, 2), "worse", "a neighbour"),
    lambda p: p.communicate_diagnosis("RAJ", "PPI-0001", D(2026, 3, 2), "cancer diagnosed"),
    lambda p: p.log_contact("c9", D(2026, 3, 2), "text message", "called", "sam"),
    lambda p: p.record_check_in_outcome("RAJ", "PPI-0001", "fine", D(2026, 3, 2), "sam"),
], ids=["close reason", "deterioration source", "diagnosis outcome", "contact channel",
        "check-in outcome"])
def test_coded_values_outside_their_vocabulary_are_refused(command):
    patient = given_patient(report())
    with pytest.raises(InvalidValue):
        command(patient)
    assert fired(patient) == []


def test_a_review_outcome_must_be_one_of_the_review_outcomes():
    patient = given_patient(report())
    patient.flag_deterioration("f1", D(2026, 3, 2), "pain worse", "gp", "RAJ", "PPI-0001")
    with pytest.raises(InvalidValue, match="reprioritised"):
        patient.review_deterioration("f1", D(2026, 3, 3), "re-prioritised by the hospital")
    patient.review_deterioration("f1", D(2026, 3, 3), "reprioritised")
    assert patient.flags["f1"].review_outcome == "reprioritised"
