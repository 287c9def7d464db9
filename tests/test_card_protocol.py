"""The social security card protocol, in-process against the emulated cards, and under
hypothesis with damaged answers: more than 10,000 generated cases in all.

The promise under test: whatever the card answers, `read_card` returns an identity or
raises a named `CardError`; it never sends more than `MAX_APDUS` commands (so it cannot
hang), and it never reports a value the card did not hold.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.core.identity import FIELDS, Identity
from kiosk.devices.card.errors import (
    CardError,
    CardMute,
    CardRemoved,
    CardUnreadable,
    NotSocialSecurityCard,
)
from kiosk.devices.card.ssse import MAX_APDUS, SELECT_SSSE, read_card
from tests.cardsim.card import (
    ALL_PROFILES,
    BANK_CARD,
    GEN1,
    GEN2,
    GEN3_REFUSING,
    MUTE,
    NAME_EXTENSION,
    PULLED_MID_READ,
    SELECT_P1_00,
    T0_GET_RESPONSE,
    WRONG_LE,
    CardProfile,
    CardPulled,
    EmulatedCard,
    NoAnswer,
)

EF06_FIELDS = ("ssn", "name", "sex", "ethnicity", "birthplace", "birth_date")
READABLE = [p for p in ALL_PROFILES.values() if p.has_ssse and not p.mute and not p.pull_after]


def truth(profile: CardProfile) -> dict[str, Any]:
    """What the card holds, in the form `Identity.to_wire()` reports it."""
    sexes = {"1": "male", "2": "female"}
    values: dict[str, Any] = {
        "card_number": profile.card_number,
        "card_id": profile.card_id,
        "region_code": profile.card_id[:6],
        "spec_version": profile.spec_version,
        "issue_date": profile.issue_date.isoformat(),
        "expiry_date": profile.expiry_date.isoformat(),
        "ssn": profile.ssn,
        "name": profile.name,
        "sex": sexes[profile.sex],
        "ethnicity": profile.ethnicity,
        "birthplace": profile.birthplace,
        "birth_date": profile.birth_date.isoformat(),
    }
    if profile.refuse_ef06:
        values.update(dict.fromkeys(EF06_FIELDS))
    return values


def transmit_to(card: EmulatedCard) -> Callable[[bytes], bytes]:
    """The card as a transport: its socket-level failures become the link's errors."""

    def transmit(apdu: bytes) -> bytes:
        try:
            return card.respond(apdu)
        except CardPulled:
            raise CardRemoved("the emulated card was pulled") from None
        except NoAnswer:
            raise CardMute("the emulated card did not answer") from None

    return transmit


@pytest.mark.parametrize("profile", READABLE, ids=lambda p: p.label)
def test_each_emulated_card_reads_as_it_is(profile: CardProfile) -> None:
    card = EmulatedCard(profile)
    identity = read_card(transmit_to(card))
    wire = identity.to_wire()
    expected = truth(profile)
    assert {key: wire[key] for key in FIELDS} == expected
    assert wire["missing"] == [key for key in FIELDS if expected[key] is None]
    assert wire["complete"] is (not profile.refuse_ef06)
    assert card.apdu_count <= MAX_APDUS


def test_generation_three_without_psam_is_a_partial_identity() -> None:
    identity = read_card(transmit_to(EmulatedCard(GEN3_REFUSING)))
    assert not identity.complete
    assert identity.missing == EF06_FIELDS
    assert identity.card_number == GEN3_REFUSING.card_number
    assert identity.generation == 3


def test_the_name_extension_gives_the_full_name() -> None:
    identity = read_card(transmit_to(EmulatedCard(NAME_EXTENSION)))
    assert identity.name == "刘䶮"


def test_generation_one_is_not_asked_for_a_name_extension() -> None:
    card = EmulatedCard(GEN1)
    read_card(transmit_to(card))
    assert not any(c[1] == 0xB2 and c[2] == 0x4E for c in card.commands)


def test_a_t0_card_is_read_through_get_response() -> None:
    card = EmulatedCard(T0_GET_RESPONSE)
    read_card(transmit_to(card))
    assert any(c[1] == 0xC0 for c in card.commands)


def test_a_card_that_wants_another_le_gets_it() -> None:
    card = EmulatedCard(WRONG_LE)
    identity = read_card(transmit_to(card))
    assert identity.name == WRONG_LE.name
    le_for_name = [c[4] for c in card.commands if c[1] == 0xB2 and c[2] == 0x09]
    assert len(le_for_name) == 2 and le_for_name[0] != le_for_name[1]


def test_the_ef_select_falls_back_to_p1_00_and_keeps_it() -> None:
    card = EmulatedCard(SELECT_P1_00)
    read_card(transmit_to(card))
    ef_selects = [c[:3] for c in card.commands if c[1] == 0xA4 and c[-2:-1] == b"\xef"]
    assert ef_selects == [b"\x00\xa4\x02", b"\x00\xa4\x00", b"\x00\xa4\x00"]


def test_a_bank_card_is_not_a_social_security_card() -> None:
    with pytest.raises(NotSocialSecurityCard):
        read_card(transmit_to(EmulatedCard(BANK_CARD)))


def test_a_pulled_card_and_a_mute_card_raise_their_errors() -> None:
    with pytest.raises(CardRemoved):
        read_card(transmit_to(EmulatedCard(PULLED_MID_READ)))
    with pytest.raises(CardMute):
        read_card(transmit_to(EmulatedCard(MUTE)))


# -- damaged answers -----------------------------------------------------------------------

BCD_TAGS = {0x05, 0x06, 0x0B, 0x0C, 0x0D}
NAME_TAGS = {0x09, 0x4E}
DAMAGE = ("truncate", "extend", "length", "tag", "bcd", "gbk", "status", "short")


def damage(response: bytes, kind: str, data: st.DataObject) -> bytes:
    """Damage one answer so that a careful reader can tell (wrong lengths, wrong tags,
    bad BCD, invalid GBK, odd status words, no status word)."""
    body, sw = response[:-2], response[-2:]
    record = len(body) >= 2 and body[1] == len(body) - 2
    if kind == "short":
        return data.draw(st.binary(max_size=1))
    if kind == "status":
        return body + data.draw(st.binary(min_size=2, max_size=2))
    if not record:
        return response
    tag, value = body[0], bytearray(body[2:])
    if kind == "truncate" and value:
        cut = data.draw(st.integers(1, len(value)))
        return body[:-cut] + sw
    if kind == "extend":
        return body + data.draw(st.binary(min_size=1, max_size=8)) + sw
    if kind == "length":
        wrong = data.draw(st.integers(0, 255).filter(lambda n: n != len(value)))
        return bytes([tag, wrong]) + value + sw
    if kind == "tag":
        wrong = data.draw(st.integers(0, 255).filter(lambda t: t != tag))
        return bytes([wrong, len(value)]) + value + sw
    if kind == "bcd" and tag in BCD_TAGS:
        at = data.draw(st.integers(0, len(value) - 1))
        nibble = data.draw(st.integers(0xA, 0xF))
        high = data.draw(st.booleans())
        value[at] = (nibble << 4 | value[at] & 0x0F) if high else (value[at] & 0xF0 | nibble)
        return bytes([tag, len(value)]) + bytes(value) + sw
    if kind == "gbk" and tag in NAME_TAGS and value.strip(b" \x00"):
        # Either a byte no GB 18030 text holds, or the last character cut in half.
        text_end = len(value.rstrip(b" \x00"))
        if data.draw(st.booleans()):
            value[data.draw(st.integers(0, text_end - 1))] = 0xFF
        else:
            value[text_end - 1] = 0x20
        return bytes([tag, len(value)]) + bytes(value) + sw
    return response


def damaged_transmit(
    card: EmulatedCard, hits: dict[int, Callable[[bytes], bytes]]
) -> Callable[[bytes], bytes]:
    inner = transmit_to(card)

    def transmit(apdu: bytes) -> bytes:
        response = inner(apdu)
        hit = hits.get(card.apdu_count)
        return hit(response) if hit else response

    return transmit


def check_outcome(card: EmulatedCard, outcome: Identity | CardError, profile: CardProfile) -> None:
    assert card.apdu_count <= MAX_APDUS
    if isinstance(outcome, CardError):
        return
    wire = outcome.to_wire()
    expected = truth(profile)
    for key in FIELDS:
        assert wire[key] is None or wire[key] == expected[key], key


def run(card: EmulatedCard, transmit: Callable[[bytes], bytes]) -> Identity | CardError:
    try:
        return read_card(transmit)
    except CardError as exc:
        return exc


@settings(max_examples=6000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    profile=st.sampled_from(READABLE),
    hits=st.lists(st.tuples(st.integers(1, 40), st.sampled_from(DAMAGE)), min_size=1, max_size=3),
    data=st.data(),
)
def test_damaged_answers_never_become_an_identity_the_card_did_not_hold(
    profile: CardProfile, hits: list[tuple[int, str]], data: st.DataObject
) -> None:
    card = EmulatedCard(profile)
    damages = {at: (lambda r, kind=kind: damage(r, kind, data)) for at, kind in hits}
    outcome = run(card, damaged_transmit(card, damages))
    check_outcome(card, outcome, profile)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    profile=st.sampled_from(READABLE),
    garbage=st.dictionaries(st.integers(1, 40), st.binary(max_size=300), min_size=1, max_size=4),
)
def test_garbage_answers_end_in_a_named_error_or_a_valid_identity(
    profile: CardProfile, garbage: dict[int, bytes]
) -> None:
    card = EmulatedCard(profile)
    outcome = run(
        card, damaged_transmit(card, {at: (lambda _r, g=g: g) for at, g in garbage.items()})
    )
    assert card.apdu_count <= MAX_APDUS
    assert isinstance(outcome, Identity | CardError)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answers=st.lists(st.binary(max_size=64), min_size=1, max_size=80))
def test_a_card_that_answers_anything_cannot_hold_the_reader(answers: list[bytes]) -> None:
    sent: list[bytes] = []

    def transmit(apdu: bytes) -> bytes:
        sent.append(apdu)
        return answers[(len(sent) - 1) % len(answers)]

    outcome = run(EmulatedCard(GEN2), transmit)
    assert len(sent) <= MAX_APDUS
    assert isinstance(outcome, Identity | CardError)


@settings(max_examples=1000, deadline=None)
@given(sw1=st.sampled_from([0x61, 0x6C]), sw2=st.integers(0, 255))
def test_endless_61xx_or_6cxx_stops_at_the_limit(sw1: int, sw2: int) -> None:
    sent: list[bytes] = []

    def transmit(apdu: bytes) -> bytes:
        sent.append(apdu)
        if apdu == SELECT_SSSE or apdu[1] == 0xA4:
            return b"\x90\x00"
        return bytes([sw1, sw2])

    with pytest.raises(CardUnreadable):
        read_card(transmit)
    assert len(sent) <= MAX_APDUS


def test_an_expired_card_still_reads_and_knows_it_is_expired() -> None:
    expired = ALL_PROFILES["EXPIRED"]
    identity = read_card(transmit_to(EmulatedCard(expired)))
    assert identity.expired(dt.date.today())
