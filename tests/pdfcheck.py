"""Reading a PDF as a person would, for the tests: its text (pdftotext), fonts (pdffonts),
pages (pdfinfo), the QR codes on its rendered pages (pdftoppm + OpenCV) and words beyond
its margins. Needs Debian's poppler-utils."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import cv2


def poppler(*args: str) -> str:
    """What a poppler tool prints (metadata with characters beyond the basic plane may
    come out as lone surrogates: replaced)."""
    result = subprocess.run(args, capture_output=True, check=True)
    return result.stdout.decode("utf-8", errors="replace")


def text_of(path: Path) -> str:
    """The text in content order (a wrapped paragraph stays together)."""
    return poppler("pdftotext", "-raw", "-enc", "UTF-8", str(path), "-")


def fonts_listed(path: Path) -> list[tuple[str, bool]]:
    """(name, embedded) of every font pdffonts lists."""
    lines = poppler("pdffonts", str(path)).splitlines()[2:]
    return [(line.split()[0], line.split()[-5] == "yes") for line in lines if line.strip()]


def assert_fonts_embedded(path: Path) -> list[str]:
    listed = fonts_listed(path)
    assert listed, "no fonts at all"
    assert all(embedded for _, embedded in listed), listed
    assert all("+" in name for name, _ in listed), f"not subset: {listed}"  # ABCDEF+Name
    return [name for name, _ in listed]


def page_info(path: Path) -> tuple[int, float, float]:
    """(pages, width, height) in points."""
    info = poppler("pdfinfo", str(path))
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M)[1])
    size = re.search(r"^Page size:\s+([\d.]+) x ([\d.]+) pts", info, re.M)
    return pages, float(size[1]), float(size[2])


def qr_codes(path: Path, tmp_path: Path, dpi: int = 150) -> list[str]:
    """The QR codes OpenCV reads on the pages rendered at `dpi` (its classic detector,
    then its ArUco-based one, which finds some codes the classic one misses)."""
    prefix = tmp_path / f"{path.stem}-page"
    for old in tmp_path.glob(f"{prefix.name}-*.png"):
        old.unlink()
    subprocess.run(["pdftoppm", "-png", "-r", str(dpi), str(path), str(prefix)], check=True)
    detectors = (cv2.QRCodeDetector(), cv2.QRCodeDetectorAruco())
    found = []
    for page in sorted(tmp_path.glob(f"{prefix.name}-*.png")):
        image = cv2.imread(str(page))
        for detector in detectors:
            data, _points, _code = detector.detectAndDecode(image)
            if data:
                found.append(data)
                break
    return found


def words_outside(path: Path, left: float, right: float) -> list[str]:
    """Words printed beyond `left` and `right` (points from the page's edges)."""
    html = poppler("pdftotext", "-bbox", str(path), "-")
    width = float(re.search(r'<page width="([\d.]+)"', html)[1])
    outside = []
    for x_min, x_max, word in re.findall(
        r'<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)" yMax="[\d.]+">(.*?)</word>', html
    ):
        if float(x_min) < left - 1 or float(x_max) > width - right + 1:
            outside.append(word)
    return outside
