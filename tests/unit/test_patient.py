"""The Patient aggregate, in given / when / then form."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

import pytest

from guardian.domain.errors import ConflictingCommand, DomainError, InvalidValue, PathwayNotOpen
from guardian.domain.patient import Patient
from guardian.domain.report import ReferralReport, fingerprint

D = dt.date
AS_OF = D(2026, 3, 31)


def report(**changes) -> ReferralReport:
    base = ReferralReport(
        provider="RAJ",
        pathway_id="PPI-0001",
        nhs_number="9995260182",
        birth_date=D(1958, 3, 14),
        practice_code="Z90001",
        treatment_function="110",
        priority=1,
        waiting_list_type="ORTT",
        received_on=D(2025, 11, 3),
        clock_start=D(2025, 11, 3),
        as_of=AS_OF,
    )
    return dataclasses.replace(base, **changes)


def given_patient(*reports: ReferralReport) -> Patient:
    patient = Patient.register(uuid.uuid4(), reports[0])
    for r in reports:
        patient.reconcile(r)
    patient.collect_events()
    return patient


def event_names(patient: Patient) -> list[str]:
    return [type(e).__name__ for e in patient.collect_events()]


def replayed(patient: Patient, events) -> Patient:
    """Rebuild the aggregate from its events, as the repository does."""
    aggregate = None
    for e in events:
        aggregate = e.mutate(aggregate)
    return aggregate


# ------------------------------------------------------------------ provider reports


def test_a_new_referral_is_received_with_the_events_its_columns_imply():
    # given a report with an appointment booked and a DNA
    r = report(appointment_on=D(2026, 4, 20), last_dna_on=D(2026, 2, 1))
    # when the patient is registered from it
    patient = Patient.register(uuid.uuid4(), r)
    patient.reconcile(r)
    # then
    assert event_names(patient) == [
        "Registered", "ReferralReceived", "AppointmentBooked", "DidNotAttend"
    ]
    p = patient.pathway("RAJ", "PPI-0001")
    assert p.appointment_on == D(2026, 4, 20)
    assert p.clock_start == D(2025, 11, 3)


def test_an_unchanged_report_writes_nothing():
    patient = given_patient(report())
    patient.reconcile(report(as_of=D(2026, 4, 7)))
    assert event_names(patient) == []


def test_each_changed_fact_is_its_own_event():
    patient = given_patient(report())
    patient.reconcile(
        report(
            practice_code="Z90002",
            priority=2,
            phone="01234 567890",
            appointment_on=D(2026, 5, 1),
            as_of=D(2026, 4, 7),
        )
    )
    assert event_names(patient) == [
        "ContactDetailsChanged", "PracticeChanged", "PriorityChanged", "AppointmentBooked"
    ]


def test_a_new_end_date_stops_the_clock_with_the_status_as_reason():
    patient = given_patient(report())
    patient.reconcile(report(clock_end=D(2026, 3, 20), rtt_status="30"))
    assert event_names(patient) == ["ClockStopped"]
    p = patient.pathway("RAJ", "PPI-0001")
    assert p.clock_end == D(2026, 3, 20)
    assert p.stop_reason == "30"
    assert not p.is_open


def test_an_end_date_without_a_stop_status_is_reported_by_provider():
    patient = given_patient(report())
    patient.reconcile(report(clock_end=D(2026, 3, 20)))
    events = patient.collect_events()
    assert events[0].reason == "reported by provider"
    assert events[0].reason_code is None


def test_a_changed_clock_start_is_a_correction():
    patient = given_patient(report())
    patient.reconcile(report(clock_start=D(2025, 11, 10)))
    events = patient.collect_events()
    assert [type(e).__name__ for e in events] == ["ClockStartCorrected"]
    assert events[0].previous == D(2025, 11, 3)


def test_status_10_after_an_end_date_starts_a_new_rtt_period():
    # given a pathway whose clock stopped (first-appointment DNA)
    patient = given_patient(report(), report(clock_end=D(2026, 1, 15), rtt_status="33"))
    # when the provider rebooks: a new start with status 10 and no end date
    patient.reconcile(report(clock_start=D(2026, 2, 1), rtt_status="10"))
    # then a new period starts; the old one is kept
    assert event_names(patient) == ["RttPeriodStarted"]
    p = patient.pathway("RAJ", "PPI-0001")
    assert (p.clock_start, p.clock_end) == (D(2026, 2, 1), None)
    assert p.earlier_periods[0].clock_end == D(2026, 1, 15)
    assert p.is_open


def test_a_known_pathway_under_another_nhs_number_is_refused():
    patient = given_patient(report())
    with pytest.raises(InvalidValue, match="another NHS number"):
        patient.reconcile(report(nhs_number="9991590838"))


def test_a_second_referral_is_a_second_pathway():
    patient = given_patient(report())
    patient.reconcile(report(pathway_id="PPI-0099", treatment_function="330"))
    assert event_names(patient) == ["ReferralReceived"]
    assert len(patient.pathways) == 2


def test_reported_facts_fingerprint_matches_the_report_after_replay():
    r = report(appointment_on=D(2026, 4, 20), procedure_priority="P2",
               priority_reviewed_on=D(2026, 3, 1), phone="01234 567890")
    patient = Patient.register(uuid.uuid4(), r)
    patient.reconcile(r)
    events = patient.collect_events()
    rebuilt = replayed(patient, events)
    assert fingerprint(rebuilt.reported_facts("RAJ", "PPI-0001")) == fingerprint(r.facts())


def test_guardian_actions_do_not_change_what_the_provider_reported():
    # given a pathway Guardian validated off the list (a clock stop by a coordinator)
    patient = given_patient(report())
    patient.stop_clock("RAJ", "PPI-0001", D(2026, 3, 25), "34")
    patient.collect_events()
    # when the provider's next extract still shows the clock running
    patient.reconcile(report(as_of=D(2026, 4, 7)))
    # then nothing is withdrawn: the row is as the provider reported it before
    assert event_names(patient) == []


def test_left_the_list_then_listed_again_returns():
    patient = given_patient(report())
    patient.leave_waiting_list("RAJ", "PPI-0001", D(2026, 4, 7))
    assert event_names(patient) == ["PathwayLeftWaitingList"]
    patient.leave_waiting_list("RAJ", "PPI-0001", D(2026, 4, 8))
    assert event_names(patient) == []
    patient.reconcile(report(as_of=D(2026, 4, 14)))
    assert event_names(patient) == ["PathwayReturnedToWaitingList"]
    assert patient.pathway("RAJ", "PPI-0001").left_list_on is None


# ------------------------------------------------------------------ care commands


def test_workup_completes_when_its_last_item_is_done():
    patient = given_patient(report())
    patient.require_workup_item("RAJ", "PPI-0001", "w1", "X-ray of the knee", "practice",
                                D(2025, 11, 4))
    patient.require_workup_item("RAJ", "PPI-0001", "w2", "Weight and BMI", "practice",
                                D(2025, 11, 4))
    patient.complete_workup_item("RAJ", "PPI-0001", "w1", D(2025, 11, 10), "gp")
    assert event_names(patient) == [
        "WorkupItemRequired", "WorkupItemRequired", "WorkupItemCompleted"
    ]
    patient.complete_workup_item("RAJ", "PPI-0001", "w2", D(2025, 11, 12), "gp")
    assert event_names(patient) == ["WorkupItemCompleted", "WorkupCompleted"]
    assert patient.pathway("RAJ", "PPI-0001").workup_completed_on == D(2025, 11, 12)


def test_repeating_a_command_is_a_no_op():
    patient = given_patient(report())
    for _ in range(2):
        patient.order_diagnostic("RAJ", "PPI-0001", "t1", "mri", D(2026, 1, 5))
        patient.log_contact("c1", D(2026, 1, 6), "phone", "pain worse", "sam")
        patient.assign_coordinator("RAJ", "PPI-0001", "sam@demo.invalid")
        patient.record_breach("RAJ", "PPI-0001", "rtt-18", "", D(2026, 3, 10))
    assert event_names(patient) == [
        "DiagnosticOrdered", "ContactLogged", "CoordinatorAssigned", "WaitBreached"
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
    assert event_names(patient) == ["DiagnosisCommunicated"]
    with pytest.raises(ConflictingCommand):
        patient.communicate_diagnosis("RAJ", "PPI-0001", D(2025, 11, 21), "cancer-diagnosed")


def test_deterioration_flag_and_review():
    patient = given_patient(report())
    patient.flag_deterioration("f1", D(2026, 3, 2), "pain worse, two falls", "check-in",
                               "RAJ", "PPI-0001")
    patient.review_deterioration("f1", D(2026, 3, 3), "reprioritised")
    patient.review_deterioration("f1", D(2026, 3, 4), "again")
    assert event_names(patient) == ["DeteriorationFlagged", "DeteriorationReviewed"]
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
    assert event_names(patient) == ["SupportOffered"]
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
    assert event_names(patient) == []


def test_a_review_outcome_must_be_one_of_the_review_outcomes():
    patient = given_patient(report())
    patient.flag_deterioration("f1", D(2026, 3, 2), "pain worse", "gp", "RAJ", "PPI-0001")
    with pytest.raises(InvalidValue, match="reprioritised"):
        patient.review_deterioration("f1", D(2026, 3, 3), "re-prioritised by the hospital")
    patient.review_deterioration("f1", D(2026, 3, 3), "reprioritised")
    assert patient.flags["f1"].review_outcome == "reprioritised"
