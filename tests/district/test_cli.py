"""The `district` command: every subcommand on both databases (through --db or
DISTRICT_DB), JSON output, refusals with exit 1, and the OpenAPI document it prints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from district.app import create_app
from district.cli import main
from tests.district.conftest import SAMPLE_CATALOG, Kiosk, public_key_b64

OPENAPI_FILE = Path(__file__).resolve().parents[2] / "district" / "openapi.json"


@pytest.fixture
def district(db_url: str, key_file: Path):
    runner = CliRunner()

    def run(
        *args: str, code: int = 0, env: dict[str, str] | None = None, input: str | None = None
    ) -> Result:
        result = runner.invoke(main, ["--db", db_url, "--key-file", str(key_file), *args],
                               env=env, input=input, catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result

    return run


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)


def test_the_whole_round_with_the_cli(district, db_url: str, key_file: Path) -> None:
    added = as_json(district("station", "add", "花木街道服务站", "--code", "PD0101", "--json"))
    assert added["station_code"] == "PD0101"
    assert len(added["enrollment_code"]) == 11
    published = as_json(district("catalog", "import", str(SAMPLE_CATALOG), "--json"))
    assert published["published"] is True
    assert "already published" in district("catalog", "import", str(SAMPLE_CATALOG)).stdout
    district("name", "浦东新区")
    assert district("name").stdout.strip() == "浦东新区"

    with TestClient(create_app(db_url, key_file)) as client:
        key = Ed25519PrivateKey.generate()
        enrolled = client.post(
            "/v1/enroll",
            json={"code": added["enrollment_code"], "public_key": public_key_b64(key)},
        )
        assert enrolled.json()["district_name"] == "浦东新区"
        kiosk = Kiosk(client, added["station_id"], "PD0101", key)
        application = kiosk.application()
        assert kiosk.upload(application).json()["results"][0]["verdict"] == "accepted"

        listed = as_json(district("applications", "list", "--json"))
        assert [(row["id"], row["station_id"], row["item_code"], row["state"], row["blobs"])
                for row in listed] == [
            (application["id"], added["station_id"], "MI-001", "submitted", [])
        ]
        assert as_json(district("applications", "list", "--json", "--station", "PD0101"))
        assert as_json(district("applications", "list", "--json", "--state", "accepted")) == []

        changed = as_json(
            district("applications", "set-state", application["id"], "accepted", "--json")
        )
        assert changed["state"] == "accepted"
        refused = district("applications", "set-state", application["id"], "rejected", code=1)
        assert "reason" in refused.stderr
        district("applications", "set-state", application["id"], "rejected", "--reason", "材料不全")
        wrong = district("applications", "set-state", application["id"], "completed", code=1)
        assert "cannot go from rejected to completed" in wrong.stderr
        states = [c["state"] for c in kiosk.request("GET", "/v1/changes").json()["changes"]]
        assert states == ["accepted", "rejected"]

        stations = as_json(district("station", "list", "--json"))
        assert stations[0]["enrolled"] is True and stations[0]["revoked_at"] is None
        district("station", "revoke", "PD0101")
        assert kiosk.request("GET", "/v1/changes").json()["code"] == "revoked"
        assert as_json(district("station", "list", "--json"))[0]["revoked_at"]


def test_the_database_comes_from_the_environment(db_url: str, key_file: Path) -> None:
    runner = CliRunner()
    env = {"DISTRICT_DB": db_url, "DISTRICT_KEY_FILE": str(key_file)}
    result = runner.invoke(main, ["station", "add", "Env", "--json"], env=env)
    assert result.exit_code == 0, result.output
    listed = runner.invoke(main, ["station", "list", "--json"], env=env)
    assert [s["station_name"] for s in json.loads(listed.stdout)] == ["Env"]


def test_settings_commands(district, tmp_path: Path) -> None:
    added = as_json(district("station", "add", "One", "--json"))
    document = tmp_path / "settings.json"
    document.write_text('{"ui": {"language": "en"}}', encoding="utf-8")
    assert "version 1" in district("settings", "publish", str(document)).stdout
    assert "version 2" in district("station", "settings", added["station_id"],
                                   str(document)).stdout
    bad = tmp_path / "bad.json"
    bad.write_text('{"ui": 3}', encoding="utf-8")
    district("settings", "publish", str(bad), code=1)
    bad.write_text("not json", encoding="utf-8")
    district("settings", "publish", str(bad), code=1)


def test_refusals_exit_1_with_json(district, tmp_path: Path) -> None:
    missing = as_json(district("station", "revoke", "NOPE", "--json", code=1))
    assert missing["error"] == "NotFound"
    bad = tmp_path / "bad.toml"
    bad.write_text("[catalog]\nformat = 1\n", encoding="utf-8")
    refused = as_json(district("catalog", "import", str(bad), "--json", code=1))
    assert refused["error"] == "CatalogRefused"
    assert "line" in refused["message"]
    district("station", "add", "Too soon", "--expires-minutes", "0", code=1)
    assert as_json(district("catalog", "list", "--json")) == []
    assert as_json(district("applications", "set-state", "x", "accepted", "--json", code=1))[
        "error"
    ] == "NotFound"


def test_wrong_usage_exits_2(district) -> None:
    district("applications", "set-state", "x", "flying", code=2)
    district("station", "frobnicate", code=2)


def test_the_station_code_expiry_is_configurable(district) -> None:
    added = as_json(district("station", "add", "One", "--expires-minutes", "90", "--json"))
    issued = as_json(district("station", "code", added["station_id"], "--json"))
    assert issued["station_id"] == added["station_id"]
    assert issued["enrollment_code"] != added["enrollment_code"]


def test_a_bad_database_url_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--db", "mysql://x/y", "station", "list"])
    assert result.exit_code == 1
    assert "unsupported database" in result.stderr


def test_another_key_file_is_refused(district, db_url: str, tmp_path: Path) -> None:
    district("station", "add", "One")
    result = CliRunner().invoke(
        main, ["--db", db_url, "--key-file", str(tmp_path / "other.key"), "station", "list"]
    )
    assert result.exit_code == 1
    assert "key" in result.stderr


def test_openapi_prints_the_document_kept_in_the_repository() -> None:
    result = CliRunner().invoke(main, ["openapi"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == json.loads(OPENAPI_FILE.read_text(encoding="utf-8")), (
        "district/openapi.json is out of date: run `district openapi --out district/openapi.json`"
    )


def test_the_served_document_is_the_one_in_the_repository(client: TestClient) -> None:
    served = client.get("/openapi.json")
    assert served.status_code == 200
    assert served.json() == json.loads(OPENAPI_FILE.read_text(encoding="utf-8"))


def test_an_agents_skills_route_their_calls_first(district) -> None:
    district("user", "add", "agent.ma", "--role", "agent", "--station-group", "east",
             "--password-stdin", input="a long enough password 77\n")  # fmt: skip
    district("user", "add", "admin.ma", "--role", "admin", "--password-stdin",
             input="a long enough password 77\n")  # fmt: skip
    assert as_json(district("user", "skills", "agent.ma", "--json"))["skills"] == []
    changed = district("user", "skills", "agent.ma", "--set", "health", "--set",
                       "medical_insurance", "--json")  # fmt: skip
    assert as_json(changed)["skills"] == ["health", "medical_insurance"]
    listed = {row["name"]: row for row in as_json(district("user", "list", "--json"))}
    assert listed["agent.ma"]["skills"] == ["health", "medical_insurance"]
    assert listed["admin.ma"]["skills"] == []
    refused = district("user", "skills", "agent.ma", "--set", "astrology", code=1)
    assert "not a category of the catalog: astrology" in refused.output
    refused = district("user", "skills", "admin.ma", "--set", "health", code=1)
    assert "only agents and supervisors take calls" in refused.output
    assert "no account" in district("user", "skills", "nobody", code=1).output
    assert as_json(district("user", "skills", "agent.ma", "--clear", "--json"))["skills"] == []
    audit = as_json(district("audit", "list", "--json"))
    assert [e for e in audit if e["action"] == "user_changed" and e["detail"] == "skills"]
