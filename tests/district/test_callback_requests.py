"""POST /v1/callbacks:batch and the console's call-back page, on SQLite and PostgreSQL:
requests stored once each with the number sealed; a repeat, a conflicting id, an item no
catalog holds, a revoked station and hostile bodies (generated too) change nothing half;
the page lists a group's open requests oldest first with the number masked, to that
group's agents and supervisors only; revealing the number is audited; "done" keeps who
and when, once. (Through the real kiosk sync client: tests/district/test_callbacks_sync.py.)"""

from __future__ import annotations

import json
import logging
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from district import audit
from district.callbacks import phone_context
from district.db import Database
from district.models import CallbackRequest, Station, User
from district.stations import revoke
from kiosk.sync.wire import MAX_CALLBACKS, MAX_ITEM_TITLE
from tests.district.browsing import sign_in
from tests.district.conftest import ITEM, Kiosk, MakeStation
from tests.district.conftest import snapshot as all_rows
from tests.personal import LANDLINE, PHONE

PATH = "/v1/callbacks:batch"
TITLE = "城乡居民医保参保登记"


def callback(**fields: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "phone": PHONE,
        "item_code": ITEM,
        "item_title": TITLE,
        "preferred": "tomorrow_am",
        "requested_at": datetime(2026, 12, 6, 9, 30, tzinfo=UTC).isoformat(),
        **fields,
    }


def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    return {name: rows for name, rows in all_rows(db).items() if name != "audit_checkpoints"}


def send(kiosk: Kiosk, *callbacks: dict[str, Any]) -> Any:
    return kiosk.request("POST", PATH, json={"callbacks": list(callbacks)})


def stored(db: Database) -> dict[str, Any]:
    with db.read() as connection:
        return {row.id: row for row in connection.execute(select(CallbackRequest))}


def number_of(db: Database, callback_id: str) -> str:
    sealed = stored(db)[callback_id].phone_sealed
    return db.vault.open(sealed, phone_context(callback_id)).decode()


@pytest.fixture
def station(kiosk: Kiosk, catalog: object) -> Kiosk:
    return kiosk


# -- upload ------------------------------------------------------------------------------


def test_requests_are_stored_sealed_with_a_verdict_each(db: Database, station: Kiosk) -> None:
    first, second = callback(), callback(phone=LANDLINE, preferred="today", item_title="")
    answer = send(station, first, second)
    assert answer.status_code == 200, answer.text
    assert answer.json()["results"] == [
        {"id": first["id"], "verdict": "accepted", "reason": None, "message": ""},
        {"id": second["id"], "verdict": "accepted", "reason": None, "message": ""},
    ]
    rows = stored(db)
    row = rows[first["id"]]
    assert (row.station_id, row.item_code, row.item_title, row.preferred, row.state) == (
        station.station_id,
        ITEM,
        TITLE,
        "tomorrow_am",
        "open",
    )
    assert row.requested_at == datetime(2026, 12, 6, 9, 30, tzinfo=UTC)
    assert row.done_by is None and row.done_at is None
    assert PHONE.encode() not in row.phone_sealed
    assert number_of(db, first["id"]) == PHONE
    assert number_of(db, second["id"]) == LANDLINE
    assert PHONE not in answer.text


def test_a_repeat_changes_nothing_and_is_accepted(db: Database, station: Kiosk) -> None:
    sent = callback()
    assert send(station, sent).status_code == 200
    before = snapshot(db)
    answer = send(station, sent, sent)
    assert [r["verdict"] for r in answer.json()["results"]] == ["accepted", "accepted"]
    assert snapshot(db) == before


def test_the_same_id_twice_in_one_batch_is_stored_once(db: Database, station: Kiosk) -> None:
    sent = callback()
    answer = send(station, sent, sent)
    assert [r["verdict"] for r in answer.json()["results"]] == ["accepted", "accepted"]
    assert list(stored(db)) == [sent["id"]]


def test_a_repeat_leaves_an_agents_done_as_it_is(db: Database, station: Kiosk) -> None:
    sent = callback()
    send(station, sent)
    done_at = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
    with db.write() as connection:
        connection.execute(
            update(CallbackRequest)
            .where(CallbackRequest.id == sent["id"])
            .values(state="done", done_at=done_at)
        )
    assert send(station, sent).json()["results"][0]["verdict"] == "accepted"
    assert stored(db)[sent["id"]].state == "done"
    assert stored(db)[sent["id"]].done_at == done_at


@pytest.mark.parametrize(
    "change",
    [
        {"phone": LANDLINE},
        {"item_code": "CA-001"},
        {"item_title": "另一个"},
        {"preferred": "today"},
        {"requested_at": datetime(2026, 12, 7, tzinfo=UTC).isoformat()},
    ],
)
def test_the_same_id_with_another_request_is_a_conflict(
    db: Database, station: Kiosk, change: dict[str, Any]
) -> None:
    sent = callback()
    send(station, sent)
    before = snapshot(db)
    other = callback()
    answer = send(station, {**sent, **change}, other)
    results = answer.json()["results"]
    assert results[0]["verdict"] == "rejected" and results[0]["reason"] == "conflict"
    assert PHONE not in results[0]["message"] and LANDLINE not in results[0]["message"]
    assert results[1]["verdict"] == "accepted"  # one conflict does not hold the others
    assert set(stored(db)) == {row[0] for row in before["callback_requests"]} | {other["id"]}
    assert number_of(db, sent["id"]) == PHONE


def test_an_id_held_by_another_station_is_a_conflict(
    db: Database, station: Kiosk, make_station: MakeStation
) -> None:
    sent = callback()
    send(station, sent)
    before = snapshot(db)
    answer = send(make_station("另一个站"), sent)
    assert answer.json()["results"][0]["reason"] == "conflict"
    assert snapshot(db)["callback_requests"] == before["callback_requests"]


def test_an_item_no_catalog_holds_is_rejected_alone(db: Database, station: Kiosk) -> None:
    unknown, known = callback(item_code="ZZ-999"), callback()
    answer = send(station, unknown, known)
    results = answer.json()["results"]
    assert results[0]["verdict"] == "rejected" and results[0]["reason"] == "unknown_item"
    assert "ZZ-999" in results[0]["message"]
    assert results[1]["verdict"] == "accepted"
    assert list(stored(db)) == [known["id"]]


def test_a_revoked_station_is_refused(db: Database, station: Kiosk) -> None:
    revoke(db, station.station_id)
    before = snapshot(db)
    answer = send(station, callback())
    assert answer.status_code == 403 and answer.json()["code"] == "revoked"
    assert snapshot(db) == before


def test_an_unsigned_batch_is_refused(db: Database, station: Kiosk) -> None:
    before = snapshot(db)
    answer = station.client.post(PATH, json={"callbacks": [callback()]})
    assert answer.status_code == 401
    assert snapshot(db) == before


@pytest.mark.parametrize(
    "body",
    [
        {"callbacks": []},
        {"callbacks": [callback(phone="12345")]},
        {"callbacks": [callback(phone="138 1234 5678")]},  # the kiosk sends digits only
        {"callbacks": [callback(phone="１３８１２３４５６７８")]},
        {"callbacks": [callback(phone=PHONE + "0")]},
        {"callbacks": [callback(phone=13812345678)]},
        {"callbacks": [callback(item_title="长" * (MAX_ITEM_TITLE + 1))]},
        {"callbacks": [callback(item_code="no code")]},
        {"callbacks": [callback(item_code="MI-001" * 10)]},
        {"callbacks": [callback(preferred="never")]},
        {"callbacks": [callback(requested_at="yesterday")]},
        {"callbacks": [callback(id="not-a-uuid")]},
        {"callbacks": [{**callback(), "name": "张三"}]},
        {"callbacks": [callback() for _ in range(MAX_CALLBACKS + 1)]},
        {"callbacks": [callback()], "more": 1},
        {"ratings": []},
        [callback()],
        "callbacks",
    ],
)
def test_a_bad_body_is_refused_whole(db: Database, station: Kiosk, body: Any) -> None:
    good = callback()
    if isinstance(body, dict) and body.get("callbacks"):
        body = {**body, "callbacks": [good, *body["callbacks"]]}
    before = snapshot(db)
    answer = station.request("POST", PATH, json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "malformed"
    assert PHONE not in answer.text and "张三" not in answer.text
    assert snapshot(db) == before


def test_bytes_that_are_not_json_are_refused(db: Database, station: Kiosk) -> None:
    before = snapshot(db)
    answer = station.request("POST", PATH, content=b"\xff\x00{")
    assert answer.status_code == 422
    assert snapshot(db) == before


def test_a_full_batch_is_taken(db: Database, station: Kiosk) -> None:
    answer = send(station, *(callback() for _ in range(MAX_CALLBACKS)))
    assert answer.status_code == 200
    assert len(stored(db)) == MAX_CALLBACKS


_texts = st.one_of(st.text(max_size=40), st.integers(), st.none(), st.booleans())
_fields = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(st.uuids().map(str), _texts),
        "phone": st.one_of(st.sampled_from([PHONE, LANDLINE, "010-12345678", ""]), _texts),
        "item_code": st.one_of(st.sampled_from([ITEM, "CA-001", "ZZ-999"]), _texts),
        "item_title": st.one_of(st.text(max_size=MAX_ITEM_TITLE + 20), _texts),
        "preferred": st.one_of(st.sampled_from(["today", "tomorrow_am", "tomorrow_pm"]), _texts),
        "requested_at": st.one_of(
            st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat), _texts
        ),
        "extra": _texts,
    },
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(items=st.lists(st.tuples(_fields, st.booleans()), max_size=4))
def test_hostile_batches_store_all_or_nothing_and_never_echo_a_number(
    db: Database,
    station: Kiosk,
    caplog: pytest.LogCaptureFixture,
    items: list[tuple[dict[str, Any], bool]],
) -> None:
    """Generated batches, each item some fields alone or a good request with some fields
    replaced: the answer is 200 with a verdict per item, or 422 with nothing stored; never
    a 500, never the number in the answer or the log."""
    batch = [{**callback(), **fields} if on_good else fields for fields, on_good in items]
    before = snapshot(db)
    with caplog.at_level(logging.DEBUG):
        answer = station.request("POST", PATH, json={"callbacks": batch})
    assert answer.status_code in (200, 422), answer.text
    assert PHONE not in answer.text and LANDLINE not in answer.text
    assert PHONE not in caplog.text and LANDLINE not in caplog.text
    if answer.status_code == 422:
        assert snapshot(db) == before
        return
    results = answer.json()["results"]
    assert [r["id"] for r in results] == [item["id"] for item in batch]
    held = stored(db)
    for item, result in zip(batch, results, strict=True):
        if result["verdict"] == "accepted":
            assert number_of(db, item["id"]) == item["phone"]
        elif result["reason"] == "unknown_item":
            assert item["id"] not in held


# -- the console ---------------------------------------------------------------------------


def grouped(db: Database, make_station: MakeStation, name: str, code: str, group: str) -> Kiosk:
    station = make_station(name, code=code)
    with db.write() as connection:
        connection.execute(
            update(Station).where(Station.id == station.station_id).values(station_group=group)
        )
    return station


@pytest.fixture
def groups(db: Database, make_station: MakeStation, catalog: object) -> tuple[Kiosk, Kiosk]:
    return (
        grouped(db, make_station, "一号站", "CB0001", "g1"),
        grouped(db, make_station, "二号站", "CB0002", "g2"),
    )


def audit_entries(db: Database, record: str) -> list[dict[str, Any]]:
    return audit.entries(db, record=record)


def test_agents_see_their_groups_requests_oldest_first_masked(
    client: TestClient, db: Database, groups: tuple[Kiosk, Kiosk]
) -> None:
    first, second = groups
    newer = callback(requested_at=datetime(2026, 12, 6, 15, 0, tzinfo=UTC).isoformat())
    older = callback(phone=LANDLINE, preferred="today", item_title="老年人优待证办理")
    send(first, newer, older)
    theirs = callback(phone="13900001111", item_title="二号站的事项")
    send(second, theirs)
    agent = sign_in(client, db, "agent", name="cb-agent-g1", station_group="g1")
    page = agent.get("/console/callbacks")
    assert page.status_code == 200, page.text
    html = page.text
    assert html.index(f"cb-{older['id']}") < html.index(f"cb-{newer['id']}")
    assert "0755****5678" in html and "138****5678" in html
    assert "老年人优待证办理" in html and "一号站" in html and "明天上午" in html
    assert PHONE not in html and LANDLINE not in html
    assert theirs["id"] not in html and "二号站" not in html and "13900001111" not in html
    other = sign_in(client, db, "supervisor", name="cb-supervisor-g2", station_group="g2")
    seen = other.get("/console/callbacks").text
    assert theirs["id"] in seen and "139****1111" in seen
    assert older["id"] not in seen and "一号站" not in seen


def test_another_groups_request_is_not_found(
    client: TestClient, db: Database, groups: tuple[Kiosk, Kiosk]
) -> None:
    first, _ = groups
    sent = callback()
    send(first, sent)
    stranger = sign_in(client, db, "agent", name="cb-agent-g2", station_group="g2")
    before = snapshot(db)
    for action, form in (("reveal", {"reason": "callback"}), ("done", {})):
        answer = stranger.post(f"/console/callbacks/{sent['id']}/{action}", form)
        assert answer.status_code == 404, answer.text
        assert PHONE not in answer.text and "138****5678" not in answer.text
    assert stranger.post("/console/callbacks/not-a-request/done").status_code == 404
    after = snapshot(db)
    assert after["callback_requests"] == before["callback_requests"]
    assert after["audit_log"] == before["audit_log"]
    assert after["access_grants"] == before["access_grants"]


def test_revealing_a_number_needs_a_reason_and_is_audited(
    client: TestClient, db: Database, groups: tuple[Kiosk, Kiosk]
) -> None:
    first, _ = groups
    sent = callback()
    send(first, sent)
    agent = sign_in(client, db, "agent", name="cb-agent-g1", station_group="g1")
    colleague = sign_in(client, db, "agent", name="cb-colleague-g1", station_group="g1")
    url = f"/console/callbacks/{sent['id']}/reveal"
    assert agent.post(url, {"reason": "curiosity"}).status_code == 400
    assert agent.post(url, {"reason": "callback"}, csrf=None).status_code == 403
    assert audit_entries(db, f"callback:{sent['id']}") == []
    answer = agent.post(url, {"reason": "callback"})
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/console/callbacks#cb-{sent['id']}"
    page = agent.get("/console/callbacks").text
    assert f'href="tel:{PHONE}"' in page
    assert PHONE not in colleague.get("/console/callbacks").text  # the grant is the session's
    [entry] = audit_entries(db, f"callback:{sent['id']}")
    assert (entry["account"], entry["action"], entry["detail"]) == (
        "cb-agent-g1",
        audit.IDENTITY_REVEALED,
        "callback",
    )
    assert PHONE not in json.dumps(audit.entries(db), default=str)


def test_done_keeps_who_and_when_once(
    client: TestClient, db: Database, groups: tuple[Kiosk, Kiosk]
) -> None:
    first, _ = groups
    sent, other = callback(), callback()
    send(first, sent, other)
    agent = sign_in(client, db, "agent", name="cb-agent-g1", station_group="g1")
    supervisor = sign_in(client, db, "supervisor", name="cb-supervisor-g1", station_group="g1")
    stale = supervisor.get("/console/callbacks")
    assert stale.status_code == 200
    before = datetime.now(UTC)
    answer = agent.post(f"/console/callbacks/{sent['id']}/done")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/callbacks?done=1"
    row = stored(db)[sent["id"]]
    assert row.state == "done" and row.done_at is not None
    assert before <= _aware(row.done_at) <= datetime.now(UTC)  # the moment it was marked
    with db.read() as connection:
        agent_id = connection.scalar(select(User.id).where(User.name == "cb-agent-g1"))
    assert row.done_by == agent_id
    [entry] = audit_entries(db, f"callback:{sent['id']}")
    assert (entry["action"], entry["detail"]) == (audit.DECISION, "done")
    page = agent.get("/console/callbacks?done=1").text
    assert "已标记为已回电" in page
    assert f"cb-{sent['id']}" not in page and f"cb-{other['id']}" in page
    recent = page[page.index("最近已回电") :]
    assert "cb-agent-g1" in recent and "138****5678" in recent
    # the supervisor's page was from before: their "done" finds it marked, and says so
    before = snapshot(db)
    late = supervisor.post(f"/console/callbacks/{sent['id']}/done")
    assert late.status_code == 409
    assert "其他人已处理" in late.text
    assert snapshot(db)["callback_requests"] == before["callback_requests"]
    assert stored(db)[sent["id"]].done_by == agent_id
    # a repeated upload of it leaves it done
    assert send(first, sent).json()["results"][0]["verdict"] == "accepted"
    assert stored(db)[sent["id"]].state == "done"


def test_the_page_is_for_agents_and_supervisors_only(
    client: TestClient, db: Database, groups: tuple[Kiosk, Kiosk]
) -> None:
    for role in ("admin", "auditor"):
        person = sign_in(client, db, role, name=f"cb-{role}")
        assert person.get("/console/callbacks").status_code == 403
        assert "/console/callbacks" not in person.get("/console/password").text
    agent = sign_in(client, db, "agent", name="cb-agent-nav", station_group="g1")
    html = agent.get("/console/callbacks").text
    assert re.search(r'href="/console/callbacks"[^>]*aria-current', html), "not the current page"
    assert not re.search(r'href="/console/call"[^>]*aria-current', html)


def _aware(moment: datetime) -> datetime:
    """A stored time as an aware UTC datetime (SQLite hands some back naive)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
