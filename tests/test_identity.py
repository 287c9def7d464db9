"""The identity model: GB 11643 check digits, masking, the wire and display forms."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.core.identity import (
    FIELDS,
    Identity,
    IdentityInvalid,
    Sex,
    mask_name,
    mask_ssn,
    ssn_check_digit,
    valid_ssn,
)

# Published examples of the GB 11643 check digit.
KNOWN_SSNS = ["11010519491231002X", "440524188001010014", "110101199003074477"]


@pytest.mark.parametrize("ssn", KNOWN_SSNS)
def test_known_ssns_pass_the_check_digit(ssn: str) -> None:
    assert valid_ssn(ssn)


@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_exactly_one_check_character_is_valid(first17: str) -> None:
    right = ssn_check_digit(first17)
    assert valid_ssn(first17 + right)
    for wrong in "0123456789X":
        if wrong != right:
            assert not valid_ssn(first17 + wrong)


@given(st.text(max_size=30))
def test_any_text_is_judged_without_error(text: str) -> None:
    assert valid_ssn(text) in (True, False)


def test_masks() -> None:
    assert mask_name("张三丰") == "张*丰"
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧**娜"
    assert mask_name("张") == "*"
    assert mask_ssn("310101195001011234") == "310***********1234"


def _identity(**changes: object) -> Identity:
    values: dict[str, object] = {
        "card_number": "A58570797",
        "card_id": "310000D156000005000000000000ABCD",
        "spec_version": "2.00",
        "issue_date": dt.date(2018, 5, 1),
        "expiry_date": dt.date(2028, 5, 1),
        "ssn": "11010519491231002X",
        "name": "王小明",
        "sex": Sex.MALE,
        "ethnicity": "01",
        "birthplace": "110105",
        "birth_date": dt.date(1949, 12, 31),
    }
    values.update(changes)
    return Identity(**values)  # type: ignore[arg-type]


def test_a_full_identity_is_complete_and_its_wire_form_is_unmasked() -> None:
    identity = _identity()
    assert identity.complete
    assert identity.region_code == "310000"
    assert identity.generation == 2
    wire = identity.to_wire()
    assert list(wire) == [*FIELDS, "complete", "missing"]
    assert wire["ssn"] == "11010519491231002X"
    assert wire["birth_date"] == "1949-12-31"
    assert wire["sex"] == "male"


def test_the_display_form_and_repr_hold_no_personal_data() -> None:
    identity = _identity()
    shown = identity.to_display()
    assert shown["name"] == "王*明"
    assert shown["ssn"] == "110***********002X"
    assert shown["card_number"] == "A******97"
    assert shown["birth_date"] == "1949-**-**"
    for text in (repr(identity), str(identity), str(shown)):
        for secret in ("王小明", "11010519491231002X", "A58570797", "1949-12-31"):
            assert secret not in text


def test_a_partial_identity_names_what_is_missing() -> None:
    identity = _identity(ssn=None, name=None, birth_date=None)
    assert not identity.complete
    assert identity.missing == ("ssn", "name", "birth_date")
    assert identity.to_wire()["missing"] == ["ssn", "name", "birth_date"]
    assert identity.to_display()["ssn"] is None


@pytest.mark.parametrize(
    "change",
    [
        {"ssn": "11010519491231002Y"},
        {"ssn": "110105194912310021"},
        {"card_number": "a5857079"},
        {"card_id": "ZZ0000D156000005000000000000ABCD"},
        {"ethnicity": "77"},
        {"birthplace": "31010"},
    ],
)
def test_values_that_break_their_rules_are_refused(change: dict[str, object]) -> None:
    with pytest.raises(IdentityInvalid):
        _identity(**change)


def test_expiry() -> None:
    identity = _identity(expiry_date=dt.date(2020, 6, 30))
    assert identity.expired(dt.date(2020, 7, 1))
    assert not identity.expired(dt.date(2020, 6, 30))
