"""The one keyset cursor of every paged worklist, the API's `after`/`next` and the worklist
page's "next page" link alike (docs/api.md, `GET /api/v1/worklists/{pcn_code}`): an opaque
string, unpadded URL-safe base64 of the JSON list `[sort, key, provider, pathway_id]`, where
`key` is the row's sort key as an ISO date, or for the urgency order (docs/rules.md §11) its
tier, day and cancer rank joined by dots (`1.2026-12-05.0`). `decode` gives back the keyset position
(`guardian.projections.worklist.page`'s `after`), or BadCursor saying in words what is wrong
(a cursor of another sort order, or none this list gave out); each caller answers that its
own way (422 for the API, the bad-request page for pages).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from guardian.domain import text
from guardian.projections.worklist import position_after

# (sort key, provider, pathway id); the urgency order's sort key is three values
Position = tuple[Any, ...]


class BadCursor(ValueError):
    """Not a cursor of this list in this sort order; the message says which, in words."""

    def __init__(self, message: str = "not a cursor from this worklist's `next`") -> None:
        super().__init__(message)
        self.message = message


def encode(sort: str, row: Mapping[str, Any]) -> str:
    """The cursor that pages on after `row` (a worklist row) in `sort` order."""
    *key, provider, pathway_id = position_after(sort, row)
    if sort == "urgency":
        tier, day, cancer = key
        text_key = f"{tier}.{day.isoformat()}.{cancer}"
    else:
        text_key = key[0].isoformat()
    raw = json.dumps([sort, text_key, provider, pathway_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _is_part(value: Any) -> bool:
    """A string of a cursor: printable, and within the one text rule for an identifier
    (guardian/domain/text.py): a pathway id or an ODS code is never anything else."""
    return (isinstance(value, str) and value.isprintable()
            and text.problem(value, "identifier") is None)


def decode(sort: str, cursor: str) -> Position:
    """The keyset position `cursor` holds for a list in `sort` order, or BadCursor."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError):  # RecursionError: [[[[…
        raise BadCursor() from None
    if not (isinstance(value, list) and len(value) == 4 and all(map(_is_part, value))):
        raise BadCursor()
    cursor_sort, key, provider, pathway_id = value
    if cursor_sort != sort:
        raise BadCursor(f"this cursor is for sort={cursor_sort}, not {sort}")
    try:
        if sort != "urgency":
            return dt.date.fromisoformat(key), provider, pathway_id
        tier, day, cancer = key.split(".")
        if tier not in {"0", "1", "2", "3", "4"} or cancer not in {"0", "1"}:
            raise ValueError(key)
        return int(tier), dt.date.fromisoformat(day), int(cancer), provider, pathway_id
    except ValueError:
        raise BadCursor() from None
