"""Sign-in, sessions, CSRF and API tokens, on SQLite and PostgreSQL.

Given the users of conftest (one per role), when a browser or a script talks to the app,
then credentials are checked, sessions end when they should, and state-changing requests
need the session's CSRF token.
"""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi import APIRouter, Request
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from web_helpers import ACCOUNTS, PASSWORD, csrf_of, sign_in, sign_in_token

from guardian import users
from guardian.web.access import SESSION_COOKIE, CurrentPrincipal

probe = APIRouter()


@probe.get("/api/v1/probe/whoami")
def whoami(principal: CurrentPrincipal):
    return {"email": principal.email, "role": principal.role, "via": principal.via}


@probe.post("/api/v1/probe/change")
def api_change(principal: CurrentPrincipal):
    return {"changed": True}


@probe.get("/probe/page")
def page(principal: CurrentPrincipal):
    return {"page": principal.email}


@probe.post("/probe/form")
async def form(request: Request, principal: CurrentPrincipal):
    data = await request.form()  # the route can still read the form the CSRF check read
    return {"note": data.get("note")}


@pytest.fixture
def app(app):
    app.include_router(probe)
    return app


def set_cookie_headers(response) -> list[str]:
    return response.headers.get_list("set-cookie")


# ---------------------------------------------------------------------------- sign-in


@pytest.mark.one_backend
def test_the_sign_in_page_is_an_nhs_form_with_its_own_csrf_token(client):
    r = client.get("/sign-in")
    assert r.status_code == 200
    html = r.text
    assert 'name="email"' in html and 'name="password"' in html and 'type="password"' in html
    assert '<label class="nhsuk-label" for="email">' in html
    assert 'name="csrf_token"' in html
    assert "There is a problem" not in html
    assert r.headers["cache-control"] == "no-store"


def test_signing_in_sets_a_session_cookie_and_goes_to_the_page_asked_for(client):
    r = sign_in(client, "coordinator", next="/probe/page")
    assert r.status_code == 303 and r.headers["location"] == "/probe/page"
    cookie = next(c for c in set_cookie_headers(r) if c.startswith(SESSION_COOKIE + "="))
    flags = [f.strip().lower() for f in cookie.split(";")]
    assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags
    assert "secure" not in flags  # plain HTTP here
    assert client.get("/probe/page").json() == {"page": ACCOUNTS["coordinator"][0]}
    me = client.get("/api/v1/probe/whoami").json()
    assert me == {"email": "sam@guardian.test", "role": "coordinator", "via": "session"}


def test_the_session_cookie_is_secure_over_https(app):
    with TestClient(app, base_url="https://testserver") as client:
        r = sign_in(client, "gp")
    cookie = next(c for c in set_cookie_headers(r) if c.startswith(SESSION_COOKIE + "="))
    assert "secure" in [f.strip().lower() for f in cookie.split(";")]


def test_the_header_shows_who_is_signed_in_and_a_sign_out_form(client):
    sign_in(client, "coordinator")
    html = client.get("/").text
    assert "sam@guardian.test" in html  # the PCNs by name, not code
    assert "Care coordinator, Demo Basildon Central PCN, Demo Basildon East PCN" in html
    assert 'action="/sign-out"' in html and 'name="csrf_token"' in html
    assert 'href="/sign-in"' not in html


def test_e_mail_case_and_spaces_do_not_matter(client):
    r = sign_in(client, "  SAM@Guardian.TEST ")
    assert r.status_code == 303


@pytest.mark.parametrize("email", ["sam@guardian.test", "nobody@guardian.test"])
def test_wrong_credentials_give_one_message_whoever_asks(client, email):
    r = sign_in(client, email, password="not the password")
    assert r.status_code == 401
    assert "There is a problem" in r.text
    assert "The email address or password is not right" in r.text
    assert 'href="#email"' in r.text and "nhsuk-form-group--error" in r.text
    assert f'value="{email}"' in r.text  # what was typed is kept
    assert SESSION_COOKIE not in r.headers.get("set-cookie", "")
    assert client.get("/probe/page", follow_redirects=False).status_code == 303


@pytest.mark.one_backend
def test_missing_fields_are_named_next_to_the_field(client):
    r = client.post("/sign-in", data={"email": "", "password": "",
                                      "csrf_token": sign_in_token(client)})
    assert r.status_code == 400
    assert "Enter your email address" in r.text and "Enter your password" in r.text
    assert r.text.count("nhsuk-error-message") == 2
    assert 'id="email-error"' in r.text and 'id="password-error"' in r.text


@pytest.mark.one_backend
def test_the_sign_in_form_needs_its_csrf_token(client):
    client.get("/sign-in")
    r = client.post("/sign-in", data={"email": "sam@guardian.test", "password": PASSWORD})
    assert r.status_code == 403
    assert "security token is missing or out of date" in r.text
    assert 'value="sam@guardian.test"' in r.text
    r = client.post("/sign-in", data={"email": "sam@guardian.test", "password": PASSWORD,
                                      "csrf_token": "forged"})
    assert r.status_code == 403


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil"])
def test_sign_in_never_redirects_to_another_site(client, target):
    r = sign_in(client, "admin", next=target)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/") and "evil" not in r.headers["location"]


def test_signing_in_again_starts_a_new_session_and_ends_the_old_one(client):
    """A sign-in form opened before signing in elsewhere (another tab) is then submitted."""
    token = sign_in_token(client)
    first = sign_in(TestClient(client.app), "admin").cookies.get(SESSION_COOKIE)
    client.cookies.set(SESSION_COOKIE, first)
    r = client.post("/sign-in", data={"email": "admin@guardian.test", "password": PASSWORD,
                                      "csrf_token": token}, follow_redirects=False)
    second = r.cookies.get(SESSION_COOKIE)
    assert r.status_code == 303 and second and second != first
    stale = TestClient(client.app, cookies={SESSION_COOKIE: first})
    assert stale.get("/api/v1/probe/whoami").status_code == 401


def test_a_signed_in_user_asking_for_the_sign_in_page_goes_on(client):
    sign_in(client, "admin")
    r = client.get("/sign-in?next=/probe/page", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/probe/page"


# ---------------------------------------------------------------------------- sign-out


def test_sign_out_ends_the_session_on_the_server(client):
    sign_in(client, "coordinator")
    old = client.cookies.get(SESSION_COOKIE)
    r = client.post("/sign-out", data={"csrf_token": csrf_of(client)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/sign-in?signed_out=1"
    assert "You have signed out" in client.get(r.headers["location"]).text
    replay = TestClient(client.app, cookies={SESSION_COOKIE: old})
    assert replay.get("/api/v1/probe/whoami").status_code == 401


def test_sign_out_without_the_csrf_token_is_refused_and_changes_nothing(client):
    sign_in(client, "coordinator")
    r = client.post("/sign-out", follow_redirects=False)
    assert r.status_code == 403
    assert "security token is missing or out of date" in r.text
    assert client.get("/api/v1/probe/whoami").status_code == 200


# ---------------------------------------------------------------------------- expiry


@pytest.mark.parametrize(
    "created, seen",
    [(dt.timedelta(hours=9), dt.timedelta(hours=8, minutes=1)),  # 8 hours idle
     (dt.timedelta(hours=12, minutes=1), dt.timedelta(minutes=2))],  # 12 hours in all
    ids=["idle", "absolute"],
)
def test_an_expired_session_sends_pages_to_sign_in_and_the_api_to_401(client, engine,
                                                                      created, seen):
    sign_in(client, "coordinator")
    assert client.get("/probe/page").status_code == 200
    now = users.utcnow()
    with engine.begin() as conn:
        conn.execute(update(users.user_sessions).values(created_at=now - created,
                                                        last_seen_at=now - seen))
    r = client.get("/probe/page", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/sign-in?next=%2Fprobe%2Fpage&ended=1"
    assert "Your session has ended" in client.get(r.headers["location"]).text
    api = TestClient(client.app, cookies=dict(client.cookies))
    assert api.get("/api/v1/probe/whoami").status_code == 401
    with engine.connect() as conn:
        assert conn.execute(select(users.user_sessions)).first() is None  # removed


def test_a_session_in_use_stays_alive_past_8_hours_from_sign_in(client, engine):
    sign_in(client, "coordinator")
    now = users.utcnow()
    with engine.begin() as conn:
        conn.execute(update(users.user_sessions).values(
            created_at=now - dt.timedelta(hours=11), last_seen_at=now - dt.timedelta(hours=7)))
    assert client.get("/probe/page").status_code == 200
    with engine.connect() as conn:
        seen = users.aware(conn.execute(select(users.user_sessions.c.last_seen_at)).scalar())
    assert seen > now - dt.timedelta(minutes=1)  # the request counted as activity


# ---------------------------------------------------------------------------- 401 / redirect


@pytest.mark.one_backend
def test_no_session_is_401_for_the_api_and_a_redirect_for_pages(client):
    api = client.get("/api/v1/probe/whoami")
    assert api.status_code == 401 and api.headers["www-authenticate"] == "Bearer"
    assert "Bearer" in api.json()["detail"]
    page = client.get("/probe/page?x=1", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/sign-in?next=%2Fprobe%2Fpage%3Fx%3D1"
    htmx = client.get("/probe/page", headers={"HX-Request": "true"}, follow_redirects=False)
    assert htmx.status_code == 401 and htmx.headers["hx-redirect"].startswith("/sign-in?next=")


def test_a_forged_session_cookie_is_no_session(client):
    client.cookies.set(SESSION_COOKIE, "made-up.value")
    assert client.get("/api/v1/probe/whoami").status_code == 401


# ---------------------------------------------------------------------------- CSRF


def test_state_changing_requests_with_a_session_need_the_csrf_token(client):
    sign_in(client, "coordinator")
    token = csrf_of(client)
    missing = client.post("/probe/form", data={"note": "hello"})
    assert missing.status_code == 403
    assert "security token is missing or out of date" in missing.text
    assert "Nothing was changed" in missing.text
    wrong = client.post("/probe/form", data={"note": "hello", "csrf_token": token + "x"})
    assert wrong.status_code == 403
    ok = client.post("/probe/form", data={"note": "hello", "csrf_token": token})
    assert ok.status_code == 200 and ok.json() == {"note": "hello"}
    htmx = client.post("/probe/form", data={"note": "hx"},
                       headers={"X-CSRF-Token": token, "HX-Request": "true"})
    assert htmx.status_code == 200 and htmx.json() == {"note": "hx"}
    api = client.post("/api/v1/probe/change", json={})
    assert api.status_code == 403 and "security token" in api.json()["detail"]
    assert client.post("/api/v1/probe/change", json={},
                       headers={"X-CSRF-Token": token}).status_code == 200


def test_pages_never_carry_the_session_token_itself(client, engine):
    """Compressed pages beside reflected input must not hold a fixed secret (BREACH): each
    page masks the token afresh, and any of those masks is accepted."""
    sign_in(client, "coordinator")
    with engine.connect() as conn:
        secret = conn.execute(select(users.user_sessions.c.csrf_token)).scalar_one()
    seen = {csrf_of(client) for _ in range(3)}
    assert len(seen) == 3 and all(secret not in masked for masked in seen)
    page = client.get("/worklist?pcn=U90001", headers={"Accept-Encoding": "identity"})
    assert secret not in page.text
    for masked in seen:
        assert client.post("/probe/form", data={"note": "m", "csrf_token": masked}
                           ).status_code == 200


def test_bearer_token_requests_need_no_csrf_token(client, engine):
    token = users.create_token(engine, "sam@guardian.test")
    r = client.post("/api/v1/probe/change", json={},
                    headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200


# ---------------------------------------------------------------------------- API tokens


def test_a_bearer_token_identifies_its_user(client, engine):
    token = users.create_token(engine, "gp@guardian.test")
    r = client.get("/api/v1/probe/whoami", headers={"Authorization": f"Bearer {token}"})
    assert r.json() == {"email": "gp@guardian.test", "role": "gp", "via": "token"}


@pytest.mark.parametrize("header", ["Bearer gdn_not-a-real-token", "Bearer ", "Basic abc",
                                    "gdn_token-without-scheme"])
def test_a_bad_bearer_token_is_401(client, header):
    r = client.get("/api/v1/probe/whoami", headers={"Authorization": header})
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"


def test_a_revoked_token_is_401(client, engine):
    token = users.create_token(engine, "gp@guardian.test")
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/probe/whoami", headers=auth).status_code == 200
    assert users.revoke_token(engine, token)
    r = client.get("/api/v1/probe/whoami", headers=auth)
    assert r.status_code == 401 and "revoked, expired" in r.json()["detail"]


def test_credentials_are_stored_only_as_hashes(client, engine):
    token = users.create_token(engine, "gp@guardian.test")
    sign_in(client, "gp")
    session_id = client.cookies.get(SESSION_COOKIE).split(".")[0]
    with engine.connect() as conn:
        tokens = [r.token_hash for r in conn.execute(select(users.api_tokens))]
        sessions = [r.id_hash for r in conn.execute(select(users.user_sessions))]
        hashes = [r.password_hash for r in conn.execute(select(users.users))]
    assert tokens == [users.digest(token)] and token not in tokens
    assert sessions == [users.digest(session_id)]
    assert all(h.startswith("$argon2id$") and PASSWORD not in h for h in hashes)
    with engine.connect() as conn:
        last_used = conn.execute(select(users.api_tokens.c.last_used_at)).scalar()
    assert last_used is None
    client.get("/api/v1/probe/whoami", headers={"Authorization": f"Bearer {token}"})
    with engine.connect() as conn:
        assert conn.execute(select(users.api_tokens.c.last_used_at)).scalar() is not None
