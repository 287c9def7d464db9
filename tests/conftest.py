"""Shared test setup: Qt runs offscreen, and every test gets its own data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh kiosk data folder, also set as KIOSK_DATA_DIR for code that reads it."""
    folder = tmp_path / "data"
    monkeypatch.setenv("KIOSK_DATA_DIR", str(folder))
    return folder


@pytest.fixture
def store(data_dir: Path):  # type: ignore[no-untyped-def]
    """An opened local store in a fresh data folder."""
    from kiosk.config import Paths
    from kiosk.store.db import Store

    opened = Store.open(Paths(data_dir))
    yield opened
    opened.close()
