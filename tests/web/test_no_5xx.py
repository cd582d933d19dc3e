"""No input gives a 5xx (docs/api.md "Input rules"): a property test over every route.

Every route of the app is taken from `app.routes` with its path and query parameters and
form or JSON body fields (from its signature); each form and link on the pages the roles
see adds the fields the route reads itself (the patient page's action forms, the report
settings, bulk assign) with the values the page offers. Hypothesis then sends each route,
as each role (anonymous, coordinator, GP, place lead, admin) and on SQLite and PostgreSQL,
requests in which one to three of those values are replaced with random text: control
characters, NUL, lone surrogates, very long strings, huge integers, odd dates, JSON values
of other types. Every answer must be below 500.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import time
import typing
import uuid
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from starlette.routing import Mount, Route
from web_helpers import ACCOUNTS, csrf_of, referred_patient, sign_in, sign_in_token

from guardian.web.inputs import LARGEST_INTEGER

ROLES = ("anonymous", *ACCOUNTS)  # anonymous, coordinator, gp, place-lead, admin
# Per page route and role 6 (JSON API and FHIR routes: 2), as each of the 5 roles.
# GUARDIAN_FUZZ_EXAMPLES=500 searches deeper.
EXAMPLES = int(os.environ.get("GUARDIAN_FUZZ_EXAMPLES", "6"))
# On PostgreSQL a third as many: what differs there (types, integer bounds, text the
# driver refuses) shows within a few examples; the routes' own logic is searched on SQLite.
PG_SHARE = 3

# ---------------------------------------------------------------------------- random input

_CONTROLS = [chr(c) for c in [*range(0x20), 0x7F, 0x85, 0x9B, 0x9F]] + ["\ud800", "\udfff"]
NASTY_TEXT = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=30),  # surrogates included
    st.builds(lambda a, c, b: a + c + b, st.text(max_size=4), st.sampled_from(_CONTROLS),
              st.text(max_size=4)),
    st.builds(lambda c, n: c * n, st.characters(exclude_categories=()),
              st.sampled_from([31, 64, 65, 101, 201, 255, 2001, 2049, 4000])),
    st.integers(-(2**80), 2**80).map(str),
    st.sampled_from([
        str(LARGEST_INTEGER), str(LARGEST_INTEGER + 1), str(-LARGEST_INTEGER - 2), "9" * 5000,
        "1e309", "NaN", "-0", "0x10", "9999-12-31", "0001-01-01", "0000-00-00", "2026-02-30",
        "2026-13-01", "1999-12-31", "+10000-01-01", "2026-1-1", "2026-01-01T25:00",
        "1700000000", "", " ", "%", "%00", "../../etc/passwd", "//evil.example", "<script>",
        "' OR 1=1 --", "[" * 3000, "null", "{}", "é", "\u202e", "\ufeff", "RAJ|", "|||",
    ]),
)
NASTY_BODY = NASTY_TEXT | st.just("x" * 1_000_000)  # a megabyte: a body may hold one
NASTY_JSON = st.one_of(
    NASTY_BODY, NASTY_TEXT, st.integers(-(2**70), 2**70), st.none(), st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False), st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
)


def encoded(value: str) -> str:
    """Percent-encoded UTF-8 (a lone surrogate as the bytes it would have)."""
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def query_string(items: list[tuple[str, str]]) -> str:
    return "&".join(f"{encoded(k)}={encoded(v)}" for k, v in items)


# ---------------------------------------------------------------------------- the routes


@dataclass
class Target:
    """One route and method, and the ways a page or its signature fills it in."""

    method: str
    template: str  # "/patients/{patient_ref}/actions/{action}"
    path: list[str]
    query: dict[str, str] = field(default_factory=dict)  # name → a good value
    form: dict[str, str] = field(default_factory=dict)
    json: dict[str, str] = field(default_factory=dict)
    variants: list[dict[str, dict[str, str]]] = field(default_factory=list)  # from pages

    @property
    def pattern(self) -> re.Pattern[str]:
        regex = re.sub(r"\\\{(\w+):path\\\}", r"(?P<\1>.+)", re.escape(self.template))
        return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", regex) + "$")


def _dependants(dependant):
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def _routes(routes):
    """(full path, route) of every route, also inside FastAPI's included routers."""
    for route in routes:
        if hasattr(route, "effective_candidates"):  # FastAPI ≥ 0.16x wraps included routers
            for found in route.effective_candidates():
                if hasattr(found, "effective_candidates"):
                    yield from _routes([found])
                else:
                    yield found.path, found.original_route
        else:
            yield getattr(route, "path", ""), route


def targets_of(app, good: dict[str, dict[str, str]]) -> list[Target]:
    found = []
    for path, route in _routes(app.routes):
        if isinstance(route, APIRoute):
            params = [p for d in _dependants(route.dependant) for p in d.query_params]
            body = [p for d in _dependants(route.dependant) for p in d.body_params]
            models = [p.field_info.annotation for p in body
                      if isinstance(p.field_info.annotation, type)
                      and issubclass(p.field_info.annotation, BaseModel)]
            for method in sorted(route.methods):
                found.append(Target(
                    method, path, re.findall(r"\{(\w+)(?::path)?\}", path),
                    query={p.alias: good["query"].get(p.alias, "") for p in params},
                    form={p.alias: good["form"].get(p.alias, "") for p in body if not models},
                    json={name: good["json"].get(name, "") for model in models
                          for name in model.model_fields},
                ))
        elif isinstance(route, Mount):
            found.append(Target("GET", f"{path}/{{path:path}}", ["path"]))
        elif isinstance(route, Route):
            found.append(Target("GET", path, re.findall(r"\{(\w+)", path)))
    return found


class Forms(HTMLParser):
    """The forms of a page (method, action, each field's value as sent, or a select's first
    choice) and its local links."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict[str, Any]] = []
        self.by_id: dict[str, dict[str, Any]] = {}
        self.links: list[str] = []
        self.current: dict[str, Any] | None = None
        self.select: tuple[dict[str, Any], str] | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and a.get("href", "").startswith("/"):
            self.links.append(a["href"])
        elif tag == "form":
            self.current = {"method": a.get("method", "get").upper(),
                            "action": a.get("action", ""), "fields": {}}
            self.forms.append(self.current)
            self.by_id[a.get("id", "")] = self.current
        elif tag == "option" and self.select is not None:
            owner, name = self.select
            owner["fields"][name] = owner["fields"][name] or a.get("value", "")
        elif tag in ("input", "textarea", "select") and a.get("name"):
            owner = self.by_id.get(a["form"]) if a.get("form") else self.current
            if owner is not None:
                owner["fields"].setdefault(a["name"], a.get("value", ""))
                if tag == "select":
                    self.select = (owner, a["name"])

    def handle_endtag(self, tag):
        if tag == "form":
            self.current = None
        elif tag == "select":
            self.select = None


def add_page(targets: list[Target], page_path: str, html: str) -> None:
    """Each form and local link of a page becomes a variant of the route it goes to."""
    reader = Forms()
    reader.feed(html)
    sent: list[tuple[str, str, dict[str, str], str]] = [
        (f["method"], f["action"] or page_path, f["fields"], "form" if f["method"] == "POST"
         else "query") for f in reader.forms]
    for link in reader.links:
        parts = urlsplit(link)
        sent.append(("GET", parts.path, dict(parse_qsl(parts.query, keep_blank_values=True)),
                     "query"))
    for method, action, fields, where in sent:
        path = urlsplit(action).path
        for target in targets:
            matched = target.pattern.match(path)
            if target.method == method and matched:
                target.variants.append({"path": matched.groupdict(), where: dict(fields)})
                break


# ---------------------------------------------------------------------------- the test


@dataclass
class World:
    client: TestClient
    clients: dict[str, TestClient]
    csrf: dict[str, str]
    targets: list[Target]
    good_path: dict[str, str]
    patient: str
    examples: int = EXAMPLES
    answers: dict[int, int] = field(default_factory=dict)  # status → how many


def good_values(today: dt.date, pid: str, pathway: str) -> dict[str, dict[str, str]]:
    referral = {
        "nhs_number": "9991590838", "person_birth_date": "1970-01-02",
        "patient_pathway_identifier": "FUZZ-1", "organisation_identifier_code_of_provider": "RAJ",
        "general_medical_practice_code": "Y90001",
        "referral_request_received_date": (today - dt.timedelta(days=20)).isoformat(),
        "referral_to_treatment_period_start_date": (today - dt.timedelta(days=20)).isoformat(),
        "activity_treatment_function_code": "110", "priority_type_code": "1",
    }
    return {
        "path": {"patient_ref": pid, "action": "contact", "pathway_id": pathway.split("|")[1],
                 "pcn_code": "U90001", "table": "trend", "path": "guardian.css"},
        "query": {"pcn": "U90001", "filter": "breached", "sort": "next-deadline",
                  "practice_code": "Y90001", "practice": "Y90001", "provider": "RAJ",
                  "treatment_function": "110", "priority": "2", "limit": "10", "assigned": "1",
                  "place": "Thurrock", "as_of": today.isoformat(), "next": "/worklist",
                  "ended": "1", "signed_out": "1", "nhs_number": "9995260182",
                  "user": ACCOUNTS["coordinator"][0], "patient": "9995260182",
                  "action": "view-patient", "before": "5"},
        "form": {"email": "nobody@guardian.test", "password": "not the password"},
        "json": referral,
    }


@pytest.fixture
def world(client) -> World:
    app = client.app
    guardian = app.state.guardian
    pid, pathway = referred_patient(guardian)
    referred_patient(guardian, "OTHER-1", "9991590838", practice="Y90024")  # another PCN
    app.state.runner.run_once()
    good = good_values(guardian.today(), pid, pathway)
    targets = targets_of(app, good)
    clients: dict[str, TestClient] = {}
    csrf: dict[str, str] = {}
    pages = {"anonymous": ["/sign-in"], "coordinator": ["/worklist", f"/patients/{pid}"],
             "gp": ["/gp", f"/patients/{pid}"], "place-lead": ["/reports"],
             "admin": ["/admin/audit", "/reports?place=Thurrock", "/worklist"]}
    for role in ROLES:
        c = TestClient(app, raise_server_exceptions=False)  # the app is running already
        if role != "anonymous":
            sign_in(c, role)
            csrf[role] = csrf_of(c)
        for page in pages[role]:
            r = c.get(page)
            assert r.status_code == 200, (role, page)
            add_page(targets, urlsplit(page).path, r.text)
        clients[role] = c
    examples = EXAMPLES if guardian.settings.is_sqlite else max(1, EXAMPLES // PG_SHARE)
    return World(client, clients, csrf, targets, good["path"], pid, examples)


def request_for(target: Target, data, world: World, role: str):
    """Draw one request: the target's good values, one to three of them replaced."""
    variant = data.draw(st.sampled_from(target.variants or [{}]), label="variant")
    values = {
        "path": {n: variant.get("path", {}).get(n, world.good_path.get(n, "x"))
                 for n in target.path},
        "query": {**target.query, **variant.get("query", {})},
        "form": {**target.form, **variant.get("form", {})},
        "json": dict(target.json),
    }
    if target.method == "POST" and "csrf_token" in values["form"]:
        values["form"]["csrf_token"] = world.csrf.get(role) or sign_in_token(
            world.clients[role])  # the session's, or a fresh one of the sign-in form
    if "version" in values["form"]:  # the patient's current version: the form is fresh
        values["form"]["version"] = str(world.client.app.state.guardian.get_patient(
            uuid.UUID(world.patient)).version)
    slots = [(where, name) for where, named in values.items() for name in named]
    slots.append(("query", data.draw(NASTY_TEXT, label="extra parameter")))
    chosen = data.draw(st.sets(st.sampled_from(slots), min_size=1, max_size=3), label="bad")
    for where, name in chosen:
        strategy = {"json": NASTY_JSON, "form": NASTY_BODY}.get(where, NASTY_TEXT)
        values[where][name] = data.draw(strategy, label=f"{where} {name}")
    url = target.template
    for name, value in values["path"].items():
        url = re.sub(r"\{" + name + r"(:path)?\}", lambda _, v=value: encoded(v) or "x", url)
    if values["query"]:
        url += "?" + query_string(list(values["query"].items()))
    assume(len(url) <= 65_536)  # the longest URL a client sends (servers take less)
    headers: dict[str, str] = {}
    content: bytes | None = None
    if target.method == "POST" and target.json:
        headers["Content-Type"] = "application/json"
        if role in world.csrf:
            headers["X-CSRF-Token"] = world.csrf[role]
        content = json.dumps(values["json"]).encode()  # ASCII: \ud800 as an escape
    elif target.method == "POST":
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        content = query_string(list(values["form"].items())).encode()
    return url, headers, content


# The JSON API and FHIR routes are also fuzzed against their schema on a live server
# (tests/integration/test_schema_fuzz.py): here a third as many of this test's own inputs.
SCHEMA_FUZZED = ("/api/", "/fhir/")


def exercise(world: World, target: Target, role: str) -> None:
    client = world.clients[role]
    examples = world.examples
    if target.template.startswith(SCHEMA_FUZZED):
        examples = max(1, examples // 3)

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def send(data):
        url, headers, content = request_for(target, data, world, role)
        r = client.request(target.method, url, headers=headers, content=content,
                           follow_redirects=False)
        world.answers[r.status_code] = world.answers.get(r.status_code, 0) + 1
        if target.template in ("/sign-out", "/sign-in") and role != "anonymous":
            sign_in(client, role)  # the session may have ended: sign in again
            world.csrf[role] = csrf_of(client)
        assert r.status_code < 500, (
            f"{role} {target.method} {url[:300]} {(content or b'')[:300]!r} → "
            f"{r.status_code} {r.text[:300]}")

    send()


def test_every_route_answers_every_input_below_500_for_every_role(world):
    started = time.monotonic()
    covered, failures = set(), []
    for target in world.targets:
        for role in ROLES:
            try:
                exercise(world, target, role)
            except AssertionError as e:  # every failing route and role, each shrunk
                failures.append(str(e).splitlines()[0][:600])
            covered.add((target.method, target.template, role))
    assert not failures, "\n".join(failures)
    templates = {t for _, t, _ in covered}
    # every route of the app, the pages' own forms among them
    assert {"/patients/{patient_ref}/actions/{action}", "/worklist/assign", "/sign-in",
            "/api/v1/referrals", "/reports/{table}.csv", "/static/{path:path}"} <= templates
    assert any(v.get("form", {}).get("summary") is not None
               for t in world.targets for v in t.variants)  # the action forms were read
    assert len(covered) == len(world.targets) * len(ROLES)
    print(f"{len(covered)} route × role pairs, {world.examples} examples each, "
          f"{time.monotonic() - started:.0f} s; answers {sorted(world.answers.items())}")


def test_every_integer_query_parameter_is_bounded(app):
    """Integers a database cannot hold never reach it (docs/api.md "Input rules")."""
    unbounded = []
    for path, route in _routes(app.routes):
        if not isinstance(route, APIRoute):
            continue
        for p in (p for d in _dependants(route.dependant) for p in d.query_params):
            annotation = p.field_info.annotation
            if annotation is not int and int not in typing.get_args(annotation):
                continue
            highest = [m.le for m in p.field_info.metadata if hasattr(m, "le")]
            if not highest or highest[0] > LARGEST_INTEGER:
                unbounded.append(f"{path} {p.alias}")
    assert unbounded == []
