"""Reading and searching FHIR resources (docs/fhir.md): each resource type valid R4 with the
UK Core systems, for each role only what its scope holds: a coordinator of another PCN, a
GP of another practice and a place lead get 404 (and an empty search), exactly as unknown."""

from __future__ import annotations

import datetime as dt

import pytest
from fhir_checks import expressions, fhir, outcome

from guardian import audit
from guardian.web.fhir import ids

NHS_SYSTEM = ids.NHS_NUMBER


def sr_url(ref) -> str:
    return f"/fhir/R4/ServiceRequest/{ref.sr_id}"


@pytest.mark.one_backend
def test_a_pathway_reads_as_a_service_request_with_its_tasks_flags_and_messages(
        client, tokens, cohort):
    home = cohort["home"]
    sr = fhir(client.get(sr_url(home), headers=tokens["gp"]))
    assert sr["id"] == home.sr_id and sr["status"] == "active" and sr["priority"] == "routine"
    assert sr["subject"]["identifier"] == {"system": NHS_SYSTEM, "value": home.nhs}
    assert sr["requester"]["identifier"]["value"] == home.practice
    assert sr["performer"][0]["identifier"]["value"] == "RAJ"
    assert {"system": ids.pathway_system("RAJ"), "value": home.pathway_id} in sr["identifier"]
    assert any(i["system"] == ids.UBRN for i in sr["identifier"])
    clock = {e["url"]: e for e in sr["extension"][0]["extension"]}
    start = clock["start"]["valueDate"]
    assert sr["occurrencePeriod"]["start"] == start
    assert dt.date.fromisoformat(clock["breachOn"]["valueDate"]) == \
        dt.date.fromisoformat(start) + dt.timedelta(days=127)

    tasks = fhir(client.get(f"/fhir/R4/Task?based-on=ServiceRequest/{home.sr_id}",
                            headers=tokens["gp"]))
    by_code = {e["resource"]["code"]["coding"][0]["code"]: e["resource"] for e in tasks["entry"]}
    assert by_code["workup"]["status"] == "requested"
    assert by_code["mri"]["status"] == "completed"
    assert by_code["mri"]["output"][0]["valueString"] == "No abnormality"
    one = fhir(client.get(f"/fhir/R4/Task/{by_code['workup']['id']}", headers=tokens["gp"]))
    assert one == by_code["workup"]

    thread = fhir(client.get(f"/fhir/R4/Communication?part-of=ServiceRequest/{home.sr_id}",
                             headers=tokens["coordinator"]))
    first, second = (e["resource"] for e in thread["entry"])
    assert first["payload"][0]["contentString"] == "Any news?"
    assert second["inResponseTo"][0]["reference"] == f"Communication/{first['id']}"
    assert second["recipient"][0]["identifier"]["value"] == home.practice
    fhir(client.get(f"/fhir/R4/Communication/{first['id']}", headers=tokens["admin"]))

    plans = fhir(client.get(f"/fhir/R4/CarePlan?based-on=ServiceRequest/{home.sr_id}",
                            headers=tokens["gp"]))
    (plan,) = (e["resource"] for e in plans["entry"])
    assert (plan["status"], plan["intent"], plan["created"]) == (
        "active", "plan", client.app.state.guardian.today().isoformat())
    assert plan["basedOn"][0]["reference"] == f"ServiceRequest/{home.sr_id}"
    assert [(a["detail"]["code"]["coding"][0]["system"], a["detail"]["code"]["coding"][0]["code"])
            for a in plan["activity"]] == [(ids.SELF_CARE, "keep-active"),
                                          (ids.SELF_CARE, "pain-relief"),
                                          (ids.CALL_IF_WORSE, "practice")]
    assert plan["activity"][2]["detail"]["description"].startswith(
        "If worse, the patient calls the GP practice")
    assert plan["note"] == [{"text": "We will call in six weeks."}]
    assert fhir(client.get(f"/fhir/R4/CarePlan/{plan['id']}", headers=tokens["gp"])) == plan

    flags = fhir(client.get(f"/fhir/R4/Flag?patient.identifier={NHS_SYSTEM}|{home.nhs}",
                            headers=tokens["gp"]))
    (flag,) = (e["resource"] for e in flags["entry"])
    assert flag["status"] == "active"
    assert flag["extension"][0]["valueReference"]["reference"] == f"ServiceRequest/{home.sr_id}"
    fhir(client.get(f"/fhir/R4/Flag/{flag['id']}", headers=tokens["gp"]))

    found = fhir(client.get(
        f"/fhir/R4/ServiceRequest?patient.identifier={NHS_SYSTEM}|{home.nhs}",
        headers=tokens["coordinator"]))
    assert [e["resource"]["id"] for e in found["entry"]] == [home.sr_id]
    by_id = fhir(client.get(f"/fhir/R4/ServiceRequest?identifier={ids.pathway_system('RAJ')}"
                            f"|{home.pathway_id}", headers=tokens["admin"]))
    assert by_id["total"] == 1
    views = audit.entries(client.app.state.guardian.engine, action="view-referral", limit=50)
    assert any(e.detail == f"FHIR ServiceRequest/{home.sr_id}" for e in views)


# (who, referral) that must not be seen: another PCN's, another practice's, a place lead's
HIDDEN = [("coordinator", "thurrock"), ("gp", "neighbour"), ("gp", "thurrock"),
          ("place-lead", "thurrock"), ("place-lead", "home")]


@pytest.mark.one_backend
def test_nothing_outside_the_scope_is_shown(client, tokens, cohort):
    """Each resource of a referral outside the caller's scope: 404 by id, 404 for the
    searches under it, nothing found by NHS number or UBRN (a place lead: 404 always)."""
    admin = tokens["admin"]
    everything = {}
    for name, ref in cohort.items():
        found = everything[name] = [fhir(client.get(sr_url(ref), headers=admin))]
        for kind in ("Task", "Communication", "CarePlan"):
            found += [e["resource"] for e in fhir(client.get(
                f"/fhir/R4/{kind}?based-on=ServiceRequest/{ref.sr_id}", headers=admin))["entry"]]
        found += [e["resource"] for e in fhir(client.get(
            f"/fhir/R4/Flag?patient.identifier={ref.nhs}", headers=admin))["entry"]]
        assert {r["resourceType"] for r in found} == {"ServiceRequest", "Task", "Flag",
                                                      "Communication", "CarePlan"}
    for role, scope in HIDDEN:
        ref, who = cohort[scope], tokens[role]
        for resource in everything[scope]:
            outcome(client.get(f"/fhir/R4/{resource['resourceType']}/{resource['id']}",
                               headers=who), 404)
        for kind in ("Task", "Communication", "CarePlan"):
            outcome(client.get(f"/fhir/R4/{kind}?based-on=ServiceRequest/{ref.sr_id}",
                               headers=who), 404)
        ubrn = everything[scope][0]["identifier"][0]["value"]
        for search in (f"ServiceRequest?patient.identifier={NHS_SYSTEM}|{ref.nhs}",
                       f"ServiceRequest?identifier={ids.UBRN}|{ubrn}",
                       f"Flag?patient.identifier={NHS_SYSTEM}|{ref.nhs}"):
            answer = client.get(f"/fhir/R4/{search}", headers=who)
            if role == "place-lead":
                outcome(answer, 404)
            else:
                assert fhir(answer)["total"] == 0, (role, search)
    denied = audit.entries(client.app.state.guardian.engine, action="denied-patient", limit=200)
    assert {e.role for e in denied} == {"coordinator", "gp"}
    # and what is in scope is shown: the GP their practice's, the coordinator both PCNs'
    fhir(client.get(sr_url(cohort["home"]), headers=tokens["gp"]))
    fhir(client.get(sr_url(cohort["neighbour"]), headers=tokens["coordinator"]))


@pytest.mark.one_backend
def test_bad_requests_are_operation_outcomes_and_metadata_says_what_is_served(
        client, tokens, cohort):
    gp = tokens["gp"]
    assert expressions(client.get("/fhir/R4/ServiceRequest?patient.identifier=123", headers=gp),
                       400) == ["patient.identifier"]
    assert expressions(client.get("/fhir/R4/ServiceRequest?subject=x", headers=gp),
                       400) == ["subject"]
    outcome(client.get("/fhir/R4/ServiceRequest", headers=gp), 400)
    outcome(client.get("/fhir/R4/ServiceRequest/not-an-id", headers=gp), 404)
    outcome(client.get("/fhir/R4/Task/" + "0" * 32 + "." + "0" * 24, headers=gp), 404)
    outcome(client.get("/fhir/R4/Patient/1", headers=gp), 404)
    outcome(client.get(sr_url(cohort["home"])), 401)
    answer = client.delete(sr_url(cohort["home"]), headers=gp)
    outcome(answer, 405)
    assert answer.headers["allow"] == "GET"
    outcome(client.get(sr_url(cohort["home"]) + "?_format=xml", headers=gp), 406)
    fhir(client.get(sr_url(cohort["home"]) + "?_format=json", headers=gp))
    fhir(client.get(sr_url(cohort["home"]), headers={**gp, "Accept": "application/json"}))

    # the capability statement: public, and exactly the routes served (no more, no fewer)
    body = fhir(client.get("/fhir/R4/metadata"))
    assert body["fhirVersion"] == "4.0.1"
    kinds = {r["type"]: r for r in body["rest"][0]["resource"]}
    assert set(kinds) == {"ServiceRequest", "Task", "Flag", "Communication", "CarePlan"}
    assert {i["code"] for i in kinds["ServiceRequest"]["interaction"]} == {
        "read", "search-type", "create"}
    from guardian.web.fhir import capability, reads, write
    served = {(r.path, m) for g in (capability, reads, write) for r in g.router.routes
              for m in r.methods}
    listed = {(f"/{k}", "GET") for k in kinds} | {(f"/{k}/{{logical_id}}", "GET")
                                                   for k in kinds}
    listed |= {("/ServiceRequest", "POST"), ("/metadata", "GET")}
    assert served == listed
