"""The vision evaluation set: 540 generated frames with known truth, and the figures the
detectors must reach on them (issue 4). The figures are printed on every run.

The set is drawn by the synthetic scene generator with fixed seeds, so it is the same on
every run and machine; the seeds (10 000 and up) are not the ones the detectors were tuned
on. Frames are 1280 × 720 (the camera), with the pages also at 1920 × 1080 (the document
camera) and some of everything at 640 × 480 (a cheap webcam).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from kiosk.devices.camera.scene import SceneKind, render
from kiosk.devices.vision.pipeline import analyse
from kiosk.devices.vision.quads import corner_error

pytestmark = pytest.mark.slow

SEED = 10_000
# kind → (count, frame size)
PLAN = [
    (SceneKind.CARD, 130, (1280, 720)),
    (SceneKind.CARD, 30, (640, 480)),
    (SceneKind.VOUCHER, 70, (1280, 720)),
    (SceneKind.QR, 60, (1280, 720)),
    (SceneKind.VOUCHER, 15, (640, 480)),
    (SceneKind.PAGE, 60, (1280, 720)),
    (SceneKind.PAGE, 60, (1920, 1080)),
    (SceneKind.EMPTY, 85, (1280, 720)),
    (SceneKind.EMPTY, 15, (640, 480)),
    (SceneKind.FACE, 15, (1280, 720)),
]
CORNER_TOLERANCE = 0.02  # of the object's diagonal


@dataclass
class Figures:
    images: int = 0
    qr_total: int = 0
    qr_read: int = 0
    qr_kind_right: int = 0
    card_total: int = 0
    card_found: int = 0
    card_upright: int = 0
    page_total: int = 0
    page_found: int = 0
    page_upright: int = 0
    empty_total: int = 0
    empty_clean: int = 0
    face_total: int = 0
    face_found: int = 0
    failures: list[str] = field(default_factory=list)

    def rate(self, hits: int, total: int) -> float:
        return hits / total if total else 0.0


@pytest.fixture(scope="module")
def figures(request: pytest.FixtureRequest) -> Figures:
    result = Figures()
    for kind, count, size in PLAN:
        for index in range(count):
            seed = SEED + index + 1000 * size[0]
            image, truth = render(kind, seed=seed, size=size)
            seen = analyse(
                image, faces=kind is SceneKind.FACE, document=kind is SceneKind.PAGE
            )
            result.images += 1
            label = f"{kind}/{seed}@{size[0]}x{size[1]}"
            for code in truth.codes:
                if code.width_fraction < 0.25:
                    continue
                result.qr_total += 1
                read = [c for c in seen.codes if c.data == code.data]
                result.qr_read += bool(read)
                result.qr_kind_right += bool(read) and read[0].kind == code.kind
                if not read:
                    result.failures.append(f"{label}: code not read")
            if truth.card is not None:
                result.card_total += 1
                if seen.card is None:
                    result.failures.append(f"{label}: no card")
                else:
                    error, shift = corner_error(seen.card.corners, truth.card)
                    result.card_found += error < CORNER_TOLERANCE
                    result.card_upright += error < CORNER_TOLERANCE and shift == 0
                    if error >= CORNER_TOLERANCE:
                        result.failures.append(f"{label}: card corners off by {error:.1%}")
            if truth.page is not None:
                result.page_total += 1
                if seen.document is None:
                    result.failures.append(f"{label}: no page")
                else:
                    from kiosk.devices.vision.page import flatten_page

                    _, upright = flatten_page(image, seen.document)
                    error, shift = corner_error(upright.corners, truth.page)
                    result.page_found += error < CORNER_TOLERANCE
                    result.page_upright += error < CORNER_TOLERANCE and shift == 0
                    if error >= CORNER_TOLERANCE:
                        result.failures.append(f"{label}: page corners off by {error:.1%}")
            for x, y, w, h in truth.faces:
                result.face_total += 1
                found = any(
                    abs(box.x + box.w / 2 - x - w / 2) < w / 3
                    and abs(box.y + box.h / 2 - y - h / 2) < h / 3
                    and 0.6 < box.w / w < 1.6
                    for box in seen.faces
                )
                result.face_found += found
                if not found:
                    result.failures.append(f"{label}: face not found")
            if truth.card is None and not truth.codes:
                result.empty_total += 1
                clean = seen.card is None and not seen.codes
                result.empty_clean += clean
                if not clean:
                    result.failures.append(f"{label}: false card or code")
    terminal = request.config.pluginmanager.get_plugin("terminalreporter")
    say = terminal.write_line if terminal else print
    say(
        f"\nvision eval: {result.images} images\n"
        f"  QR read (code ≥ ¼ frame width): {result.qr_read}/{result.qr_total}"
        f" = {result.rate(result.qr_read, result.qr_total):.1%} (target 99 %);"
        f" kind right {result.rate(result.qr_kind_right, result.qr_total):.1%}\n"
        f"  card corners < 2 % of diagonal: {result.card_found}/{result.card_total}"
        f" = {result.rate(result.card_found, result.card_total):.1%} (target 95 %);"
        f" upright {result.rate(result.card_upright, result.card_total):.1%}\n"
        f"  page corners < 2 % of diagonal: {result.page_found}/{result.page_total}"
        f" = {result.rate(result.page_found, result.page_total):.1%} (target 95 %);"
        f" upright {result.rate(result.page_upright, result.page_total):.1%}\n"
        f"  no card or code where there is none: {result.empty_clean}/{result.empty_total}"
        f" = {result.rate(result.empty_clean, result.empty_total):.1%} (target 99 %)\n"
        f"  faces found (no target): {result.face_found}/{result.face_total}"
        f" = {result.rate(result.face_found, result.face_total):.1%}"
    )
    for failure in result.failures[:30]:
        say(f"    {failure}")
    return result


def test_the_set_is_large_enough(figures: Figures) -> None:
    assert figures.images >= 500
    assert figures.qr_total >= 100 and figures.card_total >= 100 and figures.page_total >= 100
    assert figures.empty_total >= 100


def test_qr_codes_are_read(figures: Figures) -> None:
    assert figures.rate(figures.qr_read, figures.qr_total) >= 0.99
    assert figures.qr_kind_right == figures.qr_read


def test_cards_are_found_to_two_percent(figures: Figures) -> None:
    assert figures.rate(figures.card_found, figures.card_total) >= 0.95


def test_cards_come_out_upright(figures: Figures) -> None:
    assert figures.rate(figures.card_upright, figures.card_total) >= 0.95


def test_pages_are_found_to_two_percent(figures: Figures) -> None:
    assert figures.rate(figures.page_found, figures.page_total) >= 0.95


def test_pages_come_out_upright(figures: Figures) -> None:
    assert figures.rate(figures.page_upright, figures.page_total) >= 0.9


def test_nothing_is_seen_where_there_is_nothing(figures: Figures) -> None:
    assert figures.rate(figures.empty_clean, figures.empty_total) >= 0.99


def test_people_at_the_kiosk_are_seen(figures: Figures) -> None:
    # The issue sets no figure for faces; this holds the level the Haar cascade reaches
    # on the synthetic portraits (all of them on this set) with room for a noisy one.
    assert figures.rate(figures.face_found, figures.face_total) >= 0.9


def test_the_same_seed_draws_the_same_frame() -> None:
    first, truth = render(SceneKind.CARD, seed=SEED)
    again, truth_again = render(SceneKind.CARD, seed=SEED)
    assert np.array_equal(first, again)
    assert np.array_equal(truth.card, truth_again.card)
