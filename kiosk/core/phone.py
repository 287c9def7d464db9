"""Phone numbers a resident types on the keypad (for a call-back): what is one, and how it
is shown.

A number is taken with its spaces and dashes stripped, and must then be digits only: a
Chinese mobile number (11 digits, `1[3-9]…`) or a landline with its area code (`010` or
`02x` and 8 digits; `0xxx` and 7 or 8 digits). A number is personal data: it is shown
masked (`mask`: 138****1234, 0755****5678), never logged, and kept sealed.
"""

from __future__ import annotations

import re

#: A number as it is kept and sent: digits only.
PHONE_PATTERN = r"^(?:1[3-9][0-9]{9}|0(?:10|2[0-9])[0-9]{8}|0[3-9][0-9]{2}[0-9]{7,8})$"
_ANY = re.compile(PHONE_PATTERN)
_SEPARATORS = re.compile(r"[\s\-]+")
MAX_TYPED = 40  # characters a typed number may have, separators and all


class PhoneProblem(ValueError):
    """Why a typed number is not a phone number: `reason` is one of `empty`, `characters`,
    `shape` (never the number itself: this may end up in a log)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"not a phone number ({reason})")
        self.reason = reason


def normalize(typed: str) -> str:
    """The number typed, as digits only; raises PhoneProblem."""
    digits = _SEPARATORS.sub("", typed[: MAX_TYPED + 1])
    if not digits:
        raise PhoneProblem("empty")
    if len(typed) > MAX_TYPED or not digits.isascii() or not digits.isdigit():
        raise PhoneProblem("characters")
    if not _ANY.fullmatch(digits):
        raise PhoneProblem("shape")
    return digits


def mask(number: str) -> str:
    """A number as the screen shows it: four digits hidden before its last four (a
    mobile's first three digits and a landline's area code stay: 138****1234,
    0755****5678, 010****5678)."""
    if len(number) < 9:
        return "****"
    return number[:-8] + "****" + number[-4:]
