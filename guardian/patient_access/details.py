"""The NHS number and date of birth a patient typed at /my/sign-in, kept for the code page
(docs/patients.md "Signing in"). The browser holds them in a cookie it cannot read: they are
encrypted and authenticated (Fernet: AES-128-CBC with HMAC-SHA256) under a key derived from
GUARDIAN_SECRET_KEY, with the time they were sealed. They are good for `LIFETIME`, an
emailed code's lifetime, whatever happened to the request: a lifetime that depended on it
(a letter's code lasts days) would tell whether the details matched a patient. A patient
with a letter types their details again on the code page, as its form asks anyway.
"""

from __future__ import annotations

import base64
import datetime as dt

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from guardian.patient_access.codes import EMAIL_MINUTES

LIFETIME = dt.timedelta(minutes=EMAIL_MINUTES)


def _fernet(secret: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=b"guardian-patient-details").derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret: str, nhs_number: str, born: dt.date, now: dt.datetime) -> str:
    """The cookie's value: the details, encrypted, sealed at `now`."""
    text = f"{nhs_number}|{born.isoformat()}".encode()
    return _fernet(secret).encrypt_at_time(text, int(now.timestamp())).decode()


def unseal(secret: str, value: str | None, now: dt.datetime) -> tuple[str, dt.date] | None:
    """The details sealed in `value`, or None when it is missing, altered, sealed under
    another key or more than LIFETIME before `now`."""
    if not value:
        return None
    try:
        text = _fernet(secret).decrypt_at_time(
            value.encode(), int(LIFETIME.total_seconds()), int(now.timestamp())).decode()
        digits, born = text.split("|", 1)
        return digits, dt.date.fromisoformat(born)
    except (InvalidToken, ValueError, UnicodeError):
        return None
