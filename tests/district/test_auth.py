"""Signed requests: unsigned, bad or borrowed signatures, stale and replayed requests,
unknown and wrong stations are refused with 401/403 problems and change nothing."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from district.auth import prune_nonces
from district.db import Database
from district.models import Nonce
from district.stations import add_station
from kiosk.sync.wire import CLOCK_SKEW_S, sign_request
from tests.district.conftest import Kiosk, MakeStation, snapshot


@pytest.fixture
def batch(kiosk: Kiosk, catalog: object) -> dict:
    return {"applications": [kiosk.application()]}


def refused(answer, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == code


def test_unsigned_requests_are_refused(db: Database, client: TestClient, batch: dict) -> None:
    before = snapshot(db)
    refused(client.post("/v1/applications:batch", json=batch), 401, "unsigned")
    refused(client.get("/v1/changes"), 401, "unsigned")
    refused(client.put("/v1/blobs/" + "0" * 64, content=b"x"), 401, "unsigned")
    assert snapshot(db) == before


@pytest.mark.parametrize(
    ("header", "value", "code"),
    [
        ("X-Doorstep-Timestamp", "yesterday", "unsigned"),
        ("X-Doorstep-Nonce", "short", "unsigned"),
        ("X-Doorstep-Nonce", "G" * 32, "unsigned"),
        ("X-Doorstep-Signature", "not base64!", "bad_signature"),
        ("X-Doorstep-Signature", "AAAA", "bad_signature"),
        ("X-Doorstep-Station", "not-a-uuid", "unknown_station"),
    ],
)
def test_malformed_signing_headers_are_refused(
    db: Database, kiosk: Kiosk, batch: dict, header: str, value: str, code: str
) -> None:
    request = kiosk.client.build_request("POST", "/v1/applications:batch", json=batch)
    request.headers.update(
        sign_request(kiosk.key, kiosk.station_id, "POST", request.url.raw_path.decode(),
                     request.content)
    )
    request.headers[header] = value
    before = snapshot(db)
    answer = kiosk.client.send(request)
    refused(answer, 403 if code == "unknown_station" else 401, code)
    assert snapshot(db) == before


def test_a_signature_by_another_key_is_refused(db: Database, kiosk: Kiosk, batch: dict) -> None:
    before = snapshot(db)
    answer = kiosk.request(
        "POST", "/v1/applications:batch", json=batch, key=Ed25519PrivateKey.generate()
    )
    refused(answer, 401, "bad_signature")
    assert snapshot(db) == before


def test_a_body_changed_after_signing_is_refused(db: Database, kiosk: Kiosk, batch: dict) -> None:
    import json

    body = json.dumps(batch).encode()
    request = kiosk.client.build_request("POST", "/v1/applications:batch", content=body)
    request.headers.update(
        sign_request(kiosk.key, kiosk.station_id, "POST", "/v1/applications:batch", body)
    )
    tampered = kiosk.client.build_request(
        "POST", "/v1/applications:batch", content=body.replace(b"MI-001", b"MI-002"),
        headers=dict(request.headers),
    )
    before = snapshot(db)
    refused(kiosk.client.send(tampered), 401, "bad_signature")
    assert snapshot(db) == before


def test_the_query_string_is_signed(db: Database, kiosk: Kiosk) -> None:
    answer = kiosk.request("GET", "/v1/changes", params={"limit": 5}, sign_path="/v1/changes")
    refused(answer, 401, "bad_signature")
    assert kiosk.request("GET", "/v1/changes", params={"limit": 5}).status_code == 200


def test_another_method_on_the_same_path_is_refused(kiosk: Kiosk) -> None:
    request = kiosk.client.build_request("HEAD", "/v1/blobs/" + "a" * 64)
    request.headers.update(
        sign_request(kiosk.key, kiosk.station_id, "GET", "/v1/blobs/" + "a" * 64, b"")
    )
    assert kiosk.client.send(request).status_code == 401


@pytest.mark.parametrize("offset", [-(CLOCK_SKEW_S + 5), CLOCK_SKEW_S + 5, -86400 * 365])
def test_stale_requests_are_refused(
    db: Database, kiosk: Kiosk, batch: dict, offset: int
) -> None:
    before = snapshot(db)
    answer = kiosk.request(
        "POST", "/v1/applications:batch", json=batch, timestamp=int(time.time()) + offset
    )
    refused(answer, 401, "stale")
    assert snapshot(db) == before


def test_a_request_within_the_clock_window_is_taken(kiosk: Kiosk) -> None:
    answer = kiosk.request("GET", "/v1/changes", timestamp=int(time.time()) - CLOCK_SKEW_S + 30)
    assert answer.status_code == 200


def test_a_replayed_request_is_refused_and_changes_nothing(
    db: Database, kiosk: Kiosk, batch: dict
) -> None:
    nonce = uuid.uuid4().hex
    stamp = int(time.time())
    first = kiosk.request("POST", "/v1/applications:batch", json=batch, nonce=nonce,
                          timestamp=stamp)
    assert first.status_code == 200
    assert first.json()["results"][0]["verdict"] == "accepted"
    before = snapshot(db)
    again = kiosk.request("POST", "/v1/applications:batch", json=batch, nonce=nonce,
                          timestamp=stamp)
    refused(again, 401, "replayed")
    # Even a different request may not reuse the nonce.
    refused(kiosk.request("GET", "/v1/changes", nonce=nonce), 401, "replayed")
    assert snapshot(db) == before


def test_a_refused_request_does_not_spend_its_nonce(db: Database, kiosk: Kiosk) -> None:
    nonce = uuid.uuid4().hex
    bad = kiosk.request("POST", "/v1/applications:batch", content=b"not json", nonce=nonce)
    refused(bad, 422, "malformed")
    with db.read() as connection:
        assert connection.scalar(select(func.count()).select_from(Nonce)) == 0
    assert kiosk.request("GET", "/v1/changes", nonce=nonce).status_code == 200


def test_nonces_are_per_station(make_station: MakeStation) -> None:
    one, two = make_station("One"), make_station("Two")
    nonce = uuid.uuid4().hex
    assert one.request("GET", "/v1/changes", nonce=nonce).status_code == 200
    assert two.request("GET", "/v1/changes", nonce=nonce).status_code == 200


def test_a_station_cannot_sign_for_another(
    db: Database, make_station: MakeStation, catalog: object
) -> None:
    one, two = make_station("One"), make_station("Two")
    before = snapshot(db)
    answer = one.request(
        "POST", "/v1/applications:batch", json={"applications": [two.application()]},
        station_id=two.station_id,
    )
    refused(answer, 401, "bad_signature")
    assert snapshot(db) == before


def test_unknown_and_unenrolled_stations_are_refused(db: Database, kiosk: Kiosk) -> None:
    waiting = add_station(db, "Not enrolled yet")
    before = snapshot(db)
    for station_id in (str(uuid.uuid4()), waiting.station_id):
        refused(kiosk.request("GET", "/v1/changes", station_id=station_id), 403,
                "unknown_station")
    assert snapshot(db) == before


def test_old_nonces_are_pruned(db: Database, kiosk: Kiosk) -> None:
    for _ in range(3):
        assert kiosk.request("GET", "/v1/settings").status_code == 200
    assert prune_nonces(db) == 0
    assert prune_nonces(db, datetime.now(UTC) + timedelta(hours=1)) == 3
