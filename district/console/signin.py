"""Signing in and out of the console: the sign-in form, the TOTP step, changing one's
password, the language switch and the start page of each role.

The sign-in form has no session yet, so its CSRF token is a random value in a cookie of
its own that the form repeats (double submit); a successful sign-in replaces any session
cookie the browser had with a new token (no session fixation).
"""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from district import accounts, audit
from district.accounts import SignInRefused
from district.errors import Refused

from .deps import (
    CONSOLE,
    HOME_OF_ROLE,
    LANG_COOKIE,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    ConsoleError,
    Viewer,
    address_of,
    check_csrf,
    database,
    language_of,
    page,
    pending_page,
    redirect,
    render,
)
from .strings import LANGUAGES, text

router = APIRouter(include_in_schema=False)

Field = Annotated[str, Form(max_length=200)]


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/",
        max_age=int(accounts.ABSOLUTE_LIMIT.total_seconds()),
    )


def _safe_next(target: str | None) -> str:
    """Only a path of this console: never another site (an open redirect)."""
    if not target:
        return ""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith(f"{CONSOLE}/"):
        return ""
    if "\\" in target or target.startswith("//"):
        return ""
    return target


@router.get("/")
def root() -> Response:
    return redirect(f"{CONSOLE}/")


@router.get(f"{CONSOLE}")
@router.get(f"{CONSOLE}/")
def home(viewer: Annotated[Viewer, Depends(page())]) -> Response:
    return redirect(HOME_OF_ROLE[viewer.role])


@router.get(f"{CONSOLE}/login")
def login_form(request: Request, next: str | None = None, ended: int = 0) -> Response:
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        title_key="sign_in_heading",
        login_csrf=token,
        next_url=_safe_next(next),
        message=text(language_of(request), "session_ended") if ended else "",
        name="",
    )
    response.set_cookie(
        LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request),
        path=f"{CONSOLE}/login",
    )
    return response


@router.post(f"{CONSOLE}/login")
def login(
    request: Request,
    name: Field,
    password: Annotated[str, Form(max_length=200)],
    csrf: Field,
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    cookie = request.cookies.get(LOGIN_COOKIE)
    if not cookie or not secrets.compare_digest(cookie, csrf):
        raise ConsoleError(403, "error_csrf", "csrf")
    db = database(request)
    language = language_of(request)
    try:
        token, session = accounts.sign_in(db, name, password, address_of(request))
    except SignInRefused as refused:
        key = f"sign_in_{refused.reason}"
        fields = {"minutes": max(1, (refused.retry_after_s + 59) // 60)}
        return render(
            request,
            "login.html",
            status=429 if refused.reason == "throttled" else 401,
            title_key="sign_in_heading",
            login_csrf=cookie,
            next_url=_safe_next(next),
            message=text(language, key, **fields),
            name=name,
        )
    target = f"{CONSOLE}/totp" if session.pending else _safe_next(next) or f"{CONSOLE}/"
    if session.pending and _safe_next(next):
        target += f"?next={_safe_next(next)}"
    response = redirect(target)
    set_session_cookie(request, response, token)
    response.delete_cookie(LOGIN_COOKIE, path=f"{CONSOLE}/login")
    return response


@router.get(f"{CONSOLE}/totp")
def totp_form(
    request: Request, viewer: Annotated[Viewer, Depends(pending_page())], next: str | None = None
) -> Response:
    if not viewer.session.pending:
        return redirect(f"{CONSOLE}/")
    return render(
        request, "totp.html", viewer=viewer, title_key="totp_heading",
        next_url=_safe_next(next), message="",
    )


@router.post(f"{CONSOLE}/totp")
def totp(
    request: Request,
    viewer: Annotated[Viewer, Depends(pending_page())],
    code: Annotated[str, Form(max_length=20)],
    csrf: Field,
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    check_csrf(viewer, csrf)
    if not viewer.session.pending:
        return redirect(f"{CONSOLE}/")
    try:
        token, _session = accounts.second_factor(
            database(request), viewer.session, code, viewer.address
        )
    except SignInRefused as refused:
        key = "sign_in_throttled" if refused.reason == "throttled" else "totp_wrong"
        fields = {"minutes": max(1, (refused.retry_after_s + 59) // 60)}
        return render(
            request, "totp.html", viewer=viewer, status=401, title_key="totp_heading",
            next_url=_safe_next(next), message=text(viewer.language, key, **fields),
        )
    response = redirect(_safe_next(next) or f"{CONSOLE}/")
    set_session_cookie(request, response, token)
    return response


@router.post(f"{CONSOLE}/logout")
def logout(request: Request, csrf: Field) -> Response:
    session = _session_now(request)
    response = redirect(f"{CONSOLE}/login")
    if session is not None:
        if not secrets.compare_digest(csrf, session.csrf_token):
            raise ConsoleError(403, "error_csrf", "csrf")
        db = database(request)
        accounts.end_session(db, session.token_sha256)
        audit.record(
            db, account=session.account.name, address=address_of(request),
            action=audit.SIGN_OUT, record=f"user:{session.account.name}",
        )
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _session_now(request: Request) -> accounts.Session | None:
    token = request.cookies.get(SESSION_COOKIE)
    return accounts.load_session(database(request), token) if token else None


@router.get(f"{CONSOLE}/password")
def password_form(request: Request, viewer: Annotated[Viewer, Depends(pending_page())]) -> Response:
    if viewer.session.pending:
        return redirect(f"{CONSOLE}/totp")
    return render(request, "password.html", viewer=viewer, title_key="password_heading",
                  message="", done=False)


@router.post(f"{CONSOLE}/password")
def password(
    request: Request,
    viewer: Annotated[Viewer, Depends(pending_page())],
    current: Annotated[str, Form(max_length=200)],
    new: Annotated[str, Form(max_length=200)],
    repeat: Annotated[str, Form(max_length=200)],
    csrf: Field,
) -> Response:
    check_csrf(viewer, csrf)
    if viewer.session.pending:
        return redirect(f"{CONSOLE}/totp")
    message = ""
    if new != repeat:
        message = text(viewer.language, "password_mismatch")
    else:
        try:
            accounts.change_password(database(request), viewer.session, current, new,
                                     viewer.address)
        except Refused as refused:
            message = f"{text(viewer.language, 'password_refused')} ({refused})"
    if message:
        return render(request, "password.html", viewer=viewer, status=400,
                      title_key="password_heading", message=message, done=False)
    return render(request, "password.html", viewer=viewer, title_key="password_heading",
                  message=text(viewer.language, "password_changed"), done=True)


@router.get(f"{CONSOLE}/lang/{{language}}")
def switch_language(request: Request, language: str, back: str | None = None) -> Response:
    if language not in LANGUAGES:
        raise ConsoleError(404, "error_not_found")
    response = redirect(_safe_next(back) or f"{CONSOLE}/")
    response.set_cookie(LANG_COOKIE, language, samesite="strict", secure=_secure(request),
                        path="/", max_age=365 * 24 * 3600)
    return response

