"""The interface texts: every one in Chinese and English, with the same fields to fill
in, and every one in use."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kiosk.ui import strings
from kiosk.ui.strings import STRINGS, text

UI_SOURCES = Path(strings.__file__).parent


@pytest.mark.parametrize("key", sorted(STRINGS))
def test_both_languages_with_the_same_fields(key: str) -> None:
    zh, en = STRINGS[key]
    assert zh.strip()
    assert en.strip()
    assert set(re.findall(r"\{(\w+)\}", zh)) == set(re.findall(r"\{(\w+)\}", en))


def test_every_string_is_used() -> None:
    source = "\n".join(
        path.read_text(encoding="utf-8")
        for path in UI_SOURCES.rglob("*.py")
        if path.name != "strings.py"
    )
    assert [key for key in STRINGS if f'"{key}"' not in source] == []


def test_text_fills_in_fields_and_falls_back_to_chinese() -> None:
    assert text("category_count", "zh", count=3) == "共 3 项"
    assert text("category_count", "en", count=3) == "Services: 3"
    assert text("start", "fr") == "开始办事"
