"""The OpenAPI schema documents every error answer of every /api/v1 route (docs/api.md
"Answers every route may give"), each with a schema carrying the request id; each command
has its own request model with its fields, required ones and enum choices."""

from __future__ import annotations

import pytest

from guardian.config import Settings
from guardian.domain import codes
from guardian.web.app import create_app
from guardian.web.routes.actions import ACTIONS

EVERY_ROUTE = {"401", "403", "404", "413", "422", "429", "500"}


@pytest.fixture(scope="module")
def schema(tmp_path_factory):
    where = tmp_path_factory.mktemp("openapi")
    app = create_app(Settings(database_url=f"sqlite:///{where}/none.sqlite", var_dir=where,
                              secret_key="k"), follow_events=False)
    return app.openapi()


def _resolve(schema, ref_or_schema):
    ref = ref_or_schema.get("$ref")
    if ref is None:
        return ref_or_schema
    return schema["components"]["schemas"][ref.rsplit("/", 1)[1]]


def test_every_api_route_documents_every_error_with_a_schema(schema):
    missing = []
    for path, operations in schema["paths"].items():
        if not path.startswith("/api/v1"):
            continue
        for method, op in operations.items():
            wanted = set(EVERY_ROUTE)
            if method == "post":
                wanted.add("415")
            if "expected_version" in str(op.get("requestBody", "")) or "/pathways/" in path:
                wanted.add("409")
            for code in sorted(wanted):
                answer = op["responses"].get(code)
                body = (answer or {}).get("content", {}).get("application/json", {})
                if "schema" not in body:
                    missing.append(f"{method.upper()} {path} {code}")
                    continue
                model = _resolve(schema, body["schema"])
                if "request_id" not in model.get("properties", {}):
                    missing.append(f"{method.upper()} {path} {code}: no request_id")
    assert not missing, "\n".join(missing)


def test_each_action_has_its_own_model_with_enums(schema):
    base = "/api/v1/patients/{patient_id}/pathways/{provider}/{pathway_id}/"
    for name, action in ACTIONS.items():
        op = schema["paths"][base + name]["post"]
        model = _resolve(schema, op["requestBody"]["content"]["application/json"]["schema"])
        fields = model["properties"]
        assert set(fields) == {"expected_version", *(f.name for f in action.fields)}, name
        assert set(model.get("required", [])) == {f.name for f in action.fields
                                                  if f.required}, name
        for spec in action.fields:
            if spec.choices:
                shown = str(fields[spec.name])
                assert all(repr(code) in shown for code in spec.choices), (name, spec.name)
    check_in = _resolve(schema, schema["paths"][base + "clock-stop"]["post"]["requestBody"]
                        ["content"]["application/json"]["schema"])
    assert check_in["properties"]["reason_code"]["enum"] == list(codes.CLOCK_STOP_REASONS)
    assert "201" in schema["paths"][base + "contact"]["post"]["responses"]
    assert "200" in schema["paths"][base + "close"]["post"]["responses"]
