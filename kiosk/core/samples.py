"""Sample material for demos, tests and benchmarks: document pictures that look like a page
of a form, different for every application (so each has its own blobs, as real scans do).

Nothing here is personal data: the pictures show the application's reference and made-up
lines of "text".
"""

from __future__ import annotations

import functools
import hashlib
import io
import random
import struct
import zlib

from PIL import Image, ImageDraw

PAGE_SIZE = (620, 860)


LABELS = ("application form", "identity document copy")


def sample_document_images(reference: str, number: int = 0) -> list[tuple[str, bytes]]:
    """Two PNG pages (the form and an ID copy), about 20 KB each, unique to `reference`:
    the pictures are drawn once, and each copy carries the reference in a PNG text chunk,
    so ten thousand applications are made in seconds and still have their own blobs."""
    return [
        (label, _with_text(_page(label, label), f"{reference}/{number}/{label}"))
        for label in LABELS
    ]


def _with_text(png: bytes, text: str) -> bytes:
    """`png` with a tEXt chunk (keyword "Doorstep-Sample") after its header chunk."""
    data = b"Doorstep-Sample\x00" + text.encode("latin-1", "replace")
    chunk = struct.pack(">I", len(data)) + b"tEXt" + data
    chunk += struct.pack(">I", zlib.crc32(b"tEXt" + data) & 0xFFFFFFFF)
    header_end = 8 + 4 + 4 + 13 + 4  # signature, then IHDR: length, type, data, CRC
    return png[:header_end] + chunk + png[header_end:]


@functools.cache
def _page(seed_text: str, label: str) -> bytes:
    seed = int.from_bytes(hashlib.sha256(seed_text.encode()).digest()[:8], "big")
    rng = random.Random(seed)  # noqa: S311 - a picture, not a secret
    image = Image.new("L", PAGE_SIZE, 250)
    draw = ImageDraw.Draw(image)
    draw.rectangle((30, 30, PAGE_SIZE[0] - 30, PAGE_SIZE[1] - 30), outline=60, width=3)
    draw.text((50, 45), f"{label}  {seed_text.split('/')[0]}", fill=20)
    y = 90
    while y < PAGE_SIZE[1] - 60:
        x = 50
        while x < PAGE_SIZE[0] - 80:
            width = rng.randint(12, 70)
            draw.rectangle((x, y, x + width, y + 9), fill=rng.randint(20, 90))
            x += width + rng.randint(6, 14)
        y += rng.randint(18, 26)
    for _ in range(2400):  # the speckle of a scanned page
        point = (rng.randrange(PAGE_SIZE[0]), rng.randrange(PAGE_SIZE[1]))
        draw.point(point, fill=rng.randint(120, 220))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()
