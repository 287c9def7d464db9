"""What every console route depends on: the database, the signed-in viewer and their
role, the CSRF check, the language, and rendering a page.

Roles are checked here, by a dependency (`page(...)` for HTML pages, `api(...)` for the
JSON endpoints), never inside a handler's body. A page asked for without a session
redirects to the sign-in page; a JSON endpoint answers 401. A role that may not see a
page gets 403. Agents and supervisors see the stations of their station group only:
`Viewer.station_scope()` is the condition every query of theirs adds.

Every state-changing request carries the session's CSRF token: a form's hidden `csrf`
field or, for the JSON endpoints, the `X-CSRF-Token` header (`check_csrf`, `api_csrf`).
Handlers are plain functions (FastAPI runs them on its thread pool), so the database
work and the rendering never hold the event loop.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import ColumnElement, false, true
from starlette.concurrency import run_in_threadpool

from district.accounts import Account, Session, load_session
from district.db import Database
from district.models import Station
from district.stations import district_name

from .strings import LANGUAGES, Language, text

CONSOLE = "/console"
API = f"{CONSOLE}/api"
SESSION_COOKIE = "doorstep_session"
LOGIN_COOKIE = "doorstep_login"  # the CSRF token of the sign-in form, before any session
LANG_COOKIE = "doorstep_lang"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
STATIC = Path(__file__).resolve().parent.parent / "static"

ALL_ROLES = ("agent", "supervisor", "admin", "auditor")


class ConsoleError(Exception):
    """A refusal the console shows as a page (or a problem for the JSON endpoints):
    `key` names its text in `strings`."""

    def __init__(self, status: int, key: str, code: str = "") -> None:
        super().__init__(key)
        self.status = status
        self.key = key
        self.code = code or {401: "unsigned", 403: "forbidden", 404: "not_found"}.get(
            status, "malformed"
        )


class LoginRequired(Exception):
    """No live session: go to the sign-in page (and come back to `next_url`)."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class GoTo(Exception):
    """Not this page yet: the viewer must first see `location` (their new password)."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


@dataclass(frozen=True)
class Viewer:
    """The signed-in person looking at a page."""

    session: Session
    language: Language
    address: str

    @property
    def account(self) -> Account:
        return self.session.account

    @property
    def role(self) -> str:
        return self.session.account.role

    def station_scope(self) -> ColumnElement[bool]:
        """The stations this viewer may see, as a condition on `Station`: one object per
        role and group (`_station_scope`), so a query built on it can be built once."""
        return _station_scope(self.role, self.account.station_group)

    def sees_group(self, group: str) -> bool:
        if self.role == "admin":
            return True
        return self.role in ("agent", "supervisor") and group == self.account.station_group


@functools.lru_cache(maxsize=1024)
def _station_scope(role: str, station_group: str | None) -> ColumnElement[bool]:
    """The condition on `Station` for a role and station group. Cached: it depends on
    nothing else, and a SQL condition is immutable, so every request of one group shares
    it (nothing of a request or a session is in it)."""
    if role == "admin":
        return true()
    if role in ("agent", "supervisor") and station_group:
        return Station.station_group == station_group
    return false()


def database(request: Request) -> Database:
    db: Database | None = request.app.state.db
    if db is None:
        raise ConsoleError(500, "error_server", "server_error")
    return db


def language_of(request: Request) -> Language:
    chosen = request.cookies.get(LANG_COOKIE)
    return chosen if chosen in LANGUAGES else "zh"  # type: ignore[return-value]


def address_of(request: Request) -> str:
    return request.client.host if request.client else ""


async def current_session(request: Request) -> Session | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    return await run_in_threadpool(load_session, database(request), token)


def _guard(roles: tuple[str, ...], *, json: bool, allow_pending: bool = False) -> Callable[
    [Request], Awaitable[Viewer]
]:
    for role in roles:
        assert role in ALL_ROLES, role

    async def dependency(request: Request) -> Viewer:
        session = await current_session(request)
        if session is None or (session.pending and not allow_pending):
            if json:
                raise ConsoleError(401, "session_ended", "unsigned")
            if session is not None:  # the password was right: the TOTP code is owed
                raise GoTo(f"{CONSOLE}/totp")
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise LoginRequired(target)
        if session.account.must_change_password and not allow_pending:
            if json:
                raise ConsoleError(403, "password_must_change", "password_change")
            if request.url.path != f"{CONSOLE}/password":
                raise GoTo(f"{CONSOLE}/password")
        if session.account.role not in roles:
            raise ConsoleError(403, "error_forbidden")
        return Viewer(session, language_of(request), address_of(request))

    return dependency


def page(*roles: str) -> Callable[[Request], Awaitable[Viewer]]:
    """A dependency for an HTML page open to `roles` (all roles when none are named)."""
    return _guard(roles or ALL_ROLES, json=False)


def api(*roles: str) -> Callable[[Request], Awaitable[Viewer]]:
    """A dependency for a JSON endpoint open to `roles`."""
    return _guard(roles or ALL_ROLES, json=True)


def pending_page() -> Callable[[Request], Awaitable[Viewer]]:
    """A dependency for the pages a half-signed-in session may see (TOTP, password)."""
    return _guard(ALL_ROLES, json=False, allow_pending=True)


def check_csrf(viewer: Viewer, sent: str | None) -> None:
    if not sent or not secrets.compare_digest(sent, viewer.session.csrf_token):
        raise ConsoleError(403, "error_csrf", "csrf")


def api_csrf(request: Request, viewer: Viewer) -> None:
    check_csrf(viewer, request.headers.get(CSRF_HEADER))


# -- rendering --------------------------------------------------------------------------


def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals["quote"] = quote
    return environment


ENVIRONMENT = _environment()

NAV: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("nav_inbox", f"{CONSOLE}/inbox", ("agent", "supervisor")),
    ("nav_calls", f"{CONSOLE}/call", ("agent", "supervisor")),
    ("nav_callbacks", f"{CONSOLE}/callbacks", ("agent", "supervisor")),
    ("nav_stations", f"{CONSOLE}/stations", ("admin", "supervisor")),
    ("nav_users", f"{CONSOLE}/users", ("admin", "supervisor")),
    ("nav_catalog", f"{CONSOLE}/catalog", ("admin",)),
    ("nav_reports", f"{CONSOLE}/reports", ("admin", "supervisor")),
    ("nav_audit", f"{CONSOLE}/audit", ("auditor",)),
)

HOME_OF_ROLE = {
    "agent": f"{CONSOLE}/inbox",
    "supervisor": f"{CONSOLE}/inbox",
    "admin": f"{CONSOLE}/stations",
    "auditor": f"{CONSOLE}/audit",
}


def _under(path: str, href: str) -> bool:
    """Whether `path` is the page `href` or one below it (/console/call is not
    /console/callbacks)."""
    return path == href or path.startswith(href.rstrip("/") + "/")


def render(
    request: Request,
    template: str,
    /,
    *,
    viewer: Viewer | None = None,
    status: int = 200,
    title_key: str = "console_title",
    district: str | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render `template` with the console's frame: texts in the viewer's language,
    the navigation of their role, the CSRF token, the district's name (read here unless
    the handler read it in its own transaction and passes it as `district`)."""
    language = viewer.language if viewer else language_of(request)
    db: Database | None = request.app.state.db
    if district is None:
        district = ""
        if db is not None:
            with db.read() as connection:
                district = district_name(db, connection)

    def t(key: str, **fields: object) -> str:
        return text(language, key, **fields)

    nav = []
    if viewer is not None and not viewer.session.pending:
        nav = [
            {"label": t(key), "href": href, "current": _under(request.url.path, href)}
            for key, href, roles in NAV
            if viewer.role in roles
        ]
    html = ENVIRONMENT.get_template(template).render(
        t=t,
        lang=language,
        html_lang="zh-CN" if language == "zh" else "en",
        viewer=viewer,
        csrf=viewer.session.csrf_token if viewer else "",
        nav=nav,
        district=district,
        title=t(title_key),
        path=request.url.path,
        request_query=request.url.query,
        console=CONSOLE,
        **context,
    )
    return HTMLResponse(html, status_code=status)


def redirect(url: str) -> Response:
    return Response(status_code=303, headers={"Location": url})
