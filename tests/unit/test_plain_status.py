"""A referral's status in plain English (guardian/projections/plain.py): each branch of the
expected wait, what the practice owes and the next step, against hand-written sentences.

The referral (tests/unit/referrals.py) is routine Trauma and Orthopaedics at RAJ, received and
started on Monday 5 January 2026; its 18-week target date is 11 May 2026 (day 126)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest
from referrals import PW, START, given_patient, report

from guardian.projections.plain import PlainStatus, plain_status
from guardian.projections.status import ExpectedWait, referral_status

D = dt.date
ON = D(2026, 3, 2)  # 8 weeks after the start
KNOWN = ExpectedWait("RAJ", "110", 1, ON, 214, 22.4, 31.0)


def said(patient, on: dt.date = ON, expected: ExpectedWait | None = KNOWN) -> PlainStatus:
    status = dataclasses.replace(referral_status(patient, *PW, on), expected_wait=expected)
    return plain_status(status, patient.pathway(*PW), on)


def waiting(**changes):
    return given_patient(report(**{"as_of": ON, **changes}))


def test_expected_wait_known_gives_the_median_the_range_and_the_basis():
    text = said(waiting())
    assert text.wait == (
        "The patient has waited 8 weeks so far.",
        "Half of patients finish waiting within 22 weeks.",
        "Most (92 in every 100) finish within 31 weeks.",
        "Finishing means starting treatment, or the hospital deciding none is needed.",
        "This is based on 214 routine patients who finished waiting for Trauma and "
        "Orthopaedics at this hospital in the 26 weeks to 2 March 2026.",
    )
    # the median from the clock start: 5 Jan 2026 + 157 days = 11 June 2026
    assert text.next_step == (
        "The hospital will book a first appointment and write to the patient with the date.",
        "The next NHS target date is 11 May 2026 (18 weeks from referral to treatment).",
        "If this patient waits as long as a typical patient, the wait would end around "
        "June 2026.",
    )
    widened = dataclasses.replace(KNOWN, priority=None, sample=9)
    assert "based on 9 patients of every priority who" in " ".join(said(waiting(),
                                                                        expected=widened).wait)


def test_no_expected_wait_data_yet():
    few = ExpectedWait("RAJ", "110", 1, ON, 3, None, None)
    text = said(waiting(), expected=few)
    assert text.wait == (
        "The patient has waited 8 weeks so far.",
        "We cannot estimate the wait yet.",
        "Only 3 patients finished waiting for Trauma and Orthopaedics at this hospital in "
        "the last 26 weeks.",
        "At least 8 are needed for a fair estimate.",
    )
    none = ExpectedWait("RAJ", "110", 1, ON, 0, None, None)
    assert said(waiting(), expected=none).wait[2].startswith("No patients finished waiting")
    assert not any("typical" in s for s in text.next_step)  # no date guessed either
    assert said(waiting(), expected=None).wait[1] == (
        "There is no estimate of the wait for this kind of referral.")


def test_workup_owed_and_overdue_comes_first():
    patient = waiting()
    patient.require_workup_item(*PW, "w1", "Photographs of the lesion", "practice", START)
    patient.require_workup_item(*PW, "w2", "Blood pressure readings", "patient", START)
    text = said(patient, on=D(2026, 1, 10))
    # asked on 5 Jan: due within 14 days, by 19 Jan
    assert text.owed == ("Photographs of the lesion: asked for on 5 January 2026. "
                         "Please do this by 19 January 2026.",)
    assert text.owes and not text.owed_overdue
    assert text.next_step[0] == ("When the practice has done this, the hospital can book a "
                                 "first appointment.")
    patient.require_workup_item(*PW, "w3", "Recent blood tests", "practice", D(2026, 1, 20))
    late = said(patient, on=D(2026, 1, 21))
    assert late.owed_overdue
    assert late.owed == (
        "Photographs of the lesion: asked for on 5 January 2026. This is overdue (it was due "
        "by 19 January 2026).",
        # asked for after the workup's deadline: overdue, with no date before it was asked
        "Recent blood tests: asked for on 20 January 2026. This is overdue.",
    )


def test_nothing_owed_by_the_practice():
    patient = waiting()
    patient.require_workup_item(*PW, "w2", "Blood pressure readings", "patient", START)
    text = said(patient)
    assert text.owed == ("The practice does not need to do anything for this referral.",)
    assert not text.owes
    assert text.next_step[0] == ("The hospital is waiting for checks from the patient before "
                                 "it can book a first appointment.")
    seen = waiting(last_attended_on=D(2026, 2, 10))
    seen.require_workup_item(*PW, "w1", "Recent blood tests", "practice", D(2026, 2, 11))
    assert said(seen).next_step[0] == ("When the practice has done this, the hospital can take "
                                       "the next step.")


def test_appointment_booked_ahead_and_past():
    patient = waiting(appointment_on=D(2026, 3, 20))
    assert said(patient).next_step[0] == "The first appointment is on 20 March 2026."
    assert said(patient, on=D(2026, 3, 23)).next_step[:2] == (
        "The first appointment was on 20 March 2026.",
        "The hospital has not yet said what happens next.")


def test_awaiting_tests():
    patient = waiting()
    patient.order_diagnostic(*PW, "t1", "mri", D(2026, 2, 16))
    text = said(patient)
    assert text.next_step[:2] == (
        "The patient is waiting for test results: MRI (asked for on 16 February 2026).",
        "When the results are back, the hospital will decide the next step.")
    # the test's own target (day 41 from the order) comes before the 18 weeks
    assert text.next_step[2] == ("The next NHS target date is 29 March 2026 (diagnostic test "
                                 "done within 6 weeks).")


def test_awaiting_treatment_and_treatment_booked():
    seen = said(waiting(last_attended_on=D(2026, 2, 10)))
    assert seen.next_step[:2] == ("The patient has been seen at the hospital (last on "
                                  "10 February 2026).",
                                  "The next step is treatment. The hospital will write with a "
                                  "date.")
    booked = said(waiting(last_attended_on=D(2026, 2, 10), tci_on=D(2026, 4, 1)))
    assert booked.next_step[0] == "Treatment is booked for 1 April 2026."
    assert not any("typical" in s for s in booked.next_step)


def test_a_long_wait_says_so():
    text = said(waiting(), on=D(2026, 7, 1))  # 25 weeks, past the 22-week median
    assert text.next_step[-1] == "The patient has already waited longer than a typical patient."
    assert text.wait[0] == "The patient has waited 25 weeks so far."


def test_left_the_list():
    patient = waiting()
    patient.leave_waiting_list(*PW, D(2026, 2, 23))
    text = said(patient)
    assert text.next_step == (
        "The hospital took the patient off its waiting list on 23 February 2026, without "
        "saying why.",
        "Guardian is finding out why. The practice does not need to do anything unless "
        "Guardian gets in touch.")


@pytest.mark.parametrize(("code", "because"), [
    ("30", "Treatment started."),
    ("33", "The patient did not come to the first appointment."),
    ("34", "The hospital decided that no treatment is needed."),
])
def test_clock_stopped(code, because):
    patient = waiting()
    patient.stop_clock(*PW, D(2026, 2, 20), code)
    text = said(patient, expected=None)
    assert text.wait == ("The patient is no longer waiting on this referral.",)
    assert text.owed == ("Nothing is needed from the practice.",)
    assert text.next_step[:2] == ("The wait ended on 20 February 2026.", because)
    assert (code == "33") == any("refer again" in s for s in text.next_step)


def test_closed():
    patient = waiting()
    patient.close_pathway(*PW, D(2026, 2, 25), "moved-away")
    text = said(patient, expected=None)
    assert text.next_step == ("This referral was closed on 25 February 2026.",
                              "Reason: Patient moved away.", "Nothing more will happen on it.")
    assert text.owed == ("Nothing is needed from the practice.",)


def test_plain_words_only():
    """No code, jargon or internal value in any sentence of any branch above."""
    patient = waiting(appointment_on=D(2026, 3, 20))
    patient.require_workup_item(*PW, "w1", "Photographs of the lesion", "practice", START)
    text = said(patient)
    assert [h for h, _ in text.sections()] == ["Expected wait", "What the practice still "
                                                "needs to do", "What happens next"]
    for sentence in text.sentences():
        assert not re.search(r"\bRAJ\b|\bRTT\b|\bP[1-6]\b|\bFDS\b|clock|PPI-1|w1|_", sentence)
        assert len(sentence.split()) <= 25, sentence
