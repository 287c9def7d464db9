"""`kiosk vision decode/card/page` on generated pictures the detectors were not tuned on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from kiosk.devices.camera.scene import SceneKind, render
from kiosk.devices.vision.quads import corner_error


def kiosk(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "kiosk"), "--data-dir", str(cwd / "data"), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def picture(tmp_path: Path, kind: SceneKind, seed: int, size=(1280, 720)):
    image, truth = render(kind, seed=seed, size=size)
    path = tmp_path / f"{kind}-{seed}.png"
    cv2.imwrite(str(path), image)
    return path, truth


def test_decode_reports_a_voucher_with_the_documented_keys(tmp_path: Path) -> None:
    path, truth = picture(tmp_path, SceneKind.VOUCHER, 777_001)
    result = kiosk("vision", "decode", str(path), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert set(found) == {"codes", "card", "document", "faces"}
    assert found["codes"] == [{"data": truth.codes[0].data, "kind": "nhsa_voucher"}]
    assert found["card"] is None


def test_decode_reports_a_card_with_its_corners(tmp_path: Path) -> None:
    path, truth = picture(tmp_path, SceneKind.CARD, 777_002)
    found = json.loads(kiosk("vision", "decode", str(path), "--json", cwd=tmp_path).stdout)
    assert corner_error(found["card"]["corners"], truth.card)[0] < 0.02
    assert found["codes"] == []


def test_card_writes_the_flattened_face(tmp_path: Path) -> None:
    path, _ = picture(tmp_path, SceneKind.CARD, 777_005)
    out = tmp_path / "face.png"
    result = kiosk("vision", "card", str(path), "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert cv2.imread(str(out)).shape == (540, 856, 3)


def test_no_card_is_a_clear_failure(tmp_path: Path) -> None:
    path, _ = picture(tmp_path, SceneKind.EMPTY, 777_004)
    out = tmp_path / "face.png"
    result = kiosk("vision", "card", str(path), "--out", str(out), cwd=tmp_path)
    assert result.returncode == 1
    assert "no card" in result.stderr and not out.exists()


def test_pages_become_one_pdf(tmp_path: Path) -> None:
    first, _ = picture(tmp_path, SceneKind.PAGE, 777_005, (1920, 1080))
    second, _ = picture(tmp_path, SceneKind.PAGE, 777_006, (1920, 1080))
    out = tmp_path / "document.pdf"
    result = kiosk("vision", "page", str(first), str(second), "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = out.read_bytes()
    assert data.startswith(b"%PDF")
    assert subprocess.run(["pdfinfo", str(out)], capture_output=True, text=True).stdout.count(
        "Pages:           2"
    ) == 1


def test_a_page_image_is_flat_and_clean(tmp_path: Path) -> None:
    path, _ = picture(tmp_path, SceneKind.PAGE, 777_007)
    out = tmp_path / "page.png"
    assert kiosk("vision", "page", str(path), "--out", str(out), cwd=tmp_path).returncode == 0
    page = cv2.imread(str(out), cv2.IMREAD_GRAYSCALE)
    assert page.shape[0] == 1754
    assert float((page > 200).mean()) > 0.6  # white paper after cleaning (text is the rest)


@pytest.mark.parametrize(
    "content",
    [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40],
)
def test_bad_files_are_refused_clearly(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    result = kiosk("vision", "decode", str(path), "--json", cwd=tmp_path)
    assert result.returncode == 1
    assert json.loads(result.stdout)["error"] == "ImageUnreadable"


def test_hostile_code_text_is_escaped(tmp_path: Path) -> None:
    import numpy as np

    hostile = "\x1b[31mred\u202eevil"
    matrix = cv2.QRCodeEncoder.create().encode(hostile)
    code = cv2.resize(matrix, None, fx=12, fy=12, interpolation=cv2.INTER_NEAREST)
    frame = np.full((720, 1280), 255, np.uint8)
    frame[100 : 100 + code.shape[0], 400 : 400 + code.shape[1]] = code
    path = tmp_path / "hostile.png"
    cv2.imwrite(str(path), frame)
    result = kiosk("vision", "decode", str(path), "--json", cwd=tmp_path)
    assert "\x1b" not in result.stdout and "\u202e" not in result.stdout
    assert json.loads(result.stdout)["codes"][0]["data"] == hostile
    plain = kiosk("vision", "decode", str(path), cwd=tmp_path)
    assert "\x1b" not in plain.stdout and "\u202e" not in plain.stdout
