"""Shared test setup: Qt runs offscreen on a 1920×1080 screen like a station's, every test
gets its own data folder, and no log record or log file of the whole run may hold the
personal data the tests use."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.personal import NEVER_LOGGED

pytest_plugins = ["tests.cardsim.fixtures", "tests.cupsd", "tests.turnd"]

# Offscreen Qt's own screen is 800×800, and Qt drops a touch that lands off every screen:
# the tests tap the kiosk's windows (up to 1920×1080) with a finger, as residents do.
SCREEN = Path(__file__).with_name("offscreen-screen.json")
os.environ.setdefault("QT_QPA_PLATFORM", f"offscreen:configfile={SCREEN}")


class _Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.leaks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = self.format(record)
        if any(secret in message for secret in NEVER_LOGGED):
            self.leaks.append(message)


@pytest.fixture(scope="session", autouse=True)
def no_personal_data_in_logs() -> Iterator[None]:
    recorder = _Recorder()
    root = logging.getLogger()
    root.addHandler(recorder)
    level = root.level
    root.setLevel(logging.DEBUG)
    yield
    root.removeHandler(recorder)
    root.setLevel(level)
    assert not recorder.leaks, f"personal data was logged: {recorder.leaks[:3]}"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh kiosk data folder, also set as KIOSK_DATA_DIR for code that reads it.
    Afterwards its log files must hold no personal data."""
    folder = tmp_path / "data"
    monkeypatch.setenv("KIOSK_DATA_DIR", str(folder))
    yield folder
    for log_file in folder.glob("logs/*.log*"):
        text = log_file.read_text(encoding="utf-8", errors="replace")
        leaked = [secret for secret in NEVER_LOGGED if secret in text]
        assert not leaked, f"{log_file} holds personal data"


@pytest.fixture
def store(data_dir: Path) -> Iterator[object]:
    """An opened local store in a fresh data folder."""
    from kiosk.config import Paths
    from kiosk.store.db import Store

    opened = Store.open(Paths(data_dir))
    yield opened
    opened.close()
