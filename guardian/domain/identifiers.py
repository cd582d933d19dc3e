"""Identifier shapes (docs/rules.md §10): NHS number (Modulus 11), UBRN, ODS codes, and the
patient id."""

from __future__ import annotations

import re
from dataclasses import dataclass
from uuid import UUID, uuid5

from guardian.domain.errors import InvalidValue

_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)


@dataclass(frozen=True)
class _Shape:
    """The shape of a code (`pattern`); `problem` says what is wrong with a value without it
    ("{!r}" stands for the value as given), `field` names the input field."""

    pattern: re.Pattern[str]
    problem: str
    field: str

    def check(self, code: str, value: str) -> str:
        """`code` (`value` normalised) if it has the shape; else InvalidValue."""
        if not self.pattern.match(code):
            raise InvalidValue(self.problem.format(value), field=self.field)
        return code


_PROVIDER = _Shape(re.compile(r"^[A-Z0-9]{3,5}$"),
                   "provider code {!r} is not an ODS code of 3–5 letters or digits",
                   "ORGANISATION_IDENTIFIER_CODE_OF_PROVIDER")
_PRACTICE = _Shape(re.compile(r"^[A-Z][0-9]{5}$"),
                   "practice code {!r} is not an ODS practice code (a letter and 5 digits)",
                   "GENERAL_MEDICAL_PRACTICE_CODE")
_PCN = _Shape(re.compile(r"^U[0-9]{5}$"), "PCN code {!r} is not 'U' and 5 digits", "PCN_CODE")
_UBRN = _Shape(re.compile(r"^[0-9]{12}$"), "UBRN {!r} is not 12 digits", "UBRN")


def nhs_check_digit(first_nine: str) -> int | None:
    """The Modulus 11 check digit for nine digits, or None when no valid digit exists.

    docs/rules.md §10: weights 10..2, r = sum mod 11, check = 11 - r; 11 → 0; 10 → invalid.
    """
    total = sum(int(d) * w for d, w in zip(first_nine, _WEIGHTS, strict=True))
    check = 11 - total % 11
    if check == 11:
        return 0
    if check == 10:
        return None
    return check


def normalise_nhs_number(value: str) -> str:
    """Return the 10-digit NHS number (spaces and dashes removed) or raise InvalidValue."""
    digits = value.replace(" ", "").replace("-", "")
    if len(digits) != 10 or not digits.isascii() or not digits.isdigit():
        raise InvalidValue(f"NHS number {value!r} is not 10 digits", field="NHS_NUMBER")
    check = nhs_check_digit(digits[:9])
    if check is None or check != int(digits[9]):
        raise InvalidValue(
            f"NHS number {value!r} fails the Modulus 11 check", field="NHS_NUMBER"
        )
    return digits


def is_valid_nhs_number(value: str) -> bool:
    try:
        normalise_nhs_number(value)
    except InvalidValue:
        return False
    return True


def format_nhs_number(digits: str) -> str:
    """Show an NHS number 3-3-4, as the NHS does."""
    return f"{digits[:3]} {digits[3:6]} {digits[6:]}"


def is_test_range(digits: str) -> bool:
    """NHS numbers 999 000 0000–999 999 9999 are the synthetic test range used for demo data."""
    return digits.startswith("999")


def normalise_provider_code(value: str) -> str:
    return _PROVIDER.check(value.strip().upper(), value)


def normalise_practice_code(value: str) -> str:
    return _PRACTICE.check(value.strip().upper(), value)


def normalise_pcn_code(value: str) -> str:
    return _PCN.check(value.strip().upper(), value)


def normalise_ubrn(value: str) -> str:
    return _UBRN.check(value.replace(" ", ""), value)


_EMAIL_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+")


def is_email_address(value: str) -> bool:
    """A well-formed e-mail address as Guardian stores one (a user's, a patient's, a
    practice's): a dotted local part and a domain of at least two labels, no spaces, at
    most 254 characters (docs/notifications.md "Contacts")."""
    return len(value) <= 254 and _EMAIL_ADDRESS.fullmatch(value) is not None


def patient_id(namespace: UUID, nhs_number: str) -> UUID:
    """The Patient aggregate id: uuid5 of the NHS number under the deployment's namespace.

    The namespace is generated once per deployment and kept in its database, so an id
    cannot be derived from an NHS number outside the system.
    """
    return uuid5(namespace, nhs_number)
