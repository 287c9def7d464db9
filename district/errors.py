"""The district's errors: what a command or the server refuses, in words for an admin.

`DistrictError` is what the `district` command reports (exit 1, or `{"error", "message"}`
with `--json`). `ProblemError` is an HTTP refusal, answered as an RFC 9457 problem
document (`kiosk.sync.wire.Problem`). Neither ever carries personal data: both end up in
logs and on screens.
"""

from __future__ import annotations

from typing import Any


class DistrictError(Exception):
    """A refusal or failure an admin can act on."""

    @property
    def name(self) -> str:
        return type(self).__name__


class DatabaseError(DistrictError):
    """The database cannot be opened, migrated or used."""


class KeyFileError(DistrictError):
    """The server key file is missing, unreadable, damaged or not this database's key."""


class NotFound(DistrictError):
    """No station, application or catalog by that id."""


class Refused(DistrictError):
    """A request an admin made that the district will not do (bad input, wrong state)."""


class Overtaken(Refused):
    """A decision made on an application that someone else decided meanwhile: nothing
    was changed, and the person is shown the application as it is now."""


TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    422: "Unprocessable Content",
    500: "Internal Server Error",
}


class ProblemError(Exception):
    """An HTTP refusal: status, a `wire.Problem` code and a sentence for staff."""

    def __init__(self, status: int, code: str, detail: str = "", **extra: Any) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.extra = extra

    def document(self) -> dict[str, Any]:
        return {
            "type": "about:blank",
            "title": TITLES.get(self.status, "Error"),
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
            **self.extra,
        }


def field_summary(exc: ValueError, prefix: str = "the body is not what the protocol says") -> str:
    """Which fields of a body were wrong and how, never their values (they may be a
    resident's): what a 422 problem and an `invalid` verdict say."""
    errors = getattr(exc, "errors", None)
    if errors is None:
        return "the body is not valid JSON"
    problems = []
    for error in errors(include_url=False, include_input=False, include_context=False)[:10]:
        where = ".".join(str(part) for part in error["loc"]) or "body"
        problems.append(f"{where}: {error['type']}")
    return f"{prefix}: " + "; ".join(problems)
