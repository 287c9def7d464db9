"""Catalog speed: loading the catalog in use from the local store (every kiosk start) and
searching it (every keystroke on the search screen).

Floors: the same rows read with bare sqlite3 and json.loads (no validation), and a bare
substring scan over the Chinese names (no ranking, no pinyin, no English).
"""

from __future__ import annotations

import json
import sqlite3
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import median_seconds, report
from kiosk.config import Paths
from kiosk.core.catalog_store import load_catalog
from kiosk.store.db import Store

QUERIES = ["jyjl", "医保", "养老", "card", "SS-001", "残疾人证", "shbzk", "居住证"]


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        paths = Paths(Path(folder))
        store = Store.open(paths)
        catalog = load_catalog(store)

        def plain_rows() -> list[object]:
            connection = sqlite3.connect(paths.database)
            rows = connection.execute("SELECT data FROM catalog_items ORDER BY position")
            loaded = [json.loads(data) for (data,) in rows]
            connection.close()
            return loaded

        load = median_seconds(lambda: load_catalog(store), repeats=30)
        floor = median_seconds(plain_rows, repeats=30)
        report("catalog_load", load * 1000, floor * 1000, "ms", "under 150 ms")

        catalog.search("warm")  # builds the search keys once, as the kiosk does
        names = [item.name_zh for item in catalog]
        search = median_seconds(lambda: [catalog.search(q) for q in QUERIES], repeats=50)
        scan = median_seconds(lambda: [[n for n in names if q in n] for q in QUERIES], repeats=50)
        per_query = 1000 / len(QUERIES)
        report("catalog_search", search * per_query, scan * per_query, "ms", "under 5 ms a query")
        store.close()


if __name__ == "__main__":
    main()
