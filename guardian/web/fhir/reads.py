"""The FHIR read and search routes (docs/fhir.md "Reading" and "Searching"): a pathway as a
ServiceRequest, its workup and tests as Tasks, its thread as Communications, its plan while
waiting as a CarePlan, a patient's deteriorations as Flags, and searchset Bundles of them.

Who may read: coordinators (their PCNs' practices), GPs (their practice) and admins, by
bearer token or session, exactly as the JSON API (`PatientReader`, guardian/web/access.py);
a place lead gets 404 on every route. Every resource shown is audited (`view-referral`) and
every search too (`find-patient`, `find-patient-none`). A search names what it is for:
without a criterion, or with a parameter this server does not know, it is 400 (nothing is
listed by accident, and no filter is silently ignored).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query, Request
from fastapi.responses import Response

from guardian.domain.errors import InvalidValue
from guardian.domain.identifiers import normalise_nhs_number, normalise_ubrn
from guardian.projections.search_terms import Terms
from guardian.web.access import PatientReader, Principal, record_access
from guardian.web.deps import AppDep, ConnDep
from guardian.web.fhir import ids, lookup, resources
from guardian.web.fhir.outcome import FhirError, documented, fhir_json, fhir_router
from guardian.web.names import NamesDep

router = fhir_router()

LogicalId = Annotated[str, Path(description="The resource's logical id (docs/fhir.md)")]
# The search parameters, declared for the OpenAPI schema; `search_params` reads them.
PatientIdentifier = Annotated[str | None, Query(
    alias="patient.identifier", description="https://fhir.nhs.uk/Id/nhs-number|{NHS number}")]
Identifier = Annotated[str | None, Query(
    alias="identifier",
    description="An NHS number, a UBRN or a pathway id, as system|value (docs/fhir.md)")]
BasedOn = Annotated[str | None, Query(alias="based-on", description="ServiceRequest/{id}")]
PartOf = Annotated[str | None, Query(alias="part-of", description="ServiceRequest/{id}")]
ONE = documented(200, "The resource")
BUNDLE = documented(200, "A searchset Bundle")
COMMON = frozenset({"_format"})


def bundle(request: Request, found: list[dict[str, Any]]) -> Response:
    """A searchset Bundle of these resources (every one a match)."""
    base = f"{str(request.base_url).rstrip('/')}/fhir/R4/"
    out: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "total": len(found),
                           "link": [{"relation": "self", "url": str(request.url)}]}
    if found:  # FHIR JSON has no empty arrays
        out["entry"] = [{"fullUrl": f"{base}{r['resourceType']}/{r['id']}", "resource": r,
                         "search": {"mode": "match"}} for r in found]
    return fhir_json(out)


def search_params(request: Request, known: frozenset[str]) -> dict[str, str]:
    """The search's parameters, each given once; an unknown one, or none at all, is 400."""
    given: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name in COMMON:
            continue
        if name not in known:
            raise FhirError.one(400, f"search parameter {name!r} is not supported here; "
                                     f"supported: {', '.join(sorted(known))}", name)
        if name in given:
            raise FhirError.one(400, f"give {name} once", name)
        given[name] = value.strip()
    if not given:
        raise FhirError.one(400, "name what to search for: one of "
                                 + ", ".join(sorted(known)))
    return given


def _token(name: str, value: str) -> tuple[str | None, str]:
    system, bar, code = value.partition("|")
    if not bar:
        return None, value.strip()
    if not code.strip():
        raise FhirError.one(400, f"{name}: give a value after the system", name)
    return system.strip() or None, code.strip()


def _nhs_number(name: str, value: str) -> str:
    try:
        return normalise_nhs_number(value)
    except InvalidValue as e:
        raise FhirError.one(400, f"{name}: {e.message}", name) from None


def _terms(name: str, raw: str) -> tuple[Terms, Any]:
    """The search an identifier token asks for, and which pathways of a patient it keeps."""
    system, value = _token(name, raw)
    if system == ids.NHS_NUMBER or (name == "patient.identifier" and system is None):
        number = _nhs_number(name, value)
        return Terms(number, nhs_number=number), lambda p: True
    if name == "patient.identifier":
        raise FhirError.one(400, f"{name}: patients are found by NHS number ({ids.NHS_NUMBER})",
                            name)
    if system == ids.UBRN:
        try:
            ubrn = normalise_ubrn(value)
        except InvalidValue as e:
            raise FhirError.one(400, f"{name}: {e.message}", name) from None
        return Terms(ubrn, ubrn=ubrn), lambda p: p.ubrn == ubrn
    if system is not None and system.startswith(ids.PATHWAY_SYSTEM):
        provider = system[len(ids.PATHWAY_SYSTEM):]
        return (Terms(value, pathway_ids=(value,)),
                lambda p: p.pathway_id == value and p.provider == provider)
    if system is not None:
        raise FhirError.one(400, f"{name}: identifier system {system!r} is not searched here; "
                                 f"use {ids.NHS_NUMBER}, {ids.UBRN} or {ids.PATHWAY_SYSTEM}"
                                 "{ODS code}", name)
    try:
        number = normalise_nhs_number(value)
    except InvalidValue:
        return Terms(value, pathway_ids=(value,)), lambda p: p.pathway_id == value
    return Terms(number, nhs_number=number), lambda p: True


def _audit_search(request: Request, principal: Principal, what: str, found: int) -> None:
    record_access(request, principal, "find-patient" if found else "find-patient-none",
                  detail=f"FHIR {what}: {found} found")


@router.get("/ServiceRequest/{logical_id}", summary="A referral (pathway) as a ServiceRequest",
            responses=ONE)
def read_service_request(request: Request, principal: PatientReader, app: AppDep,
                         connect: ConnDep, names: NamesDep, logical_id: LogicalId) -> Response:
    """Coordinators (their PCNs), GPs (their practice) and admins; outside your scope, or
    unknown: 404 (an OperationOutcome)."""
    found, pathway = lookup.pathway_of(request, principal, app, connect, logical_id)
    resource = resources.service_request(found.patient, pathway, found.view, names,
                                         app.settings.standards)
    lookup.audit_view(request, principal, found.patient, pathway,
                      f"ServiceRequest/{logical_id}")
    return fhir_json(resource)


@router.get("/ServiceRequest", summary="Referrals by patient NHS number, UBRN or pathway id",
            responses=BUNDLE)
def search_service_requests(request: Request, principal: PatientReader, app: AppDep,
                            connect: ConnDep, names: NamesDep,
                            _patient: PatientIdentifier = None,
                            _identifier: Identifier = None) -> Response:
    """The pathways you may see of the patients found: by NHS number (`patient.identifier`
    or `identifier`), UBRN or pathway id (`identifier`, system|value)."""
    params = search_params(request, frozenset({"patient.identifier", "identifier"}))
    chosen = [_terms(name, value) for name, value in sorted(params.items())]
    terms = chosen[0][0]
    keeps = [keep for _, keep in chosen]
    out: list[tuple[dict[str, Any], Any, Any]] = []
    for found in lookup.patients_by(app, connect, principal, terms):
        for p in found.pathways():
            if all(keep(p) for keep in keeps):
                out.append((resources.service_request(found.patient, p, found.view, names,
                                                      app.settings.standards),
                            found.patient, p))
    _audit_search(request, principal, f"ServiceRequest search {terms.kind}", len(out))
    for resource, patient, p in out:
        lookup.audit_view(request, principal, patient, p, f"ServiceRequest/{resource['id']}")
    return bundle(request, [r for r, _, _ in out])


def _read_record(kind: str):
    def read(request: Request, principal: PatientReader, app: AppDep, connect: ConnDep,
             names: NamesDep, logical_id: LogicalId) -> Response:
        resource, patient, pathway = lookup.record_of(request, principal, app, connect, names,
                                                      kind, logical_id)
        lookup.audit_view(request, principal, patient, pathway, f"{kind}/{logical_id}")
        return fhir_json(resource)

    read.__name__ = f"read_{kind.lower()}"
    read.__doc__ = f"One {kind} by its logical id (docs/fhir.md)."
    return read


def _service_request_named(name: str, value: str) -> str:
    """The ServiceRequest id a `based-on` or `part-of` reference names."""
    kind, slash, logical_id = value.rpartition("/")
    if (slash and kind.rsplit("/", 1)[-1] != "ServiceRequest") or not logical_id:
        raise FhirError.one(400, f"{name}: give a reference ServiceRequest/{{id}}", name)
    return logical_id


def _search_thread(kind: str, known: frozenset[str]):
    """Task, Communication and CarePlan searches: the records of one ServiceRequest."""

    def search(request: Request, principal: PatientReader, app: AppDep, connect: ConnDep,
               names: NamesDep, _based_on: BasedOn = None, _part_of: PartOf = None
               ) -> Response:
        """The records of one referral (a ServiceRequest you may see; else 404)."""
        params = search_params(request, known)
        (name, value), = list(params.items())[:1]
        sr_id = _service_request_named(name, value)
        found, pathway = lookup.pathway_of(request, principal, app, connect, sr_id)
        out = lookup.BY_PATHWAY[kind](found.patient, pathway, names)
        lookup.audit_view(request, principal, found.patient, pathway,
                          f"{kind} search ServiceRequest/{sr_id}: {len(out)} found")
        return bundle(request, out)

    if kind == "Communication":
        search.__name__ = "search_communication"
        return search

    if kind == "CarePlan":
        def search_care_plan(request: Request, principal: PatientReader, app: AppDep,
                             connect: ConnDep, names: NamesDep, _based_on: BasedOn = None
                             ) -> Response:
            """The plan agreed while waiting on one referral (none until one is)."""
            return search(request, principal, app, connect, names)

        return search_care_plan

    def search_task(request: Request, principal: PatientReader, app: AppDep,
                    connect: ConnDep, names: NamesDep, _based_on: BasedOn = None) -> Response:
        """The workup items and diagnostic tests of one referral, each a Task."""
        return search(request, principal, app, connect, names)

    return search_task


def search_flags(request: Request, principal: PatientReader, app: AppDep, connect: ConnDep,
                 names: NamesDep, _patient: PatientIdentifier = None) -> Response:
    """A patient's deteriorations (by NHS number) that go with the pathways you may see."""
    params = search_params(request, frozenset({"patient.identifier"}))
    terms, _ = _terms("patient.identifier", params["patient.identifier"])
    out: list[dict[str, Any]] = []
    for found in lookup.patients_by(app, connect, principal, terms):
        shown = [r for r, _ in lookup.records(found, names, "Flag")]
        if shown:
            lookup.audit_view(request, principal, found.patient, None,
                              f"Flag search: {len(shown)} found")
        out.extend(shown)
    _audit_search(request, principal, f"Flag search {terms.kind}", len(out))
    return bundle(request, out)


for _kind in ("Task", "Flag", "Communication", "CarePlan"):
    router.add_api_route(f"/{_kind}/{{logical_id}}", _read_record(_kind), methods=["GET"],
                         summary=f"One {_kind} by id", responses=ONE)
router.add_api_route("/Task", _search_thread("Task", frozenset({"based-on"})),
                     methods=["GET"], summary="The workup items and tests of a referral",
                     responses=BUNDLE)
router.add_api_route("/Communication", _search_thread(
    "Communication", frozenset({"based-on", "part-of"})), methods=["GET"],
    summary="The messages of a referral's thread", responses=BUNDLE)
router.add_api_route("/CarePlan", _search_thread("CarePlan", frozenset({"based-on"})),
                     methods=["GET"], summary="The plan agreed while waiting on a referral",
                     responses=BUNDLE)
router.add_api_route("/Flag", search_flags, methods=["GET"],
                     summary="A patient's reported deteriorations", responses=BUNDLE)
