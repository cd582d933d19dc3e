"""The answers to "not signed in", "bad CSRF token", "not found" and "bad request", and
`install(app)`, which adds them with the sign-in and admin pages' routes
(guardian/web/routes/auth.py, admin.py); create_app calls it once.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from fastapi import FastAPI, Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from guardian.web.access import CsrfRejected, NotSignedIn
from guardian.web.inputs import sendable
from guardian.web.routes.auth import (  # noqa: F401 - SIGN_IN_COOKIE: the tests' name
    CSRF_MESSAGE,
    SIGN_IN_COOKIE,
    SIGN_IN_PATH,
    clear_session_cookie,
)
from guardian.web.templating import make_templates, render


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _not_signed_in(request: Request, exc: Exception) -> Response:
    reason = exc.reason if isinstance(exc, NotSignedIn) else "none"
    if is_api(request):
        detail = (
            "the bearer token is not valid (unknown, revoked, expired or malformed)"
            if reason == "bad-token"
            else "sign in, or send an API token as 'Authorization: Bearer <token>'"
        )
        return JSONResponse({"detail": detail}, status_code=401,
                            headers={"WWW-Authenticate": "Bearer"})
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    query = {"next": target} if request.method == "GET" else {}
    if reason == "ended":
        query["ended"] = "1"
    url = SIGN_IN_PATH + ("?" + urlencode(query, quote_via=quote) if query else "")
    if request.headers.get("hx-request") == "true":
        response: Response = Response(status_code=401, headers={"HX-Redirect": url})
    else:
        response = RedirectResponse(url, 303)
    if reason == "ended":
        clear_session_cookie(request, response)
    return response


def _csrf_rejected(request: Request, exc: Exception) -> Response:
    if is_api(request):
        return JSONResponse({"detail": CSRF_MESSAGE}, status_code=403)
    return render(request, "forbidden.html", {"message": CSRF_MESSAGE}, status_code=403)


async def _http_error(request: Request, exc: Exception) -> Response:
    """404 (and 403) pages for browsers; the API keeps FastAPI's JSON answers."""
    assert isinstance(exc, StarletteHTTPException)
    if is_api(request) and exc.status_code == 400:
        # FastAPI's answer to a body it cannot read (not UTF-8, say): bad input named
        # like any other, a 422 on the body (docs/api.md "Answers every route may give")
        return await _invalid_request(request, RequestValidationError([{
            "loc": ("body",), "msg": "the body is not JSON text in UTF-8",
            "type": "json_invalid"}]))
    wants_page = not is_api(request) and request.url.path not in ("/healthz", "/openapi.json")
    if wants_page and exc.status_code == 404:
        return render(request, "not_found.html", status_code=404)
    return await http_exception_handler(request, exc)


async def _invalid_request(request: Request, exc: Exception) -> Response:
    """A page address or form with a bad value: a 400 page naming it (the API keeps 422)."""
    assert isinstance(exc, RequestValidationError)
    if is_api(request):  # an input FastAPI would echo but cannot encode is left out
        exc = RequestValidationError(sendable(exc.errors()), body=exc.body)
        return await request_validation_exception_handler(request, exc)
    problems = [
        f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'value'}: {e.get('msg', '')}"
        for e in exc.errors()
    ]
    return render(request, "bad_request.html",
                  {"problems": problems, "form": request.method != "GET"}, status_code=400)


def install(app: FastAPI) -> None:
    """Add sign-in/out, the admin pages and the access exception handlers to the app."""
    from guardian.web.routes import admin, auth

    if getattr(app.state, "templates", None) is None:
        app.state.templates = make_templates()
    app.include_router(auth.router)
    app.include_router(admin.router)
    app.add_exception_handler(NotSignedIn, _not_signed_in)
    app.add_exception_handler(CsrfRejected, _csrf_rejected)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
