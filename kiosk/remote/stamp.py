"""A frame counter drawn into a video frame as a row of black and white blocks, and read
back from a decoded frame: how the tests and `bench/video.py` recognise which frame
arrived (by its content, after VP8), and how glass-to-glass time is measured.

The code (the same for NumPy here and for a few lines of JavaScript on a canvas):

    S = floor(W / 40)          the cell size in pixels, W the frame's width
                               (32 at 1280×720, 16 at 640×360)
    the row's top-left corner  (S, S): one cell in from the top and left edges
    cell i                     x from S + i·S to S + (i+1)·S, y from S to 2·S (i = 0 … 33)
    cell 0                     white (the level of a 1)
    cell 1                     black (the level of a 0)
    cells 2 … 17               the counter's 16 bits, most significant first, white = 1
    cells 18 … 33              the same 16 bits inverted (a check: each pair differs)

To read a cell take the mean luma, (R + G + B) / 3, of its middle half (x and y from
S/4 to 3S/4 inside the cell; its centre pixel alone also works at any bitrate a call
reaches); the threshold is halfway between cells 0 and 1. A frame holds a code when
cell 0 is at least 64 levels brighter than cell 1 and every bit differs from its inverse;
anything else is "no code" (a frame without a stamp, or one too damaged to trust). The
counter wraps at 65536 (36 minutes at 30 fps).

For glass to glass the counter is the wall-clock time in 4 ms ticks (`clock()`, in
JavaScript `Math.floor(Date.now() / 4) % 65536`, 262 s before it wraps): the reader's
clock at decoding minus the stamp is the frame's age (`age_ms`), both ends on one machine's
clock. `kiosk call --stamp` draws it into every frame it sends.

In JavaScript the same reading is `READ_JS`: a function of a canvas's pixels and width,
which the browser tests and `bench/video.py` put into the agent's page.
"""

from __future__ import annotations

import time

import numpy as np

BITS = 16
CELLS = 2 + 2 * BITS
MODULUS = 1 << BITS
MIN_CONTRAST = 64
TICK_MS = 4  # the clock's counter counts 4 ms ticks

#: `read` in JavaScript: `(d, W) => counter or null`, `d` the RGBA pixels of the frame's
#: top rows (`ctx.getImageData(0, 0, W, 2 * S).data`, S = floor(W / 40)), `W` its width;
#: the centre pixel of each cell, which suffices at any bitrate a call reaches.
READ_JS = """(d, W) => {
  const S = Math.floor(W / 40);
  const lum = (i) => {
    const x = S + i * S + (S >> 1), y = S + (S >> 1), p = (y * W + x) * 4;
    return (d[p] + d[p + 1] + d[p + 2]) / 3; };
  const hi = lum(0), lo = lum(1), mid = (hi + lo) / 2;
  if (hi - lo < 64) return null;
  let n = 0;
  for (let b = 0; b < 16; b++) {
    const bit = lum(2 + b) > mid, inv = lum(18 + b) > mid;
    if (bit === inv) return null;
    n = (n << 1) | (bit ? 1 : 0); }
  return n;
}"""


def clock(now_s: float | None = None) -> int:
    """The counter for this moment: wall-clock time in TICK_MS ticks, mod 65536."""
    now_s = time.time() if now_s is None else now_s
    return int(now_s * 1000 / TICK_MS) % MODULUS


def age_ms(counter: int, now_s: float | None = None) -> float:
    """How old a frame stamped `counter` by `clock()` is (half a tick is the mean error)."""
    ticks = (clock(now_s) - counter) % MODULUS
    return ticks * TICK_MS + TICK_MS / 2


def cell_size(width: int) -> int:
    return width // 40


def _cell_span(index: int, size: int) -> tuple[int, int]:
    left = size + index * size
    return left, left + size


def draw(image: np.ndarray, counter: int) -> np.ndarray:
    """Draw `counter` (mod 65536) into a BGR (or grey) image, in place; returns the image."""
    size = cell_size(image.shape[1])
    if size < 4 or image.shape[0] < 2 * size:
        raise ValueError("the frame is too small for a stamp")
    value = counter % MODULUS
    bits = [(value >> (BITS - 1 - b)) & 1 for b in range(BITS)]
    levels = [1, 0, *bits, *(1 - bit for bit in bits)]
    for index, level in enumerate(levels):
        left, right = _cell_span(index, size)
        image[size : 2 * size, left:right] = 255 if level else 0
    return image


def read(image: np.ndarray) -> int | None:
    """The counter a decoded BGR (or grey) frame holds, or None when it holds no code."""
    size = cell_size(image.shape[1])
    if size < 4 or image.shape[0] < 2 * size:
        return None
    quarter = size // 4
    row = image[size + quarter : 2 * size - quarter]
    lums = []
    for index in range(CELLS):
        left, right = _cell_span(index, size)
        lums.append(float(row[:, left + quarter : right - quarter].mean()))
    high, low = lums[0], lums[1]
    if high - low < MIN_CONTRAST:
        return None
    middle = (high + low) / 2
    value = 0
    for bit in range(BITS):
        one = lums[2 + bit] > middle
        if one == (lums[2 + BITS + bit] > middle):
            return None
        value = (value << 1) | int(one)
    return value
