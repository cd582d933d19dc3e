"""A provider's report of a pathway, reconciled with what it reported before: one named
event per changed fact (docs/formats.md, "How rows become events"), in given / when / then
form; and `report_events`, the pure rule behind `Patient.reconcile`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

import pytest
from referrals import fired, given_patient
from referrals import report_2025 as report

from guardian.domain.errors import InvalidValue
from guardian.domain.patient import Patient, report_events
from guardian.domain.patient import events as ev
from guardian.domain.patient.provider_reports import CORRECTIONS
from guardian.domain.report import CORRECTION_FACTS, fingerprint

D = dt.date
PW = ("RAJ", "PPI-0001")


def replayed(patient: Patient, events) -> Patient:
    """Rebuild the aggregate from its events, as the repository does."""
    aggregate = None
    for e in events:
        aggregate = e.mutate(aggregate)
    return aggregate


def test_a_new_referral_is_received_with_the_events_its_columns_imply():
    # given a report with an appointment booked and a DNA
    r = report(appointment_on=D(2026, 4, 20), last_dna_on=D(2026, 2, 1))
    # when the patient is registered from it
    patient = Patient.register(uuid.uuid4(), r)
    patient.reconcile(r)
    # then
    assert fired(patient) == [
        ev.Registered, ev.ReferralReceived, ev.AppointmentBooked, ev.DidNotAttend
    ]
    p = patient.pathway(*PW)
    assert p.appointment_on == D(2026, 4, 20)
    assert p.clock_start == D(2025, 11, 3)


def test_an_unchanged_report_writes_nothing():
    patient = given_patient(report())
    patient.reconcile(report(as_of=D(2026, 4, 7)))
    assert fired(patient) == []


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
    assert fired(patient) == [
        ev.ContactDetailsChanged, ev.PracticeChanged, ev.PriorityChanged, ev.AppointmentBooked
    ]


@pytest.mark.parametrize("fact, value, event", [
    ("received_on", D(2025, 11, 4), ev.ReferralDateCorrected),
    ("treatment_function", "330", ev.SpecialtyCorrected),
    ("waiting_list_type", "IRTT", ev.WaitingListTypeCorrected),
    ("ubrn", "000000000001", ev.UbrnCorrected),
    ("local_patient_id", "L-42", ev.LocalPatientIdCorrected),
])
def test_a_corrected_administrative_fact_is_its_own_named_event(fact, value, event):
    patient = given_patient(report())
    patient.reconcile(report(as_of=D(2026, 4, 7), **{fact: value}))
    [e] = patient.collect_events()
    assert type(e) is event
    assert (getattr(e, fact), e.reported_on) == (value, D(2026, 4, 7))
    assert getattr(patient.pathway(*PW), fact) == value
    assert patient.reported[PW][fact] == value


def test_corrections_of_several_facts_come_in_the_order_of_the_facts():
    patient = given_patient(report())
    patient.reconcile(report(received_on=D(2025, 11, 4), ubrn="U1", local_patient_id="L1"))
    assert fired(patient) == [
        ev.LocalPatientIdCorrected, ev.UbrnCorrected, ev.ReferralDateCorrected
    ]


def test_every_administrative_fact_has_its_correction_event():
    assert set(CORRECTIONS) == set(CORRECTION_FACTS)


def test_an_attendance_or_dna_no_longer_reported_is_withdrawn():
    patient = given_patient(report(last_attended_on=D(2026, 2, 1), last_dna_on=D(2026, 1, 5)))
    patient.reconcile(report(as_of=D(2026, 4, 7)))
    assert fired(patient) == [ev.AttendanceWithdrawn, ev.NonAttendanceWithdrawn]
    p = patient.pathway(*PW)
    assert (p.last_attended_on, p.last_dna_on, p.first_seen_on) == (None, None, D(2026, 2, 1))


def test_a_new_end_date_stops_the_clock_with_the_status_as_reason():
    patient = given_patient(report())
    patient.reconcile(report(clock_end=D(2026, 3, 20), rtt_status="30"))
    assert fired(patient) == [ev.ClockStopped]
    p = patient.pathway(*PW)
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
    assert [type(e) for e in events] == [ev.ClockStartCorrected]
    assert events[0].previous == D(2025, 11, 3)


def test_status_10_after_an_end_date_starts_a_new_rtt_period():
    # given a pathway whose clock stopped (first-appointment DNA)
    patient = given_patient(report(), report(clock_end=D(2026, 1, 15), rtt_status="33"))
    # when the provider rebooks: a new start with status 10 and no end date
    patient.reconcile(report(clock_start=D(2026, 2, 1), rtt_status="10"))
    # then a new period starts; the old one is kept
    assert fired(patient) == [ev.RttPeriodStarted]
    p = patient.pathway(*PW)
    assert (p.clock_start, p.clock_end) == (D(2026, 2, 1), None)
    assert p.earlier_periods[0].clock_end == D(2026, 1, 15)
    assert p.is_open


def test_a_withdrawn_end_date_runs_the_clock_again_and_the_status_is_reported():
    patient = given_patient(report(), report(clock_end=D(2026, 1, 15), rtt_status="30"))
    patient.reconcile(report(rtt_status="20"))
    assert fired(patient) == [ev.ClockStopWithdrawn, ev.RttStatusReported]
    assert patient.pathway(*PW).is_open


def test_a_known_pathway_under_another_nhs_number_is_refused():
    patient = given_patient(report())
    with pytest.raises(InvalidValue, match="another NHS number"):
        patient.reconcile(report(nhs_number="9991590838"))


def test_a_second_referral_is_a_second_pathway():
    patient = given_patient(report())
    patient.reconcile(report(pathway_id="PPI-0099", treatment_function="330"))
    assert fired(patient) == [ev.ReferralReceived]
    assert len(patient.pathways) == 2


def test_details_from_a_source_without_authority_stay_with_the_referral():
    patient = given_patient(report())
    patient.reconcile(report(birth_date=D(1958, 3, 15), phone="01234 567890"),
                      patient_details=False)
    assert fired(patient) == [ev.ReferralDetailsReported]
    assert (patient.birth_date, patient.phone) == (D(1958, 3, 14), None)
    assert patient.reported[PW]["phone"] == "01234 567890"


def test_reported_facts_fingerprint_matches_the_report_after_replay():
    r = report(appointment_on=D(2026, 4, 20), procedure_priority="P2",
               priority_reviewed_on=D(2026, 3, 1), phone="01234 567890")
    patient = Patient.register(uuid.uuid4(), r)
    patient.reconcile(r)
    events = patient.collect_events()
    rebuilt = replayed(patient, events)
    assert fingerprint(rebuilt.reported_facts(*PW)) == fingerprint(r.facts())


def test_guardian_actions_do_not_change_what_the_provider_reported():
    # given a pathway Guardian validated off the list (a clock stop by a coordinator)
    patient = given_patient(report())
    patient.stop_clock(*PW, D(2026, 3, 25), "34")
    patient.collect_events()
    # when the provider's next extract still shows the clock running
    patient.reconcile(report(as_of=D(2026, 4, 7)))
    # then nothing is withdrawn: the row is as the provider reported it before
    assert fired(patient) == []


def test_left_the_list_then_listed_again_returns():
    patient = given_patient(report())
    patient.leave_waiting_list(*PW, D(2026, 4, 7))
    assert fired(patient) == [ev.PathwayLeftWaitingList]
    patient.leave_waiting_list(*PW, D(2026, 4, 8))
    assert fired(patient) == []
    patient.reconcile(report(as_of=D(2026, 4, 14)))
    assert fired(patient) == [ev.PathwayReturnedToWaitingList]
    assert patient.pathway(*PW).left_list_on is None


# ------------------------------------------------------------------ the rule, pure


def test_report_events_decides_without_changing_the_patient():
    patient = given_patient(report())
    r = report(priority=2, tci_on=D(2026, 5, 1), as_of=D(2026, 4, 7))
    before = (patient.version, dataclasses.asdict(patient.pathway(*PW)))
    decided = report_events(r, patient.pathway(*PW), patient.reported[PW])
    assert (patient.version, dataclasses.asdict(patient.pathway(*PW))) == before
    ids = {"provider": "RAJ", "pathway_id": "PPI-0001", "reported_on": D(2026, 4, 7)}
    assert decided == [(ev.PriorityChanged, {"priority": 2, **ids}),
                       (ev.TreatmentScheduled, {"tci_on": D(2026, 5, 1), **ids})]
    patient.reconcile(r)
    assert [(type(e), e.reported_on) for e in patient.collect_events()] == [
        (cls, fields["reported_on"]) for cls, fields in decided]


def test_report_events_of_a_first_report_starts_with_the_referral():
    r = report(appointment_on=D(2026, 4, 20))
    identity = {"nhs_number": r.nhs_number, "birth_date": r.birth_date}
    assert [cls for cls, _ in report_events(r, None, identity)] == [
        ev.ReferralReceived, ev.AppointmentBooked]
