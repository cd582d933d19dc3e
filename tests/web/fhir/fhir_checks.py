"""What every FHIR test checks of an answer: the content type, the body valid as its FHIR
resource type (the `fhir.resources` R4B models: R4 4.0.1's models need pydantic 1), and the
UK Core rules those models cannot know: identifier systems, `meta.profile`, the codes of
the value sets Guardian uses, an OperationOutcome for every error."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B import get_fhir_model_class

from guardian.web.fhir import ids

FHIR_JSON = "application/fhir+json"
STATUS = {"ServiceRequest": {"active", "completed", "revoked"},
          "Task": {"requested", "in-progress", "completed"},
          "Flag": {"active", "inactive"}, "Communication": {"completed"},
          "CarePlan": {"active", "completed"}}


def fhir(response, status: int = 200) -> dict[str, Any]:
    """The body of a FHIR answer with this status, validated."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(FHIR_JSON), response.headers
    body = response.json()
    valid(body)
    return body


def valid(body: dict[str, Any]) -> None:
    get_fhir_model_class(body["resourceType"]).model_validate(body)
    assert not list(_empty(body)), f"empty values (FHIR JSON has none): {list(_empty(body))}"
    kind = body["resourceType"]
    if kind == "Bundle":
        assert body["type"] == "searchset" and body["total"] == len(body.get("entry", []))
        for entry in body.get("entry", []):
            assert entry["fullUrl"].endswith(
                f"/fhir/R4/{entry['resource']['resourceType']}/{entry['resource']['id']}")
            valid(entry["resource"])
        return
    if kind in STATUS:
        assert body["status"] in STATUS[kind], body["status"]
        assert len(body["id"]) <= 64 and body["id"].replace(".", "").replace("-", "").isalnum()
    if kind in ids.PROFILES:
        assert body["meta"]["profile"] == [ids.PROFILES[kind]]
    for ref in _references(body):
        if "identifier" in ref:
            system = ref["identifier"]["system"]
            assert system == {"Patient": ids.NHS_NUMBER, "Organization": ids.ODS}[ref["type"]]
            if ref["type"] == "Organization":
                assert ref["display"] and ref["display"] != ref["identifier"]["value"]
    if kind == "ServiceRequest":
        assert body["intent"] == "order"
        assert body["priority"] in {"routine", "urgent", "asap", "stat"}
        assert body["subject"]["identifier"]["system"] == ids.NHS_NUMBER
        assert body["requester"]["identifier"]["system"] == ids.ODS
        assert body["performer"][0]["identifier"]["system"] == ids.ODS
        systems = {i["system"] for i in body["identifier"]}
        assert systems <= {ids.UBRN, ids.pathway_system(body["performer"][0]["identifier"][
            "value"])}
    if kind == "OperationOutcome":
        assert body["issue"] and all(i["severity"] and i["code"] for i in body["issue"])


def _empty(body: Any, path: str = ""):
    """Where the JSON holds an empty array, object or string."""
    if body in ([], {}, ""):
        yield path
    elif isinstance(body, dict):
        for key, value in body.items():
            yield from _empty(value, f"{path}.{key}")
    elif isinstance(body, list):
        for n, value in enumerate(body):
            yield from _empty(value, f"{path}[{n}]")


def _references(body: Any):
    if isinstance(body, dict):
        if "type" in body and "identifier" in body and isinstance(body["identifier"], dict):
            yield body
        for value in body.values():
            yield from _references(value)
    elif isinstance(body, list):
        for value in body:
            yield from _references(value)


def outcome(response, status: int) -> dict[str, Any]:
    """An error: the OperationOutcome with this status."""
    body = fhir(response, status)
    assert body["resourceType"] == "OperationOutcome", body
    return body


def expressions(response, status: int = 422) -> list[str]:
    return [e for i in outcome(response, status)["issue"] for e in i.get("expression", [])]
