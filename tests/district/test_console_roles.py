"""Every console route against every role, and against another station group's records.

`POLICY` is the console's access rule written down once, from the issue: which roles may
use each route, and whether it is scoped to the viewer's station group. The test walks
the app's real routes, so a new route that is not in `POLICY` fails here until someone
decides who may use it. For each route and each viewer (nobody; an agent and a supervisor
of group g1 and of g2; an admin; an auditor), with the path naming g1's records:

- nobody: a page sends them to the sign-in page, a JSON endpoint answers 401;
- a role the route is not for: 403, and nothing stored changes;
- a role it is for, but of group g2: 404 (nothing says the record exists) and nothing
  leaks: none of g1's references, station codes or agents' names in the answer;
- a role it is for, of group g1 (or an admin): not refused for its role.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import update

from district.db import Database
from district.models import Station
from tests.district.browsing import Person, sign_in
from tests.district.conftest import MakeStation, snapshot

AGENTS = frozenset({"agent", "supervisor"})
ADMIN_AND_SUPERVISOR = frozenset({"admin", "supervisor"})
ADMIN = frozenset({"admin"})
AUDITOR = frozenset({"auditor"})
EVERYONE = frozenset({"agent", "supervisor", "admin", "auditor"})


@dataclass(frozen=True)
class Rule:
    roles: frozenset[str]
    scoped: bool = False  # the path names a record of one station group
    public: bool = False  # needs no session at all


POLICY: dict[tuple[str, str], Rule] = {
    ("GET", "/console"): Rule(EVERYONE),
    ("GET", "/console/"): Rule(EVERYONE),
    ("GET", "/console/login"): Rule(EVERYONE, public=True),
    ("POST", "/console/login"): Rule(EVERYONE, public=True),
    ("GET", "/console/totp"): Rule(EVERYONE),
    ("POST", "/console/totp"): Rule(EVERYONE),
    ("POST", "/console/logout"): Rule(EVERYONE, public=True),
    ("GET", "/console/password"): Rule(EVERYONE),
    ("POST", "/console/password"): Rule(EVERYONE),
    ("GET", "/console/lang/{language}"): Rule(EVERYONE, public=True),
    # agents' work
    ("GET", "/console/inbox"): Rule(AGENTS),
    ("GET", "/console/call"): Rule(AGENTS),
    ("GET", "/console/calls/{call_id}/captures/{position}"): Rule(AGENTS, scoped=True),
    ("GET", "/console/callbacks"): Rule(AGENTS),
    ("POST", "/console/callbacks/{callback_id}/reveal"): Rule(AGENTS, scoped=True),
    ("POST", "/console/callbacks/{callback_id}/done"): Rule(AGENTS, scoped=True),
    ("GET", "/console/api/applications"): Rule(AGENTS),
    ("GET", "/console/applications/{application_id}"): Rule(AGENTS, scoped=True),
    ("POST", "/console/applications/{application_id}/access"): Rule(AGENTS, scoped=True),
    ("GET", "/console/applications/{application_id}/materials/{position}"): Rule(
        AGENTS, scoped=True
    ),
    ("POST", "/console/applications/{application_id}/decision"): Rule(AGENTS, scoped=True),
    ("GET", "/console/api/applications/{application_id}"): Rule(AGENTS, scoped=True),
    ("POST", "/console/api/applications/{application_id}/decisions"): Rule(
        AGENTS, scoped=True
    ),
    # stations, accounts, catalog
    ("GET", "/console/stations"): Rule(ADMIN_AND_SUPERVISOR),
    ("GET", "/console/stations/{code}"): Rule(ADMIN_AND_SUPERVISOR, scoped=True),
    ("GET", "/console/api/stations"): Rule(ADMIN_AND_SUPERVISOR),
    ("GET", "/console/api/stations/{code}"): Rule(ADMIN_AND_SUPERVISOR, scoped=True),
    ("POST", "/console/stations"): Rule(ADMIN),
    ("POST", "/console/stations/{code}/rename"): Rule(ADMIN),
    ("POST", "/console/stations/{code}/group"): Rule(ADMIN),
    ("POST", "/console/stations/{code}/code"): Rule(ADMIN),
    ("POST", "/console/stations/{code}/revoke"): Rule(ADMIN),
    ("GET", "/console/users"): Rule(ADMIN_AND_SUPERVISOR),
    ("GET", "/console/api/users"): Rule(ADMIN),
    ("GET", "/console/api/team"): Rule(frozenset({"supervisor"})),
    ("POST", "/console/users"): Rule(ADMIN),
    ("POST", "/console/users/{name}/disable"): Rule(ADMIN),
    ("POST", "/console/users/{name}/enable"): Rule(ADMIN),
    ("POST", "/console/users/{name}/reset-password"): Rule(ADMIN),
    ("GET", "/console/catalog"): Rule(ADMIN),
    ("POST", "/console/catalog"): Rule(ADMIN),
    ("GET", "/console/api/catalog"): Rule(ADMIN),
    # reports and audit
    ("GET", "/console/reports"): Rule(ADMIN_AND_SUPERVISOR),
    ("GET", "/console/reports.csv"): Rule(ADMIN_AND_SUPERVISOR),
    ("GET", "/console/reports.pdf"): Rule(ADMIN_AND_SUPERVISOR),
    ("GET", "/console/audit"): Rule(AUDITOR),
    ("GET", "/console/api/audit"): Rule(AUDITOR),
}
VIEWERS = ("nobody", "agent-g1", "supervisor-g1", "agent-g2", "supervisor-g2", "admin",
           "auditor")
VOLATILE = {"console_sessions", "nonces", "audit_checkpoints"}


def console_routes(routes: list[Any]) -> Iterator[tuple[str, str]]:
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from console_routes(inner.routes)
        elif isinstance(route, APIRoute) and route.path.startswith("/console"):
            for method in sorted(route.methods):
                yield method, route.path


def test_every_console_route_has_a_rule(client: TestClient) -> None:
    found = set(console_routes(client.app.routes))
    assert found - POLICY.keys() == set(), "routes nobody decided the roles of"
    assert POLICY.keys() - found == set(), "rules for routes that no longer exist"


@dataclass
class World:
    people: dict[str, Person | None]
    fill: dict[str, str]
    secrets: list[str]  # what g2's viewers must never see


@pytest.fixture
def world(client: TestClient, db: Database, make_station: MakeStation, catalog: object
          ) -> World:
    first = make_station("一号站", code="RL0001")
    second = make_station("二号站", code="RL0002")
    with db.write() as connection:
        for station, group in ((first, "g1"), (second, "g2")):
            connection.execute(
                update(Station).where(Station.id == station.station_id)
                .values(station_group=group)
            )
    page = b"\xff\xd8\xff\xe0 a page of g1's application"
    first.put_blob(page)
    application = first.application(materials=[page], number=7)
    assert first.upload(application).status_code == 200
    second.upload(second.application(number=8))
    request = {
        "id": str(uuid.uuid4()), "phone": "13812345678", "item_code": "MI-001",
        "item_title": "g1's call-back", "preferred": "today",
        "requested_at": "2026-12-06T09:30:00+00:00",
    }
    answer = first.request("POST", "/v1/callbacks:batch", json={"callbacks": [request]})
    assert answer.json()["results"][0]["verdict"] == "accepted"
    people: dict[str, Person | None] = {"nobody": None}
    for viewer in VIEWERS[1:]:
        role, _, group = viewer.partition("-")
        people[viewer] = sign_in(client, db, role, name=f"rl-{viewer}", station_group=group)
    fill = {
        "application_id": application["id"],
        "position": "1",
        "call_id": "00000000-0000-4000-8000-000000000000",  # a call's captures: own agent only
        "callback_id": request["id"],
        "code": first.station_code,
        "name": "rl-agent-g1",
        "language": "en",
    }
    return World(
        people, fill,
        [application["reference"], first.station_code, "rl-agent-g1", "138****5678"],
    )


def _stable(db: Database) -> dict[str, Any]:
    return {name: rows for name, rows in snapshot(db).items() if name not in VOLATILE}


def test_each_viewer_gets_what_its_role_allows(
    client: TestClient, db: Database, world: World
) -> None:
    """One world for every route (it is slow to build). A state-changing request is sent
    only by the viewers it must refuse (what an allowed one does is each area's own
    tests' business), so the world stays as it was; public routes (sign-out among them)
    are left to their own tests."""
    problems: list[str] = []
    for method, path in sorted(POLICY):
        if POLICY[(method, path)].public:
            continue
        problems += _check_route(client, db, world, method, path)
    assert not problems, "\n".join(problems)


def _check_route(
    client: TestClient, db: Database, world: World, method: str, path: str
) -> list[str]:
    rule = POLICY[(method, path)]
    url = path.format(**world.fill)
    is_api = path.startswith("/console/api/")
    problems = []
    for viewer in VIEWERS:
        person = world.people[viewer]
        role, _, group = viewer.partition("-")
        allowed = person is not None and role in rule.roles and not (
            rule.scoped and group == "g2"
        )
        if method != "GET" and allowed:
            continue
        before = _stable(db)
        sender = person.client if person is not None else TestClient(client.app)
        headers = {"X-CSRF-Token": person.csrf} if person is not None else {}
        if method == "GET":
            answer = sender.get(url, follow_redirects=False, headers=headers)
        elif is_api:
            body = {"state": "accepted", "reason": "", "version": 999}  # a stale version
            answer = sender.post(url, json=body, follow_redirects=False, headers=headers)
        else:
            data = {"csrf": person.csrf} if person is not None else {}
            answer = sender.post(url, data=data, follow_redirects=False)
        status = answer.status_code
        where = f"{viewer} {method} {url}: {status}"
        # the page's own address (in its language switch) is not a leak
        shown = re.sub(r"back=[^\"&]*", "", answer.text)
        if status >= 500:
            problems.append(f"{where}: server error")
        elif person is None:
            if is_api and status != 401:
                problems.append(f"{where}: not 401")
            elif not is_api and not (
                (status == 303 and answer.headers["location"].startswith("/console/login"))
                or (status == 403 and method == "POST")
            ):
                problems.append(f"{where}: not sent to the sign-in page")
        elif role not in rule.roles:
            if status != 403:
                problems.append(f"{where}: not 403")
        elif rule.scoped and group == "g2":
            if status != 404:
                problems.append(f"{where}: not 404")
        elif status == 403 and not path.endswith("/materials/{position}"):
            problems.append(f"{where}: refused its own role")
        if _stable(db) != before:
            problems.append(f"{where}: changed what is stored")
        if person is not None and group == "g2":
            problems += [f"{where}: shows {secret}" for secret in world.secrets
                         if secret in shown]
    return problems
