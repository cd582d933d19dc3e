"""Signed webhooks: a JSON POST to the subscriber's URL with `Guardian-Signature:
t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the webhook's secret>` and
`Guardian-Notification: <key>` (the same on a retry, so a receiver can ignore a repeat).
A 2xx answer is sent; 4xx other than 408/429 is permanent; 5xx, 408, 429, a timeout or a
refused connection is tried again (docs/notifications.md "Webhooks")."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

from guardian.notifications.channels import Outgoing, SendFailed

TIMEOUT = 5.0
SIGNATURE_HEADER = "Guardian-Signature"
KEY_HEADER = "Guardian-Notification"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, now: float | None = None,
           tolerance: int = 300) -> bool:
    """What a receiver does: the signature matches and is at most `tolerance` seconds old."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
    except (ValueError, KeyError):
        return False
    if abs((now or time.time()) - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), header)


class Webhook:
    name = "webhook"

    def __init__(self, secrets: dict[int, str], timeout: float | None = None):
        self.secrets = secrets  # webhook id → secret
        self.timeout = timeout

    @contextlib.contextmanager
    def session(self) -> Iterator[Webhook]:
        yield self

    def send(self, row: Any, message: Outgoing) -> None:
        hook_id = int(row.recipient.split(":", 1)[1])
        secret = self.secrets.get(hook_id)
        if secret is None or not message.to:
            raise SendFailed("the webhook no longer exists", permanent=True)
        body = json.dumps(message.payload, sort_keys=True).encode()
        request = urllib.request.Request(message.to, data=body, method="POST", headers={
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(secret, int(time.time()), body),
            KEY_HEADER: row.key, "User-Agent": "Guardian"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout or TIMEOUT) as answer:
                answer.read(1024)
        except urllib.error.HTTPError as e:
            permanent = 400 <= e.code < 500 and e.code not in (408, 429)
            raise SendFailed(f"the receiver answered {e.code}", permanent=permanent) from None
        except (urllib.error.URLError, TimeoutError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise SendFailed(f"the receiver could not be reached ({reason})") from None
