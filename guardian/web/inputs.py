"""The web app's edge: every query parameter, path parameter and form field goes through the
one text rule of guardian/domain/text.py before any route sees it (docs/api.md "Input rules").

`refuse_bad_text` is a dependency of the whole app (create_app), so it runs before sign-in is
checked and before anything reads or writes the database. A refused value is bad input like
any other: 422 in FastAPI's shape for the API, `{"detail": [{"loc": ["query", "pcn"], …}]}`,
and the bad-request page (400) naming the parameter for pages (guardian/web/auth.py). JSON
bodies are checked by the API's model (guardian/web/api/referral_models.py), the fields of a
waiting-list extract by the importer (guardian/ingest/ptl/columns.py), both with the same rule.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError

from guardian.domain import text

# The largest integer a query parameter may hold: what SQLite's INTEGER and PostgreSQL's
# bigint hold. Every integer parameter is declared with `le=LARGEST_INTEGER`.
LARGEST_INTEGER = 2**63 - 1

# The kind (guardian/domain/text.py LIMITS) of each named form field or parameter; anything
# else is a "parameter". Only free text ("note") may hold tabs and line breaks.
FIELD_KINDS: dict[str, str] = {
    **dict.fromkeys(("body", "summary", "note"), "note"),
    **dict.fromkeys(("description", "result", "pathway", "referral"), "line"),
    **dict.fromkeys(("email", "coordinator", "user"), "email"),
    **dict.fromkeys(
        ("outcome", "channel", "kind", "test", "reason", "reason_code", "stop_reason",
         "requested_from", "party", "item_id", "test_id", "flag_id", "in_reply_to", "on",
         "version"),
        "identifier",
    ),
}
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def kind_of(name: str) -> str:
    return FIELD_KINDS.get(name, "parameter")


def limit_of(name: str) -> int:
    """The most characters field `name` may hold (templates put it in `maxlength`)."""
    return text.LIMITS[kind_of(name)]


def _shown(name: str) -> str:
    """A parameter's name as an error may show it (its own control characters escaped)."""
    return name if text.problem(name) is None else ascii(name)[1:-1][:60]


def problems_of(where: str, items) -> list[dict[str, object]]:
    """One FastAPI-shaped error per (name, value) that breaks the rule."""
    found: list[dict[str, object]] = []
    for name, value in items:
        if not isinstance(value, str):
            continue  # an uploaded file: no route takes one
        message = text.problem(name)
        if message is not None:
            message = f"the name of this parameter {message}"
        else:
            message = text.problem(value, kind_of(name))
        if message is not None:
            found.append({"loc": (where, _shown(name)), "msg": message, "type": "value_error"})
    return found


async def refuse_bad_text(request: Request) -> None:
    """The app-wide dependency: path, query and form values by the one rule, or 422/400."""
    problems = problems_of("path", request.path_params.items())
    problems += problems_of("query", request.query_params.multi_items())
    if request.headers.get("content-type", "").startswith(FORM_TYPES):
        form = await request.form()  # parsed once: the route's own `request.form()` reuses it
        problems += problems_of("body", form.multi_items())
    if problems:
        raise RequestValidationError(problems)


def sendable(errors: Sequence[Any]) -> list[Any]:
    """FastAPI's errors without an `input` that cannot be sent back as UTF-8 JSON (a lone
    surrogate): the 422 names the field and the problem, and never fails itself."""
    out = []
    for error in errors:
        if isinstance(error, dict) and "input" in error:
            try:
                json.dumps(error["input"], ensure_ascii=False, default=str).encode()
            except (UnicodeError, TypeError, ValueError, RecursionError):
                error = {k: v for k, v in error.items() if k != "input"}
        out.append(error)
    return out
