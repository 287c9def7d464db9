"""The console's sign-in and sessions under attack: CSRF, session fixation, expired and
logged-out sessions, throttling, TOTP replays, disabled accounts, password resets, open
redirects, and the headers every page carries. Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from district import accounts
from district.accounts import (
    ABSOLUTE_LIMIT,
    IDLE_LIMIT,
    MAX_ACCOUNT_FAILURES,
    MAX_ADDRESS_FAILURES,
)
from district.db import Database
from district.models import AuditEntry, ConsoleSession, LoginAttempt, User
from tests.district.browsing import PASSWORD, csrf_of, login, make_account, sign_in
from tests.district.conftest import snapshot

TEMPLATES = Path(__file__).resolve().parents[2] / "district" / "templates"


def browser(client: TestClient, *, https: bool = False) -> TestClient:
    base = "https://127.0.0.1" if https else "http://127.0.0.1"
    return TestClient(client.app, base_url=base)


def audit_actions(db: Database) -> list[tuple[str, str, str]]:
    with db.read() as connection:
        return [
            (row.action, row.result, row.detail)
            for row in connection.execute(select(AuditEntry).order_by(AuditEntry.seq))
        ]


# -- CSRF -------------------------------------------------------------------------------


def test_the_sign_in_form_needs_its_own_csrf_token(client: TestClient, db: Database) -> None:
    name = make_account(db, "agent")
    person = browser(client)
    person.get("/console/login")
    for token in ("", "forged", "x" * 200):
        answer = person.post(
            "/console/login",
            data={"name": name, "password": PASSWORD, "csrf": token},
            follow_redirects=False,
        )
        assert answer.status_code in (400, 403)
        assert "doorstep_session" not in answer.cookies
    # a token from another browser's form does not work in this one
    other = browser(client)
    stolen = csrf_of(other.get("/console/login").text)
    answer = person.post(
        "/console/login", data={"name": name, "password": PASSWORD, "csrf": stolen},
        follow_redirects=False,
    )
    assert answer.status_code == 403


def test_state_changing_forms_refuse_a_missing_or_wrong_token(
    client: TestClient, db: Database
) -> None:
    agent = sign_in(client, db, "agent")
    before = snapshot(db)
    for token in (None, "wrong", agent.csrf[:-1] + "x"):
        answer = agent.post(
            "/console/password",
            {"current": PASSWORD, "new": "another long one", "repeat": "another long one"},
            csrf=token,
        )
        assert answer.status_code in (400, 403), answer.text
    assert agent.post("/console/logout", csrf="wrong").status_code == 403
    after = snapshot(db)
    # the only rows that may change are the sessions' last request times
    for table in ("users", "audit_log"):
        assert after[table] == before[table]
    assert agent.get("/console/password").status_code == 200  # still signed in


# -- sessions ---------------------------------------------------------------------------


def test_a_session_cookie_set_before_sign_in_is_never_adopted(
    client: TestClient, db: Database
) -> None:
    name = make_account(db, "agent")
    person = browser(client)
    planted = "attacker-chosen-session-token"
    person.cookies.set("doorstep_session", planted)
    answer = login(person, name)
    assert answer.status_code == 303
    issued = answer.cookies["doorstep_session"]
    assert issued != planted
    with db.read() as connection:
        stored = set(connection.scalars(select(ConsoleSession.token_sha256)))
    assert accounts.token_sha256(planted) not in stored
    assert accounts.token_sha256(issued) in stored
    assert issued not in stored  # only the token's hash is kept


def test_every_sign_in_gets_a_new_token(client: TestClient, db: Database) -> None:
    name = make_account(db, "agent")
    first, second = browser(client), browser(client)
    token_one = login(first, name).cookies["doorstep_session"]
    token_two = login(second, name).cookies["doorstep_session"]
    assert token_one != token_two


def test_the_session_cookie_is_httponly_samesite_and_secure_over_tls(
    client: TestClient, db: Database
) -> None:
    name = make_account(db, "agent")
    plain = login(browser(client), name).headers["set-cookie"].lower()
    assert "httponly" in plain and "samesite=strict" in plain and "secure" not in plain
    secure = login(browser(client, https=True), name).headers["set-cookie"].lower()
    assert "httponly" in secure and "samesite=strict" in secure and "secure" in secure


@pytest.mark.parametrize(
    ("column", "age"),
    [("last_seen_at", IDLE_LIMIT + timedelta(seconds=5)),
     ("created_at", ABSOLUTE_LIMIT + timedelta(seconds=5))],
)
def test_idle_and_old_sessions_end(
    client: TestClient, db: Database, column: str, age: timedelta
) -> None:
    agent = sign_in(client, db, "agent")
    with db.write() as connection:
        connection.execute(
            update(ConsoleSession).values({column: datetime.now(UTC) - age})
        )
    answer = agent.get("/console/password")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/console/login?next=")
    assert "ended=1" in answer.headers["location"]
    with db.read() as connection:
        assert connection.scalar(select(func.count()).select_from(ConsoleSession)) == 0


def test_an_active_session_lives_past_the_idle_limit(client: TestClient, db: Database) -> None:
    agent = sign_in(client, db, "agent")
    with db.write() as connection:
        connection.execute(
            update(ConsoleSession).values(
                last_seen_at=datetime.now(UTC) - IDLE_LIMIT + timedelta(minutes=1)
            )
        )
    assert agent.get("/console/password").status_code == 200  # this request moves it on
    with db.read() as connection:
        seen = connection.scalar(select(ConsoleSession.last_seen_at))
    assert datetime.now(UTC) - seen < timedelta(minutes=1)


def test_a_logged_out_cookie_is_refused(client: TestClient, db: Database) -> None:
    agent = sign_in(client, db, "agent")
    token = agent.client.cookies["doorstep_session"]
    assert agent.post("/console/logout").status_code == 303
    replay = browser(client)
    replay.cookies.set("doorstep_session", token)
    assert replay.get("/console/password", follow_redirects=False).status_code == 303
    assert ("sign_out", "ok", "") in audit_actions(db)


def test_disabling_an_account_ends_its_sessions(client: TestClient, db: Database) -> None:
    agent = sign_in(client, db, "agent")
    accounts.disable_user(db, agent.name)
    assert agent.get("/console/password").status_code == 303
    answer = login(browser(client), agent.name)
    assert answer.status_code == 401
    assert "此账号已停用" in answer.text


def test_a_reset_password_must_be_changed_first(client: TestClient, db: Database) -> None:
    agent = sign_in(client, db, "agent")
    one_time = accounts.reset_password(db, agent.name)
    assert agent.get("/console/password").status_code == 303  # the old session ended
    person = browser(client)
    assert login(person, agent.name, one_time).status_code == 303
    assert person.get("/console/", follow_redirects=False).headers["location"] == (
        "/console/password"
    )
    page = person.get("/console/password")
    assert "密码已被重置" in page.text
    changed = person.post(
        "/console/password",
        data={"current": one_time, "new": "my own new password", "repeat": "my own new password",
              "csrf": csrf_of(page.text)},
    )
    assert changed.status_code == 200 and "密码已修改" in changed.text
    assert person.get("/console/", follow_redirects=False).headers["location"] == (
        "/console/inbox"
    )


# -- throttling -------------------------------------------------------------------------


def test_an_account_is_throttled_after_repeated_failures(client: TestClient, db: Database) -> None:
    name = make_account(db, "agent")
    person = browser(client)
    for _ in range(MAX_ACCOUNT_FAILURES):
        assert login(person, name, "not the password").status_code == 401
    throttled = login(person, name)  # even the right password now
    assert throttled.status_code == 429
    assert "尝试次数过多" in throttled.text
    assert "doorstep_session" not in throttled.cookies
    # another account from the same address is not locked out by this one
    other = make_account(db, "agent", name="someone-else")
    assert login(browser(client), other).status_code == 303
    # when the window has passed, the right password works again
    with db.write() as connection:
        connection.execute(
            update(LoginAttempt).values(at=datetime.now(UTC) - timedelta(minutes=16))
        )
    assert login(browser(client), name).status_code == 303
    results = [entry for entry in audit_actions(db) if entry[0] == "sign_in_failed"]
    assert ("sign_in_failed", "refused", "throttled") in results


def test_an_address_is_throttled_across_accounts(client: TestClient, db: Database) -> None:
    name = make_account(db, "agent")
    person = browser(client)
    for number in range(MAX_ADDRESS_FAILURES):
        login(person, f"guess-{number}", "not the password")
    assert login(person, name).status_code == 429


def test_an_unknown_account_and_a_wrong_password_read_the_same(
    client: TestClient, db: Database
) -> None:
    name = make_account(db, "agent")
    wrong = login(browser(client), name, "not the password")
    unknown = login(browser(client), "nobody-here", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    message = "账号或密码不正确"
    assert message in wrong.text and message in unknown.text


# -- second factor ----------------------------------------------------------------------


def test_totp_is_needed_and_a_code_works_once(client: TestClient, db: Database) -> None:
    name = make_account(db, "admin", totp=True)
    person = browser(client)
    answer = login(person, name)
    assert answer.headers["location"] == "/console/totp"
    # the half-signed-in session sees nothing but the TOTP page
    assert person.get("/console/", follow_redirects=False).headers["location"] == (
        "/console/totp"
    )
    page = person.get("/console/totp")
    wrong = person.post(
        "/console/totp", data={"code": "000000", "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert wrong.status_code == 401
    code = accounts.totp_now(db, name)
    done = person.post(
        "/console/totp", data={"code": code, "csrf": csrf_of(page.text)}, follow_redirects=False
    )
    assert done.status_code == 303
    # the same code again, in another browser, is a replay
    again = browser(client)
    login(again, name)
    page = again.get("/console/totp")
    replay = again.post(
        "/console/totp", data={"code": code, "csrf": csrf_of(page.text)}, follow_redirects=False
    )
    assert replay.status_code == 401


def test_admins_without_totp_are_refused_when_the_district_requires_it(
    client: TestClient, db: Database
) -> None:
    admin = make_account(db, "admin")
    agent = make_account(db, "agent")
    accounts.set_admin_totp_required(db, True)
    refused = login(browser(client), admin)
    assert refused.status_code == 401 and "动态口令" in refused.text
    assert login(browser(client), agent).status_code == 303  # only admins
    accounts.set_totp(db, admin)
    assert login(browser(client), admin).headers["location"] == "/console/totp"


# -- redirects and headers --------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)",
     "/v1/health", "http://127.0.0.1/console/inbox"],
)
def test_sign_in_never_redirects_off_the_console(
    client: TestClient, db: Database, target: str
) -> None:
    name = make_account(db, "agent")
    person = browser(client)
    form = person.get("/console/login", params={"next": target})
    answer = person.post(
        "/console/login",
        data={"name": name, "password": PASSWORD, "csrf": csrf_of(form.text), "next": target},
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/console/"


def test_an_error_page_keeps_the_signed_in_frame(client: TestClient, db: Database) -> None:
    agent = sign_in(client, db, "agent")
    page = agent.get("/console/audit")
    assert page.status_code == 403
    assert "退出登录" in page.text and "/console/inbox" in page.text


def test_every_page_carries_the_security_headers(client: TestClient, db: Database) -> None:
    agent = sign_in(client, db, "agent")
    for answer in (agent.get("/console/password"), browser(client).get("/console/login"),
                   agent.get("/console/no-such-page")):
        policy = answer.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert "frame-ancestors 'self'" in policy
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["cache-control"] == "no-store"


def test_no_template_has_inline_script_or_style() -> None:
    for template in TEMPLATES.glob("*.html"):
        source = template.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", source), template.name
        assert not re.search(r"\sstyle\s*=", source), template.name
        assert not re.search(r"\son[a-z]+\s*=", source), template.name  # onclick= …
        # nothing loaded from elsewhere (an SVG's namespace is a name, not a load)
        outside = re.sub(r'xmlns(:\w+)?="http://www\.w3\.org/[^"]*"', "", source)
        assert "http://" not in outside and "https://" not in outside, template.name


# -- hostile sign-in forms ----------------------------------------------------------------


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.text(max_size=300),
    password=st.text(max_size=300),
    next_url=st.text(max_size=600),
)
@example(name="\x00", password="0", next_url="")  # PostgreSQL refuses a NUL in text
def test_hostile_sign_in_forms_never_fail_the_server(
    client: TestClient, db: Database, name: str, password: str, next_url: str
) -> None:
    person = browser(client)
    form = person.get("/console/login")
    answer = person.post(
        "/console/login",
        data={"name": name, "password": password, "csrf": csrf_of(form.text), "next": next_url},
        follow_redirects=False,
    )
    assert answer.status_code < 500
    assert answer.status_code in (400, 401, 429)
    with db.read() as connection:
        assert connection.scalar(select(func.count()).select_from(ConsoleSession)) == 0
        assert connection.scalar(select(func.count()).select_from(User)) == 0


def test_a_name_that_is_no_account_is_never_stored(client: TestClient, db: Database) -> None:
    """People type their ID number, or their password, into the name field."""
    typed = "310101195001011234"
    person = browser(client)
    for _ in range(MAX_ACCOUNT_FAILURES):
        assert login(person, typed, "whatever it is").status_code == 401
    assert login(person, typed, "whatever it is").status_code == 429  # still counted
    for rows in snapshot(db).values():
        assert typed not in repr(rows)
    assert ("sign_in_failed", "refused", "wrong") in audit_actions(db)
