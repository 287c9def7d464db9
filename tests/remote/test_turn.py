"""TURN for calls: the district's settings, its per-call credentials as coturn checks them,
and a call between two aiortc peers forced through the tests' coturn (tests/turnd.py),
which must refuse a credential that expired or was minted with another secret, and, with
the production rules, any peer on the loopback or a private or reserved range.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from district.turn import (
    DEFAULT_TTL_S,
    TurnSettings,
    TurnSettingsError,
    ice_for_call,
    mint,
)
from kiosk.remote.protocol import IceServer
from tests.turnd import TurnClient, TurnRefused, TurnServer

CALL = "0f8fad5b-d9cb-469f-a165-70867728950e"
WAIT_S = 60.0  # generous: two cores shared by several test runs
NO_CALL_WAIT_S = 10.0  # how long a call that must not connect is given
T = TypeVar("T")


def run(work: Awaitable[T], timeout: float = WAIT_S) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(work, timeout)

    return asyncio.run(bounded())


# -- settings -----------------------------------------------------------------------------


def test_no_turn_on_a_lan() -> None:
    lan = TurnSettings.from_env({})
    assert lan == TurnSettings()
    assert ice_for_call(lan, CALL) == ([], "all")


def test_settings_from_the_environment(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("  file secret \n", encoding="utf-8")
    parsed = TurnSettings.from_env(
        {
            "DISTRICT_TURN_URLS": " turn:turn.example:3478?transport=udp , turns:t.example:5349,",
            "DISTRICT_TURN_SECRET": "ignored: the file wins",
            "DISTRICT_TURN_SECRET_FILE": str(secret_file),
            "DISTRICT_TURN_TTL_S": "120",
            "DISTRICT_ICE_POLICY": "relay",
        }
    )
    assert parsed.urls == ("turn:turn.example:3478?transport=udp", "turns:t.example:5349")
    assert parsed.secret == b"file secret"
    assert (parsed.ttl_s, parsed.policy) == (120, "relay")

    plain = TurnSettings.from_env(
        {"DISTRICT_TURN_URLS": "turn:t:3478", "DISTRICT_TURN_SECRET": "s"}
    )
    assert (plain.secret, plain.ttl_s, plain.policy) == (b"s", DEFAULT_TTL_S, "all")


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"DISTRICT_TURN_URLS": "stun:stun.example:3478", "DISTRICT_TURN_SECRET": "s"}, "turn:"),
        ({"DISTRICT_TURN_URLS": "https://turn.example", "DISTRICT_TURN_SECRET": "s"}, "turn:"),
        ({"DISTRICT_TURN_URLS": "turn:t:3478"}, "no TURN secret"),
        (
            {"DISTRICT_TURN_URLS": "turn:t:3478", "DISTRICT_TURN_SECRET_FILE": "/nonexistent/s"},
            "DISTRICT_TURN_SECRET_FILE",
        ),
        ({"DISTRICT_TURN_TTL_S": "ten"}, "whole number"),
        ({"DISTRICT_TURN_TTL_S": "59"}, "between 60 and 86400"),
        ({"DISTRICT_TURN_TTL_S": "86401"}, "between 60 and 86400"),
        ({"DISTRICT_TURN_TTL_S": "-600"}, "between 60 and 86400"),
        ({"DISTRICT_ICE_POLICY": "none"}, "all or relay"),
        ({"DISTRICT_ICE_POLICY": "relay"}, "needs DISTRICT_TURN_URLS"),
    ],
)
def test_bad_settings_are_refused_with_the_reason(env: dict[str, str], words: str) -> None:
    with pytest.raises(TurnSettingsError, match=words):
        TurnSettings.from_env(env)


def test_an_unreadable_secret_file_names_the_file(tmp_path: Path) -> None:
    env = {"DISTRICT_TURN_URLS": "turn:t:3478", "DISTRICT_TURN_SECRET_FILE": str(tmp_path)}
    with pytest.raises(TurnSettingsError, match=str(tmp_path)):
        TurnSettings.from_env(env)


_env_text = st.text(st.characters(blacklist_characters="\x00"), max_size=60)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    urls=st.one_of(
        _env_text,
        st.lists(
            st.sampled_from(["turn:t:3478", "turns:t:5349", " turn:t ", "stun:t", "", "x"]),
            max_size=4,
        ).map(",".join),
    ),
    secret=st.one_of(st.none(), _env_text),
    secret_file=st.sampled_from(["", "missing", "folder", "file"]),
    ttl=st.one_of(st.none(), _env_text, st.integers(-10, 100_000).map(str)),
    policy=st.one_of(st.none(), _env_text, st.sampled_from(["all", "relay", "RELAY", ""])),
)
def test_any_environment_gives_usable_settings_or_a_settings_error(
    tmp_path: Path,
    urls: str,
    secret: str | None,
    secret_file: str,
    ttl: str | None,
    policy: str | None,
) -> None:
    (tmp_path / "file").write_text("a secret", encoding="utf-8")
    (tmp_path / "folder").mkdir(exist_ok=True)
    env = {"DISTRICT_TURN_URLS": urls}
    for name, value in (
        ("DISTRICT_TURN_SECRET", secret),
        ("DISTRICT_TURN_TTL_S", ttl),
        ("DISTRICT_ICE_POLICY", policy),
    ):
        if value is not None:
            env[name] = value
    if secret_file:
        env["DISTRICT_TURN_SECRET_FILE"] = str(tmp_path / secret_file)
    try:
        parsed = TurnSettings.from_env(env)
    except TurnSettingsError:
        return
    assert all(url.startswith(("turn:", "turns:")) and url == url.strip() for url in parsed.urls)
    assert not parsed.urls or parsed.secret
    assert 60 <= parsed.ttl_s <= 86400
    assert parsed.policy in ("all", "relay")
    assert parsed.policy == "all" or parsed.urls
    servers, policy_used = ice_for_call(parsed, CALL, now=1_000_000)
    assert policy_used == (parsed.policy if parsed.urls else "all")
    for server in servers:
        assert server.urls == list(parsed.urls)
        assert server.username == f"{1_000_000 + parsed.ttl_s}:{CALL}"


# -- credentials --------------------------------------------------------------------------


def _coturn_password(secret: bytes, username: str) -> str:
    """coturn's own check, written out: base64 of HMAC-SHA1(secret, username)."""
    return base64.b64encode(hmac.new(secret, username.encode(), hashlib.sha1).digest()).decode()


@given(
    secret=st.binary(min_size=1, max_size=64),
    name=st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=60),
    ttl=st.integers(60, 86400),
    now=st.floats(0, 4e9),
)
def test_mint_is_coturns_rest_scheme(secret: bytes, name: str, ttl: int, now: float) -> None:
    username, password = mint(secret, name, ttl, now=now)
    expiry, _, rest = username.partition(":")
    assert int(expiry) == int(now + ttl) and rest == name
    assert password == _coturn_password(secret, username)
    assert len(base64.b64decode(password)) == 20


def test_ice_for_call_mints_a_fresh_credential_for_each_call() -> None:
    relayed = TurnSettings(("turn:t:3478",), b"secret", 300, "relay")
    (first,), policy = ice_for_call(relayed, CALL, now=1000)
    (other,), _ = ice_for_call(relayed, "9a8b7c6d-0000-4000-8000-000000000001", now=1000)
    assert policy == "relay"
    assert first.username == f"1300:{CALL}"
    assert first.credential == _coturn_password(b"secret", first.username)
    assert other.credential != first.credential


def test_coturn_accepts_a_minted_credential(turnd: TurnServer) -> None:
    (server,), _ = ice_for_call(turnd.settings(), CALL)
    assert server.username is not None and server.credential is not None
    with TurnClient(turnd.address, server.username, server.credential) as client:
        host, port = client.allocate()
    assert host == turnd.host and port > 0


@pytest.mark.parametrize("fault", ["expired", "wrong secret", "tampered expiry"])
def test_coturn_refuses_a_bad_credential(turnd: TurnServer, fault: str) -> None:
    settings_ = turnd.settings(ttl_s=60)
    if fault == "expired":
        username, password = mint(settings_.secret, CALL, 60, now=time.time() - 3600)
    elif fault == "wrong secret":
        username, password = mint(b"not the district's secret", CALL, 600)
    else:  # a leaked credential made to last longer: the HMAC no longer matches
        username, password = mint(settings_.secret, CALL, 60)
        username = f"{int(time.time()) + 86400}:{CALL}"
    with (
        TurnClient(turnd.address, username, password) as client,
        pytest.raises(TurnRefused) as refused,
    ):
        client.allocate()
    assert refused.value.code == 401


# -- the production peer rules ------------------------------------------------------------


@pytest.fixture(scope="module")
def production_turnd(tmp_path_factory: pytest.TempPathFactory) -> TurnServer:
    server = TurnServer(tmp_path_factory.mktemp("turnd-production"), loopback_peers=False)
    server.start()
    yield server  # type: ignore[misc]
    server.stop()


DENIED = [
    "127.0.0.1",
    "127.255.255.254",
    "0.0.0.0",
    "0.1.2.3",  # CVE-2020-26262: 0.0.0.0/8 reached the loopback
    "10.1.2.3",
    "100.64.0.1",
    "169.254.169.254",  # cloud metadata services live here
    "172.16.0.1",
    "172.31.255.254",
    "192.0.0.8",
    "192.0.2.1",
    "192.168.1.1",
    "198.18.0.1",
    "198.51.100.7",
    "203.0.113.9",
    "224.0.0.251",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
]
#: Public addresses just outside the denied ranges. A permission sends nothing: coturn only
#: notes it, so naming public addresses here reaches no one.
ALLOWED = ["1.1.1.1", "100.128.0.1", "172.32.0.1", "192.167.255.254", "223.255.255.254"]


def test_production_rules_refuse_loopback_private_and_reserved_peers(
    production_turnd: TurnServer,
) -> None:
    (server,), _ = ice_for_call(production_turnd.settings(), CALL)
    assert server.username is not None and server.credential is not None
    with TurnClient(production_turnd.address, server.username, server.credential) as client:
        client.allocate()
        refused = {}
        for peer in DENIED:
            with pytest.raises(TurnRefused) as error:
                client.permit(peer)
            refused[peer] = error.value.code
        for peer in ALLOWED:
            client.permit(peer)
    assert set(refused.values()) == {403}, refused


def test_the_tests_coturn_relays_between_loopback_peers_only(turnd: TurnServer) -> None:
    (server,), _ = ice_for_call(turnd.settings(), CALL)
    assert server.username is not None and server.credential is not None
    with TurnClient(turnd.address, server.username, server.credential) as client:
        client.allocate()
        client.permit("127.0.0.1")
        for peer in ("127.0.0.2", "0.0.0.0", "10.1.2.3", "192.168.1.1"):
            with pytest.raises(TurnRefused):
                client.permit(peer)


# -- a call through the relay -------------------------------------------------------------

KIOSK_COLOUR = (40, 200, 40)  # BGR: green
AGENT_COLOUR = (200, 40, 200)  # magenta


def _rtc_configuration(servers: list[IceServer], policy: str) -> object:
    from aiortc import RTCConfiguration, RTCIceServer
    from aiortc.rtcconfiguration import RTCIceTransportPolicy

    return RTCConfiguration(
        iceServers=[
            RTCIceServer(urls=s.urls, username=s.username, credential=s.credential) for s in servers
        ],
        iceTransportPolicy=RTCIceTransportPolicy(policy),
    )


def _colour_track(bgr: tuple[int, int, int]) -> object:
    import av
    from aiortc import VideoStreamTrack

    image = np.empty((240, 320, 3), np.uint8)
    image[:] = bgr

    class ColourTrack(VideoStreamTrack):
        async def recv(self) -> av.VideoFrame:
            pts, time_base = await self.next_timestamp()
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts, frame.time_base = pts, time_base
            return frame

    return ColourTrack()


async def _frames_of_colour(track: object, bgr: tuple[int, int, int], count: int) -> None:
    """`count` decoded frames arrive on `track`, each of colour `bgr` (as VP8 keeps it)."""
    seen = 0
    while seen < count:
        frame = await track.recv()  # type: ignore[attr-defined]
        mean = frame.to_ndarray(format="bgr24").reshape(-1, 3).mean(axis=0)
        assert np.abs(mean - np.array(bgr)).max() < 25, f"frame colour {mean} not {bgr}"
        seen += 1


def _relay_candidates(sdp: str) -> tuple[int, int]:
    """(relay candidates, all candidates) in a description."""
    lines = [line for line in sdp.splitlines() if line.startswith("a=candidate:")]
    return sum(" typ relay" in line for line in lines), len(lines)


def _selected_pair(pc: object) -> object:
    """The nominated candidate pair of a peer's one (bundled) ICE transport. aiortc has no
    getSelectedCandidatePair() and no candidate-pair stats, so this reads aioice's."""
    (transceiver,) = pc.getTransceivers()  # type: ignore[attr-defined]
    connection = transceiver.sender.transport.transport._connection
    (pair,) = connection._nominated.values()
    return pair


async def _relayed_call(turnd: TurnServer) -> None:
    from aiortc import RTCPeerConnection

    settings_ = turnd.settings(policy="relay")
    kiosk_servers, kiosk_policy = ice_for_call(settings_, CALL)
    agent_servers, agent_policy = ice_for_call(settings_, CALL)
    assert kiosk_policy == agent_policy == "relay"
    kiosk = RTCPeerConnection(_rtc_configuration(kiosk_servers, kiosk_policy))
    agent = RTCPeerConnection(_rtc_configuration(agent_servers, agent_policy))
    try:
        kiosk.addTrack(_colour_track(KIOSK_COLOUR))
        await kiosk.setLocalDescription(await kiosk.createOffer())
        relays, candidates = _relay_candidates(kiosk.localDescription.sdp)
        assert relays >= 1 and relays == candidates, kiosk.localDescription.sdp

        await agent.setRemoteDescription(kiosk.localDescription)
        agent.addTrack(_colour_track(AGENT_COLOUR))
        await agent.setLocalDescription(await agent.createAnswer())
        relays, candidates = _relay_candidates(agent.localDescription.sdp)
        assert relays >= 1 and relays == candidates, agent.localDescription.sdp
        await kiosk.setRemoteDescription(agent.localDescription)

        (from_kiosk,) = [t.receiver.track for t in agent.getTransceivers()]
        (from_agent,) = [t.receiver.track for t in kiosk.getTransceivers()]
        await asyncio.gather(
            _frames_of_colour(from_kiosk, KIOSK_COLOUR, 10),
            _frames_of_colour(from_agent, AGENT_COLOUR, 10),
        )
        assert kiosk.connectionState == agent.connectionState == "connected"
        for pc in (kiosk, agent):
            pair = _selected_pair(pc)
            assert pair.local_candidate.type == "relay", pair
            assert pair.remote_candidate.type == "relay", pair
            assert pair.local_candidate.host == turnd.host
    finally:
        await kiosk.close()
        await agent.close()


def test_a_call_forced_through_turn_carries_frames_both_ways(turnd: TurnServer) -> None:
    run(_relayed_call(turnd))


async def _call_with_refused_credential(turnd: TurnServer, servers: list[IceServer]) -> None:
    from aiortc import RTCPeerConnection

    good, _ = ice_for_call(turnd.settings(), CALL)
    kiosk = RTCPeerConnection(_rtc_configuration(servers, "relay"))
    agent = RTCPeerConnection(_rtc_configuration(good, "relay"))
    try:
        kiosk.addTrack(_colour_track(KIOSK_COLOUR))
        # aioice gives the TURN server a bounded time (5 s) while gathering: the offer comes
        # either way, without the relay candidate coturn refused to allocate.
        await kiosk.setLocalDescription(await kiosk.createOffer())
        assert _relay_candidates(kiosk.localDescription.sdp) == (0, 0)

        await agent.setRemoteDescription(kiosk.localDescription)
        agent.addTrack(_colour_track(AGENT_COLOUR))
        await agent.setLocalDescription(await agent.createAnswer())
        await kiosk.setRemoteDescription(agent.localDescription)
        # No pair can form (aioice then waits for candidates that never come, rather than
        # failing): within a generous wait no frame reaches the agent and nothing connects.
        (from_kiosk,) = [t.receiver.track for t in agent.getTransceivers()]
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(from_kiosk.recv(), NO_CALL_WAIT_S)
        assert "connected" not in (kiosk.connectionState, agent.connectionState)
    finally:
        await kiosk.close()
        await agent.close()


def test_a_call_with_an_expired_credential_cannot_connect(turnd: TurnServer) -> None:
    username, password = mint(turnd.secret.encode(), CALL, 60, now=time.time() - 3600)
    expired = [IceServer(urls=[turnd.url], username=username, credential=password)]
    run(_call_with_refused_credential(turnd, expired))


def test_a_call_with_a_credential_of_another_secret_cannot_connect(turnd: TurnServer) -> None:
    username, password = mint(b"another district's secret", CALL, 600)
    forged = [IceServer(urls=[turnd.url], username=username, credential=password)]
    run(_call_with_refused_credential(turnd, forged))
