"""Everything a page loads comes from this server: no CDN, no web fonts, no inline script."""

from __future__ import annotations

import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from web_helpers import sign_in

STATIC = Path(__file__).resolve().parents[2] / "guardian" / "web" / "static"
VENDOR = STATIC / "vendor"
# What a page loads depends on no database: once, on SQLite.
pytestmark = pytest.mark.one_backend
CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)""")
CSS_IMPORT = re.compile(r"""@import\s+(?:url\()?\s*['"]?([^'")\s;]+)""")
REFERENCE_ATTRIBUTES = {"src", "href", "action", "formaction", "data", "poster", "srcset",
                        "hx-get", "hx-post", "hx-put", "hx-patch", "hx-delete"}


class References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.references: list[str] = []
        self.inline_scripts = 0
        self.style_blocks = 0
        self.inline_styles = 0
        self.handlers: list[str] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        for name, value in attrs:
            if name in REFERENCE_ATTRIBUTES and value:
                self.references.append(value)
            if name.startswith("on"):
                self.handlers.append(f"{tag} {name}")
            if name == "style":
                self.inline_styles += 1
        if tag == "script" and not values.get("src"):
            self.inline_scripts += 1
        if tag == "style":
            self.style_blocks += 1


def pages(client) -> dict[str, str]:
    found = {
        "start (signed out)": client.get("/").text,
        "sign-in": client.get("/sign-in").text,
        "sign-in error": client.post("/sign-in", data={"email": "x"}).text,
        "not found": client.get("/no-such-page").text,
        "docs": client.get("/docs").text,
    }
    sign_in(client, "admin")
    found["start (signed in)"] = client.get("/").text
    found["admin audit"] = client.get("/admin/audit").text
    return found


def test_every_page_reference_is_served_here_and_nothing_inline(client):
    for name, html in pages(client).items():
        parser = References()
        parser.feed(html)
        assert parser.inline_scripts == 0, f"{name}: inline <script>"
        assert parser.style_blocks == 0 and parser.inline_styles == 0, f"{name}: inline style"
        assert not parser.handlers, f"{name}: event handler attributes {parser.handlers}"
        assert parser.references, name
        for ref in parser.references:
            parts = urlsplit(ref)
            assert not parts.scheme and not parts.netloc, f"{name}: {ref} is another host"
            if parts.path.startswith("/static/"):
                r = client.get(parts.path)
                assert r.status_code == 200, f"{name}: {ref} → {r.status_code}"


def test_the_base_template_loads_the_vendored_frontend(client):
    html = client.get("/").text
    for path in ("/static/vendor/nhsuk/nhsuk-frontend.min.css",
                 "/static/vendor/htmx/htmx.min.js", "/static/guardian.js",
                 "/static/guardian.css"):
        assert f'"{path}"' in html
    assert 'class="nhsuk-header"' in html and 'class="nhsuk-footer"' in html
    assert 'class="nhsuk-skip-link"' in html and 'id="maincontent"' in html


def static_files(suffix: str) -> list[Path]:
    return sorted(STATIC.rglob(f"*{suffix}"))


@pytest.mark.parametrize("css", static_files(".css"), ids=lambda p: str(p.relative_to(STATIC)))
def test_stylesheets_refer_only_to_local_files(css):
    content = css.read_text(encoding="utf-8")
    assert "@font-face" not in content, "web fonts would be fetched from another host"
    for ref in CSS_IMPORT.findall(content):
        pytest.fail(f"{css.name}: @import {ref}")
    for _, ref in CSS_URL.findall(content):
        if ref.startswith(("data:", "#")):
            continue
        parts = urlsplit(ref)
        assert not parts.scheme and not parts.netloc, f"{css.name}: {ref}"
        target = (STATIC / urljoin(str(css.relative_to(STATIC)), parts.path).lstrip("/"))
        if parts.path.startswith("/static/"):
            target = STATIC / parts.path.removeprefix("/static/")
        assert target.is_file(), f"{css.name}: {ref} does not exist"


@pytest.mark.parametrize("js", [p for p in static_files(".js") if "vendor" not in p.parts],
                         ids=lambda p: p.name)
def test_our_scripts_import_only_local_modules(js):
    content = js.read_text(encoding="utf-8")
    for ref in re.findall(r"""(?:import|from)\s+['"]([^'"]+)['"]""", content):
        assert ref.startswith("./"), ref
        assert (js.parent / ref).is_file(), ref
    assert "http://" not in content and "https://" not in content


def test_the_vendored_files_match_their_versions_file():
    lines = (VENDOR / "VERSIONS").read_text().splitlines()
    packages = {p.split()[1]: p.split()[2] for p in lines if p.startswith("package ")}
    assert set(packages) >= {"nhsuk-frontend", "htmx.org"}
    listed = {}
    for line in lines:
        if line.startswith("file "):
            _, path, sha = line.split()
            listed[path] = sha
    present = {str(p.relative_to(VENDOR)) for p in VENDOR.rglob("*")
               if p.is_file() and p.name != "VERSIONS"}
    assert present == set(listed)
    for path, sha in listed.items():
        assert hashlib.sha256((VENDOR / path).read_bytes()).hexdigest() == sha, path


def test_the_content_security_policy_allows_no_inline_script_or_other_hosts(client):
    csp = client.get("/sign-in").headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
    assert directives["script-src"] == "'self'"
    assert directives["default-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in csp and "http" not in csp
