"""Signing in to the console: a smoke test of the sign-in, the TOTP step and sign-out
(the thorough attacks are in test_console_security.py)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from district.db import Database
from tests.district.browsing import sign_in


def test_an_agent_signs_in_and_out(client: TestClient, db: Database) -> None:
    agent = sign_in(client, db, "agent")
    assert agent.get("/console/").headers["location"] == "/console/inbox"
    assert agent.post("/console/logout").status_code == 303
    assert agent.get("/console/password").status_code == 303


def test_an_admin_with_totp_signs_in(client: TestClient, db: Database) -> None:
    admin = sign_in(client, db, "admin", totp=True)
    assert admin.get("/console/").headers["location"] == "/console/stations"
