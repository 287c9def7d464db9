"""Sample documents' data, for `kiosk receipt sample`, the tests and the benchmark.

A fictional resident (李秀英) applies for a new social security card (SS-001 of the sample
catalog) at the default demo station on 24 November 2026; the form's images (an ID card,
front and back, the signed application page) are drawn here and marked 样例 SAMPLE; the
photo is the public-domain portrait in `assets/camera/`.
"""

from __future__ import annotations

import io
from datetime import date, datetime
from functools import cache

from kiosk.config import StationSettings, assets_dir
from kiosk.core.applications import State
from kiosk.core.catalog import Catalog, ServiceItem
from kiosk.core.catalog_store import read_catalog_file, sample_catalog_path
from kiosk.core.identity import ssn_check_digit
from kiosk.documents.build import (
    Capture,
    day_report_data,
    device_name,
    form_data,
    receipt_data,
)
from kiosk.documents.data import (
    DayReportData,
    DeviceFault,
    FormData,
    Lang,
    ReceiptData,
    SyncSummary,
)
from kiosk.documents.fonts import SHIPPED_FONT_FILE

STATION = StationSettings(phone="021-50001234")
ITEM_CODE = "SS-001"
REFERENCE = "DEMO01-20261124-0007"
APPLICATION_ID = "5b0f3c2e-8d1a-4e7b-9c55-2f6a1d3e9b70"
ACCEPTED_AT = datetime(2026, 11, 24, 10, 32)
RESIDENT = {
    "name": "李秀英",
    "sex": "female",
    "ssn": "31011519580312002" + ssn_check_digit("31011519580312002"),
    "birth_date": "1958-03-12",
    "ethnicity": "01",
    "card_number": "M01234567",
    "missing": [],
}
DETAILS = {
    "联系电话": "13900001234",
    "居住地址": "上海市浦东新区示例路1号101室",
    "领卡方式": "到本服务站领取",
}
#: (kind, label) of what the sample resident handed over, in capture order.
CAPTURED = (
    ("card", "居民身份证"),
    ("card", "居民身份证"),
    ("photo", "近期一寸免冠照片"),
    ("page", "社会保障卡申领表"),
)


@cache
def sample_catalog() -> Catalog:
    """The sample catalog that ships in assets/catalog (read once)."""
    catalog, _raw = read_catalog_file(sample_catalog_path())
    return catalog


def sample_item(code: str = ITEM_CODE) -> ServiceItem:
    """An item of the sample catalog."""
    return sample_catalog().get(code)


def sample_receipt(lang: Lang = "zh") -> ReceiptData:
    return receipt_data(
        sample_item(),
        STATION,
        reference=REFERENCE,
        accepted_at=ACCEPTED_AT,
        resident=RESIDENT,
        captures=[Capture(kind, label) for kind, label in CAPTURED],
        lang=lang,
    )


def sample_form(lang: Lang = "zh") -> FormData:
    images = _sample_images()
    captures = [
        Capture(kind, label, media_type, content)
        for (kind, label), (media_type, content) in zip(CAPTURED, images, strict=True)
    ]
    return form_data(
        sample_item(),
        STATION,
        reference=REFERENCE,
        application_id=APPLICATION_ID,
        created_at=datetime(2026, 11, 24, 10, 21),
        printed_at=ACCEPTED_AT,
        state=State.QUEUED,
        resident=RESIDENT,
        details=DETAILS,
        captures=captures,
        lang=lang,
    )


#: The sample day: (item code, applications, of which still queued, of which rejected).
_DAY = (
    ("MI-001", 9, 1, 0),
    ("SS-001", 6, 2, 0),
    ("EC-001", 5, 0, 1),
    ("MI-009", 4, 0, 0),
    ("CA-001", 3, 1, 0),
    ("RS-002", 3, 0, 0),
    ("SS-018", 2, 0, 0),
    ("DS-001", 1, 0, 0),
)


def sample_day_report(lang: Lang = "zh") -> DayReportData:
    catalog = sample_catalog()
    applications = []
    for code, count, queued, rejected in _DAY:
        name = catalog.get(code).name(lang)
        states = [State.QUEUED] * queued + [State.REJECTED] * rejected
        states += [State.SUBMITTED, State.ACCEPTED]
        states += [State.COMPLETED] * (count - len(states))
        applications += [(code, name, state.value) for state in states[:count]]
    faults = [
        DeviceFault(
            datetime(2026, 11, 24, 11, 2),
            device_name("printer", lang),
            "缺纸（已补纸）" if lang == "zh" else "Out of paper (refilled)",
        ),
        DeviceFault(
            datetime(2026, 11, 24, 14, 20),
            device_name("document_camera", lang),
            "画面中断 12 秒后自动恢复"
            if lang == "zh"
            else "No picture for 12 s, then recovered by itself",
        ),
    ]
    return day_report_data(
        STATION,
        date(2026, 11, 24),
        generated_at=datetime(2026, 11, 24, 17, 30),
        applications=applications,
        sync=SyncSummary(
            waiting=4,
            oldest_waiting=datetime(2026, 11, 24, 16, 5),
            last_success=datetime(2026, 11, 24, 16, 58),
            rejected=1,
        ),
        faults=faults,
        lang=lang,
    )


# --- sample images -----------------------------------------------------------------------


@cache
def _sample_images() -> tuple[tuple[str, bytes], ...]:
    """(media type, content) for each of CAPTURED, drawn once per process."""
    return (
        ("image/png", _png(_id_card_front())),
        ("image/png", _png(_id_card_back())),
        ("image/jpeg", _portrait()),
        ("image/png", _png(_application_page())),
    )


def _font(size: int):
    from PIL import ImageFont

    return ImageFont.truetype(str(assets_dir() / "fonts" / SHIPPED_FONT_FILE), size, index=0)


def _png(image) -> bytes:
    output = io.BytesIO()
    image.save(output, "PNG", optimize=True)
    return output.getvalue()


def _watermark(image) -> None:
    from PIL import Image, ImageDraw

    layer = Image.new("L", image.size, 0)
    ImageDraw.Draw(layer).text(
        (image.width // 2, image.height // 2),
        "样例 SAMPLE",
        font=_font(image.width // 9),
        fill=255,
        anchor="mm",
    )
    layer = layer.rotate(20, resample=Image.Resampling.BICUBIC)
    red = Image.new("RGB", image.size, (200, 40, 40))
    image.paste(red, mask=layer.point(lambda v: v * 45 // 100))


def _id_card_front():
    from PIL import Image, ImageDraw

    card = Image.new("RGB", (856, 540), (236, 242, 246))
    draw = ImageDraw.Draw(card)
    draw.rounded_rectangle((4, 4, 851, 535), radius=28, outline=(150, 170, 185), width=3)
    label, value = _font(26), _font(30)
    rows = [
        ("姓名", "李秀英"),
        ("性别", "女      民族  汉"),
        ("出生", "1958 年 3 月 12 日"),
        ("住址", "上海市浦东新区示例路1号"),
    ]
    y = 60
    for name, text in rows:
        draw.text((50, y), name, font=label, fill=(70, 110, 140))
        draw.text((140, y - 3), text, font=value, fill=(20, 20, 20))
        y += 78
    draw.text((50, 440), "公民身份号码", font=label, fill=(70, 110, 140))
    draw.text((250, 436), RESIDENT["ssn"], font=_font(34), fill=(20, 20, 20))
    portrait = Image.open(io.BytesIO(_portrait())).convert("RGB").resize((220, 290))
    card.paste(portrait, (590, 70))
    _watermark(card)
    return card


def _id_card_back():
    from PIL import Image, ImageDraw

    card = Image.new("RGB", (856, 540), (240, 244, 238))
    draw = ImageDraw.Draw(card)
    draw.rounded_rectangle((4, 4, 851, 535), radius=28, outline=(160, 175, 150), width=3)
    draw.ellipse((60, 50, 190, 180), outline=(190, 60, 60), width=6)
    draw.text((125, 115), "★", font=_font(64), fill=(190, 60, 60), anchor="mm")
    draw.text((480, 95), "中华人民共和国", font=_font(44), fill=(30, 30, 30), anchor="mm")
    draw.text((480, 190), "居民身份证", font=_font(64), fill=(30, 30, 30), anchor="mm")
    label, value = _font(26), _font(28)
    draw.text((150, 380), "签发机关", font=label, fill=(70, 90, 70))
    draw.text((290, 378), "上海市公安局浦东分局", font=value, fill=(20, 20, 20))
    draw.text((150, 450), "有效期限", font=label, fill=(70, 90, 70))
    draw.text((290, 448), "2016.03.12-长期", font=value, fill=(20, 20, 20))
    _watermark(card)
    return card


def _application_page():
    from PIL import Image, ImageDraw

    page = Image.new("L", (1240, 1754), 255)
    draw = ImageDraw.Draw(page)
    draw.text((620, 150), "社会保障卡申领表", font=_font(64), fill=0, anchor="mm")
    left, right, top, height = 120, 1120, 260, 96
    rows = [
        ("姓名", "李秀英"),
        ("性别", "女"),
        ("公民身份号码", RESIDENT["ssn"]),
        ("联系电话", DETAILS["联系电话"]),
        ("居住地址", DETAILS["居住地址"]),
        ("领卡方式", DETAILS["领卡方式"]),
    ]
    for index, (name, text) in enumerate(rows):
        y = top + index * height
        draw.rectangle((left, y, right, y + height), outline=0, width=3)
        draw.line((420, y, 420, y + height), fill=0, width=3)
        draw.text((150, y + 28), name, font=_font(36), fill=0)
        draw.text((450, y + 26), text, font=_font(38), fill=40)
    y = top + len(rows) * height + 120
    draw.text((left, y), "本人承诺所填信息真实有效。", font=_font(36), fill=0)
    draw.text((680, y + 180), "申请人签名：", font=_font(36), fill=0)
    draw.line((900, y + 250, 1110, y + 200), fill=30, width=5)
    draw.arc((880, y + 160, 1010, y + 260), 200, 340, fill=30, width=5)
    draw.text((680, y + 280), "2026 年 11 月 24 日", font=_font(36), fill=0)
    rgb = page.convert("RGB")
    _watermark(rgb)
    return rgb


@cache
def _portrait() -> bytes:
    """The sample photo: the public-domain portrait cropped to a 1-inch photo (5:7)."""
    from PIL import Image

    with Image.open(assets_dir() / "camera" / "face-astronaut.jpg") as source:
        photo = source.convert("RGB")
    width, height = photo.size
    crop_width = min(width, height * 5 // 7)
    left = (width - crop_width) // 2
    photo = photo.crop((left, 0, left + crop_width, crop_width * 7 // 5))
    photo = photo.resize((413, 579))
    output = io.BytesIO()
    photo.save(output, "JPEG", quality=88)
    return output.getvalue()
