"""What a search for a patient asks (docs/api.md, "finding a patient"): the text typed
into the header's search box, or `GET /api/v1/patients?q=`, read as an NHS number, a UBRN,
a pathway id, or a family name with a given name or a date of birth. Pure: no database.

- **Digits** (spaces and hyphens allowed): 10 → an NHS number (its Modulus 11 check digit
  must hold), 12 → a UBRN. Any other count, or a 10-digit number whose check digit is
  wrong, is not an error: it is still tried as a pathway id, and `problem` says in words
  what is wrong with it as a number (shown when nothing is found).
- **Every text** of at most 64 characters is also tried as the provider's pathway id,
  exactly as typed and in capitals.
- **Words**: a family name, matched from its beginning, ignoring case, accents, spaces,
  apostrophes and hyphens (`name_key`: "O'Brien" = "obrien", "Ní Bhriain" = "nibhriain").
  A date of birth among the words (14/03/1958, 14-03-1958, 14.03.1958 or 1958-03-14)
  must match too. With a comma, the family name comes first and the given name after it
  ("Okafor, Grace"); without one, the words may come either way round ("Okafor Grace" and
  "Grace Okafor" both find Grace Okafor), or all be the family name ("Ní Bhriain").
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from guardian.domain.errors import InvalidValue
from guardian.domain.identifiers import normalise_nhs_number

SHORTEST = 2
LONGEST = 100
LONGEST_PATHWAY_ID = 64
MOST_WORDS = 4  # of a name: enough for "Mary Ann Ní Bhriain", few alternatives to try
TOO_SHORT = ("Type at least 2 characters: an NHS number, a family name, a pathway id or "
             "a UBRN")
TOO_LONG = f"Type at most {LONGEST} characters: an NHS number, a family name, a pathway id " \
           "or a UBRN"

_DATE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{2,4})$|^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DIGITS_AND_SEPARATORS = re.compile(r"^[\d/.-]+$")


class BadSearch(ValueError):
    """A search that cannot be made at all (too short, too long): the message says why."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Name:
    """One way of reading the words: a family name key, and a given name key or None."""

    family: str
    given: str | None = None


@dataclass(frozen=True)
class Terms:
    """What to look for; a pathway matches when any one of the ways matches."""

    text: str
    nhs_number: str | None = None
    ubrn: str | None = None
    pathway_ids: tuple[str, ...] = ()
    names: tuple[Name, ...] = ()
    birth_date: dt.date | None = None
    problem: str | None = None  # why the text is not the number or date it looks like

    @property
    def kind(self) -> str:
        """What was searched for, in words, for the audit log."""
        if self.nhs_number:
            return "NHS number"
        if self.ubrn:
            return "UBRN"
        if self.names:
            return "family name and date of birth" if self.birth_date else "name"
        return "pathway id"


def name_key(text: str) -> str:
    """A name as searched: no accents, case, spaces, apostrophes or hyphens."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return "".join(c for c in bare.casefold() if c.isalnum())


def parse(q: str | None) -> Terms:
    """The terms of a search, or BadSearch when the text is too short or too long."""
    text = " ".join((q or "").split())
    if len(text) < SHORTEST:
        raise BadSearch(TOO_SHORT)
    if len(text) > LONGEST:
        raise BadSearch(TOO_LONG)
    ids = tuple(dict.fromkeys((text, text.upper()))) if len(text) <= LONGEST_PATHWAY_ID else ()
    compact = text.replace(" ", "").replace("-", "")
    if compact.isascii() and compact.isdigit():
        return _number(text, compact, ids)
    words = [w for w in re.split(r"[\s,]+", text) if w]
    dates = [w for w in words if _DIGITS_AND_SEPARATORS.match(w)]
    names = [w for w in words if w not in dates]
    if any(not w.isalpha() for w in (name_key(n) for n in names)) or \
            any(not name_key(n) for n in names):
        return Terms(text, pathway_ids=ids)  # letters and digits mixed: an id
    if len(dates) > 1:
        return Terms(text, pathway_ids=ids, problem="Give one date of birth at most.")
    born = None
    if dates:
        born = birth_date(dates[0])
        if born is None:
            return Terms(text, pathway_ids=ids, problem=(
                f"“{dates[0]}” is not a date: write a date of birth as 14/03/1958."))
        if not names:
            return Terms(text, pathway_ids=ids, problem=(
                "Add the family name to the date of birth, for example Okafor 14/03/1958."))
    return Terms(text, pathway_ids=ids, names=readings(text, names), birth_date=born)


def _number(text: str, digits: str, ids: tuple[str, ...]) -> Terms:
    if len(digits) == 12:
        return Terms(text, ubrn=digits, pathway_ids=ids)
    if len(digits) != 10:
        return Terms(text, pathway_ids=ids, problem=(
            f"An NHS number has 10 digits and a UBRN 12: “{text}” has {len(digits)}."))
    try:
        return Terms(text, nhs_number=normalise_nhs_number(digits), pathway_ids=ids)
    except InvalidValue:
        return Terms(text, pathway_ids=ids, problem=(
            f"“{text}” is not a valid NHS number: its check digit does not match. "
            "Check the number."))


def readings(text: str, words: list[str]) -> tuple[Name, ...]:
    """The ways of reading name words: with a comma, family name first; without, each
    split into a family and a given name either way round, or all of it the family name."""
    part = text
    for date_like in (w for w in text.split() if _DIGITS_AND_SEPARATORS.match(w)):
        part = part.replace(date_like, " ")
    if "," in part:
        family, _, given = part.partition(",")
        keys = name_key(family), name_key(given)
        if keys[0]:
            return (Name(keys[0], keys[1] or None),)
    keys = [name_key(w) for w in words][:MOST_WORDS]
    found = [Name("".join(keys))]
    for i in range(1, len(keys)):
        first, rest = "".join(keys[:i]), "".join(keys[i:])
        found += [Name(first, rest), Name(rest, first)]
    return tuple(dict.fromkeys(found))


def birth_date(text: str) -> dt.date | None:
    """A date of birth as people write it (day first, or ISO), or None."""
    found = _DATE.match(text)
    if not found:
        return None
    if found.group(4):
        year, month, day = (int(found.group(n)) for n in (4, 5, 6))
    else:
        day, month, year = (int(found.group(n)) for n in (1, 2, 3))
        if year < 1000:  # a two-digit year is ambiguous: 1958 or 2058?
            return None
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def prefix_end(key: str) -> str:
    """The first key after every key that begins with `key` (in code-point order)."""
    return key[:-1] + chr(ord(key[-1]) + 1)
