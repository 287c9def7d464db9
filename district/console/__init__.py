"""The district console: the web pages where agents decide applications, supervisors
watch their group's work, admins run stations, users and catalogs, and auditors read the
audit log. Server-rendered (Jinja2 templates in `district/templates`, plain JavaScript
and CSS in `district/static`, nothing from outside), Chinese first and English second.

`mount(app)` adds every console route to the district's FastAPI app, the static files,
the security headers and the console's error pages. One module per area:

- `signin`: sign-in, TOTP, sign-out, password, language;
- `inbox`: the agents' inbox and one application (materials, reveals, decisions);
- `call_desk`: the agents' video calls with the stations (`static/call.js`);
- `callbacks`: the call-back requests residents left when no agent could take a call;
- `stations`, `users`, `catalog`, `reports`, `audit_pages`: the admin, supervisor and
  auditor pages.

Each area's JSON endpoints live under `/console/api` and appear in the OpenAPI document;
the HTML pages do not.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from district.accounts import load_session
from district.errors import ProblemError

from .deps import (
    API,
    CONSOLE,
    SESSION_COOKIE,
    STATIC,
    ConsoleError,
    GoTo,
    LoginRequired,
    Viewer,
    address_of,
    language_of,
    redirect,
    render,
)
from .strings import text

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "frame-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    ]
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"geolocation=(), payment=(), usb=()"),
]


def mount(app: FastAPI) -> None:
    """Add the console to the district's app."""
    from . import (
        application,
        audit_pages,
        call_desk,
        callbacks,
        calls,
        catalog,
        inbox,
        reports,
        signin,
        stations,
        users,
    )

    for area in (
        signin,
        inbox,
        application,
        call_desk,
        callbacks,
        calls,
        stations,
        users,
        catalog,
        reports,
        audit_pages,
    ):
        app.include_router(area.router)
    app.mount(f"{CONSOLE}/static", StaticFiles(directory=STATIC), name="console-static")
    app.add_exception_handler(ConsoleError, _console_error)  # type: ignore[arg-type]
    app.add_exception_handler(LoginRequired, _login_required)  # type: ignore[arg-type]
    app.add_exception_handler(GoTo, _go_to)  # type: ignore[arg-type]
    app.add_middleware(_SecurityHeaders)


def is_page(path: str) -> bool:
    """A console page (HTML), as opposed to a JSON endpoint or the stations' API."""
    return path.startswith(CONSOLE) and not path.startswith(f"{API}/")


async def _console_error(request: Request, error: ConsoleError) -> Response:
    if is_page(request.url.path):
        return await error_page(request, error.status, error.key)
    problem = ProblemError(error.status, error.code, text("en", error.key))
    return JSONResponse(
        problem.document(), status_code=error.status, media_type="application/problem+json"
    )


async def error_page(request: Request, status: int, key: str) -> Response:
    """The console's error page, in the frame of whoever is signed in (their navigation
    and sign-out), rendered off the event loop."""

    def build() -> Response:
        db = request.app.state.db
        session = load_session(db, request.cookies.get(SESSION_COOKIE)) if db else None
        viewer = Viewer(session, language_of(request), address_of(request)) if session else None
        return render(
            request,
            "error.html",
            viewer=viewer,
            status=status,
            title_key="error_heading",
            message_key=key,
        )

    return await run_in_threadpool(build)


async def _login_required(request: Request, error: LoginRequired) -> Response:
    ended = "&ended=1" if request.cookies.get(SESSION_COOKIE) else ""
    return redirect(f"{CONSOLE}/login?next={quote(error.next_url, safe='/')}{ended}")


async def _go_to(_request: Request, error: GoTo) -> Response:
    return redirect(error.location)


class _SecurityHeaders:
    """The console's headers on every answer: a Content-Security-Policy without inline
    script, no sniffing, no referrer, no framing by other sites; pages are not cached
    (they can show personal data)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")

        async def add_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(SECURITY_HEADERS)
                if path.startswith(CONSOLE) and not path.startswith(f"{CONSOLE}/static/"):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, add_headers)
