"""The personal data the tests hand to the kiosk: it must never appear in a log."""

from __future__ import annotations

from tests.cardsim.card import PERSONAL_DATA as EMULATED_CARD_RESIDENTS

RESIDENT = {
    "name": "张三丰",
    "ssn": "310101195001011236",
    "card_number": "A58570797",
    "birth_date": "1950-01-01",
}

# The phone number the call-back tests leave (a mobile and a landline), digits only.
PHONE = "13812345678"
LANDLINE = "075512345678"

# The residents on the emulated social security cards (tests/cardsim/card.py): every
# name (full name, record-09 substitute, name extension), SSN and card number.
NEVER_LOGGED = (
    "张三丰",
    "310101195001011236",
    "A58570797",
    PHONE,
    LANDLINE,
    *EMULATED_CARD_RESIDENTS,
)
