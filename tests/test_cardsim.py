"""Tests of the emulated social security card and its PC/SC harness.

The first half checks ``EmulatedCard`` alone (no sockets) against the protocol notes:
record encodings byte for byte, selection rules, status words. The second half runs the
cards behind the real stack - pyscard -> pcscd -> vpcd -> our socket - with bare
``smartcard.scard`` calls, the way the kiosk's reader code will meet them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import pytest
from smartcard import scard

from tests.cardsim.card import (
    ALL_PROFILES,
    BANK_CARD,
    EXPIRED,
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
    atr_protocols,
    build_atr,
    variant,
)
from tests.cardsim.fixtures import InsertCard
from tests.cardsim.pcscd import PcscDaemon
from tests.personal import NEVER_LOGGED

# The commands exactly as the protocol notes (cards.md) spell them.
SELECT_MF = "00A40000023F00"
SELECT_SSSE = "00A404000F7378312E73682EC9E7BBE1B1A3D5CF"
SELECT_EF05 = "00A4020002EF05"
SELECT_EF06 = "00A4020002EF06"
SELECT_EF05_P1_00 = "00A4000002EF05"
SELECT_EF06_P1_00 = "00A4000002EF06"
SELECT_PSE = "00A404000E" + b"1PAY.SYS.DDF01".hex()


def ask(card: EmulatedCard, apdu: str) -> tuple[bytes, int]:
    """Send a hex APDU; return (data, status word)."""
    response = card.respond(bytes.fromhex(apdu))
    return response[:-2], int.from_bytes(response[-2:], "big")


def ok(card: EmulatedCard, apdu: str) -> bytes:
    data, sw = ask(card, apdu)
    assert sw == 0x9000, f"{apdu} answered {sw:04X}"
    return data


def read_tag(tag: int, le: int = 0) -> str:
    return f"00B2{tag:02X}00{le:02X}"


def ssn_is_valid(ssn: str) -> bool:
    """GB 11643, written out again here so the test does not trust the card module."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(d) * w for d, w in zip(ssn[:17], weights, strict=True))
    return ssn[17] == "10X98765432"[total % 11]


def bcd(day: date) -> bytes:
    return bytes.fromhex(f"{day.year:04d}{day.month:02d}{day.day:02d}")


def expected_ef05(p: CardProfile) -> dict[int, bytes]:
    return {
        0x01: bytes.fromhex(p.card_id),
        0x02: p.card_type.encode(),
        0x03: p.spec_version.encode(),
        0x04: p.issuer,
        0x05: bcd(p.issue_date),
        0x06: bcd(p.expiry_date),
        0x07: p.card_number.encode(),
    }


def expected_ef06(p: CardProfile) -> dict[int, bytes]:
    return {
        0x08: p.ssn.encode(),
        0x0A: p.sex.encode(),
        0x0B: bytes.fromhex(p.ethnicity),
        0x0C: bytes.fromhex(p.birthplace),
        0x0D: bcd(p.birth_date),
    }


def selected(profile: CardProfile, ef: str) -> EmulatedCard:
    card = EmulatedCard(profile)
    select_ef = {"EF05": SELECT_EF05_P1_00, "EF06": SELECT_EF06_P1_00}[ef]
    for apdu in (SELECT_MF, SELECT_SSSE, select_ef):
        _, sw = ask(card, apdu)
        assert sw == 0x9000 or sw >> 8 == 0x61, f"{apdu} answered {sw:04X}"
    return card


# --- the profiles ------------------------------------------------------------------------


def test_all_named_profiles_are_listed() -> None:
    assert set(ALL_PROFILES) == {
        "GEN1", "GEN2", "GEN3_REFUSING", "T0_GET_RESPONSE", "WRONG_LE", "SELECT_P1_00",
        "NAME_EXTENSION", "EXPIRED", "BANK_CARD", "PULLED_MID_READ", "MUTE",
    }  # fmt: skip


@pytest.mark.parametrize("profile", ALL_PROFILES.values(), ids=list(ALL_PROFILES))
def test_profile_truth_is_consistent(profile: CardProfile) -> None:
    assert ssn_is_valid(profile.ssn)
    assert profile.ssn[6:14] == profile.birth_date.strftime("%Y%m%d")
    assert int(profile.ssn[16]) % 2 == (profile.sex == "1")
    assert len(profile.card_id) == 32 and profile.card_id[:6].isdigit()
    assert int(profile.card_id, 16) >= 0 and profile.card_id == profile.card_id.upper()
    assert len(profile.card_number) == 9
    assert profile.issue_date < profile.expiry_date
    assert 1 <= int(profile.ethnicity) <= 56
    assert all("\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" for ch in profile.name)
    assert atr_protocols(profile.atr)


@pytest.mark.parametrize("profile", ALL_PROFILES.values(), ids=list(ALL_PROFILES))
def test_every_resident_is_never_logged(profile: CardProfile) -> None:
    for secret in (profile.name, profile.ssn, profile.card_number):
        assert secret in NEVER_LOGGED
    for extra in (profile.name_field, profile.name_extension):
        assert extra is None or extra in NEVER_LOGGED
    assert "张三丰" in NEVER_LOGGED  # what was there before stays


def test_a_profile_shows_no_personal_data_when_printed() -> None:
    for profile in ALL_PROFILES.values():
        shown = f"{profile!r} {profile!s}"
        assert not [secret for secret in profile.personal_data() if secret in shown]


def test_residents_are_distinct() -> None:
    profiles = list(ALL_PROFILES.values())
    for field in ("name", "ssn", "card_number", "card_id"):
        values = [getattr(p, field) for p in profiles]
        assert len(set(values)) == len(values), field


def test_only_the_expired_card_is_expired() -> None:
    today = date.today()
    assert EXPIRED.expiry_date == date(2020, 6, 30)
    assert [p.label for p in ALL_PROFILES.values() if p.expiry_date < today] == ["EXPIRED"]


def test_atrs() -> None:
    assert atr_protocols(T0_GET_RESPONSE.atr) == {0}
    for profile in ALL_PROFILES.values():
        if profile is not T0_GET_RESPONSE:
            assert atr_protocols(profile.atr) == {1}, profile.label
            check = 0
            for byte in profile.atr[1:]:
                check ^= byte
            assert check == 0, profile.label  # TCK
    assert BANK_CARD.atr != GEN2.atr
    broken = GEN2.atr[:-1] + bytes([GEN2.atr[-1] ^ 0x01])
    with pytest.raises(ValueError, match="TCK"):
        atr_protocols(broken)
    with pytest.raises(ValueError):
        atr_protocols(GEN2.atr[:-3])
    assert atr_protocols(build_atr(b"")) == {1}


def test_profiles_refuse_inconsistent_truth() -> None:
    with pytest.raises(ValueError, match="GB 11643"):
        variant(GEN2, ssn=GEN2.ssn[:17] + ("0" if GEN2.ssn[17] != "0" else "1"))
    with pytest.raises(ValueError, match="birth"):
        variant(GEN2, birth_date=date(1972, 11, 6))
    with pytest.raises(ValueError, match="GBK"):
        variant(GEN2, name="刘䶮")
    with pytest.raises(ValueError, match="generation-1"):
        variant(GEN1, name_extension="李建国")
    with pytest.raises(ValueError, match="card_id"):
        variant(GEN2, card_id="abc")


# --- EmulatedCard: records ---------------------------------------------------------------


def test_ssse_select_uses_the_gbk_name() -> None:
    card = EmulatedCard(GEN2)
    assert ask(card, SELECT_SSSE) == (b"", 0x9000)
    assert card.current_df == "SSSE"


@pytest.mark.parametrize(
    "profile",
    [p for p in ALL_PROFILES.values() if p.has_ssse and not (p.mute or p.pull_after)],
    ids=lambda p: p.label,
)
def test_ef05_records_by_tag(profile: CardProfile) -> None:
    card = selected(profile, "EF05")
    for tag, value in expected_ef05(profile).items():
        tlv = bytes([tag, len(value)]) + value
        if profile.t0_get_response:
            assert ask(card, read_tag(tag)) == (b"", 0x6100 | len(tlv))
            assert ask(card, f"00C00000{len(tlv):02X}") == (tlv, 0x9000)
        else:
            assert ask(card, read_tag(tag, len(tlv))) == (tlv, 0x9000)


@pytest.mark.parametrize(
    "profile",
    [
        p
        for p in ALL_PROFILES.values()
        if p.has_ssse and not (p.mute or p.pull_after or p.refuse_ef06 or p.t0_get_response)
    ],
    ids=lambda p: p.label,
)
def test_ef06_records_by_tag(profile: CardProfile) -> None:
    card = selected(profile, "EF06")
    for tag, value in expected_ef06(profile).items():
        tlv = bytes([tag, len(value)]) + value
        assert ask(card, read_tag(tag, len(tlv))) == (tlv, 0x9000)
    name, sw = ask(card, read_tag(0x09, 2 + profile.name_length))
    assert sw == 0x9000 and name[:2] == bytes([0x09, profile.name_length])
    shown = (profile.name_field or profile.name).encode("gbk")
    assert name[2:] == shown + profile.name_padding * (profile.name_length - len(shown))


def test_byte_exact_records_of_gen2() -> None:
    card = selected(GEN2, "EF05")
    assert ok(card, "00B2070000") == bytes.fromhex("0709") + b"B20000024"
    assert ok(card, "00B2050000") == bytes.fromhex("050420180521")
    assert ok(card, "00B2060000") == bytes.fromhex("060420380521")
    assert ok(card, "00B2030000") == bytes.fromhex("0304") + b"2.00"
    assert ok(card, "00B2010000") == bytes.fromhex("0110310115D1560000050A1B2C3D4E5F6002")
    ok(card, SELECT_EF06)
    assert ok(card, "00B2080000") == bytes.fromhex("0812") + b"31011519721105248X"
    assert ok(card, "00B2090000") == bytes.fromhex("091E B3C2 C3C0 BBAA") + b" " * 24
    assert ok(card, "00B20A0000") == bytes.fromhex("0A01") + b"2"
    assert ok(card, "00B20B0000") == bytes.fromhex("0B0101")
    assert ok(card, "00B20C0000") == bytes.fromhex("0C03310115")
    assert ok(card, "00B20D0000") == bytes.fromhex("0D0419721105")


def test_gen1_name_is_nul_padded_and_has_no_extension() -> None:
    card = selected(GEN1, "EF06")
    assert ok(card, "00B2090000") == bytes.fromhex("091E C0EE BDA8 B9FA") + b"\x00" * 24
    assert ask(card, "00B24E0000") == (b"", 0x6A83)


def test_gen2_has_an_empty_name_extension_before_sex() -> None:
    card = selected(GEN2, "EF06")
    assert ok(card, "00B24E0000") == bytes.fromhex("4E00")
    assert ok(card, "00B2030400") == bytes.fromhex("4E00")  # record 3 is 4E, not sex
    assert ok(card, "00B2040400") == bytes.fromhex("0A01") + b"2"


def test_gen1_record_numbers_have_sex_third() -> None:
    card = selected(GEN1, "EF06")
    assert ok(card, "00B2030400") == bytes.fromhex("0A01") + b"1"
    assert ok(card, "00B2010400") == bytes.fromhex("0812") + GEN1.ssn.encode()
    assert ask(card, "00B2070400") == (b"", 0x6A83)


def test_name_extension_holds_the_rare_character() -> None:
    card = selected(NAME_EXTENSION, "EF06")
    name = ok(card, "00B2090000")
    assert name[2:6] == "刘岩".encode("gbk") == bytes.fromhex("C1F5D1D2")
    assert name[6:] == b" " * 26
    extension = ok(card, "00B24E0000")
    assert extension == bytes.fromhex("4E04 C1F5 FE9F")
    assert extension[2:].decode("gb18030") == "刘䶮"
    with pytest.raises(UnicodeDecodeError):
        extension[2:].decode("gbk")


def test_expired_card_dates() -> None:
    card = selected(EXPIRED, "EF05")
    assert ok(card, "00B2060000") == bytes.fromhex("060420200630")
    assert ok(card, "00B2030000") == bytes.fromhex("0304") + b"1.00"


def test_sfi_reads() -> None:
    card = EmulatedCard(GEN2)
    ok(card, SELECT_SSSE)
    assert ok(card, "00B2072C00") == bytes.fromhex("0709") + b"B20000024"
    assert ok(card, "00B2013400") == bytes.fromhex("0812") + GEN2.ssn.encode()
    assert ask(card, "00B2013C00") == (b"", 0x6A82)  # SFI 7: no such file


# --- EmulatedCard: selection and errors ---------------------------------------------------


def test_read_record_needs_a_selected_ef() -> None:
    card = EmulatedCard(GEN2)
    assert ask(card, "00B2070000") == (b"", 0x6986)
    ok(card, SELECT_SSSE)
    assert ask(card, "00B2070000") == (b"", 0x6986)
    ok(card, SELECT_EF05)
    assert ask(card, "00B2080000") == (b"", 0x6A83)  # an EF06 tag while EF05 is selected
    ok(card, SELECT_EF06)
    assert ask(card, "00B2070000") == (b"", 0x6A83)


def test_ef_select_needs_the_ssse_application() -> None:
    card = EmulatedCard(GEN2)
    assert ask(card, SELECT_EF05) == (b"", 0x6A82)
    ok(card, SELECT_SSSE)
    ok(card, SELECT_EF05)
    ok(card, SELECT_MF)
    assert card.current_ef is None
    assert ask(card, SELECT_EF06) == (b"", 0x6A82)


def test_reset_goes_back_to_the_mf() -> None:
    card = selected(GEN2, "EF05")
    card.reset()
    assert (card.current_df, card.current_ef) == ("MF", None)
    assert ask(card, "00B2070000") == (b"", 0x6986)


def test_select_with_le_returns_the_fci_on_t1() -> None:
    card = EmulatedCard(GEN2)
    fci = ok(card, SELECT_SSSE + "00")
    assert fci == bytes.fromhex("6F11840F7378312E73682EC9E7BBE1B1A3D5CF")
    assert ask(card, "00A4040C" + SELECT_SSSE[8:] + "00") == (b"", 0x9000)  # P2=0C: no FCI


@pytest.mark.parametrize(
    ("apdu", "sw"),
    [
        ("00A4", 0x6700),  # shorter than a header
        ("80B2070000", 0x6E00),  # class
        ("00CA9F7F00", 0x6D00),  # instruction
        ("00A4020003EF05", 0x6700),  # Lc says 3, 2 bytes follow
        ("00A4020001EF", 0x6700),  # a file id of 1 byte
        ("00A4080002EF05", 0x6A86),  # select by path: not supported
        ("00A4021002EF05", 0x6A86),  # P2
        ("00A404000F7378312E73682EC9E7BBE1B1A3D5D0", 0x6A82),  # another name
        ("00A40000023F01", 0x6A82),
        ("00C0000010", 0x6985),  # nothing pending
        ("00C0010010", 0x6A86),
        ("00B20700000000", 0x6700),  # extended length
    ],
)
def test_malformed_and_unknown_commands(apdu: str, sw: int) -> None:
    assert ask(EmulatedCard(GEN2), apdu) == (b"", sw)


def test_read_record_format_errors() -> None:
    card = selected(GEN2, "EF05")
    assert ask(card, "00B20700") == (b"", 0x6700)  # no Le
    assert ask(card, "00B207000101") == (b"", 0x6700)  # data
    assert ask(card, "00B2070500") == (b"", 0x6A86)  # mode 5
    assert ask(card, "00B2000000") == (b"", 0x6A86)  # P1 = 00
    assert ask(card, "00B2990000") == (b"", 0x6A83)  # no such tag


def test_t1_le_rules() -> None:
    card = selected(GEN2, "EF05")
    record = bytes.fromhex("0709") + b"B20000024"
    assert ask(card, "00B2070000") == (record, 0x9000)
    assert ask(card, "00B20700FF") == (record, 0x9000)
    assert ask(card, "00B207000B") == (record, 0x9000)
    assert ask(card, "00B2070005") == (b"", 0x6C0B)


def test_strict_le_card_answers_6c() -> None:
    card = selected(WRONG_LE, "EF06")
    assert ask(card, "00B2090020") == (b"", 0x6C16)  # a reader assuming 30 name bytes
    assert ask(card, "00B2090000") == (b"", 0x6C16)
    assert ask(card, "00B2090030") == (b"", 0x6C16)
    data = ok(card, "00B2090016")
    assert data[:2] == bytes.fromhex("0914") and data[2:8] == "吴国平".encode("gbk")
    assert ask(card, "00B2080000") == (b"", 0x6C14)
    assert ok(card, "00B2080014") == bytes.fromhex("0812") + WRONG_LE.ssn.encode()


def test_t0_card_answers_61xx_then_get_response() -> None:
    card = EmulatedCard(T0_GET_RESPONSE)
    assert ask(card, SELECT_SSSE) == (b"", 0x6113)
    assert ask(card, "00C0000013") == (bytes.fromhex("6F11840F") + bytes.fromhex(
        "7378312E73682EC9E7BBE1B1A3D5CF"), 0x9000)
    assert ask(card, SELECT_EF06) == (b"", 0x610C)
    assert ask(card, "00B2080000") == (b"", 0x6114)
    assert ask(card, "00C0000000") == (b"", 0x6C14)  # Le 00 = 256: wrong, still pending
    assert ask(card, "00C0000008") == (bytes.fromhex("0812") + b"310105", 0x610C)
    assert ask(card, "00C000000C") == (T0_GET_RESPONSE.ssn[6:].encode(), 0x9000)
    assert ask(card, "00C000000C") == (b"", 0x6985)  # nothing left
    assert ask(card, "00B2090020") == (b"", 0x6120)
    assert ask(card, "00A4000C023F00") == (b"", 0x9000)  # P2=0C: no FCI, nothing pending
    assert ask(card, "00C0000020") == (b"", 0x6985)  # the record's answer was dropped
    assert ask(card, SELECT_MF) == (b"", 0x6106)
    assert ask(card, "00C0000006") == (bytes.fromhex("6F0483023F00"), 0x9000)


def test_select_p1_00_card() -> None:
    card = EmulatedCard(SELECT_P1_00)
    ok(card, SELECT_SSSE)
    assert ask(card, SELECT_EF05) == (b"", 0x6A86)
    assert ask(card, SELECT_EF06) == (b"", 0x6A86)
    ok(card, SELECT_EF05_P1_00)
    assert ok(card, "00B2070000") == bytes.fromhex("0709") + b"F60000068"
    # an ordinary card takes both forms
    other = EmulatedCard(GEN1)
    ok(other, SELECT_SSSE)
    ok(other, SELECT_EF05)
    ok(other, SELECT_EF05_P1_00)


def test_generation_3_refuses_ef06_without_psam() -> None:
    card = EmulatedCard(GEN3_REFUSING)
    ok(card, SELECT_SSSE)
    ok(card, SELECT_EF05)
    assert ok(card, "00B2030000") == bytes.fromhex("0304") + b"3.00"
    ok(card, SELECT_EF06)
    for apdu in ("00B2080000", "00B2090000", "00B24E0000", "00B2010400", "00B2990000"):
        assert ask(card, apdu) == (b"", 0x6982), apdu
    assert ask(card, "00B2013400") == (b"", 0x6982)  # by SFI too


def test_bank_card_has_no_ssse() -> None:
    card = EmulatedCard(BANK_CARD)
    ok(card, SELECT_MF)
    assert ask(card, SELECT_SSSE) == (b"", 0x6A82)
    assert ask(card, SELECT_EF05) == (b"", 0x6A82)
    assert ask(card, "00B2070000") == (b"", 0x6986)
    assert ok(card, SELECT_PSE + "00")[:2] == bytes.fromhex("6F10")


def test_pulled_card_raises_at_its_apdu() -> None:
    card = EmulatedCard(PULLED_MID_READ)
    for apdu in (SELECT_SSSE, SELECT_EF05, "00B2010000", "00B2020000", "00B2030000"):
        card.respond(bytes.fromhex(apdu))
    with pytest.raises(CardPulled):
        card.respond(bytes.fromhex("00B2040000"))
    assert card.apdu_count == 6


def test_mute_card_never_answers() -> None:
    card = EmulatedCard(MUTE)
    with pytest.raises(NoAnswer):
        card.respond(bytes.fromhex(SELECT_SSSE))
    assert card.apdu_count == 1
    assert card.atr == MUTE.atr


def test_apdus_are_counted_and_kept() -> None:
    card = EmulatedCard(GEN2)
    card.respond(bytes.fromhex(SELECT_SSSE))
    card.respond([0x00, 0xA4, 0x02, 0x00, 0x02, 0xEF, 0x05])  # pyscard passes lists
    assert card.apdu_count == 2
    assert card.commands[1] == bytes.fromhex(SELECT_EF05)


# --- behind pcscd --------------------------------------------------------------------------


@contextmanager
def connected(reader: str) -> Iterator[tuple[int, int]]:
    """(card handle, active protocol) of a shared connection to the card in ``reader``."""
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    assert hresult == scard.SCARD_S_SUCCESS
    try:
        hresult, handle, protocol = scard.SCardConnect(
            context,
            reader,
            scard.SCARD_SHARE_SHARED,
            scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1,
        )
        assert hresult == scard.SCARD_S_SUCCESS, hex(hresult)
        try:
            yield handle, protocol
        finally:
            scard.SCardDisconnect(handle, scard.SCARD_LEAVE_CARD)
    finally:
        scard.SCardReleaseContext(context)


def transmit(link: tuple[int, int], apdu: str) -> tuple[bytes, int]:
    handle, protocol = link
    hresult, response = scard.SCardTransmit(handle, protocol, list(bytes.fromhex(apdu)))
    assert hresult == scard.SCARD_S_SUCCESS, f"{hresult & 0xFFFFFFFF:08X}"
    response = bytes(response)
    return response[:-2], int.from_bytes(response[-2:], "big")


def reader_state(reader: str) -> tuple[int, bytes]:
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    assert hresult == scard.SCARD_S_SUCCESS
    try:
        hresult, states = scard.SCardGetStatusChange(
            context, 0, [(reader, scard.SCARD_STATE_UNAWARE)]
        )
        assert hresult == scard.SCARD_S_SUCCESS
        _, event, atr = states[0]
        return event, bytes(atr)
    finally:
        scard.SCardReleaseContext(context)


def test_readers_are_listed(pcscd: PcscDaemon) -> None:
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    assert hresult == scard.SCARD_S_SUCCESS
    try:
        hresult, readers = scard.SCardListReaders(context, [])
    finally:
        scard.SCardReleaseContext(context)
    assert hresult == scard.SCARD_S_SUCCESS
    assert pcscd.readers == ["Virtual PCD 00 00", "Virtual PCD 00 01"]
    assert pcscd.ports == [40059, 40060]
    assert set(pcscd.readers) <= set(readers)
    for reader in pcscd.readers:
        assert reader_state(reader)[0] & scard.SCARD_STATE_EMPTY


def test_inserted_card_is_present_with_its_atr(
    pcscd: PcscDaemon, virtual_card: InsertCard
) -> None:
    virtual_card(GEN2)
    event, atr = reader_state("Virtual PCD 00 00")
    assert event & scard.SCARD_STATE_PRESENT
    assert atr == GEN2.atr
    with connected("Virtual PCD 00 00") as link:
        assert link[1] == scard.SCARD_PROTOCOL_T1


def test_read_card_number_through_pcscd(pcscd: PcscDaemon, virtual_card: InsertCard) -> None:
    card = virtual_card(GEN2)
    with connected(pcscd.reader(0)) as link:
        assert transmit(link, SELECT_MF) == (b"", 0x9000)
        assert transmit(link, SELECT_SSSE) == (b"", 0x9000)
        assert transmit(link, SELECT_EF05) == (b"", 0x9000)
        assert transmit(link, "00B2070000") == (bytes.fromhex("0709") + b"B20000024", 0x9000)
        assert transmit(link, SELECT_EF06) == (b"", 0x9000)
        data, sw = transmit(link, "00B2090020")
        assert sw == 0x9000 and data[2:8] == "陈美华".encode("gbk")
    assert card.apdu_count == 6


def test_t0_card_through_pcscd(pcscd: PcscDaemon, virtual_card: InsertCard) -> None:
    virtual_card(T0_GET_RESPONSE)
    with connected(pcscd.reader(0)) as link:
        assert link[1] == scard.SCARD_PROTOCOL_T0
        assert transmit(link, SELECT_SSSE) == (b"", 0x6113)
        fci, sw = transmit(link, "00C0000013")
        assert sw == 0x9000 and fci[:2] == bytes.fromhex("6F11")
        assert transmit(link, SELECT_EF05) == (b"", 0x610C)
        assert transmit(link, "00B2070000") == (b"", 0x610B)
        assert transmit(link, "00C000000B") == (bytes.fromhex("0709") + b"D40000046", 0x9000)


def test_wrong_le_card_through_pcscd(pcscd: PcscDaemon, virtual_card: InsertCard) -> None:
    virtual_card(WRONG_LE)
    with connected(pcscd.reader(0)) as link:
        transmit(link, SELECT_SSSE)
        transmit(link, SELECT_EF06)
        assert transmit(link, "00B2090020") == (b"", 0x6C16)
        data, sw = transmit(link, "00B2090016")
        assert sw == 0x9000 and len(data) == 0x16


def test_bank_card_through_pcscd(pcscd: PcscDaemon, virtual_card: InsertCard) -> None:
    virtual_card(BANK_CARD)
    assert reader_state(pcscd.reader(0))[1] == BANK_CARD.atr
    with connected(pcscd.reader(0)) as link:
        assert transmit(link, SELECT_SSSE) == (b"", 0x6A82)


def test_removal_empties_the_reader(pcscd: PcscDaemon, virtual_card: InsertCard) -> None:
    card = virtual_card(GEN1)
    with connected(pcscd.reader(0)) as link:
        transmit(link, SELECT_SSSE)
        card.remove()
        assert not card.inserted
        assert reader_state(pcscd.reader(0))[0] & scard.SCARD_STATE_EMPTY
        hresult, _ = scard.SCardTransmit(link[0], link[1], list(bytes.fromhex(SELECT_EF05)))
        assert hresult != scard.SCARD_S_SUCCESS
    card.insert()  # the same card goes back in, freshly reset
    assert card.apdu_count == 0
    with connected(pcscd.reader(0)) as link:
        assert transmit(link, "00B2070000") == (b"", 0x6986)


def test_pulled_card_fails_the_transmit(pcscd: PcscDaemon, virtual_card: InsertCard) -> None:
    card = virtual_card(PULLED_MID_READ)
    apdus = (SELECT_SSSE, SELECT_EF05, "00B2010000", "00B2020000", "00B2030000", "00B2040000")
    with connected(pcscd.reader(0)) as (handle, protocol):
        results = []
        for apdu in apdus:
            hresult, _ = scard.SCardTransmit(handle, protocol, list(bytes.fromhex(apdu)))
            results.append(hresult & 0xFFFFFFFF)
        # the sixth APDU is the one the card leaves during: never trust its buffer
        assert results == [scard.SCARD_S_SUCCESS] * 5 + [scard.SCARD_E_NOT_TRANSACTED]
        hresult, _ = scard.SCardTransmit(handle, protocol, list(bytes.fromhex("00B2050000")))
        assert hresult != scard.SCARD_S_SUCCESS
    assert card.pulled and not card.inserted
    assert card.apdu_count == 6
    card.wait_empty(timeout=5)


def test_two_readers_hold_two_cards(pcscd: PcscDaemon, virtual_card: InsertCard) -> None:
    virtual_card(GEN1, slot=0)
    virtual_card(EXPIRED, slot=1)
    assert reader_state("Virtual PCD 00 01")[1] == EXPIRED.atr
    with connected("Virtual PCD 00 00") as first, connected("Virtual PCD 00 01") as second:
        for link in (first, second):
            transmit(link, SELECT_SSSE)
            transmit(link, SELECT_EF05)
        assert transmit(first, "00B2070000")[0][2:] == b"A10000013"
        assert transmit(second, "00B2070000")[0][2:] == b"H80000080"
        assert transmit(second, "00B2060000")[0] == bytes.fromhex("060420200630")


def test_card_survives_a_pcscd_restart_by_reinsertion(
    pcscd: PcscDaemon, virtual_card: InsertCard
) -> None:
    card = virtual_card(GEN2)
    pcscd.restart()
    deadline = time.monotonic() + 5
    while card.inserted and time.monotonic() < deadline:
        time.sleep(0.05)
    assert card.closed_by_reader and not card.inserted
    card.insert()
    with connected(pcscd.reader(0)) as link:
        assert transmit(link, SELECT_SSSE) == (b"", 0x9000)


@pytest.mark.slow
def test_mute_card_times_out(pcscd: PcscDaemon, virtual_card: InsertCard) -> None:
    card = virtual_card(MUTE)
    assert reader_state(pcscd.reader(0))[1] == MUTE.atr
    with connected(pcscd.reader(0)) as (handle, protocol):
        hresult, _ = scard.SCardTransmit(handle, protocol, list(bytes.fromhex(SELECT_SSSE)))
    assert hresult & 0xFFFFFFFF == scard.SCARD_E_NOT_TRANSACTED
    assert card.mute_timeouts == 1 and card.apdu_count == 1
    # a mute card stays in the reader, unlike a pulled one
    time.sleep(1)  # more than two presence polls
    assert card.inserted
    event, atr = reader_state(pcscd.reader(0))
    assert event & scard.SCARD_STATE_PRESENT and atr == MUTE.atr
