"""What a card reader reports: `CardEvent`s of an `EventKind`. Shared by the PC/SC service
and the simulator, and light to import (no PC/SC): the interface handles these."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from kiosk.core.identity import Identity
from kiosk.devices.card.errors import CardError


class EventKind(StrEnum):
    SERVICE_UP = "service-up"
    SERVICE_DOWN = "service-down"
    READER_ADDED = "reader-added"
    READER_REMOVED = "reader-removed"
    CARD_INSERTED = "card-inserted"
    CARD_REMOVED = "card-removed"
    CARD_READ = "card-read"
    READ_FAILED = "read-failed"


@dataclass(frozen=True)
class CardEvent:
    """Something the card-reader service saw. `identity` is unmasked: show `describe()`."""

    kind: EventKind
    reader: str | None = None
    atr: bytes = b""
    identity: Identity | None = None
    error: CardError | None = None
    at: float = field(default_factory=time.monotonic)

    def to_json(self) -> dict[str, Any]:
        """A masked, JSON-ready form for `kiosk card watch --json` and logs."""
        out: dict[str, Any] = {"event": self.kind.value, "reader": self.reader}
        if self.atr:
            out["atr"] = self.atr.hex(" ").upper()
        if self.identity is not None:
            out["identity"] = self.identity.to_display()
        if self.error is not None:
            out["error"] = self.error.name
            out["message"] = self.error.staff_message
        return out

    def describe(self) -> str:
        """One masked line for a person."""
        parts = [f"{self.kind.value.replace('-', ' '):<15}", self.reader or ""]
        if self.atr:
            parts.append(f"ATR {self.atr.hex(' ').upper()}")
        if self.identity is not None:
            shown = self.identity.to_display()
            parts.append(f"{shown['name'] or '?'} card {shown['card_number']}")
            if not self.identity.complete:
                parts.append(f"(missing: {', '.join(self.identity.missing)})")
        if self.error is not None:
            parts.append(f"{self.error.name}: {self.error.staff_message}")
        return "  ".join(part for part in parts if part).rstrip()
