"""The QR codes in a camera frame, decoded, and the medical-insurance voucher told apart.

`decode_codes` reads every QR code in a frame with zxing-cpp, which finds codes under
perspective, blur and uneven light far better (and faster) than OpenCV's detector.
Only QR codes proper (models 1 and 2) are read: the voucher is one, and leaving out Micro
QR, rMQR and the rest saves time and false reads. When the first pass finds nothing, a
second looks at a halved, sharpened copy of the frame (see `_second_look`).

What a code holds is taken as follows (`Code.data`):

- text, as zxing transcodes it (by the ECI the code declares, or its guess): UTF-8,
  GB 18030, Shift JIS (QR's kanji mode) and ISO 8859-1 all come out as text;
- bytes zxing calls binary (no ECI and characters it cannot place, or an ECI it does not
  know), or took for Shift JIS half-width katakana, are read as UTF-8 if they are valid
  UTF-8 (most generators write UTF-8 without saying so); else as GB 18030 if they read
  as Chinese text (many Chinese generators write GBK without saying so: see
  `_as_chinese`); else as ISO 8859-1 (QR's own default) if that gives printable text;
  and otherwise kept losslessly as "hex:" followed by their lower-case hex digits, with
  `Code.binary` set. UTF-8 comes first because it is the commoner and because GBK is
  seldom valid UTF-8: a GBK string of one or two characters sometimes is ("元", D4 AA,
  is UTF-8 "Ԫ"), and is then read as UTF-8.

`Code.raw` always holds the bytes as they were in the code.

A code's contents are never followed, opened or run, and never logged: they count as
personal data. `Code.display_text` is the form safe to put on a screen, and `repr(code)`
shows only the kind and the length.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np
import zxingcpp

from kiosk.core.voucher import Voucher, VoucherInvalid, parse_voucher
from kiosk.devices.vision.images import as_grey

log = logging.getLogger(__name__)

CodeKind = Literal["nhsa_voucher", "other"]

#: `Code.display_text` shows at most this many characters (escapes included), then "…".
DISPLAY_LIMIT = 200
#: Marks a payload kept as hex because it is not text.
HEX_PREFIX = "hex:"

_FORMATS = (zxingcpp.BarcodeFormat.QRCodeModel1, zxingcpp.BarcodeFormat.QRCodeModel2)
#: The second look halves a frame whose short side has at least this many pixels.
_SECOND_LOOK_HALVED = 480
_TEXT_CONTENT = frozenset(
    {zxingcpp.ContentType.Text, zxingcpp.ContentType.GS1, zxingcpp.ContentType.ISO15434}
)
#: Half-width katakana: zxing's sign that it took undeclared bytes for Shift JIS (QR's
#: kanji mode cannot hold them), which at a Chinese kiosk they never are.
_HALFWIDTH_KANA = re.compile("[\uff61-\uff9f]")
#: Unicode categories shown escaped: controls, formatting characters (bidi overrides and
#: isolates, zero-width characters, the BOM), surrogates, private use, unassigned code
#: points, and the line and paragraph separators.
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
#: CJK punctuation, ideographs (extension A, the unified block, compatibility ideographs,
#: the supplementary planes) and full-width forms.
_CHINESE_RANGES = (
    (0x3000, 0x303F),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0xFF00, 0xFFEF),
    (0x20000, 0x3FFFF),
)

Point = tuple[float, float]


@dataclass(frozen=True, repr=False)
class Code:
    """One QR code found in a frame.

    `corners` are the code's four corners in the frame's pixels: top-left, top-right,
    bottom-right, bottom-left as the code reads (so rotated with it). `voucher` is the
    parsed voucher when `kind` is "nhsa_voucher", else None.
    """

    data: str
    raw: bytes
    kind: CodeKind
    corners: tuple[Point, Point, Point, Point]
    binary: bool = False
    voucher: Voucher | None = field(default=None, compare=False)

    @property
    def display_text(self) -> str:
        """`data` made safe to show: control and formatting characters (escape sequences,
        NUL, newlines, bidi overrides, zero-width characters …) written out as \\xNN,
        \\uNNNN or \\UNNNNNNNN, and cut after `DISPLAY_LIMIT` characters with "…"."""
        return safe_text(self.data)

    def __repr__(self) -> str:
        return f"Code(kind={self.kind!r}, chars={len(self.data)}, binary={self.binary})"


def safe_text(text: str, limit: int = DISPLAY_LIMIT) -> str:
    """`text` with every character that could hide, reorder or control what is shown
    escaped, cut to about `limit` characters with a trailing "…"."""
    pieces: list[str] = []
    length = 0
    for char in text:
        piece = _escaped(char) if unicodedata.category(char) in UNSAFE_CATEGORIES else char
        if length + len(piece) > limit:
            pieces.append("…")
            break
        pieces.append(piece)
        length += len(piece)
    return "".join(pieces)


def _escaped(char: str) -> str:
    point = ord(char)
    if point < 0x100:
        return f"\\x{point:02x}"
    if point < 0x10000:
        return f"\\u{point:04x}"
    return f"\\U{point:08x}"


def decode_codes(image: np.ndarray) -> list[Code]:
    """Every QR code in `image` (BGR or greyscale `uint8`), each once, in the order found."""
    grey = np.ascontiguousarray(as_grey(image))
    found, scale = _read(grey), 1.0
    if not found:
        found, scale = _second_look(grey)
    codes: list[Code] = []
    seen: set[tuple[bytes, str]] = set()
    for code in (_code(barcode, scale) for barcode in found):
        if (code.raw, code.data) not in seen:
            seen.add((code.raw, code.data))
            codes.append(code)
    log.debug("%d QR codes in the frame", len(codes))
    return codes


def _read(grey: np.ndarray) -> list[zxingcpp.Barcode]:
    return zxingcpp.read_barcodes(
        grey,
        formats=_FORMATS,
        try_rotate=True,
        try_downscale=True,
        try_invert=True,
        text_mode=zxingcpp.TextMode.Plain,
    )


def _second_look(grey: np.ndarray) -> tuple[list[zxingcpp.Barcode], float]:
    """A second pass for a frame the first found nothing in, and the scale it looked at.

    Half size (a frame at least `_SECOND_LOOK_HALVED` pixels on its short side), then an
    unsharp mask: halving averages noise away and sharpening restores the module edges a
    blurred or noisy frame smears. On synthetic frames with strong perspective, blur and
    noise this reads about half of the codes the first pass misses, for about 1.5 ms."""
    scale = 0.5 if min(grey.shape) >= _SECOND_LOOK_HALVED else 1.0
    if scale != 1.0:
        grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    smooth = cv2.GaussianBlur(grey, (0, 0), 1.5)
    sharp = cv2.addWeighted(grey, 2.0, smooth, -1.0, 0)
    return _read(sharp), scale


def _code(barcode: zxingcpp.Barcode, scale: float) -> Code:
    data, binary = _contents(barcode)
    voucher = None if binary else _voucher(data)
    position = barcode.position
    top_left, top_right, bottom_right, bottom_left = (
        (point.x / scale, point.y / scale)
        for point in (
            position.top_left,
            position.top_right,
            position.bottom_right,
            position.bottom_left,
        )
    )
    return Code(
        data=data,
        raw=barcode.bytes,
        kind="nhsa_voucher" if voucher is not None else "other",
        corners=(top_left, top_right, bottom_right, bottom_left),
        binary=binary,
        voucher=voucher,
    )


def _contents(barcode: zxingcpp.Barcode) -> tuple[str, bool]:
    """The code's contents as text, and whether they had to be kept as hex."""
    text = barcode.text
    if barcode.content_type in _TEXT_CONTENT and not _HALFWIDTH_KANA.search(text):
        return text, False
    raw = barcode.bytes
    text = _utf8(raw)
    if text is not None:
        return text, False
    text = _as_chinese(raw)
    if text is not None:
        return text, False
    text = raw.decode("latin-1")
    if _printable(text):
        return text, False
    return HEX_PREFIX + raw.hex(), True


def _utf8(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _printable(text: str) -> bool:
    """Whether `text` has no control or formatting characters but tabs and line ends."""
    return all(
        char in "\t\r\n" or unicodedata.category(char) not in UNSAFE_CATEGORIES for char in text
    )


def _chinese(char: str) -> bool:
    point = ord(char)
    return any(low <= point <= high for low, high in _CHINESE_RANGES)


def _as_chinese(raw: bytes) -> str | None:
    """`raw` read as GB 18030, if that makes printable text with Chinese characters (or
    CJK punctuation, or full-width forms) in it and at most a quarter of its two-byte
    characters end in an ASCII byte.

    The last rule tells ISO 8859-1 text apart: read as GB 18030, an accented letter and
    the ASCII letter after it make one two-byte character ("é" "l" → "閘"), while Chinese
    text mostly uses second bytes of 0xA1 and above (all of GB 2312 does). The price: a
    short text of GBK's rarer characters, written without saying so, can be refused
    here and read as ISO 8859-1 instead."""
    try:
        text = raw.decode("gb18030")
    except UnicodeDecodeError:
        return None
    if not any(map(_chinese, text)) or not _printable(text):
        return None
    wide = ascii_ended = 0
    index = 0
    while index < len(raw):
        if raw[index] < 0x80:
            index += 1
        elif 0x30 <= raw[index + 1] <= 0x39:  # a four-byte character
            index += 4
        else:
            wide += 1
            ascii_ended += raw[index + 1] < 0x80
            index += 2
    return text if ascii_ended * 4 <= wide else None


def _voucher(data: str) -> Voucher | None:
    try:
        return parse_voucher(data, source="camera")
    except VoucherInvalid:
        return None
