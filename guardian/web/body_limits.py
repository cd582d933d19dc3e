"""Bad bodies refused before anything parses them (docs/api.md "Answers every route may
give"): `BodyLimits`, a middleware of the app, answers

- **413** to a request whose body is larger than GUARDIAN_MAX_BODY_BYTES (1 MiB by default):
  at once when its `Content-Length` says so, else as soon as the bytes read pass the limit;
- **415** to a request to the JSON API (`/api/…`) that changes something and sends a body
  that is not JSON (`application/json` or a `+json` type).

Either answer is JSON, `{"detail": "…"}` (and the request id, guardian/web/request_ids.py);
under /fhir/ an OperationOutcome (docs/fhir.md).
"""

from __future__ import annotations

from fastapi import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from guardian.web.fhir.outcome import FhirError

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def too_large(limit: int) -> str:
    return f"the request body is larger than {limit} bytes, the most this service accepts"


def is_json(content_type: str) -> bool:
    media = content_type.split(";")[0].strip().lower()
    return media == "application/json" or (media.startswith("application/")
                                           and media.endswith("+json"))


class BodyLimits:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        length = headers.get("content-length", "").strip()
        declared = int(length) if length.isdigit() else None
        has_body = (declared or 0) > 0 or "transfer-encoding" in headers
        if declared is not None and declared > self.max_bytes:
            if scope["path"].startswith("/fhir/"):  # FHIR's errors are OperationOutcomes
                refusal = FhirError.one(413, too_large(self.max_bytes)).response()
            else:
                refusal = JSONResponse({"detail": too_large(self.max_bytes)}, status_code=413)
            await refusal(scope, receive, send)
            return
        if (has_body and scope["method"] in UNSAFE and scope["path"].startswith("/api/")
                and not is_json(headers.get("content-type", "application/json"))):
            await JSONResponse(
                {"detail": "send the body as JSON, with 'Content-Type: application/json' "
                           f"(not {headers.get('content-type', '')!r})"},
                status_code=415)(scope, receive, send)
            return
        if not has_body:
            await self.app(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # FastAPI passes an HTTPException raised while reading the body on to
                    # the app's handlers (any other error would be a 400)
                    raise HTTPException(413, too_large(self.max_bytes))
            return message

        await self.app(scope, counted, send)
