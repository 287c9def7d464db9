"""`kiosk doctor`: one report of the station's state for staff and technicians.

It never changes anything and never fails on a broken part: each part says what it found,
so the report itself is the diagnosis. No personal data appears in it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kiosk import __version__
from kiosk.config import Paths, Settings
from kiosk.devices.discovery import discover
from kiosk.errors import DoorstepError


def examine(paths: Paths, config_file: Path | None, settings: Settings) -> dict[str, Any]:
    from kiosk.core.catalog_store import catalog_info
    from kiosk.store.db import Store, head_revision

    database: dict[str, Any] = {
        "path": str(paths.database),
        "state": "ok",
        "schema_revision": None,
        "head_revision": head_revision(),
        "error": None,
    }
    catalog = None
    try:
        store = Store.open(paths)
    except DoorstepError as error:
        database.update(state="error", error=error.staff_message)
    else:
        try:
            database["schema_revision"] = store.schema_revision()
            info = catalog_info(store)
            if info is not None:
                catalog = {"version": info.version, "items": info.item_count,
                           "sample": info.sample}
        finally:
            store.close()
    return {
        "version": __version__,
        "data_dir": str(paths.data_dir),
        "settings_file": str(config_file or paths.settings_file),
        "station": settings.station.code,
        "database": database,
        "catalog": catalog,
        "devices": {
            name: report.as_json()
            for name, report in discover(settings.devices, settings.printer).items()
        },
    }
