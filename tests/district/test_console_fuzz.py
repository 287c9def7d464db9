"""The console's JSON endpoints against generated requests: schemathesis from the OpenAPI
document, valid and invalid, sent by nobody and by each role (with the session's cookie
and CSRF token). Never a 5xx; every answer as the document says; and an invalid request,
or one refused, leaves every stored row as it was (but the sessions' last request time).
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import update

from district.app import openapi_document
from district.db import Database
from district.models import Station
from tests.district.browsing import Person, sign_in
from tests.district.conftest import MakeStation, snapshot

SCHEMA = schemathesis.openapi.from_dict(openapi_document())
OPERATIONS = {
    f"{op.method.upper()} {op.path}": op
    for op in (result.ok() for result in SCHEMA.get_all_operations())
    if op.path.startswith("/console/api/")
}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
FUZZ = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
ROLES = ("nobody", "agent", "supervisor", "admin", "auditor")
VOLATILE = {"console_sessions", "nonces"}  # a request's own traces


def _stable(db: Database) -> dict[str, Any]:
    return {name: rows for name, rows in snapshot(db).items() if name not in VOLATILE}


@pytest.fixture
def people(client: TestClient, db: Database, make_station: MakeStation, catalog: object
           ) -> dict[str, Person | None]:
    station = make_station("一号站", code="FZ0001")
    with db.write() as connection:
        connection.execute(
            update(Station).where(Station.id == station.station_id).values(station_group="g1")
        )
    station.upload(station.application())
    found: dict[str, Person | None] = {"nobody": None}
    for role in ROLES[1:]:
        found[role] = sign_in(client, db, role)
    return found


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_generated_console_requests(
    client: TestClient, db: Database, people: dict[str, Person | None], operation: str,
    mode: GenerationMode,
) -> None:
    @FUZZ
    @given(case=OPERATIONS[operation].as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        for role in ROLES:
            person = people[role]
            before = _stable(db)
            kwargs = case.as_transport_kwargs(base_url=str(client.base_url))
            headers = {
                key: value for key, value in kwargs.get("headers", {}).items()
                if key.lower() not in ("content-length", "cookie")
            }
            if person is not None:
                headers["X-CSRF-Token"] = person.csrf
            sender = person.client if person is not None else TestClient(client.app)
            response = sender.request(
                kwargs["method"], kwargs["url"], params=kwargs.get("params"),
                headers=headers, json=kwargs.get("json"), content=kwargs.get("content"),
            )
            assert response.status_code < 500, response.text
            case.validate_response(response, checks=CHECKS)
            if mode is GenerationMode.NEGATIVE or response.status_code >= 400:
                assert _stable(db) == before, f"{role}: {response.status_code}"

    run()
