"""Helpers for the console's tests: accounts of each role, a browser-like client signed in
as one of them (its cookie and CSRF token), and reading a page's forms.

    person = sign_in(client, db, "agent", station_group="g1")
    page = person.get("/console/inbox")
    person.post("/console/applications/ID/decision", {"state": "accepted", ...})

`person.post` adds the session's CSRF token to the form unless told `csrf=None` or given
another; `person.api_post` sends JSON with the `X-CSRF-Token` header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi.testclient import TestClient

from district.accounts import GROUP_ROLES, add_user, set_totp, totp_now
from district.db import Database

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


@dataclass
class Person:
    """A browser signed in to the console."""

    client: TestClient
    name: str
    role: str
    csrf: str

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(path, follow_redirects=False, **kwargs)

    def post(
        self, path: str, data: dict[str, Any] | None = None, *, csrf: str | None = "",
        **kwargs: Any,
    ) -> httpx.Response:
        form = dict(data or {})
        if csrf is not None:
            form.setdefault("csrf", csrf or self.csrf)
        return self.client.post(path, data=form, follow_redirects=False, **kwargs)

    def api_get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(path, follow_redirects=False, **kwargs)

    def api_post(
        self, path: str, body: Any = None, *, csrf: str | None = "", **kwargs: Any
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if csrf is not None:
            headers.setdefault("X-CSRF-Token", csrf or self.csrf)
        return self.client.post(
            path, json=body, headers=headers, follow_redirects=False, **kwargs
        )


def make_account(
    db: Database, role: str, *, name: str | None = None, station_group: str = "",
    totp: bool = False,
) -> str:
    """An account of `role` (agents and supervisors in group g1 unless told)."""
    if role in GROUP_ROLES and not station_group:
        station_group = "g1"
    name = name or f"{role}-{station_group or 'all'}"
    add_user(db, name, role, PASSWORD, station_group=station_group)
    if totp:
        set_totp(db, name)
    return name


def login(client: TestClient, name: str, password: str = PASSWORD) -> httpx.Response:
    """Post the sign-in form as a browser would (its CSRF cookie first)."""
    form = client.get("/console/login")
    return client.post(
        "/console/login",
        data={"name": name, "password": password, "csrf": csrf_of(form.text)},
        follow_redirects=False,
    )


def sign_in(
    client: TestClient, db: Database, role: str, *, name: str | None = None,
    station_group: str = "", totp: bool = False, existing: bool = False,
) -> Person:
    """A new account of `role` (unless `existing`), signed in (with its TOTP code when it
    has one), on its own cookie jar."""
    if not existing:
        name = make_account(db, role, name=name, station_group=station_group, totp=totp)
    assert name is not None
    browser = TestClient(client.app, base_url=str(client.base_url))
    answer = login(browser, name)
    assert answer.status_code == 303, answer.text
    if answer.headers["location"].startswith("/console/totp"):
        page = browser.get("/console/totp")
        answer = browser.post(
            "/console/totp",
            data={"code": totp_now(db, name), "csrf": csrf_of(page.text)},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
    home = browser.get("/console/password")
    return Person(browser, name, role, csrf_of(home.text))
