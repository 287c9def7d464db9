"""Keeping the service catalog in the local store: install a checked catalog in one
transaction, and load the one in use.

An import either replaces the whole catalog or changes nothing: the file is checked whole
first (kiosk.core.catalog.parse_catalog), then every row is swapped in one SQLite
transaction, so a refused file, a crash or a SIGKILL half-way leaves the catalog exactly
as it was. A store with no catalog at all gets the sample catalog shipped in `assets/`.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from sqlalchemy import delete, select

from kiosk.config import assets_dir
from kiosk.core.catalog import (
    FORMAT_VERSION,
    Catalog,
    CatalogHeader,
    CatalogProblem,
    CatalogRefused,
    ServiceItem,
)
from kiosk.core.catalog import parse_catalog as parse_catalog_text
from kiosk.errors import CatalogError
from kiosk.store.db import Store
from kiosk.store.models import CatalogInfo, CatalogItemRow, utcnow

log = logging.getLogger(__name__)

MAX_CATALOG_BYTES = 16 * 1024 * 1024


def sample_catalog_path() -> Path:
    return assets_dir() / "catalog" / "sample-catalog.toml"


def read_catalog_file(path: Path) -> tuple[Catalog, bytes]:
    """Read and check a catalog file; return it and its raw bytes."""
    source = str(path)
    try:
        if path.stat().st_size > MAX_CATALOG_BYTES:
            raise CatalogRefused(source, [CatalogProblem(0, "file is larger than 16 MiB")])
        raw = path.read_bytes()
    except OSError as exc:
        raise CatalogError(f"cannot read catalog file {path}: {exc.strerror}") from None
    return read_catalog_bytes(raw, source), raw


def read_catalog_bytes(raw: bytes, source: str) -> Catalog:
    """Check a catalog file's content (UTF-8 text, then the whole catalog); `source`
    names it in the problems."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CatalogRefused(source, [CatalogProblem(line, "not UTF-8 text")]) from None
    return parse_catalog_text(text, source)


def install_catalog(store: Store, catalog: Catalog, raw: bytes) -> None:
    """Replace the catalog in use with `catalog`, all at once."""
    with store.write() as session:
        session.execute(delete(CatalogItemRow))
        session.add_all(
            CatalogItemRow(
                code=item.code,
                position=position,
                category=item.category.value,
                data=item.model_dump(mode="json"),
            )
            for position, item in enumerate(catalog.items)
        )
        header = catalog.header
        info = CatalogInfo(
            id=1,
            version=header.version,
            title_zh=header.title_zh,
            title_en=header.title_en,
            sample=header.sample,
            source_sha256=hashlib.sha256(raw).hexdigest(),
            item_count=len(catalog),
            installed_at=utcnow(),
        )
        session.merge(info)
    log.info("catalog %s installed: %d items", header.version, len(catalog))


def import_catalog_file(store: Store, path: Path) -> Catalog:
    """Check `path` whole and install it; on any problem the catalog in use is unchanged."""
    catalog, raw = read_catalog_file(path)
    install_catalog(store, catalog, raw)
    return catalog


def load_catalog(store: Store) -> Catalog:
    """The catalog in use, installing the shipped sample catalog into an empty store."""
    catalog = _load_installed(store)
    if catalog is None:
        log.info("no catalog installed yet: installing the sample catalog")
        import_catalog_file(store, sample_catalog_path())
        catalog = _load_installed(store)
        assert catalog is not None
    return catalog


def catalog_info(store: Store) -> CatalogInfo | None:
    with store.read() as session:
        return session.get(CatalogInfo, 1)


def _load_installed(store: Store) -> Catalog | None:
    with store.read() as session:
        info = session.get(CatalogInfo, 1)
        if info is None:
            return None
        rows = session.scalars(select(CatalogItemRow).order_by(CatalogItemRow.position)).all()
        header = CatalogHeader(
            format=FORMAT_VERSION,
            version=info.version,
            title_zh=info.title_zh,
            title_en=info.title_en,
            sample=info.sample,
        )
        items = tuple(ServiceItem.model_validate(row.data) for row in rows)
    return Catalog(header=header, items=items)
