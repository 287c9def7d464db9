"""The catalog file format: the sample catalog, search, and refusals that name the line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.core.catalog import CatalogRefused, Category, Handling, parse_catalog
from kiosk.core.catalog_store import sample_catalog_path
from kiosk.errors import UnknownItem
from tests.catalog_files import VALID


def problems_of(text: str) -> list[tuple[int, str]]:
    with pytest.raises(CatalogRefused) as refused:
        parse_catalog(text, "test.toml")
    return [(p.line, p.message) for p in refused.value.problems]


def test_the_valid_file_parses_with_defaults() -> None:
    catalog = parse_catalog(VALID)
    assert [item.code for item in catalog] == ["MI-001", "CA-001"]
    booklet = catalog.get("MI-001")
    assert booklet.materials[1].copies == 2
    assert booklet.time_limit("zh") == "即办"
    assert booklet.fee("en") == "Free"
    allowance = catalog.get("CA-001")
    assert allowance.handling == [Handling.REMOTE_ASSISTANCE, Handling.ON_BEHALF]
    assert allowance.time_limit("en") == "20 working days"
    assert allowance.conditions("en")[0].startswith("Household")
    with pytest.raises(UnknownItem):
        catalog.get("XX-999")


def test_the_sample_catalog_covers_every_category_with_at_least_200_items() -> None:
    catalog = parse_catalog(sample_catalog_path().read_text(encoding="utf-8"), "sample")
    assert catalog.header.sample
    assert len(catalog) >= 200
    assert set(catalog.categories()) == set(Category)
    names = [item.name_zh for item in catalog]
    assert len(set(names)) == len(names)
    for wanted in ("社会保障卡新申领", "最低生活保障申请", "门急诊就医记录册申领"):
        assert any(wanted in name for name in names), wanted


def test_search_finds_by_chinese_english_code_and_pinyin_initials() -> None:
    catalog = parse_catalog(sample_catalog_path().read_text(encoding="utf-8"), "sample")
    booklet = next(item for item in catalog if item.name_zh == "门急诊就医记录册申领")
    assert booklet in catalog.search("jyjl")
    assert booklet in catalog.search("就医记录册")
    assert booklet in catalog.search("MEDICAL record")
    assert catalog.search(booklet.code)[0] == booklet
    assert catalog.search("   ") == list(catalog)
    assert catalog.search("zzzzqqqq") == []


def test_a_syntax_error_names_its_line() -> None:
    text = VALID.replace('promised_days = 0\n', 'promised_days = = 0\n', 1)
    line = text.splitlines().index("promised_days = = 0") + 1
    [(found, message)] = problems_of(text)
    assert found == line
    assert "not valid TOML" in message


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (('category = "civil_affairs"', 'category = "astrology"'), "category", "unknown value"),
        (('promised_days = 20', 'promised_days = "soon"'), "promised_days", "valid integer"),
        (('offline_ok = false', 'offline_ok = false\ncolour = "red"'), "colour", "unknown field"),
        (('code = "CA-001"', 'code = "ca 1"'), "code", "pattern"),
        (('statutory_days = 30', 'statutory_days = 10'), "", "cannot exceed"),
    ],
)
def test_a_bad_value_names_the_line_of_its_key(
    change: tuple[str, str], field: str, words: str
) -> None:
    text = VALID.replace(*change)
    [(line, message)] = problems_of(text)
    assert words in message
    target = change[1].splitlines()[-1] if field == "colour" else change[1]
    expected = text.splitlines().index(target) + 1 if field else text.index("[[item]]\ncode = \"CA")
    if field:
        assert line == expected
    else:  # a whole-item rule: reported at the item's header
        assert line == text[:expected].count("\n") + 1


def test_a_missing_field_names_its_item() -> None:
    text = VALID.replace('eligibility_zh = "本区参保人员"\n', "")
    [(line, message)] = problems_of(text)
    assert "eligibility_zh" in message and "required" in message.lower()
    assert line == text.splitlines().index("[[item]]") + 1


def test_a_bad_material_names_the_material_line() -> None:
    text = VALID.replace("copies = 2", "copies = 0")
    [(line, message)] = problems_of(text)
    assert line == text.splitlines().index("copies = 0") + 1
    assert message.startswith("item MI-001: materials.copies")


def test_a_duplicate_code_names_both_places() -> None:
    text = VALID.replace('code = "CA-001"', 'code = "MI-001"')
    [(line, message)] = problems_of(text)
    lines = text.splitlines()
    first = lines.index('code = "MI-001"') + 1
    assert line == lines.index('code = "MI-001"', first) + 1
    assert f"first at line {first}" in message


def test_every_problem_is_reported_in_line_order_with_its_item() -> None:
    text = (
        VALID.replace("format = 1", "format = 7")
        .replace('category = "medical_insurance"', 'category = "x"')
        .replace('category = "civil_affairs"', 'category = "y"')
    )
    found = problems_of(text)
    assert [line for line, _ in found] == sorted(line for line, _ in found)
    places = [message.split(":")[0] for _, message in found]
    assert places == ["catalog", "item MI-001", "item CA-001"]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[catalog]\nformat = 1\nversion = \"x\"\ntitle_zh = \"t\"\n",
        VALID.replace("format = 1", "format = 2"),
        "item = 5\n",
        "[[item]]\ncode = 1\n",
    ],
)
def test_files_without_a_usable_catalog_are_refused(text: str) -> None:
    assert problems_of(text)


LINES = VALID.splitlines()


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.integers(0, len(LINES) - 1),
            st.sampled_from(["delete", "replace", "insert", "truncate"]),
            st.text(max_size=30),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_a_mangled_file_is_accepted_or_refused_with_lines_never_crashes(
    edits: list[tuple[int, str, str]],
) -> None:
    lines = list(LINES)
    for index, action, junk in edits:
        index %= max(len(lines), 1)
        if not lines:
            break
        if action == "delete":
            del lines[index]
        elif action == "replace":
            lines[index] = junk
        elif action == "insert":
            lines.insert(index, junk)
        else:
            lines[index] = lines[index][: len(junk)]
    text = "\n".join(lines)
    try:
        catalog = parse_catalog(text, "mangled.toml")
    except CatalogRefused as refused:
        assert refused.problems
        for problem in refused.problems:
            assert 0 <= problem.line <= text.count("\n") + 1
            assert problem.message
    else:
        assert len({item.code for item in catalog}) == len(catalog)


def test_the_sample_catalog_file_is_marked_as_sample_data() -> None:
    head = Path(sample_catalog_path()).read_text(encoding="utf-8")[:2000]
    assert re.search("sample|示例", head, re.IGNORECASE)
