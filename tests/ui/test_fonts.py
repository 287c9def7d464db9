"""The shipped CJK font is loaded and used, and it has a glyph for every character the
window can show — so no resident ever sees boxes instead of Chinese."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from PySide6.QtGui import QFontDatabase, QFontInfo, QRawFont

from kiosk.config import StationSettings
from kiosk.core.catalog import Catalog, Category, Handling, MaterialForm
from kiosk.errors import DoorstepError
from kiosk.ui.fonts import font_path, load_font
from kiosk.ui.strings import LANGUAGES, STRINGS
from kiosk.ui.theme import FONT_FAMILY
from kiosk.ui.window import MainWindow

MakeWindow = Callable[..., MainWindow]


def shipped_font() -> QRawFont:
    raw = QRawFont(str(font_path()), 20)
    assert raw.isValid()
    assert raw.familyName() == FONT_FAMILY
    return raw


def missing_characters(texts: Iterator[str]) -> list[str]:
    raw = shipped_font()
    found = {char for text in texts for char in text if not char.isspace()}
    return sorted(char for char in found if not raw.supportsCharacter(ord(char)))


def error_classes(base: type[DoorstepError] = DoorstepError) -> Iterator[type[DoorstepError]]:
    yield base
    for subclass in base.__subclasses__():
        yield from error_classes(subclass)


def catalog_texts(catalog: Catalog) -> Iterator[str]:
    yield catalog.header.title_zh
    yield catalog.header.title_en
    for item in catalog:
        for lang in LANGUAGES:
            yield item.name(lang)
            yield item.eligibility(lang)
            yield item.responsible_body(lang)
            yield item.time_limit(lang)
            yield item.fee(lang)
            yield from item.conditions(lang)
            yield from (material.name(lang) for material in item.materials)


def fixed_texts() -> Iterator[str]:
    for zh, en in STRINGS.values():
        yield zh
        yield en
    station = StationSettings()
    yield station.name_zh
    yield station.name_en
    for lang in LANGUAGES:
        for labelled in (*Category, *Handling, *MaterialForm):
            yield labelled.label(lang)
        for error in error_classes():
            yield error.resident_zh
            yield error.resident_en


def test_the_shipped_font_is_loaded_and_the_window_uses_it(make_window: MakeWindow) -> None:
    assert load_font()
    assert FONT_FAMILY in QFontDatabase.families()
    window = make_window()
    for widget in (window.start_screen.heading, window.start_screen.start_button):
        assert QFontInfo(widget.font()).family() == FONT_FAMILY


def test_every_interface_string_is_in_the_font() -> None:
    assert missing_characters(fixed_texts()) == []


def test_every_catalog_text_is_in_the_font(catalog: Catalog) -> None:
    assert missing_characters(catalog_texts(catalog)) == []


def test_the_check_notices_a_missing_glyph() -> None:
    assert missing_characters(iter(["就医 🙂"])) == ["🙂"]


def test_every_sample_catalog_text_is_in_the_font(sample_catalog: Catalog) -> None:
    assert missing_characters(catalog_texts(sample_catalog)) == []
