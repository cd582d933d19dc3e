"""User management through the JSON API (docs/api.md "Managing users"): the admin pages'
own functions, audited as the pages' changes are; 404 for anyone but an admin and for an
unknown user; 409 with the reason for a refusal; 422 naming the field; a password or a
token answered once, never cached."""

from __future__ import annotations

import pytest
from api_helpers import entries
from web_helpers import ACCOUNTS

from guardian import users

pytestmark = pytest.mark.one_backend
USERS = "/api/v1/admin/users"
NEW = {"email": "kim@guardian.test", "display_name": "Kim Lee", "role": "coordinator",
       "pcns": ["U90001"]}


def _locs(r) -> list:
    assert r.status_code == 422, r.text
    return [e["loc"] for e in r.json()["detail"]]


def test_adding_reading_and_changing_a_user(client, tokens):
    engine = client.app.state.guardian.engine
    admin = tokens["admin"]
    added = client.post(USERS, headers=admin, json=NEW)
    assert added.status_code == 201, added.text
    assert added.headers["Cache-Control"] == "no-store"
    user, password = added.json()["user"], added.json()["password"]
    assert user["scope"] != "U90001" and user["orgs"] == ["U90001"] and password
    assert users.authenticate(engine, NEW["email"], password).outcome == "ok"
    [entry] = [e for e in entries(engine, "add-user") if e.user_email == NEW["email"]]
    assert "by admin@guardian.test" in entry.detail
    assert _locs(client.post(USERS, headers=admin, json=NEW)) == [["body", "email"]]
    assert _locs(client.post(USERS, headers=admin, json={**NEW, "email": "x@y.test",
                                                         "pcns": []})) == [["body", "pcns"]]
    assert _locs(client.post(USERS, headers=admin, json={**NEW, "role": "boss"})) \
        == [["body", "role"]]
    assert _locs(client.post(USERS, headers=admin, json={**NEW, "email": "nope"})) \
        == [["body", "email"]]

    listed = client.get(USERS, headers=admin).json()["users"]
    assert NEW["email"] in [u["email"] for u in listed]
    one = client.get(f"{USERS}/{user['id']}", headers=admin).json()
    assert one["live_tokens"] == [] and one["assigned"] == 0 and one["name"] == "Kim Lee"
    changed = client.patch(f"{USERS}/{user['id']}", headers=admin,
                           json={"role": "gp", "practice": "Y90001"})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["role"], changed.json()["orgs"]) == ("gp", ["Y90001"])
    assert changed.json()["display_name"] == "Kim Lee"  # left out: kept
    assert "role: coordinator → gp" in entries(engine, "change-user")[0].detail
    assert _locs(client.patch(f"{USERS}/{user['id']}", headers=admin,
                              json={"role": "coordinator"})) == [["body", "pcns"]]
    assert _locs(client.patch(f"{USERS}/{user['id']}", headers=admin,
                              json={"colour": "red"})) == [["body", "colour"]]
    me = users.find_user(engine, ACCOUNTS["admin"][0])
    own = client.patch(f"{USERS}/{me.id}", headers=admin, json={"role": "gp",
                                                                "practice": "Y90001"})
    assert own.status_code == 409 and "own role" in own.json()["detail"]
    for role in ("coordinator", "gp", "place-lead"):
        assert client.get(USERS, headers=tokens[role]).status_code == 404
        assert client.post(USERS, headers=tokens[role], json=NEW).status_code == 404
        assert client.get(f"{USERS}/{user['id']}", headers=tokens[role]).status_code == 404
    assert client.get(f"{USERS}/999999", headers=admin).status_code == 404
    assert _locs(client.get(f"{USERS}/0", headers=admin)) == [["path", "user_id"]]


def test_disabling_passwords_and_tokens(client, tokens):
    engine = client.app.state.guardian.engine
    admin = tokens["admin"]
    gp = users.find_user(engine, ACCOUNTS["gp"][0])
    me = users.find_user(engine, ACCOUNTS["admin"][0])
    base = f"{USERS}/{gp.id}"
    issued = client.post(f"{base}/tokens", headers=admin)
    assert issued.status_code == 200 and issued.headers["Cache-Control"] == "no-store"
    token = issued.json()["token"]
    assert client.get("/api/v1/inbox", headers={"Authorization": f"Bearer {token}"}
                      ).status_code == 200
    assert entries(engine, "create-token")
    live = client.get(base, headers=admin).json()["live_tokens"]
    assert len(live) == 2  # the fixture's and this one
    revoked = client.post(f"{base}/tokens/revoke", headers=admin, json={"token": live[-1]["id"]})
    assert revoked.json() == {"user_id": gp.id, "tokens_revoked": 1}
    again = client.post(f"{base}/tokens/revoke", headers=admin, json={"token": live[-1]["id"]})
    assert again.status_code == 409 and "no longer live" in again.json()["detail"]
    assert all(loc[:2] == ["body", "token"] for loc in _locs(client.post(
        f"{base}/tokens/revoke", headers=admin, json={"token": "some"})))
    assert entries(engine, "revoke-token")

    myself = client.post(f"{USERS}/{me.id}/disable", headers=admin)
    assert myself.status_code == 409 and myself.json()["detail"]
    off = client.post(f"{base}/disable", headers=admin)
    assert off.status_code == 200 and off.json()["enabled"] is False
    assert client.get("/api/v1/inbox", headers=tokens["gp"]).status_code == 401
    assert entries(engine, "disable-user")
    refused = client.post(f"{base}/tokens", headers=admin)
    assert refused.status_code == 409 and "is disabled" in refused.json()["detail"]
    on = client.post(f"{base}/enable", headers=admin)
    assert on.json()["enabled"] is True and entries(engine, "enable-user")
    fresh = client.post(f"{base}/password", headers=admin)
    assert fresh.status_code == 200 and fresh.headers["Cache-Control"] == "no-store"
    assert users.authenticate(engine, gp.email, fresh.json()["password"]).outcome == "ok"
    assert entries(engine, "reset-password")
    every = client.post(f"{base}/tokens/revoke", headers=admin, json={"token": "all"})
    assert every.status_code == 200
    for role in ("coordinator", "place-lead"):
        for action in ("disable", "enable", "password", "tokens"):
            assert client.post(f"{base}/{action}", headers=tokens[role]).status_code == 404
    assert client.post(f"{USERS}/999999/disable", headers=admin).status_code == 404
