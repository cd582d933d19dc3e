"""Worklist, patient page, action forms and GP view: every route with its scope probes,
full page vs htmx fragment, validation errors kept next to the field, stale forms."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import select
from web_helpers import PASSWORD, csrf_of, sign_in

from guardian import audit, users
from guardian.projections import worklist as wl
from guardian.web.routes import worklist as worklist_route
from guardian.web.routes.worklist import NOTICES


def rows_where(guardian, *clauses) -> list:
    with guardian.engine.connect() as conn:
        return list(conn.execute(select(wl.worklist).where(*clauses)))


def mine(guardian):
    return rows_where(guardian, wl.worklist.c.pcn_code.in_(["U90001", "U90002"]))


def elsewhere(guardian):
    return rows_where(guardian, wl.worklist.c.pcn_code.not_in(["U90001", "U90002"]))


def post(client, path: str, data: dict, **kw):
    return client.post(path, data={**data, "csrf_token": csrf_of(client)},
                       follow_redirects=False, **kw)


def version_of(guardian, patient_hex: str) -> int:
    return guardian.get_patient(uuid.UUID(patient_hex)).version


# ---------------------------------------------------------------------------- worklist


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "fragment"])
def test_worklist_page_and_fragment(client, demo, htmx):
    sign_in(client, "coordinator")
    headers = {"HX-Request": "true"} if htmx else {}
    r = client.get("/worklist?filter=workup-incomplete&sort=days-waiting", headers=headers)
    assert r.status_code == 200
    assert "HX-Request" in r.headers["vary"]  # and Accept-Encoding (gzip)
    expected = [r_ for r_ in mine(demo) if r_.workup_outstanding > 0]
    shown = re.findall(r'id="row-([^"]+)"', r.text)
    assert len(shown) == min(50, len(expected)) > 0
    assert (f"<strong>{len(expected):,}</strong> open pathway" in r.text)
    if htmx:
        assert "<html" not in r.text and 'id="worklist-results"' in r.text
        assert 'hx-swap-oob="true"' in r.text  # the filter counts follow the fragment
    else:
        assert "<html" in r.text and 'id="worklist-filters"' in r.text
        assert f"({len(expected):,})" in r.text  # the count beside "Workup incomplete"


def test_worklist_pages_through_every_row_once(client, demo):
    sign_in(client, "coordinator")
    seen, url = [], "/worklist?pcn=U90001"
    while url:
        r = client.get(url)
        assert r.status_code == 200
        seen += re.findall(r'id="row-([^"]+)"', r.text)
        found = re.search(r'href="(/worklist\?[^"]*after=[^"]+)"', r.text)
        url = found.group(1).replace("&amp;", "&") if found else None
    expected = {f"{r_.provider}-{r_.pathway_id}" for r_ in mine(demo) if r_.pcn_code == "U90001"}
    assert len(seen) == len(set(seen)) == len(expected)
    assert set(seen) == expected


@pytest.mark.parametrize(("query", "notice"), [
    ("filter=nonsense", "bad-filter"), ("sort=sideways", "bad-filter"),
    ("priority=9", "bad-filter"), ("stage=on-the-moon", "bad-filter"),
    ("after=%%%&page=2", "bad-page"), ("page=two", "bad-page"), ("page=0", "bad-page"),
    ("after=%%%", "bad-page"), ("page=900", "bad-page")])
def test_a_bad_worklist_address_comes_back_to_the_list_with_a_message(client, demo, query,
                                                                      notice):
    """No dead ends: the list without the bad part, with a message saying so."""
    sign_in(client, "coordinator")
    r = client.get(f"/worklist?filter=breached&{query}", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/worklist?filter=breached")
    assert r.headers["location"].endswith(f"notice={notice}")
    page = client.get(r.headers["location"])
    assert page.status_code == 200 and "Traceback" not in page.text
    assert NOTICES[notice] in page.text.replace("&#39;", "'")
    assert 'id="filter-breached" name="filter" type="checkbox" value="breached" checked' \
        in page.text


def test_pages_say_page_x_of_y_and_go_back_and_forth(client, demo, monkeypatch):
    monkeypatch.setattr(worklist_route, "PAGE_SIZE", 5)  # the demo's list in pages of 5
    sign_in(client, "coordinator")
    first = client.get("/worklist")
    pages = int(re.search(r"Page 1 of (\d+)", first.text).group(1))
    assert pages >= 4, "the demo's list should span four pages"
    second = client.get(next_link(first.text))
    assert f"Page 2 of {pages}" in second.text
    third = client.get(next_link(second.text))
    back = client.get(prev_link(third.text))
    assert f"Page 2 of {pages}" in back.text
    assert rows_of(back.text) == rows_of(second.text)
    assert rows_of(client.get(prev_link(back.text)).text) == rows_of(first.text)


def next_link(page: str) -> str:
    return re.search(r'rel="next" href="([^"]+)"', page).group(1).replace("&amp;", "&")


def prev_link(page: str) -> str:
    return re.search(r'rel="prev" href="([^"]+)"', page).group(1).replace("&amp;", "&")


def rows_of(page: str) -> list[str]:
    return re.findall(r'id="row-([^"]+)"', page)


@pytest.mark.parametrize("role, status", [("gp", 404), ("place-lead", 404), ("admin", 200)])
def test_worklist_roles(client, demo, role, status):
    sign_in(client, role)
    assert client.get("/worklist").status_code == status


def test_worklist_other_pcn_is_404_and_audited(client, demo):
    sign_in(client, "coordinator")
    assert client.get("/worklist?pcn=U90024").status_code == 404
    entries = audit.entries(demo.engine, email="sam@guardian.test")
    assert any(e.action == "denied-worklist" for e in entries)


@pytest.mark.one_backend
def test_worklist_without_session_goes_to_sign_in(client, demo):
    r = client.get("/worklist", follow_redirects=False)
    assert r.status_code in (302, 303) and "/sign-in" in r.headers["location"]


def test_bulk_assign(client, demo):
    sign_in(client, "coordinator")
    free = [r_ for r_ in mine(demo) if r_.coordinator is None][:3]
    keys = [f"{r_.provider}|{r_.pathway_id}|{r_.patient_id}" for r_ in free]
    r = client.post("/worklist/assign", data={"pathway": keys, "coordinator":
                                              "sam@guardian.test", "back": "/worklist",
                                              "csrf_token": csrf_of(client)},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/worklist?assigned=3"
    for r_ in free:
        [after] = rows_where(demo, wl.worklist.c.provider == r_.provider,
                             wl.worklist.c.pathway_id == r_.pathway_id)
        assert after.coordinator == "sam@guardian.test"
    page = client.get("/worklist?assigned=3&filter=assigned-to-me")
    assert "3 pathways assigned" in page.text and "(3)" in page.text
    # a pathway outside the coordinator's PCNs cannot be slipped in
    other = elsewhere(demo)[0]
    r = client.post("/worklist/assign", data={
        "pathway": [f"{other.provider}|{other.pathway_id}|{other.patient_id}"],
        "coordinator": "sam@guardian.test", "csrf_token": csrf_of(client)},
        follow_redirects=False)
    assert r.status_code == 404
    # no CSRF token: refused
    r = client.post("/worklist/assign", data={"pathway": keys, "coordinator": "x"},
                    follow_redirects=False)
    assert r.status_code == 403


def test_pathways_are_assigned_only_to_coordinators_of_their_pcn(client, demo):
    users.add_user(demo.engine, "thurrock.coordinator@guardian.test", "coordinator",
                   ["U90024"], PASSWORD)
    users.add_user(demo.engine, "robin@guardian.test", "coordinator", ["U90001"], PASSWORD)
    sign_in(client, "coordinator")
    page = client.get("/worklist").text
    assert "robin@guardian.test" in page
    assert "thurrock.coordinator@guardian.test" not in page  # not one of the PCNs shown
    # bulk assign to a coordinator of another PCN: refused, nothing assigned
    row = next(r_ for r_ in mine(demo) if r_.coordinator is None and r_.pcn_code == "U90001")
    r = post(client, "/worklist/assign", {
        "pathway": [f"{row.provider}|{row.pathway_id}|{row.patient_id}"],
        "coordinator": "thurrock.coordinator@guardian.test", "back": "/worklist"})
    assert r.status_code == 303 and r.headers["location"] == "/worklist?notice=assign-outside"
    assert "does not work for the PCN" in client.get(r.headers["location"]).text
    [after] = rows_where(demo, wl.worklist.c.provider == row.provider,
                         wl.worklist.c.pathway_id == row.pathway_id)
    assert after.coordinator is None
    # the patient page offers the coordinators of that pathway's PCN, and only accepts them
    patient_page = client.get(f"/patients/{row.patient_id}").text
    assert "thurrock.coordinator@guardian.test" not in patient_page
    form = {"pathway": f"{row.provider}|{row.pathway_id}",
            "version": version_of(demo, row.patient_id)}
    r = post(client, f"/patients/{row.patient_id}/actions/assign",
             {**form, "coordinator": "thurrock.coordinator@guardian.test"})
    assert r.status_code == 422 and "coordinator of this pathway" in r.text
    r = post(client, f"/patients/{row.patient_id}/actions/assign",
             {**form, "coordinator": "robin@guardian.test"})
    assert r.status_code == 303
    assert demo.get_patient(uuid.UUID(row.patient_id)).pathway(
        row.provider, row.pathway_id).coordinator == "robin@guardian.test"


# ---------------------------------------------------------------------------- patient


def test_patient_page_in_scope_audited(client, demo):
    sign_in(client, "coordinator")
    row = mine(demo)[0]
    r = client.get(f"/patients/{row.patient_id}")
    assert r.status_code == 200
    assert row.pathway_id in r.text and "Timeline" in r.text
    assert "Referral received by" in r.text
    entries = audit.entries(demo.engine, patient_id=row.patient_id)
    assert any(e.action == "view-patient" and e.user_email == "sam@guardian.test" for e in entries)


@pytest.mark.parametrize("role", ["coordinator", "gp", "place-lead"])
def test_patient_out_of_scope_is_404(client, demo, role):
    sign_in(client, role)
    other = [r_ for r_ in elsewhere(demo) if r_.practice_code != "Y90001"][0]
    r = client.get(f"/patients/{other.patient_id}")
    assert r.status_code == 404 and other.nhs_number not in r.text
    assert client.get("/patients/not-a-patient").status_code == 404
    assert client.get(f"/patients/{uuid.uuid4().hex}").status_code == 404


def test_patient_page_needs_a_session(client, demo):
    row = mine(demo)[0]
    r = client.get(f"/patients/{row.patient_id}", follow_redirects=False)
    assert r.status_code in (302, 303)
    sign_in(client, "coordinator")
    client.cookies.clear()
    client.cookies.set("guardian_session", "forged.value")
    r = client.get(f"/patients/{row.patient_id}", follow_redirects=False)
    assert r.status_code in (302, 303)


def test_workup_asked_then_done_changes_the_worklist_row(client, demo):
    sign_in(client, "coordinator")
    row = [r_ for r_ in mine(demo) if r_.workup_outstanding == 0][0]
    path = f"/patients/{row.patient_id}/actions/workup-required"
    r = post(client, path, {"pathway": f"{row.provider}|{row.pathway_id}",
                            "version": version_of(demo, row.patient_id),
                            "description": "Photographs of the lesion",
                            "requested_from": "practice"})
    assert r.status_code == 303, r.text
    [after] = rows_where(demo, wl.worklist.c.provider == row.provider,
                         wl.worklist.c.pathway_id == row.pathway_id)
    assert after.workup_outstanding == 1  # read models caught up before the redirect
    page = client.get(r.headers["location"])
    assert "Recorded: workup required" in page.text
    assert "Workup needed from the GP practice: Photographs of the lesion" in page.text
    item = re.search(r'<option value="(w-[0-9a-f]+)"', page.text).group(1)
    r = post(client, f"/patients/{row.patient_id}/actions/workup-done",
             {"pathway": f"{row.provider}|{row.pathway_id}", "item_id": item,
              "version": version_of(demo, row.patient_id)})
    assert r.status_code == 303
    [done] = rows_where(demo, wl.worklist.c.provider == row.provider,
                        wl.worklist.c.pathway_id == row.pathway_id)
    assert done.workup_outstanding == 0
    actions = [e.action for e in audit.entries(demo.engine, patient_id=row.patient_id)]
    assert "workup required" in actions and "workup done" in actions


def test_refused_form_keeps_what_was_typed(client, demo):
    sign_in(client, "coordinator")
    row = mine(demo)[0]
    r = post(client, f"/patients/{row.patient_id}/actions/contact",
             {"version": version_of(demo, row.patient_id), "channel": "phone",
              "summary": "Pain worse, two falls", "on": "31/03/2026"})
    assert r.status_code == 422
    assert "There is a problem" in r.text
    assert "Enter a date as YYYY-MM-DD" in r.text
    assert "Pain worse, two falls" in r.text  # kept
    r = post(client, f"/patients/{row.patient_id}/actions/contact",
             {"version": version_of(demo, row.patient_id), "channel": "phone", "summary": ""})
    assert r.status_code == 422 and "Summarise the contact" in r.text


def test_stale_form_says_it_changed_and_loses_nothing(client, demo):
    sign_in(client, "coordinator")
    row = mine(demo)[0]
    old = version_of(demo, row.patient_id)
    demo.log_contact(uuid.UUID(row.patient_id), "c-other", "phone", "someone else", "x")
    r = post(client, f"/patients/{row.patient_id}/actions/message",
             {"pathway": f"{row.provider}|{row.pathway_id}", "version": old,
              "party": "hospital", "body": "Please re-prioritise"})
    assert r.status_code == 409
    assert "changed since you opened it" in r.text and "Please re-prioritise" in r.text


def test_action_on_a_pathway_out_of_scope_is_404(client, demo):
    sign_in(client, "coordinator")
    row = mine(demo)[0]
    other = elsewhere(demo)[0]
    r = post(client, f"/patients/{row.patient_id}/actions/close",
             {"pathway": f"{other.provider}|{other.pathway_id}",
              "version": version_of(demo, row.patient_id), "reason": "Duplicate referral"})
    assert r.status_code == 404
    r = post(client, f"/patients/{row.patient_id}/actions/launch-rockets", {})
    assert r.status_code == 404


# ---------------------------------------------------------------------------- GP view


def test_gp_overview_and_search(client, demo):
    sign_in(client, "gp")
    r = client.get("/gp")
    assert r.status_code == 200 and "Your referred patients" in r.text
    practice_rows = rows_where(demo, wl.worklist.c.practice_code == "Y90001")
    n = len(practice_rows)
    assert f"{n:,} referral{' is' if n == 1 else 's are'} waiting." in r.text  # in words
    bad = client.get("/gp?nhs_number=123")
    assert bad.status_code == 422 and "nhsuk-error-message" in bad.text
    assert 'value="123"' in bad.text
    if practice_rows:
        hit = client.get(f"/gp?nhs_number={practice_rows[0].nhs_number}",
                         follow_redirects=False)
        assert hit.status_code == 303
        assert hit.headers["location"] == f"/patients/{practice_rows[0].patient_id}"
    other = [r_ for r_ in elsewhere(demo)][0]
    miss = client.get(f"/gp?nhs_number={other.nhs_number}")
    assert miss.status_code == 422 and "No referral for this NHS number" in miss.text


def test_gp_actions_are_limited(client, demo):
    sign_in(client, "gp")
    rows = rows_where(demo, wl.worklist.c.practice_code == "Y90001")
    if not rows:
        pytest.skip("no demo patient at Y90001 with this seed")
    row = rows[0]
    key = f"{row.provider}|{row.pathway_id}"
    r = post(client, f"/patients/{row.patient_id}/actions/message",
             {"pathway": key, "version": version_of(demo, row.patient_id),
              "body": "Patient rang: any news?"})
    assert r.status_code == 303
    [after] = rows_where(demo, wl.worklist.c.provider == row.provider,
                         wl.worklist.c.pathway_id == row.pathway_id)
    assert after.unanswered_messages >= 1
    r = post(client, f"/patients/{row.patient_id}/actions/close",
             {"pathway": key, "version": version_of(demo, row.patient_id), "reason": "x"})
    assert r.status_code == 404
    page = client.get(f"/patients/{row.patient_id}")
    assert "Send a message to Guardian" in page.text and "Stop the clock" not in page.text


@pytest.mark.parametrize("role", ["coordinator", "place-lead", "admin"])
def test_gp_view_is_for_gps(client, demo, role):
    sign_in(client, role)
    assert client.get("/gp").status_code == 404


def test_message_sent_shows_awaiting_reply_on_the_worklist(client, demo):
    sign_in(client, "coordinator")
    row = [r_ for r_ in mine(demo) if r_.awaiting_reply_since is None][0]
    r = post(client, f"/patients/{row.patient_id}/actions/message",
             {"pathway": f"{row.provider}|{row.pathway_id}",
              "version": version_of(demo, row.patient_id), "party": "hospital",
              "body": "Please consider clinical re-prioritisation"})
    assert r.status_code == 303
    [after] = rows_where(demo, wl.worklist.c.provider == row.provider,
                         wl.worklist.c.pathway_id == row.pathway_id)
    assert after.awaiting_reply_since == demo.today()
    page = client.get(f"/worklist?pcn={row.pcn_code}&sort=days-waiting")
    if f'id="row-{row.provider}-{row.pathway_id}"' in page.text:
        assert "message sent, awaiting reply (0 days)" in page.text.lower()
    demo.receive_message(uuid.UUID(row.patient_id), row.provider, row.pathway_id, "m-reply",
                         "hospital", "Re-prioritised to urgent", "hospital team")
    client.app.state.runner.run_once()
    [answered] = rows_where(demo, wl.worklist.c.provider == row.provider,
                            wl.worklist.c.pathway_id == row.pathway_id)
    assert answered.awaiting_reply_since is None


@pytest.mark.parametrize(("form", "notice"), [
    ({"coordinator": "coordinator@demo.invalid"}, "assign-none"),
    ({"pathway": ["RAJ|x|y"], "coordinator": ""}, "assign-nobody"),
])
def test_a_bulk_action_that_cannot_be_done_returns_to_the_same_list(client, demo, form,
                                                                   notice):
    sign_in(client, "coordinator")
    if "pathway" in form:  # a real pathway of the list, so only the coordinator is missing
        row = next(r_ for r_ in mine(demo) if r_.pcn_code == "U90001")
        form = {**form, "pathway": [f"{row.provider}|{row.pathway_id}|{row.patient_id}"]}
    back = "/worklist?filter=breached&sort=days-waiting&notice=assign-none"
    r = post(client, "/worklist/assign", {**form, "back": back})
    assert r.status_code == 303
    assert r.headers["location"] == (
        f"/worklist?filter=breached&sort=days-waiting&notice={notice}")
    assert NOTICES[notice] in client.get(r.headers["location"]).text


def test_a_leavers_pathways_show_and_filter_as_unassigned(client, demo):
    """docs/access.md, "Someone leaves": a disabled coordinator's pathways read as
    unassigned (with who had them), are in the unassigned pile and in the API's, and the
    coordinator is no longer offered for assignment."""
    users.add_user(demo.engine, "kim.leaver@guardian.test", "coordinator", ["U90001"],
                   PASSWORD, display_name="Kim Leaver")
    row = next(r_ for r_ in mine(demo) if r_.coordinator is None and r_.pcn_code == "U90001")
    demo.assign_coordinator(uuid.UUID(row.patient_id), row.provider, row.pathway_id,
                            "kim.leaver@guardian.test")
    client.app.state.runner.run_once()
    sign_in(client, "coordinator")
    row_id = f'id="row-{row.provider}-{row.pathway_id}"'
    assert row_id not in client.get("/worklist?filter=unassigned&pcn=U90001").text
    users.disable_user(demo.engine, "kim.leaver@guardian.test")
    page = client.get("/worklist?filter=unassigned&pcn=U90001").text
    assert row_id in page
    assert "Kim Leaver has left" in page
    assert 'value="kim.leaver@guardian.test"' not in page  # not offered for assignment
    api = client.get("/api/v1/worklists/U90001", params={"filter": "unassigned",
                                                         "limit": 200}).json()
    assert row.pathway_id in {r["pathway_id"] for r in api["rows"]}
