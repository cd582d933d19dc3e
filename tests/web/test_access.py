"""Access in one place: each role's scope, the patient-level rule, and 404 out of scope."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, HTTPException, Request
from web_helpers import sign_in

from guardian import audit
from guardian.web.access import (
    AdminPrincipal,
    CurrentPrincipal,
    PatientReader,
    Principal,
    deny_patient,
    may_see_patient,
    may_see_pcn,
    record_access,
    require_role,
    scope_for,
)
from guardian.web.places import may_see_place

COORDINATOR = Principal(1, "sam@x.test", "coordinator", ("U90001", "U90002"),
                        frozenset({"U90001", "U90002"}))
GP = Principal(2, "gp@x.test", "gp", ("Y90001",), frozenset({"U90001"}), practice="Y90001",
               place="Basildon and Brentwood")
PLACE_LEAD = Principal(3, "alex@x.test", "place-lead", ("Thurrock",),
                       frozenset({"U90024"}), place="Thurrock")
ADMIN = Principal(4, "admin@x.test", "admin", (), None)

# A pathway registered at Y90001 (PCN U90001), one at Y90005 (U90002, same place) and one in
# Thurrock (U90024).
HOME, NEIGHBOUR, ELSEWHERE = (("Y90001", "U90001", "Basildon and Brentwood"),
                              ("Y90005", "U90002", "Basildon and Brentwood"),
                              ("Y90099", "U90024", "Thurrock"))


@pytest.mark.parametrize(
    "principal, expected",
    [(COORDINATOR, (True, True, False)), (GP, (True, False, False)),
     (PLACE_LEAD, (False, False, False)), (ADMIN, (True, True, True))],
    ids=["coordinator", "gp", "place-lead", "admin"],
)
def test_who_may_see_a_patient(principal, expected):
    assert tuple(may_see_patient(principal, *where)
                 for where in (HOME, NEIGHBOUR, ELSEWHERE)) == expected


def test_worklist_scopes():
    assert scope_for(COORDINATOR).pcns == frozenset({"U90001", "U90002"})
    assert scope_for(COORDINATOR).user == "sam@x.test"
    assert scope_for(ADMIN).pcns is None and scope_for(ADMIN).allows("U90024")
    assert scope_for(GP).pcns == frozenset()  # a GP sees their practice, not PCN worklists
    with pytest.raises(HTTPException) as e:
        scope_for(PLACE_LEAD)
    assert e.value.status_code == 404


def test_pcn_and_place_rules():
    assert may_see_pcn(COORDINATOR, "U90001") and not may_see_pcn(COORDINATOR, "U90024")
    assert not may_see_pcn(GP, "U90001") and not may_see_pcn(PLACE_LEAD, "U90024")
    assert may_see_pcn(ADMIN, "U90024")
    assert may_see_place(PLACE_LEAD, "Thurrock") and not may_see_place(PLACE_LEAD, "Mid Essex")
    assert may_see_place(ADMIN, "Mid Essex") and not may_see_place(COORDINATOR, "Thurrock")


def test_require_role_rejects_unknown_roles():
    with pytest.raises(ValueError):
        require_role("nurse")


probe = APIRouter()
PRACTICES = {"p1": HOME, "p2": NEIGHBOUR, "p3": ELSEWHERE}


@probe.get("/probe/patients/{key}")
def patient(request: Request, key: str, principal: PatientReader):
    where = PRACTICES.get(key)
    if where is None or not may_see_patient(principal, *where):
        deny_patient(request, principal, patient_id="ab" * 16, detail=key)
    record_access(request, principal, "view-patient", patient_id="cd" * 16)
    return {"practice": where[0]}


@probe.get("/probe/principal")
def show(principal: CurrentPrincipal):
    return {"pcns": sorted(principal.pcns) if principal.pcns is not None else None,
            "practice": principal.practice, "place": principal.place}


@probe.get("/probe/admin")
def admin_only(principal: AdminPrincipal):
    return {"ok": True}


@pytest.fixture
def app(app):
    from fastapi import Depends

    app.include_router(probe)
    dependency = require_role("coordinator", "admin")

    @app.get("/probe/role")
    def role_page(principal: Principal = Depends(dependency)):  # noqa: B008
        return {"role": principal.role}

    return app


def test_the_principal_of_each_role_carries_its_scope(client):
    seen = {}
    for role in ("coordinator", "gp", "place-lead", "admin"):
        sign_in(client, role)
        seen[role] = client.get("/probe/principal").json()
    assert seen["coordinator"] == {"pcns": ["U90001", "U90002"], "practice": None,
                                   "place": None}
    assert seen["gp"] == {"pcns": ["U90001"], "practice": "Y90001",
                          "place": "Basildon and Brentwood"}
    assert seen["place-lead"]["place"] == "Thurrock" and "U90024" in seen["place-lead"]["pcns"]
    assert seen["admin"] == {"pcns": None, "practice": None, "place": None}


@pytest.mark.parametrize(
    "role, visible",
    [("coordinator", {"p1", "p2"}), ("gp", {"p1"}), ("place-lead", set()),
     ("admin", {"p1", "p2", "p3"})],
)
def test_out_of_scope_patients_are_404_and_the_attempt_is_audited(client, engine, role,
                                                                   visible):
    sign_in(client, role)
    for key in ("p1", "p2", "p3"):
        r = client.get(f"/probe/patients/{key}")
        assert r.status_code == (200 if key in visible else 404), (role, key)
        if r.status_code == 404:
            assert "Page not found" in r.text  # the same page as for a missing patient
    actions = [e.action for e in audit.entries(engine) if e.patient_id]
    assert actions.count("view-patient") == len(visible)
    expected_denied = 0 if role == "place-lead" else 3 - len(visible)
    assert actions.count("denied-patient") == expected_denied
    entry = next((e for e in audit.entries(engine, action="view-patient")), None)
    if entry is not None:
        assert entry.role == role and entry.client == "testclient"
        assert entry.user_agent and entry.patient_id == "cd" * 16


@pytest.mark.parametrize("role, status", [("coordinator", 200), ("gp", 404),
                                          ("place-lead", 404), ("admin", 200)])
def test_role_pages_are_404_for_other_roles(client, role, status):
    sign_in(client, role)
    assert client.get("/probe/role").status_code == status
    assert client.get("/probe/admin").status_code == (200 if role == "admin" else 404)
