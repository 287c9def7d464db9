"""What the vision package is handed from outside: image files of every kind (good, odd,
broken and hostile), QR codes holding anything at all, and faces or no faces.

Image files are made in `tmp_path`; QR codes with OpenCV's encoder and zxing-cpp's writer
(the one that can declare a character set or hold raw bytes); faces from the public-domain
astronaut portrait in `assets/camera`, whose face is at x 177..272, y 66..161.
"""

from __future__ import annotations

import functools
import io
import logging
import struct
import threading
import unicodedata
import zipfile
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import zxingcpp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image

from kiosk.config import assets_dir
from kiosk.devices.vision import faces, qr
from kiosk.devices.vision.faces import Box, check_photo, find_faces, someone_present
from kiosk.devices.vision.images import (
    MAX_FILE_BYTES,
    ImageNotSaved,
    ImageUnreadable,
    load_image,
    save_image,
)
from kiosk.devices.vision.qr import Code, decode_codes
from tests.personal import RESIDENT

VOUCHER = "4243754826492874240001130000"
FACE_IN_PORTRAIT = (177, 66, 95, 95)
SPACES = {chr(point) for point in range(0x110000) if unicodedata.category(chr(point)) == "Zs"}
FRAME = (720, 1280)

# Pillow reports odd EXIF and TIFF tags in damaged files as warnings; they are expected here.
damaged_file_warnings = pytest.mark.filterwarnings(
    "ignore::UserWarning", "ignore::PIL.Image.DecompressionBombWarning"
)


@pytest.fixture(scope="module")
def portrait() -> np.ndarray:
    image = cv2.imread(str(assets_dir() / "camera" / "face-astronaut.jpg"))
    assert image is not None and image.shape == (512, 512, 3)
    return image


@functools.cache
def _textures() -> tuple[np.ndarray, ...]:
    return tuple(
        cv2.imread(str(assets_dir() / "camera" / f"texture-{name}.jpg"))
        for name in ("brick", "grass", "gravel")
    )


def textures() -> list[np.ndarray]:
    """The CC0 textures (512 × 512, grey in BGR), fresh copies."""
    return [texture.copy() for texture in _textures()]


def encoded(image: np.ndarray, extension: str = ".png") -> bytes:
    ok, buffer = cv2.imencode(extension, image)
    assert ok
    return buffer.tobytes()


def pillow_bytes(image: Image.Image, image_format: str, **options: object) -> bytes:
    stream = io.BytesIO()
    image.save(stream, image_format, **options)
    return stream.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A small, well-formed PNG whose header claims `width` × `height` pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 4096))
        + chunk(b"IEND", b"")
    )


def assert_bgr(image: np.ndarray, shape: tuple[int, int]) -> None:
    assert isinstance(image, np.ndarray)
    assert image.dtype == np.uint8
    assert image.shape == (*shape, 3)
    assert image.flags.c_contiguous


# --- load_image: files that hold no usable picture ---------------------------------------


def zip_bytes() -> bytes:
    stream = io.BytesIO()
    with zipfile.ZipFile(stream, "w") as archive:
        archive.writestr("photo.png", b"not really")
    return stream.getvalue()


BAD_CONTENTS = {
    "empty": (b"", "empty"),
    "text": ("户籍证明\nname,ssn\n".encode(), "not_an_image"),
    "zip": (zip_bytes(), "not_an_image"),
    "random": (np.random.default_rng(7).bytes(5000), "not_an_image"),
    "pdf": (b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n", "not_an_image"),
    "ppm (a format not opened)": (b"P6\n2 2\n255\n" + bytes(12), "not_an_image"),
    "header claiming 100000 x 100000": (png_claiming(100_000, 100_000), "too_many_pixels"),
    "header claiming 7000 x 7000": (png_claiming(7000, 7000), "too_many_pixels"),
    "png header only": (png_claiming(64, 64)[:33], "corrupt"),
    "png signature only": (png_claiming(64, 64)[:8], "corrupt"),
    "jpeg signature only": (b"\xff\xd8\xff\xe0", "corrupt"),
}


@pytest.mark.parametrize("name", BAD_CONTENTS)
def test_a_file_with_no_usable_picture_is_refused_with_its_reason(
    tmp_path: Path, name: str
) -> None:
    contents, reason = BAD_CONTENTS[name]
    path = tmp_path / "张三丰.png"  # a resident's name in the file name must not leak
    path.write_bytes(contents)
    for source in (path, str(path), contents):
        with pytest.raises(ImageUnreadable) as refused:
            load_image(source)
        assert refused.value.reason == reason
        assert refused.value.staff_message
        assert "张三丰" not in refused.value.staff_message
        assert refused.value.resident_message("zh") and refused.value.resident_message("en")


def test_a_huge_header_is_refused_before_anything_is_decoded() -> None:
    # The pixel data is 4 KB of zeros: decoding it would report a file cut short, so
    # "too many pixels" shows the header was judged first.
    with pytest.raises(ImageUnreadable) as refused:
        load_image(png_claiming(8000, 6000))
    assert refused.value.reason == "too_many_pixels"
    assert "8000×6000" in str(refused.value)


def test_a_file_over_64_mb_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    with path.open("wb") as stream:
        stream.write(png_claiming(10, 10))
        stream.truncate(MAX_FILE_BYTES + 1)  # sparse: nothing is written to disk
    with pytest.raises(ImageUnreadable) as refused:
        load_image(path)
    assert refused.value.reason == "too_large"
    assert "64 MB" in str(refused.value)


def test_a_folder_a_missing_file_and_a_device_are_refused(tmp_path: Path) -> None:
    for path, reason in (
        (tmp_path, "not_a_file"),
        (tmp_path / "absent.jpg", "missing"),
        (Path("/dev/null"), "not_a_file"),
    ):
        with pytest.raises(ImageUnreadable) as refused:
            load_image(path)
        assert refused.value.reason == reason
        assert str(tmp_path) not in str(refused.value)


@pytest.mark.parametrize("extension", [".png", ".jpg"])
@pytest.mark.parametrize("kept", [0.1, 0.5, 0.9])
def test_a_file_cut_short_is_refused(portrait: np.ndarray, extension: str, kept: float) -> None:
    whole = encoded(portrait, extension)
    with pytest.raises(ImageUnreadable) as refused:
        load_image(whole[: int(len(whole) * kept)])
    assert refused.value.reason == "truncated"
    assert "cut short" in str(refused.value)


def test_a_jpeg_without_its_end_marker_is_refused_as_cut_short(portrait: np.ndarray) -> None:
    with pytest.raises(ImageUnreadable) as refused:
        load_image(encoded(portrait, ".jpg")[:-2])
    assert refused.value.reason == "truncated"


def test_a_png_whose_pixels_are_whole_but_whose_end_chunk_is_missing_is_read(
    portrait: np.ndarray,
) -> None:
    whole = encoded(portrait, ".png")
    assert whole.endswith(b"IEND\xaeB`\x82")
    assert np.array_equal(load_image(whole[:-12]), portrait)


def test_a_damaged_jpeg_is_refused(portrait: np.ndarray) -> None:
    data = bytearray(encoded(portrait, ".jpg"))
    data[2:200] = bytes(198)  # the quantisation and Huffman tables
    with pytest.raises(ImageUnreadable) as refused:
        load_image(bytes(data))
    assert refused.value.reason in ("corrupt", "not_an_image")


# --- load_image: odd but good pictures ----------------------------------------------------


def test_a_jpeg_and_a_png_are_read_as_bgr(tmp_path: Path, portrait: np.ndarray) -> None:
    png = tmp_path / "p.png"
    png.write_bytes(encoded(portrait))
    assert np.array_equal(load_image(png), portrait)
    for source in (bytearray(encoded(portrait)), memoryview(encoded(portrait))):
        assert np.array_equal(load_image(source), portrait)
    jpeg = load_image(encoded(portrait, ".jpg"))
    assert_bgr(jpeg, (512, 512))
    assert np.abs(jpeg.astype(int) - portrait).mean() < 3


def test_greyscale_becomes_three_equal_channels() -> None:
    grey = np.arange(64 * 48, dtype=np.uint32).reshape(48, 64).astype(np.uint8)
    image = load_image(encoded(grey))
    assert_bgr(image, (48, 64))
    for channel in range(3):
        assert np.array_equal(image[:, :, channel], grey)


def test_sixteen_bit_samples_are_scaled_not_clipped() -> None:
    grey = np.array([[0, 257, 32896, 65535]], dtype=np.uint16)
    image = load_image(encoded(grey))
    assert image[0, :, 0].tolist() == [0, 1, 128, 255]
    colour = np.zeros((1, 2, 3), dtype=np.uint16)
    colour[0, 0] = (65535, 32896, 0)  # B, G, R
    colour[0, 1] = (257 * 10, 257 * 20, 257 * 30)
    image = load_image(encoded(colour))
    assert image[0].tolist() == [[255, 128, 0], [10, 20, 30]]


def test_transparency_is_composited_on_white() -> None:
    bgra = np.zeros((1, 3, 4), dtype=np.uint8)
    bgra[0, :, 2] = 200  # red
    bgra[0, :, 3] = (255, 0, 128)
    image = load_image(encoded(bgra))
    assert image[0, 0].tolist() == [0, 0, 200]
    assert image[0, 1].tolist() == [255, 255, 255]
    assert image[0, 2].tolist() == [127, 127, 227]


def test_palette_images_are_expanded_and_their_transparent_colour_is_white() -> None:
    palette = Image.new("P", (2, 1))
    palette.putpalette([0, 0, 0, 10, 20, 30, 200, 100, 50])
    palette.putpixel((0, 0), 1)
    palette.putpixel((1, 0), 2)
    image = load_image(pillow_bytes(palette, "PNG"))
    assert image[0].tolist() == [[30, 20, 10], [50, 100, 200]]
    image = load_image(pillow_bytes(palette, "GIF", transparency=2))
    assert image[0].tolist() == [[30, 20, 10], [255, 255, 255]]


def test_cmyk_jpeg_becomes_rgb() -> None:
    red = Image.new("CMYK", (16, 16), (0, 255, 255, 0))
    image = load_image(pillow_bytes(red, "JPEG", quality=95))
    blue, green, r = image[8, 8].tolist()
    assert r > 230 and green < 30 and blue < 30


def test_one_bit_and_float_and_32_bit_images_are_read() -> None:
    assert load_image(pillow_bytes(Image.new("1", (3, 2), 1), "PNG")).min() == 255
    assert load_image(pillow_bytes(Image.new("F", (3, 2), 0.5), "TIFF"))[0, 0, 0] == 128
    assert load_image(pillow_bytes(Image.new("I", (3, 2), 65535), "TIFF"))[0, 0, 0] == 255


def test_the_exif_orientation_is_applied() -> None:
    wide = Image.new("RGB", (40, 20), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    image = load_image(pillow_bytes(wide, "JPEG", exif=exif))
    assert_bgr(image, (40, 20))


def test_webp_bmp_tiff_and_gif_are_read(portrait: np.ndarray) -> None:
    small = portrait[:32, :48]
    for extension in (".webp", ".bmp", ".tif"):
        assert_bgr(load_image(encoded(small, extension)), (32, 48))
    gif = pillow_bytes(Image.fromarray(small[:, :, ::-1]).convert("P"), "GIF")
    assert_bgr(load_image(gif), (32, 48))


# --- load_image: anything at all ----------------------------------------------------------


def load_or_refuse(data: bytes) -> None:
    try:
        image = load_image(data)
    except ImageUnreadable as refused:
        assert refused.reason in {
            "empty",
            "too_large",
            "too_many_pixels",
            "not_an_image",
            "truncated",
            "corrupt",
            "unsupported",
        }
        assert str(refused)
        return
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert image.shape[0] * image.shape[1] > 0


@damaged_file_warnings
@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4000))
def test_random_bytes_give_a_picture_or_image_unreadable(data: bytes) -> None:
    load_or_refuse(data)


def _valid_files() -> list[bytes]:
    rng = np.random.default_rng(3)
    picture = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    picture[4:20, 8:24] = (40, 160, 220)
    files = [encoded(picture, extension) for extension in (".png", ".jpg", ".bmp", ".tif")]
    files.append(pillow_bytes(Image.fromarray(picture).convert("P"), "GIF"))
    files.append(pillow_bytes(Image.fromarray(picture), "JPEG", progressive=True))
    files.append(pillow_bytes(Image.fromarray(picture).convert("RGBA"), "WEBP"))
    files.append(encoded(picture.astype(np.uint16) * 257))
    return files


VALID_FILES = _valid_files()


@st.composite
def damaged_files(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(VALID_FILES)))
    for _ in range(draw(st.integers(1, 6))):
        position = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["set", "delete", "insert", "cut"]))
        if action == "set":
            data[position] = draw(st.integers(0, 255))
        elif action == "delete":
            del data[position : position + draw(st.integers(1, 64))]
        elif action == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=16))
        else:
            del data[position:]
        if not data:
            break
    return bytes(data)


@damaged_file_warnings
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged_files())
def test_damaged_image_files_give_a_picture_or_image_unreadable(data: bytes) -> None:
    load_or_refuse(data)


# --- save_image ---------------------------------------------------------------------------


@pytest.mark.parametrize("extension", [".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".PNG"])
def test_save_image_writes_the_format_its_extension_names(
    tmp_path: Path, portrait: np.ndarray, extension: str
) -> None:
    path = save_image(tmp_path / f"out{extension}", portrait)
    again = load_image(path)
    assert_bgr(again, (512, 512))
    if extension.lower() in (".png", ".bmp", ".tif"):
        assert np.array_equal(again, portrait)
    else:
        assert np.abs(again.astype(int) - portrait).mean() < 4
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    assert path.stat().st_mode & 0o777 == 0o600


def test_save_image_refuses_an_unknown_extension(tmp_path: Path, portrait: np.ndarray) -> None:
    for name in ("out.gif", "out", "out.png.exe"):
        with pytest.raises(ImageNotSaved) as refused:
            save_image(tmp_path / name, portrait)
        assert refused.value.reason == "extension"
        assert ".png" in str(refused.value)
    assert not list(tmp_path.iterdir())


def test_save_image_reports_a_failed_write_and_leaves_nothing_behind(
    tmp_path: Path, portrait: np.ndarray
) -> None:
    with pytest.raises(ImageNotSaved) as refused:
        save_image(tmp_path / "no such folder" / "out.png", portrait)
    assert refused.value.reason == "write"
    taken = tmp_path / "taken.png"
    taken.mkdir()
    with pytest.raises(ImageNotSaved) as refused:
        save_image(taken, portrait)
    assert refused.value.reason == "write"
    assert [p.name for p in tmp_path.iterdir()] == ["taken.png"]


def test_save_image_refuses_an_array_that_is_no_image(tmp_path: Path) -> None:
    for array in (np.zeros((4, 4), np.float32), np.zeros((4, 4, 2), np.uint8), np.zeros(5)):
        with pytest.raises(ValueError, match="image"):
            save_image(tmp_path / "x.png", array)


# --- QR codes -----------------------------------------------------------------------------


def zxing_code(content: str | bytes, module: int = 8, **options: object) -> np.ndarray:
    """A QR code drawn by zxing-cpp's writer (with a quiet zone), BGR."""
    barcode = zxingcpp.create_barcode(content, zxingcpp.BarcodeFormat.QRCode, **options)
    grey = np.array(zxingcpp.write_barcode_to_image(barcode, scale=module))
    return cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)


def opencv_code(text: str, module: int = 8) -> np.ndarray:
    """A QR code drawn by OpenCV's encoder, with a quiet zone, BGR."""
    grey = cv2.QRCodeEncoder.create().encode(text)
    grey = cv2.resize(grey, None, fx=module, fy=module, interpolation=cv2.INTER_NEAREST)
    grey = cv2.copyMakeBorder(grey, *[4 * module] * 4, cv2.BORDER_CONSTANT, value=255)
    return cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)


def in_frame(code: np.ndarray, x: int = 100, y: int = 80, grey: int = 170) -> np.ndarray:
    frame = np.full((*FRAME, 3), grey, np.uint8)
    height, width = code.shape[:2]
    frame[y : y + height, x : x + width] = code
    return frame


def only_code(image: np.ndarray) -> Code:
    codes = decode_codes(image)
    assert len(codes) == 1, codes
    return codes[0]


def test_a_voucher_is_told_apart(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    code = only_code(in_frame(opencv_code(VOUCHER)))
    assert code.kind == "nhsa_voucher"
    assert code.data == VOUCHER and code.raw == VOUCHER.encode()
    assert code.voucher is not None
    assert code.voucher.code == VOUCHER and code.voucher.source == "camera"
    assert code.voucher.province_code == VOUCHER[22:24]
    assert VOUCHER not in repr(code) and VOUCHER not in str(code)
    assert not code.binary
    assert VOUCHER not in caplog.text


@pytest.mark.parametrize(
    "text",
    [
        "4243754826492874240001130001",  # 28 digits, wrong tail
        "1243754826492874240001130000",  # wrong prefix
        "4243754826492874240001710000",  # Taiwan: no insuring region
        "424375482649287424000113000",  # 27 digits
        "https://example.org/pay?order=4243754826492874240001130000",
    ],
)
def test_other_codes_are_other(text: str) -> None:
    code = only_code(in_frame(opencv_code(text)))
    assert code.kind == "other"
    assert code.voucher is None
    assert code.data == text


def test_a_url_is_data_and_nothing_more() -> None:
    url = "https://example.org/a?b=c&d=%20e#f"
    code = only_code(in_frame(opencv_code(url)))
    assert (code.data, code.kind, code.display_text) == (url, "other", url)


HOSTILE = {
    "ansi": ("\x1b[2J\x1b[31mpay here\x1b[0m", ["\\x1b[2J", "\\x1b[31m"]),
    "bidi": ("invoice\u202egpj.exe\u2066x\u2069", ["\\u202e", "\\u2066", "\\u2069"]),
    "nul and newlines": ("a\x00b\r\nc\nd", ["a\\x00b\\x0d\\x0ac\\x0ad"]),
    "zero width": ("pay\u200bpal\ufeff\u200d", ["pay\\u200bpal\\ufeff\\u200d"]),
    "c1 and del": ("x\x7f\x9by", ["x\\x7f\\x9by"]),
    "line separator": ("a\u2028b", ["a\\u2028b"]),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_text_is_kept_whole_but_shown_escaped(name: str) -> None:
    text, shown = HOSTILE[name]
    code = only_code(in_frame(zxing_code(text, eci="UTF-8")))
    assert code.data == text
    assert code.raw == text.encode()
    display = code.display_text
    for piece in shown:
        assert piece in display
    assert display.isprintable()
    assert not any(0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069 for c in display)


def test_display_text_is_cut_after_about_200_characters() -> None:
    payload = "床前明月光，疑是地上霜。" * 30 + "end"
    code = only_code(in_frame(zxing_code(payload, module=3), x=50, y=20))
    assert code.data == payload
    assert code.display_text.endswith("…")
    assert len(code.display_text) == qr.DISPLAY_LIMIT + 1
    escaped = qr.safe_text("\x00" * 100)  # escapes are never cut in half
    assert escaped == "\\x00" * (qr.DISPLAY_LIMIT // 4) + "…"


@pytest.mark.parametrize(
    "content, options, text",
    [
        ("社区服务站 家门口 ✓", {"eci": "UTF-8"}, "社区服务站 家门口 ✓"),
        ("社区服务站 家门口", {"eci": "GB18030"}, "社区服务站 家门口"),  # ECI 32 says so
        # GBK that does not say so: what many Chinese generators write.
        ("社区服务站 家门口".encode("gbk"), {}, "社区服务站 家门口"),
        ("龘𠀀 生僻字".encode("gb18030"), {}, "龘𠀀 生僻字"),
        ("中文", {}, "中文"),  # zxing's writer picks QR's kanji mode
        ("Grüße aus Köln".encode("latin-1"), {}, "Grüße aus Köln"),  # QR's default charset
    ],
)
def test_chinese_and_other_text_is_decoded(
    content: str | bytes, options: dict[str, str], text: str
) -> None:
    code = only_code(in_frame(zxing_code(content, **options)))
    assert code.data == text
    assert not code.binary


def test_opencv_encoded_chinese_is_decoded() -> None:
    assert only_code(in_frame(opencv_code("上海市浦东新区"))).data == "上海市浦东新区"


def test_binary_payloads_are_kept_as_hex() -> None:
    payload = bytes(range(256))
    code = only_code(in_frame(zxing_code(payload, module=4)))
    assert code.binary and code.kind == "other"
    assert code.raw == payload
    assert code.data == "hex:" + payload.hex()
    assert code.display_text.startswith("hex:000102")


def test_a_long_payload_is_read(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    payload = "".join(chr(0x4E00 + (i * 7919) % 20000) for i in range(700)) + "x" * 600
    assert 2000 <= len(payload.encode()) <= 2900
    image = zxing_code(payload, module=3, eci="UTF-8", ec_level="L")
    code = only_code(in_frame(image, x=200, y=20))
    assert code.data == payload
    assert payload[:20] not in caplog.text


def test_several_codes_in_one_frame_each_once() -> None:
    frame = np.full((*FRAME, 3), 200, np.uint8)
    texts = [VOUCHER, "https://example.org/", "二维码"]
    for index, text in enumerate(texts):
        code = zxing_code(text, module=6)
        h, w = code.shape[:2]
        frame[40 : 40 + h, 20 + 420 * index : 20 + 420 * index + w] = code
    repeat = zxing_code(VOUCHER, module=6)
    h, w = repeat.shape[:2]
    frame[720 - h - 10 : 710, 20 : 20 + w] = repeat
    codes = decode_codes(frame)
    assert sorted(code.data for code in codes) == sorted(texts)
    assert [code.kind for code in codes].count("nhsa_voucher") == 1


@pytest.mark.parametrize("turns", [1, 2, 3])
def test_turned_codes_are_read_and_their_corners_turn_with_them(turns: int) -> None:
    square = in_frame(zxing_code(VOUCHER, module=10), x=150, y=100)[:, :720]
    upright = only_code(square).corners
    turned = np.ascontiguousarray(np.rot90(square, k=-turns))  # clockwise
    code = only_code(turned)
    assert code.kind == "nhsa_voucher"
    expected = np.array(upright)
    for _ in range(turns):  # a clockwise quarter turn takes (x, y) to (height - y, x)
        height = 720
        expected = np.column_stack([height - expected[:, 1], expected[:, 0]])
    assert np.abs(np.array(code.corners) - expected).max() <= 2


def perspective_frame(
    content: str, corners: list[tuple[float, float]], background: np.ndarray | None = None
) -> np.ndarray:
    code = zxing_code(content, module=8)
    h, w = code.shape[:2]
    source = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    matrix = cv2.getPerspectiveTransform(source, np.float32(corners))
    frame = np.full((*FRAME, 3), 150, np.uint8) if background is None else background.copy()
    warped = cv2.warpPerspective(code, matrix, FRAME[::-1])
    mask = cv2.warpPerspective(np.full((h, w), 255, np.uint8), matrix, FRAME[::-1])
    frame[mask > 0] = warped[mask > 0]
    return frame


def test_a_code_seen_at_an_angle_is_read_and_located() -> None:
    corners = [(420.0, 120.0), (820.0, 170.0), (790.0, 600.0), (450.0, 560.0)]
    code = only_code(perspective_frame(VOUCHER, corners))
    assert code.kind == "nhsa_voucher"
    found = np.array(code.corners)
    assert np.all((found >= 0) & (found <= (1280, 720)))
    centre = np.mean(corners, axis=0)
    assert np.linalg.norm(found.mean(axis=0) - centre) < 20


def test_the_second_look_reports_corners_in_frame_pixels(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = in_frame(zxing_code(VOUCHER, module=10), x=300, y=100)
    first = only_code(frame)
    calls: list[tuple[int, int]] = []
    read = qr._read

    def miss_first(grey: np.ndarray) -> list:
        calls.append(grey.shape)
        return [] if len(calls) == 1 else read(grey)

    monkeypatch.setattr(qr, "_read", miss_first)
    second = only_code(frame)
    assert calls == [FRAME, (360, 640)]
    assert second.data == VOUCHER
    assert np.abs(np.array(second.corners) - np.array(first.corners)).max() <= 4


def test_an_empty_frame_has_no_codes() -> None:
    rng = np.random.default_rng(5)
    frames = [np.full((*FRAME, 3), value, np.uint8) for value in (0, 128, 255)]
    frames += [rng.integers(0, 256, (*FRAME, 3), dtype=np.uint8)]
    frames += [cv2.resize(texture, FRAME[::-1]) for texture in textures()]
    for frame in frames:
        assert decode_codes(frame) == []


def test_greyscale_bgra_and_read_only_frames_are_accepted() -> None:
    frame = in_frame(zxing_code(VOUCHER))
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    bgra = cv2.cvtColor(frame, cv2.COLOR_BGR2BGRA)
    frame.flags.writeable = False
    for image in (frame, grey, grey[:, :, None], bgra, frame[::2, ::2]):
        assert only_code(image).kind == "nhsa_voucher"


def test_no_decoded_contents_reach_the_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    payload = f"{RESIDENT['name']}|{RESIDENT['ssn']}|{RESIDENT['card_number']}"
    frame = in_frame(zxing_code(payload, eci="UTF-8"))
    code = only_code(frame)
    assert code.data == payload
    logging.getLogger("kiosk").debug("read %r", code)
    for secret in RESIDENT.values():
        assert secret not in caplog.text
        assert secret not in repr(code)


@functools.cache
def _light_ramps() -> tuple[np.ndarray, np.ndarray]:
    """-0.5 … 0.5 across the frame, and down it."""
    down, across = np.mgrid[0 : FRAME[0], 0 : FRAME[1]].astype(np.float32)
    return across / FRAME[1] - 0.5, down / FRAME[0] - 0.5


def synthetic_view(rng: np.random.Generator, payload: str) -> np.ndarray:
    """`payload` as a code a quarter to 0.42 of the frame wide, seen at an angle (its
    corners up to 7° and 15 % off a square's), under uneven light (up to 60 % darker on
    one side), slightly out of focus (blur up to σ 1.8 px), with sensor noise (σ up to
    10) and half the time JPEG artefacts; a greyscale frame."""
    level = str(rng.choice(list("LMQH")))
    code = cv2.cvtColor(zxing_code(payload, ec_level=level), cv2.COLOR_BGR2GRAY)
    h, w = code.shape
    while True:
        side = rng.uniform(0.25, 0.42) * FRAME[1]
        centre = rng.uniform((0, 0), FRAME[::-1])
        angle = rng.uniform(0, 2 * np.pi)
        corners = []
        for k in range(4):
            a = angle + k * np.pi / 2 + np.pi / 4 + rng.uniform(-0.12, 0.12)
            r = side / np.sqrt(2) * rng.uniform(0.85, 1.15)
            corners.append(centre + r * np.array([np.cos(a), np.sin(a)]))
        quad = np.float32(corners)
        if quad.min() > 5 and quad[:, 0].max() < FRAME[1] - 5 and quad[:, 1].max() < FRAME[0] - 5:
            break
    if rng.random() < 0.5:
        texture = _textures()[rng.integers(0, 3)][:, :, 0]
        frame = cv2.resize(texture, FRAME[::-1])
    else:
        frame = np.full(FRAME, rng.integers(60, 220), np.uint8)
    matrix = cv2.getPerspectiveTransform(np.float32([[0, 0], [w, 0], [w, h], [0, h]]), quad)
    cv2.warpPerspective(code, matrix, FRAME[::-1], frame, borderMode=cv2.BORDER_TRANSPARENT)
    across, down = _light_ramps()
    gx, gy = rng.uniform(-1, 1, 2)
    light = 1 - rng.uniform(0, 0.6) * (across * gx + down * gy + 0.5)
    image = frame * light + rng.uniform(-20, 20)
    sigma = rng.uniform(0, 1.8)
    if sigma > 0.3:
        image = cv2.GaussianBlur(image, (0, 0), sigma)
    image = image + rng.normal(0, rng.uniform(0, 10), image.shape).astype(np.float32)
    image = np.clip(image, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        quality = int(rng.integers(50, 95))
        jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1]
        image = cv2.imdecode(jpeg, cv2.IMREAD_GRAYSCALE)
    return image


def test_at_least_99_percent_of_codes_a_quarter_of_the_frame_wide_are_read() -> None:
    rng = np.random.default_rng(2024)
    digits = list("0123456789")
    read = total = 0
    for index in range(200):
        if index % 2:
            payload = "424" + "".join(rng.choice(digits, 17)) + "01" + "31" + "0000"
        else:
            payload = "https://example.org/" + "".join(rng.choice(list("abcdefgh"), 40))
        codes = decode_codes(synthetic_view(rng, payload))
        total += 1
        read += any(code.data == payload for code in codes)
        for code in codes:
            assert code.kind == ("nhsa_voucher" if index % 2 else "other")
    assert read / total >= 0.99, f"{read}/{total}"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=300))
def test_any_text_round_trips(text: str) -> None:
    code = only_code(zxing_code(text, module=3, eci="UTF-8"))
    assert code.data == text
    assert code.raw == text.encode()
    shown = code.display_text
    assert all(char.isprintable() or char in SPACES for char in shown)
    assert len(shown) <= qr.DISPLAY_LIMIT + 1


CHINESE_TEXT = st.text(
    st.one_of(
        st.characters(min_codepoint=0x20, max_codepoint=0x7E),  # ASCII
        st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),  # CJK ideographs
        st.characters(min_codepoint=0x3000, max_codepoint=0x303F),  # CJK punctuation
        st.characters(min_codepoint=0xFF01, max_codepoint=0xFF5E),  # full-width forms
    ),
    min_size=1,
    max_size=100,
)


def gb2312_only(data: bytes) -> bool:
    """Whether both bytes of every two-byte character of GBK `data` are 0xA1 or above
    (GB 2312's range)."""
    index = 0
    while index < len(data):
        if data[index] >= 0x80:
            if data[index] < 0xA1 or data[index + 1] < 0xA1:
                return False
            index += 1
        index += 1
    return True


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(CHINESE_TEXT, st.sampled_from(["UTF-8 undeclared", "GB18030 declared", "GBK undeclared"]))
def test_chinese_text_round_trips_however_it_is_written(text: str, how: str) -> None:
    """UTF-8 bytes with no ECI (what most generators write); GB 18030 declared by its ECI;
    and GBK with no ECI, for GB 2312's characters (the common ones), except the rare few
    byte strings that are valid UTF-8 too, which are read as UTF-8 (see `qr`)."""
    if how == "UTF-8 undeclared":
        image = zxing_code(text.encode(), module=3)
    elif how == "GB18030 declared":
        image = zxing_code(text, module=3, eci="GB18030")
    else:
        try:
            data = text.encode("gbk")
        except UnicodeEncodeError:
            data = b"\x80"
        assume(gb2312_only(data))
        assume(data.isascii() or not is_utf8(data))
        image = zxing_code(data, module=3)
    assert only_code(image).data == text


def is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# --- faces --------------------------------------------------------------------------------


def with_face(
    portrait: np.ndarray,
    scale: float,
    centre: tuple[float, float],
    frame: np.ndarray | None = None,
) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """The portrait, scaled, pasted so that its face's centre is at `centre` (cropped at
    the frame's edges); the frame and where the face is."""
    frame = np.full((*FRAME, 3), 140, np.uint8) if frame is None else frame.copy()
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    pasted = cv2.resize(portrait, None, fx=scale, fy=scale, interpolation=interpolation)
    x, y, w, h = (value * scale for value in FACE_IN_PORTRAIT)
    left, top = round(centre[0] - x - w / 2), round(centre[1] - y - h / 2)
    height, width = frame.shape[:2]
    ph, pw = pasted.shape[:2]
    x0, y0, x1, y1 = max(0, left), max(0, top), min(width, left + pw), min(height, top + ph)
    frame[y0:y1, x0:x1] = pasted[y0 - top : y1 - top, x0 - left : x1 - left]
    return frame, (left + x, top + y, w, h)


def overlap(box: Box, truth: tuple[float, float, float, float]) -> float:
    ax, ay, aw, ah = box
    bx, by, bw, bh = truth
    across = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    down = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    common = across * down
    return common / (aw * ah + bw * bh - common)


@pytest.mark.parametrize("scale", [1.6, 2.0, 2.5, 3.0, 4.0])
def test_a_face_is_found_where_it_is(portrait: np.ndarray, scale: float) -> None:
    # Faces from 152 px (12 % of the frame's width) to 380 px, at least a face's width
    # from the frame's edges where the frame leaves room.
    rng = np.random.default_rng(int(scale * 10))
    brick = cv2.resize(textures()[0], FRAME[::-1])
    side = FACE_IN_PORTRAIT[2] * scale
    for attempt in range(6):
        centre = (
            rng.uniform(side, FRAME[1] - side),
            rng.uniform(min(side, 300), max(FRAME[0] - side, 420)),
        )
        frame, truth = with_face(portrait, scale, centre, brick if attempt % 2 else None)
        boxes = find_faces(frame)
        assert len(boxes) == 1, (centre, boxes)
        assert overlap(boxes[0], truth) > 0.5, (boxes[0], truth)
        assert all(isinstance(value, int) for value in boxes[0])
        assert someone_present(frame)


def test_a_face_in_an_image_smaller_than_the_working_width_is_found(
    portrait: np.ndarray,
) -> None:
    (box,) = find_faces(portrait)
    assert overlap(box, FACE_IN_PORTRAIT) > 0.5
    grey = cv2.cvtColor(portrait, cv2.COLOR_BGR2GRAY)
    assert find_faces(grey) == [box]


def no_face_frames() -> list[np.ndarray]:
    rng = np.random.default_rng(11)
    frames = [np.full((*FRAME, 3), value, np.uint8) for value in (0, 128, 255)]
    frames.append(rng.integers(0, 256, (*FRAME, 3), dtype=np.uint8))
    frames.append(cv2.GaussianBlur(frames[-1], (0, 0), 3))
    for texture in textures():
        frames.append(cv2.resize(texture, FRAME[::-1]))
        frames.append(np.tile(texture, (2, 3, 1))[: FRAME[0], : FRAME[1]])
    page = np.full((*FRAME, 3), 235, np.uint8)
    for line in range(28):
        text = "Application form 1234567890 residence permit"
        cv2.putText(page, text, (30, 30 + 25 * line), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (30,) * 3, 2)
    frames.append(page)
    desk = cv2.resize(textures()[2], FRAME[::-1])
    cv2.rectangle(desk, (400, 200), (828, 470), (190, 120, 60), -1)  # a card
    cv2.rectangle(desk, (430, 260), (500, 320), (60, 180, 220), -1)  # its chip
    cv2.rectangle(desk, (680, 240), (790, 380), (150, 150, 150), -1)  # its photo box
    for line in range(4):
        text = "SOCIAL SECURITY 310"
        cv2.putText(desk, text, (440, 360 + 25 * line), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (20,) * 3, 2)
    frames.append(desk)
    frames.append(in_frame(zxing_code(VOUCHER, module=12), x=400, y=60))
    return frames


def test_textures_documents_cards_blank_and_noise_have_no_face() -> None:
    for index, frame in enumerate(no_face_frames()):
        assert find_faces(frame) == [], index
        assert not someone_present(frame)


def test_check_photo_verdicts(portrait: np.ndarray) -> None:
    photo = (640, 480)  # width, height

    def taken(scale: float, centre: tuple[float, float]) -> np.ndarray:
        background = np.full((photo[1], photo[0], 3), 225, np.uint8)
        return with_face(portrait, scale, centre, background)[0]

    middle = (photo[0] / 2, photo[1] / 2)
    good = check_photo(taken(2.2, middle))  # face 209 px: a third of the width
    assert good.verdict == "ok" and good.ok and good.face is not None
    assert check_photo(taken(1.3, middle)).verdict == "too_small"  # 124 px: a fifth
    assert check_photo(taken(2.2, (photo[0] / 2 + 150, photo[1] / 2))).verdict == "off_centre"
    assert check_photo(taken(2.2, (photo[0] / 2, photo[1] / 2 + 100))).verdict == "off_centre"
    head = cv2.resize(portrait[14:214, 125:325], (300, 300))  # face in the middle, 142 px
    two = np.full((photo[1], photo[0], 3), 225, np.uint8)
    two[90:390, 10:310] = head
    two[90:390, 330:630] = head
    several = check_photo(two)
    assert several.verdict == "several_faces" and len(several.faces) == 2
    nobody = check_photo(cv2.resize(textures()[1], photo))
    assert nobody.verdict == "no_face" and nobody.face is None and not nobody.ok
    messages = set()
    for verdict in ("ok", "no_face", "several_faces", "off_centre", "too_small"):
        said = faces.PhotoVerdict(verdict, None)
        assert said.resident_message("zh") == said.resident_zh != said.resident_en
        assert said.resident_message("en") == said.resident_en
        messages.add(said.resident_zh)
    assert len(messages) == 5
    assert "请正对镜头，让脸位于画面中央" in faces.PhotoVerdict("off_centre", None).resident_zh


def test_each_thread_has_its_own_classifier_and_gets_the_same_faces(
    portrait: np.ndarray,
) -> None:
    frame, _ = with_face(portrait, 2.0, (640, 360))
    expected = find_faces(frame)
    results: list[list[Box]] = []
    classifiers: list[object] = []
    lock = threading.Lock()

    def work() -> None:
        found = [find_faces(frame) for _ in range(3)]
        with lock:
            results.extend(found)
            classifiers.append(faces._classifier())

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [expected] * 12
    assert len({id(classifier) for classifier in classifiers}) == 4


@pytest.mark.parametrize(
    "array",
    [
        np.zeros((10, 10), np.float64),
        np.zeros((0, 0, 3), np.uint8),
        np.zeros((10, 10, 2), np.uint8),
        np.zeros(10, np.uint8),
    ],
)
def test_the_detectors_refuse_what_is_not_an_image(array: np.ndarray) -> None:
    for detector in (find_faces, someone_present, check_photo, decode_codes):
        with pytest.raises(ValueError, match="image"):
            detector(array)
