"""POST /v1/ratings:batch: the 好差评 ratings a station collected, stored once each, with
the newest staff comment; a conflicting id, a revoked station and bad bodies change
nothing. On SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from district.db import Database
from district.models import Rating
from district.stations import revoke
from kiosk.sync.wire import MAX_COMMENT, MAX_RATINGS
from tests.district.conftest import Kiosk, MakeStation
from tests.district.conftest import snapshot as all_rows

PATH = "/v1/ratings:batch"


def rating(**fields: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "application_id": str(uuid.uuid4()),  # the district need not know it
        "item_code": "MI-001",
        "score": 5,
        "comment": "",
        "rated_at": datetime(2026, 12, 6, 9, 30, tzinfo=UTC).isoformat(),
        **fields,
    }


def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored row but the audit chain's checkpoints, which the server's own
    background task makes whenever it runs (not a request's doing)."""
    return {name: rows for name, rows in all_rows(db).items() if name != "audit_checkpoints"}


def send(kiosk: Kiosk, *ratings: dict[str, Any]) -> Any:
    return kiosk.request("POST", PATH, json={"ratings": list(ratings)})


def stored(db: Database) -> dict[str, Any]:
    with db.read() as connection:
        return {row.id: row for row in connection.execute(select(Rating))}


def test_ratings_are_stored_with_a_verdict_each(db: Database, kiosk: Kiosk) -> None:
    first, second = rating(score=1), rating(application_id=None, item_code=None, comment="排队久")
    answer = send(kiosk, first, second)
    assert answer.status_code == 200, answer.text
    assert answer.json()["results"] == [
        {"id": first["id"], "verdict": "accepted", "reason": None, "message": ""},
        {"id": second["id"], "verdict": "accepted", "reason": None, "message": ""},
    ]
    rows = stored(db)
    assert rows[first["id"]].score == 1
    assert rows[first["id"]].station_id == kiosk.station_id
    assert rows[first["id"]].rated_at == datetime(2026, 12, 6, 9, 30, tzinfo=UTC)
    assert rows[second["id"]].application_id is None
    assert rows[second["id"]].comment == "排队久"


def test_a_repeat_changes_nothing(db: Database, kiosk: Kiosk) -> None:
    sent = rating()
    assert send(kiosk, sent).status_code == 200
    before = snapshot(db)
    answer = send(kiosk, sent)
    assert answer.json()["results"][0]["verdict"] == "accepted"
    assert snapshot(db) == before


def test_a_new_comment_replaces_the_old_one(db: Database, kiosk: Kiosk) -> None:
    sent = rating(comment="")
    send(kiosk, sent)
    received = stored(db)[sent["id"]].received_at
    answer = send(kiosk, {**sent, "comment": "老人家说窗口很耐心"})
    assert answer.json()["results"][0]["verdict"] == "accepted"
    row = stored(db)[sent["id"]]
    assert row.comment == "老人家说窗口很耐心"
    assert row.received_at == received
    send(kiosk, {**sent, "comment": ""})
    assert stored(db)[sent["id"]].comment == ""


def test_the_same_id_twice_in_one_batch_keeps_the_last_comment(
    db: Database, kiosk: Kiosk
) -> None:
    sent = rating()
    answer = send(kiosk, sent, {**sent, "comment": "second"})
    assert [r["verdict"] for r in answer.json()["results"]] == ["accepted", "accepted"]
    assert len(stored(db)) == 1
    assert stored(db)[sent["id"]].comment == "second"


@pytest.mark.parametrize(
    "change",
    [{"score": 2}, {"application_id": None}, {"item_code": "ZZ-999"},
     {"rated_at": datetime(2026, 12, 7, tzinfo=UTC).isoformat()}],
)
def test_the_same_id_with_another_rating_is_a_conflict(
    db: Database, kiosk: Kiosk, change: dict[str, Any]
) -> None:
    sent = rating()
    send(kiosk, sent)
    before = snapshot(db)
    other = rating()
    answer = send(kiosk, {**sent, **change}, other)
    results = answer.json()["results"]
    assert results[0]["verdict"] == "rejected"
    assert results[0]["reason"] == "conflict"
    assert results[1]["verdict"] == "accepted"  # one conflict does not hold the others
    rows = stored(db)
    assert set(rows) == {row[0] for row in before["ratings"]} | {other["id"]}
    assert rows[sent["id"]].score == 5


def test_an_id_held_by_another_station_is_a_conflict(
    db: Database, kiosk: Kiosk, make_station: MakeStation
) -> None:
    sent = rating()
    send(kiosk, sent)
    before = snapshot(db)
    answer = send(make_station("另一个站"), sent)
    assert answer.json()["results"][0]["reason"] == "conflict"
    assert snapshot(db)["ratings"] == before["ratings"]


def test_a_revoked_station_is_refused(db: Database, kiosk: Kiosk) -> None:
    revoke(db, kiosk.station_id)
    before = snapshot(db)
    answer = send(kiosk, rating())
    assert answer.status_code == 403
    assert answer.json()["code"] == "revoked"
    assert snapshot(db) == before


def test_an_unsigned_batch_is_refused(db: Database, kiosk: Kiosk) -> None:
    before = snapshot(db)
    answer = kiosk.client.post(PATH, json={"ratings": [rating()]})
    assert answer.status_code == 401
    assert snapshot(db) == before


@pytest.mark.parametrize(
    "body",
    [
        {"ratings": []},
        {"ratings": [rating(score=0)]},
        {"ratings": [rating(score=6)]},
        {"ratings": [rating(score="5")]},
        {"ratings": [rating(comment="长" * (MAX_COMMENT + 1))]},
        {"ratings": [rating(id="not-a-uuid")]},
        {"ratings": [rating(item_code="no code")]},
        {"ratings": [{**rating(), "resident": {"name": "张三"}}]},
        {"ratings": [rating() for _ in range(MAX_RATINGS + 1)]},
        {"ratings": [rating()], "more": 1},
        {"applications": []},
        [rating()],
        "ratings",
    ],
)
def test_a_bad_body_is_refused_whole(db: Database, kiosk: Kiosk, body: Any) -> None:
    good = rating()
    if isinstance(body, dict) and body.get("ratings"):
        body = {**body, "ratings": [good, *body["ratings"]]}
    before = snapshot(db)
    answer = kiosk.request("POST", PATH, json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "malformed"
    assert "张三" not in answer.text
    assert snapshot(db) == before


def test_bytes_that_are_not_json_are_refused(db: Database, kiosk: Kiosk) -> None:
    before = snapshot(db)
    answer = kiosk.request("POST", PATH, content=b"\xff\x00{")
    assert answer.status_code == 422
    assert snapshot(db) == before


def test_a_full_batch_is_taken(db: Database, kiosk: Kiosk) -> None:
    answer = send(kiosk, *(rating(score=1 + n % 5) for n in range(MAX_RATINGS)))
    assert answer.status_code == 200
    assert len(stored(db)) == MAX_RATINGS
