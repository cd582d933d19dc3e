"""Text from outside Guardian: one rule for the characters no value may hold, and one length
limit per kind of field (docs/api.md "Input rules", docs/formats.md "The file").

Every text input — a form field, a query or path parameter, a JSON value of the API, a field
of a waiting-list extract — goes through `problem` (or `check`) before it is used:

- no control character: NUL and the other C0 controls, DEL and the C1 controls (U+0080 to
  U+009F); free text (`note`: a contact summary, a message) may hold tabs and line breaks;
- no lone surrogate (U+D800 to U+DFFF): it cannot be encoded, let alone stored;
- no longer than the limit of its kind (`LIMITS`).

PostgreSQL cannot store a NUL at all, and none of these belongs in a name, a code or a note.
"""

from __future__ import annotations

import re

from guardian.domain.errors import InvalidValue

# Whitespace that free text may hold; every other control character is refused everywhere.
_NEVER = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff"
_REFUSED = {
    False: re.compile(f"[\t\n\r{_NEVER}]"),  # one-line values
    True: re.compile(f"[{_NEVER}]"),  # free text
}

# The longest value of each kind of field, in characters.
LIMITS: dict[str, int] = {
    "identifier": 64,  # a code, an id or a choice: ODS codes, pathway ids, dates, options
    "local-id": 30,  # a provider's local patient identifier
    "name": 100,  # a person's given or family name
    "email": 254,  # an e-mail address (the longest a mail server accepts)
    "line": 200,  # one line of text: a workup item, a test result, a pathway reference
    "note": 2000,  # free text: a note, a contact summary, a message (line breaks allowed)
    "parameter": 2048,  # any other value: a link back, a page cursor, a password, a search
}
MULTILINE = frozenset({"note"})


def problem(value: str, kind: str = "parameter") -> str | None:
    """What is wrong with `value` as a field of this kind, in words; None if nothing is."""
    found = _REFUSED[kind in MULTILINE].search(value)
    if found is not None:
        char = found.group()
        what = "a lone surrogate" if "\ud800" <= char <= "\udfff" else "a control character"
        return f"contains {what} (U+{ord(char):04X}), which is not allowed"
    limit = LIMITS[kind]
    if len(value) > limit:
        return f"is {len(value)} characters long; at most {limit} are allowed"
    return None


def check(value: str, kind: str = "parameter", field: str | None = None) -> str:
    """`value` itself, or InvalidValue naming the field and what is wrong."""
    message = problem(value, kind)
    if message is not None:
        raise InvalidValue(f"{field or 'the value'} {message}", field=field)
    return value
