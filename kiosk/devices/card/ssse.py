"""The social security card protocol: APDUs in, an `Identity` out.

Transport-free: `read_card(transmit)` takes any function that sends one command APDU and
returns the response (data + SW1 SW2), so the same code runs over PC/SC, over a test's
emulated card in-process, and under a fuzzer. Facts are from shared/reference/cards.md.

The sequence:
1. SELECT MF (its answer does not matter: some cards lack it);
2. SELECT the SSSE application by name (GBK "sx1.sh.社会保障"); anything but success
   means this is not a social security card;
3. SELECT EF05 (P1=02; cards that refuse that form with 6A86/6A82/6B00 get P1=00, and
   the form that worked is used for EF06), read its fields by tag (`00 B2 <tag> 00 Le`);
4. SELECT EF06 and read its fields the same way. Generation 2+ cards may hold a name
   extension record (tag 4E); generation 1 cards are not asked for it.

Status words: 61xx fetches the rest with GET RESPONSE (chains are followed, up to a
limit); 6Cxx resends the command once with Le=xx. 6982 (security condition not met: a
generation-3 card without a PSAM) and 6A83 (no such record) make the field *missing*;
6982 on the EF06 select makes all of EF06 missing. Any other status is an error.

Decisions where the card spec leaves room:
- A record must come back as exactly tag, length, value with the tag asked for; fixed-size
  fields must have their size. Anything else is `CardUnreadable`: a half-understood
  record is never turned into a value.
- The name record (09) is GBK padded with spaces or NULs. When the name extension (4E) is
  present and not blank it holds the *full* name in GB 18030 (for characters GBK lacks)
  and is used instead of 09.
- A read never sends more than `MAX_APDUS` commands, so a card that keeps answering
  61xx or 6Cxx cannot hold the kiosk.

Nothing here logs a record's contents: only tags, lengths and status words, at DEBUG.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.core.identity import Identity, IdentityInvalid, Sex
from kiosk.devices.card.errors import CardUnreadable, NotSocialSecurityCard

log = logging.getLogger(__name__)

Transmit = Callable[[bytes], bytes]

MAX_APDUS = 64
SSSE_NAME = "sx1.sh.社会保障".encode("gbk")
SELECT_MF = bytes.fromhex("00A40000023F00")
SELECT_SSSE = bytes([0x00, 0xA4, 0x04, 0x00, len(SSSE_NAME)]) + SSSE_NAME
EF05, EF06 = b"\xef\x05", b"\xef\x06"

SW_OK = 0x9000
SW_END_OF_RECORD = 0x6282  # fewer bytes than Le: the data is still all there is
SW_SECURITY = 0x6982
SW_NO_RECORD = 0x6A83
_SELECT_FORM_REFUSED = {0x6A86, 0x6A82, 0x6B00}
_ABSENT = {SW_SECURITY, SW_NO_RECORD}
_SPEC_VERSION = r"[1-9]\.\d\d"  # "1.00", "2.00", "3.00": the first digit is the generation


@dataclass(frozen=True)
class _Field:
    tag: int
    name: str
    size: int | None  # None: variable length, asked for with Le=00


# In reading order: the spec version first, to know whether to ask for a name extension.
EF05_FIELDS = (
    _Field(0x03, "spec_version", 4),
    _Field(0x01, "card_id", 16),
    _Field(0x05, "issue_date", 4),
    _Field(0x06, "expiry_date", 4),
    _Field(0x07, "card_number", 9),
)
NAME_FIELD_SIZE = 30
EF06_FIELDS = (
    _Field(0x08, "ssn", 18),
    _Field(0x09, "name", NAME_FIELD_SIZE),
    _Field(0x4E, "name_extension", None),
    _Field(0x0A, "sex", 1),
    _Field(0x0B, "ethnicity", 1),
    _Field(0x0C, "birthplace", 3),
    _Field(0x0D, "birth_date", 4),
)


class _FieldAbsent(Exception):
    """The card refused (6982) or lacks (6A83) the record."""


class _Session:
    """One read: counts commands and keeps the EF select form that worked."""

    def __init__(self, transmit: Transmit) -> None:
        self._transmit = transmit
        self.sent = 0
        self.ef_p1 = 0x02

    def send(self, apdu: bytes) -> tuple[bytes, int]:
        if self.sent >= MAX_APDUS:
            raise CardUnreadable(f"the card needed more than {MAX_APDUS} commands; stopped")
        self.sent += 1
        response = self._transmit(apdu)
        if len(response) < 2:
            raise CardUnreadable(f"an answer of {len(response)} bytes has no status word")
        return bytes(response[:-2]), (response[-2] << 8) | response[-1]

    def exchange(self, apdu: bytes, *, has_le: bool = False) -> tuple[bytes, int]:
        """Send `apdu`, following 61xx with GET RESPONSE and, when the command ends in an
        Le byte, 6Cxx with one resend."""
        data, sw = self.send(apdu)
        if has_le and sw >> 8 == 0x6C:
            data, sw = self.send(apdu[:-1] + bytes([sw & 0xFF]))
            if sw >> 8 == 0x6C:
                raise CardUnreadable("the card asked for a different length twice")
        while sw >> 8 == 0x61:
            more, sw = self.send(bytes([0x00, 0xC0, 0x00, 0x00, sw & 0xFF]))
            data += more
        return data, sw

    def select_ef(self, fid: bytes) -> int:
        sw = self._select_ef(fid, self.ef_p1)
        if sw in _SELECT_FORM_REFUSED:
            other = 0x00 if self.ef_p1 == 0x02 else 0x02
            retry = self._select_ef(fid, other)
            if retry not in _SELECT_FORM_REFUSED:
                self.ef_p1, sw = other, retry
        return sw

    def _select_ef(self, fid: bytes, p1: int) -> int:
        _, sw = self.exchange(bytes([0x00, 0xA4, p1, 0x00, len(fid)]) + fid)
        log.debug("SELECT EF %s P1=%02X: %04X", fid.hex().upper(), p1, sw)
        return sw

    def read_field(self, field: _Field) -> bytes:
        """The value of the record with identifier `field.tag` in the selected EF."""
        le = 0 if field.size is None else field.size + 2
        data, sw = self.exchange(bytes([0x00, 0xB2, field.tag, 0x00, le]), has_le=True)
        log.debug("READ RECORD %02X: %d bytes, %04X", field.tag, len(data), sw)
        if sw in _ABSENT:
            raise _FieldAbsent
        if sw not in (SW_OK, SW_END_OF_RECORD):
            raise CardUnreadable(f"READ RECORD {field.tag:02X} answered {sw:04X}")
        if len(data) < 2 or data[0] != field.tag or data[1] != len(data) - 2:
            raise CardUnreadable(f"record {field.tag:02X} is not a well-formed tag-length-value")
        value = data[2:]
        if field.name == "name":
            if len(value) > NAME_FIELD_SIZE:
                raise CardUnreadable(f"record {field.tag:02X} is longer than {NAME_FIELD_SIZE}")
        elif field.size is not None and len(value) != field.size:
            raise CardUnreadable(f"record {field.tag:02X} is {len(value)} bytes, not {field.size}")
        return value


def read_card(transmit: Transmit) -> Identity:
    """Read the identity on the social security card behind `transmit`.

    Raises `NotSocialSecurityCard` when the SSSE application is absent, `CardUnreadable`
    when the card's answers are not what the spec says, and whatever `transmit` raises
    for the link itself (card removed, reader gone).
    """
    session = _Session(transmit)
    session.exchange(SELECT_MF)
    _, sw = session.exchange(SELECT_SSSE)
    log.debug("SELECT SSSE: %04X", sw)
    if sw != SW_OK:
        raise NotSocialSecurityCard(f"the card answered {sw:04X} to SELECT SSSE")

    raw: dict[str, bytes] = {}
    sw = session.select_ef(EF05)
    if sw != SW_OK:
        raise CardUnreadable(f"the card answered {sw:04X} to SELECT EF05")
    for field in EF05_FIELDS:
        _read_into(raw, session, field)
    generation = _generation(raw.get("spec_version"))

    sw = session.select_ef(EF06)
    if sw == SW_OK:
        for field in EF06_FIELDS:
            if field.name == "name_extension" and generation < 2:
                continue
            _read_into(raw, session, field)
    elif sw != SW_SECURITY:
        raise CardUnreadable(f"the card answered {sw:04X} to SELECT EF06")
    log.debug("card read in %d commands, %d fields", session.sent, len(raw))
    return decode(raw)


def _read_into(raw: dict[str, bytes], session: _Session, field: _Field) -> None:
    try:
        raw[field.name] = session.read_field(field)
    except _FieldAbsent:
        log.debug("record %02X refused or absent", field.tag)


def _generation(spec_version: bytes | None) -> int:
    if spec_version is None:
        return 1
    return int(_ascii(spec_version, "spec_version", _SPEC_VERSION)[0])


def decode(raw: dict[str, bytes]) -> Identity:
    """Turn raw record values (by field name) into an `Identity`, checking every one."""
    values: dict[str, object] = {}
    decoders: dict[str, Callable[[bytes], object]] = {
        "spec_version": lambda v: _ascii(v, "spec_version", _SPEC_VERSION),
        "card_id": _card_id,
        "issue_date": lambda v: _bcd_date(v, "issue_date"),
        "expiry_date": lambda v: _bcd_date(v, "expiry_date"),
        "card_number": lambda v: _ascii(v, "card_number", r"[0-9A-Z]{9}"),
        "ssn": lambda v: _ascii(v, "ssn", r"\d{17}[\dX]"),
        "name": lambda v: _name(v, "name"),
        "sex": _sex,
        "ethnicity": lambda v: _bcd(v, "ethnicity"),
        "birthplace": lambda v: _bcd(v, "birthplace"),
        "birth_date": lambda v: _bcd_date(v, "birth_date"),
    }
    for name, value in raw.items():
        if name == "name_extension":
            continue
        values[name] = decoders[name](value)
    extension = raw.get("name_extension")
    if extension is not None and extension.strip(b" \x00"):
        values["name"] = _name(extension, "name_extension")
    try:
        return Identity(**values)  # type: ignore[arg-type]
    except IdentityInvalid as exc:
        raise CardUnreadable(f"the card's data breaks its rules: {exc}") from None


def _ascii(value: bytes, name: str, pattern: str) -> str:
    try:
        text = value.decode("ascii")
    except UnicodeDecodeError:
        raise CardUnreadable(f"{name} is not ASCII") from None
    if not re.fullmatch(pattern, text):
        raise CardUnreadable(f"{name} does not have its expected shape")
    return text


def _card_id(value: bytes) -> str:
    text = value.hex().upper()
    if not text[:6].isdigit():
        raise CardUnreadable("card_id does not start with a region code")
    return text


def _bcd(value: bytes, name: str) -> str:
    text = value.hex()
    if not text.isdigit():
        raise CardUnreadable(f"{name} is not BCD")
    return text


def _bcd_date(value: bytes, name: str) -> dt.date:
    text = _bcd(value, name)
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        raise CardUnreadable(f"{name} is not a calendar date") from None


def _sex(value: bytes) -> Sex:
    try:
        return Sex.from_code(value.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise CardUnreadable("sex is not a GB/T 2261.1 code") from None


def _name(value: bytes, name: str) -> str:
    try:
        text = value.rstrip(b" \x00").decode("gb18030")
    except UnicodeDecodeError:
        raise CardUnreadable(f"{name} is not GB 18030 text") from None
    text = text.strip()
    if not text or not text.isprintable() or "\x00" in text:
        raise CardUnreadable(f"{name} is empty or holds control characters")
    return text
