"""Users for admins in the web app (docs/access.md "Managing users in the web app").

Given the users of conftest and an admin signed in, each change made from the user pages
is made by the functions the command line uses: it takes effect at once (a disabled user's
session and tokens stop working on their next request), it is audited as from the command
line but from the web app, and the rules that keep someone in charge refuse, on the same
page and changing nothing, what would break them.
"""

from __future__ import annotations

import html
import logging
import re
import uuid

import pytest
from fastapi.testclient import TestClient
from web_helpers import ACCOUNTS, PASSWORD, csrf_of, referred_patient, sign_in

from guardian import audit, users

# One backend: the web forms over the account functions, which run on both in
# tests/integration/test_users_cli.py.
pytestmark = pytest.mark.one_backend

ADMIN = ACCOUNTS["admin"][0]
COORDINATOR = ACCOUNTS["coordinator"][0]


def as_admin(client: TestClient) -> str:
    assert sign_in(client, "admin").status_code == 303
    return csrf_of(client)


def user_id(engine, email: str) -> int:
    return users.find_user(engine, email).id


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def signed_in_elsewhere(client: TestClient, role: str) -> TestClient:
    other = TestClient(client.app)
    assert sign_in(other, role).status_code == 303
    return other


def web_entries(engine, action: str):
    return [e for e in audit.entries(engine, action=action)
            if e.user_agent and e.user_agent.startswith(f"web app, by {ADMIN}")]


# ---------------------------------------------------------------------------- who may


def test_only_admins_reach_the_user_pages(client, engine):
    target = user_id(engine, COORDINATOR)
    for role in ("coordinator", "gp", "place-lead"):
        assert sign_in(client, role).status_code == 303
        token = csrf_of(client)
        for path in ("/admin/users", "/admin/users/new", f"/admin/users/{target}"):
            assert client.get(path).status_code == 404
        posted = client.post(f"/admin/users/{target}/disable", data={"csrf_token": token})
        assert posted.status_code == 404
    assert all(a.enabled for a in users.accounts(engine))


def test_a_post_without_its_csrf_token_changes_nothing(client, engine):
    as_admin(client)
    target = user_id(engine, COORDINATOR)
    answer = client.post(f"/admin/users/{target}/disable", data={})
    assert answer.status_code == 403
    assert all(a.enabled for a in users.accounts(engine))
    assert not audit.entries(engine, action="disable-user")


# ---------------------------------------------------------------------------- the list


def test_the_list_names_each_user_their_role_and_scope(client, engine):
    users.add_user(engine, "jo.bloggs@guardian.test", "coordinator", ["U90003"], PASSWORD,
                   display_name="Jo Bloggs")
    as_admin(client)
    page = client.get("/admin/users")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "Jo Bloggs" in text and "jo.bloggs@guardian.test" in text
    assert "Sam" in text  # sam@guardian.test has no name: the address made readable
    assert "Care coordinator" in text and "Place lead" in text and "Administrator" in text
    assert "Demo Basildon Central PCN" in text  # the coordinator's PCNs by name
    assert "Synthetic Basildon Town Centre Surgery (demo) (Y90001)" in text  # the GP's
    assert "Thurrock" in text and "Everything" in text
    assert not re.search(r">\s*U9000\d", page.text)  # no bare PCN code
    assert 'href="/admin/users"' in client.get("/admin/audit").text  # in the admin menu


# ---------------------------------------------------------------------------- adding


def form_choices(page: str) -> dict[str, list[str]]:
    """The values each choice of the add-user form offers."""
    return {
        "role": re.findall(r'name="role" type="radio" value="([^"]+)"', page),
        "pcn": re.findall(r'name="pcn" type="checkbox" value="([^"]+)"', page),
        "practice": [v for v in re.findall(r'<option value="([^"]*)"', page.split(
            'id="practice"')[1].split("</select>")[0]) if v],
        "place": [html.unescape(v) for v in re.findall(r'<option value="([^"]*)"', page.split(
            'id="place"')[1].split("</select>")[0]) if v],
    }


def add(client, token, **fields):
    return client.post("/admin/users/new", data={"csrf_token": token, **fields})


def test_adding_a_user_shows_their_password_once(client, engine, caplog):
    caplog.set_level(logging.DEBUG)
    token = as_admin(client)
    done = add(client, token, display_name="Ana  O'Connell-Núñez",
               email="Ana@Example.NHS.uk", role="coordinator", pcn=["U90001", "U90002"])
    assert done.status_code == 200, done.text
    assert done.headers["cache-control"] == "no-store"
    password = re.search(r'<code id="secret">([^<]+)</code>', done.text).group(1)
    created = users.find_user(engine, "ana@example.nhs.uk")
    assert created.display_name == "Ana O'Connell-Núñez"
    assert created.role == "coordinator" and created.orgs == ("U90001", "U90002")
    assert password not in client.get(f"/admin/users/{created.id}").text  # never again
    assert password not in caplog.text  # nor logged
    assert users.authenticate(engine, "ana@example.nhs.uk", html.unescape(password)).outcome \
        == "ok"
    [entry] = web_entries(engine, "add-user")
    assert entry.user_email == "ana@example.nhs.uk" and entry.client == "testclient"
    assert entry.detail == f"orgs: U90001, U90002; name: Ana O'Connell-Núñez; by {ADMIN}"
    again = add(client, token, email="ana@example.nhs.uk", role="admin")
    assert again.status_code == 400 and "already exists" in again.text


def test_bad_input_keeps_what_was_typed_with_each_message_by_its_field(client, engine):
    token = as_admin(client)
    before = len(users.list_users(engine))
    answer = add(client, token, display_name="Kim Lee", email="not an address",
                 role="coordinator")
    assert answer.status_code == 400
    assert 'value="Kim Lee"' in answer.text and 'value="not an address"' in answer.text
    assert re.search(r'id="email-error">\s*<span[^>]*>Error: </span>Enter the user',
                     answer.text)
    assert 'id="pcn-error"' in answer.text and "Choose at least one PCN" in answer.text
    assert 'value="coordinator" checked' in answer.text
    for fields, field in (({"role": "gp"}, "practice"), ({"role": "place-lead"}, "place"),
                          ({"role": "gp", "practice": "Y99999"}, "practice"),
                          ({"role": "coordinator", "pcn": ["U90001", "NOPE"]}, "pcn"),
                          ({"role": "chief"}, "role"), ({}, "role"),
                          ({"role": "admin", "display_name": "x" * 121}, "display_name")):
        answer = add(client, token, email="kim@example.test", **fields)
        assert answer.status_code == 400 and f'id="{field}-error"' in answer.text, fields
    assert len(users.list_users(engine)) == before  # nothing added


def test_every_choice_the_add_form_offers_is_accepted(client, engine):
    token = as_admin(client)
    choices = form_choices(client.get("/admin/users/new").text)
    assert choices["role"] == ["coordinator", "gp", "place-lead", "admin"]
    assert len(choices["pcn"]) > 20 and len(choices["practice"]) > 100
    assert len(choices["place"]) == 4
    submitted = [{"role": "coordinator", "pcn": choices["pcn"]}, {"role": "admin"}]
    submitted += [{"role": "gp", "practice": p} for p in choices["practice"]]
    submitted += [{"role": "place-lead", "place": p} for p in choices["place"]]
    for n, fields in enumerate(submitted):
        answer = add(client, token, email=f"user{n}@example.test", **fields)
        assert answer.status_code == 200 and "can now sign in" in answer.text, fields
        made = users.find_user(engine, f"user{n}@example.test")
        wanted = fields.get("pcn") or [fields[k] for k in ("practice", "place") if k in fields]
        assert list(made.orgs) == wanted


# ---------------------------------------------------------------------------- changes


def test_disabling_ends_their_session_and_tokens_at_once_and_enabling_lets_them_back(
        client, engine):
    api_token = users.create_token(engine, COORDINATOR)
    coordinator = signed_in_elsewhere(client, "coordinator")
    token = as_admin(client)
    target = user_id(engine, COORDINATOR)
    done = client.post(f"/admin/users/{target}/disable", data={"csrf_token": token},
                       follow_redirects=False)
    assert done.status_code == 303
    assert done.headers["location"] == f"/admin/users/{target}?done=disabled#done"
    page = client.get(done.headers["location"])
    assert "they are signed out and their API tokens have stopped working" in page.text
    assert "Disabled" in page.text and f"/admin/users/{target}/enable" in page.text
    gone = coordinator.get("/worklist", follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"].startswith("/sign-in")
    assert client.get("/api/v1/worklists/U90001",
                      headers=bearer(api_token)).status_code == 401
    [entry] = web_entries(engine, "disable-user")
    assert entry.user_email == COORDINATOR and entry.role == "coordinator"
    assert entry.detail == f"sessions ended: 1; tokens revoked: 1; by {ADMIN}"  # who did it
    assert entry.client == "testclient"
    log = html.unescape(client.get("/admin/audit?action=disable-user").text)
    assert "Account disabled" in log and "tokens revoked: 1; by Admin" in log  # by name

    client.post(f"/admin/users/{target}/enable", data={"csrf_token": token})
    assert sign_in(coordinator, "coordinator").status_code == 303
    assert len(web_entries(engine, "enable-user")) == 1


def test_changing_role_scope_and_name_takes_effect_on_their_next_request(client, engine):
    coordinator = signed_in_elsewhere(client, "coordinator")
    token = as_admin(client)
    target = user_id(engine, COORDINATOR)
    done = client.post(f"/admin/users/{target}", data={
        "csrf_token": token, "display_name": "Sam Taylor", "role": "gp",
        "practice": "Y90013"}, follow_redirects=False)
    assert done.status_code == 303
    assert "Sam Taylor&#39;s details are saved" in client.get(done.headers["location"]).text
    changed = users.find_user(engine, COORDINATOR)
    assert (changed.role, changed.orgs, changed.name) == ("gp", ("Y90013",), "Sam Taylor")
    assert coordinator.get("/worklist", follow_redirects=False).status_code == 404
    assert coordinator.get("/gp").status_code == 200
    [entry] = web_entries(engine, "change-user")
    assert entry.detail == ("role: coordinator → gp; orgs: U90001, U90002 → Y90013; "
                            f"name: none → Sam Taylor; by {ADMIN}")
    same = client.post(f"/admin/users/{target}", data={
        "csrf_token": token, "display_name": "Sam Taylor", "role": "gp",
        "practice": "Y90013"}, follow_redirects=False)
    assert same.headers["location"].endswith("done=unchanged#done")
    bad = client.post(f"/admin/users/{target}", data={
        "csrf_token": token, "display_name": "Sam T", "role": "place-lead"})
    assert bad.status_code == 400 and 'value="Sam T"' in bad.text
    assert 'id="place-error"' in bad.text
    assert users.find_user(engine, COORDINATOR).role == "gp"


def test_refusals_name_the_reason_on_the_same_page_and_change_nothing(client, engine):
    token = as_admin(client)
    me = user_id(engine, ADMIN)
    mine = client.post(f"/admin/users/{me}/disable", data={"csrf_token": token})
    assert mine.status_code == 409
    assert "You cannot disable your own account: ask another admin." in mine.text
    assert "<h1>Admin</h1>" in mine.text  # the same page, their own
    role = client.post(f"/admin/users/{me}", data={"csrf_token": token, "role": "gp",
                                                   "practice": "Y90001"})
    assert role.status_code == 409
    assert "You cannot change your own role: ask another admin." in html.unescape(role.text)
    assert 'value="gp" checked' in role.text  # what was chosen is kept
    name = client.post(f"/admin/users/{me}", data={"csrf_token": token, "role": "admin",
                                                   "display_name": "Pat Admin"},
                       follow_redirects=False)
    assert name.status_code == 303  # a name of one's own is fine
    assert users.find_user(engine, ADMIN).role == "admin"
    assert all(a.enabled for a in users.accounts(engine))
    assert not audit.entries(engine, action="disable-user")

    # The last enabled admin stays one, whoever asks (the command line says no actor).
    for change in (lambda: users.disable_user(engine, ADMIN),
                   lambda: users.change_user(engine, ADMIN, role="gp", orgs=["Y90001"])):
        try:
            change()
        except users.UserError as e:
            assert "last enabled admin" in str(e)
        else:
            raise AssertionError("the last admin was changed")
    assert users.find_user(engine, ADMIN).role == "admin"


def test_a_new_password_is_shown_once_and_ends_their_session_and_tokens(client, engine,
                                                                        caplog):
    caplog.set_level(logging.DEBUG)
    api_token = users.create_token(engine, COORDINATOR)
    coordinator = signed_in_elsewhere(client, "coordinator")
    token = as_admin(client)
    target = user_id(engine, COORDINATOR)
    done = client.post(f"/admin/users/{target}/password", data={"csrf_token": token})
    assert done.status_code == 200 and done.headers["cache-control"] == "no-store"
    password = html.unescape(re.search(r'<code id="secret">([^<]+)</code>', done.text)[1])
    assert coordinator.get("/worklist", follow_redirects=False).status_code == 303
    assert client.get("/api/v1/worklists/U90001",
                      headers=bearer(api_token)).status_code == 401
    assert sign_in(coordinator, COORDINATOR, PASSWORD).status_code == 401
    assert sign_in(coordinator, COORDINATOR, password).status_code == 303
    assert password not in caplog.text
    assert password not in client.get(f"/admin/users/{target}").text
    [entry] = web_entries(engine, "reset-password")
    assert entry.detail == f"sessions ended: 1; tokens revoked: 1; by {ADMIN}"
    assert password not in (entry.detail + entry.user_agent)


def test_an_api_token_is_shown_once_and_revoked_one_by_one_or_all(client, engine, caplog):
    caplog.set_level(logging.DEBUG)
    token = as_admin(client)
    target = user_id(engine, COORDINATOR)
    issued = []
    for _ in range(3):
        done = client.post(f"/admin/users/{target}/tokens", data={"csrf_token": token})
        assert done.status_code == 200 and done.headers["cache-control"] == "no-store"
        issued.append(re.search(r'<code id="secret">([^<]+)</code>', done.text)[1])
    assert all(client.get("/api/v1/worklists/U90001", headers=bearer(t)).status_code == 200
               for t in issued)
    page = client.get(f"/admin/users/{target}").text
    assert not any(t in page for t in issued) and not any(t in caplog.text for t in issued)
    live = users.live_tokens(engine, target)
    assert len(live) == 3 and f"Number {live[0].id}" in page and "Revoke all 3" in page

    one = client.post(f"/admin/users/{target}/tokens/revoke",
                      data={"csrf_token": token, "token": str(live[0].id)},
                      follow_redirects=False)
    assert one.status_code == 303 and one.headers["location"].endswith("done=revoked#done")
    assert client.get("/api/v1/worklists/U90001",
                      headers=bearer(issued[0])).status_code == 401
    again = client.post(f"/admin/users/{target}/tokens/revoke",
                        data={"csrf_token": token, "token": str(live[0].id)})
    assert again.status_code == 409 and "no longer live" in again.text
    other = users.create_token(engine, ADMIN)  # someone else's token is not theirs to revoke
    theirs = users.live_tokens(engine, user_id(engine, ADMIN))[0].id
    wrong = client.post(f"/admin/users/{target}/tokens/revoke",
                        data={"csrf_token": token, "token": str(theirs)})
    assert wrong.status_code == 409
    assert client.get("/api/v1/worklists/U90001", headers=bearer(other)).status_code == 200
    every = client.post(f"/admin/users/{target}/tokens/revoke",
                        data={"csrf_token": token, "token": "all"}, follow_redirects=False)
    assert every.headers["location"].endswith("done=revoked-all#done")
    assert all(client.get("/api/v1/worklists/U90001", headers=bearer(t)).status_code == 401
               for t in issued)
    assert [e.detail for e in web_entries(engine, "revoke-token")] == [
        f"tokens revoked: 2 (all); by {ADMIN}", f"tokens revoked: 1; by {ADMIN}"]
    assert len(web_entries(engine, "create-token")) == 3

    users.disable_user(engine, COORDINATOR)
    refused = client.post(f"/admin/users/{target}/tokens", data={"csrf_token": token})
    assert refused.status_code == 409 and "enable them before issuing" in refused.text


def test_an_unknown_user_is_not_found(client):
    token = as_admin(client)
    assert client.get("/admin/users/999999").status_code == 404
    assert client.post("/admin/users/999999/disable",
                       data={"csrf_token": token}).status_code == 404
    assert client.get("/admin/users/0").status_code == 400


def test_a_user_says_whether_they_are_enabled(engine):
    users.disable_user(engine, COORDINATOR)
    found = {u.email: u.enabled for u in users.list_users(engine)}
    assert found[COORDINATOR] is False and found[ADMIN] is True
    assert users.find_user(engine, COORDINATOR).enabled is False


def test_a_disabled_coordinators_page_says_how_many_pathways_are_still_theirs(client, engine):
    guardian = client.app.state.guardian
    pid, key = referred_patient(guardian)
    guardian.assign_coordinator(uuid.UUID(pid), *key.split("|"), COORDINATOR)
    client.app.state.runner.run_once()
    token = as_admin(client)
    target = user_id(engine, COORDINATOR)
    assert "1 open pathway is assigned to them" in client.get(f"/admin/users/{target}").text
    page = client.post(f"/admin/users/{target}/disable", data={"csrf_token": token})
    assert "1 open pathway is still assigned to Sam" in page.text
    assert 'href="/worklist"' in page.text
