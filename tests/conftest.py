"""Database fixtures shared by the whole suite.

- ``database_url``: runs a test once on SQLite and once on PostgreSQL (marked ``postgres``);
  a test marked ``one_backend`` (it checks nothing database-specific: headers, static
  files, markup, parsing) runs once, on SQLite.
- ``sqlite_url``: a fresh SQLite file under the test's ``tmp_path``.
- ``pg_url``: a fresh schema per test, inside one database per test session, on the server
  given by ``GUARDIAN_TEST_PG_URL`` (``make test`` / ``infra/with-test-postgres.sh`` set it;
  unset, the local server on 127.0.0.1:5432 is tried). Unqualified table names land in the
  test's schema because the URL sets ``options=-csearch_path=<schema>``.

When no PostgreSQL answers, tests marked ``postgres`` FAIL, so CI can never skip them
silently; set ``GUARDIAN_ALLOW_NO_PG=1`` to skip them instead.

Apps made by tests skip the web worker's warm-up (GUARDIAN_WEB_WARM_UP=false).

Hypothesis runs without its per-example deadline and "too slow" health check: no test
fails for the time it took on a busy machine (tests run in parallel workers).

This module must not import ``guardian``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy.engine import URL, make_url

DEFAULT_PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"

# The suite makes hundreds of apps: none compiles every template before its first request
# (guardian/web/warm.py; tests/web/test_warm_up.py tests the warm-up itself). Servers the
# tests start inherit it.
os.environ.setdefault("GUARDIAN_WEB_WARM_UP", "false")

settings.register_profile("guardian", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("guardian")


def _connect(url: URL | str, **kwargs):
    """A psycopg2 connection (autocommit) for a SQLAlchemy URL, keeping its query options."""
    import psycopg2

    url = make_url(url)
    params = url.translate_connect_args(username="user", database="dbname")
    params.update(dict(url.query))
    params.update(kwargs)
    conn = psycopg2.connect(**params)
    conn.autocommit = True
    return conn


def _render(url: URL) -> str:
    return url.render_as_string(hide_password=False)


def _terminate(cur, where: str, value: str) -> None:
    cur.execute(
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        f" WHERE {where} = %s AND pid <> pg_backend_pid()",
        (value,),
    )


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    """The PostgreSQL server the suite may create databases on (checked once)."""
    url = os.environ.get("GUARDIAN_TEST_PG_URL") or DEFAULT_PG_URL
    source = "GUARDIAN_TEST_PG_URL" if os.environ.get("GUARDIAN_TEST_PG_URL") else "default"
    try:
        _connect(url, connect_timeout=5).close()
        return url
    except Exception as exc:  # any failure means "no usable server"
        problem = f"{type(exc).__name__}: {str(exc).strip()}"
    shown = make_url(url).render_as_string(hide_password=True)
    message = (
        f"PostgreSQL is not reachable at {shown} ({source}): {problem}\n"
        "Run the tests with `make test` or `infra/with-test-postgres.sh .venv/bin/pytest`, "
        "or set GUARDIAN_TEST_PG_URL; set GUARDIAN_ALLOW_NO_PG=1 to skip PostgreSQL tests."
    )
    if os.environ.get("GUARDIAN_ALLOW_NO_PG") == "1":
        pytest.skip(message)
    pytest.fail(message, pytrace=False)


@pytest.fixture(autouse=True)
def _postgres_marker_needs_server(request: pytest.FixtureRequest) -> None:
    """Every test marked ``postgres`` fails (or skips, if allowed) without a server."""
    if request.node.get_closest_marker("postgres") is not None:
        request.getfixturevalue("pg_server_url")


@pytest.fixture(scope="session")
def pg_database_url(pg_server_url: str) -> Iterator[str]:
    """A fresh database for this test session; dropped at the end."""
    name = f"guardian_test_{os.getpid()}_{secrets.token_hex(4)}"
    server = make_url(pg_server_url)
    conn = _connect(server)
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'")
    finally:
        conn.close()
    try:
        yield _render(server.set(database=name))
    finally:
        conn = _connect(server)
        try:
            with conn.cursor() as cur:
                _terminate(cur, "datname", name)
                cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        finally:
            conn.close()


@pytest.fixture
def pg_url(pg_database_url: str) -> Iterator[str]:
    """A fresh schema for this test; unqualified names resolve into it. Dropped after."""
    schema = f"t_{secrets.token_hex(6)}"
    base = make_url(pg_database_url)
    conn = _connect(base)
    try:
        with conn.cursor() as cur:
            cur.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        conn.close()
    url = base.update_query_dict(
        # application_name lets teardown find connections a test left open.
        {"options": f"-csearch_path={schema}", "application_name": f"guardian-test-{schema}"}
    )
    try:
        yield _render(url)
    finally:
        conn = _connect(base)
        try:
            with conn.cursor() as cur:
                # A connection left idle in a transaction would block DROP SCHEMA forever.
                _terminate(cur, "application_name", f"guardian-test-{schema}")
                # Any other holder of a lock: an error after 30 s rather than a hang.
                cur.execute("SET lock_timeout = '30s'")
                cur.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            conn.close()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'guardian.sqlite'}"


BACKENDS = [pytest.param("sqlite", id="sqlite"),
            pytest.param("postgresql", marks=pytest.mark.postgres, id="postgresql")]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test using ``database_url`` (also through other fixtures) once per backend, or
    once on SQLite when it is marked ``one_backend``."""
    if "database_url" in metafunc.fixturenames:
        one = metafunc.definition.get_closest_marker("one_backend") is not None
        metafunc.parametrize("database_url", BACKENDS[:1] if one else BACKENDS, indirect=True)


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> str:
    """An empty database of each kind in turn: the test runs once per backend."""
    fixture = {"sqlite": "sqlite_url", "postgresql": "pg_url"}[request.param]
    return request.getfixturevalue(fixture)


# Tests that must share one pytest-xdist worker, in file order (``make test`` runs
# ``--dist loadgroup``): the browser tests share one live server and one Chromium, and the
# harness's own tests check each other's clean-up. Grouped here, by path, because the
# ``xdist_group`` mark is lost under pytest 9 (xdist suffixes ``item._nodeid``, which
# pytest 9 no longer reads), so every worker would start its own server and browser.
TOGETHER = {"tests/browser/": "browser", "tests/integration/test_harness.py": "harness"}


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class Together(LoadScopeScheduling):
        """Each test its own unit of work, but those of a TOGETHER path one unit."""

        def _split_scope(self, nodeid: str) -> str:
            for prefix, group in TOGETHER.items():
                if nodeid.startswith(prefix):
                    return group
            return nodeid

    return Together(config, log)
