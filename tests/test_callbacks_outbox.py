"""Call-back requests in the kiosk's store: the typed number checked (generated numbers
of every shape, with the separators residents type), sealed at rest, shown masked, each
request and its queue entry in one transaction. (Against the district, through faults:
tests/district/test_callbacks_sync.py.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from kiosk.core import phone
from kiosk.core.callbacks import CallbackRefused, Callbacks, PhoneRefused, check_phone
from kiosk.store.db import Store
from kiosk.store.models import Callback, CallbackOutboxEntry
from tests.personal import LANDLINE, PHONE

ITEM = "MI-001"
TITLE = "城乡居民医保参保登记"

digits = st.text(alphabet="0123456789", min_size=1, max_size=14)
mobiles = st.builds(
    lambda second, rest: f"1{second}{rest}",
    st.sampled_from("3456789"),
    st.text(alphabet="0123456789", min_size=9, max_size=9),
)
landlines = st.one_of(
    st.builds(
        lambda area, rest: f"0{area}{rest}",
        st.sampled_from(["10", "20", "21", "29"]),
        st.text(alphabet="0123456789", min_size=8, max_size=8),
    ),
    st.builds(
        lambda area, rest: f"0{area}{rest}",
        st.text(alphabet="0123456789", min_size=3, max_size=3).filter(
            lambda area: area[0] in "3456789"
        ),
        st.text(alphabet="0123456789", min_size=7, max_size=8),
    ),
)
separators = st.sampled_from(["", "", " ", "-", " - "])


def typed(number: str, draw_separator: st.DataObject) -> str:
    """The number as a resident may type it: spaces and dashes anywhere."""
    return "".join(ch + draw_separator.draw(separators) for ch in number)


def queue(store: Store) -> list[str]:
    with store.read() as session:
        return list(
            session.scalars(
                select(CallbackOutboxEntry.callback_id).order_by(CallbackOutboxEntry.sequence)
            )
        )


@settings(max_examples=300, deadline=None)
@given(number=st.one_of(mobiles, landlines), data=st.data())
def test_every_mobile_and_landline_is_taken_as_digits(number: str, data: st.DataObject) -> None:
    assert check_phone(typed(number, data)) == number
    shown = phone.mask(number)
    assert shown.count("*") == 4 and shown.endswith(number[-4:])
    assert number not in shown and len(shown) == len(number)


@settings(max_examples=300, deadline=None)
@given(number=digits)
def test_what_is_no_phone_number_is_refused_with_the_reason(number: str) -> None:
    shapes = (r"1[3-9]\d{9}", r"0(10|2\d)\d{8}", r"0[3-9]\d{2}\d{7,8}")
    if any(re.fullmatch(shape, number) for shape in shapes):
        assert check_phone(number) == number
        return
    with pytest.raises(PhoneRefused) as refused:
        check_phone(number)
    assert refused.value.reason == "shape"
    assert number not in str(refused.value)  # the staff message (logs) never holds it


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    junk=st.text(min_size=1, max_size=30).filter(
        lambda s: any(not (c.isascii() and c.isdigit()) and c not in " -\t\n" for c in s)
    )
)
def test_letters_and_other_characters_are_refused(junk: str) -> None:
    with pytest.raises(PhoneRefused) as refused:
        check_phone(junk)
    assert refused.value.reason in ("characters", "shape", "empty")


@pytest.mark.parametrize(
    ("typed_number", "reason"),
    [
        ("", "empty"),
        (" - ", "empty"),
        ("138 1234 567a", "characters"),
        ("１３８１２３４５６７８", "characters"),
        ("12812345678", "shape"),
        ("1381234567", "shape"),
        ("01012345", "shape"),
        ("+8613812345678", "characters"),
    ],
)
def test_the_resident_is_told_what_to_correct(typed_number: str, reason: str) -> None:
    with pytest.raises(PhoneRefused) as refused:
        check_phone(typed_number)
    error = refused.value
    assert error.reason == reason
    assert error.message_zh != error.message_en
    assert error.resident_message("zh") == error.message_zh
    assert error.resident_message("en") == error.message_en


def test_the_masks_residents_see() -> None:
    assert phone.mask(PHONE) == "138****5678"
    assert phone.mask(LANDLINE) == "0755****5678"
    assert phone.mask("01087654321") == "010****4321"


def test_a_request_is_sealed_at_rest_and_queued_with_it(store: Store, data_dir: Path) -> None:
    callbacks = Callbacks(store)
    made = callbacks.request("138-1234-5678", ITEM, TITLE, "tomorrow_am")
    assert queue(store) == [made]
    view = callbacks.get(made)
    assert (view.phone_masked, view.preferred, view.item_title) == (
        "138****5678",
        "tomorrow_am",
        TITLE,
    )
    assert view.queued and not view.uploaded and callbacks.queued() == 1
    with store.read() as session:
        raw = session.execute(text("SELECT * FROM callbacks")).one()
    assert PHONE.encode() not in b"".join(
        value if isinstance(value, bytes) else str(value).encode() for value in raw
    )
    for path in data_dir.glob("kiosk.sqlite3*"):  # the database and its write-ahead log
        assert PHONE.encode() not in path.read_bytes()


def test_a_sealed_number_does_not_open_in_another_row(store: Store) -> None:
    callbacks = Callbacks(store)
    first = callbacks.request(PHONE, ITEM, TITLE, "today")
    second = callbacks.request(LANDLINE, ITEM, TITLE, "today")
    with store.write() as session:
        one, other = session.get(Callback, first), session.get(Callback, second)
        one.phone_sealed, other.phone_sealed = other.phone_sealed, one.phone_sealed
    with pytest.raises(Exception, match="does not open"):
        callbacks.get(first)


@pytest.mark.parametrize(("item", "preferred"), [("not an item", "today"), (ITEM, "tonight")])
def test_an_unknown_item_or_time_stores_nothing(store: Store, item: str, preferred: str) -> None:
    with pytest.raises(CallbackRefused):
        Callbacks(store).request(PHONE, item, TITLE, preferred)  # type: ignore[arg-type]
    assert queue(store) == []


def test_a_refused_number_stores_nothing(store: Store) -> None:
    with pytest.raises(PhoneRefused):
        Callbacks(store).request("12345", ITEM, TITLE, "today")
    assert queue(store) == []


def test_a_failed_write_leaves_neither_the_request_nor_its_entry(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kiosk.core import callbacks as module

    def broken(**_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(module, "CallbackOutboxEntry", broken)
    with pytest.raises(OSError):
        Callbacks(store).request(PHONE, ITEM, TITLE, "today")
    with store.read() as session:
        assert session.scalars(select(Callback)).all() == []
