"""Access that can be taken away (docs/access.md "Accounts"): disabling a user, a new
password, revoked and expired tokens take effect on the very next request.

Given the users of conftest signed in or holding tokens, when their account changes, then
their next request is refused: a page goes to sign-in, the API answers 401.
"""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select
from web_helpers import PASSWORD, sign_in

from guardian import audit, users

COORDINATOR = "sam@guardian.test"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def signed_in(client: TestClient) -> TestClient:
    assert sign_in(client, "coordinator").status_code == 303
    assert client.get("/worklist", follow_redirects=False).status_code == 200
    return client


def refused(client: TestClient, token: str) -> bool:
    page = client.get("/worklist", follow_redirects=False)
    api = client.get("/api/v1/worklists/U90001", headers=bearer(token))
    return (page.status_code == 303 and page.headers["location"].startswith("/sign-in")
            and api.status_code == 401)


def test_disabling_a_user_ends_their_session_and_tokens_at_once(client, engine):
    token = users.create_token(engine, COORDINATOR)
    signed_in(client)
    assert client.get("/api/v1/worklists/U90001", headers=bearer(token)).status_code == 200
    change = users.disable_user(engine, COORDINATOR)
    assert (change.sessions_ended, change.tokens_revoked) == (1, 1)
    api = TestClient(client.app)
    assert refused(client, token)
    assert api.get("/api/v1/worklists/U90001", headers=bearer(token)).status_code == 401
    entry = audit.entries(engine, action="disable-user")[0]
    assert entry.user_email == COORDINATOR and entry.client == "cli"
    assert entry.detail == "sessions ended: 1; tokens revoked: 1"


def test_a_disabled_user_gets_the_answer_a_wrong_password_gets(client, engine):
    users.disable_user(engine, COORDINATOR)
    disabled = sign_in(client, COORDINATOR, PASSWORD)
    wrong = sign_in(client, "gp", "not the password")
    assert disabled.status_code == wrong.status_code == 401
    assert "The email address or password is not right" in disabled.text
    assert "disabled" not in disabled.text.lower()
    assert audit.entries(engine, action="sign-in-failed")[1].detail == "disabled"
    with pytest.raises(users.UserError, match="is disabled"):
        users.create_token(engine, COORDINATOR)


def test_enabling_lets_them_sign_in_again_but_old_tokens_stay_revoked(client, engine):
    token = users.create_token(engine, COORDINATOR)
    users.disable_user(engine, COORDINATOR)
    assert users.enable_user(engine, COORDINATOR).changed
    assert not users.enable_user(engine, COORDINATOR).changed  # nothing to do
    assert sign_in(client, "coordinator").status_code == 303
    assert client.get("/api/v1/worklists/U90001", headers=bearer(token)).status_code == 401
    assert [e.action for e in audit.entries(engine, email=COORDINATOR)][:3] == [
        "sign-in", "enable-user", "disable-user"]


def test_the_last_enabled_admin_cannot_be_disabled(engine):
    with pytest.raises(users.UserError, match="last enabled admin"):
        users.disable_user(engine, "admin@guardian.test")
    users.add_user(engine, "second.admin@guardian.test", "admin", [], PASSWORD)
    assert users.disable_user(engine, "admin@guardian.test").changed
    with pytest.raises(users.UserError, match="last enabled admin"):
        users.disable_user(engine, "second.admin@guardian.test")
    assert [a.enabled for a in users.accounts(engine) if a.user.role == "admin"] \
        == [False, True]


def test_a_new_password_ends_sessions_and_tokens_and_the_old_one_stops_working(client,
                                                                              engine):
    token = users.create_token(engine, COORDINATOR)
    signed_in(client)
    change = users.reset_password(engine, COORDINATOR, "a brand new passphrase")
    assert (change.sessions_ended, change.tokens_revoked, change.password) == (1, 1, None)
    assert refused(client, token)
    assert sign_in(client, "coordinator", PASSWORD).status_code == 401
    assert sign_in(client, "coordinator", "a brand new passphrase").status_code == 303
    generated = users.reset_password(engine, COORDINATOR).password
    assert generated and len(generated) >= 16
    assert audit.entries(engine, action="reset-password")[0].user_email == COORDINATOR


def test_an_expired_token_is_401(client, engine):
    old = users.create_token(engine, COORDINATOR,
                             now=users.utcnow() - dt.timedelta(days=91))
    fresh = users.create_token(engine, COORDINATOR, days=1)
    r = client.get("/api/v1/worklists/U90001", headers=bearer(old))
    assert r.status_code == 401 and "expired" in r.json()["detail"]
    assert client.get("/api/v1/worklists/U90001", headers=bearer(fresh)).status_code == 200
    [account] = [a for a in users.accounts(engine) if a.user.email == COORDINATOR]
    assert account.tokens == 1  # the live one


def test_revoking_one_token_or_all(client, engine):
    first = users.create_token(engine, COORDINATOR)
    assert users.revoke_tokens(engine, COORDINATOR).tokens_revoked == 1  # the only one
    with pytest.raises(users.UserError, match="has no live token"):
        users.revoke_tokens(engine, COORDINATOR)
    second, third = (users.create_token(engine, COORDINATOR) for _ in range(2))
    with pytest.raises(users.UserError, match="has 2 live tokens"):
        users.revoke_tokens(engine, COORDINATOR)
    other = users.create_token(engine, "gp@guardian.test")
    with pytest.raises(users.UserError, match="not a token of"):
        users.revoke_tokens(engine, COORDINATOR, other)
    assert users.revoke_tokens(engine, COORDINATOR, second).tokens_revoked == 1
    for token, status in ((first, 401), (second, 401), (third, 200)):
        assert client.get("/api/v1/worklists/U90001",
                          headers=bearer(token)).status_code == status
    assert users.revoke_tokens(engine, COORDINATOR, every=True).tokens_revoked == 1
    assert client.get("/api/v1/worklists/U90001", headers=bearer(third)).status_code == 401
    assert users.user_for_token(engine, other).email == "gp@guardian.test"  # not theirs


def test_a_token_notes_its_last_use_at_most_once_a_minute(client, engine, monkeypatch):
    token = users.create_token(engine, COORDINATOR)
    writes = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("UPDATE API_TOKENS"):
            writes.append(statement)

    now = users.utcnow()
    monkeypatch.setattr(users.records, "utcnow", lambda: now)
    event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(5):
            assert client.get("/api/v1/worklists/U90001", headers=bearer(token)).status_code \
                == 200
        assert len(writes) == 1
        later = now + dt.timedelta(seconds=61)
        monkeypatch.setattr(users.records, "utcnow", lambda: later)
        client.get("/api/v1/worklists/U90001", headers=bearer(token))
        client.get("/api/v1/worklists/U90001", headers=bearer(token))
        assert len(writes) == 2
    finally:
        event.remove(engine, "before_cursor_execute", count)
    with engine.connect() as conn:
        used = users.aware(conn.execute(select(users.api_tokens.c.last_used_at)).scalar())
    assert used == later


def test_users_list_shows_state_and_live_credentials(client, engine):
    users.create_token(engine, COORDINATOR)
    signed_in(client)
    users.disable_user(engine, "gp@guardian.test")
    found = {a.user.email: a for a in users.accounts(engine)}
    sam = found[COORDINATOR]
    assert (sam.enabled, sam.tokens, sam.sessions) == (True, 1, 1)
    assert sam.last_sign_in is not None and sam.user.orgs == ("U90001", "U90002")
    assert found["gp@guardian.test"].enabled is False
    assert found["admin@guardian.test"].last_sign_in is None
    assert sam.as_json()["enabled"] is True and sam.as_json()["tokens"] == 1
