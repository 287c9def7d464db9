"""What the district publishes to its stations: catalog versions and settings documents.

Catalog: `district catalog import FILE` checks the file with the kiosk's own reader
(`kiosk.core.catalog_store.read_catalog_file`: the same checks, the same messages with
lines as `kiosk catalog import`) and stores it as a new version for every station, with
its item codes (what uploads are checked against). The version is the file's
`[catalog] version`; importing the same file again changes nothing, and another file
under a version already published is refused (the stations could not tell them apart).
The console's upload (`upload_catalog`) makes the same checks on the file's content.
Each version published is an audit entry.
Until a catalog is published, GET /v1/catalog answers 204 and every uploaded application
is rejected `unknown_item`: the district accepts only items it has published.

Settings: a JSON object of tables (`{"ui": {"language": "zh"}}`) for every station or for
one. A station's settings are the newest document for all with the newest of its own laid
over it table by table; its version is the larger of the two rows' ids (one sequence for
all rows), so it only ever grows. Version 0 and `{}` until anything is published.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from district import audit
from district.db import Database
from district.errors import Refused
from district.models import Catalog, CatalogItem, SettingsVersion
from district.stations import find_station
from kiosk.sync.wire import CatalogAnswer, SettingsAnswer

if TYPE_CHECKING:
    from kiosk.core.catalog import Catalog as KioskCatalog

MAX_SETTINGS_BYTES = 64 * 1024


def import_catalog(
    db: Database, path: Path, *, by: str = audit.COMMAND_LINE, address: str = ""
) -> dict[str, Any]:
    """Publish the catalog file at `path`. Raises kiosk's CatalogError (with every problem
    and its line) for a file `kiosk catalog import` would refuse."""
    from kiosk.core.catalog_store import read_catalog_file

    catalog, raw = read_catalog_file(path)
    return _publish(db, catalog, raw, by=by, address=address)


def upload_catalog(
    db: Database, raw: bytes, source: str, *, by: str, address: str
) -> dict[str, Any]:
    """Publish a catalog file's content sent to the console (`source` names the file in
    the problems), with the same checks as `import_catalog`."""
    from kiosk.core.catalog_store import read_catalog_bytes

    return _publish(db, read_catalog_bytes(raw, source), raw, by=by, address=address)


def _publish(
    db: Database, catalog: KioskCatalog, raw: bytes, *, by: str, address: str
) -> dict[str, Any]:
    header = catalog.header
    if not header.version.isprintable() or "\x00" in header.title_zh:
        # TOML escapes allow them; PostgreSQL's text cannot hold a NUL
        raise Refused("the catalog's version or title_zh holds a control character")
    digest = hashlib.sha256(raw).hexdigest()
    version = catalog.header.version
    result = {"version": version, "items": len(catalog), "sha256": digest}
    with db.write() as connection:
        existing = connection.execute(
            select(Catalog.id, Catalog.sha256).where(Catalog.version == version)
        ).first()
        if existing is not None:
            if existing.sha256 == digest:
                return {**result, "published": False}
            raise Refused(
                f"catalog version {version} was already published with other content; "
                "give the file a new [catalog] version"
            )
        catalog_id = connection.execute(
            Catalog.__table__.insert().values(
                version=version,
                sha256=digest,
                title=catalog.header.title_zh,
                item_count=len(catalog),
                toml=raw.decode("utf-8"),
                published_at=datetime.now(UTC),
            )
        ).inserted_primary_key[0]
        connection.execute(
            CatalogItem.__table__.insert(),
            [{"catalog_id": catalog_id, "code": item.code} for item in catalog.items],
        )
        audit.append(
            db, connection, account=by, address=address, action=audit.CATALOG_PUBLISHED,
            record=f"catalog:{version}",
        )
    return {**result, "published": True}


def list_catalogs(db: Database) -> list[dict[str, Any]]:
    with db.read() as connection:
        rows = connection.execute(
            select(
                Catalog.version, Catalog.title, Catalog.item_count, Catalog.sha256,
                Catalog.published_at,
            ).order_by(Catalog.id)
        ).all()
    return [
        {
            "version": row.version,
            "title": row.title,
            "items": row.item_count,
            "sha256": row.sha256,
            "published_at": row.published_at.isoformat(),
        }
        for row in rows
    ]


# Built once: every console page with item names and every station's catalog check asks
# it, and building a statement anew costs more than PostgreSQL takes to answer it.
_NEWEST = select(Catalog.id, Catalog.version).order_by(Catalog.id.desc()).limit(1)


def newest_catalog_id(connection: Connection) -> tuple[int, str] | None:
    row = connection.execute(_NEWEST).first()
    return None if row is None else (row.id, row.version)


def catalog_for(connection: Connection, have: str | None) -> CatalogAnswer | None:
    """GET /v1/catalog: the newest catalog, or None when `have` is it (or there is none)."""
    newest = newest_catalog_id(connection)
    if newest is None or newest[1] == have:
        return None
    toml = connection.scalar(select(Catalog.toml).where(Catalog.id == newest[0]))
    return CatalogAnswer(version=newest[1], catalog_toml=toml or "")


def read_settings_file(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise Refused(f"cannot read {path}: {exc.strerror}") from None
    if len(raw) > MAX_SETTINGS_BYTES:
        raise Refused(f"{path} is larger than {MAX_SETTINGS_BYTES // 1024} KiB")
    try:
        document = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise Refused(f"{path} is not JSON: {exc}") from None
    if not isinstance(document, dict) or not all(
        isinstance(value, dict) for value in document.values()
    ):
        raise Refused(f"{path} must be a JSON object of tables, such as {{\"ui\": {{...}}}}")
    return document


def publish_settings(
    db: Database, document: dict[str, Any], station: str | None = None
) -> dict[str, Any]:
    with db.write() as connection:
        station_id = None if station is None else find_station(connection, station).id
        version = connection.execute(
            SettingsVersion.__table__.insert().values(
                station_id=station_id, document=document, published_at=datetime.now(UTC)
            )
        ).inserted_primary_key[0]
    return {"version": version, "station_id": station_id}


def settings_for(connection: Connection, station_id: str) -> SettingsAnswer:
    """A station's effective settings (see the module's docstring)."""
    version = 0
    merged: dict[str, Any] = {}
    for condition in (
        SettingsVersion.station_id.is_(None),
        SettingsVersion.station_id == station_id,
    ):
        row = connection.execute(
            select(SettingsVersion.id, SettingsVersion.document)
            .where(condition)
            .order_by(SettingsVersion.id.desc())
            .limit(1)
        ).first()
        if row is None:
            continue
        version = max(version, row.id)
        for table, values in row.document.items():
            merged[table] = {**merged.get(table, {}), **values}
    return SettingsAnswer(version=version, settings=merged)
