"""The per-frame vision pipeline: everything the kiosk wants to know about one frame.

`analyse(image)` runs the detectors asked for — QR codes, the card, the page, faces — and
returns an `Analysis`. The card and the page share one search for four-sided outlines
(`quads.find_quads`), so asking for both costs little more than asking for one.

On the live camera the kiosk runs `analyse(frame, document=False)` (codes, card, faces:
what `bench/vision.py` measures); on the document camera, `document=True` with the rest
off; `kiosk vision decode` runs everything.

`Analysis.as_json()` is the shape `kiosk vision decode --json` prints:
`{"codes": [{"data", "kind"}], "card": {"corners"} | null, "document": {"corners"} | null,
"faces": [{"box": [x, y, w, h]}]}`. The codes' data are as decoded (they may hold anything:
print them with `safe_json`, which escapes what a terminal could act on).
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field

import numpy as np

from kiosk.devices.vision.card import CardFinding, find_card
from kiosk.devices.vision.page import MIN_AREA as PAGE_MIN_AREA
from kiosk.devices.vision.page import PageFinding, find_page
from kiosk.devices.vision.qr import UNSAFE_CATEGORIES, Code, decode_codes
from kiosk.devices.vision.quads import find_quads


@dataclass(frozen=True)
class Analysis:
    codes: list[Code] = field(default_factory=list)
    card: CardFinding | None = None
    document: PageFinding | None = None
    faces: list[tuple[int, int, int, int]] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "codes": [{"data": code.data, "kind": code.kind} for code in self.codes],
            "card": self.card.as_json() if self.card else None,
            "document": self.document.as_json() if self.document else None,
            "faces": [{"box": [int(v) for v in box]} for box in self.faces],
        }


def analyse(
    image: np.ndarray,
    *,
    codes: bool = True,
    card: bool = True,
    document: bool = True,
    faces: bool = True,
) -> Analysis:
    """Run the chosen detectors on one BGR frame."""
    quads = None
    if card or document:
        quads = find_quads(image, min_area=0.015 if card else PAGE_MIN_AREA)
    found_card = find_card(image, quads) if card else None
    found_page = find_page(image, quads) if document else None
    if faces:
        from kiosk.devices.vision.faces import find_faces
    return Analysis(
        codes=decode_codes(image) if codes else [],
        card=found_card,
        document=found_page,
        faces=find_faces(image) if faces else [],
    )


def safe_json(value: object) -> str:
    """JSON with readable Chinese but every unsafe character written as a \\u escape."""
    text = json.dumps(value, ensure_ascii=False)
    return "".join(_escape(c) if unicodedata.category(c) in UNSAFE_CATEGORIES else c for c in text)


def _escape(char: str) -> str:
    units = char.encode("utf-16-be", "surrogatepass")
    return "".join(
        f"\\u{int.from_bytes(units[i : i + 2], 'big'):04x}" for i in range(0, len(units), 2)
    )
