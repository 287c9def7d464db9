"""Every console page the browser tests visit: axe-core runs on each in both languages,
and each is photographed at both screen sizes (build/screenshots/console/).

A page is (role, path, name[, status]): the role whose account (console_site.ACCOUNTS)
opens it, `None` for no one signed in; the path, which may name `{application}`,
`{station}` and `{month}` (console_site.ConsoleSite.placeholders); a short name for the
screenshot's file; the HTTP status it is served with. A new page of the console gets its
line here.
"""

from __future__ import annotations

from dataclasses import dataclass

SIZES = ((1920, 1080), (1366, 768))
SCREENSHOTS = "build/screenshots/console"


@dataclass(frozen=True)
class Page:
    role: str | None
    path: str
    name: str
    status: int = 200

    @property
    def id(self) -> str:
        return f"{self.role or 'anyone'}-{self.name}"


PAGES = (
    Page(None, "/console/login", "sign-in"),
    Page("agent", "/console/inbox", "inbox"),
    Page("agent", "/console/inbox?sort=oldest&state=submitted", "inbox-filtered"),
    Page("agent", "/console/applications/{application}", "application"),
    Page("agent", "/console/call", "call-desk"),
    Page("agent", "/console/callbacks", "callbacks"),
    Page("agent", "/console/password", "password"),
    Page("agent", "/console/stations", "forbidden", 403),
    Page("agent", "/console/applications/00000000-0000-4000-8000-000000000000", "not-found", 404),
    Page("supervisor", "/console/inbox", "inbox"),
    Page("supervisor", "/console/applications/{application}", "application"),
    Page("supervisor", "/console/callbacks", "callbacks"),
    Page("supervisor", "/console/stations", "stations"),
    Page("supervisor", "/console/stations/{station}", "station"),
    Page("supervisor", "/console/users", "users"),
    Page("supervisor", "/console/reports", "reports"),
    Page("admin", "/console/stations", "stations"),
    Page("admin", "/console/stations/{station}", "station"),
    Page("admin", "/console/users", "users"),
    Page("admin", "/console/catalog", "catalog"),
    Page("admin", "/console/reports", "reports"),
    Page("admin", "/console/reports?kind=month&month={month}", "reports-month"),
    Page("admin", "/console/inbox", "forbidden", 403),
    Page("auditor", "/console/audit", "audit"),
    Page("auditor", "/console/audit?action=sign_in", "audit-filtered"),
    Page("auditor", "/console/stations", "forbidden", 403),
)
