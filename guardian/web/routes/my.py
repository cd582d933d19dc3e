"""Patients' own pages under /my (docs/patients.md): sign in with a one-time code (or NHS
login when configured), see each referral, answer a Waiting Well check-in, say "I am
getting worse" at any time, and write to the Guardian team.

A patient sees only their own record: every page reads the patient of the session, and a
referral is looked up inside that patient, so another patient's referral (or an unknown
one) is the same 404. Every page view and every action is audited (role "patient").
Forms are plain HTML forms (no JavaScript needed), each with the session's CSRF token;
the two sign-in forms carry their own in a short-lived cookie. A closed referral takes no
answer, no "I am getting worse" and no message: each is refused, saying it is closed.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadSignature, Signer
from starlette.concurrency import run_in_threadpool

from guardian import audit
from guardian.application import ConcurrentChange
from guardian.domain.errors import DomainError
from guardian.patient_access import details as typed
from guardian.patient_access import sessions
from guardian.patient_access.codes import SignInRefused, request_code, verify_code
from guardian.projections import bottlenecks
from guardian.projections.patient_view import patient_referral
from guardian.projections.status import expected_wait, referral_status
from guardian.projections.tracking import PositionRecorder
from guardian.web import csrf
from guardian.web.access import CsrfRejected, client_of
from guardian.web.caches import TimedCache
from guardian.web.deps import AppDep
from guardian.web.names import names_of
from guardian.web.templating import render

router = APIRouter(include_in_schema=False)

PATIENT_COOKIE = "guardian_patient"
FORM_COOKIE = "guardian_patient_form"  # the sign-in forms' CSRF value (no session yet)
DETAILS_COOKIE = "guardian_patient_details"  # the details typed, sealed (details.py)
# The answers a patient may give online, with the words they read (codes.CHECK_IN_OUTCOMES).
ONLINE_ANSWERS = {
    "no-change": "I am the same. I still need the appointment.",
    "worse": "I am worse.",
    "no-longer-needed": "I do not need the appointment any more.",
    "treated-elsewhere": "I have been treated somewhere else.",
}
BY_PATIENT = "the patient (online)"  # who answered, where a phone answer names the coordinator
CLOSED = "This referral is closed. Call your GP practice if you need help."
MAX_TEXT = 2000


class SignInNeeded(Exception):
    """No live patient session: to the sign-in page."""


def _signer(request: Request, salt: str) -> Signer:
    return Signer(request.app.state.guardian.settings.session_secret(), salt=salt)


def _unsign(request: Request, cookie: str, salt: str) -> str | None:
    raw = request.cookies.get(cookie)
    if not raw:
        return None
    try:
        return _signer(request, salt).unsign(raw).decode()
    except BadSignature:
        return None


def _now(request: Request) -> dt.datetime:
    return request.app.state.guardian.now().astimezone(dt.UTC)


async def patient_session(request: Request) -> sessions.PatientSession:
    """The signed-in patient; a state-changing request must carry the session's CSRF."""
    raw = _unsign(request, PATIENT_COOKIE, "guardian-patient")
    found = await run_in_threadpool(sessions.current, request.app.state.guardian.engine, raw,
                                    _now(request))
    if found is None:
        raise SignInNeeded()
    if request.method == "POST":
        form = await request.form()
        sent = form.get("csrf_token")
        if not csrf.matches(sent, found.csrf_token):
            raise CsrfRejected()
    return found


PatientDep = Annotated[sessions.PatientSession, Depends(patient_session)]


def install(app: Any) -> None:
    """The redirect to sign in when a patient page is asked for without a session."""

    async def to_sign_in(request: Request, exc: SignInNeeded) -> Response:
        return RedirectResponse("/my/sign-in", status_code=303)

    app.add_exception_handler(SignInNeeded, to_sign_in)


def _audit(request: Request, action: str, patient_id: str | None = None, **fields: Any
           ) -> None:
    audit.record(request.app.state.guardian.engine, email=None, role="patient",
                 client=client_of(request), user_agent=request.headers.get("user-agent"),
                 action=action, patient_id=patient_id, **fields)


def _entry(request: Request, action: str, patient_id: str, **fields: Any) -> dict[str, Any]:
    return audit.entry(email=None, role="patient", client=client_of(request),
                       user_agent=request.headers.get("user-agent"), action=action,
                       patient_id=patient_id, **fields)


# ---------------------------------------------------------------------------- signing in


def _form_token(request: Request) -> tuple[str, bool]:
    token = request.cookies.get(FORM_COOKIE)
    return (token, False) if token else (secrets.token_urlsafe(24), True)


def _sign_in_page(request: Request, name: str, context: dict[str, Any], status: int = 200
                  ) -> Response:
    token, new = _form_token(request)
    request.state.csrf_token = token  # the forms' {{ csrf_field }} (templating.py)
    response = render(request, name, context, status_code=status)
    if new:
        response.set_cookie(FORM_COOKIE, token, max_age=3600, httponly=True, samesite="lax",
                            secure=request.url.scheme == "https", path="/my")
    return response


async def _checked_form(request: Request) -> dict[str, str]:
    form = await request.form()
    expected = request.cookies.get(FORM_COOKIE) or ""
    sent = form.get("csrf_token")
    if not csrf.matches(sent, expected):
        raise CsrfRejected()
    return {k: v.strip() for k, v in form.items() if isinstance(v, str)}


def parse_details(form: dict[str, str]) -> tuple[dict[str, str], dt.date | None]:
    """The NHS number and date of birth typed, with an error per field."""
    errors: dict[str, str] = {}
    digits = "".join(form.get("nhs_number", "").split())
    if not (digits.isdigit() and len(digits) == 10):
        errors["nhs_number"] = "Enter your 10-digit NHS number, for example 999 123 4567"
    born = None
    try:
        born = dt.date(int(form.get("year", "")), int(form.get("month", "")),
                       int(form.get("day", "")))
        if born.year < 1900 or born > dt.date.today():
            raise ValueError
    except ValueError:
        errors["birth_date"] = "Enter your date of birth, for example 15 3 1984"
    return errors, born


def _codes_offered(request: Request) -> None:
    """The code pages are 404 when patients sign in with NHS login only (docs/patients.md)."""
    if not request.app.state.guardian.settings.sign_in_codes:
        raise HTTPException(status_code=404, detail="Not Found")


CODES = [Depends(_codes_offered)]


@router.get("/my/sign-in")
def sign_in_page(request: Request) -> Response:
    return _sign_in_page(request, "my_sign_in.html", {"form": {}, "errors": {}})


@router.post("/my/sign-in", dependencies=CODES)
async def ask_for_code(request: Request, app: AppDep) -> Response:
    form = await _checked_form(request)
    errors, born = parse_details(form)
    if errors:
        return _sign_in_page(request, "my_sign_in.html", {"form": form, "errors": errors}, 400)
    digits = "".join(form["nhs_number"].split())
    try:
        outcome = await run_in_threadpool(request_code, app, digits, born, client_of(request),
                                          _now(request))
    except SignInRefused as e:
        return _sign_in_page(request, "my_sign_in.html",
                             {"form": form, "errors": {"nhs_number": e.message}}, 400)
    _audit(request, "patient-code-asked", detail=outcome)
    response = RedirectResponse("/my/code", status_code=303)
    sealed = typed.seal(app.settings.session_secret(), digits, born, _now(request))
    response.set_cookie(DETAILS_COOKIE, sealed, max_age=int(typed.LIFETIME.total_seconds()),
                        httponly=True, samesite="lax", secure=request.url.scheme == "https",
                        path="/my")
    return response


def _details(request: Request) -> dict[str, str]:
    found = typed.unseal(request.app.state.guardian.settings.session_secret(),
                         request.cookies.get(DETAILS_COOKIE), _now(request))
    if found is None:
        return {}
    digits, day = found
    return {"nhs_number": digits, "day": str(day.day), "month": str(day.month),
            "year": str(day.year)}


@router.get("/my/code", dependencies=CODES)
def code_page(request: Request) -> Response:
    return _sign_in_page(request, "my_code.html", {"form": _details(request), "errors": {}})


@router.post("/my/code", dependencies=CODES)
async def sign_in_with_code(request: Request, app: AppDep) -> Response:
    form = await _checked_form(request)
    errors, born = parse_details(form)
    code = "".join(form.get("code", "").split())
    if not (code.isdigit() and len(code) == 6):
        errors["code"] = "Enter the 6-digit code we sent you"
    if errors:
        return _sign_in_page(request, "my_code.html", {"form": form, "errors": errors}, 400)
    digits = "".join(form["nhs_number"].split())
    try:
        patient_id = await run_in_threadpool(verify_code, app, digits, born, code,
                                             client_of(request), _now(request))
    except SignInRefused as e:
        if e.reason == "locked":  # the audit says which key locked, never its value
            _audit(request, "patient-sign-in-locked", detail=",".join(e.locked_by))
            until = e.until.astimezone(app.settings.zone) if e.until else None
            where = ("with this NHS number" if "nhs-number" in e.locked_by
                     else "from this internet connection")
            message = (f"You have tried too many times. For your safety, you cannot sign in "
                       f"{where}" + (f" until {until:%H:%M} on {until.day} {until:%B}"
                                     if until else " for now")
                       + ". Call your GP practice if you need help.")
            return _sign_in_page(request, "my_code.html",
                                 {"form": form, "errors": {"code": message}}, 429)
        _audit(request, "patient-sign-in-failed")
        return _sign_in_page(request, "my_code.html", {"form": form, "errors": {
            "code": "That code is not right, or it has run out. Check it, or ask for a "
                    "new code."}}, 400)
    raw = await run_in_threadpool(sessions.start, app.engine, patient_id, "code",
                                  _now(request))
    _audit(request, "patient-signed-in", patient_id.hex)
    return _signed_in(request, raw)


def _signed_in(request: Request, raw: str) -> Response:
    response = RedirectResponse("/my", status_code=303)
    response.set_cookie(PATIENT_COOKIE, _signer(request, "guardian-patient").sign(raw).decode(),
                        httponly=True, samesite="lax", secure=request.url.scheme == "https",
                        path="/")
    response.delete_cookie(DETAILS_COOKIE, path="/my")
    return response


@router.post("/my/sign-out")
def sign_out(request: Request, session: PatientDep, app: AppDep) -> Response:
    sessions.end(app.engine, _unsign(request, PATIENT_COOKIE, "guardian-patient"))
    _audit(request, "patient-signed-out", session.patient_id.hex)
    response = RedirectResponse("/my/sign-in?signed_out=1", status_code=303)
    response.delete_cookie(PATIENT_COOKIE, path="/")
    return response


# ---------------------------------------------------------------------------- the record


POSITION_SECONDS = 5.0  # how long a worker trusts the position of the bottlenecks read model


def _cache(request: Request, name: str, ttl: float) -> TimedCache:
    state = request.app.state
    cache = getattr(state, name, None)
    if cache is None:
        cache = TimedCache(ttl=ttl)
        setattr(state, name, cache)
    return cache


def _expected(request: Request, app: Any, p: Any, on: dt.date, names: Any) -> Any:
    """The pathway's expected wait, as referral_status counts it with a connection, from
    this worker's cache: keyed by hospital, specialty, priority, day and the position of the
    read model it is counted from (the bottlenecks read model's pathway_intervals), that
    position read at most every POSITION_SECONDS. So a page says what a count a few seconds
    ago said, and the query runs once per worker and specialty, not once per page
    (bench/README.md, "Patients' own pages under load")."""
    engine = app.engine
    position = _cache(request, "patient_wait_position", POSITION_SECONDS).get(
        "bottlenecks", lambda: PositionRecorder(engine).max_tracking_id(bottlenecks.NAME))

    def count() -> Any:
        with engine.connect() as conn:
            return expected_wait(conn, p.provider, p.treatment_function, p.priority, on,
                                 names=names)

    key = (p.provider, p.treatment_function, p.priority, on, position,
           names.provider(p.provider))
    return _cache(request, "patient_expected_waits", 3600.0).get(key, count)


def _referrals(request: Request, app: Any, patient: Any,
               only: tuple[str, str] | None = None) -> list[Any]:
    """The patient's referrals as they read them, open ones first (`only`: just this
    provider and pathway id, if it is theirs). Names come from the worker's names cache."""
    on = app.today()
    names = names_of(request)
    out = []
    for p in sorted((p for p in patient.pathways.values()
                     if only is None or (p.provider, p.pathway_id) == only),
                    key=lambda p: (not p.is_open, p.received_on, p.pathway_id)):
        # Without a connection the status leaves the expected wait out: it comes from the
        # cache, for an open RTT pathway as referral_status would count it.
        status = referral_status(patient, p.provider, p.pathway_id, on,
                                 table=app.settings.standards, names=names)
        if p.is_open and p.is_rtt:
            status = replace(status, expected_wait=_expected(request, app, p, on, names))
        support = [(s.kind, s.note) for s in patient.support.values()
                   if s.pathway in (None, p.key)]
        contacts = [c.on for c in patient.contacts.values() if c.pathway in (None, p.key)]
        out.append(patient_referral(status, p, on, support, max(contacts, default=None)))
    return out


def _page(request: Request, session: sessions.PatientSession, name: str,
          context: dict[str, Any], status: int = 200) -> Response:
    standards = {s.code: s for s in request.app.state.guardian.settings.standards}
    review = standards.get("deterioration-review")
    request.state.csrf_token = session.csrf_token  # the forms' {{ csrf_field }}
    return render(request, name, {**context, "answers": ONLINE_ANSWERS,
                                  "review_days": review.last_day_within if review else 2},
                  status_code=status)


@router.get("/my")
def my_referrals(request: Request, session: PatientDep, app: AppDep,
                 done: str | None = None) -> Response:
    patient = app.get_patient(session.patient_id)
    referrals = _referrals(request, app, patient)
    _audit(request, "patient-view", session.patient_id.hex)
    return _page(request, session, "my_referrals.html", {
        "patient": patient, "referrals": referrals, "done": done,
        "open": [r for r in referrals if r.is_open]})


def _own_referral(request: Request, app: Any, session: sessions.PatientSession,
                  provider: str, pathway_id: str) -> tuple[Any, Any]:
    patient = app.get_patient(session.patient_id)
    for r in _referrals(request, app, patient, only=(provider, pathway_id)):
        return patient, r
    raise HTTPException(status_code=404, detail="Not Found")


@router.get("/my/referrals/{provider}/{pathway_id}")
def my_referral(request: Request, session: PatientDep, app: AppDep, provider: str,
                pathway_id: str, done: str | None = None) -> Response:
    patient, referral = _own_referral(request, app, session, provider, pathway_id)
    _audit(request, "patient-view-referral", session.patient_id.hex, provider=provider,
           pathway_id=pathway_id)
    return _page(request, session, "my_referral.html", {
        "patient": patient, "r": referral, "done": done, "form": {}, "errors": {}})


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v.strip() for k, v in form.items() if isinstance(v, str)}


def _redo(request: Request, session: sessions.PatientSession, app: Any, provider: str,
          pathway_id: str, form: dict[str, str], errors: dict[str, str]) -> Response:
    patient, referral = _own_referral(request, app, session, provider, pathway_id)
    return _page(request, session, "my_referral.html", {
        "patient": patient, "r": referral, "done": None, "form": form, "errors": errors}, 400)


def _act(request: Request, app: Any, session: sessions.PatientSession, action: str,
         provider: str | None, pathway_id: str | None, run: Any) -> str | None:
    """Run a patient's command with its audit entry; the error to show, or None."""
    entry = _entry(request, action, session.patient_id.hex, provider=provider,
                   pathway_id=pathway_id)
    try:
        with app.audited(entry):
            run()
    except ConcurrentChange:
        return "Something changed while you were answering. Please try again."
    except DomainError as e:
        return e.message[:1].upper() + e.message[1:]
    return None


@router.post("/my/referrals/{provider}/{pathway_id}/check-in")
async def answer_check_in(request: Request, session: PatientDep, app: AppDep, provider: str,
                          pathway_id: str) -> Response:
    form = await _form(request)
    _, referral = _own_referral(request, app, session, provider, pathway_id)
    if not referral.is_open:
        return _redo(request, session, app, provider, pathway_id, form, {"form": CLOSED})
    answer = form.get("answer", "")
    if answer not in ONLINE_ANSWERS:
        return _redo(request, session, app, provider, pathway_id, form,
                     {"answer": "Choose the answer that fits you best"})
    if not referral.check_in_due:
        return RedirectResponse(f"/my/referrals/{provider}/{pathway_id}?done=no-check-in",
                                status_code=303)
    # No note: the events, and so the timeline, read as a phone answer's with none; who
    # answered, and how, is `by` (and the audit entry).
    error = _act(request, app, session, "patient-check-in", provider, pathway_id,
                 lambda: app.record_check_in_outcome(
                     session.patient_id, provider, pathway_id, answer, by=BY_PATIENT))
    if error:
        return _redo(request, session, app, provider, pathway_id, form, {"answer": error})
    return RedirectResponse(f"/my/referrals/{provider}/{pathway_id}?done=check-in",
                            status_code=303)


@router.post("/my/referrals/{provider}/{pathway_id}/worse")
async def getting_worse(request: Request, session: PatientDep, app: AppDep, provider: str,
                        pathway_id: str) -> Response:
    form = await _form(request)
    _, referral = _own_referral(request, app, session, provider, pathway_id)
    if not referral.is_open:
        return _redo(request, session, app, provider, pathway_id, form, {"form": CLOSED})
    what = form.get("what", "")
    if not what or len(what) > MAX_TEXT:
        return _redo(request, session, app, provider, pathway_id, form, {
            "what": "Tell us how you are worse" if not what
            else f"Keep it to {MAX_TEXT} characters"})
    flag_id = f"online-{uuid.uuid4().hex[:12]}"
    error = _act(request, app, session, "patient-worse", provider, pathway_id,
                 lambda: app.flag_deterioration(session.patient_id, flag_id, what, "patient",
                                                provider=provider, pathway_id=pathway_id))
    if error:
        return _redo(request, session, app, provider, pathway_id, form, {"what": error})
    return RedirectResponse(f"/my/referrals/{provider}/{pathway_id}?done=worse",
                            status_code=303)


@router.post("/my/referrals/{provider}/{pathway_id}/message")
async def write_to_guardian(request: Request, session: PatientDep, app: AppDep,
                            provider: str, pathway_id: str) -> Response:
    form = await _form(request)
    _, referral = _own_referral(request, app, session, provider, pathway_id)
    if not referral.is_open:
        return _redo(request, session, app, provider, pathway_id, form, {"form": CLOSED})
    body = form.get("body", "")
    if not body or len(body) > MAX_TEXT:
        return _redo(request, session, app, provider, pathway_id, form, {
            "body": "Write your message" if not body
            else f"Keep it to {MAX_TEXT} characters"})
    message_id = f"online-{uuid.uuid4().hex[:12]}"
    error = _act(request, app, session, "patient-message", provider, pathway_id,
                 lambda: app.receive_message(session.patient_id, provider, pathway_id,
                                             message_id, "patient", body, BY_PATIENT))
    if error:
        return _redo(request, session, app, provider, pathway_id, form, {"body": error})
    return RedirectResponse(f"/my/referrals/{provider}/{pathway_id}?done=message",
                            status_code=303)

