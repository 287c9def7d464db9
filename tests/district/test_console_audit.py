"""The auditors' pages: the audit log newest first, paged and filtered, the chain's state
at the top, the same entries as JSON; every other role refused; bad filters a 400."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from district import audit
from district.accounts import add_user
from district.console import audit_pages
from district.db import Database
from district.models import AuditEntry
from tests.district.browsing import PASSWORD, Person, login, sign_in


@pytest.fixture
def auditor(client: TestClient, db: Database) -> Person:
    return sign_in(client, db, "auditor")


def _entries(person: Person, query: str = "") -> dict[str, Any]:
    answer = person.api_get(f"/console/api/audit?{query}")
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_log_newest_first_with_an_intact_chain(auditor: Person, db: Database) -> None:
    add_user(db, "agent-one", "agent", PASSWORD, station_group="g1")
    page = auditor.get("/console/audit")
    assert page.status_code == 200
    html = page.text
    assert "完整：共" in html
    rows = html[html.index("<tbody>"):]
    assert rows.index("新增账号") < rows.index(">登录<")  # the newest entry comes first
    assert "user:agent-one" in html and "(command line)" in html
    assert 'style="' not in html
    found = _entries(auditor)["entries"]
    seqs = [entry["seq"] for entry in found]
    assert seqs == sorted(seqs, reverse=True)
    assert found[0]["action"] == audit.USER_ADDED
    assert found[0]["record"] == "user:agent-one"
    assert set(found[0]) == {"seq", "at", "account", "address", "action", "record", "result",
                             "detail", "hash"}


def test_filters(client: TestClient, auditor: Person, db: Database) -> None:
    add_user(db, "agent-one", "agent", PASSWORD, station_group="g1")
    for _ in range(2):
        login(TestClient(client.app), "agent-one", "wrong password!")
    login(TestClient(client.app), "agent-one")
    by_account = _entries(auditor, "account=agent-one")["entries"]
    assert {e["account"] for e in by_account} == {"agent-one"}
    assert [e["action"] for e in by_account] == ["sign_in", "sign_in_failed", "sign_in_failed"]
    failed = _entries(auditor, "action=sign_in_failed")["entries"]
    assert len(failed) == 2 and {e["result"] for e in failed} == {"refused"}
    users = _entries(auditor, "record=user:agent")["entries"]
    assert users and all(e["record"].startswith("user:agent") for e in users)
    assert _entries(auditor, "record=user:agent_")["entries"] == []  # "_" is no wildcard
    everything = _entries(auditor)["entries"]
    newest = datetime.fromisoformat(everything[0]["at"]).astimezone()
    since = (newest + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S")
    assert _entries(auditor, f"since={since}")["entries"] == []
    until = (newest + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S")
    assert len(_entries(auditor, f"until={until}")["entries"]) == len(everything)
    assert _entries(auditor, "until=2000-01-01T00:00")["entries"] == []
    page = auditor.get("/console/audit?account=agent-one&action=sign_in_failed").text
    assert page.count("登录失败") >= 2 + 1  # the two rows and the filter's option
    assert 'value="agent-one"' in page


def test_paging(auditor: Person, db: Database) -> None:
    for number in range(audit_pages.PAGE_SIZE + 5):
        audit.record(db, account="clerk", address="10.0.0.9", action=audit.SETTINGS_CHANGED,
                     record=f"settings:{number}")
    first = _entries(auditor, "account=clerk")
    assert len(first["entries"]) == audit_pages.PAGE_SIZE
    assert first["entries"][0]["record"] == f"settings:{audit_pages.PAGE_SIZE + 4}"
    second = _entries(auditor, f"account=clerk&before={first['older']}")
    assert [e["record"] for e in second["entries"]] == [f"settings:{n}" for n in range(4, -1, -1)]
    assert second["older"] is None
    page = auditor.get("/console/audit?account=clerk").text
    assert "更早的记录" in page
    older = auditor.get(f"/console/audit?account=clerk&before={first['older']}").text
    assert "最新的记录" in older and "更早的记录" not in older


def test_a_broken_chain_is_named_at_the_top(auditor: Person, db: Database) -> None:
    for number in range(3):
        audit.record(db, account="clerk", address="", action=audit.DECISION,
                     record=f"application:{number}")
    with db.write() as connection:
        connection.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(detail="x"))
    html = auditor.get("/console/audit").text
    assert "已被改动：第 3 条记录" in html
    assert 'class="audit-bad"' in html


def test_a_large_log_is_verified_when_asked(
    auditor: Person, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_pages, "AUTO_VERIFY", 0)
    html = auditor.get("/console/audit?account=auditor-all").text
    assert "按需核对" in html and "完整：共" not in html
    assert "/console/audit?account=auditor-all&amp;verify=1" in html
    assert "完整：共" in auditor.get("/console/audit?account=auditor-all&verify=1").text


def test_what_people_typed_is_shown_as_text(
    client: TestClient, db: Database, auditor: Person
) -> None:
    # a name typed at sign-in that is no account never reaches the log at all ...
    login(TestClient(client.app), "<img src=x onerror=alert(1)>", "whatever it is")
    html = auditor.get("/console/audit").text
    assert "<img src=x" not in html and "onerror" not in html
    assert "(no such account)" in html
    # ... and whatever an entry holds is shown as text
    audit.record(db, account="<b>odd</b>", address="", action="sign_in_failed",
                 record="user:<i>x</i>", result="refused", detail="<script>")
    html = auditor.get("/console/audit").text
    assert "<b>odd</b>" not in html and "<script>" not in html.split("</header>", 1)[1]
    assert "&lt;b&gt;odd&lt;/b&gt;" in html


@pytest.mark.parametrize("role", ["agent", "supervisor", "admin"])
def test_other_roles_are_refused(client: TestClient, db: Database, role: str) -> None:
    person = sign_in(client, db, role)
    assert person.get("/console/audit").status_code == 403
    answer = person.api_get("/console/api/audit")
    assert answer.status_code == 403
    assert answer.headers["content-type"] == "application/problem+json"


def test_signed_out(client: TestClient) -> None:
    assert client.get("/console/audit", follow_redirects=False).status_code == 303
    assert client.get("/console/api/audit").status_code == 401


@pytest.mark.parametrize(
    "query",
    ["since=yesterday", "until=2026-13-01T00:00", "since=2026-11-24T25:00",
     "before=-1", "before=abc", "before=" + "9" * 19, "account=%3Cscript%3E",
     "action=DROP%20TABLE", "record=" + "a" * 81, "since=99999-01-01", "verify=2",
     "record=user%00x", "since=2026-11-24T09:30+08:00"],
)
def test_bad_filters_are_a_400(auditor: Person, query: str) -> None:
    page = auditor.get(f"/console/audit?{query}")
    assert page.status_code == 400, (query, page.text[:200])
    assert page.headers["content-type"].startswith("text/html")
    if query.startswith("verify"):
        return
    answer = auditor.api_get(f"/console/api/audit?{query}")
    assert answer.status_code in (400, 422), query
    assert answer.headers["content-type"] == "application/problem+json"


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fields=st.dictionaries(
    st.sampled_from(["account", "action", "record", "since", "until", "before"]),
    st.text(max_size=30),
))
def test_no_filter_makes_a_5xx(auditor: Person, fields: dict[str, str]) -> None:
    answer = auditor.client.get("/console/api/audit", params=fields)
    assert answer.status_code in (200, 400, 422)
