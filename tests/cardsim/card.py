"""The emulated social security card (社会保障卡): pure logic, no sockets.

A ``CardProfile`` holds a card's truth in natural form (dates, strings) plus the switches
that make it behave like one of the awkward cards found in the field. ``EmulatedCard``
turns a profile into an ISO 7816-4 card: it answers command APDUs with response APDUs.

The file system of a social security card, as far as a reader without a PSAM sees it::

    MF 3F00
    └── SSSE application, selected by the name "sx1.sh.社会保障" (GBK bytes)
        ├── EF05: 01 card id, 02 card type, 03 spec version, 04 issuer,
        │         05 issue date, 06 expiry, 07 card number
        └── EF06: 08 SSN, 09 name, [4E name extension, generation 2+], 0A sex,
                  0B ethnicity, 0C birthplace, 0D birth date

Every record is tag, length, value. Commands understood (CLA must be 00):

- SELECT ``00 A4``: P1=00 (MF ``3F00``, or EF05/EF06 under the current DF; no data also
  selects the MF), P1=02 (EF under the current DF), P1=04 (DF by name); P2 00/04/0C.
  An EF can only be selected while the SSSE application is the current DF (else 6A82).
  With Le, a T=1 card returns the FCI; the T=0 card always answers 61xx (unless P2=0C).
- READ RECORD ``00 B2 P1 P2 Le``: P2 = SFI << 3 | mode. Mode 0 reads the record whose
  identifier (tag) is P1, mode 4 reads record number P1 (1-based, file order). SFI 0 means
  the current EF; SFI 5 / 6 name EF05 / EF06 (and make it current). With no current EF
  the card answers 6986 (command not allowed, no current EF) - our choice of the two
  status words real cards use. A tag that is not in the current EF answers 6A83.
- GET RESPONSE ``00 C0 00 00 Le``: hands out what a 61xx announced.

Status words: 6700 wrong length (malformed APDU, missing Le on READ RECORD), 6D00
unknown INS, 6E00 class not 00, 6A86 bad P1/P2, 6A82 file not found, 6A83 record not
found, 6982 security status not satisfied, 6985 no response pending, 6Cxx wrong Le.

Transport: a T=1 card (the default) returns data directly: with Le=00 or Le >= the
length it returns the record, with a shorter non-zero Le it answers 6Cxx (xx = length);
a ``strict_le`` card answers 6Cxx to every Le but the exact length, Le=00 included. The
``t0_get_response`` card answers SELECT and READ RECORD with 61xx and hands the data to
GET RESPONSE ``00 C0 00 00 xx`` (a wrong Le there gets 6Cxx; a shorter one gets that
many bytes and 61 with the rest). Any other command drops a pending response.

Generation 2+ cards carry record 4E in EF06 between the name (09) and sex (0A), so
reading by record number shifts; when the name needs no extension the 4E record is
present but empty (``4E 00``). Generation-1 cards answer 6A83 for tag 4E.

``refuse_ef06`` (a generation-3 card read without a PSAM): EF06 can be selected (9000),
but every READ RECORD in it - by tag, by number or by SFI, whether the record exists or
not - answers 6982, because the security check comes before the record lookup.

A bank card (``has_ssse`` False) answers 6A82 to the SSSE name (and so to EF05/EF06)
but does answer the PBOC payment environment "1PAY.SYS.DDF01".

``pull_after`` = n: the card is pulled during its n-th APDU - ``respond`` raises
``CardPulled`` for it (and any later one); ``mute``: ``respond`` raises ``NoAnswer`` for
every APDU. ``tests.cardsim.vpcd`` turns both into what a reader reports.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from typing import Any

SSSE_NAME = b"sx1.sh." + "社会保障".encode("gbk")
"""The SSSE application's DF name: the GBK bytes of "sx1.sh.社会保障" (15 bytes)."""

PSE_NAME = b"1PAY.SYS.DDF01"
"""The payment system environment of a bank (PBOC) card."""

MF = 0x3F00
EF05 = 0xEF05
EF06 = 0xEF06

_SFI_FILES = {5: EF05, 6: EF06}

_GB11643_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_GB11643_CHECK = "10X98765432"

SW_OK = 0x9000
SW_WRONG_LENGTH = 0x6700
SW_SECURITY = 0x6982
SW_NO_CURRENT_EF = 0x6986
SW_NO_RESPONSE_PENDING = 0x6985
SW_FILE_NOT_FOUND = 0x6A82
SW_RECORD_NOT_FOUND = 0x6A83
SW_BAD_P1P2 = 0x6A86
SW_INS_NOT_SUPPORTED = 0x6D00
SW_CLA_NOT_SUPPORTED = 0x6E00


class NoAnswer(Exception):
    """The card gives no response APDU to this command (a mute card)."""


class CardPulled(NoAnswer):
    """The card leaves the reader during this command, before its answer is complete."""


def gb11643_check_digit(first17: str) -> str:
    """The GB 11643 check character of the first 17 digits of an ID number."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError("GB 11643 needs 17 digits")
    pairs = zip(first17, _GB11643_WEIGHTS, strict=True)
    total = sum(int(digit) * weight for digit, weight in pairs)
    return _GB11643_CHECK[total % 11]


def is_valid_ssn(ssn: str) -> bool:
    """True when ``ssn`` is 18 characters with a correct GB 11643 check character."""
    return (
        len(ssn) == 18
        and ssn[:17].isdigit()
        and gb11643_check_digit(ssn[:17]) == ssn[17]
    )


def build_atr(historical: bytes, *, t1: bool = True) -> bytes:
    """A well-formed ATR with the given historical bytes.

    ``t1=True``: a T=1-only card, ``3B 8K 81 31 FE 45 <hist> TCK`` (TD1 offers T=1, TD2
    carries TA3 IFSC=254 and TB3 BWI=4/CWI=5; TCK makes T0..TCK XOR to zero).
    ``t1=False``: a T=0-only card, ``3B 6K 00 00 <hist>`` (TB1, TC1; no TCK for T=0).
    """
    if len(historical) > 15:
        raise ValueError("at most 15 historical bytes")
    k = len(historical)
    if not t1:
        return bytes([0x3B, 0x60 | k, 0x00, 0x00]) + historical
    body = bytes([0x80 | k, 0x81, 0x31, 0xFE, 0x45]) + historical
    tck = 0
    for byte in body:
        tck ^= byte
    return b"\x3b" + body + bytes([tck])


def atr_protocols(atr: bytes) -> frozenset[int]:
    """The transmission protocols an ATR offers (0 and/or 1); ValueError if it is malformed.

    Walks TS, T0, the interface bytes and the historical bytes per ISO 7816-3, and checks
    TCK whenever a protocol other than T=0 is offered.
    """
    if len(atr) < 2 or atr[0] not in (0x3B, 0x3F):
        raise ValueError("bad TS")
    historical = atr[1] & 0x0F
    y = atr[1] >> 4
    i = 2
    protocols: list[int] = []
    while True:
        i += bin(y & 0x07).count("1")  # TAi, TBi, TCi
        if not y & 0x08:
            break
        if i >= len(atr):
            raise ValueError("ATR ends inside the interface bytes")
        td = atr[i]
        protocols.append(td & 0x0F)
        y = td >> 4
        i += 1
    offered = frozenset(protocols) or frozenset({0})
    needs_tck = any(protocol != 0 for protocol in offered)
    expected = i + historical + (1 if needs_tck else 0)
    if len(atr) != expected:
        raise ValueError(f"ATR is {len(atr)} bytes, its structure says {expected}")
    if needs_tck:
        check = 0
        for byte in atr[1:]:
            check ^= byte
        if check:
            raise ValueError("bad TCK")
    return offered


def _bcd(digits: str) -> bytes:
    if not digits.isdigit() or len(digits) % 2:
        raise ValueError("BCD needs an even number of digits")
    return bytes.fromhex(digits)


def _bcd_date(day: date) -> bytes:
    return _bcd(day.strftime("%Y%m%d"))


def _sw(word: int) -> bytes:
    return word.to_bytes(2, "big")


ATR_T1 = build_atr(b"\x80\x66SSCSIM")
"""The ATR of most emulated cards: T=1 only, historical bytes 80 66 "SSCSIM"."""
ATR_T0 = build_atr(b"\x80\x66SSCT0S", t1=False)
"""A T=0-only ATR (the 61xx card)."""
ATR_BANK = build_atr(b"\x80\x65PBOC3")
"""A bank card's ATR."""


@dataclass(frozen=True)
class Record:
    """One record of an EF: tag, value; ``tlv`` is how READ RECORD returns it."""

    tag: int
    value: bytes

    @property
    def tlv(self) -> bytes:
        return bytes([self.tag, len(self.value)]) + self.value


@dataclass(frozen=True, repr=False)
class CardProfile:
    """A card's truth in natural form, plus switches for awkward card behaviour.

    Its repr is only the label, so that a profile printed or logged by mistake shows no
    personal data.
    """

    label: str
    card_id: str
    spec_version: str
    issuer: bytes
    issue_date: date
    expiry_date: date
    card_number: str
    ssn: str
    name: str
    sex: str
    ethnicity: str
    birthplace: str
    birth_date: date
    card_type: str = "3"
    name_field: str | None = None
    """What record 09 holds when it differs from the full name (a GBK substitute)."""
    name_extension: str | None = None
    """What record 4E holds (generation 2+ only; empty 4E record when None)."""
    name_padding: bytes = b" "
    """The byte that pads record 09 to its length: space or NUL."""
    name_length: int = 30
    """The value length of record 09 (30 on a correct card)."""
    atr: bytes = ATR_T1
    t0_get_response: bool = False
    strict_le: bool = False
    select_ef_p1_00: bool = False
    refuse_ef06: bool = False
    has_ssse: bool = True
    pull_after: int | None = None
    """The card is pulled while answering its pull_after-th APDU (that one fails)."""
    mute: bool = False
    """The card gives its ATR but answers no APDU."""

    def __repr__(self) -> str:
        return f"CardProfile({self.label!r})"

    def __post_init__(self) -> None:
        problems = list(self._problems())
        if problems:
            raise ValueError(f"profile {self.label}: " + "; ".join(problems))

    def _problems(self) -> list[str]:
        found: list[str] = []
        card_id = self.card_id
        if (
            len(card_id) != 32
            or card_id.upper() != card_id
            or any(c not in "0123456789ABCDEF" for c in card_id)
            or not card_id[:6].isdigit()
        ):
            found.append("card_id must be 32 uppercase hex digits starting with 6 digits")
        if len(self.card_type) != 1 or not self.card_type.isascii():
            found.append("card_type must be 1 ASCII character")
        if self.spec_version not in ("1.00", "2.00", "3.00"):
            found.append("spec_version must be 1.00, 2.00 or 3.00")
        if len(self.issuer) != 12:
            found.append("issuer must be 12 bytes")
        if self.issue_date >= self.expiry_date:
            found.append("issue_date must come before expiry_date")
        if len(self.card_number) != 9 or not self.card_number.isascii():
            found.append("card_number must be 9 ASCII characters")
        if not is_valid_ssn(self.ssn):
            found.append("ssn fails the GB 11643 check")
        elif self.ssn[6:14] != self.birth_date.strftime("%Y%m%d"):
            found.append("ssn birth date differs from birth_date")
        elif int(self.ssn[16]) % 2 != (1 if self.sex == "1" else 0):
            found.append("ssn sex digit differs from sex")
        if self.sex not in ("1", "2"):
            found.append("sex must be '1' or '2'")
        if not (self.ethnicity.isdigit() and len(self.ethnicity) == 2
                and 1 <= int(self.ethnicity) <= 56):
            found.append("ethnicity must be 01..56")
        if not (self.birthplace.isdigit() and len(self.birthplace) == 6):
            found.append("birthplace must be 6 digits")
        try:
            shown = (self.name_field or self.name).encode("gbk")
        except UnicodeEncodeError:
            found.append("record 09 must be GBK: give name_field for a rare character")
        else:
            if len(shown) > self.name_length:
                found.append("name does not fit record 09")
        if self.name_padding not in (b" ", b"\x00"):
            found.append("name_padding must be a space or NUL")
        if self.name_extension is not None:
            if self.generation < 2:
                found.append("a generation-1 card has no name extension record")
            try:
                self.name_extension.encode("gb18030")
            except UnicodeEncodeError:
                found.append("name_extension must be GB 18030")
        try:
            protocols = atr_protocols(self.atr)
        except ValueError as exc:
            found.append(f"atr: {exc}")
        else:
            if self.t0_get_response and 0 not in protocols:
                found.append("a 61xx card needs an ATR that offers T=0")
        if self.pull_after is not None and self.pull_after < 1:
            found.append("pull_after must be at least 1")
        return found

    @property
    def generation(self) -> int:
        """1, 2 or 3, from the spec version."""
        return int(self.spec_version[0])

    def ef05(self) -> tuple[Record, ...]:
        """The records of EF05 in file order."""
        return (
            Record(0x01, bytes.fromhex(self.card_id)),
            Record(0x02, self.card_type.encode("ascii")),
            Record(0x03, self.spec_version.encode("ascii")),
            Record(0x04, self.issuer),
            Record(0x05, _bcd_date(self.issue_date)),
            Record(0x06, _bcd_date(self.expiry_date)),
            Record(0x07, self.card_number.encode("ascii")),
        )

    def ef06(self) -> tuple[Record, ...]:
        """The records of EF06 in file order (4E before the sex field on gen 2+)."""
        shown = (self.name_field or self.name).encode("gbk")
        records = [
            Record(0x08, self.ssn.encode("ascii")),
            Record(0x09, shown.ljust(self.name_length, self.name_padding)),
        ]
        if self.generation >= 2:
            extension = self.name_extension or ""
            records.append(Record(0x4E, extension.encode("gb18030")))
        records += [
            Record(0x0A, self.sex.encode("ascii")),
            Record(0x0B, _bcd(self.ethnicity)),
            Record(0x0C, _bcd(self.birthplace)),
            Record(0x0D, _bcd_date(self.birth_date)),
        ]
        return tuple(records)

    def personal_data(self) -> tuple[str, ...]:
        """Every string of this resident that must never reach a log."""
        values = [self.name, self.ssn, self.card_number]
        values += [v for v in (self.name_field, self.name_extension) if v]
        return tuple(values)


@dataclass(frozen=True)
class Command:
    """A parsed short command APDU; ``le`` is None when absent, 0 means 256."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes
    le: int | None


class MalformedApdu(ValueError):
    """The bytes are not a well-formed short APDU."""


def parse_apdu(apdu: bytes) -> Command:
    """Split a short command APDU into its parts (ISO 7816-4 cases 1-4)."""
    if len(apdu) < 4:
        raise MalformedApdu("shorter than a header")
    cla, ins, p1, p2 = apdu[:4]
    body = apdu[4:]
    if not body:
        return Command(cla, ins, p1, p2, b"", None)
    if len(body) == 1:
        return Command(cla, ins, p1, p2, b"", body[0])
    lc = body[0]
    if lc == 0:
        raise MalformedApdu("extended length is not supported")
    if len(body) == 1 + lc:
        return Command(cla, ins, p1, p2, bytes(body[1:]), None)
    if len(body) == 2 + lc:
        return Command(cla, ins, p1, p2, bytes(body[1:-1]), body[-1])
    raise MalformedApdu("Lc does not match the data")


def _fci_df(name: bytes) -> bytes:
    return bytes([0x6F, len(name) + 2, 0x84, len(name)]) + name


def _fci_ef(fid: int) -> bytes:
    sfi = {EF05: 5, EF06: 6}[fid]
    body = bytes([0x82, 0x01, 0x05, 0x83, 0x02]) + fid.to_bytes(2, "big")
    body += bytes([0x88, 0x01, sfi])
    return bytes([0x62, len(body)]) + body


_FCI_MF = bytes([0x6F, 0x04, 0x83, 0x02, 0x3F, 0x00])


class EmulatedCard:
    """A social security card built from a profile; answers APDUs like the real card.

    ``respond`` counts every APDU (``apdu_count``, ``commands``) and raises ``NoAnswer``
    for a mute card, or ``CardPulled`` from the ``pull_after``-th APDU on.
    """

    def __init__(self, profile: CardProfile) -> None:
        self.profile = profile
        self.apdu_count = 0
        self.commands: list[bytes] = []
        self._files: dict[int, tuple[Record, ...]] = {
            EF05: profile.ef05(),
            EF06: profile.ef06(),
        }
        self.current_df: str = "MF"
        self.current_ef: int | None = None
        self._pending: bytes | None = None

    @property
    def atr(self) -> bytes:
        return self.profile.atr

    def reset(self) -> None:
        """Power cycle: back to the MF, no EF selected, nothing pending."""
        self.current_df = "MF"
        self.current_ef = None
        self._pending = None

    def respond(self, apdu: bytes) -> bytes:
        """The response APDU (data + SW1 SW2) to one command APDU."""
        apdu = bytes(apdu)
        self.apdu_count += 1
        self.commands.append(apdu)
        if self.profile.mute:
            raise NoAnswer
        if self.profile.pull_after is not None and self.apdu_count >= self.profile.pull_after:
            raise CardPulled
        return self._process(apdu)

    # --- command processing -------------------------------------------------------------

    def _process(self, apdu: bytes) -> bytes:
        if len(apdu) < 4:
            self._pending = None
            return _sw(SW_WRONG_LENGTH)
        if apdu[0] != 0x00:
            self._pending = None
            return _sw(SW_CLA_NOT_SUPPORTED)
        handlers = {0xA4: self._select, 0xB2: self._read_record, 0xC0: self._get_response}
        handler = handlers.get(apdu[1])
        if handler is None:
            self._pending = None
            return _sw(SW_INS_NOT_SUPPORTED)
        try:
            command = parse_apdu(apdu)
        except MalformedApdu:
            self._pending = None
            return _sw(SW_WRONG_LENGTH)
        if handler != self._get_response:
            self._pending = None
        return handler(command)

    def _give(self, data: bytes, le: int | None) -> bytes:
        """Hand out response data by the card's transport rules."""
        if self.profile.t0_get_response:
            self._pending = data
            return _sw(0x6100 | (len(data) & 0xFF))
        if le is None:
            return _sw(SW_OK)
        wanted = le or 256
        if self.profile.strict_le:
            if wanted != len(data):
                return _sw(0x6C00 | len(data))
        elif wanted < len(data):
            return _sw(0x6C00 | len(data))
        return data + _sw(SW_OK)

    def _select(self, command: Command) -> bytes:
        if command.p2 not in (0x00, 0x04, 0x0C):
            return _sw(SW_BAD_P1P2)
        if command.p1 == 0x04:
            if not command.data:
                return _sw(SW_WRONG_LENGTH)
            if command.data == SSSE_NAME and self.profile.has_ssse:
                self.current_df, self.current_ef = "SSSE", None
                fci = _fci_df(SSSE_NAME)
            elif command.data == PSE_NAME and not self.profile.has_ssse:
                self.current_df, self.current_ef = "PSE", None
                fci = _fci_df(PSE_NAME)
            else:
                return _sw(SW_FILE_NOT_FOUND)
        elif command.p1 in (0x00, 0x02):
            if command.p1 == 0x02 and self.profile.select_ef_p1_00:
                return _sw(SW_BAD_P1P2)
            if command.p1 == 0x00 and not command.data:
                fid = MF
            elif len(command.data) != 2:
                return _sw(SW_WRONG_LENGTH)
            else:
                fid = int.from_bytes(command.data, "big")
            if fid == MF and command.p1 == 0x00:
                self.current_df, self.current_ef = "MF", None
                fci = _FCI_MF
            elif fid in (EF05, EF06) and self.current_df == "SSSE":
                self.current_ef = fid
                fci = _fci_ef(fid)
            else:
                return _sw(SW_FILE_NOT_FOUND)
        else:
            return _sw(SW_BAD_P1P2)
        if command.p2 == 0x0C:
            return _sw(SW_OK)
        return self._give(fci, command.le)

    def _read_record(self, command: Command) -> bytes:
        if command.data or command.le is None:
            return _sw(SW_WRONG_LENGTH)
        sfi, mode = command.p2 >> 3, command.p2 & 0x07
        if mode not in (0x00, 0x04) or sfi == 0x1F or command.p1 == 0x00:
            return _sw(SW_BAD_P1P2)
        if sfi:
            fid = _SFI_FILES.get(sfi) if self.current_df == "SSSE" else None
            if fid is None:
                return _sw(SW_FILE_NOT_FOUND)
            self.current_ef = fid
        elif self.current_ef is None:
            return _sw(SW_NO_CURRENT_EF)
        else:
            fid = self.current_ef
        if fid == EF06 and self.profile.refuse_ef06:
            return _sw(SW_SECURITY)
        records = self._files[fid]
        if mode == 0x04:
            if command.p1 > len(records):
                return _sw(SW_RECORD_NOT_FOUND)
            record = records[command.p1 - 1]
        else:
            found = [r for r in records if r.tag == command.p1]
            if not found:
                return _sw(SW_RECORD_NOT_FOUND)
            record = found[0]
        return self._give(record.tlv, command.le)

    def _get_response(self, command: Command) -> bytes:
        if command.p1 or command.p2:
            return _sw(SW_BAD_P1P2)
        if command.data or command.le is None:
            self._pending = None
            return _sw(SW_WRONG_LENGTH)
        pending = self._pending
        if pending is None:
            return _sw(SW_NO_RESPONSE_PENDING)
        wanted = command.le or 256
        if wanted > len(pending):
            return _sw(0x6C00 | len(pending))
        chunk, rest = pending[:wanted], pending[wanted:]
        if rest:
            self._pending = rest
            return chunk + _sw(0x6100 | (len(rest) & 0xFF))
        self._pending = None
        return chunk + _sw(SW_OK)


# --- named profiles ---------------------------------------------------------------------
# Fictional residents of Shanghai districts. Every SSN passes GB 11643 and carries the
# birth date and sex of its profile; CardProfile checks that on construction.

_ISSUER = bytes.fromhex("310000D15600000500000001")

GEN1 = CardProfile(
    label="GEN1",
    card_id="310104D1560000050A1B2C3D4E5F6001",
    spec_version="1.00",
    issuer=_ISSUER,
    issue_date=date(2013, 9, 2),
    expiry_date=date(2038, 9, 2),
    card_number="A10000013",
    ssn="310104195803141357",
    name="李建国",
    name_padding=b"\x00",
    sex="1",
    ethnicity="01",
    birthplace="310104",
    birth_date=date(1958, 3, 14),
)

GEN2 = CardProfile(
    label="GEN2",
    card_id="310115D1560000050A1B2C3D4E5F6002",
    spec_version="2.00",
    issuer=_ISSUER,
    issue_date=date(2018, 5, 21),
    expiry_date=date(2038, 5, 21),
    card_number="B20000024",
    ssn="31011519721105248X",
    name="陈美华",
    sex="2",
    ethnicity="01",
    birthplace="310115",
    birth_date=date(1972, 11, 5),
)

GEN3_REFUSING = CardProfile(
    label="GEN3_REFUSING",
    card_id="310112D1560000050A1B2C3D4E5F6003",
    spec_version="3.00",
    issuer=_ISSUER,
    issue_date=date(2024, 3, 8),
    expiry_date=date(2044, 3, 8),
    card_number="C30000035",
    ssn="310112198507210171",
    name="赵志强",
    sex="1",
    ethnicity="03",
    birthplace="310112",
    birth_date=date(1985, 7, 21),
    atr=build_atr(b"\x80\x66SSCG3S"),
    refuse_ef06=True,
)

T0_GET_RESPONSE = CardProfile(
    label="T0_GET_RESPONSE",
    card_id="310105D1560000050A1B2C3D4E5F6004",
    spec_version="2.00",
    issuer=_ISSUER,
    issue_date=date(2017, 10, 16),
    expiry_date=date(2037, 10, 16),
    card_number="D40000046",
    ssn="310105196602283261",
    name="周丽娟",
    sex="2",
    ethnicity="01",
    birthplace="310105",
    birth_date=date(1966, 2, 28),
    atr=ATR_T0,
    t0_get_response=True,
)

WRONG_LE = CardProfile(
    label="WRONG_LE",
    card_id="310106D1560000050A1B2C3D4E5F6005",
    spec_version="2.00",
    issuer=_ISSUER,
    issue_date=date(2019, 1, 7),
    expiry_date=date(2039, 1, 7),
    card_number="E50000057",
    ssn="310106194910010510",
    name="吴国平",
    name_length=20,
    sex="1",
    ethnicity="02",
    birthplace="310106",
    birth_date=date(1949, 10, 1),
    strict_le=True,
)

SELECT_P1_00 = CardProfile(
    label="SELECT_P1_00",
    card_id="310107D1560000050A1B2C3D4E5F6006",
    spec_version="1.00",
    issuer=_ISSUER,
    issue_date=date(2014, 6, 3),
    expiry_date=date(2039, 6, 3),
    card_number="F60000068",
    ssn="310107194005120628",
    name="孙桂兰",
    sex="2",
    ethnicity="01",
    birthplace="320102",
    birth_date=date(1940, 5, 12),
    select_ef_p1_00=True,
)

NAME_EXTENSION = CardProfile(
    label="NAME_EXTENSION",
    card_id="310115D1560000050A1B2C3D4E5F6007",
    spec_version="2.00",
    issuer=_ISSUER,
    issue_date=date(2020, 8, 17),
    expiry_date=date(2040, 8, 17),
    card_number="G70000079",
    ssn="310115199012094731",
    name="刘䶮",
    name_field="刘岩",
    name_extension="刘䶮",
    sex="1",
    ethnicity="01",
    birthplace="310115",
    birth_date=date(1990, 12, 9),
)

EXPIRED = CardProfile(
    label="EXPIRED",
    card_id="310109D1560000050A1B2C3D4E5F6008",
    spec_version="1.00",
    issuer=_ISSUER,
    issue_date=date(2010, 6, 30),
    expiry_date=date(2020, 6, 30),
    card_number="H80000080",
    ssn="310109195508300919",
    name="郑德明",
    sex="1",
    ethnicity="01",
    birthplace="310109",
    birth_date=date(1955, 8, 30),
)

BANK_CARD = CardProfile(
    label="BANK_CARD",
    card_id="310110D1560000050A1B2C3D4E5F6009",
    spec_version="3.00",
    issuer=_ISSUER,
    issue_date=date(2022, 2, 14),
    expiry_date=date(2042, 2, 14),
    card_number="J90000091",
    ssn="310110198004171040",
    name="黄晓燕",
    sex="2",
    ethnicity="01",
    birthplace="310110",
    birth_date=date(1980, 4, 17),
    atr=ATR_BANK,
    has_ssse=False,
)

PULLED_MID_READ = CardProfile(
    label="PULLED_MID_READ",
    card_id="310113D1560000050A1B2C3D4E5F6010",
    spec_version="2.00",
    issuer=_ISSUER,
    issue_date=date(2016, 11, 28),
    expiry_date=date(2036, 11, 28),
    card_number="K10000102",
    ssn="310113196209032220",
    name="马玉珍",
    sex="2",
    ethnicity="01",
    birthplace="310113",
    birth_date=date(1962, 9, 3),
    pull_after=6,
)

MUTE = CardProfile(
    label="MUTE",
    card_id="310114D1560000050A1B2C3D4E5F6011",
    spec_version="3.00",
    issuer=_ISSUER,
    issue_date=date(2023, 4, 10),
    expiry_date=date(2043, 4, 10),
    card_number="L11000113",
    ssn="310114197001253156",
    name="胡建华",
    sex="1",
    ethnicity="01",
    birthplace="310114",
    birth_date=date(1970, 1, 25),
    atr=build_atr(b"\x80\x66SSCMUT"),
    mute=True,
)

ALL_PROFILES: dict[str, CardProfile] = {
    profile.label: profile
    for profile in (
        GEN1,
        GEN2,
        GEN3_REFUSING,
        T0_GET_RESPONSE,
        WRONG_LE,
        SELECT_P1_00,
        NAME_EXTENSION,
        EXPIRED,
        BANK_CARD,
        PULLED_MID_READ,
        MUTE,
    )
}

PERSONAL_DATA: tuple[str, ...] = tuple(
    dict.fromkeys(value for p in ALL_PROFILES.values() for value in p.personal_data())
)
"""Every name, SSN and card number of the named profiles (for NEVER_LOGGED)."""


def variant(profile: CardProfile, **changes: Any) -> CardProfile:
    """A copy of ``profile`` with some fields changed (validated like any profile)."""
    return dataclasses.replace(profile, **changes)
