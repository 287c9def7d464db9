"""The medical-insurance electronic voucher (医保电子凭证): its code checked for shape, and
held as a *pending identity* for the district to resolve.

A voucher code is 28 ASCII digits: `424`, 17 digits, 2 digits, the 2-digit province code
of the insuring region, `0000` (4243754826492874240001130000 is the shape). It holds no
personal data: only the national platform turns it into a person, so offline the kiosk
checks its shape and queues it. The code is still treated like a token: it is masked
(424*********************0000) on screen, in `repr()` and so in every log, and leaves the
process whole only through `to_wire()`, for the district.

`parse_voucher` is the one way in, whatever read the code (the scanner gun now, the camera
later). Province codes are those of the 31 mainland provincial-level regions. Taiwan (71),
Hong Kong (81) and Macau (82) are refused: the national medical-insurance platform has no
insuring region there (residents from those places who are insured on the mainland are
insured by a mainland province, whose code their voucher carries), so a code naming one
was misread or is not a voucher.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from kiosk.core.identity import PROVINCES, mask_digits
from kiosk.errors import DoorstepError

#: What can read a voucher code.
VoucherSource = Literal["scanner", "camera"]

LENGTH = 28
PREFIX = "424"
TAIL = "0000"
_PROVINCE = slice(22, 24)

Clock = Callable[[], dt.datetime]


class VoucherInvalid(DoorstepError):
    """A code offered as a voucher does not have a voucher's shape. `reason` says which
    rule it broke: "empty", "non_digit", "length", "prefix", "tail" or "province"."""

    resident_zh = "这个码不是医保电子凭证，请出示医保电子凭证二维码。"
    resident_en = (
        "This code is not a medical insurance e-voucher. "
        "Please show your medical insurance e-voucher QR code."
    )
    action = (
        "Ask the resident to open the e-voucher (医保电子凭证) in the national medical "
        "insurance app, Alipay or WeChat, and scan its QR code."
    )

    def __init__(self, staff_message: str, *, reason: str) -> None:
        super().__init__(staff_message)
        self.reason = reason


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def parse_voucher(text: str, *, source: str, clock: Clock = utc_now) -> Voucher:
    """The voucher whose code is `text` (surrounding whitespace allowed), read by `source`
    ("scanner" or "camera") at `clock()`; `VoucherInvalid` if `text` is not one."""
    return Voucher(code=text.strip(), source=source, scanned_at=clock())


def check_code(code: str) -> None:
    """Raise `VoucherInvalid` naming the first rule `code` breaks. The message says what
    is wrong and never repeats the code."""
    if not code:
        raise VoucherInvalid("the code is empty", reason="empty")
    if not (code.isascii() and code.isdigit()):
        others = sum(1 for char in code if not ("0" <= char <= "9"))
        raise VoucherInvalid(
            f"the code holds {others} characters that are not digits; a voucher code is "
            f"{LENGTH} digits",
            reason="non_digit",
        )
    if len(code) != LENGTH:
        raise VoucherInvalid(
            f"the code has {len(code)} digits; a voucher code has {LENGTH}", reason="length"
        )
    if not code.startswith(PREFIX):
        raise VoucherInvalid(f"the code does not start with {PREFIX}", reason="prefix")
    if not code.endswith(TAIL):
        raise VoucherInvalid(f"the code does not end with {TAIL}", reason="tail")
    if code[_PROVINCE] not in PROVINCES:
        raise VoucherInvalid(
            "digits 23-24 of the code are not a mainland province code", reason="province"
        )


@dataclass(frozen=True, repr=False)
class Voucher:
    """A checked voucher code, waiting for the district to say whose it is.

    `scanned_at` is an aware datetime, kept in UTC; it records when the code was read and
    decides nothing (kiosk clocks drift). Build one with `parse_voucher`.
    """

    code: str
    source: str
    scanned_at: dt.datetime
    province_code: str = field(init=False)
    #: The province's name in Chinese.
    province: str = field(init=False)

    def __post_init__(self) -> None:
        if self.source not in get_args(VoucherSource):
            raise ValueError(f"unknown voucher source {self.source!r}")
        offset = self.scanned_at.utcoffset()
        if offset is None:
            raise ValueError("scanned_at must be an aware datetime")
        check_code(self.code)
        object.__setattr__(self, "scanned_at", self.scanned_at.astimezone(dt.UTC))
        object.__setattr__(self, "province_code", self.code[_PROVINCE])
        object.__setattr__(self, "province", PROVINCES[self.province_code])

    @property
    def complete(self) -> bool:
        """Always false: the district has yet to turn the code into a person."""
        return False

    @property
    def kind(self) -> str:
        return "voucher"

    @property
    def masked_code(self) -> str:
        """The first 3 and the last 4 digits, stars between."""
        return mask_digits(self.code, 3, 4)

    def to_wire(self) -> dict[str, Any]:
        """The voucher as JSON-ready values, with the whole code: for the district only."""
        return {
            "kind": self.kind,
            "code": self.code,
            "province_code": self.province_code,
            "province": self.province,
            "source": self.source,
            "scanned_at": self.scanned_at.isoformat(),
            "complete": self.complete,
        }

    def to_display(self) -> dict[str, Any]:
        """The same keys as `to_wire`, with the code masked."""
        return self.to_wire() | {"code": self.masked_code}

    def __repr__(self) -> str:
        return (
            f"Voucher(code={self.masked_code!r}, province_code={self.province_code!r}, "
            f"source={self.source!r}, scanned_at={self.scanned_at.isoformat()!r})"
        )

    __str__ = __repr__
