"""The printed documents, checked as a reader would: poppler's pdftotext finds the text,
pdftoppm renders the pages and OpenCV reads the QR code back, pdffonts shows every font
embedded, and nothing is printed outside the margins, whatever the content."""

from __future__ import annotations

import dataclasses
import io
import logging
import os
import subprocess
import sys
import threading
from datetime import UTC, date, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from reportlab.lib.units import mm
from reportlab.pdfbase import ttfonts

from kiosk.config import StationSettings
from kiosk.core.applications import Applications, State
from kiosk.core.catalog import parse_catalog
from kiosk.documents import (
    Attachment,
    DeviceFault,
    Entry,
    MaterialLine,
    day_report_from_store,
    form_from_store,
    receipt_from_store,
    render_day_report,
    render_form,
    render_receipt,
    sample_day_report,
    sample_form,
    sample_receipt,
)
from kiosk.documents import fonts as fonts_module
from kiosk.documents.fonts import FontSet, fonts
from kiosk.documents.samples import REFERENCE, RESIDENT
from kiosk.store.db import Store
from tests.catalog_files import VALID
from tests.pdfcheck import (
    assert_fonts_embedded,
    page_info,
    poppler,
    qr_codes,
    text_of,
    words_outside,
)
from tests.personal import RESIDENT as LOGGED_NEVER

ITEM = parse_catalog(VALID).get("MI-001")
STATION = StationSettings(code="ST01", phone="021-50001234")
NOW = datetime(2026, 11, 24, 10, 32, tzinfo=UTC)
RARE = "䶮"  # U+4DAE, CJK Extension A: not in the shipped font


# --- reading a PDF as a person would (shared helpers in tests/pdfcheck.py) -------------


def write(tmp_path: Path, pdf: bytes, name: str = "document.pdf") -> Path:
    assert pdf.startswith(b"%PDF-")
    path = tmp_path / name
    path.write_bytes(pdf)
    return path


def flat(text: str) -> str:
    """Text without white space: lines wrapped anywhere compare equal."""
    return "".join(text.split())


def printed(text: str) -> str:
    """What a reader sees of `text`: a character no font has is shown as [U+XXXX]."""
    return flat("".join(run.text for run in fonts().runs(text)))


def findable(path: Path, *wanted: str) -> None:
    found = flat(text_of(path))
    missing = [w for w in wanted if printed(w) not in found]
    assert not missing, f"not in the PDF's text: {missing}"


def check_receipt(tmp_path: Path, data, *, roll: bool) -> Path:
    """Render, and check what every receipt must be."""
    path = write(tmp_path, render_receipt(data, roll=roll), "roll.pdf" if roll else "a4.pdf")
    pages, width, height = page_info(path)
    if roll:  # nothing beyond the 72 mm a roll printer prints
        assert pages == 1 and round(width / mm) == 80
        assert not words_outside(path, 4 * mm, 4 * mm)
    else:  # within the margins (punctuation may hang into the right one)
        assert round(width / mm) == 210 and round(height / mm) == 297
        assert not words_outside(path, 20 * mm, 15 * mm)
    assert_fonts_embedded(path)
    return path


# --- the receipt ---------------------------------------------------------------------


@pytest.mark.parametrize("roll", [False, True], ids=["a4", "roll"])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_sample_receipt_says_everything_a_resident_needs(
    tmp_path: Path, lang: str, roll: bool
) -> None:
    data = sample_receipt(lang)
    path = check_receipt(tmp_path, data, roll=roll)
    findable(
        path,
        "受理回执" if lang == "zh" else "Acceptance receipt",
        data.station.name,
        data.item_name,
        REFERENCE,
        "2026年11月24日 10:32" if lang == "zh" else "24 Nov 2026 10:32",
        *(material.name for material in data.materials),
        "原件及复印件" if lang == "zh" else "original and copy",
        "李*英",
        "310***********0029",
        "20个工作日" if lang == "zh" else "20 working days",
        *data.next_steps,
        "021-50001234",
    )
    assert page_info(path)[0] == 1
    assert qr_codes(path, tmp_path) == [REFERENCE]


def test_the_receipt_shows_the_resident_only_masked(tmp_path: Path) -> None:
    data = sample_receipt("zh")
    text = flat(text_of(check_receipt(tmp_path, data, roll=False)))
    assert RESIDENT["name"] not in text and RESIDENT["ssn"] not in text
    assert RESIDENT["card_number"] not in text


LONG_NAME = "城乡居民基本医疗保险参保人员异地长期居住就医备案变更登记申请"  # 30 characters
TEN_MATERIALS = tuple(
    MaterialLine(
        f"材料{n}：居民户口簿首页及本人页复印件（须加盖公章）并附情况说明", "原件及复印件", n
    )
    for n in range(1, 11)
)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_long_and_odd_content_still_lays_out(tmp_path: Path, lang: str) -> None:
    assert len(LONG_NAME) == 30
    data = dataclasses.replace(
        sample_receipt(lang),
        item_name=LONG_NAME if lang == "zh" else "A " + "very long service name " * 6,
        applicant=f"{RARE}*明",
        materials=TEN_MATERIALS,
        responsible_body="上海市浦东新区人力资源和社会保障局社会保险事业管理中心第二受理科",
    )
    for roll in (False, True):
        path = check_receipt(tmp_path, data, roll=roll)
        findable(
            path,
            data.item_name,
            f"{RARE}*明",
            data.responsible_body,
            REFERENCE,
            *(m.name for m in TEN_MATERIALS),
        )
        assert qr_codes(path, tmp_path) == [REFERENCE]
    # The A4 receipt runs on cleanly to a second page that names the receipt again.
    pages = text_of(tmp_path / "a4.pdf").split("\f")
    assert page_info(tmp_path / "a4.pdf")[0] == 2
    second = flat(pages[1])
    assert REFERENCE in second and ("第2页/共2页" if lang == "zh" else "Page2of2") in second


_SAFE = st.sampled_from(
    list("办理事项社会保障卡新申领城乡居民医疗保险参保缴费老年综合津贴")
    + list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    + list("（）《》、，。：；“”-/&<>\"' ·")
    + [RARE, "\U0001f600", "\U00020000"]  # a rare name character, an emoji, Extension B
)
_ANY = st.characters(codec="utf-8", exclude_categories=("Cs",))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lang=st.sampled_from(["zh", "en"]),
    item_name=st.text(_SAFE, min_size=1, max_size=60).filter(lambda s: s.strip()),
    applicant=st.text(_SAFE, min_size=1, max_size=12),
    materials=st.lists(st.text(_SAFE, min_size=1, max_size=80), max_size=12),
    sequence=st.integers(1, 99999),
    station=st.from_regex(r"[A-Z0-9]{2,12}", fullmatch=True),
)
def test_generated_content_always_renders_with_its_reference_and_item(
    tmp_path: Path, lang, item_name, applicant, materials, sequence, station
) -> None:
    reference = f"{station}-20261124-{sequence:04d}"
    data = dataclasses.replace(
        sample_receipt(lang),
        reference=reference,
        item_name=item_name,
        applicant=applicant,
        materials=tuple(MaterialLine(name, "原件", 1) for name in materials),
    )
    for roll in (False, True):
        path = check_receipt(tmp_path, data, roll=roll)
        findable(path, reference, item_name)
        assert reference in qr_codes(path, tmp_path)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(_ANY, max_size=40))
def test_any_text_at_all_renders(tmp_path: Path, text: str) -> None:
    data = dataclasses.replace(
        sample_receipt("zh"),
        item_name=text,
        applicant=text,
        responsible_body=text,
        materials=(MaterialLine(text, text, 1),),
        next_steps=(text,),
    )
    path = check_receipt(tmp_path, data, roll=True)
    findable(path, REFERENCE)


# --- the application form ------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_sample_form_holds_the_application_and_its_images(tmp_path: Path, lang: str) -> None:
    data = sample_form(lang)
    path = write(tmp_path, render_form(data))
    assert_fonts_embedded(path)
    assert not words_outside(path, 20 * mm, 15 * mm)
    findable(
        path,
        "申请表" if lang == "zh" else "Application form",
        REFERENCE,
        data.application_id,
        data.item_name,
        RESIDENT["name"],  # the district's record holds the resident in full
        RESIDENT["ssn"],
        *(entry.value for entry in data.details),
        *(attachment.caption for attachment in data.attachments),
    )
    assert qr_codes(path, tmp_path) == [REFERENCE]
    images = poppler("pdfimages", "-list", str(path)).splitlines()[2:]
    assert len(images) == len(data.attachments) == 4
    assert all(" jpeg " in line for line in images)


def test_a_form_shows_no_personal_data_in_its_repr() -> None:
    shown = repr(sample_form("zh"))
    assert RESIDENT["name"] not in shown and RESIDENT["ssn"] not in shown


def test_a_rare_character_in_a_name_is_printed_not_dropped(tmp_path: Path) -> None:
    data = sample_form("zh")
    data = dataclasses.replace(data, applicant=(Entry("姓名", f"刘{RARE}"), *data.applicant[1:]))
    path = write(tmp_path, render_form(data))
    text = flat(text_of(path))
    embedded = assert_fonts_embedded(path)
    if fonts().font_for(RARE) is not None:
        assert f"刘{RARE}" in text
        assert any("WenQuanYi" not in name for name in embedded)  # the fallback, embedded
    else:  # no fallback font installed: the code point, visibly
        assert f"刘[U+{ord(RARE):04X}]" in text


def test_extension_b_characters_copy_out_as_themselves(tmp_path: Path) -> None:
    """reportlab's ToUnicode map for characters beyond the basic plane is corrected."""
    char = "\U00020000"
    if fonts().font_for(char) is None:
        # make test installs fonts-hanazono (installer/system-packages.sh): CI never skips
        assert not os.environ.get("CI"), "fonts-hanazono is missing: the installer must add it"
        pytest.skip("no font here has CJK Extension B (Debian fonts-hanazono)")
    data = dataclasses.replace(sample_receipt("zh"), applicant=f"{char}*明")
    path = check_receipt(tmp_path, data, roll=True)
    assert f"{char}*明" in flat(text_of(path))


def test_unreadable_captures_are_listed_not_drawn(tmp_path: Path) -> None:
    broken = Attachment("居民身份证 · 1", "card", "image/png", b"\x89PNG\r\n\x1a\n" + b"\0" * 30)
    document = Attachment("授权委托书 · 1", "page", "application/pdf", b"%PDF-1.7 ...")
    data = dataclasses.replace(sample_form("zh"), attachments=(broken, document))
    path = write(tmp_path, render_form(data))
    findable(path, broken.caption, document.caption, broken.sha256[:16], "application/pdf")


def test_a_huge_or_odd_image_is_scaled_down(tmp_path: Path) -> None:
    big = Image.new("I;16", (6000, 4000), 30000)  # 16-bit greyscale, 24 megapixels
    output = io.BytesIO()
    big.save(output, "PNG")
    data = dataclasses.replace(
        sample_form("en"),
        attachments=(Attachment("Page · 1", "page", "image/png", output.getvalue()),),
    )
    path = write(tmp_path, render_form(data))
    assert path.stat().st_size < 2_000_000
    images = poppler("pdfimages", "-list", str(path)).splitlines()[2:]
    assert len(images) == 1 and int(images[0].split()[3]) <= 1400  # 170 mm at 200 dpi


# --- the day report ------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_sample_day_report_sums_up_the_day(tmp_path: Path, lang: str) -> None:
    data = sample_day_report(lang)
    path = write(tmp_path, render_day_report(data))
    assert_fonts_embedded(path)
    assert not words_outside(path, 20 * mm, 15 * mm)
    findable(
        path,
        "服务站日报" if lang == "zh" else "Station day report",
        data.reference,
        *(f"{entry.code}{entry.name}{entry.count}" for entry in data.by_item),
        *(entry.label for entry in data.by_state),
        *(fault.problem for fault in data.faults),
        str(data.total),
    )
    assert qr_codes(path, tmp_path) == [data.reference]


def test_an_empty_day_still_makes_a_report(tmp_path: Path) -> None:
    data = dataclasses.replace(
        sample_day_report("zh"),
        by_item=(),
        faults=(),
        by_state=tuple(dataclasses.replace(e, count=0) for e in sample_day_report("zh").by_state),
    )
    path = write(tmp_path, render_day_report(data))
    findable(path, "今日无申请", "今日无设备故障", data.reference)


# --- from the local store ------------------------------------------------------------


def _png(colour: int) -> bytes:
    output = io.BytesIO()
    Image.new("RGB", (640, 400), (colour, colour, colour)).save(output, "PNG")
    return output.getvalue()


def _stored_application(store: Store) -> str:
    applications = Applications(store, STATION.code)
    view = applications.create(ITEM, LOGGED_NEVER, today=date(2026, 11, 24))
    card, page = ITEM.materials[0].name_zh, ITEM.materials[-1].name_zh
    applications.add_material(view.id, _png(200), media_type="image/png", kind="card", label=card)
    applications.add_material(view.id, _png(180), media_type="image/png", kind="card", label=card)
    applications.add_material(view.id, _png(240), media_type="image/png", kind="page", label=page)
    applications.add_material(view.id, _png(90), media_type="image/png", kind="photo")
    applications.set_form(view.id, {"联系电话": "13900001234"})
    applications.transition(view.id, State.READY)
    applications.transition(view.id, State.QUEUED)
    return view.id


def test_a_receipt_from_the_store(store: Store, tmp_path: Path) -> None:
    application_id = _stored_application(store)
    data = receipt_from_store(store, application_id, ITEM, STATION, now=NOW)
    assert data.reference == "ST01-20261124-0001"
    assert (data.applicant, data.applicant_id) == ("张*丰", "310***********1236")
    counts = {m.name: m.count for m in data.materials}
    assert counts == {ITEM.materials[0].name_zh: 2, ITEM.materials[-1].name_zh: 1, "照片": 1}
    path = check_receipt(tmp_path, data, roll=False)
    text = flat(text_of(path))
    assert "张三丰" not in text and LOGGED_NEVER["ssn"] not in text
    assert qr_codes(path, tmp_path) == [data.reference]


def test_a_form_from_the_store(store: Store, tmp_path: Path) -> None:
    application_id = _stored_application(store)
    data = form_from_store(store, application_id, ITEM, STATION, now=NOW, lang="en")
    assert len(data.attachments) == 4 and data.state == "Queued for upload"
    path = write(tmp_path, render_form(data))
    findable(path, data.reference, "张三丰", LOGGED_NEVER["ssn"], "13900001234")
    assert qr_codes(path, tmp_path) == [data.reference]


def test_a_day_report_from_the_store(store: Store, tmp_path: Path) -> None:
    _stored_application(store)
    other = Applications(store, STATION.code)
    other.create(ITEM, None, today=date(2026, 11, 24))
    other.create(ITEM, None, today=date(2026, 11, 23))  # another day: not counted
    fault = DeviceFault(NOW, "打印机", "缺纸")
    data = day_report_from_store(store, STATION, date(2026, 11, 24), now=NOW, faults=[fault])
    assert [(e.code, e.count) for e in data.by_item] == [(ITEM.code, 2)]
    assert {e.label: e.count for e in data.by_state if e.count} == {"填写中": 1, "待上传": 1}
    assert data.sync.waiting == 1 and data.sync.oldest_waiting is not None
    path = write(tmp_path, render_day_report(data))
    findable(path, ITEM.name_zh, "缺纸", data.reference)


# --- fonts and the rest --------------------------------------------------------------


def test_a_character_no_font_has_is_shown_as_its_code_point(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bare = FontSet.load(fallback_files=())
    assert bare.font_for(RARE) is None
    with caplog.at_level(logging.WARNING, logger="kiosk.documents.fonts"):
        runs = bare.runs(f"刘{RARE}\u3000A\ufe0f\n")
        bare.runs(RARE)
    assert "".join(run.text for run in runs) == "刘[U+4DAE]\u3000A "
    assert [run.font for run in runs] == [bare.primary, None, bare.primary]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and RARE not in warnings[0].getMessage()
    assert bare.markup("<b>&") == "&lt;b&gt;&amp;"


def test_missing_fallback_files_are_skipped(tmp_path: Path) -> None:
    junk = tmp_path / "junk.ttf"
    junk.write_bytes(b"not a font")
    loaded = FontSet.load(fallback_files=(tmp_path / "absent.ttf", junk))
    assert loaded.names == [fonts_module.FONT]


def test_the_to_unicode_map_writes_surrogate_pairs() -> None:
    cmap = ttfonts.makeToUnicodeCMap("X", [0x41, 0x20000])
    assert "<00> <0041>" in cmap and "<01> <D840DC00>" in cmap


def test_renders_from_many_threads_agree() -> None:
    data = sample_receipt("zh")
    expected = render_receipt(data)
    results: list[bytes] = []

    def work() -> None:
        results.extend(render_receipt(data) for _ in range(3))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 12 and all(result == expected for result in results)


def test_documents_need_neither_qt_nor_the_devices() -> None:
    code = (
        "import sys, kiosk.documents as d; d.render_receipt(d.sample_receipt());"
        "print(*(m for m in sys.modules if m.startswith(('PySide6', 'kiosk.ui', 'kiosk.devices'))))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_a_page_is_white_paper_with_black_print(tmp_path: Path) -> None:
    """The receipt renders to a real page: mostly white, text and rules black."""
    path = write(tmp_path, render_receipt(sample_receipt("zh")))
    subprocess.run(["pdftoppm", "-png", "-r", "50", str(path), str(tmp_path / "p")], check=True)
    page = cv2.imread(str(tmp_path / "p-1.png"), cv2.IMREAD_GRAYSCALE)
    assert 0.8 < float((page > 200).mean()) < 0.99
    assert int(np.min(page)) < 60
