"""An incoming ServiceRequest as one row of the waiting-list extract (docs/fhir.md
"Recording a referral"): the structural checks of the FHIR body, then each FHIR element
mapped to its extract column, remembering the FHIRPath it came from so that every rule the
importer and `POST /api/v1/referrals` apply can be reported against the element at fault.

No FHIR library is used at run time: the checks are the few that matter here. The body
must be a JSON object with `resourceType` ServiceRequest and only R4 ServiceRequest
elements; each element read must have its JSON type (object, array, string); `status` and
`intent` must be codes of their R4 value sets (and `active` / `order`, since Guardian
records referrals waiting to be seen). Structural faults are 400; unknown or refused codes
and everything the extract's rules refuse are 422.
"""

from __future__ import annotations

from typing import Any

from guardian.web.fhir import ids
from guardian.web.fhir.outcome import FhirError, issue
from guardian.web.fhir.resources import PRIORITY_OF_CODE

ROOT = "ServiceRequest"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


ELEMENTS = _words("""resourceType id meta implicitRules language text contained extension
modifierExtension identifier instantiatesCanonical instantiatesUri basedOn replaces
requisition status intent category priority doNotPerform code orderDetail quantityQuantity
quantityRatio quantityRange subject encounter occurrenceDateTime occurrencePeriod
occurrenceTiming asNeededBoolean asNeededCodeableConcept authoredOn requester performerType
performer locationCode locationReference reasonCode reasonReference insurance supportingInfo
specimen bodySite note patientInstruction relevantHistory""")
STATUSES = _words("draft active on-hold revoked completed entered-in-error unknown")
INTENTS = _words("proposal plan directive order original-order reflex-order filler-order "
                  "instance-order option")
REQUEST_PRIORITIES = frozenset({"routine", "urgent", "asap", "stat"})

# Where each column is read when the body does not carry it (what a 422 then names).
CANONICAL = {
    "nhs_number": f"{ROOT}.subject.identifier.value",
    "person_birth_date": f"{ROOT}.contained.ofType(Patient).birthDate",
    "patient_pathway_identifier": f"{ROOT}.identifier.where(system.startsWith("
                                  f"'{ids.PATHWAY_SYSTEM}')).value",
    "organisation_identifier_code_of_provider": f"{ROOT}.performer.identifier.value",
    "general_medical_practice_code": f"{ROOT}.requester.identifier.value",
    "referral_request_received_date": f"{ROOT}.authoredOn",
    "referral_to_treatment_period_start_date": f"{ROOT}.occurrencePeriod.start",
    "referral_to_treatment_period_end_date": f"{ROOT}.extension('{ids.RTT_CLOCK}').end",
    "referral_to_treatment_period_status": f"{ROOT}.extension('{ids.RTT_CLOCK}').status",
    "activity_treatment_function_code": f"{ROOT}.code.coding.where(system = "
                                        f"'{ids.TREATMENT_FUNCTION}').code",
    "priority_type_code": f"{ROOT}.priority",
    "ubrn": f"{ROOT}.identifier.where(system = '{ids.UBRN}').value",
    "waiting_list_type": f"{ROOT}.extension('{ids.RTT_CLOCK}').waitingListType",
    "patient_given_name": f"{ROOT}.contained.ofType(Patient).name.given",
    "patient_family_name": f"{ROOT}.contained.ofType(Patient).name.family",
    "patient_phone": f"{ROOT}.contained.ofType(Patient).telecom.where(system = 'phone')",
    "patient_email": f"{ROOT}.contained.ofType(Patient).telecom.where(system = 'email')",
}
_CLOCK_PARTS = {"start": ("referral_to_treatment_period_start_date", "valueDate"),
                "end": ("referral_to_treatment_period_end_date", "valueDate"),
                "status": ("referral_to_treatment_period_status", "valueCode"),
                "waitingListType": ("waiting_list_type", "valueCode")}


class _Reader:
    """Reads a body's elements by type, collecting structural (400) and code (422) issues,
    and the row with the FHIRPath each column came from."""

    def __init__(self) -> None:
        self.structural: list[dict[str, Any]] = []
        self.refused: list[dict[str, Any]] = []
        self.row: dict[str, str] = {}
        self.where: dict[str, str] = {}

    def typed(self, value: Any, kind: type, path: str) -> Any:
        if value is None:
            return None
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            word = {dict: "a JSON object", list: "a JSON array", str: "a string",
                    bool: "true or false"}[kind]
            self.structural.append(issue(f"{path} must be {word}", path, "structure"))
            return None
        return value

    def objects(self, value: Any, path: str) -> list[tuple[dict[str, Any], str]]:
        """The objects of an array element, each with its path."""
        out = []
        for n, item in enumerate(self.typed(value, list, path) or []):
            found = self.typed(item, dict, f"{path}[{n}]")
            if found is not None:
                out.append((found, f"{path}[{n}]"))
        return out

    def put(self, column: str, value: Any, path: str) -> None:
        text = self.typed(value, str, path)
        if text is not None and column not in self.row:
            self.row[column] = text
            self.where[column] = path

    def code(self, value: Any, path: str, allowed: frozenset[str], what: str) -> str | None:
        text = self.typed(value, str, path)
        if text is not None and text not in allowed:
            self.refused.append(issue(f"{path} {text!r} is not a {what} code; one of "
                                      + ", ".join(sorted(allowed)), path, "code-invalid"))
            return None
        return text

    def refuse(self, message: str, path: str, code: str = "business-rule") -> None:
        self.refused.append(issue(message, path, code))


def _top_level(r: _Reader, body: dict[str, Any]) -> None:
    for key in body:
        if key not in ELEMENTS and not key.startswith("_"):
            r.structural.append(issue(f"{key!r} is not an element of an R4 ServiceRequest",
                                      f"{ROOT}.{key}", "structure"))
    if body.get("modifierExtension"):
        r.refuse("modifier extensions are not understood here", f"{ROOT}.modifierExtension",
                 "not-supported")
    for name, allowed, wanted, what in (("status", STATUSES, "active", "request-status"),
                                        ("intent", INTENTS, "order", "request-intent")):
        path = f"{ROOT}.{name}"
        if body.get(name) is None:
            r.structural.append(issue(f"{path} is required", path, "required"))
            continue
        code = r.code(body[name], path, allowed, what)
        if code is not None and code != wanted and not (name == "intent"
                                                        and code == "original-order"):
            r.refuse(f"{path} is {code!r}: Guardian records referrals waiting to be seen "
                     f"({name} {wanted!r})", path)
    if r.typed(body.get("doNotPerform"), bool, f"{ROOT}.doNotPerform"):
        r.refuse("a referral that is not to be performed is not recorded",
                 f"{ROOT}.doNotPerform")


def _patient(r: _Reader, body: dict[str, Any]) -> None:
    """NHS number, date of birth, name and contact: the subject and a contained Patient."""
    subject = r.typed(body.get("subject"), dict, f"{ROOT}.subject")
    if subject is None:
        if "subject" not in body:
            r.structural.append(issue(f"{ROOT}.subject is required", f"{ROOT}.subject",
                                      "required"))
        subject = {}
    ident = r.typed(subject.get("identifier"), dict, f"{ROOT}.subject.identifier")
    if ident is not None:
        path = f"{ROOT}.subject.identifier"
        if ident.get("system") != ids.NHS_NUMBER:
            r.refuse(f"{path}.system must be {ids.NHS_NUMBER}", f"{path}.system", "value")
        r.put("nhs_number", ident.get("value"), f"{path}.value")
    wanted = r.typed(subject.get("reference"), str, f"{ROOT}.subject.reference")
    for resource, path in r.objects(body.get("contained"), f"{ROOT}.contained"):
        if resource.get("resourceType") != "Patient" or (
                wanted and wanted.startswith("#") and resource.get("id") != wanted[1:]):
            continue
        for ident, ipath in r.objects(resource.get("identifier"), f"{path}.identifier"):
            if ident.get("system") == ids.NHS_NUMBER:
                r.put("nhs_number", ident.get("value"), f"{ipath}.value")
        r.put("person_birth_date", resource.get("birthDate"), f"{path}.birthDate")
        names = r.objects(resource.get("name"), f"{path}.name")
        if names:
            name, npath = names[0]
            r.put("patient_family_name", name.get("family"), f"{npath}.family")
            given = r.typed(name.get("given"), list, f"{npath}.given") or []
            if given:
                r.put("patient_given_name", given[0], f"{npath}.given[0]")
        for point, tpath in r.objects(resource.get("telecom"), f"{path}.telecom"):
            column = {"phone": "patient_phone", "email": "patient_email"}.get(
                point.get("system"))
            if column:
                r.put(column, point.get("value"), f"{tpath}.value")
        break


def _organisation(r: _Reader, value: Any, path: str, column: str) -> None:
    ref = r.typed(value, dict, path)
    if ref is None:
        return
    ident = r.typed(ref.get("identifier"), dict, f"{path}.identifier")
    if ident is None:
        r.refuse(f"{path} must name the organisation by its ODS code ({path}.identifier, "
                 f"system {ids.ODS})", f"{path}.identifier", "required")
        return
    if ident.get("system") != ids.ODS:
        r.refuse(f"{path}.identifier.system must be {ids.ODS}", f"{path}.identifier.system",
                 "value")
    r.put(column, ident.get("value"), f"{path}.identifier.value")


def _referral(r: _Reader, body: dict[str, Any]) -> None:
    """Identifiers, organisations, dates, priority, treatment function and the RTT clock."""
    provider_of_id = None
    for ident, path in r.objects(body.get("identifier"), f"{ROOT}.identifier"):
        system = r.typed(ident.get("system"), str, f"{path}.system") or ""
        if system == ids.UBRN:
            r.put("ubrn", ident.get("value"), f"{path}.value")
        elif system.startswith(ids.PATHWAY_SYSTEM):
            provider_of_id = (system[len(ids.PATHWAY_SYSTEM):], f"{path}.system")
            r.put("patient_pathway_identifier", ident.get("value"), f"{path}.value")
    _organisation(r, body.get("requester"), f"{ROOT}.requester",
                  "general_medical_practice_code")
    performers = r.objects(body.get("performer"), f"{ROOT}.performer")
    if performers:
        _organisation(r, performers[0][0], performers[0][1],
                      "organisation_identifier_code_of_provider")
    provider = r.row.get("organisation_identifier_code_of_provider", "").strip().upper()
    if provider_of_id and provider and provider_of_id[0].upper() != provider:
        r.refuse(f"the pathway id's system names provider {provider_of_id[0]!r}, the performer "
                 f"is {provider!r}", provider_of_id[1], "value")
    authored = r.typed(body.get("authoredOn"), str, f"{ROOT}.authoredOn")
    if authored is not None:  # a dateTime: its date is the day the referral was received
        r.put("referral_request_received_date", authored[:10] if "T" in authored else authored,
              f"{ROOT}.authoredOn")
    priority = r.code(body.get("priority"), f"{ROOT}.priority", REQUEST_PRIORITIES,
                      "request-priority")
    if priority == "stat":
        r.refuse("priority 'stat' is emergency care, not a referral to wait for: give "
                 "routine, urgent or asap (urgent suspected cancer)", f"{ROOT}.priority")
    elif priority is not None:
        r.put("priority_type_code", str(PRIORITY_OF_CODE[priority]), f"{ROOT}.priority")
    code = r.typed(body.get("code"), dict, f"{ROOT}.code") or {}
    for coding, path in r.objects(code.get("coding"), f"{ROOT}.code.coding"):
        if coding.get("system") == ids.TREATMENT_FUNCTION:
            r.put("activity_treatment_function_code", coding.get("code"), f"{path}.code")
    period = r.typed(body.get("occurrencePeriod"), dict, f"{ROOT}.occurrencePeriod") or {}
    r.put("referral_to_treatment_period_start_date", period.get("start"),
          f"{ROOT}.occurrencePeriod.start")
    for ext, path in r.objects(body.get("extension"), f"{ROOT}.extension"):
        if ext.get("url") != ids.RTT_CLOCK:
            continue
        for part, ppath in r.objects(ext.get("extension"), f"{path}.extension"):
            column, kind = _CLOCK_PARTS.get(part.get("url"), (None, None))
            if column and kind:
                r.put(column, part.get(kind), f"{ppath}.{kind}")


def to_row(body: Any) -> tuple[dict[str, str], dict[str, str]]:
    """The extract row (lower-case columns) a ServiceRequest body carries and, per column,
    the FHIRPath it came from; FhirError (400 structural, 422 refused codes) otherwise."""
    if not isinstance(body, dict):
        raise FhirError.one(400, "the body must be a JSON object: a FHIR ServiceRequest",
                            code="structure")
    if body.get("resourceType") != ROOT:
        raise FhirError.one(400, f"resourceType must be {ROOT}, not "
                                 f"{body.get('resourceType')!r}", "resourceType", "structure")
    r = _Reader()
    _top_level(r, body)
    _patient(r, body)
    _referral(r, body)
    if r.structural:
        raise FhirError(400, r.structural)
    if r.refused:
        raise FhirError(422, r.refused)
    return r.row, r.where


def path_of(column: str, where: dict[str, str]) -> str:
    """The FHIRPath of a column (`record`: the whole ServiceRequest)."""
    column = column.lower()
    return where.get(column) or CANONICAL.get(column, ROOT)
