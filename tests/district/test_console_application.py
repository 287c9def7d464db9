"""One application in the console: its guide, the resident masked until a recorded
reveal, materials served only under a grant, the audit entries of both, and who may see
it at all (another group's agent gets 404, admins and auditors 403)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from district import audit
from district.db import Database
from district.models import AccessGrant
from tests.district.browsing import Person, sign_in
from tests.district.conftest import MakeStation
from tests.district.worklist_helpers import PDF, PNG, group_station, submit, work_rows
from tests.personal import RESIDENT

FULL_NAME, FULL_SSN = RESIDENT["name"], RESIDENT["ssn"]
MASKED_NAME, MASKED_SSN = "张*丰", "310***********1236"


@pytest.fixture
def one(db: Database, make_station: MakeStation, catalog: dict[str, Any]) -> str:
    """An application of a g1 station with a photo and a PDF."""
    station = group_station(db, make_station, "g1", "东湖服务站")
    [application_id] = submit(
        station, materials=[PNG, PDF], media_types=["image/png", "application/pdf"]
    )
    return application_id


def page_of(person: Person, application_id: str) -> str:
    answer = person.get(f"/console/applications/{application_id}")
    assert answer.status_code == 200, answer.text
    return answer.text


def audit_actions(db: Database) -> list[tuple[str, str, str, str]]:
    return [
        (e["action"], e["account"], e["record"], e["detail"])
        for e in audit.entries(db)
        if e["action"] in (audit.IDENTITY_REVEALED, audit.MATERIALS_OPENED, audit.DECISION)
    ]


def test_the_page_shows_the_item_station_times_and_a_masked_resident(
    client: TestClient, db: Database, one: str
) -> None:
    agent = sign_in(client, db, "agent", station_group="g1")
    html = page_of(agent, one)
    for shown in ("MI-001", "东湖服务站", MASKED_NAME, MASKED_SSN, "138****0000", "page 1",
                  "承诺时限", "办理记录", "收到申请"):
        assert shown in html, shown
    for hidden in (FULL_NAME, FULL_SSN, RESIDENT["card_number"], "13800000000"):
        assert hidden not in html, hidden
    assert "/materials/0" not in html  # no material is linked before a reason is given
    body = agent.api_get(f"/console/api/applications/{one}").json()
    assert body["resident"]["name"] == MASKED_NAME and body["resident"]["ssn"] == MASKED_SSN
    assert FULL_NAME not in str(body) and FULL_SSN not in str(body)
    assert body["transitions"] == ["needs_more", "accepted", "rejected"]
    assert [m["media_type"] for m in body["materials"]] == ["image/png", "application/pdf"]
    agent.client.cookies.set("doorstep_lang", "en")
    english = page_of(agent, one)
    assert "Time limit" in english and FULL_NAME not in english


def test_revealing_the_identity_is_recorded_and_lasts_for_the_session(
    client: TestClient, db: Database, one: str
) -> None:
    agent = sign_in(client, db, "agent", station_group="g1")
    answer = agent.post(
        f"/console/applications/{one}/access", {"what": "identity", "reason": "enquiry"}
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/console/applications/{one}#identity"
    html = page_of(agent, one)
    assert FULL_NAME in html and FULL_SSN in html and "13800000000" in html
    assert audit_actions(db) == [
        (audit.IDENTITY_REVEALED, agent.name, f"application:{one}", "enquiry")
    ]
    # another session of another agent of the group still sees it masked
    colleague = sign_in(client, db, "agent", name="agent-2", station_group="g1")
    assert FULL_NAME not in page_of(colleague, one)
    # and an expired grant masks it again
    with db.write() as connection:
        connection.execute(
            update(AccessGrant).values(expires_at=datetime.now(UTC) - timedelta(hours=1))
        )
    assert FULL_NAME not in page_of(agent, one)


def test_materials_need_a_grant_and_are_served_safely(
    client: TestClient, db: Database, one: str
) -> None:
    agent = sign_in(client, db, "agent", station_group="g1")
    assert agent.get(f"/console/applications/{one}/materials/0").status_code == 403
    assert agent.post(
        f"/console/applications/{one}/access", {"what": "materials", "reason": "review"}
    ).status_code == 303
    html = page_of(agent, one)
    assert f'src="/console/applications/{one}/materials/0"' in html
    assert 'data-view="rotate" aria-controls="viewer-0"' in html
    assert f'<iframe src="/console/applications/{one}/materials/1"' in html
    assert FULL_NAME not in html  # the materials grant does not reveal the identity
    photo = agent.get(f"/console/applications/{one}/materials/0")
    assert photo.status_code == 200 and photo.content == PNG
    assert photo.headers["content-type"] == "image/png"
    assert photo.headers["content-disposition"].startswith("inline")
    assert photo.headers["cache-control"] == "no-store"
    assert photo.headers["x-content-type-options"] == "nosniff"
    pdf = agent.get(f"/console/applications/{one}/materials/1")
    assert pdf.content == PDF and pdf.headers["content-type"] == "application/pdf"
    assert agent.get(f"/console/applications/{one}/materials/2").status_code == 404
    assert audit_actions(db) == [
        (audit.MATERIALS_OPENED, agent.name, f"application:{one}", "review")
    ]


def test_a_material_of_another_type_is_a_download(
    client: TestClient, db: Database, make_station: MakeStation, catalog: dict[str, Any]
) -> None:
    station = group_station(db, make_station, "g1")
    [application_id] = submit(station, materials=[b"<html>x</html>"], media_types=["text/html"])
    agent = sign_in(client, db, "agent", station_group="g1")
    agent.post(f"/console/applications/{application_id}/access",
               {"what": "materials", "reason": "quality"})
    served = agent.get(f"/console/applications/{application_id}/materials/0")
    assert served.headers["content-type"] == "application/octet-stream"
    assert served.headers["content-disposition"].startswith("attachment")


@pytest.mark.parametrize(
    "form",
    [
        {"what": "identity", "reason": "curious"},
        {"what": "everything", "reason": "review"},
        {"what": "", "reason": ""},
        {"what": "identity"},
    ],
)
def test_a_reveal_needs_a_known_reason(
    client: TestClient, db: Database, one: str, form: dict[str, str]
) -> None:
    agent = sign_in(client, db, "agent", station_group="g1")
    before = work_rows(db)
    answer = agent.post(f"/console/applications/{one}/access", form)
    assert answer.status_code == 400
    assert work_rows(db) == before
    assert FULL_NAME not in page_of(agent, one)


def test_a_reveal_without_its_csrf_token_changes_nothing(
    client: TestClient, db: Database, one: str
) -> None:
    agent = sign_in(client, db, "agent", station_group="g1")
    before = work_rows(db)
    for csrf in (None, "wrong"):
        answer = agent.post(
            f"/console/applications/{one}/access", {"what": "identity", "reason": "review"},
            csrf=csrf,
        )
        assert answer.status_code == 403
    assert work_rows(db) == before


def test_another_groups_application_does_not_exist_for_an_agent(
    client: TestClient, db: Database, one: str
) -> None:
    stranger = sign_in(client, db, "agent", station_group="g2")
    before = work_rows(db)
    for path in (f"/console/applications/{one}", f"/console/applications/{one}/materials/0",
                 f"/console/api/applications/{one}"):
        assert stranger.get(path).status_code == 404, path
    assert stranger.post(
        f"/console/applications/{one}/access", {"what": "identity", "reason": "review"}
    ).status_code == 404
    assert stranger.post(
        f"/console/applications/{one}/decision", {"state": "accepted", "version": "0"}
    ).status_code == 404
    assert stranger.api_post(
        f"/console/api/applications/{one}/decisions", {"state": "accepted", "version": 0}
    ).status_code == 404
    assert stranger.get("/console/applications/not-an-id").status_code == 404
    assert work_rows(db) == before
    with db.read() as connection:
        assert connection.scalar(select(func.count()).select_from(AccessGrant)) == 0


def test_a_supervisor_of_the_group_sees_it_admins_and_auditors_do_not(
    client: TestClient, db: Database, one: str
) -> None:
    supervisor = sign_in(client, db, "supervisor", station_group="g1")
    assert MASKED_NAME in page_of(supervisor, one)
    for role in ("admin", "auditor"):
        person = sign_in(client, db, role)
        assert person.get(f"/console/applications/{one}").status_code == 403
        assert person.api_get(f"/console/api/applications/{one}").status_code == 403
        assert person.post(
            f"/console/applications/{one}/access", {"what": "identity", "reason": "review"}
        ).status_code == 403
        assert person.get(f"/console/applications/{one}/materials/0").status_code == 403
