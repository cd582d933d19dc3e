"""The checking helper of test_schema_fuzz.py (docs/api.md "Fuzzing"): Schemathesis cases
for one API operation, sent as one caller, each answer checked against the operation's
declared responses and for patient data the caller may not see.

- `fuzz_operation(operation, caller, examples)`: Hypothesis draws `examples` cases
  (positive and negative, Schemathesis' generators), some of whose string parameters are
  swapped for real values of the store (`Pools`: NHS numbers, patient and pathway ids,
  codes, names) so that requests reach real records, in and out of the caller's scope.
  Each answer must pass `CHECKS` and hold no token of `caller.forbidden` that the request
  did not itself carry. Returns the findings: the first case of each kind of failure
  and status.
- `forbidden_tokens(rows, role, orgs)`: the NHS numbers, patient ids and pathway ids a
  role may not see, from (patient, NHS number, pathway, practice, PCN) rows: scope follows
  the pathway's practice (docs/access.md, "By pathway").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import unquote

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]
# A token: a run of letters, digits, "_" and "-" (an NHS number, a hex patient id, a
# pathway id like DEMO3-000030-1); an NHS number may also be written "999 263 8346".
_TOKEN = re.compile(r"[\w-]+")
_SPACED_NHS = re.compile(r"(?<![\w-])(\d{3}) (\d{3}) (\d{4})(?![\w-])")
# The kind of real value a parameter or body field may be given: by its whole name, else
# by the first of these words in it; a name with none keeps its generated values.
_NAMES = {"q": "search", "patient_pathway_identifier": "pathway_id",
          "organisation_identifier_code_of_provider": "provider",
          "general_medical_practice_code": "practice_code"}
_WORDS = (("nhs", "nhs_number"), ("logical", "logical_id"), ("pathway", "pathway_id"),
          ("patient", "patient_id"), ("subject", "patient_id"), ("practice", "practice_code"),
          ("pcn", "pcn_code"), ("place", "place"), ("provider", "provider"),
          ("identifier", "identifier"), ("family", "search"), ("id", "patient_id"))


def kind_of(name: str) -> str | None:
    """The kind of value a parameter or field called `name` holds, if a known one."""
    if name in _NAMES:
        return _NAMES[name]
    words = set(re.split(r"[^a-z]+", name.lower()))
    return next((kind for word, kind in _WORDS if word in words), None)


def tokens(text: str) -> set[str]:
    """Every token of `text`, and each spaced NHS number with its spaces taken out."""
    found = set(_TOKEN.findall(text))
    found.update("".join(m.groups()) for m in _SPACED_NHS.finditer(text))
    return found


def forbidden_tokens(rows: Iterable[tuple], role: str, orgs: Iterable[str]) -> set[str]:
    """What `role` (with these orgs: PCN codes of a coordinator, the practice of a GP) may
    not see: the NHS numbers and patient ids of patients none of whose pathways it sees,
    and the ids of the pathways it does not see. `rows`: (patient_id, nhs_number,
    pathway_id, practice_code, pcn_code), one per pathway. An admin sees everything; a
    place lead and an anonymous caller see no patient."""
    orgs = set(orgs)

    def sees(practice: str, pcn: str | None) -> bool:
        return (role == "admin" or (role == "coordinator" and pcn in orgs)
                or (role == "gp" and practice in orgs))

    seen_patients, patients, hidden_pathways = set(), {}, set()
    for patient_id, nhs_number, pathway_id, practice, pcn in rows:
        patients[patient_id] = nhs_number
        if sees(practice, pcn):
            seen_patients.add(patient_id)
        else:
            hidden_pathways.add(pathway_id)
    hidden = {t for p, n in patients.items() if p not in seen_patients for t in (p, n)}
    return hidden | hidden_pathways


@dataclass
class Pools:
    """Real values of the store for fuzzed parameters: `records`, one per pathway (kind →
    value: patient_id, nhs_number, provider, pathway_id, practice_code, pcn_code,
    logical_id, identifier), so that the parameters of one request name one pathway; and
    `values`, kind → values, for kinds no record holds (place, search)."""

    records: list[dict[str, str]] = field(default_factory=list)
    values: dict[str, list[str]] = field(default_factory=dict)

    def groups(self, forbidden: set[str]) -> list[list[dict[str, str]]]:
        """The records of the pathways the caller sees, and of the others (each group
        drawn from as often: a caller may see few)."""
        hidden = [r for r in self.records if r["pathway_id"] in forbidden]
        seen = [r for r in self.records if r["pathway_id"] not in forbidden]
        return [group for group in (seen, hidden) if group]


@dataclass
class Caller:
    """Who sends the cases: a role, its request headers and what it may not see."""

    role: str
    headers: dict[str, str]
    forbidden: set[str]


@dataclass
class Finding:
    """One kind of failure (with one status) on one operation, with the first request
    that showed it."""

    operation: str
    role: str
    kind: str
    status: int
    detail: str
    reproduce: str

    def __str__(self) -> str:
        return (f"{self.operation} as {self.role}: {self.kind} (HTTP {self.status})\n"
                f"  {self.detail[:600]}\n  {self.reproduce}")


def _swap_in_real_values(case: Case, data: st.DataObject, pools: Pools,
                         groups: list[list[dict[str, str]]]) -> None:
    """In half the cases, give the path and query parameters and top-level body fields
    of known kinds (`kind_of`) the values of one real pathway (or of `pools.values`)."""
    if not groups or data.draw(st.booleans()):
        return
    record = data.draw(st.sampled_from(data.draw(st.sampled_from(groups))))
    body = case.body if isinstance(case.body, dict) else None
    for container in (case.path_parameters, case.query, body):
        for name, value in list((container or {}).items()):
            kind = kind_of(name)
            if not isinstance(value, str) or kind is None:
                continue
            if kind in record:
                container[name] = record[kind]
            elif pools.values.get(kind):
                container[name] = data.draw(st.sampled_from(pools.values[kind]))


def _request_text(case: Case, response) -> str:
    """What the request carried (URL and body), to tell an echo from a leak."""
    request = response.request
    body = request.body or b""
    return unquote(str(request.url)) + " " + (
        body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body))


def leaked(caller: Caller, case: Case, response) -> set[str]:
    """Tokens of the answer (body and headers) the caller may not see and the request
    did not carry."""
    if not caller.forbidden:
        return set()
    headers = " ".join(f"{k}: {' '.join(v)}" for k, v in response.headers.items())
    answer = tokens(response.text) | tokens(headers)
    return (answer & caller.forbidden) - tokens(_request_text(case, response))


def _check(caller: Caller, case: Case, response, base_url: str | None) -> list[tuple]:
    """(kind, detail) of every way the answer fails."""
    failures = []
    try:
        case.validate_response(response, checks=CHECKS, headers=caller.headers,
                               transport_kwargs={"base_url": base_url} if base_url else None)
    except FailureGroup as group:
        failures += [(f.title, f"{f.message}") for f in group.exceptions]
    leak = leaked(caller, case, response)
    if leak:
        failures.append(("out-of-scope data", "the answer holds " + ", ".join(sorted(leak))))
    return failures


def fuzz_operation(operation: APIOperation, caller: Caller, examples: int, pools: Pools,
                   base_url: str | None = None, on_write=None,
                   derandomize: bool = True) -> list[Finding]:
    """Send `examples` generated cases of `operation` as `caller` and check each answer.
    `on_write(case, response)` is told of every write that succeeded (its request may have
    made data visible to someone). `derandomize`: the same cases every run (for CI)."""
    findings: dict[tuple, Finding] = {}
    strategy = st.one_of(operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
                         operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
    groups = pools.groups(caller.forbidden)

    @settings(max_examples=examples, derandomize=derandomize, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def send(data: st.DataObject) -> None:
        case = data.draw(strategy)
        _swap_in_real_values(case, data, pools, groups)
        response = case.call(base_url=base_url, headers=caller.headers, timeout=30)
        if on_write and case.method.upper() != "GET" and response.status_code < 300:
            on_write(case, response)
        for kind, detail in _check(caller, case, response, base_url):
            key = (kind, response.status_code)
            if key not in findings:
                findings[key] = Finding(
                    operation.label, caller.role, kind, response.status_code,
                    f"{detail}\n  answer: {response.text[:300]}",
                    case.as_curl_command(headers=caller.headers, base_url=base_url))

    send()
    return list(findings.values())
