"""Enrollment: one-time codes, a lost answer retried, other keys refused, expiry,
revocation at once, a new code for a replaced kiosk; none of the refusals changes data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import update

from district.db import Database
from district.errors import Refused
from district.models import EnrollmentCode
from district.stations import add_station, new_code, revoke, set_district_name
from tests.district.conftest import Kiosk, public_key_b64, snapshot


def enroll(client: TestClient, code: str, key: Ed25519PrivateKey, **extra: str):
    return client.post(
        "/v1/enroll", json={"code": code, "public_key": public_key_b64(key), **extra}
    )


def test_enrollment_answers_the_station_and_district(db: Database, client: TestClient) -> None:
    set_district_name(db, "浦东新区")
    added = add_station(db, "花木街道服务站", code="PD0101")
    key = Ed25519PrivateKey.generate()
    answer = enroll(client, added.enrollment_code, key, software="doorstep")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["station_id"] == added.station_id
    assert body["station_code"] == "PD0101"
    assert body["station_name"] == "花木街道服务站"
    assert body["district_name"] == "浦东新区"
    assert body["enrolled_at"]


def test_the_code_forgives_case_spaces_and_dashes(db: Database, client: TestClient) -> None:
    added = add_station(db, "Station")
    typed = " " + added.enrollment_code.replace("-", " ").lower() + " "
    assert enroll(client, typed, Ed25519PrivateKey.generate()).status_code == 200


def test_a_lost_answer_is_retried_with_the_same_code_and_key(
    db: Database, client: TestClient
) -> None:
    added = add_station(db, "Station", expires_minutes=5)
    key = Ed25519PrivateKey.generate()
    first = enroll(client, added.enrollment_code, key)
    assert first.status_code == 200
    # The kiosk never heard the answer, and tries again after the code has expired.
    with db.write() as connection:
        connection.execute(
            update(EnrollmentCode).values(expires_at=datetime.now(UTC) - timedelta(hours=1))
        )
    before = snapshot(db)
    again = enroll(client, added.enrollment_code, key)
    assert again.status_code == 200
    assert again.json() == first.json()
    assert snapshot(db) == before


def test_a_used_code_with_another_key_is_refused(db: Database, client: TestClient) -> None:
    added = add_station(db, "Station")
    assert enroll(client, added.enrollment_code, Ed25519PrivateKey.generate()).status_code == 200
    before = snapshot(db)
    other = enroll(client, added.enrollment_code, Ed25519PrivateKey.generate())
    assert other.status_code == 403
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["code"] == "code_used"
    assert snapshot(db) == before


def test_an_expired_code_is_refused(db: Database, client: TestClient) -> None:
    added = add_station(db, "Station", expires_minutes=1)
    with db.write() as connection:
        connection.execute(
            update(EnrollmentCode).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    before = snapshot(db)
    answer = enroll(client, added.enrollment_code, Ed25519PrivateKey.generate())
    assert answer.status_code == 403
    assert answer.json()["code"] == "code_expired"
    assert snapshot(db) == before


def test_an_unknown_code_is_refused(db: Database, client: TestClient) -> None:
    add_station(db, "Station")
    before = snapshot(db)
    answer = enroll(client, "ABCDE-FGHJK", Ed25519PrivateKey.generate())
    assert answer.status_code == 403
    assert answer.json()["code"] == "bad_code"
    assert snapshot(db) == before


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"{}",
        b'{"code": "ABCDE-FGHJK"}',
        b'{"code": "ABCDE-FGHJK", "public_key": "' + b"A" * 44 + b'", "extra": 1}',
        b'{"code": "ABCDE-FGHJK", "public_key": "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"}',
        b'{"code": "ABCDE-FGHJK", "public_key": "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZn"}',
        b"[1, 2, 3]",
    ],
)
def test_a_malformed_enrollment_is_refused(
    db: Database, client: TestClient, body: bytes
) -> None:
    add_station(db, "Station")
    before = snapshot(db)
    answer = client.post("/v1/enroll", content=body)
    assert answer.status_code == 422
    assert answer.json()["code"] == "malformed"
    assert snapshot(db) == before


def test_a_revoked_station_is_shut_out_at_once(
    db: Database, client: TestClient, kiosk: Kiosk
) -> None:
    assert kiosk.request("GET", "/v1/settings").status_code == 200
    revoke(db, kiosk.station_id)
    before = snapshot(db)
    for method, path in [("GET", "/v1/settings"), ("GET", "/v1/changes"), ("GET", "/v1/catalog")]:
        answer = kiosk.request(method, path)
        assert answer.status_code == 403
        assert answer.json()["code"] == "revoked"
    refused = kiosk.upload(kiosk.application())
    assert refused.status_code == 403
    assert snapshot(db) == before
    with pytest.raises(Refused):
        new_code(db, kiosk.station_id)


def test_a_revoked_station_cannot_enroll_again(db: Database, client: TestClient) -> None:
    added = add_station(db, "Station")
    key = Ed25519PrivateKey.generate()
    assert enroll(client, added.enrollment_code, key).status_code == 200
    revoke(db, added.station_id)
    answer = enroll(client, added.enrollment_code, key)
    assert answer.status_code == 403
    assert answer.json()["code"] in ("revoked", "bad_code")


def test_a_new_code_replaces_the_key(db: Database, client: TestClient, kiosk: Kiosk) -> None:
    issued = new_code(db, kiosk.station_code)
    replacement = Ed25519PrivateKey.generate()
    answer = enroll(client, issued.enrollment_code, replacement)
    assert answer.status_code == 200
    assert answer.json()["station_id"] == kiosk.station_id
    old = kiosk.request("GET", "/v1/settings")
    assert old.status_code == 401
    assert old.json()["code"] == "bad_signature"
    assert kiosk.request("GET", "/v1/settings", key=replacement).status_code == 200


def test_station_codes_are_unique_and_checked(db: Database) -> None:
    add_station(db, "One", code="PD0101")
    with pytest.raises(Refused):
        add_station(db, "Two", code="PD0101")
    with pytest.raises(Refused):
        add_station(db, "Three", code="pd-01")
    with pytest.raises(Refused):
        add_station(db, "Four", expires_minutes=0)
    assert add_station(db, "Five").station_code.startswith("ST")
