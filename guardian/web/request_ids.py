"""A request id for every request (docs/api.md "Request ids"): `RequestIds`, the outermost
middleware of the app, takes a well-formed incoming `X-Request-ID` (8 to 64 letters, digits
and hyphens) or makes one, keeps it in a context variable for the whole request, sends it
back in the `X-Request-ID` header, and adds `"request_id"` to every JSON error body (any
answer of 400 or more whose type is `application/json`).

`install_logging()` makes every log record of the process carry `request_id` (the current
request's, "-" outside one): guardian's own loggers, uvicorn's error and access logs and
any library alike, so a format may use `%(request_id)s`. `RequestIdFilter` does the same
for a handler configured with `logging.config.dictConfig` (guardian/cli/service.py).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from contextvars import ContextVar
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "X-Request-ID"
WELL_FORMED = re.compile(r"[A-Za-z0-9-]{8,64}")
NONE = "-"  # a log record made outside any request

current: ContextVar[str] = ContextVar("guardian_request_id", default=NONE)


def new_id() -> str:
    return secrets.token_hex(8)


def of(scope_or_request: Any) -> str:
    """The request id of a request (or its ASGI scope); the current one otherwise."""
    scope = getattr(scope_or_request, "scope", scope_or_request)
    if isinstance(scope, dict):
        found = scope.get("state", {}).get("request_id")
        if found:
            return found
    return current.get()


def chosen(headers: list[tuple[bytes, bytes]]) -> str:
    """The caller's `X-Request-ID` when well formed, else a new id."""
    for name, value in headers:
        if name.lower() == b"x-request-id":
            text = value.decode("latin-1").strip()
            if WELL_FORMED.fullmatch(text):
                return text
            break
    return new_id()


def with_id(body: bytes, request_id: str) -> bytes:
    """A JSON error body with `request_id` added (unchanged when not a JSON object)."""
    try:
        data = json.loads(body)
    except ValueError:
        return body
    if not isinstance(data, dict):
        return body
    data.setdefault("request_id", request_id)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


class RequestIds:
    """The ASGI middleware: the id in a context variable, the scope's state, the response
    header and every JSON error body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = chosen(scope.get("headers", []))
        scope.setdefault("state", {})["request_id"] = request_id
        # Not reset afterwards: the server's 500 answer and access log line, made outside
        # this middleware in the same task, read it too (each request has its own task).
        current.set(request_id)
        start: dict[str, Any] = {}
        held: list[bytes] = []

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers[HEADER] = request_id
                is_error = message["status"] >= 400
                json_body = headers.get("content-type", "").split(";")[0] == "application/json"
                if is_error and json_body and "content-encoding" not in headers:
                    start.update(message)  # held until the body is complete
                    return
                await send(message)
                return
            if message["type"] == "http.response.body" and start:
                held.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                body = with_id(b"".join(held), request_id)
                first = dict(start)  # sent on; the next middleware may keep it
                start.clear()
                first["headers"] = list(first.get("headers", []))
                MutableHeaders(scope=first)["content-length"] = str(len(body))
                await send(first)
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive, sending)


class RequestIdFilter(logging.Filter):
    """Gives a record the current request id as `request_id` (keeps one it has)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = current.get()
        return True


_installed: list[bool] = []


def install_logging() -> None:
    """Every log record of the process carries `request_id`, whichever logger made it and
    whichever handler writes it (a record factory: a filter on one logger would miss the
    records of its children and of other libraries). Idempotent."""
    if _installed:
        return
    _installed.append(True)
    make = logging.getLogRecordFactory()
    stamp = RequestIdFilter()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        stamp.filter(record)
        return record

    logging.setLogRecordFactory(factory)


def uvicorn_log_config() -> dict[str, Any]:
    """`guardian serve`'s logging configuration (uvicorn's, in every worker) with the
    request id in every line, `[request id]` ("-" outside a request): uvicorn's error log,
    its access log when GUARDIAN_ACCESS_LOG is on (docs/cli.md "Configuration") and every
    other logger's lines, guardian's own included."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"request_id": {"()": RequestIdFilter}}
    for name, formatter in config["formatters"].items():
        formatter["fmt"] = formatter["fmt"].replace(
            "%(levelprefix)s ", "%(levelprefix)s [%(request_id)s] ", 1)
        config["formatters"][name] = formatter
    # and every other logger (guardian's own): the command line's format with the id
    config["formatters"]["guardian"] = {
        "format": "%(asctime)s %(name)s [%(request_id)s] %(message)s"}
    config["handlers"]["guardian"] = {"class": "logging.StreamHandler", "formatter": "guardian",
                                      "stream": "ext://sys.stderr"}
    config["root"] = {"handlers": ["guardian"], "level": "INFO"}
    for handler in config["handlers"].values():
        handler["filters"] = ["request_id"]
    return config
