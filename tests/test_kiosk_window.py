"""The real kiosk program on a virtual screen (Xvfb), as `make demo` runs it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from kiosk.config import Paths
from tests.test_store import database_from_a_newer_doorstep

REPO = Path(__file__).resolve().parent.parent


def test_the_demo_kiosk_draws_its_window_on_a_real_x_server(data_dir: Path, tmp_path: Path) -> None:
    xvfb_run = shutil.which("xvfb-run")
    assert xvfb_run, "xvfb-run is missing: `make test` installs it (installer/system-packages.sh)"
    shot = tmp_path / "kiosk.png"
    env = {key: value for key, value in os.environ.items() if key != "QT_QPA_PLATFORM"}
    result = subprocess.run(
        [
            xvfb_run, "-a", "-s", "-screen 0 1920x1080x24",
            sys.executable, "-m", "kiosk", "--data-dir", str(data_dir),
            "--config", str(REPO / "assets" / "demo" / "kiosk.toml"),
            "run", "--windowed", "--screenshot", str(shot), "--quit-after", "15",
        ],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    image = cv2.imread(str(shot))
    assert image is not None, "no screenshot was written"
    height, width = image.shape[:2]
    assert (width, height) >= (1024, 700)
    assert float(np.std(image)) > 5, "the screenshot is blank"
    qt_warnings = [line for line in result.stderr.splitlines() if "WARNING kiosk.qt" in line]
    assert not qt_warnings, qt_warnings
    artifacts = REPO / "build" / "screenshots"
    artifacts.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, artifacts / "kiosk-xvfb.png")


def test_a_kiosk_that_cannot_open_its_store_says_why_and_exits(data_dir: Path) -> None:
    database_from_a_newer_doorstep(Paths(data_dir))
    # The start screen is drawn before the store opens; the refusal then ends the program
    # with the reason, for systemd to start it again (and staff to read in the log).
    result = subprocess.run(
        [
            sys.executable, "-m", "kiosk", "--data-dir", str(data_dir),
            "--config", str(REPO / "assets" / "demo" / "kiosk.toml"),
            "run", "--windowed", "--quit-after", "60",
        ],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert result.returncode == 1
    assert "newer Doorstep" in result.stderr
