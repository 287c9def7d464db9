"""The agents' inbox (/console/inbox and /console/api/applications): only the viewer's
group, filters by station, item, state and age, both orders, the count of each state,
keyset paging through many, and bad parameters answered 400 without a 500."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from district.db import Database
from district.models import Application
from tests.district.browsing import sign_in
from tests.district.conftest import MakeStation
from tests.district.worklist_helpers import group_station, insert_applications, submit

_ROW = re.compile(r'<a href="/console/applications/([0-9a-f-]{36})">')


def ids_on(html: str) -> list[str]:
    return _ROW.findall(html)


def api_all(person: Any, query: str = "") -> list[dict[str, Any]]:
    """Every application the JSON inbox lists under `query`, following its cursors."""
    found: list[dict[str, Any]] = []
    cursor = ""
    while True:
        separator = "&" if query else ""
        answer = person.api_get(
            f"/console/api/applications?{query}{separator}size=200"
            + (f"&after={cursor}" if cursor else "")
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        found.extend(body["applications"])
        if not body["next"]:
            return found
        cursor = body["next"]


def test_the_inbox_lists_the_groups_applications_only(
    client: TestClient, db: Database, make_station: MakeStation, catalog: dict[str, Any]
) -> None:
    mine = group_station(db, make_station, "g1", "东湖服务站")
    theirs = group_station(db, make_station, "g2", "西湖服务站")
    ungrouped = make_station("无组服务站")
    my_ids = submit(mine, 2)
    their_ids = submit(theirs, 2)
    submit(ungrouped, 1)
    agent = sign_in(client, db, "agent", station_group="g1")
    page = agent.get("/console/inbox")
    assert page.status_code == 200
    assert sorted(ids_on(page.text)) == sorted(my_ids)
    assert "东湖服务站" in page.text and "西湖服务站" not in page.text
    assert "医疗" in page.text or "MI-001" in page.text  # the item's name from the catalog
    assert [a["id"] for a in api_all(agent)] == [a["id"] for a in api_all(agent)]
    assert sorted(a["id"] for a in api_all(agent)) == sorted(my_ids)
    other = sign_in(client, db, "supervisor", station_group="g2")
    assert sorted(ids_on(other.get("/console/inbox").text)) == sorted(their_ids)
    assert sorted(a["id"] for a in api_all(other)) == sorted(their_ids)


def test_filters_counts_and_orders(
    client: TestClient, db: Database, make_station: MakeStation, catalog: dict[str, Any]
) -> None:
    first = group_station(db, make_station, "g1", "一号站")
    second = group_station(db, make_station, "g1", "二号站")
    now = datetime.now(UTC)
    old = insert_applications(db, first.station_id, 3, start=now - timedelta(days=10))
    recent = insert_applications(
        db, second.station_id, 4, item="MI-002", start=now - timedelta(hours=2)
    )
    with db.write() as connection:
        connection.execute(
            update(Application).where(Application.id == old[0]).values(state="accepted")
        )
    agent = sign_in(client, db, "agent", station_group="g1")

    everything = agent.api_get("/console/api/applications").json()
    assert [a["id"] for a in everything["applications"]] == list(reversed(old + recent))
    assert everything["total"] == 7
    assert everything["counts"]["submitted"] == 6 and everything["counts"]["accepted"] == 1
    oldest = agent.api_get("/console/api/applications?sort=oldest").json()
    assert [a["id"] for a in oldest["applications"]] == old + recent

    by_station = agent.api_get(f"/console/api/applications?station={first.station_code}").json()
    assert sorted(a["id"] for a in by_station["applications"]) == sorted(old)
    by_item = agent.api_get("/console/api/applications?item=MI-002").json()
    assert sorted(a["id"] for a in by_item["applications"]) == sorted(recent)
    by_state = agent.api_get("/console/api/applications?state=accepted").json()
    assert [a["id"] for a in by_state["applications"]] == [old[0]]
    # the counts stay those of the other filters, so each state's link shows its number
    assert by_state["counts"] == everything["counts"] and by_state["total"] == 1
    waiting = agent.api_get("/console/api/applications?age=7").json()
    assert sorted(a["id"] for a in waiting["applications"]) == sorted(old)
    today = agent.api_get("/console/api/applications?age=today").json()
    assert sorted(a["id"] for a in today["applications"]) == sorted(recent)

    page = agent.get("/console/inbox?state=accepted")
    assert ids_on(page.text) == [old[0]]
    current = re.findall(r'<a href="([^"]*)"[^>]*aria-current="true"', page.text)
    assert current == ["/console/inbox?state=accepted"]
    assert "已受理：1 件" in page.text and "全部：7 件" in page.text


def test_paging_goes_forward_and_back_through_many(
    client: TestClient, db: Database, make_station: MakeStation
) -> None:
    station = group_station(db, make_station, "g1")
    ids = insert_applications(db, station.station_id, 125, step=timedelta(seconds=7))
    newest_first = list(reversed(ids))
    agent = sign_in(client, db, "agent", station_group="g1")
    pages: list[list[str]] = []
    html = agent.get("/console/inbox").text
    while True:
        pages.append(ids_on(html))
        found = re.search(r'href="(/console/inbox\?[^"]*after=[^"]+)" rel="next"', html)
        if not found:
            break
        html = agent.get(found.group(1).replace("&amp;", "&")).text
    assert [len(p) for p in pages] == [50, 50, 25]
    assert [row for page in pages for row in page] == newest_first
    back = re.search(r'href="(/console/inbox\?[^"]*before=[^"]+)" rel="prev"', html)
    assert back
    assert ids_on(agent.get(back.group(1).replace("&amp;", "&")).text) == pages[1]
    assert [a["id"] for a in api_all(agent, "sort=oldest")] == ids


@pytest.mark.parametrize(
    "query",
    [
        "state=lost", "age=2", "sort=sideways", "after=garbage", "before=1_2",
        "station=%3Cscript%3E", "size=0", "size=100000", "after=" + "9" * 30,
        "item=" + "x" * 300,
    ],
)
def test_bad_parameters_are_a_400_page(
    client: TestClient, db: Database, query: str
) -> None:
    agent = sign_in(client, db, "agent", station_group="g1")
    page = agent.get(f"/console/inbox?{query}")
    assert page.status_code == 400, page.text
    assert "text/html" in page.headers["content-type"]
    answer = agent.api_get(f"/console/api/applications?{query}")
    assert answer.status_code in (400, 422), answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_only_agents_and_supervisors_have_an_inbox(client: TestClient, db: Database) -> None:
    for role in ("admin", "auditor"):
        person = sign_in(client, db, role)
        assert person.get("/console/inbox").status_code == 403
        assert person.api_get("/console/api/applications").status_code == 403
    anonymous = TestClient(client.app)
    assert anonymous.get("/console/inbox", follow_redirects=False).status_code == 303
    assert anonymous.get("/console/api/applications").status_code == 401
