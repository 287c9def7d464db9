"""The console's catalog page: only admins; an upload gets the checks of `district catalog
import`, publishes with an audit entry, and a refused file shows every problem with its
line and publishes nothing; which stations have installed which version."""

from __future__ import annotations

from functools import partial
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from district import audit
from district.console.catalog import MAX_UPLOAD_BYTES
from district.db import Database
from district.models import Catalog
from district.stations import add_station
from kiosk.core.catalog import CatalogRefused, parse_catalog
from tests.district.admin_helpers import WIRE_REPORT, logged, refused_without_change, set_report
from tests.district.browsing import Person, sign_in
from tests.district.conftest import SAMPLE_CATALOG

SAMPLE = SAMPLE_CATALOG.read_bytes()
SAMPLE_VERSION = "2026.11-sample"


def _upload(person: Person, content: bytes, name: str = "catalog.toml",
            csrf: str | None = "") -> httpx.Response:
    form = {} if csrf is None else {"csrf": csrf or person.csrf}
    return person.client.post("/console/catalog", data=form, files={"file": (name, content)},
                              follow_redirects=False)


def _versions(db: Database) -> int:
    with db.read() as connection:
        return connection.scalar(select(func.count()).select_from(Catalog)) or 0


def _broken() -> bytes:
    """The sample with three mistakes on known lines."""
    text = SAMPLE.decode("utf-8")
    text = text.replace(f'version = "{SAMPLE_VERSION}"', 'version = "broken-1"', 1)
    text = text.replace('code = "MI-001"', 'code = "mi-1"', 1)
    text = text.replace("promised_days = ", "promised_days = -", 1)
    text += '\n[[item]]\ncode = "XX-999"\n'
    return text.encode("utf-8")


def test_an_admin_uploads_a_catalog(db: Database, client: TestClient) -> None:
    admin = sign_in(client, db, "admin")
    answer = _upload(admin, SAMPLE)
    assert answer.status_code == 303
    page = admin.get(answer.headers["location"])
    assert page.status_code == 200
    assert SAMPLE_VERSION in page.text and "已发布事项目录" in page.text
    assert logged(db, audit.CATALOG_PUBLISHED) == [
        (admin.name, f"catalog:{SAMPLE_VERSION}", "")
    ]
    # the same file again changes nothing
    again = _upload(admin, SAMPLE)
    assert again.status_code == 200 and "未作更改" in again.text
    assert _versions(db) == 1 and len(logged(db, audit.CATALOG_PUBLISHED)) == 1
    assert admin.api_get("/console/api/catalog").json()["versions"][0]["version"] == (
        SAMPLE_VERSION
    )


def test_a_broken_catalog_shows_every_problem_with_its_line(db: Database,
                                                            client: TestClient) -> None:
    admin = sign_in(client, db, "admin")
    content = _broken()
    with pytest.raises(CatalogRefused) as refused:
        parse_catalog(content.decode("utf-8"))
    problems = refused.value.problems
    assert len(problems) >= 3
    answer = refused_without_change(db, lambda: _upload(admin, content), 400)
    for problem in problems:
        assert f"第 {problem.line} 行" in answer.text
        assert problem.message.replace("'", "&#39;").replace('"', "&#34;") in answer.text
    assert answer.text.count("<li>") >= len(problems)
    assert _versions(db) == 0


@pytest.mark.parametrize(
    ("content", "shown"),
    [
        (b'[catalog]\nformat = 1\n\xff\xfe = "x"\n', "第 3 行"),
        (b"", "catalog"),
        (b"not toml at all ][", "第 1 行"),
        (b"\x00" * 1000, "第 1 行"),
    ],
)
def test_files_that_are_not_catalogs_are_refused(db: Database, client: TestClient,
                                                 content: bytes, shown: str) -> None:
    admin = sign_in(client, db, "admin")
    answer = refused_without_change(db, lambda: _upload(admin, content), 400)
    assert shown in answer.text


def test_a_huge_file_is_refused(db: Database, client: TestClient) -> None:
    admin = sign_in(client, db, "admin")
    content = SAMPLE + b"#" * (MAX_UPLOAD_BYTES + 1)
    answer = refused_without_change(db, lambda: _upload(admin, content), 400)
    assert "2 MiB" in answer.text


def test_no_file_is_refused(db: Database, client: TestClient) -> None:
    admin = sign_in(client, db, "admin")
    answer = refused_without_change(
        db, lambda: admin.client.post("/console/catalog", data={"csrf": admin.csrf},
                                      follow_redirects=False), 400
    )
    assert "请选择一个文件" in answer.text


def test_another_file_under_a_published_version_is_refused(db: Database,
                                                           client: TestClient) -> None:
    admin = sign_in(client, db, "admin")
    assert _upload(admin, SAMPLE).status_code == 303
    changed = SAMPLE.replace(b"title_zh = ", b"title_zh = \"x\"\n# ", 1)
    answer = refused_without_change(db, lambda: _upload(admin, changed), 400)
    assert "already published" in answer.text


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_the_upload_needs_its_csrf_token(db: Database, client: TestClient,
                                         token: str | None) -> None:
    admin = sign_in(client, db, "admin")
    refused_without_change(db, partial(_upload, admin, SAMPLE, csrf=token), 403)
    assert _versions(db) == 0


@pytest.mark.parametrize("role", ["supervisor", "agent", "auditor"])
def test_only_admins(db: Database, client: TestClient, role: str) -> None:
    person = sign_in(client, db, role)
    assert person.get("/console/catalog").status_code == 403
    assert person.api_get("/console/api/catalog").status_code == 403
    refused_without_change(db, partial(_upload, person, SAMPLE), 403)


def test_which_stations_have_which_version(db: Database, client: TestClient,
                                           catalog: dict[str, Any]) -> None:
    admin = sign_in(client, db, "admin")
    for code in ("AA0001", "BB0002", "CC0003", "DD0004"):
        add_station(db, code.title(), code=code)
    set_report(db, "AA0001", WIRE_REPORT)  # catalog 2026.11: behind
    set_report(db, "BB0002", {**WIRE_REPORT, "catalog_version": SAMPLE_VERSION})
    set_report(db, "CC0003", {"catalog_version": 12})  # not a version: not reported
    overview = admin.api_get("/console/api/catalog").json()
    assert overview["installed"] == {"2026.11": 1, SAMPLE_VERSION: 1}
    assert overview["not_reported"] == 2
    assert overview["versions"][0]["stations"] == 1
    assert [(s["code"], s["catalog_version"]) for s in overview["behind"]] == [
        ("AA0001", "2026.11"), ("CC0003", None), ("DD0004", None),
    ]
    page = admin.get("/console/catalog").text
    assert "AA0001" in page and "BB0002" not in page.split("未安装最新版本的服务站")[1]


@pytest.fixture
def admin(db: Database, client: TestClient) -> Person:
    return sign_in(client, db, "admin")


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.binary(max_size=2000) | st.text(max_size=500).map(str.encode),
       name=st.text(max_size=300))
def test_any_upload_is_answered_without_failing(db: Database, admin: Person, content: bytes,
                                                name: str) -> None:
    answer = refused_without_change(db, lambda: _upload(admin, content, name or "x"), 400)
    assert "text/html" in answer.headers["content-type"]


@pytest.mark.parametrize(
    ("old", "new"),
    [(b'title_zh = "', b'title_zh = "\\u0000'), (b'version = "', b'version = "a\\n'),
     (b'version = "', b'version = "\\u0000')],
)
def test_control_characters_in_what_is_stored_are_refused(
    db: Database, client: TestClient, old: bytes, new: bytes
) -> None:
    admin = sign_in(client, db, "admin")
    content = SAMPLE.replace(old, new, 1)
    answer = refused_without_change(db, lambda: _upload(admin, content), 400)
    assert "control character" in answer.text
