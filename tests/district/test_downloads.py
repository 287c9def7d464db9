"""Catalog versions and settings documents: published by the district, downloaded by
version (204 when the station has it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from district.catalogs import import_catalog, list_catalogs, publish_settings
from district.db import Database
from district.errors import Refused
from kiosk.core.catalog import CatalogRefused, parse_catalog
from tests.district.conftest import SAMPLE_CATALOG, Kiosk, MakeStation, snapshot


def test_no_catalog_yet(kiosk: Kiosk) -> None:
    assert kiosk.request("GET", "/v1/catalog").status_code == 204


def test_the_newest_catalog_is_downloaded_once(db: Database, kiosk: Kiosk) -> None:
    published = import_catalog(db, SAMPLE_CATALOG)
    assert published["published"] and published["items"] == 215
    answer = kiosk.request("GET", "/v1/catalog")
    assert answer.status_code == 200
    body = answer.json()
    assert body["version"] == "2026.11-sample"
    assert len(parse_catalog(body["catalog_toml"])) == 215
    assert kiosk.request("GET", "/v1/catalog", params={"have": "2026.11-sample"}).status_code == 204
    assert kiosk.request("GET", "/v1/catalog", params={"have": "older"}).status_code == 200


def test_importing_the_same_file_again_changes_nothing(db: Database) -> None:
    import_catalog(db, SAMPLE_CATALOG)
    before = snapshot(db)
    assert import_catalog(db, SAMPLE_CATALOG)["published"] is False
    assert snapshot(db) == before


def test_other_content_under_a_published_version_is_refused(db: Database, tmp_path: Path) -> None:
    import_catalog(db, SAMPLE_CATALOG)
    changed = tmp_path / "changed.toml"
    changed.write_text(
        SAMPLE_CATALOG.read_text(encoding="utf-8").replace('code = "MI-001"', 'code = "MI-901"'),
        encoding="utf-8",
    )
    before = snapshot(db)
    with pytest.raises(Refused):
        import_catalog(db, changed)
    assert snapshot(db) == before


def test_a_bad_catalog_file_is_refused_with_its_lines(db: Database, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        SAMPLE_CATALOG.read_text(encoding="utf-8").replace('code = "MI-002"', 'code = "MI-001"'),
        encoding="utf-8",
    )
    before = snapshot(db)
    with pytest.raises(CatalogRefused) as refused:
        import_catalog(db, bad)
    assert any("duplicate" in str(problem) for problem in refused.value.problems)
    assert snapshot(db) == before
    assert list_catalogs(db) == []


def test_settings_are_version_zero_until_published(kiosk: Kiosk) -> None:
    answer = kiosk.request("GET", "/v1/settings")
    assert answer.json() == {"version": 0, "settings": {}}
    assert kiosk.request("GET", "/v1/settings", params={"have": 0}).status_code == 204


def test_station_settings_lie_over_the_district_s(
    db: Database, make_station: MakeStation
) -> None:
    one, two = make_station("One"), make_station("Two")
    publish_settings(db, {"ui": {"language": "zh", "large_text": False}, "log": {"level": "INFO"}})
    own = publish_settings(db, {"ui": {"large_text": True}}, one.station_id)
    body = one.request("GET", "/v1/settings").json()
    assert body == {
        "version": own["version"],
        "settings": {"ui": {"language": "zh", "large_text": True}, "log": {"level": "INFO"}},
    }
    other = two.request("GET", "/v1/settings").json()
    assert other["settings"]["ui"] == {"language": "zh", "large_text": False}
    assert other["version"] < body["version"]
    assert one.request("GET", "/v1/settings", params={"have": body["version"]}).status_code == 204
    newer = publish_settings(db, {"ui": {"language": "en"}})
    assert two.request("GET", "/v1/settings", params={"have": other["version"]}).json()[
        "version"
    ] == newer["version"]
    assert one.request("GET", "/v1/settings").json()["settings"]["ui"] == {
        "language": "en",
        "large_text": True,
    }
