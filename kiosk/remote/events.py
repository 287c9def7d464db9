"""What a call tells the kiosk's screens, and what the screens ask of a call.

`kiosk.remote.client.CallClient` runs on the network thread's asyncio loop and reports
each change as one of the events below through the callback it was given (called on the
network thread: the UI's `Bridge` turns it into a Qt signal). The screens never touch the
loop: they call the client's thread-safe methods (`start`, `end`, `send_chat`,
`send_capture`), which schedule the work on the loop and return at once.

The states a resident sees, in order: ASKING (the request is on its way) → WAITING (place
in the queue and an estimate, again whenever they change) → CONNECTING (an agent took the
call; media is being set up, or set up again after a lost path) → CONNECTED → ENDED. Or
UNAVAILABLE (offline, or no agent serves the station now): the screen offers a call-back
request instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CallState(StrEnum):
    ASKING = "asking"
    WAITING = "waiting"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    ENDED = "ended"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class CallRequestInfo:
    """What the visit tells the district when the resident asks for an agent."""

    item_code: str = ""
    item_title: str = ""
    category: str = ""
    application: str | None = None  # the visit's application id, when it made one
    identity: str = ""  # masked, as on screen
    source: str = "guide"  # guide | review | staff | callback


@dataclass(frozen=True, slots=True)
class StateChanged:
    call: str
    state: CallState
    position: int = 0  # WAITING: 1 is next
    wait_s: int = 0  # WAITING: the estimate
    agent: str = ""  # CONNECTING / CONNECTED: the agent's display name
    reason: str = ""  # ENDED / UNAVAILABLE: a protocol EndReason or Unavailable reason


@dataclass(frozen=True, slots=True)
class ChatLine:
    call: str
    text: str
    sender: str  # resident | agent | supervisor


@dataclass(frozen=True, slots=True)
class CaptureAsked:
    """The agent asks for a capture; the screen runs its capture and calls
    `CallClient.send_capture(request, kind, jpeg)` with the result."""

    call: str
    request: str
    kind: str  # card | page | photo
    words: str  # what the resident is told (and hears)


@dataclass(frozen=True, slots=True)
class DecisionMade:
    call: str
    application: str
    state: str
    reason: str


@dataclass(frozen=True, slots=True)
class SupervisorWatching:
    """A supervisor joined the call (the kiosk sends them its camera too), or left it: the
    screen says who is watching, so the resident always knows who sees them."""

    call: str
    name: str
    watching: bool


@dataclass(frozen=True, slots=True)
class IncomingCall:
    """An agent calls this station back (the resident's call-back request): the screen
    rings, and answers with `CallClient.answer(call, info)` or `decline(call)`."""

    call: str
    agent: str
    item_code: str
    item_title: str
    callback: str


@dataclass(frozen=True, slots=True)
class RingEnded:
    """The ringing call is over before it was answered: the agent gave up (`reason` a
    protocol EndReason), it rang out (`no_answer`), or the station lost the district."""

    call: str
    reason: str


CallEvent = (
    StateChanged
    | ChatLine
    | CaptureAsked
    | DecisionMade
    | SupervisorWatching
    | IncomingCall
    | RingEnded
)
