"""FHIR R4 under /fhir/R4 (docs/fhir.md): the referral as other NHS systems speak it.

The routes by group: the CapabilityStatement (`capability`), reading and searching
ServiceRequest, Task, Flag and Communication (`reads`, over `lookup` for scope and audit and
`resources` for the mapping), recording an incoming ServiceRequest (`write`, over
`incoming`); logical ids and systems are `ids`, errors `outcome`. Whatever is asked under
/fhir/R4 that no route serves is answered here too, as an OperationOutcome: 405 with
`Allow` for a known address, 404 otherwise.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute

from guardian.web.fhir import capability, reads, write
from guardian.web.fhir.outcome import FhirError, FhirRoute, not_found

PREFIX = "/fhir/R4"
GROUPS = (capability, reads, write)
router = APIRouter(prefix=PREFIX, tags=["fhir"])
for group in GROUPS:
    router.include_router(group.router)

_fallback = APIRouter(route_class=FhirRoute)


@_fallback.api_route("/{rest:path}", include_in_schema=False,
                     methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
async def unknown(request: Request, rest: str) -> Response:
    """No FHIR route serves this: 405 when another method would, else 404."""
    path = "/" + rest
    allowed = sorted({method for group in GROUPS for route in group.router.routes
                      if isinstance(route, APIRoute) and route.path_regex.match(path)
                      for method in route.methods or ()})
    if allowed:
        raise FhirError.one(405, f"{request.method} is not supported here; allowed: "
                                 + ", ".join(allowed), headers={"Allow": ", ".join(allowed)})
    raise not_found(f"no FHIR interaction at {request.url.path}")


router.include_router(_fallback)
