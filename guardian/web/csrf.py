"""CSRF tokens as pages carry them: masked afresh on every answer (docs/access.md "CSRF").

Pages are compressed (gzip above 1 KB) and some reflect what the request asked for (a
search, a filter). A secret that sits unchanged in a compressed answer beside text an
attacker chooses can be guessed from the answers' sizes (the BREACH attack), so no page
carries the session's token as it is: each answer carries `mask(token)`, a fresh random
pad followed by the token XOR the pad, in URL-safe base64. `matches` takes a masked token
back (or the token itself, which is what API clients that read it elsewhere send).

    field = mask(session.csrf_token)        # into <meta name="csrf-token"> and the forms
    matches(sent, session.csrf_token)       # True for any mask of it, and for itself
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets


def mask(token: str) -> str:
    """`token` hidden under a one-time pad: a different text every call."""
    raw = token.encode()
    pad = secrets.token_bytes(len(raw))
    return base64.urlsafe_b64encode(pad + bytes(a ^ b for a, b in zip(raw, pad, strict=True))
                                    ).decode().rstrip("=")


def unmask(sent: str) -> bytes | None:
    """The token a masked text carries, or None when it is not one."""
    try:
        both = base64.urlsafe_b64decode(sent + "=" * (-len(sent) % 4))
    except (binascii.Error, ValueError):
        return None
    half, odd = divmod(len(both), 2)
    if odd or not half:
        return None
    pad, hidden = both[:half], both[half:]
    return bytes(a ^ b for a, b in zip(hidden, pad, strict=True))


def matches(sent: object, expected: str | None) -> bool:
    """Whether a request's token is the expected one, masked or as it is (in constant
    time for the comparison; compared as bytes, so any text compares)."""
    if not isinstance(sent, str) or not sent or not expected:
        return False
    want = expected.encode()
    if hmac.compare_digest(sent.encode(), want):
        return True
    found = unmask(sent)
    return found is not None and hmac.compare_digest(found, want)
