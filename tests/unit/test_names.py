"""Names by code (guardian/projections/name_queries.py Names and guardian/web/names.py
with_names): a known code reads as its name, "Name (CODE)" where the code helps, an
unknown one as itself, never an error; free text has its codes and e-mail addresses named;
an API answer gains each name beside its code and keeps every field."""

from __future__ import annotations

import datetime as dt
import uuid

from referrals import START, report

from guardian.domain.patient import Patient
from guardian.projections.name_queries import NO_NAMES, Names
from guardian.projections.timeline import timeline
from guardian.web.names import with_names

NAMES = Names(
    providers={"RAJ": "Mid and South Essex NHS Foundation Trust"},
    practices={"Y90001": "Brook Lane Surgery"},
    pcns={"U90001": "Chelmer PCN"},
    people={"sam@guardian.test": "Sam Taylor"},
)


def test_known_codes_read_as_names_and_unknown_ones_as_themselves():
    assert NAMES.provider("RAJ") == "Mid and South Essex NHS Foundation Trust"
    assert NAMES.provider_coded("RAJ") == "Mid and South Essex NHS Foundation Trust (RAJ)"
    assert NAMES.practice("Y90001") == "Brook Lane Surgery"
    assert NAMES.practice_coded("Y90001") == "Brook Lane Surgery (Y90001)"
    assert NAMES.pcn("U90001") == "Chelmer PCN" and NAMES.pcn_coded("U90001") == (
        "Chelmer PCN (U90001)")
    assert NAMES.treatment_function("330") == "Dermatology"
    for lookup in (NAMES.provider, NAMES.provider_coded, NAMES.practice_coded, NAMES.pcn,
                   NAMES.treatment_function):
        assert lookup("ZZ9") == "ZZ9"
        assert lookup(None) == "" and lookup("") == ""
    assert NO_NAMES.provider("RAJ") == "RAJ"


def test_people_read_by_display_name_in_any_case():
    assert NAMES.person("Sam@Guardian.test") == "Sam Taylor"
    assert NAMES.person("nobody@guardian.test") == "nobody@guardian.test"
    assert NAMES.person(None) == ""


def test_free_text_has_its_codes_and_addresses_named():
    assert NAMES.annotate("orgs: U90001; practice Y90001, Y90002; to sam@guardian.test; "
                          "bulk assign RAJ/PPI-1; RAJ-0001") == (
        "orgs: Chelmer PCN (U90001); practice Brook Lane Surgery (Y90001), Y90002; to Sam "
        "Taylor; bulk assign Mid and South Essex NHS Foundation Trust (RAJ)/PPI-1; RAJ-0001")
    assert NAMES.annotate(None) == ""


def test_an_answer_gains_each_name_beside_its_code():
    answer = {"provider": "RAJ", "rows": [
        {"practice_code": "Y90001", "pcn_code": None, "treatment_function": "330"},
        {"practice_code": "Y99999", "pcn_code": "U90001", "treatment_function": "X99"}],
        "provider_name": "kept"}
    assert with_names(answer, NAMES) == {
        "provider": "RAJ", "provider_name": "kept", "rows": [
            {"practice_code": "Y90001", "practice_name": "Brook Lane Surgery",
             "pcn_code": None, "pcn_name": None,
             "treatment_function": "330", "treatment_function_name": "Dermatology"},
            {"practice_code": "Y99999", "practice_name": "Y99999",
             "pcn_code": "U90001", "pcn_name": "Chelmer PCN",
             "treatment_function": "X99", "treatment_function_name": "X99"}]}



def test_the_timeline_tells_providers_and_practices_by_name():
    named = Names(providers={"RAJ": "Mid and South Essex NHS Foundation Trust"},
                  practices={"Z90002": "Market Square Practice"})
    patient = Patient.register(uuid.uuid4(), report())
    patient.reconcile(report())
    later = START + dt.timedelta(days=7)
    patient.reconcile(report(practice_code="Z90002", waiting_list_type="IRTT", as_of=later))
    events = patient.collect_events()
    told = [t.text for t in timeline(events, patient, "RAJ", "PPI-1", names=named)]
    assert told[0] == ("Referral received by Mid and South Essex NHS Foundation Trust for "
                       "Trauma and Orthopaedics (routine)")
    assert "Registered GP practice is now Market Square Practice" in told
    assert "Waiting list type corrected to an admitted RTT list" in told
    coded = [t.text for t in timeline(events, patient, "RAJ", "PPI-1")]
    assert "Registered GP practice is now Z90002" in coded  # without names: the codes
