"""Recording a referral as a FHIR ServiceRequest (docs/fhir.md "Recording a referral"): the
rules of `POST /api/v1/referrals` through the same code, the created ServiceRequest reads
back and the referral is in the JSON API, and every bad body is a 4xx OperationOutcome
naming the FHIR element at fault."""

from __future__ import annotations

import json

import pytest
from api_helpers import HOME, NHS, THURROCK, days_ago
from fhir_checks import FHIR_JSON, expressions, fhir, outcome
from web_helpers import csrf_of, sign_in

from guardian.web.fhir import ids
from guardian.web.fhir.write import MAX_BODY

URL = "/fhir/R4/ServiceRequest"


def referral(nhs: str = NHS[10], pathway_id: str = "FHIR-IN-1", practice: str = HOME,
             priority: str = "urgent") -> dict:
    return {
        "resourceType": "ServiceRequest",
        "contained": [{"resourceType": "Patient", "id": "p", "birthDate": "1958-03-14",
                       "name": [{"family": "Tester", "given": ["Ada"]}],
                       "telecom": [{"system": "email", "value": "ada@example.org"}]}],
        "identifier": [{"system": ids.UBRN, "value": "000011112222"},
                       {"system": ids.pathway_system("RAJ"), "value": pathway_id}],
        "status": "active", "intent": "order", "priority": priority,
        "code": {"coding": [{"system": ids.TREATMENT_FUNCTION, "code": "110"}]},
        "subject": {"reference": "#p",
                    "identifier": {"system": ids.NHS_NUMBER, "value": nhs}},
        "authoredOn": days_ago(30) + "T09:30:00Z",
        "occurrencePeriod": {"start": days_ago(30)},
        "requester": {"identifier": {"system": ids.ODS, "value": practice}},
        "performer": [{"identifier": {"system": ids.ODS, "value": "RAJ"}}],
    }


def send(client, headers, body, content_type: str = FHIR_JSON):
    content = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.post(URL, content=content, headers={**headers, "Content-Type": content_type})


def test_a_posted_service_request_is_recorded_and_reads_back(client, tokens):
    coordinator = tokens["coordinator"]
    created = send(client, coordinator, referral())
    body = fhir(created, 201)
    assert created.headers["location"].endswith(f"{URL}/{body['id']}")
    assert body["priority"] == "urgent" and body["status"] == "active"
    assert body["subject"]["identifier"]["value"] == NHS[10]
    assert body["subject"]["display"] == "Ada TESTER"
    assert fhir(client.get(f"{URL}/{body['id']}", headers=coordinator)) == body
    api = client.get("/api/v1/referrals/FHIR-IN-1", headers=coordinator)
    assert api.status_code == 200, api.text
    assert api.json()["priority"] == 2 and api.json()["practice_code"] == HOME
    assert api.json()["patient"]["given_name"] == "Ada"

    again = send(client, coordinator, referral(), content_type="application/json")
    assert fhir(again, 200) == body
    changed = referral(priority="asap")
    updated = fhir(send(client, coordinator, changed), 200)
    assert updated["id"] == body["id"] and updated["priority"] == "asap"
    found = fhir(client.get(f"{URL}?identifier={ids.NHS_NUMBER}|{NHS[10]}",
                            headers=coordinator))
    assert [e["resource"] for e in found["entry"]] == [updated]

    guardian = client.app.state.guardian
    guardian.close_pathway(guardian.patient_id(NHS[10]), "RAJ", "FHIR-IN-1", "withdrawn")
    assert fhir(client.get(f"{URL}/{body['id']}", headers=coordinator))["status"] == "revoked"


@pytest.mark.one_backend
def test_a_session_reads_and_posts_with_its_csrf_token(client):
    assert sign_in(client, "coordinator").status_code == 303
    token = csrf_of(client)
    outcome(send(client, {}, referral()), 403)
    created = fhir(send(client, {"X-CSRF-Token": token}, referral()), 201)
    fhir(client.get(f"{URL}/{created['id']}"))


@pytest.mark.one_backend
def test_who_may_post_and_what_they_may_post_for(client, tokens):
    for role in ("gp", "place-lead"):
        outcome(send(client, tokens[role], referral()), 404)
    outcome(send(client, {}, referral()), 401)
    refused = send(client, tokens["coordinator"], referral(practice=THURROCK))
    assert expressions(refused) == ["ServiceRequest.requester.identifier.value"]
    assert "outside" in refused.json()["issue"][0]["diagnostics"]
    fhir(send(client, tokens["admin"], referral(practice=THURROCK)), 201)


def _without(path: str) -> dict:
    body = referral()
    *parents, last = path.split(".")
    node = body
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    del node[int(last) if last.isdigit() else last]
    return body


def _with(path: str, value) -> dict:
    body = referral()
    *parents, last = path.split(".")
    node = body
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    node[int(last) if last.isdigit() else last] = value
    return body


# body → (status, the FHIRPath the OperationOutcome names)
BAD = [
    (_with("resourceType", "Patient"), 400, "resourceType"),
    (_with("flavour", "x"), 400, "ServiceRequest.flavour"),
    (_without("status"), 400, "ServiceRequest.status"),
    (_with("status", "draft"), 422, "ServiceRequest.status"),
    (_with("intent", "wish"), 422, "ServiceRequest.intent"),
    (_with("identifier", {"system": ids.UBRN}), 400, "ServiceRequest.identifier"),
    (_with("priority", "soon"), 422, "ServiceRequest.priority"),
    (_with("priority", "stat"), 422, "ServiceRequest.priority"),
    (_with("code.coding.0.code", "1"), 422, "ServiceRequest.code.coding[0].code"),
    (_with("contained.0.birthDate", "14/03/1958"), 422,
     "ServiceRequest.contained[0].birthDate"),
    (_without("contained"), 422, "ServiceRequest.contained.ofType(Patient).birthDate"),
    (_with("subject.identifier.value", "9990000000"), 422,
     "ServiceRequest.subject.identifier.value"),
    (_with("subject.identifier.system", "urn:x"), 422,
     "ServiceRequest.subject.identifier.system"),
    (_with("requester.identifier.value", "ZZ999"), 422,
     "ServiceRequest.requester.identifier.value"),
    (_with("performer", []), 422, "ServiceRequest.performer.identifier.value"),
    (_with("identifier.1.system", ids.pathway_system("RQW")), 422,
     "ServiceRequest.identifier[1].system"),
    (_with("authoredOn", "2999-01-01"), 422, "ServiceRequest.authoredOn"),
    (_with("contained.0.name.0.family", "Tab\there"), 422,
     "ServiceRequest.contained[0].name[0].family"),
    (_with("modifierExtension", [{"url": "urn:x", "valueBoolean": True}]), 422,
     "ServiceRequest.modifierExtension"),
]


@pytest.mark.one_backend
def test_each_bad_body_is_an_operation_outcome_naming_the_element(client, tokens):
    coordinator = tokens["coordinator"]
    for body, status, path in BAD:
        answer = send(client, coordinator, body)
        assert path in expressions(answer, status), (path, answer.json())
    for raw in (b"{not json", b"\xff\xfe", b"[]", b'"text"'):
        outcome(send(client, coordinator, raw), 400)
    outcome(send(client, coordinator, referral(), content_type="text/plain"), 415)
    outcome(send(client, coordinator, referral(), content_type="application/xml"), 415)
    big = referral()
    big["note"] = [{"text": "x" * MAX_BODY}]
    outcome(send(client, coordinator, big), 413)
    big["note"] = [{"text": "x" * (2 * 1024 * 1024)}]  # over the app's own limit (1 MiB)
    outcome(send(client, coordinator, big), 413)
    # nothing was recorded by any of them
    assert client.get("/api/v1/referrals/FHIR-IN-1", headers=coordinator).status_code == 404
