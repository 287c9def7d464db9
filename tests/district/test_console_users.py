"""The console's accounts page: admins see and change every account (each change an audit
entry, one-time passwords shown once), supervisors see their own group's agents and work
and nothing of another group's, agents and auditors nothing; forms without their CSRF
token and hostile input change nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from district import audit
from district.accounts import find_user
from district.db import Database
from district.models import Application, Decision
from district.stations import set_group
from tests.district.admin_helpers import logged, refused_without_change
from tests.district.browsing import Person, login, make_account, sign_in
from tests.district.conftest import MakeStation, snapshot

ACTIONS = ("disable", "enable", "reset-password")


def _one_time(page: str) -> str:
    found = re.search(r'<p class="one-time" lang="en">([^<]+)</p>', page)
    assert found, "the page shows no one-time password"
    return found.group(1)


@pytest.fixture
def groups(db: Database) -> None:
    make_account(db, "agent", name="ann", station_group="g1")
    make_account(db, "agent", name="bob-of-g2", station_group="g2")
    make_account(db, "supervisor", name="sue-of-g2", station_group="g2")
    make_account(db, "admin", name="root-admin")


@pytest.mark.usefixtures("groups")
def test_an_admin_sees_every_account(db: Database, client: TestClient) -> None:
    admin = sign_in(client, db, "admin")
    page = admin.get("/console/users")
    assert page.status_code == 200
    for name in ("ann", "bob-of-g2", "sue-of-g2", admin.name):
        assert name in page.text
    listed = {row["name"]: row for row in admin.api_get("/console/api/users").json()}
    assert listed["ann"] == {
        "name": "ann", "role": "agent", "station_group": "g1", "totp": False,
        "must_change_password": False, "disabled": False,
    }
    assert "password" not in admin.api_get("/console/api/users").text.replace(
        "must_change_password", ""
    )


@pytest.mark.parametrize("role", ["agent", "auditor"])
def test_agents_and_auditors_may_not(db: Database, client: TestClient, role: str) -> None:
    person = sign_in(client, db, role)
    make_account(db, "agent", name="ann")
    assert person.get("/console/users").status_code == 403
    for path in ("/console/api/users", "/console/api/team"):
        assert person.api_get(path).status_code == 403
    refused_without_change(
        db, lambda: person.post("/console/users", {"name": "eve", "role": "admin"}), 403
    )
    for action in ACTIONS:
        refused_without_change(db, partial(person.post, f"/console/users/ann/{action}"), 403)


@pytest.mark.usefixtures("groups")
def test_a_supervisor_sees_their_agents_work_and_nothing_else(
    db: Database, client: TestClient, make_station: MakeStation, catalog: object
) -> None:
    supervisor = sign_in(client, db, "supervisor", station_group="g1")
    mine, theirs = make_station("Mine", code="GA0001"), make_station("Theirs", code="GB0002")
    set_group(db, "GA0001", "g1")
    set_group(db, "GB0002", "g2")
    for kiosk, count in ((mine, 2), (theirs, 5)):
        applications = [kiosk.application(number=n) for n in range(1, count + 1)]
        assert kiosk.upload(*applications).status_code == 200
    now = datetime.now(UTC)
    with db.write() as connection:
        application_id = connection.scalar(select(Application.id).limit(1))
        for account, days in (("ann", 2), ("ann", 20), ("ann", 40), ("bob-of-g2", 1)):
            connection.execute(
                Decision.__table__.insert().values(
                    application_id=application_id, account=account, from_state="submitted",
                    to_state="accepted", reason=None, at=now - timedelta(days=days),
                )
            )
    page = supervisor.get("/console/users")
    assert page.status_code == 200
    assert "ann" in page.text
    for leak in ("bob-of-g2", "sue-of-g2", "root-admin", "/disable", "/reset-password"):
        assert leak not in page.text
    team = supervisor.api_get("/console/api/team").json()
    assert team["station_group"] == "g1"
    assert team["agents"] == [
        {"name": "ann", "disabled": False, "decisions_7_days": 1, "decisions_30_days": 2}
    ]
    assert team["open_applications"]["submitted"] == 2  # not the other group's 5
    assert "bob-of-g2" not in supervisor.api_get("/console/api/team").text
    assert supervisor.api_get("/console/api/users").status_code == 403
    refused_without_change(
        db, lambda: supervisor.post("/console/users", {"name": "eve", "role": "agent",
                                                       "group": "g1"}), 403
    )
    refused_without_change(db, lambda: supervisor.post("/console/users/ann/disable"), 403)


def test_an_admin_adds_an_account_with_a_one_time_password(db: Database,
                                                           client: TestClient) -> None:
    admin = sign_in(client, db, "admin")
    answer = admin.post("/console/users", {"name": "carol", "role": "agent", "group": "g1"})
    assert answer.status_code == 200
    password = _one_time(answer.text)
    assert password not in admin.get("/console/users").text
    account = find_user(db, "carol")
    assert (account.role, account.station_group, account.must_change_password) == (
        "agent", "g1", True,
    )
    assert logged(db, audit.USER_ADDED)[-1] == (admin.name, "user:carol", "agent")
    assert logged(db, audit.PASSWORD_RESET) == [(admin.name, "user:carol", "")]
    browser = TestClient(client.app)
    signed = login(browser, "carol", password)
    assert signed.status_code == 303
    assert browser.get("/console/inbox", follow_redirects=False).headers["location"] == (
        "/console/password"
    )


def test_an_admin_disables_enables_and_resets(db: Database, client: TestClient) -> None:
    admin = sign_in(client, db, "admin")
    ann = sign_in(client, db, "agent", name="ann")
    disabled = admin.post("/console/users/ann/disable")
    assert disabled.status_code == 303
    assert "账号已停用" in admin.get(disabled.headers["location"]).text
    assert find_user(db, "ann").disabled
    assert ann.get("/console/password").status_code == 303  # her session ended
    assert logged(db, audit.USER_DISABLED) == [(admin.name, "user:ann", "")]

    assert admin.post("/console/users/ann/enable").status_code == 303
    assert not find_user(db, "ann").disabled
    assert logged(db, audit.USER_CHANGED)[-1] == (admin.name, "user:ann", "enabled")

    reset = admin.post("/console/users/ann/reset-password")
    assert reset.status_code == 200
    password = _one_time(reset.text)
    assert find_user(db, "ann").must_change_password
    assert logged(db, audit.PASSWORD_RESET) == [(admin.name, "user:ann", "")]
    assert login(TestClient(client.app), "ann", password).status_code == 303


def test_an_admin_cannot_disable_themselves(db: Database, client: TestClient) -> None:
    admin = sign_in(client, db, "admin")
    assert f"/users/{admin.name}/disable" not in admin.get("/console/users").text
    refused_without_change(db, lambda: admin.post(f"/console/users/{admin.name}/disable"), 400)


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_every_form_needs_its_csrf_token(db: Database, client: TestClient,
                                         token: str | None) -> None:
    admin = sign_in(client, db, "admin")
    make_account(db, "agent", name="ann")
    refused_without_change(
        db, lambda: admin.post("/console/users", {"name": "eve", "role": "admin"}, csrf=token),
        403,
    )
    for action in ACTIONS:
        refused_without_change(
            db, partial(admin.post, f"/console/users/ann/{action}", csrf=token), 403
        )


def test_an_unknown_account_is_404(db: Database, client: TestClient) -> None:
    admin = sign_in(client, db, "admin")
    for name in ("nobody", "x" * 300, "%00", "a%0Ab"):
        for action in ACTIONS:
            refused_without_change(db, partial(admin.post, f"/console/users/{name}/{action}"),
                                   404)


@pytest.mark.parametrize(
    "form",
    [
        {"name": "", "role": "agent", "group": "g1"},
        {"name": "a", "role": "agent", "group": "g1"},
        {"name": "ann\n", "role": "agent", "group": "g1"},
        {"name": "carol", "role": "root", "group": ""},
        {"name": "carol", "role": "agent", "group": ""},
        {"name": "carol", "role": "admin", "group": "g1"},
        {"name": "carol", "role": "agent", "group": "g 1"},
        {"name": "ann", "role": "agent", "group": "g1"},  # taken
        {"name": "x" * 500, "role": "agent", "group": "g1"},
    ],
)
def test_a_bad_new_account_is_a_clear_400(db: Database, client: TestClient,
                                          form: dict[str, str]) -> None:
    admin = sign_in(client, db, "admin")
    make_account(db, "agent", name="ann")
    answer = refused_without_change(db, lambda: admin.post("/console/users", form), 400)
    assert "text/html" in answer.headers["content-type"]


@pytest.fixture
def admin(db: Database, client: TestClient) -> Person:
    return sign_in(client, db, "admin")


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(max_size=70), role=st.sampled_from(["agent", "admin", "x"]) | st.text(
    max_size=12), group=st.text(max_size=62))
def test_hostile_account_forms_never_fail_the_server(
    db: Database, admin: Person, name: str, role: str, group: str
) -> None:
    before = snapshot(db)
    answer = admin.post("/console/users", {"name": name, "role": role, "group": group})
    assert answer.status_code in (200, 400), answer.text[:300]
    if answer.status_code == 400:
        assert snapshot(db) == before
    else:
        assert find_user(db, name).role == role
