"""The personal data the tests hand to the kiosk: it must never appear in a log."""

from __future__ import annotations

RESIDENT = {
    "name": "张三丰",
    "ssn": "310101195001011234",
    "card_number": "A58570797",
    "birth_date": "1950-01-01",
}

NEVER_LOGGED = ("张三丰", "310101195001011234", "A58570797")
