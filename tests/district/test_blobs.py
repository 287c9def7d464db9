"""Blobs: the idempotent PUT checked against its hash, HEAD, the batch check, bundles
(all or nothing), size limits; blobs are sealed at rest."""

from __future__ import annotations

import hashlib
import os

import pytest
from sqlalchemy import select

import district.app
from district.db import Database
from district.models import Blob
from kiosk.sync.wire import MAX_BLOB_BYTES, BundleMalformed, bundle_frames, parse_bundle
from tests.district.conftest import Kiosk, snapshot


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def test_put_stores_once_and_head_tells(db: Database, kiosk: Kiosk) -> None:
    content = os.urandom(20_000)
    assert kiosk.request("HEAD", f"/v1/blobs/{sha(content)}").status_code == 404
    assert kiosk.put_blob(content).status_code == 201
    before = snapshot(db)
    assert kiosk.put_blob(content).status_code == 200
    assert snapshot(db) == before
    assert kiosk.request("HEAD", f"/v1/blobs/{sha(content)}").status_code == 200


def test_blobs_are_sealed_at_rest(db: Database, kiosk: Kiosk) -> None:
    content = b"ID card of the resident " * 100
    assert kiosk.put_blob(content).status_code == 201
    with db.read() as connection:
        row = connection.execute(select(Blob).where(Blob.sha256 == sha(content))).one()
    assert row.size == len(content)
    assert b"ID card" not in row.sealed
    assert db.vault.open(row.sealed, f"blobs:{sha(content)}".encode()) == content


def test_an_empty_blob_is_a_blob(kiosk: Kiosk) -> None:
    assert kiosk.put_blob(b"").status_code == 201


def test_bytes_that_do_not_match_their_hash_are_refused(db: Database, kiosk: Kiosk) -> None:
    before = snapshot(db)
    answer = kiosk.put_blob(b"the real bytes", sha256=sha(b"other bytes"))
    assert answer.status_code == 422
    assert answer.json()["code"] == "hash_mismatch"
    assert snapshot(db) == before


@pytest.mark.parametrize("name", ["0" * 63, "A" * 64, "g" * 64, "0" * 65])
def test_a_malformed_blob_name_is_refused(db: Database, kiosk: Kiosk, name: str) -> None:
    before = snapshot(db)
    answer = kiosk.request("PUT", f"/v1/blobs/{name}", content=b"x")
    assert answer.status_code == 422
    assert answer.json()["code"] == "malformed"
    assert snapshot(db) == before


def test_an_oversized_blob_is_refused_by_its_length(db: Database, kiosk: Kiosk) -> None:
    content = b"\0" * (MAX_BLOB_BYTES + 1)
    before = snapshot(db)
    answer = kiosk.put_blob(content)
    assert answer.status_code == 413
    assert answer.json()["code"] == "too_large"
    assert snapshot(db) == before


def test_an_oversized_body_without_a_length_is_cut_off(
    db: Database, kiosk: Kiosk, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(district.app, "MAX_BLOB_BYTES", 1000)

    def chunks():
        for _ in range(10):
            yield b"x" * 500

    request = kiosk.client.build_request("PUT", "/v1/blobs/" + "0" * 64, content=chunks())
    assert "content-length" not in request.headers
    request.headers.update(
        {
            "X-Doorstep-Station": kiosk.station_id,
            "X-Doorstep-Timestamp": str(int(__import__("time").time())),
            "X-Doorstep-Nonce": "0" * 32,
            "X-Doorstep-Signature": "A" * 86 + "==",
        }
    )
    before = snapshot(db)
    answer = kiosk.client.send(request)
    assert answer.status_code == 413
    assert snapshot(db) == before


def test_check_lists_the_missing_blobs_in_order(kiosk: Kiosk) -> None:
    have = os.urandom(100)
    assert kiosk.put_blob(have).status_code == 201
    asked = [sha(b"a"), sha(have), sha(b"b"), sha(b"a")]
    answer = kiosk.request("POST", "/v1/blobs:check", json={"sha256": asked})
    assert answer.status_code == 200
    assert answer.json() == {"missing": [sha(b"a"), sha(b"b")]}


@pytest.mark.parametrize(
    "body", [{"sha256": []}, {"sha256": ["xyz"]}, {"hashes": [sha(b"a")]}, [sha(b"a")]]
)
def test_a_malformed_check_is_refused(kiosk: Kiosk, body: object) -> None:
    answer = kiosk.request("POST", "/v1/blobs:check", json=body)
    assert answer.status_code == 422


def test_a_bundle_stores_every_blob_once(db: Database, kiosk: Kiosk) -> None:
    blobs = [os.urandom(20_000) for _ in range(5)]
    assert kiosk.put_blob(blobs[0]).status_code == 201
    body = bundle_frames((sha(b), b) for b in [*blobs, blobs[1]])
    answer = kiosk.request("POST", "/v1/blobs:bundle", content=body)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"stored": [sha(b) for b in blobs[1:]], "present": [sha(blobs[0])]}
    before = snapshot(db)
    again = kiosk.request("POST", "/v1/blobs:bundle", content=body)
    assert again.json() == {"stored": [], "present": [sha(b) for b in blobs]}
    assert snapshot(db) == before
    for blob in blobs:
        assert kiosk.request("HEAD", f"/v1/blobs/{sha(blob)}").status_code == 200


def test_a_bundle_with_one_wrong_blob_stores_nothing(db: Database, kiosk: Kiosk) -> None:
    good, bad = b"good bytes", b"bad bytes"
    body = bundle_frames([(sha(good), good), (sha(b"something else"), bad)])
    before = snapshot(db)
    answer = kiosk.request("POST", "/v1/blobs:bundle", content=body)
    assert answer.status_code == 422
    assert answer.json()["code"] == "hash_mismatch"
    assert answer.json()["mismatched"] == [sha(b"something else")]
    assert snapshot(db) == before


@pytest.mark.parametrize(
    "body",
    [
        b"garbage",
        sha(b"x").encode() + b" 5\nxy",  # cut short
        sha(b"x").encode() + b" 01\nx",  # leading zero
        sha(b"x").encode() + b"  1\nx",
        sha(b"x").upper().encode() + b" 1\nx",
        sha(b"x").encode() + b" 1\nxTRAILING",
    ],
)
def test_a_malformed_bundle_stores_nothing(db: Database, kiosk: Kiosk, body: bytes) -> None:
    before = snapshot(db)
    answer = kiosk.request("POST", "/v1/blobs:bundle", content=body)
    assert answer.status_code == 422
    assert answer.json()["code"] == "malformed"
    assert snapshot(db) == before


def test_an_empty_bundle_stores_nothing(kiosk: Kiosk) -> None:
    answer = kiosk.request("POST", "/v1/blobs:bundle", content=b"")
    assert answer.status_code == 200
    assert answer.json() == {"stored": [], "present": []}


def test_an_oversized_bundle_is_refused(
    db: Database, kiosk: Kiosk, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(district.app, "MAX_BUNDLE_BYTES", 10_000)
    blobs = [os.urandom(4000) for _ in range(3)]
    before = snapshot(db)
    answer = kiosk.request(
        "POST", "/v1/blobs:bundle", content=bundle_frames((sha(b), b) for b in blobs)
    )
    assert answer.status_code == 413
    assert snapshot(db) == before


def test_bundle_framing_round_trips() -> None:
    pairs = [(sha(b), b) for b in (b"", b"a", b"\n" * 70, os.urandom(1000))]
    assert parse_bundle(bundle_frames(pairs)) == pairs
    with pytest.raises(BundleMalformed):
        parse_bundle(sha(b"a").encode() + b" 99999999999\n")
