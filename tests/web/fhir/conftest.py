"""Fixtures of the FHIR tests: a bearer token per role, and `cohort`: one referral in each
scope (the GP's practice, the coordinator's other PCN, Thurrock outside both), each with a
workup item, a diagnostic test with its result, a deterioration flag and a thread of
messages, so that every resource type exists in and out of each caller's scope."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from api_helpers import HOME, NEIGHBOUR, NHS, THURROCK, bearer, post, row
from web_helpers import ACCOUNTS

from guardian.web.fhir import ids

SCOPES = {"home": (HOME, NHS[0]), "neighbour": (NEIGHBOUR, NHS[1]),
          "thurrock": (THURROCK, NHS[2])}


@dataclass(frozen=True)
class Referral:
    pathway_id: str
    practice: str
    nhs: str
    sr_id: str


@pytest.fixture
def tokens(engine):
    return {role: bearer(engine, role) for role in ACCOUNTS}


@pytest.fixture
def cohort(client, tokens) -> dict[str, Referral]:
    guardian = client.app.state.guardian
    today = guardian.today()
    out = {}
    for name, (practice, nhs) in SCOPES.items():
        pathway_id = f"FHIR-{name.upper()}"
        post(client, tokens["admin"], row(nhs, pathway_id, practice, waited=40,
                                          ubrn="999000111222"[:-1] + str(len(out))),
             expect=201)
        pid = guardian.patient_id(nhs)
        key = ("RAJ", pathway_id)
        start = today - dt.timedelta(days=10)
        guardian.require_workup_item(pid, *key, "w1", "Blood tests", "practice", on=start)
        guardian.order_diagnostic(pid, *key, "t1", "mri", on=start)
        guardian.record_diagnostic_result(pid, *key, "t1", "No abnormality", on=today)
        guardian.flag_deterioration(pid, "f1", "More pain walking", "patient", *key, on=today)
        guardian.agree_care_plan(pid, *key, ["keep-active", "pain-relief"], "practice",
                                 "sam", note="We will call in six weeks.", on=today)
        at = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
        guardian.receive_message(pid, *key, "m1", "gp", "Any news?", "gp@practice", at=at)
        guardian.send_message(pid, *key, "m2", "gp", "Booked next week.", "sam",
                              in_reply_to="m1", at=at + dt.timedelta(hours=1))
        out[name] = Referral(pathway_id, practice, nhs,
                             ids.service_request_id(pid, "RAJ", pathway_id))
    client.app.state.runner.run_once()
    return out
