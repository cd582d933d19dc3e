"""The one keyset cursor of every paged worklist, the API's `after`/`next` and the worklist
page's "next page" link alike (docs/api.md, `GET /api/v1/worklists/{pcn_code}`): an opaque
string, unpadded URL-safe base64 of the JSON list `[sort, key, provider, pathway_id]`, where
`key` is the row's sort key as an ISO date. `decode` gives back the keyset position
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

# The worklist column each sort order pages on (guardian/projections/worklist.py SORTS).
SORT_KEYS = {"next-deadline": "deadline_sort", "days-waiting": "wait_from"}

Position = tuple[dt.date, str, str]  # (sort key, provider, pathway id)


class BadCursor(ValueError):
    """Not a cursor of this list in this sort order; the message says which, in words."""

    def __init__(self, message: str = "not a cursor from this worklist's `next`") -> None:
        super().__init__(message)
        self.message = message


def encode(sort: str, row: Mapping[str, Any]) -> str:
    """The cursor that pages on after `row` (a worklist row) in `sort` order."""
    key = row[SORT_KEYS[sort]]
    raw = json.dumps([sort, key.isoformat(), row["provider"], row["pathway_id"]],
                     separators=(",", ":")).encode()
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
        return dt.date.fromisoformat(key), provider, pathway_id
    except ValueError:
        raise BadCursor() from None
