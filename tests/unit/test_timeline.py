"""The pathway timeline (guardian/projections/timeline.py) tells each event by its class: the
named corrections of a provider's report read as what changed, dated on the report."""

from __future__ import annotations

import datetime as dt

from referrals import PW, given_patient, report

from guardian.projections.timeline import timeline

D = dt.date
AS_OF = D(2026, 2, 2)


def told(*reports) -> list[tuple[dt.date, str, str]]:
    """The timeline entries the last report added, as (date, text, by)."""
    patient = given_patient(*reports[:-1])
    patient.reconcile(reports[-1])
    return [(e.on, e.text, e.by) for e in timeline(patient.collect_events(), patient, *PW)]


def test_each_corrected_fact_reads_as_what_changed():
    assert told(report(), report(received_on=D(2026, 1, 6), treatment_function="330",
                                 waiting_list_type="IRTT", ubrn="000000000001",
                                 local_patient_id="L-42", as_of=AS_OF)) == [
        (AS_OF, "The hospital's patient identifier corrected", "hospital"),
        (AS_OF, "e-Referral booking reference (UBRN) corrected", "hospital"),
        (AS_OF, "Specialty corrected to Dermatology", "hospital"),
        (AS_OF, "Waiting list type corrected to an admitted RTT list", "hospital"),
        (AS_OF, "Referral date corrected to 6 Jan 2026", "hospital"),
    ]


def test_a_withdrawn_attendance_or_dna_says_so():
    seen = report(last_attended_on=D(2026, 1, 20), last_dna_on=D(2026, 1, 12))
    assert told(seen, report(as_of=AS_OF)) == [
        (AS_OF, "The hospital withdrew its record of the last attendance", "hospital"),
        (AS_OF, "The hospital withdrew its record of a missed appointment", "hospital"),
    ]
