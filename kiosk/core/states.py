"""The states an application goes through, and what staff screens see of one: no
database here, so the interface can import it without the store (see
kiosk.core.applications for the state machine's rules and operations)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class State(StrEnum):
    DRAFT = "draft"
    READY = "ready"
    QUEUED = "queued"
    SUBMITTED = "submitted"
    NEEDS_MORE = "needs_more"  # 补正: the district asks for more; the reason says what
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    READY_FOR_PICKUP = "ready_for_pickup"
    COMPLETED = "completed"


TRANSITIONS: Mapping[State, frozenset[State]] = {
    State.DRAFT: frozenset({State.READY}),
    State.READY: frozenset({State.DRAFT, State.QUEUED}),
    State.QUEUED: frozenset({State.SUBMITTED, State.REJECTED}),
    State.SUBMITTED: frozenset({State.ACCEPTED, State.NEEDS_MORE, State.REJECTED}),
    State.NEEDS_MORE: frozenset({State.ACCEPTED, State.REJECTED}),
    State.ACCEPTED: frozenset({State.READY_FOR_PICKUP, State.COMPLETED, State.REJECTED}),
    State.READY_FOR_PICKUP: frozenset({State.COMPLETED}),
    State.REJECTED: frozenset(),
    State.COMPLETED: frozenset(),
}

#: States an application may be discarded in (nothing has left the kiosk yet).
DISCARDABLE = frozenset({State.DRAFT, State.READY})

#: States the district sets (through sync), and the local states it may set them from.
REMOTE_STATES = frozenset(
    {State.NEEDS_MORE, State.ACCEPTED, State.READY_FOR_PICKUP, State.COMPLETED, State.REJECTED}
)
SENT = frozenset(
    {State.QUEUED, State.SUBMITTED, State.NEEDS_MORE, State.ACCEPTED, State.READY_FOR_PICKUP,
     State.COMPLETED, State.REJECTED}
)


@dataclass(frozen=True)
class ApplicationView:
    """What staff screens and commands see of an application (no personal data)."""

    id: str
    reference: str
    item_code: str
    item_name_zh: str
    item_name_en: str
    state: State
    reason: str | None
    material_count: int
