"""`guardian serve` believes proxy headers only from GUARDIAN_TRUSTED_PROXIES
(docs/access.md "Client addresses"), not from whoever uvicorn would trust by default.

Given a live server on 127.0.0.1, when a client sends its own X-Forwarded-For, then the
audit log keeps the connection's address unless 127.0.0.1 is a configured proxy.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from live_server import stop

from guardian import audit
from guardian.bootstrap import build_app, init_database
from guardian.config import Settings

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def audited_address(url: str, tmp_path: Path, email: str, proxies: str | None) -> str | None:
    """Serve, send one failed sign-in claiming to come from 198.51.100.23, and return the
    client address the audit log kept for it."""
    env = {**os.environ, "GUARDIAN_DATABASE_URL": url, "GUARDIAN_VAR_DIR": str(tmp_path),
           "GUARDIAN_SECRET_KEY": "serve-proxy-test", "FORWARDED_ALLOW_IPS": "127.0.0.1"}
    env.pop("GUARDIAN_TRUSTED_PROXIES", None)
    if proxies is not None:
        env["GUARDIAN_TRUSTED_PROXIES"] = proxies
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "guardian.cli", "serve", "--port", str(port)], env=env,
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    try:
        with httpx.Client(base_url=base, timeout=10) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert server.poll() is None, "guardian serve exited"
                assert time.monotonic() < deadline, "guardian serve did not start"
                time.sleep(0.2)
            form = client.get("/sign-in")
            token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
            r = client.post("/sign-in", data={"email": email, "password": "wrong password",
                                              "csrf_token": token},
                            headers={"X-Forwarded-For": "198.51.100.23"})
            assert r.status_code == 401
    finally:
        stop(server)
    app = build_app(Settings(database_url=url, var_dir=tmp_path))
    try:
        return audit.entries(app.engine, email=email)[0].client
    finally:
        app.close()


def test_a_spoofed_forwarded_for_changes_nothing_unless_from_a_trusted_proxy(sqlite_url,
                                                                            tmp_path):
    app = build_app(Settings(database_url=sqlite_url, var_dir=tmp_path))
    try:
        init_database(app)
    finally:
        app.close()
    # uvicorn alone would believe 127.0.0.1 (its FORWARDED_ALLOW_IPS default, set here too)
    assert audited_address(sqlite_url, tmp_path, "a@example.test", None) == "127.0.0.1"
    assert audited_address(sqlite_url, tmp_path, "b@example.test", "127.0.0.1") \
        == "198.51.100.23"
