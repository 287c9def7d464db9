"""The console's stations pages: who may see them, what a supervisor sees of other groups
(nothing), the admins' station work and its audit entries, the enrollment code and its QR
code, forms without their CSRF token, hostile input and broken health reports."""

from __future__ import annotations

import base64
import io
import json
import re
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from sqlalchemy import select

from district import audit
from district.cli import main
from district.console.stations import enrollment_payload
from district.db import Database
from district.models import EnrollmentCode, Station
from district.stations import add_station, code_sha256, read_health
from tests.district.admin_helpers import WIRE_REPORT, logged, refused_without_change, set_report
from tests.district.browsing import Person, sign_in
from tests.district.conftest import public_key_b64, snapshot

ACTIONS = ("rename", "group", "code", "revoke")
FORMS = {
    "rename": {"name": "新名称"},
    "group": {"group": "g3"},
    "code": {},
    "revoke": {},
}


@pytest.fixture
def two_groups(db: Database) -> None:
    add_station(db, "花木街道服务站", code="PD0101", station_group="g1")
    add_station(db, "Other group station", code="XX0202", station_group="g2")
    add_station(db, "No group station", code="NG0303")
    set_report(db, "PD0101", WIRE_REPORT)
    set_report(db, "XX0202", {**WIRE_REPORT, "software": "9.9.9-g2"})


@pytest.mark.usefixtures("two_groups")
@pytest.mark.parametrize("role", ["admin", "supervisor"])
def test_admins_and_supervisors_see_the_stations(db: Database, client: TestClient,
                                                 role: str) -> None:
    person = sign_in(client, db, role)
    page = person.get("/console/stations")
    assert page.status_code == 200
    assert "PD0101" in page.text and "花木街道服务站" in page.text
    assert "1.4.0" in page.text and "2026.11" in page.text
    one = person.get("/console/stations/PD0101")
    assert one.status_code == 200
    assert "paper_out" in one.text
    for word in ("正常", "未连接", "模拟", "故障"):  # device states in words
        assert word in one.text
    listed = person.api_get("/console/api/stations").json()
    assert "PD0101" in [station["code"] for station in listed]


@pytest.mark.usefixtures("two_groups")
@pytest.mark.parametrize("role", ["agent", "auditor"])
def test_agents_and_auditors_may_not(db: Database, client: TestClient, role: str) -> None:
    person = sign_in(client, db, role)
    for path in ("/console/stations", "/console/stations/PD0101"):
        assert person.get(path).status_code == 403
    for path in ("/console/api/stations", "/console/api/stations/PD0101"):
        answer = person.api_get(path)
        assert answer.status_code == 403
        assert answer.headers["content-type"].startswith("application/problem+json")
    for action, form in FORMS.items():
        refused_without_change(
            db, partial(person.post, f"/console/stations/PD0101/{action}", form), 403
        )


def test_signed_out_pages_go_to_sign_in(client: TestClient) -> None:
    answer = client.get("/console/stations", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/console/login")
    assert client.get("/console/api/stations").status_code == 401


@pytest.mark.usefixtures("two_groups")
def test_a_supervisor_sees_nothing_of_another_group(db: Database, client: TestClient) -> None:
    supervisor = sign_in(client, db, "supervisor", station_group="g1")
    for path in ("/console/stations", "/console/stations?group=g2",
                 "/console/stations?sort=contact", "/console/stations?state=waiting"):
        page = supervisor.get(path)
        assert page.status_code == 200
        for leak in ("XX0202", "Other group station", "9.9.9-g2", "NG0303", "No group"):
            assert leak not in page.text, (path, leak)
    for path in ("/console/api/stations", "/console/api/stations?group=g2"):
        body = supervisor.api_get(path).text
        assert "XX0202" not in body and "9.9.9-g2" not in body and "NG0303" not in body
    for code in ("XX0202", "NG0303"):
        assert supervisor.get(f"/console/stations/{code}").status_code == 404
        assert supervisor.api_get(f"/console/api/stations/{code}").status_code == 404


@pytest.mark.usefixtures("two_groups")
def test_a_supervisor_reads_only(db: Database, client: TestClient) -> None:
    supervisor = sign_in(client, db, "supervisor", station_group="g1")
    page = supervisor.get("/console/stations/PD0101").text
    assert "/rename" not in page and "/revoke" not in page and "/code" not in page
    assert 'method="post" action="/console/stations"' not in supervisor.get(
        "/console/stations"
    ).text
    refused_without_change(
        db, lambda: supervisor.post("/console/stations", {"name": "Mine"}), 403
    )
    for action, form in FORMS.items():
        refused_without_change(
            db, partial(supervisor.post, f"/console/stations/PD0101/{action}", form), 403
        )


def _qr_text(page: str) -> str:
    found = re.search(r'<img class="qr" src="data:image/png;base64,([^"]+)"', page)
    assert found, "the page has no QR code image"
    image = Image.open(io.BytesIO(base64.b64decode(found.group(1))))
    decoded = zxingcpp.read_barcodes(image)
    assert len(decoded) == 1
    return decoded[0].text


def _code_on(page: str) -> str:
    found = re.search(r'<p class="enrollment-code" lang="en">([A-Z0-9-]+)</p>', page)
    assert found, "the page shows no enrollment code"
    return found.group(1)


def test_an_admin_adds_a_station_and_sees_its_code_once(db: Database,
                                                        client: TestClient) -> None:
    admin = sign_in(client, db, "admin")
    answer = admin.post("/console/stations", {"name": " 新站 ", "code": "PD0909", "group": "g1"})
    assert answer.status_code == 200
    code = _code_on(answer.text)
    assert f"kiosk enroll --server http://testserver --code {code}" in answer.text
    assert json.loads(_qr_text(answer.text)) == {"district": "http://testserver", "code": code}
    with db.read() as connection:
        station = connection.execute(select(Station).where(Station.code == "PD0909")).one()
        stored = connection.scalars(select(EnrollmentCode.code_sha256)).all()
    assert (station.name, station.station_group) == ("新站", "g1")
    assert stored == [code_sha256(code)]  # only its hash
    assert code not in json.dumps(snapshot(db), default=str)
    assert logged(db, audit.STATION_ADDED) == [(admin.name, "station:PD0909", "")]
    # the station's own page never shows the code again
    assert code not in admin.get("/console/stations/PD0909").text
    # the code enrolls the kiosk, as the command line's does
    key = public_key_b64(Ed25519PrivateKey.generate())
    enrolled = client.post("/v1/enroll", json={"code": code, "public_key": key})
    assert enrolled.status_code == 200
    assert "已注册" in admin.get("/console/stations/PD0909").text


def test_the_enrollment_payload_is_small_json() -> None:
    payload = enrollment_payload("https://district.example", "ABCDE-FGHJK")
    assert json.loads(payload) == {"district": "https://district.example", "code": "ABCDE-FGHJK"}
    assert len(payload) < 80


def test_an_admin_renames_regroups_recodes_and_revokes(db: Database,
                                                       client: TestClient) -> None:
    admin = sign_in(client, db, "admin")
    add_station(db, "Old name", code="PD0101", station_group="g1")

    renamed = admin.post("/console/stations/PD0101/rename", {"name": "New name"})
    assert renamed.status_code == 303
    assert "名称已更改" in admin.get(renamed.headers["location"]).text
    moved = admin.post("/console/stations/PD0101/group", {"group": "g2"})
    assert moved.status_code == 303
    with db.read() as connection:
        row = connection.execute(select(Station).where(Station.code == "PD0101")).one()
    assert (row.name, row.station_group) == ("New name", "g2")
    assert logged(db, audit.STATION_CHANGED) == [
        (admin.name, "station:PD0101", "name"), (admin.name, "station:PD0101", "group"),
    ]

    issued = admin.post("/console/stations/PD0101/code", {})
    assert issued.status_code == 200
    code = _code_on(issued.text)
    assert json.loads(_qr_text(issued.text))["code"] == code
    assert logged(db, audit.STATION_CODE) == [(admin.name, "station:PD0101", "")]

    revoked = admin.post("/console/stations/PD0101/revoke", {})
    assert revoked.status_code == 303
    page = admin.get("/console/stations/PD0101").text
    assert "已停用" in page and "/revoke" not in page
    assert logged(db, audit.STATION_REVOKED) == [(admin.name, "station:PD0101", "")]
    # a revoked station gets no new code
    refused = admin.post("/console/stations/PD0101/code", {})
    assert refused.status_code == 400
    assert len(logged(db, audit.STATION_CODE)) == 1


def test_the_revoke_form_asks_first(db: Database, client: TestClient) -> None:
    admin = sign_in(client, db, "admin")
    add_station(db, "One", code="PD0101")
    page = admin.get("/console/stations/PD0101").text
    form = re.search(r'<form[^>]*action="/console/stations/PD0101/revoke"[^>]*>', page)
    assert form and "data-confirm=" in form.group(0)


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_every_form_needs_its_csrf_token(db: Database, client: TestClient,
                                         token: str | None) -> None:
    admin = sign_in(client, db, "admin")
    add_station(db, "One", code="PD0101")
    refused_without_change(
        db, lambda: admin.post("/console/stations", {"name": "Two"}, csrf=token), 403
    )
    for action, form in FORMS.items():
        refused_without_change(
            db, partial(admin.post, f"/console/stations/PD0101/{action}", form, csrf=token),
            403,
        )


@pytest.mark.parametrize(
    "form",
    [
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 121},
        {"name": "x" * 5000},
        {"name": "a\x00b"},
        {"name": "ok", "code": "pd0101"},
        {"name": "ok", "code": "TOO-LONG-CODE-FOR-A-STATION"},
        {"name": "ok", "code": "PD0101"},  # taken
        {"name": "ok", "group": "no spaces allowed"},
        {"name": "ok", "group": "g" * 61},
    ],
)
def test_a_bad_new_station_is_a_clear_400(db: Database, client: TestClient,
                                          form: dict[str, str]) -> None:
    admin = sign_in(client, db, "admin")
    add_station(db, "One", code="PD0101")
    answer = refused_without_change(db, lambda: admin.post("/console/stations", form), 400)
    assert "text/html" in answer.headers["content-type"]


def test_a_garbage_station_is_404(db: Database, client: TestClient) -> None:
    admin = sign_in(client, db, "admin")
    for code in ("NOPE", "x" * 300, "%00", "PD%0A0101", "pd0101"):
        assert admin.get(f"/console/stations/{code}").status_code == 404
        refused_without_change(
            db, partial(admin.post, f"/console/stations/{code}/rename", {"name": "n"}), 404
        )


@pytest.fixture
def target(db: Database, client: TestClient) -> Person:
    """An admin, and station ZZ0001 to work on (one for all of hypothesis' examples)."""
    add_station(db, "Target", code="ZZ0001")
    return sign_in(client, db, "admin")


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(max_size=130), code=st.text(max_size=14), group=st.text(max_size=62))
def test_hostile_station_forms_never_fail_the_server(
    db: Database, target: Person, name: str, code: str, group: str
) -> None:
    admin = target
    before = snapshot(db)
    answer = admin.post("/console/stations", {"name": name, "code": code, "group": group})
    assert answer.status_code in (200, 400), answer.text[:300]
    if answer.status_code == 400:
        assert snapshot(db) == before
    for action, form in (("rename", {"name": name}), ("group", {"group": group})):
        before = snapshot(db)
        answer = admin.post(f"/console/stations/ZZ0001/{action}", form)
        assert answer.status_code in (303, 400), answer.text[:300]
        if answer.status_code == 400:
            assert snapshot(db) == before


# what a JSON column holds on both databases (PostgreSQL's has no NUL in its text)
json_text = st.text(st.characters(blacklist_characters="\x00"), max_size=80)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False) | json_text,
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(json_text, children, max_size=5),
    max_leaves=25,
)
report_keys = st.sampled_from(
    ["software", "catalog_version", "queued", "queue_depth", "rejected", "devices", "clock"]
)
device_keys = st.sampled_from(["card_reader", "camera", "document_camera", "scanner", "printer"])
reports = (
    json_values
    | st.dictionaries(report_keys, json_values, max_size=7)
    | st.builds(
        lambda devices, rest: {**rest, "devices": devices},
        st.dictionaries(device_keys, json_values | st.dictionaries(
            st.sampled_from(["state", "error"]), json_values, max_size=2)) | st.lists(
            st.dictionaries(st.sampled_from(["family", "state", "error"]), json_values,
                            max_size=3), max_size=6),
        st.dictionaries(report_keys, json_values, max_size=4),
    )
)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(report=reports)
def test_any_stored_report_shows_without_failing(db: Database, target: Person,
                                                 report: Any) -> None:
    admin = target
    set_report(db, "ZZ0001", report)
    for path in ("/console/stations", "/console/stations/ZZ0001", "/console/catalog"):
        assert admin.get(path).status_code == 200, path
    for path in ("/console/api/stations", "/console/api/stations/ZZ0001", "/console/api/catalog"):
        assert admin.api_get(path).status_code == 200, path


def test_read_health_takes_what_is_right_and_dashes_the_rest() -> None:
    health = read_health(WIRE_REPORT)
    assert (health.software, health.catalog_version, health.queue_depth, health.rejected) == (
        "1.4.0", "2026.11", 3, 1,
    )
    assert {d.name: (d.state, d.error) for d in health.devices}["printer"] == (
        "failing", "paper_out",
    )
    broken = read_health({"queued": -1, "rejected": True, "software": 7,
                          "devices": {"camera": "ok", "printer": {"state": ["x"]}}}, "1.0")
    assert (broken.software, broken.queue_depth, broken.rejected) == ("1.0", None, None)
    assert all(device.state is None for device in broken.devices)
    assert read_health(None).devices[0].state is None


def test_filters_and_sorting(db: Database, client: TestClient) -> None:
    admin = sign_in(client, db, "admin")
    add_station(db, "A", code="AA0001", station_group="g1")
    add_station(db, "B", code="BB0002", station_group="g2")
    set_report(db, "BB0002", WIRE_REPORT, at=datetime.now(UTC) - timedelta(days=2))
    set_report(db, "AA0001", WIRE_REPORT, at=datetime.now(UTC))
    codes = [s["code"] for s in admin.api_get("/console/api/stations?group=g2").json()]
    assert codes == ["BB0002"]
    codes = [s["code"] for s in admin.api_get("/console/api/stations?sort=contact").json()]
    assert codes == ["BB0002", "AA0001"]
    assert admin.api_get("/console/api/stations?state=revoked").json() == []
    assert admin.api_get("/console/api/stations?state=bogus").status_code == 422
    page = admin.get("/console/stations?group=g1&state=waiting").text
    assert "AA0001" in page and "BB0002" not in page


def test_the_station_commands_write_audit_entries(db_url: str, key_file: Path) -> None:
    def district(*args: str, code: int = 0) -> str:
        result = CliRunner().invoke(
            main, ["--db", db_url, "--key-file", str(key_file), *args], catch_exceptions=False
        )
        assert result.exit_code == code, result.output
        return result.stdout

    added = json.loads(district("station", "add", "One", "--code", "PD0101", "--group", "g1",
                                "--json"))
    assert added["station_code"] == "PD0101"
    assert "is now Two" in district("station", "rename", "PD0101", "Two")
    moved = json.loads(district("station", "group", "PD0101", "g2", "--json"))
    assert (moved["station_name"], moved["station_group"]) == ("Two", "g2")
    assert "group -" in district("station", "group", "PD0101", "")
    district("station", "code", "PD0101")
    district("station", "revoke", "PD0101")
    assert "error:" in CliRunner().invoke(
        main, ["--db", db_url, "--key-file", str(key_file), "station", "rename", "PD0101", " "]
    ).output
    district("station", "group", "NOPE", "g1", code=1)
    db = Database.open(db_url, key_file)
    try:
        actions = [(e["action"], e["record"], e["detail"], e["account"])
                   for e in audit.entries(db)]
    finally:
        db.close()
    assert actions == [
        (audit.STATION_ADDED, "station:PD0101", "", audit.COMMAND_LINE),
        (audit.STATION_CHANGED, "station:PD0101", "name", audit.COMMAND_LINE),
        (audit.STATION_CHANGED, "station:PD0101", "group", audit.COMMAND_LINE),
        (audit.STATION_CHANGED, "station:PD0101", "group", audit.COMMAND_LINE),
        (audit.STATION_CODE, "station:PD0101", "", audit.COMMAND_LINE),
        (audit.STATION_REVOKED, "station:PD0101", "", audit.COMMAND_LINE),
    ]


@pytest.mark.usefixtures("two_groups")
def test_a_garbage_group_filter_is_refused(db: Database, client: TestClient) -> None:
    admin = sign_in(client, db, "admin")
    for group in ("\x00", "g 1", "g1\n", "x" * 61):
        assert admin.get("/console/stations", params={"group": group}).status_code == 400
        assert admin.api_get("/console/api/stations", params={"group": group}).status_code == 422
