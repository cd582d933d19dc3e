"""The coordinator's "Agree a plan while waiting" on the patient page and its JSON command
(docs/rules.md "Plans while waiting", docs/api.md): every choice the form offers is sent
as a browser sends it and recorded, told in the timeline in words and shown with whom to
call by name (on SQLite and PostgreSQL: the event goes through each real store); a refused
form says why beside the field and keeps what was typed; GPs see the plan but cannot agree
one; a closed pathway has neither; each is audited as the other actions are.
"""

from __future__ import annotations

import html
import re
import uuid
from html.parser import HTMLParser

import pytest
from api_helpers import bearer, entries, locs
from web_helpers import ACCOUNTS, referred_patient, sign_in

from guardian import audit
from guardian.domain import codes

PRACTICE_NAME = "Synthetic Basildon Town Centre Surgery (demo)"  # Y90001
HOSPITAL_TEAM = "Trauma and Orthopaedics at Mid and South Essex NHS Foundation Trust"
COORDINATOR = ACCOUNTS["coordinator"][0]


class PlanForm(HTMLParser):
    """The care-plan form of one pathway: its hidden fields and each choice's options
    (value and the label a person reads)."""

    def __init__(self, pathway: str) -> None:
        super().__init__(convert_charrefs=True)
        self.pathway, self.action = pathway, ""
        self.forms: list[dict] = []
        self.form: dict | None = None
        self.labels: dict[str, str] = {}
        self.label_for: str | None = None
        self.textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("action", "").endswith("/actions/care-plan"):
            self.form = {"action": a["action"], "hidden": {}, "options": {}, "ids": {},
                         "checked": {}, "text": {}}
            self.forms.append(self.form)
        elif self.form is None:
            return
        elif tag == "input" and a.get("type") == "hidden":
            self.form["hidden"][a["name"]] = a["value"]
        elif tag == "input" and a.get("type") in ("checkbox", "radio"):
            self.form["options"].setdefault(a["name"], []).append(a["value"])
            self.form["ids"][a["id"]] = (a["name"], a["value"])
            if "checked" in a:
                self.form["checked"].setdefault(a["name"], []).append(a["value"])
        elif tag == "label":
            self.label_for = a.get("for")
            self.labels[self.label_for] = ""
        elif tag == "textarea":
            self.textarea = a["name"]
            self.form["text"][self.textarea] = ""

    def handle_data(self, data):
        if self.label_for is not None:
            self.labels[self.label_for] += data
        elif self.textarea is not None and self.form is not None:
            self.form["text"][self.textarea] += data

    def handle_endtag(self, tag):
        if tag == "label":
            self.label_for = None
        elif tag == "textarea":
            self.textarea = None
        elif tag == "form":
            self.form = None


def plan_form(client, pid: str, pathway: str) -> dict | None:
    """The pathway's care-plan form as the page shows it (None: not offered), with each
    option's label: {"self_care": [(code, label)…], "call_if_worse": […]}."""
    page = client.get(f"/patients/{pid}")
    assert page.status_code == 200
    reader = PlanForm(pathway)
    reader.feed(page.text)
    found = [f for f in reader.forms if f["hidden"].get("pathway") == pathway]
    if not found:
        return None
    [form] = found
    form["labelled"] = {}
    for oid, (name, value) in form["ids"].items():
        form["labelled"].setdefault(name, []).append((value, reader.labels[oid].strip()))
    return form


def shown(page: str) -> str:
    """The page's text outside its forms, as read."""
    page = re.sub(r"<form\b.*?</form>", "", page, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def send(client, form: dict, self_care: list[str], call: str | None, note: str = "",
         on: str = ""):
    data: dict = {**form["hidden"], "note": note, "on": on, "self_care": self_care}
    if call is not None:
        data["call_if_worse"] = call
    return client.post(form["action"], data=data, follow_redirects=False)


def test_every_choice_is_recorded_told_in_the_timeline_and_shown_by_name(client):
    guardian = client.app.state.guardian
    pid, pathway = referred_patient(guardian, "PLAN-1")
    key = tuple(pathway.split("|"))
    sign_in(client, "coordinator")
    form = plan_form(client, pid, pathway)
    assert form["labelled"]["self_care"] == list(codes.SELF_CARE.items())
    assert form["labelled"]["call_if_worse"] == [
        ("practice", f"The GP practice ({PRACTICE_NAME})"),
        ("guardian", "The Guardian team"),
        ("hospital", f"The hospital team ({HOSPITAL_TEAM})")]
    page = shown(client.get(f"/patients/{pid}").text)
    assert "Plan while waiting No plan agreed yet." in page

    sent = []
    for code, label in codes.SELF_CARE.items():  # each topic, on its own
        sent.append(([code], "practice", label[:1].lower() + label[1:]))
    for call in codes.CALL_IF_WORSE:  # each caller, with two topics ticked
        sent.append((["sleep", "keep-active"], call, "keeping active, sleeping well"))
    for self_care, call, told in sent:
        form = plan_form(client, pid, pathway)  # the page's version now
        r = send(client, form, self_care, call, note="Ring us on Mondays")
        assert r.status_code == 303, (self_care, call, shown(r.text)[:500])
        assert r.headers["location"].startswith(f"/patients/{pid}?done=care-plan#pathway-")
        plan = guardian.get_patient(uuid.UUID(hex=pid)).pathway(*key).care_plan
        assert (sorted(plan.self_care), plan.call_if_worse, plan.note, plan.by) == (
            sorted(self_care), call, "Ring us on Mondays", COORDINATOR)
        page = shown(client.get(r.headers["location"]).text)
        assert f"Plan while waiting agreed: {told}; if worse, call " \
               f"{codes.CALL_IF_WORSE[call]}" in page
        named = {"practice": f"the GP practice ({PRACTICE_NAME})",
                 "guardian": "the Guardian team",
                 "hospital": f"the hospital team ({HOSPITAL_TEAM})"}[call]
        assert f"If worse, the patient calls {named}; they are always told about 111 " \
               "and 999." in page
        for code in self_care:
            assert codes.SELF_CARE[code] in page
        assert "Note for the patient: Ring us on Mondays" in page
    # every plan stays in the history, the latest shows; each was audited
    assert page.count("Plan while waiting agreed:") == len(sent) == 12
    assert len(entries(guardian.engine, "care plan")) == len(sent)
    [entry, *_] = entries(guardian.engine, "care plan")
    assert (entry.patient_id, entry.provider, entry.pathway_id, entry.role) == (
        pid, *key, "coordinator")


@pytest.mark.one_backend
def test_a_refused_plan_says_why_beside_the_field_and_keeps_what_was_typed(client):
    guardian = client.app.state.guardian
    pid, pathway = referred_patient(guardian, "PLAN-2")
    sign_in(client, "coordinator")
    form = plan_form(client, pid, pathway)
    cases = [
        ([], "hospital", "Nothing ticked",
         "self_care", "Choose at least one thing the patient can do for themselves"),
        (["sleep"], None, "No caller", "call_if_worse",
         "Choose whom the patient calls if they get worse"),
        (["sleep", "astrology"], "hospital", "A made-up topic", "self_care",
         "'astrology' is not a self-care topic; one of keep-active"),
        (["sleep"], "999", "A made-up caller", "call_if_worse",
         "'999' is not whom the patient calls if they get worse"),
        (["sleep"], "practice", "x" * 301, "note",
         "the note for the patient is 301 characters long; at most 300 are allowed"),
    ]
    for self_care, call, note, field, message in cases:
        r = send(client, form, self_care, call, note=note)
        assert r.status_code == 422, (field, r.status_code)
        fid = f"care-plan-RAJ-PLAN-2-{field}"
        error = re.search(rf'id="{fid}-error">.*?</span>(.*?)</span>', r.text, re.S)
        assert error and html.unescape(error.group(1)).strip().startswith(message), field
        assert f'href="#{fid}"' in r.text and f'id="{fid}"' in r.text  # the summary's link
        again = PlanForm(pathway)
        again.feed(r.text)
        [kept] = [f for f in again.forms if f["hidden"].get("pathway") == pathway]
        assert kept["text"]["note"] == note
        assert kept["checked"].get("call_if_worse", []) == ([call] if call in
                                                            codes.CALL_IF_WORSE else [])
        assert kept["checked"].get("self_care", []) == [c for c in self_care
                                                        if c in codes.SELF_CARE]
    assert guardian.get_patient(uuid.UUID(hex=pid)).pathway("RAJ", "PLAN-2").care_plan is None


@pytest.mark.one_backend
def test_a_gp_sees_the_plan_but_cannot_agree_one_and_a_closed_pathway_has_neither(client):
    guardian = client.app.state.guardian
    pid, pathway = referred_patient(guardian, "PLAN-3")
    patient_id = uuid.UUID(hex=pid)
    guardian.agree_care_plan(patient_id, "RAJ", "PLAN-3", ["symptom-diary"], "guardian",
                             by=COORDINATOR, note="We will ring in two weeks")
    sign_in(client, "gp")
    assert plan_form(client, pid, pathway) is None
    page = shown(client.get(f"/patients/{pid}").text)
    assert "Plan while waiting Agreed on" in page and "Keeping a note of symptoms" in page
    assert "If worse, the patient calls the Guardian team;" in page
    form = {"action": f"/patients/{pid}/actions/care-plan",
            "hidden": {"pathway": pathway, "version": "", "csrf_token": ""}}
    page_html = client.get(f"/patients/{pid}").text
    form["hidden"]["csrf_token"] = re.search(r'name="csrf_token" value="([^"]+)"',
                                             page_html).group(1)
    assert send(client, form, ["sleep"], "practice").status_code == 404

    guardian.close_pathway(patient_id, "RAJ", "PLAN-3", "duplicate")
    sign_in(client, "coordinator")
    assert plan_form(client, pid, pathway) is None
    page = shown(client.get(f"/patients/{pid}").text)
    assert "Plan while waiting" not in page.replace("Plan while waiting agreed:", "")
    assert "Plan while waiting agreed: keeping a note of symptoms; if worse, call the " \
           "Guardian team" in page  # the history keeps it


def url(pid: str, pathway_id: str) -> str:
    return f"/api/v1/patients/{pid}/pathways/RAJ/{pathway_id}/care-plan"


@pytest.mark.one_backend
def test_the_json_command_takes_a_list_of_topics_and_refuses_what_the_form_refuses(client):
    guardian = client.app.state.guardian
    pid, _ = referred_patient(guardian, "PLAN-4")
    admin = bearer(guardian.engine, "admin")
    r = client.post(url(pid, "PLAN-4"), headers=admin, json={
        "self_care": ["wellbeing", "keep-active"], "call_if_worse": "hospital",
        "note": "Ask for Jo", "on": guardian.today().isoformat()})
    assert r.status_code == 200, r.text
    assert r.json()["recorded"] == {} and r.json()["action"] == "care-plan"
    plan = guardian.get_patient(uuid.UUID(hex=pid)).pathway("RAJ", "PLAN-4").care_plan
    assert (plan.self_care, plan.call_if_worse, plan.note, plan.by) == (
        ("keep-active", "wellbeing"), "hospital", "Ask for Jo", "admin@guardian.test")
    [entry] = entries(guardian.engine, "care plan")
    assert (entry.patient_id, entry.pathway_id, entry.role) == (pid, "PLAN-4", "admin")
    # the JSON record carries the plan, codes with their names
    [shown] = [p for p in client.get(f"/api/v1/patients/{pid}", headers=admin).json()[
        "pathways"] if p["pathway_id"] == "PLAN-4"]
    assert shown["care_plan"] == {
        "agreed_on": guardian.today().isoformat(), "agreed_by": "admin@guardian.test",
        "self_care": ["keep-active", "wellbeing"],
        "self_care_names": [codes.SELF_CARE["keep-active"], codes.SELF_CARE["wellbeing"]],
        "call_if_worse": "hospital", "call_if_worse_name": "the hospital team",
        "note": "Ask for Jo"}
    assert audit.words(entry.action) == "Agreed a plan while waiting with the patient"

    def refused(body: dict) -> list:
        return locs(client.post(url(pid, "PLAN-4"), headers=admin, json=body))

    assert refused({"self_care": ["astrology"], "call_if_worse": "hospital"})[0][:2] == [
        "body", "self_care"]
    assert refused({"self_care": [], "call_if_worse": "hospital"}) == [["body", "self_care"]]
    assert refused({"self_care": "sleep", "call_if_worse": "hospital"}) == [
        ["body", "self_care"]]
    assert refused({"self_care": ["sleep"]}) == [["body", "call_if_worse"]]
    assert refused({"self_care": ["sleep"], "call_if_worse": "111"}) == [
        ["body", "call_if_worse"]]
    r = client.post(url(pid, "PLAN-4"), headers=admin, json={
        "self_care": ["sleep"], "call_if_worse": "practice", "note": "x" * 301})
    assert locs(r) == [["body", "note"]] and "at most 300" in r.text
    gp = bearer(guardian.engine, "gp")
    assert client.post(url(pid, "PLAN-4"), headers=gp, json={
        "self_care": ["sleep"], "call_if_worse": "practice"}).status_code == 404
    schema = client.get("/openapi.json").json()["components"]["schemas"]["CarePlanCommand"]
    assert schema["required"] == ["self_care", "call_if_worse"]
    assert schema["properties"]["self_care"]["items"]["enum"] == list(codes.SELF_CARE)
