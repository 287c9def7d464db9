"""The medical-insurance e-voucher code: good codes become pending identities, every kind of
bad code is refused with a reason and without repeating it, and the code never shows
anywhere but on the wire."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from kiosk.core.identity import PROVINCES
from kiosk.core.voucher import Voucher, VoucherInvalid, parse_voucher
from kiosk.errors import DoorstepError

CODE = "4243754826492874240001130000"
MASKED = "424" + "*" * 21 + "0000"
WHEN = dt.datetime(2025, 3, 1, 2, 30, tzinfo=dt.UTC)


def clock() -> dt.datetime:
    return WHEN


def code(*, middle: str = "37548264928742400", pair: str = "01", province: str = "13") -> str:
    return "424" + middle + pair + province + "0000"


def parse(text: str, source: str = "scanner") -> Voucher:
    return parse_voucher(text, source=source, clock=clock)


def refusal(text: str) -> VoucherInvalid:
    with pytest.raises(VoucherInvalid) as caught:
        parse(text)
    return caught.value


def test_a_good_code_is_a_pending_identity() -> None:
    voucher = parse(CODE)
    assert voucher.code == CODE
    assert voucher.province_code == "13"
    assert voucher.province == "河北省"
    assert voucher.source == "scanner"
    assert voucher.scanned_at == WHEN
    assert voucher.complete is False
    assert voucher.kind == "voucher"


def test_the_camera_is_a_source_too() -> None:
    assert parse(CODE, source="camera").source == "camera"


def test_an_unknown_source_is_a_program_error() -> None:
    with pytest.raises(ValueError, match="source"):
        parse(CODE, source="keyboard")


@pytest.mark.parametrize("text", [f"  {CODE}  ", f"{CODE}\r\n", f"\t{CODE}", f"\u3000{CODE}"])
def test_surrounding_whitespace_is_accepted(text: str) -> None:
    assert parse(text).code == CODE


@pytest.mark.parametrize("province", sorted(PROVINCES))
def test_every_mainland_province_is_accepted(province: str) -> None:
    voucher = parse(code(province=province))
    assert voucher.province_code == province
    assert voucher.province == PROVINCES[province]


def test_the_province_list_has_the_31_mainland_regions() -> None:
    assert len(PROVINCES) == 31


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   \r\n", "empty"),
        ("https://example.org/voucher", "non_digit"),
        (CODE[:20] + "ABCD" + CODE[24:], "non_digit"),
        (CODE[:14] + " " + CODE[14:], "non_digit"),
        ("４２４" + CODE[3:], "non_digit"),  # full-width digits
        ("٤٢٤" + CODE[3:], "non_digit"),  # Arabic-Indic digits are digits, but not ASCII
        (CODE[:-1], "length"),
        (CODE + "0", "length"),
        ("4243754826492874", "length"),
        ("425" + CODE[3:], "prefix"),
        ("000" + CODE[3:], "prefix"),
        (CODE[:-4] + "0001", "tail"),
        (CODE[:-4] + "1000", "tail"),
        (code(province="00"), "province"),
        (code(province="99"), "province"),
        (code(province="71"), "province"),  # Taiwan: no mainland insuring region
        (code(province="81"), "province"),  # Hong Kong
        (code(province="82"), "province"),  # Macau
    ],
)
def test_each_kind_of_bad_code_is_refused_with_its_reason(text: str, reason: str) -> None:
    error = refusal(text)
    assert error.reason == reason
    assert isinstance(error, DoorstepError)
    assert error.name == "VoucherInvalid"
    if text.strip():
        assert text.strip() not in error.staff_message
        assert text.strip() not in repr(error)


def test_the_staff_message_says_what_is_wrong() -> None:
    assert "27 digits" in refusal(CODE[:-1]).staff_message
    assert "not digits" in refusal("hello").staff_message
    assert "424" in refusal("425" + CODE[3:]).staff_message
    assert "0000" in refusal(CODE[:-4] + "0001").staff_message
    assert "province" in refusal(code(province="99")).staff_message


def test_the_resident_is_asked_for_the_voucher_in_plain_words() -> None:
    error = refusal("hello")
    assert error.resident_message("zh") == "这个码不是医保电子凭证，请出示医保电子凭证二维码。"
    assert "medical insurance e-voucher" in error.resident_message("en")
    assert error.action


def test_the_code_is_masked_everywhere_but_the_wire(caplog: pytest.LogCaptureFixture) -> None:
    voucher = parse(CODE)
    assert voucher.masked_code == MASKED
    for shown in (repr(voucher), str(voucher), f"{voucher}", f"{voucher!r}", str([voucher])):
        assert CODE not in shown
        assert MASKED in shown
    assert voucher.to_display()["code"] == MASKED
    assert CODE not in str(voucher.to_display())
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("tests.voucher").info("scanned %s / %r", voucher, voucher)
    assert CODE not in caplog.text


def test_the_wire_form_has_the_whole_code_and_the_same_keys_as_the_display() -> None:
    voucher = parse(CODE)
    wire = voucher.to_wire()
    assert wire == {
        "kind": "voucher",
        "code": CODE,
        "province_code": "13",
        "province": "河北省",
        "source": "scanner",
        "scanned_at": "2025-03-01T02:30:00+00:00",
        "complete": False,
    }
    assert voucher.to_display().keys() == wire.keys()


def test_scanned_at_is_kept_in_utc() -> None:
    shanghai = dt.timezone(dt.timedelta(hours=8))
    voucher = parse_voucher(
        CODE, source="scanner", clock=lambda: dt.datetime(2025, 3, 1, 10, 30, tzinfo=shanghai)
    )
    assert voucher.scanned_at == WHEN
    assert voucher.scanned_at.utcoffset() == dt.timedelta(0)


def test_a_naive_clock_is_a_program_error() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_voucher(CODE, source="scanner", clock=lambda: dt.datetime(2025, 3, 1))


def test_the_default_clock_is_aware_utc() -> None:
    assert parse_voucher(CODE, source="scanner").scanned_at.utcoffset() == dt.timedelta(0)


def test_a_voucher_cannot_be_changed_or_built_with_a_bad_code() -> None:
    voucher = parse(CODE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        voucher.code = "4240000000000000000000110000"  # type: ignore[misc]
    with pytest.raises(VoucherInvalid):
        Voucher(code="hello", source="scanner", scanned_at=WHEN)
    with pytest.raises(VoucherInvalid):
        dataclasses.replace(voucher, code=code(province="81"))


digits = st.text(alphabet="0123456789", min_size=0, max_size=40)
near_codes = st.builds(
    lambda middle, pair, province, prefix, tail: prefix + middle + pair + province + tail,
    st.text(alphabet="0123456789", min_size=16, max_size=18),
    st.text(alphabet="0123456789", min_size=2, max_size=2),
    st.sampled_from([*PROVINCES, "00", "66", "71", "81", "82", "99"]),
    st.sampled_from(["424", "424", "425", "42", "4244"]),
    st.sampled_from(["0000", "0000", "0001", "000", "00000"]),
)
padded = st.builds(
    lambda left, body, right: left + body + right,
    st.sampled_from(["", " ", "\t", "\r\n", "\u3000"]),
    near_codes,
    st.sampled_from(["", " ", "\n", "\r\n", "\x00"]),
)


@given(st.one_of(st.text(), digits, near_codes, padded))
@example(CODE)
@example(" " + CODE + "\n")
@example("")
def test_any_text_is_a_well_shaped_voucher_or_refused(text: str) -> None:
    try:
        voucher = parse(text)
    except VoucherInvalid as error:
        assert error.reason in {"empty", "non_digit", "length", "prefix", "tail", "province"}
        stripped = text.strip()
        if len(stripped) >= 8:
            assert stripped not in error.staff_message
        return
    assert len(voucher.code) == 28
    assert voucher.code.isascii() and voucher.code.isdigit()
    assert voucher.code.startswith("424") and voucher.code.endswith("0000")
    assert voucher.code == text.strip()
    assert voucher.province_code == voucher.code[22:24] in PROVINCES
    assert voucher.code not in repr(voucher)
    assert voucher.code not in str(voucher)
