"""Templates: one Jinja2Blocks environment per app, with the signed-in user and the CSRF
token in every template's context (so base.html can show the account and sign-out).

    render(request, "worklist.html", {...})                      # a full page
    render(request, "worklist.html", {...}, block="table")       # one block (a fragment)
    page_or_fragment(request, "worklist.html", {...}, "table")   # the block for htmx
                                                                 # requests, else the page
Forms put `{{ csrf_field }}` inside every <form method="post">; htmx requests send the
token as the X-CSRF-Token header (static/guardian.js reads <meta name="csrf-token">).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from jinja2_fragments.fastapi import Jinja2Blocks
from markupsafe import Markup, escape

from guardian.domain import codes
from guardian.projections.plain import plain_status
from guardian.web import access, csrf, names
from guardian.web.inputs import limit_of

TEMPLATES = Path(__file__).parent / "templates"

ROLE_NAMES = {
    "coordinator": "Care coordinator",
    "gp": "GP practice",
    "place-lead": "Place lead",
    "admin": "Administrator",
}


def _principal_context(request: Request) -> dict[str, Any]:
    try:
        principal = access.peek(request)
    except Exception:  # e.g. the database is down while rendering the error page
        principal = None
    # A form's own token when the page set one (the sign-in forms, a patient's pages),
    # else the signed-in user's.
    token = getattr(request.state, "csrf_token", None)
    token = token or (principal.csrf_token if principal is not None else None)
    # masked afresh on every page: a compressed answer never carries the secret itself
    token = csrf.mask(token) if token else ""
    return {
        "navigation": navigation_for(principal, request.url.path),
        "principal": principal,
        "role_name": ROLE_NAMES.get(principal.role, principal.role) if principal else None,
        "csrf_token": token,
        "csrf_field": Markup(
            f'<input type="hidden" name="{access.CSRF_FIELD}" value="{escape(token)}">'
        ),
    }


NAVIGATION = {
    "coordinator": [("Worklist", "/worklist")],
    "gp": [("Practice patients", "/gp")],
    "place-lead": [("Bottleneck report", "/reports")],
    "admin": [("Worklist", "/worklist"), ("Bottleneck report", "/reports"),
              ("Audit log", "/admin/audit"), ("Users", "/admin/users")],
}


def navigation_for(principal: Any, path: str) -> list[dict[str, Any]]:
    """The header menu of the signed-in user's role; the current section marked."""
    if principal is None:
        return []
    return [{"text": text, "href": href, "current": path == href or path.startswith(href + "/")}
            for text, href in NAVIGATION.get(principal.role, [])]


def make_templates() -> Jinja2Blocks:
    templates = Jinja2Blocks(directory=str(TEMPLATES), context_processors=[_principal_context])
    # the templates ship with the package: compiled once, never stat'ed again on a render
    templates.env.auto_reload = False
    templates.env.globals["role_names"] = ROLE_NAMES
    templates.env.globals["limit_of"] = limit_of  # a field's maxlength (docs/api.md)
    env = templates.env
    env.filters["label"] = lambda code, vocabulary: codes.label(vocabulary, code)
    env.filters["sentence"] = lambda text: str(text)[:1].upper() + str(text)[1:]
    env.filters["zip"] = lambda left, right: list(zip(left, right, strict=False))
    env.filters["test_name"] = lambda code: codes.label(codes.DIAGNOSTIC_TESTS, code)
    names.register(env)  # provider_name, practice_coded, person_name … (names.py)
    # a referral in plain English, at the top of its card on the patient page
    env.globals["plain_status"] = plain_status
    return templates


def templates_of(request: Request) -> Jinja2Blocks:
    found = getattr(request.app.state, "templates", None)
    if found is None:
        found = request.app.state.templates = make_templates()
    return found


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    block: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    return templates_of(request).TemplateResponse(
        request, name, dict(context or {}), status_code=status_code, headers=headers,
        block_name=block,
    )


def is_htmx(request: Request) -> bool:
    """An htmx request that swaps part of a page (boosted links get the whole page)."""
    return request.headers.get("hx-request") == "true" and not request.headers.get(
        "hx-boosted"
    )


def page_or_fragment(
    request: Request,
    name: str,
    context: dict[str, Any] | None,
    block: str,
    *,
    status_code: int = 200,
) -> Response:
    """The named block for an htmx request, the whole page otherwise (same template)."""
    response = render(
        request, name, context, block=block if is_htmx(request) else None,
        status_code=status_code,
    )
    response.headers["Vary"] = "HX-Request"
    return response
