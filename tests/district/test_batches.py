"""Batches of applications: one transaction, a verdict per item in order, the id as a
permanent unique key (a repeat changes nothing), and every business refusal a verdict."""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from district.applications import list_applications
from district.catalogs import import_catalog
from district.db import Database
from district.models import Application
from kiosk.sync.wire import MAX_BATCH
from tests.district.conftest import SAMPLE_CATALOG, Kiosk, MakeStation, snapshot
from tests.personal import RESIDENT


def verdicts(answer: Any) -> list[tuple[str, str | None]]:
    assert answer.status_code == 200, answer.text
    return [(item["verdict"], item["reason"]) for item in answer.json()["results"]]


@pytest.fixture
def blobs(kiosk: Kiosk) -> list[bytes]:
    contents = [os.urandom(20_000), os.urandom(20_000)]
    for content in contents:
        assert kiosk.put_blob(content).status_code == 201
    return contents


def test_a_batch_is_stored_with_its_materials(
    db: Database, kiosk: Kiosk, catalog: object, blobs: list[bytes]
) -> None:
    applications = [kiosk.application(materials=blobs, number=n) for n in range(1, 4)]
    answer = kiosk.upload(*applications)
    assert verdicts(answer) == [("accepted", None)] * 3
    assert [item["id"] for item in answer.json()["results"]] == [a["id"] for a in applications]
    listed = {row["id"]: row for row in list_applications(db)}
    for application in applications:
        row = listed[application["id"]]
        assert row["station_id"] == kiosk.station_id
        assert row["item_code"] == "MI-001"
        assert row["state"] == "submitted"
        assert row["reference"] == application["reference"]
        assert row["blobs"] == [hashlib.sha256(b).hexdigest() for b in blobs]


def test_personal_data_is_sealed_at_rest(db: Database, kiosk: Kiosk, catalog: object) -> None:
    application = kiosk.application()
    assert verdicts(kiosk.upload(application)) == [("accepted", None)]
    with db.read() as connection:
        row = connection.execute(
            select(Application).where(Application.id == application["id"])
        ).one()
    for value in RESIDENT.values():
        assert value.encode() not in row.resident_sealed
    context = f"applications.resident:{application['id']}".encode()
    assert db.vault.open_json(row.resident_sealed, context) == RESIDENT


def test_a_repeated_batch_changes_nothing(
    db: Database, kiosk: Kiosk, catalog: object, blobs: list[bytes]
) -> None:
    batch = [kiosk.application(materials=blobs, number=n) for n in range(1, 6)]
    first = kiosk.upload(*batch)
    before = snapshot(db)
    again = kiosk.upload(*batch)
    assert again.json() == first.json()
    assert snapshot(db) == before


def test_verdicts_are_per_item_and_in_order(
    db: Database, kiosk: Kiosk, catalog: object, blobs: list[bytes]
) -> None:
    good = kiosk.application(materials=blobs[:1], number=1)
    unknown = kiosk.application("ZZ-999", number=2)
    missing = kiosk.application(materials=[b"never uploaded"], number=3)
    also_good = kiosk.application(number=4)
    answer = kiosk.upload(good, unknown, missing, also_good)
    assert verdicts(answer) == [
        ("accepted", None),
        ("rejected", "unknown_item"),
        ("rejected", "blob_missing"),
        ("accepted", None),
    ]
    messages = [item["message"] for item in answer.json()["results"]]
    assert "ZZ-999" in messages[1]
    assert {row["id"] for row in list_applications(db)} == {good["id"], also_good["id"]}


def test_a_missing_blob_can_be_sent_and_the_item_retried(
    db: Database, kiosk: Kiosk, catalog: object
) -> None:
    content = os.urandom(5000)
    application = kiosk.application(materials=[content])
    assert verdicts(kiosk.upload(application)) == [("rejected", "blob_missing")]
    assert kiosk.put_blob(content).status_code == 201
    assert verdicts(kiosk.upload(application)) == [("accepted", None)]


def test_a_material_of_the_wrong_size_is_invalid(
    kiosk: Kiosk, catalog: object, blobs: list[bytes]
) -> None:
    application = kiosk.application(materials=blobs[:1])
    application["materials"][0]["size"] += 1
    assert verdicts(kiosk.upload(application)) == [("rejected", "invalid")]


def test_nothing_is_accepted_before_a_catalog_is_published(db: Database, kiosk: Kiosk) -> None:
    before = snapshot(db)
    answer = kiosk.upload(kiosk.application())
    assert verdicts(answer) == [("rejected", "unknown_item")]
    assert "none published" in answer.json()["results"][0]["message"]
    assert snapshot(db) == before


def test_items_are_checked_against_the_newest_catalog(
    db: Database, kiosk: Kiosk, catalog: object, tmp_path: Any
) -> None:
    text = SAMPLE_CATALOG.read_text(encoding="utf-8")
    newer = tmp_path / "newer.toml"
    newer.write_text(
        text.replace('version = "2026.11-sample"', 'version = "2026.12"').replace(
            'code = "MI-001"', 'code = "MI-901"'
        ),
        encoding="utf-8",
    )
    assert import_catalog(db, newer)["published"]
    answer = kiosk.upload(kiosk.application("MI-001"), kiosk.application("MI-901"))
    assert verdicts(answer) == [("rejected", "unknown_item"), ("accepted", None)]


def test_an_id_held_with_other_content_is_a_conflict(
    db: Database, kiosk: Kiosk, catalog: object
) -> None:
    application = kiosk.application()
    assert verdicts(kiosk.upload(application)) == [("accepted", None)]
    changed = {**application, "item_code": "MI-002"}
    before = snapshot(db)
    assert verdicts(kiosk.upload(changed)) == [("rejected", "conflict")]
    assert snapshot(db) == before


def test_an_id_held_by_another_station_is_a_conflict(
    db: Database, make_station: MakeStation, catalog: object
) -> None:
    one, two = make_station("One"), make_station("Two")
    application = one.application()
    assert verdicts(one.upload(application)) == [("accepted", None)]
    before = snapshot(db)
    assert verdicts(two.upload(application)) == [("rejected", "conflict")]
    assert snapshot(db) == before


def test_the_same_id_twice_in_one_batch(db: Database, kiosk: Kiosk, catalog: object) -> None:
    application = kiosk.application()
    other = {**application, "reference": f"{kiosk.station_code}-20261124-0099"}
    answer = kiosk.upload(application, application, other)
    assert verdicts(answer) == [
        ("accepted", None),
        ("accepted", None),
        ("rejected", "conflict"),
    ]
    assert len(list_applications(db)) == 1


def test_an_unreadable_item_is_rejected_without_quoting_it(
    db: Database, kiosk: Kiosk, catalog: object
) -> None:
    bad = kiosk.application()
    bad["reference"] = "张三丰"
    bad["created_at"] = "310101195001011236"
    bad_code = kiosk.application()
    bad_code["item_code"] = "not a code"
    good = kiosk.application()
    answer = kiosk.upload(bad, bad_code, good)
    assert verdicts(answer) == [
        ("rejected", "invalid"),
        ("rejected", "unknown_item"),
        ("accepted", None),
    ]
    message = answer.json()["results"][0]["message"]
    assert "reference" in message and "created_at" in message
    assert "张三丰" not in answer.text and "310101195001011236" not in answer.text


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"{}",
        b'{"applications": []}',
        b'{"applications": {}}',
        b'{"applications": [1]}',
        b'{"applications": [{"item_code": "MI-001"}]}',
        b'{"applications": [{"id": "not-a-uuid"}]}',
        b'{"applications": [], "extra": true}',
        b"\xff\xfe",
        b"[" * 10_000,
    ],
)
def test_a_body_that_is_not_a_batch_is_refused_whole(
    db: Database, kiosk: Kiosk, catalog: object, body: bytes
) -> None:
    before = snapshot(db)
    answer = kiosk.request("POST", "/v1/applications:batch", content=body)
    assert answer.status_code == 422
    assert answer.json()["code"] == "malformed"
    assert snapshot(db) == before


def test_too_many_items_are_refused_whole(db: Database, kiosk: Kiosk, catalog: object) -> None:
    before = snapshot(db)
    answer = kiosk.upload(*[kiosk.application(number=n) for n in range(MAX_BATCH + 1)])
    assert answer.status_code == 422
    assert snapshot(db) == before


def test_a_full_batch_is_taken(db: Database, kiosk: Kiosk, catalog: object) -> None:
    answer = kiosk.upload(*[kiosk.application(number=n) for n in range(1, MAX_BATCH + 1)])
    assert verdicts(answer) == [("accepted", None)] * MAX_BATCH
    assert len(list_applications(db, kiosk.station_id)) == MAX_BATCH


def test_an_oversized_batch_is_refused(db: Database, kiosk: Kiosk, catalog: object) -> None:
    application = kiosk.application()
    application["form"] = {"note": "x" * (9 * 1024 * 1024)}
    before = snapshot(db)
    answer = kiosk.upload(application)
    assert answer.status_code == 413
    assert snapshot(db) == before


def test_the_same_batch_racing_itself_is_stored_once(
    db: Database, kiosk: Kiosk, catalog: object
) -> None:
    """A kiosk's retry arriving while its first try is still being applied."""
    batch = [kiosk.application(number=n) for n in range(1, 51)]
    answers: list[Any] = []

    def send() -> None:
        answers.append(kiosk.upload(*batch))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for answer in answers:
        assert verdicts(answer) == [("accepted", None)] * 50
    assert len(list_applications(db)) == 50


def test_listing_filters_by_station_and_state(
    db: Database, make_station: MakeStation, catalog: object
) -> None:
    one, two = make_station("One", code="PD0001"), make_station("Two", code="PD0002")
    a = one.application()
    b = two.application()
    assert verdicts(one.upload(a)) == [("accepted", None)]
    assert verdicts(two.upload(b)) == [("accepted", None)]
    assert [row["id"] for row in list_applications(db, "PD0001")] == [a["id"]]
    assert [row["id"] for row in list_applications(db, two.station_id)] == [b["id"]]
    assert list_applications(db, state="accepted") == []
    assert uuid.UUID(list_applications(db, state="submitted")[0]["id"])
