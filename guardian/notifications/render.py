"""Templates to messages: each kind has `templates/<kind>.txt` (its first line `Subject:
…`, then the plain text) and `templates/<kind>.html` (the same in NHS.UK style, extending
`_layout.html`). `render` returns the subject, the text and the HTML; a template that fails
to render raises, and a test renders every kind with the demo's data."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jinja2


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("guardian.notifications", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["day"] = day_text
    return env


def day_text(value: Any) -> str:
    """A date as people write it: "Monday 7 December 2026"."""
    import datetime as dt

    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    return f"{value:%A} {value.day} {value:%B %Y}"


def render(kind: str, context: dict[str, Any]) -> Rendered:
    env = environment()
    text = env.get_template(f"{kind}.txt").render(context)
    first, _, body = text.partition("\n")
    if not first.startswith("Subject:"):
        raise ValueError(f"template {kind}.txt must begin with a Subject: line")
    html = env.get_template(f"{kind}.html").render(context)
    return Rendered(first.removeprefix("Subject:").strip(), body.lstrip("\n"), html)
