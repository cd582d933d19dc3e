"""The posted ServiceRequest's mapping to an extract row (guardian/web/fhir/incoming.py,
docs/fhir.md "Recording a referral"), without a database: every column it can carry, where
each was read, and what is structural (400) or refused (422) before any rule runs."""

from __future__ import annotations

import pytest

from guardian.web.fhir import ids
from guardian.web.fhir.incoming import CANONICAL, path_of, to_row
from guardian.web.fhir.outcome import FhirError

CLOCK = [{"url": "start", "valueDate": "2026-01-05"}, {"url": "end", "valueDate": "2026-03-01"},
         {"url": "status", "valueCode": "30"}, {"url": "waitingListType", "valueCode": "IRTT"}]


def body(**changes) -> dict:
    out = {
        "resourceType": "ServiceRequest", "status": "active", "intent": "original-order",
        "priority": "asap", "authoredOn": "2026-01-04T23:30:00+00:00",
        "subject": {"reference": "#pat"},
        "contained": [{"resourceType": "Practitioner", "id": "x"},
                      {"resourceType": "Patient", "id": "pat", "birthDate": "1950-01-02",
                       "identifier": [{"system": ids.NHS_NUMBER, "value": "999 300 0019"}],
                       "name": [{"family": "Okafor", "given": ["Grace", "Ada"]}],
                       "telecom": [{"system": "phone", "value": "01234 567890"},
                                   {"system": "email", "value": "grace@example.org"}]}],
        "identifier": [{"system": ids.pathway_system("RAJ"), "value": "P-1"},
                       {"system": ids.UBRN, "value": "000011112222"}],
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "1"},
                            {"system": ids.TREATMENT_FUNCTION, "code": "330"}]},
        "extension": [{"url": ids.RTT_CLOCK, "extension": CLOCK}],
        "requester": {"identifier": {"system": ids.ODS, "value": "Y90001"}},
        "performer": [{"identifier": {"system": ids.ODS, "value": "raj"}}],
    }
    out.update(changes)
    return out


def test_every_column_a_service_request_carries_and_where_it_was_read():
    row, where = to_row(body())
    assert row == {
        "nhs_number": "999 300 0019", "person_birth_date": "1950-01-02",
        "patient_family_name": "Okafor", "patient_given_name": "Grace",
        "patient_phone": "01234 567890", "patient_email": "grace@example.org",
        "patient_pathway_identifier": "P-1", "ubrn": "000011112222",
        "general_medical_practice_code": "Y90001",
        "organisation_identifier_code_of_provider": "raj",
        "referral_request_received_date": "2026-01-04", "priority_type_code": "3",
        "activity_treatment_function_code": "330",
        "referral_to_treatment_period_start_date": "2026-01-05",
        "referral_to_treatment_period_end_date": "2026-03-01",
        "referral_to_treatment_period_status": "30", "waiting_list_type": "IRTT",
    }
    assert where["nhs_number"] == "ServiceRequest.contained[1].identifier[0].value"
    assert where["activity_treatment_function_code"] == "ServiceRequest.code.coding[1].code"
    assert where["referral_to_treatment_period_status"] == \
        "ServiceRequest.extension[0].extension[2].valueCode"
    assert path_of("PERSON_BIRTH_DATE", {}) == CANONICAL["person_birth_date"]
    assert path_of("record", where) == "ServiceRequest"
    # occurrencePeriod.start is read before the extension's start
    row, _ = to_row(body(occurrencePeriod={"start": "2026-01-06"}))
    assert row["referral_to_treatment_period_start_date"] == "2026-01-06"


@pytest.mark.parametrize(("changes", "status", "path"), [
    ({"subject": "9993000019"}, 400, "ServiceRequest.subject"),
    ({"identifier": [{"system": 5}]}, 400, "ServiceRequest.identifier[0].system"),
    ({"contained": ["Patient"]}, 400, "ServiceRequest.contained[0]"),
    ({"doNotPerform": "yes"}, 400, "ServiceRequest.doNotPerform"),
    ({"doNotPerform": True}, 422, "ServiceRequest.doNotPerform"),
    ({"intent": "plan"}, 422, "ServiceRequest.intent"),
    ({"requester": {"display": "Dr Who"}}, 422, "ServiceRequest.requester.identifier"),
])
def test_structure_and_codes_are_checked_first(changes, status, path):
    with pytest.raises(FhirError) as caught:
        to_row(body(**changes))
    assert caught.value.status == status
    assert path in [e for i in caught.value.issues for e in i.get("expression", [])]
