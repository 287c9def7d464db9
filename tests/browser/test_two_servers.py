"""Two `district serve` processes on one PostgreSQL database serve one console: the
district keeps nothing between requests but the database, so a session made on one is
good on the other, ended on one it is refused by both, and a decision made through one
is what the other shows. Spoken to with httpx, as a browser would (no browser needed)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from district.console.deps import SESSION_COOKIE
from tests.browser.console_site import ConsoleSite, SiteFactory, by_role
from tests.district.browsing import PASSWORD, csrf_of
from tests.district.test_sync_e2e import DistrictServer

_VERSION = re.compile(r'name="version" value="([0-9]+)"')


@pytest.fixture
def second(sites: SiteFactory, tmp_path: Path) -> Iterator[tuple[ConsoleSite, DistrictServer]]:
    """The seeded PostgreSQL console, and a second server process on its database."""
    site = sites("postgresql")
    other = DistrictServer(site.server.url, site.server.key_file, tmp_path / "second.log")
    other.start()
    yield site, other
    other.stop()
    log = other.log.read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in log, log[-3000:]


def sign_in(base: str, name: str) -> str:
    """The session cookie of `name`, signed in through `base`'s form."""
    with httpx.Client(base_url=base) as browser:
        form = browser.get("/console/login")
        answer = browser.post(
            "/console/login",
            data={"name": name, "password": PASSWORD, "csrf": csrf_of(form.text)},
        )
        assert answer.status_code == 303, answer.text
        return answer.cookies[SESSION_COOKIE]


def test_one_session_and_one_decision_across_two_processes(
    second: tuple[ConsoleSite, DistrictServer],
) -> None:
    site, other = second
    agent = by_role("agent")
    token = sign_in(site.base, agent.name)
    cookie = {SESSION_COOKIE: token}
    a = httpx.Client(base_url=site.base, cookies=cookie)
    b = httpx.Client(base_url=other.base, cookies=cookie)
    target = site.stations["EAST01"].application_ids[3]

    on_b = b.get("/console/inbox")
    assert on_b.status_code == 200 and agent.name in on_b.text
    assert target in on_b.text

    page = a.get(f"/console/applications/{target}")
    assert page.status_code == 200
    version = _VERSION.search(page.text)
    assert version, "no decision form on the application page"
    decided = a.post(
        f"/console/applications/{target}/decision",
        data={"state": "accepted", "reason": "", "version": version.group(1),
              "csrf": csrf_of(page.text)},
    )
    assert decided.status_code == 303, decided.text
    seen = b.get(f"/console/api/applications/{target}")
    assert seen.status_code == 200 and seen.json()["state"] == "accepted"

    signed_out = b.post("/console/logout", data={"csrf": csrf_of(on_b.text)})
    assert signed_out.status_code == 303
    b.cookies.set(SESSION_COOKIE, token)  # B's answer told its browser to forget it
    for server in (a, b):
        assert server.cookies[SESSION_COOKIE] == token
        refused = server.get("/console/inbox")
        assert refused.status_code == 303
        assert refused.headers["location"].startswith("/console/login?")
        assert server.get(f"/console/api/applications/{target}").status_code == 401
    a.close()
    b.close()
