"""`kiosk receipt sample` as a technician runs it: a real process each time."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.documents.samples import REFERENCE

KIOSK = [sys.executable, "-m", "kiosk"]


def kiosk(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*KIOSK, "--data-dir", str(tmp_path / "data"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "KIOSK_CONFIG": "", **env},
    )


def pdf_text(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-raw", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def page_width_mm(path: Path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True).stdout
    width = next(line for line in info.splitlines() if line.startswith("Page size:"))
    return round(float(width.split()[2]) / 72 * 25.4)


@pytest.mark.parametrize(
    ("options", "width", "title"),
    [
        ((), 210, "受理回执"),
        (("--roll",), 80, "受理回执"),
        (("--lang", "en"), 210, "Acceptance receipt"),
        (("--roll", "--lang", "en"), 80, "Acceptance receipt"),
    ],
)
def test_sample_writes_the_receipt(
    tmp_path: Path, options: tuple[str, ...], width: int, title: str
) -> None:
    out = tmp_path / "new" / "folder" / "receipt.pdf"
    result = kiosk(tmp_path, "receipt", "sample", "--out", str(out), *options)
    assert result.returncode == 0, result.stderr
    assert str(out) in result.stdout
    assert out.read_bytes().startswith(b"%PDF-")
    assert page_width_mm(out) == width
    text = "".join(pdf_text(out).split())  # the A4 title is letter-spaced: 受 理 回 执
    assert title.replace(" ", "") in text and REFERENCE in text


def test_an_unwritable_place_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = kiosk(tmp_path, "receipt", "sample", "--out", str(blocker / "receipt.pdf"))
    assert result.returncode == 1
    assert "error: cannot write" in result.stderr and "what to do:" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_font_is_a_clear_error(tmp_path: Path) -> None:
    assets = tmp_path / "assets"
    (assets / "catalog").mkdir(parents=True)
    catalog = Path(__file__).parent.parent / "assets" / "catalog" / "sample-catalog.toml"
    shutil.copy(catalog, assets / "catalog")
    out = tmp_path / "receipt.pdf"
    result = kiosk(tmp_path, "receipt", "sample", "--out", str(out), KIOSK_ASSETS_DIR=str(assets))
    assert result.returncode == 1
    assert "wqy-microhei.ttc" in result.stderr and "KIOSK_ASSETS_DIR" in result.stderr
    assert "Traceback" not in result.stderr and not out.exists()


def test_wrong_usage_exits_2(tmp_path: Path) -> None:
    assert kiosk(tmp_path, "receipt", "sample").returncode == 2  # no --out
    out = str(tmp_path / "r.pdf")
    assert kiosk(tmp_path, "receipt", "sample", "--out", out, "--lang", "fr").returncode == 2
