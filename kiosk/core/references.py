"""Human references for receipts: station code, local date and a sequence number,
such as `PD0101-20261123-0007`.

A reference is for people (printed, read out on the phone); the application's UUID is
what machines use. The sequence comes from a counter per station and day kept in the
local store and bumped in the same transaction that creates the application, so a
reference is unique per station even if the clock goes back to a day already used.
"""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy.orm import Session

from kiosk.store.models import ReferenceCounter

PATTERN = re.compile(r"^(?P<station>[A-Z0-9]{2,12})-(?P<day>\d{8})-(?P<sequence>\d{4,})$")


def format_reference(station_code: str, day: date, sequence: int) -> str:
    return f"{station_code}-{day:%Y%m%d}-{sequence:04d}"


def next_reference(session: Session, station_code: str, day: date) -> str:
    """Take the next reference for `station_code` on `day` (inside the caller's transaction)."""
    key = day.strftime("%Y%m%d")
    counter = session.get(ReferenceCounter, (station_code, key))
    if counter is None:
        counter = ReferenceCounter(station_code=station_code, day=key, last_sequence=0)
        session.add(counter)
    counter.last_sequence += 1
    return format_reference(station_code, day, counter.last_sequence)
