"""A call forced through a coturn the tests start (tests/turnd.py), relay-only on both
ends, and the call's TURN credential expiring while the call is on.

The district runs with DISTRICT_TURN_URLS/SECRET/TTL_S and DISTRICT_ICE_POLICY=relay, so
it hands `ice_policy` "relay" and one minted credential to the kiosk (Assigned) and to the
page (CallInfo). Both ends' selected candidate pairs are checked to be relay candidates
on coturn's relay ports (the page through getStats(), the kiosk through aioice's
nominated pair as in tests/remote/test_turn.py): a relay candidate's address is one coturn
allocated, which is how the tests see that coturn made the allocations (its production
log does not record successful allocations).

What expiry means, as found with this coturn (4.6, REST-secret mode), 2026-12-07: coturn
checks the username's expiry when it first authenticates a session. A credential past its
expiry is refused for a new allocation (401), but a session authenticated before keeps
its key: its Refresh (LIFETIME 600 granted) and CreatePermission requests are accepted
after the expiry. So a call set up before its credential expired carries on, and the
leaked credential is worth nothing for a new relay. The test checks exactly that: frames
keep flowing both ways after the expiry (by content), and TurnClient with the call's own
credential is refused with 401. DISTRICT_TURN_TTL_S cannot be below 60, so that test
waits about a minute.
"""

# ruff: noqa: F811  (the fixtures imported from test_browser_call are used by name)
from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.chromium_driver import Chromium
from tests.browser.test_browser_call import (
    AGENT,
    GROUP,
    PASSWORD,
    READ_SHOWN_JS,
    WAIT_S,
    Camera,
    Events,
    Station,
    agent_browser,  # noqa: F401  (a fixture, used by name)
    call_desk,
    open_calls,
    start_call,
    station,  # noqa: F401  (a fixture, used by name)
    take_next,
    wait,
)
from tests.district.test_sync_e2e import DistrictServer
from tests.turnd import TurnClient, TurnRefused, TurnServer

# The page's selected candidate pair (null until there is one).
SELECTED_PAIR_JS = """
const done = arguments[arguments.length - 1];
const pc = window.doorstepCall && window.doorstepCall.pc;
if (!pc) { done(null); return; }
pc.getStats().then((report) => {
  let pair = null;
  report.forEach((s) => {
    const id = s.type === "transport" && s.selectedCandidatePairId;
    if (id) pair = report.get(id);
  });
  if (!pair) { done(null); return; }
  const local = report.get(pair.localCandidateId), remote = report.get(pair.remoteCandidateId);
  const config = pc.getConfiguration();
  done({
    local: local.candidateType, localAddress: local.address, localPort: local.port,
    remote: remote.candidateType, policy: config.iceTransportPolicy,
    username: config.iceServers.length ? config.iceServers[0].username : null,
    credential: config.iceServers.length ? config.iceServers[0].credential : null,
  });
}, (error) => done(String(error)));
"""


@pytest.fixture
def turn_ttl_s() -> int:
    return 600


@pytest.fixture
def district(
    tmp_path: Path, turnd: TurnServer, turn_ttl_s: int, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DistrictServer]:
    """test_browser_call's district, its `serve` told to force calls through `turnd`."""
    for name, value in turnd.environment(ttl_s=turn_ttl_s, policy="relay").items():
        monkeypatch.setenv(name, value)
    server = DistrictServer(
        f"sqlite:///{tmp_path / 'district.sqlite3'}", tmp_path / "server.key", tmp_path / "d.log"
    )
    server.cli("catalog", "import", str(Path("assets/catalog/sample-catalog.toml").resolve()))
    server.cli(
        "user", "add", AGENT, "--role", "agent", "--station-group", GROUP,
        "--password-stdin", stdin=PASSWORD + "\n",
    )  # fmt: skip
    server.start()
    yield server
    server.stop()
    log = server.log.read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in log, log[-3000:]


def relay_ports(turnd: TurnServer) -> range:
    conf = dict(
        line.split("=", 1)
        for line in (turnd.root / "turnserver.conf").read_text(encoding="utf-8").splitlines()
        if "=" in line
    )
    return range(int(conf["min-port"]), int(conf["max-port"]) + 1)


def page_pair(browser: Chromium) -> Any:
    return browser.driver.execute_async_script(SELECTED_PAIR_JS)


def kiosk_pair(client: Any) -> Any:
    """The kiosk's nominated pair, read on the client's loop (aiortc has no pair stats)."""

    async def read() -> Any:
        call = client._call
        pc = call.peer._pc
        connection = pc.getTransceivers()[0].sender.transport.transport._connection
        (pair,) = connection._nominated.values()
        return pair

    return client._runner(read()).result(10)


def connected_through_the_relay(
    turnd: TurnServer, station: Station, browser: Chromium, events: Events, client: Any
) -> dict[str, Any]:
    take_next(browser)
    wait(
        "connected at the kiosk",
        lambda: events.state() is not None and events.state().value == "connected",
        seen=lambda: (events.all, browser.console_messages()),
    )
    ports = relay_ports(turnd)
    page = wait("the page's selected pair", lambda: page_pair(browser))
    assert page["policy"] == "relay", page
    assert page["local"] == "relay" and page["remote"] == "relay", page
    assert page["localAddress"] == turnd.host and page["localPort"] in ports, page
    pair = kiosk_pair(client)
    assert pair.local_candidate.type == "relay" and pair.remote_candidate.type == "relay"
    assert pair.local_candidate.host == turnd.host and pair.local_candidate.port in ports
    return page


def frames_flow(browser: Chromium, client: Any) -> None:
    """Newer kiosk frames on the page (by stamp) and the agent's picture at the kiosk."""
    driver = browser.driver
    first = wait("a stamped kiosk frame on the page", lambda: driver.execute_script(READ_SHOWN_JS))
    wait(
        "newer kiosk frames on the page",
        lambda: (driver.execute_script(READ_SHOWN_JS) or 0) > first + 10,
    )
    from tests.browser.fake_camera import looks_like_agent as agent_picture

    decoded = client.stats().result(10).frames_decoded

    def kiosk_sees_agent() -> bool:
        frame = client.remote_frames.latest()
        return (
            frame is not None
            and agent_picture(frame.image)
            and client.stats().result(10).frames_decoded > decoded + 10
        )

    wait("the agent's picture at the kiosk, newer frames", kiosk_sees_agent)


def test_a_relay_only_call_goes_through_coturn_on_both_ends(
    district: DistrictServer, station: Station, agent_browser: Chromium, turnd: TurnServer
) -> None:
    events, camera = Events(), Camera()
    client = start_call(station, events, camera)
    try:
        connected_through_the_relay(turnd, station, agent_browser, events, client)
        frames_flow(agent_browser, client)
        client.end()
        wait("the page's call ended", lambda: call_desk(agent_browser, "ended") == "resident")
    finally:
        client.stop()
        camera.stop()
    assert open_calls(district) == []


@pytest.mark.parametrize("turn_ttl_s", [60])
def test_the_calls_credential_expires_and_the_call_goes_on(
    district: DistrictServer, station: Station, agent_browser: Chromium, turnd: TurnServer
) -> None:
    events, camera = Events(), Camera()
    client = start_call(station, events, camera)
    try:
        page = connected_through_the_relay(turnd, station, agent_browser, events, client)
        frames_flow(agent_browser, client)
        expiry = int(page["username"].split(":", 1)[0])
        wait("the credential's expiry", lambda: time.time() > expiry + 2, timeout=120 + WAIT_S)
        with (
            TurnClient(turnd.address, page["username"], page["credential"]) as late,
            pytest.raises(TurnRefused) as refused,
        ):
            late.allocate()
        assert refused.value.code == 401
        frames_flow(agent_browser, client)  # the call authenticated before goes on
        assert events.state().value == "connected"
        client.end()
        wait("the page's call ended", lambda: call_desk(agent_browser, "ended") == "resident")
    finally:
        client.stop()
        camera.stop()
    assert open_calls(district) == []
