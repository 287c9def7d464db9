"""The signaling protocol of remote assistance: the JSON messages a station and an agent
exchange with the district over their WebSockets (shared by both ends, like
`kiosk.sync.wire` for sync).

Two sockets, one per side:

    GET /v1/calls/ws        the station: the upgrade request carries the same Ed25519
                            signature headers as every sync request (signed over
                            `GET /v1/calls/ws` and an empty body); an unenrolled or
                            revoked station is refused with close code 4403
    GET /console/calls/ws   an agent or supervisor: their console session cookie, from
                            the console's own origin; any other role gets 4403

Each frame is one JSON object with a `type`. Media never crosses the district: the SDP
does, and media goes peer to peer (or through the district's TURN). The kiosk always
makes the offer; aiortc gathers every candidate before its offer is made, and the agent's
browser answers once its own gathering is done, so there is no trickle.

A call, as the station sees it:

    request ─→ queued* ─→ assigned ─→ offer ─→ answer ─→ (media) ─→ ended
                 │                        ↑                 │
                 └→ unavailable           └── offer (attempt+1) ←┘ media lost

- The station names the call (`call`, a UUID it makes), so a request repeated after a
  dropped socket is the same call, not a second one.
- `queued` comes again whenever the place in the queue or the estimate changes.
- `unavailable`: no agent serves this station now (or calls are off): the kiosk offers a
  call-back request instead.
- After `assigned` the kiosk makes a peer connection with the ICE servers it names
  (minted per call: never a long-lived TURN credential, never a public STUN server) and
  offers; `attempt` counts fresh offers for the same call (aiortc cannot restart ICE).
- Both sides `ping` every `PING_S`; a side silent for `SILENT_S` is gone, and the
  district ends its call with reason `gone`.
- `end` from either side, `ended` from the district to both: a call ends once, and
  everything it made (captures, chat, the application) stays as it was.

An agent calling a station back (a call-back request the resident left, decided here
and in `district.calls`):

    agent: ring (the request) ─→ station: incoming (on its standby socket) ─→ the
      resident answers: request (the same call id, source callback) ─→ assigned ─→ …
      or declines / lets it ring: end (declined / no_answer)

- A station with no call keeps a standby socket open (the same signed socket, pinging,
  no request on it), so the district can reach it; an `incoming` call rings there.
- The call is the agent's from the start (they are busy on it while it rings); a
  station that is offline never heartbeats it and the sweep ends it (`gone`).

A supervisor, on the agent's request (decided here and in `district.calls`):

    agent: help ─→ supervisors see it in their queue ─→ supervisor: join
      station: watch ─→ offer (leg supervisor) ─→ answer (leg supervisor) ─→ (video)
    supervisor: take_over ─→ the agent: ended (takeover); station: watch_ended, then
      assigned (the supervisor now the call's agent) ─→ a fresh offer on the agent leg
    supervisor: end ─→ they leave (ended "left" to them; watch_ended to the station):
      the call goes on

- A call has two legs: `agent` (the call itself) and `supervisor` (a second peer
  connection from the kiosk to a supervisor who joined, the station's camera only: the
  station's microphone is opened once, by the agent's leg). `offer`, `answer` and
  `media` name their leg; the district routes each to the right side.
- The station shows that a supervisor is watching (the resident always knows who sees
  them); chat and captures reach everyone on the call.

Limits: a frame is at most `MAX_FRAME` bytes (a capture is a JPEG in base64 and the
largest frame), text at most `MAX_TEXT` characters; a frame that is not one of the
messages below is answered with `error` and otherwise ignored, never the end of a call.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

STATION_PATH = "/v1/calls/ws"
AGENT_PATH = "/console/calls/ws"

PING_S = 1.0
SILENT_S = 5.0
MAX_FRAME = 6 * 1024 * 1024
MAX_TEXT = 500
MAX_SDP = 20_000
MAX_ATTEMPT = 20  # fresh offers for one call, at most

#: Close codes (the 4000 range is the application's).
CLOSE_REFUSED = 4403  # not an enrolled station / not an agent
CLOSE_UNSIGNED = 4401  # no or bad signature, stale, replayed
CLOSE_REPLACED = 4409  # the same station or agent connected again elsewhere

_UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
CallId = Annotated[str, Field(pattern=_UUID)]
Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
Sdp = Annotated[str, Field(min_length=1, max_length=MAX_SDP)]
Attempt = Annotated[int, Field(ge=0, le=MAX_ATTEMPT)]

#: What the agent may ask the station to capture.
CaptureKind = Literal["card", "page", "photo"]
#: Why a call ended.
EndReason = Literal[
    "resident",  # the resident ended it
    "agent",  # the agent ended it
    "gone",  # a side went silent or its socket closed
    "media",  # the media path was lost more often than the kiosk offers again
    "unavailable",  # nobody could take it
    "replaced",  # the station started another call
    "server",  # the district shut down
    "takeover",  # (to the agent) their supervisor took the call over
    "declined",  # the resident did not take the agent's call
    "no_answer",  # the agent's call rang at the station unanswered
    "busy",  # the station was serving a resident when the agent called
    "left",  # (to a supervisor) they left the call, which goes on
]
AgentState = Literal["available", "busy", "break", "after_call", "offline"]
#: The two peer connections of a call: the agent's, and a supervisor's who joined.
Leg = Literal["agent", "supervisor"]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Ping(_Message):
    type: Literal["ping"] = "ping"


class ErrorMessage(_Message):
    type: Literal["error"] = "error"
    code: str
    message: str


# -- station → district -----------------------------------------------------------------


class CallRequest(_Message):
    """The resident asks for an agent."""

    type: Literal["request"] = "request"
    call: CallId
    item_code: Annotated[str, Field(max_length=16)] = ""
    item_title: Annotated[str, Field(max_length=200)] = ""
    category: Annotated[str, Field(max_length=60)] = ""
    application: CallId | None = None  # when the visit already made one
    identity: Annotated[str, Field(max_length=80)] = ""  # masked: 张*三 310***********1234
    source: Literal["guide", "review", "staff", "callback"] = "guide"
    audio: bool = False  # whether the station has a microphone and a speaker


class Offer(_Message):
    type: Literal["offer"] = "offer"
    call: CallId
    attempt: Attempt = 0
    sdp: Sdp
    leg: Leg = "agent"


class Capture(_Message):
    """An image the station captured for the agent (asked for, or one of the visit's
    materials when the call starts): JPEG or PNG, base64."""

    type: Literal["capture"] = "capture"
    call: CallId
    request: Annotated[str, Field(max_length=40)] = ""  # the CaptureRequest it answers
    kind: Literal["card", "page", "photo", "material"]
    label: Annotated[str, Field(max_length=200)] = ""
    media_type: Literal["image/jpeg", "image/png"] = "image/jpeg"
    data: Annotated[str, Field(min_length=4, max_length=MAX_FRAME)]


# -- agent → district -------------------------------------------------------------------


class Presence(_Message):
    """The agent says what they are doing (a break needs a reason)."""

    type: Literal["presence"] = "presence"
    state: Literal["available", "break", "after_call"]
    reason: Annotated[str, Field(max_length=100)] = ""


class Take(_Message):
    """The agent takes the next call for them, or a chosen one."""

    type: Literal["take"] = "take"
    call: CallId | None = None


class Answer(_Message):
    type: Literal["answer"] = "answer"
    call: CallId
    attempt: Attempt = 0
    sdp: Sdp
    leg: Leg = "agent"  # the district sets it from who answers


class Ring(_Message):
    """The agent calls the station a call-back request came from."""

    type: Literal["ring"] = "ring"
    callback: CallId


class Help(_Message):
    """The agent on a call asks their group's supervisors for help."""

    type: Literal["help"] = "help"
    call: CallId


class Join(_Message):
    """A supervisor joins a call whose agent asked for help: they see it (the kiosk sends
    them a second stream) and can chat, ask for captures, take it over or leave."""

    type: Literal["join"] = "join"
    call: CallId


class TakeOver(_Message):
    """A supervisor who joined a call takes it over: they become its agent."""

    type: Literal["take_over"] = "take_over"
    call: CallId


class CaptureRequest(_Message):
    """The agent asks the station for a capture, with the words the resident hears."""

    type: Literal["capture_request"] = "capture_request"
    call: CallId
    request: Annotated[str, Field(min_length=1, max_length=40)]
    kind: CaptureKind
    words: Annotated[str, Field(max_length=MAX_TEXT)] = ""


# -- both sides -------------------------------------------------------------------------


class Chat(_Message):
    type: Literal["chat"] = "chat"
    call: CallId
    text: Text
    sender: Literal["resident", "agent", "supervisor", ""] = ""  # the district fills it


class MediaState(_Message):
    """A side reports its media path: connected (frames arrive), or lost."""

    type: Literal["media"] = "media"
    call: CallId
    attempt: Attempt = 0
    state: Literal["connected", "lost"]
    leg: Leg = "agent"


class End(_Message):
    type: Literal["end"] = "end"
    call: CallId
    reason: EndReason = "resident"


# -- district → station -----------------------------------------------------------------


class Queued(_Message):
    type: Literal["queued"] = "queued"
    call: CallId
    position: Annotated[int, Field(ge=1)]
    wait_s: Annotated[int, Field(ge=0)]
    agents: Annotated[int, Field(ge=0)]  # agents serving this station who are available


class Unavailable(_Message):
    type: Literal["unavailable"] = "unavailable"
    call: CallId
    reason: Literal["no_agents", "disabled", "closed"]


class IceServer(_Message):
    urls: list[str]
    username: str | None = None
    credential: str | None = None


class Assigned(_Message):
    type: Literal["assigned"] = "assigned"
    call: CallId
    agent: Annotated[str, Field(max_length=64)]  # the agent's display name
    ice_servers: list[IceServer] = []
    ice_policy: Literal["all", "relay"] = "all"
    attempt: Attempt = 0


class Incoming(_Message):
    """An agent calls this station (a call-back): the kiosk rings, and answers with a
    `request` under this call id (source `callback`), or ends it."""

    type: Literal["incoming"] = "incoming"
    call: CallId
    agent: Annotated[str, Field(max_length=64)]
    item_code: Annotated[str, Field(max_length=16)] = ""
    item_title: Annotated[str, Field(max_length=200)] = ""
    callback: CallId


class Watch(_Message):
    """A supervisor joined: the station offers them a second stream (leg `supervisor`)."""

    type: Literal["watch"] = "watch"
    call: CallId
    supervisor: Annotated[str, Field(max_length=64)]  # the supervisor's display name
    ice_servers: list[IceServer] = []
    ice_policy: Literal["all", "relay"] = "all"
    attempt: Attempt = 0


class WatchEnded(_Message):
    """The supervisor left (or took the call over): the station closes that stream."""

    type: Literal["watch_ended"] = "watch_ended"
    call: CallId


class Decision(_Message):
    """The agent decided the call's application (it also flows through the changes feed)."""

    type: Literal["decision"] = "decision"
    call: CallId
    application: CallId
    state: str
    reason: Annotated[str, Field(max_length=2000)] = ""


class Ended(_Message):
    type: Literal["ended"] = "ended"
    call: CallId
    reason: EndReason


# -- district → agent -------------------------------------------------------------------


class WaitingCall(_Message):
    call: CallId
    station: str
    item_title: str
    category: str
    waited_s: int
    mine: bool  # routed to this agent's skills


class HelpCall(_Message):
    """A call whose agent asked for a supervisor (in a supervisor's queue view)."""

    call: CallId
    station: str
    item_title: str
    agent: str
    asked_s: int


class QueueView(_Message):
    """The queue as this agent sees it (their group's waiting calls), and their state; a
    supervisor also sees the group's calls that asked for help."""

    type: Literal["queue"] = "queue"
    state: AgentState
    waiting: list[WaitingCall]
    help: list[HelpCall] = []


class SupervisorState(_Message):
    """To the agent on a call: their help request is out, a supervisor joined, or left."""

    type: Literal["supervisor"] = "supervisor"
    call: CallId
    state: Literal["asked", "joined", "left"]
    name: Annotated[str, Field(max_length=64)] = ""


class CallInfo(_Message):
    """The call an agent took: who, what, and how to reach the station's media."""

    type: Literal["call"] = "call"
    call: CallId
    station: str
    item_code: str
    item_title: str
    category: str
    identity: str
    application: CallId | None
    audio: bool
    ice_servers: list[IceServer] = []
    ice_policy: Literal["all", "relay"] = "all"
    watching: bool = False  # a supervisor who joined (not the call's agent)
    agent: Annotated[str, Field(max_length=64)] = ""  # the call's agent, for a supervisor


class CaptureArrived(_Message):
    """A capture reached the district: the console fetches it from `url`."""

    type: Literal["capture_arrived"] = "capture_arrived"
    call: CallId
    request: str
    kind: str
    label: str
    url: str


StationSends = Ping | CallRequest | Offer | Capture | Chat | MediaState | End
AgentSends = (
    Ping
    | Presence
    | Take
    | Answer
    | CaptureRequest
    | Chat
    | MediaState
    | End
    | Help
    | Join
    | TakeOver
    | Ring
)
ToStation = (
    Ping
    | Queued
    | Unavailable
    | Assigned
    | Incoming
    | Watch
    | WatchEnded
    | Answer
    | CaptureRequest
    | Chat
    | Decision
    | Ended
    | ErrorMessage
)
ToAgent = (
    Ping
    | QueueView
    | CallInfo
    | Offer
    | CaptureArrived
    | Chat
    | MediaState
    | SupervisorState
    | Ended
    | ErrorMessage
)

_FROM_STATION: TypeAdapter[Any] = TypeAdapter(Annotated[StationSends, Field(discriminator="type")])
_FROM_AGENT: TypeAdapter[Any] = TypeAdapter(Annotated[AgentSends, Field(discriminator="type")])
_TO_STATION: TypeAdapter[Any] = TypeAdapter(Annotated[ToStation, Field(discriminator="type")])
_TO_AGENT: TypeAdapter[Any] = TypeAdapter(Annotated[ToAgent, Field(discriminator="type")])


class BadMessage(ValueError):
    """A frame that is not a message of the protocol (the text says what is wrong,
    without echoing the frame: it may hold personal data)."""


def _parse(adapter: TypeAdapter[Any], frame: str | bytes) -> Any:
    if len(frame) > MAX_FRAME:
        raise BadMessage(f"a frame is at most {MAX_FRAME} bytes")
    try:
        data = json.loads(frame)
    except (ValueError, UnicodeDecodeError):
        raise BadMessage("the frame is not JSON") from None
    if not isinstance(data, dict):
        raise BadMessage("a message is a JSON object")
    try:
        return adapter.validate_python(data)
    except ValidationError as error:
        where = {".".join(str(p) for p in e["loc"]) or "message" for e in error.errors()}
        kind = data.get("type")
        name = kind if isinstance(kind, str) and len(kind) < 30 else "?"
        raise BadMessage(f"not a valid {name!r} message ({', '.join(sorted(where))})") from None


def from_station(frame: str | bytes) -> StationSends:
    """A message a station sent (the district reads it)."""
    return _parse(_FROM_STATION, frame)


def from_agent(frame: str | bytes) -> AgentSends:
    """A message an agent's console sent (the district reads it)."""
    return _parse(_FROM_AGENT, frame)


def to_station(frame: str | bytes) -> ToStation:
    """A message the district sent a station (the kiosk reads it)."""
    return _parse(_TO_STATION, frame)


def to_agent(frame: str | bytes) -> ToAgent:
    """A message the district sent an agent (tests read it like the console does)."""
    return _parse(_TO_AGENT, frame)


def dump(message: _Message) -> str:
    return message.model_dump_json(exclude_none=False)
