"""Image files into BGR arrays and back, whatever the file turns out to hold.

`load_image` takes a path or the file's bytes and gives a BGR `uint8` array (height ×
width × 3), or raises `ImageUnreadable` saying why in plain words; no other exception
escapes it, whatever the input. The rules it follows:

- Only PNG, JPEG (and MPO, the multi-picture JPEG of some phones), WebP, BMP, TIFF and
  GIF are opened: Pillow's rarer decoders are less tried, and no station needs them.
- Size is checked before anything is decoded: a file over 64 MB is refused unread, and a
  header that claims more than 40 megapixels is refused before a pixel is allocated (a
  "decompression bomb" is a small file whose header claims a huge picture).
- A file cut short is refused, even when a decoder could draw the part that is there
  (a JPEG cut short decodes to a picture grey at the bottom, which nobody should keep):
  whatever Pillow reports as truncated is refused as `reason="truncated"`. A PNG whose
  pixel data is complete but whose closing chunk is missing is accepted.
- Conversions: greyscale and 1-bit become BGR; 16-bit samples are scaled to 8 bits
  (65535 → 255, never clipped); transparency is composited on white; palette images are
  expanded; CMYK (including Adobe's inverted CMYK JPEGs) becomes RGB by Pillow's plain
  formula (colour profiles are ignored); an EXIF orientation tag is applied, and ignored
  when it is unreadable; of an animation or a multi-page file only the first frame is
  read.

`save_image` writes an array to a file whose extension names the format, through a
temporary file so that a half-written image never appears under the name. `as_grey` is
the one check and greyscale conversion of an image array the detectors share.

The error messages name no path and quote no file contents: errors end up in logs, and a
file name can hold a resident's name.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import tempfile
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

from kiosk.errors import DoorstepError

#: A file larger than this is refused without being read.
MAX_FILE_BYTES = 64 * 1024 * 1024
#: A picture with more pixels than this (as its header claims) is refused undecoded.
MAX_PIXELS = 40_000_000
#: The formats `load_image` opens (Pillow's names).
#: ("JPEG" also opens MPO, the multi-picture JPEG some phones write.)
FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "TIFF", "GIF")

#: The extensions `save_image` knows, and the OpenCV encoder parameters for each.
SAVE_PARAMETERS: dict[str, list[int]] = {
    ".png": [cv2.IMWRITE_PNG_COMPRESSION, 3],
    ".jpg": [cv2.IMWRITE_JPEG_QUALITY, 92],
    ".jpeg": [cv2.IMWRITE_JPEG_QUALITY, 92],
    ".webp": [cv2.IMWRITE_WEBP_QUALITY, 90],
    ".bmp": [],
    ".tif": [],
    ".tiff": [],
}

ImageSource = str | os.PathLike[str] | bytes | bytearray | memoryview

_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "La", "RGBa"})


class ImageUnreadable(DoorstepError):
    """An image file (or its bytes) cannot be turned into a picture. `reason` says why:
    "missing", "not_a_file", "unreadable", "empty", "too_large", "too_many_pixels",
    "not_an_image", "truncated", "corrupt" or "unsupported"."""

    resident_zh = "无法读取这张图片，请重新拍摄或联系工作人员。"
    resident_en = "This picture could not be read. Please take it again or ask a member of staff."
    action = (
        "Take the picture again, or save it again as PNG or JPEG (at most 64 MB and 40 megapixels)."
    )

    def __init__(self, staff_message: str, *, reason: str) -> None:
        super().__init__(staff_message)
        self.reason = reason


class ImageNotSaved(DoorstepError):
    """An image could not be written to a file. `reason` is "extension", "encode" or
    "write"."""

    resident_zh = "图片保存失败，请联系工作人员。"
    resident_en = "The picture could not be saved. Please ask a member of staff."
    action = "Check that the folder exists, is writable and has free space, then try again."

    def __init__(self, staff_message: str, *, reason: str) -> None:
        super().__init__(staff_message)
        self.reason = reason


def load_image(source: ImageSource) -> np.ndarray:
    """The picture in `source` (a path, or the bytes of an image file) as a BGR `uint8`
    array, height × width × 3; `ImageUnreadable` if there is no usable picture in it."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    else:
        data = _read_file(Path(source))
    return _decode(data)


def save_image(path: str | os.PathLike[str], image: np.ndarray) -> Path:
    """Write `image` (BGR or BGRA `uint8`, or greyscale) to `path` in the format its
    extension names (.png .jpg .jpeg .webp .bmp .tif .tiff); the path written.

    The file is readable by its owner only (mode 0600): pictures can be personal data.
    `ValueError` if `image` is not an image array; `ImageNotSaved` for an unknown
    extension, an image the format cannot hold, or a failed write (nothing is left under
    `path` then, and what was there before stays)."""
    target = Path(path)
    extension = target.suffix.lower()
    if extension not in SAVE_PARAMETERS:
        known = " ".join(SAVE_PARAMETERS)
        raise ImageNotSaved(
            f"unknown image file extension {extension or '(none)'!r}; use one of {known}",
            reason="extension",
        )
    _check_array(image)
    try:
        encoded, buffer = cv2.imencode(extension, image, SAVE_PARAMETERS[extension])
    except cv2.error as error:
        raise ImageNotSaved(
            f"the {extension} encoder refused a {image.shape} image: {error.err}",
            reason="encode",
        ) from None
    if not encoded:
        raise ImageNotSaved(f"the {extension} encoder refused the image", reason="encode")
    _write_atomically(target, buffer.tobytes())
    return target


def as_grey(image: np.ndarray) -> np.ndarray:
    """`image` (greyscale, BGR or BGRA `uint8`) as a greyscale array, not copied when it
    is one already; `ValueError` if it is no image."""
    channels = _check_array(image)
    if channels == 1:
        return image.reshape(image.shape[:2])
    code = cv2.COLOR_BGR2GRAY if channels == 3 else cv2.COLOR_BGRA2GRAY
    return cv2.cvtColor(image, code)


def _check_array(image: np.ndarray) -> int:
    """The number of channels of an image array; `ValueError` if it is no image."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ValueError("an image is a NumPy uint8 array")
    channels = 1 if image.ndim == 2 else image.shape[2] if image.ndim == 3 else 0
    if channels not in (1, 3, 4) or image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"an image array of shape {image.shape} holds no picture")
    return channels


def _write_atomically(target: Path, data: bytes) -> None:
    folder = target.parent
    try:
        handle, temporary = tempfile.mkstemp(prefix=".saving-", dir=folder)
    except OSError as error:
        raise ImageNotSaved(
            f"cannot create a file in the image's folder ({error.strerror})", reason="write"
        ) from None
    temporary_path = Path(temporary)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        temporary_path.replace(target)
    except OSError as error:
        temporary_path.unlink(missing_ok=True)
        raise ImageNotSaved(
            f"cannot write the image file ({error.strerror})", reason="write"
        ) from None


def _read_file(path: Path) -> bytes:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ImageUnreadable(
            "there is no image file at the path given", reason="missing"
        ) from None
    except OSError as error:
        raise ImageUnreadable(
            f"the image file cannot be opened ({error.strerror})", reason="unreadable"
        ) from None
    if stat.S_ISDIR(info.st_mode):
        raise ImageUnreadable(
            "the path given names a folder, not an image file", reason="not_a_file"
        )
    if not stat.S_ISREG(info.st_mode):
        raise ImageUnreadable(
            "the path given names a device or a pipe, not an image file", reason="not_a_file"
        )
    if info.st_size > MAX_FILE_BYTES:
        raise _too_large(info.st_size)
    try:
        with path.open("rb") as stream:
            return stream.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise ImageUnreadable(
            f"the image file cannot be read ({error.strerror})", reason="unreadable"
        ) from None


def _too_large(size: int) -> ImageUnreadable:
    return ImageUnreadable(
        f"the image file is {size / 2**20:.0f} MB; at most {MAX_FILE_BYTES // 2**20} MB is read",
        reason="too_large",
    )


def _too_many_pixels(what: str) -> ImageUnreadable:
    return ImageUnreadable(
        f"the image {what}; at most {MAX_PIXELS / 1e6:.0f} megapixels are decoded",
        reason="too_many_pixels",
    )


def _decode(data: bytes) -> np.ndarray:
    if not data:
        raise ImageUnreadable("the image file is empty (0 bytes)", reason="empty")
    if len(data) > MAX_FILE_BYTES:
        raise _too_large(len(data))
    picture = _open(data)
    with picture:
        width, height = picture.size
        if width * height > MAX_PIXELS:
            raise _too_many_pixels(f"claims {width}×{height} pixels")
        if width < 1 or height < 1:
            raise ImageUnreadable(
                f"the image header claims an empty {width}×{height} picture", reason="corrupt"
            )
        try:
            picture.load()
        except Exception as error:
            raise _damaged(picture.format, error) from error
        _make_upright(picture)
        try:
            return _to_bgr(picture)
        except Exception as error:
            raise ImageUnreadable(
                f"a {picture.format} image in colour mode {picture.mode} cannot be converted "
                f"to colour ({type(error).__name__})",
                reason="unsupported",
            ) from error


def _open(data: bytes) -> Image.Image:
    """The image with only its header read.

    Pillow warns (DecompressionBombWarning) about a header claiming more than about
    89 megapixels and refuses one claiming twice that: the warning is left alone here
    (changing warning filters is not thread-safe), the size is checked by the caller."""
    try:
        return Image.open(io.BytesIO(data), formats=FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels("header claims a huge picture") from None
    except Image.UnidentifiedImageError:
        kind = _signature(data)
        if kind:
            raise ImageUnreadable(
                f"the file starts like a {kind} image, but its header is damaged or cut short",
                reason="corrupt",
            ) from None
        raise ImageUnreadable(
            "the file is not an image in a known format (PNG, JPEG, WebP, BMP, TIFF, GIF)",
            reason="not_an_image",
        ) from None
    except Exception as error:
        raise _damaged("", error) from error


_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"BM", "BMP"),
)


def _signature(data: bytes) -> str:
    """The format whose signature `data` starts with, or ""."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    return next((kind for magic, kind in _SIGNATURES if data.startswith(magic)), "")


def _damaged(image_format: str | None, error: Exception) -> ImageUnreadable:
    kind = f"{image_format} " if image_format else ""
    if "truncated" in str(error).lower():
        return ImageUnreadable(
            f"the {kind}image file is cut short: it ends before the picture does",
            reason="truncated",
        )
    return ImageUnreadable(
        f"the {kind}image file is damaged: its picture cannot be decoded ({type(error).__name__})",
        reason="corrupt",
    )


def _make_upright(picture: Image.Image) -> None:
    """Turn the picture as its EXIF orientation tag says; leave it as stored if the tag is
    absent or unreadable (a bad tag should not cost the resident a good picture)."""
    with contextlib.suppress(Exception):
        ImageOps.exif_transpose(picture, in_place=True)


def _to_bgr(picture: Image.Image) -> np.ndarray:
    mode = picture.mode
    if mode in _SIXTEEN_BIT_MODES:
        grey = _sixteen_to_eight(np.asarray(picture))
    elif mode == "I":
        grey = _integers_to_eight(np.asarray(picture))
    elif mode == "F":
        grey = _floats_to_eight(np.asarray(picture))
    elif mode in ("1", "L") and "transparency" not in picture.info:
        grey = np.asarray(picture.convert("L"))
    elif mode in _ALPHA_MODES or "transparency" in picture.info:
        return _on_white(np.asarray(picture.convert("RGBA")))
    else:
        return cv2.cvtColor(np.asarray(picture.convert("RGB")), cv2.COLOR_RGB2BGR)
    return cv2.cvtColor(np.ascontiguousarray(grey), cv2.COLOR_GRAY2BGR)


def _sixteen_to_eight(samples: np.ndarray) -> np.ndarray:
    """16-bit samples scaled (rounded) to 8 bits: 0 → 0, 65535 → 255."""
    return ((samples.astype(np.uint32) + 128) // 257).astype(np.uint8)


def _integers_to_eight(samples: np.ndarray) -> np.ndarray:
    """32-bit integer samples: negatives as 0, taken as 16-bit when they fit in 16 bits,
    else scaled by their maximum."""
    values = np.clip(samples.astype(np.int64), 0, None)
    top = int(values.max(initial=0))
    if top <= 0xFFFF:
        return _sixteen_to_eight(values)
    return (values * 255 // top).astype(np.uint8)


def _floats_to_eight(samples: np.ndarray) -> np.ndarray:
    """Floating-point samples: 0–1 scaled to 0–255, 0–255 kept, larger scaled by their
    maximum; NaN and negatives as 0."""
    values = np.nan_to_num(samples.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    values = np.clip(values, 0.0, None)
    top = float(values.max(initial=0.0))
    if top <= 1.0:
        values = values * 255.0
    elif top > 255.0:
        values = values * (255.0 / top)
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def _on_white(rgba: np.ndarray) -> np.ndarray:
    """RGBA composited on a white background, as BGR."""
    alpha = rgba[:, :, 3:4].astype(np.uint32)
    colour = rgba[:, :, :3].astype(np.uint32)
    blended = (colour * alpha + 255 * (255 - alpha) + 127) // 255
    return cv2.cvtColor(blended.astype(np.uint8), cv2.COLOR_RGB2BGR)
