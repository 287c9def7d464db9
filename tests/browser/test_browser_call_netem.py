"""The network between kiosk and district broken under a call, below the sockets: the
kiosk's end of the call (`kiosk call`, a process of its own) runs in a network namespace
of its own, joined to the machine by a veth pair, and the test drops its packets there.
The district (`district serve`, reached through a FaultProxy listening on the veth's
machine-side address) and the agent's Chromium stay in the machine's namespace.

How packets are dropped, decided here: nftables rules in the kiosk's namespace (its input
and output, so both directions), not `tc netem`. This machine's kernel (and CI's, the same
kind) has no `sch_netem`, nor `sch_prio` or the `gact` action, so tc cannot drop a chosen
protocol; nf_tables it has, and `nft` is one Debian package (installer/system-packages.sh
installs it for the tests). A rule drops silently, as a broken line does: nothing tells
either end. No TURN here: the district hands no ICE servers, so both ends use host
candidates; the namespace's default route goes through the veth, so every address of
Chromium's is reachable from it.

The cases:

- the media lost (UDP dropped), signaling kept, and the loss lifted once the kiosk has
  offered again: the call recovers under the same call id, frames flow both ways again
  (by content: the kiosk's stamps on the page, the kiosk's decoded-frame count growing);
- the media lost for good, with `reoffers = 1`: the kiosk re-offers once, then ends the
  call with reason `media` (kiosk.remote.client's rule), and the page hears that reason;
- everything dropped (signaling and media): both ends end the call (the kiosk after
  SILENT_S, reason `gone`; the district's sweep ends it for the page);
- a lossy line (5 % of packets each way dropped at random): the call stays connected,
  frames still flow, and the page's quality word is worse than the best it showed before
  (with a loss figure above 0). A delay cannot be added without netem.

After each, nothing is left open in the queue and the station's synced application is as
it was, on the kiosk and at the district. Waits are generous, never timing assertions.

The namespace needs root (`ip netns add`): without it the tests fail with a message,
they never skip (CI runs as root).
"""

# ruff: noqa: F811  (the fixtures imported from test_browser_call are used by name)
from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from district.console import call_desk as desk
from kiosk.sync.client import enroll
from tests.browser.chromium_driver import Chromium
from tests.browser.test_browser_call import (
    GROUP,
    READ_SHOWN_JS,
    WAIT_S,
    agent_browser,  # noqa: F401  (a fixture, used by name)
    call_desk,
    district,  # noqa: F401  (a fixture, used by name)
    open_calls,
    take_next,
    wait,
)
from tests.district.test_sync_e2e import DistrictServer, Kiosk
from tests.faultproxy import FaultProxy

RANK = {key: rank for rank, (key, *_limits) in enumerate(desk.QUALITY)}  # 0: the best
# a lost path ends after MEDIA_SILENT_S, then each fresh offer may take MEDIA_SETUP_S
# (kiosk.remote.client): the waits for the media's end allow that and more
MEDIA_END_WAIT_S = 3 * WAIT_S
# The address of the far end of the page's selected candidate pair (null: none yet).
REMOTE_ADDRESS_JS = """
const done = arguments[arguments.length - 1];
const pc = window.doorstepCall && window.doorstepCall.pc;
if (!pc) { done(null); return; }
pc.getStats().then((report) => {
  let address = null;
  report.forEach((s) => {
    const pair = s.type === "transport" && report.get(s.selectedCandidatePairId);
    if (pair) address = report.get(pair.remoteCandidateId).address;
  });
  done(address);
}, () => done(null));
"""


def _ip() -> str:
    found = shutil.which("ip") or ("/usr/sbin/ip" if Path("/usr/sbin/ip").exists() else None)
    if found is None:
        pytest.fail("the network namespace tests need iproute2's `ip` (make system-test)")
    return found


def _run(*command: str) -> str:
    result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)}: {result.stderr.strip() or result.returncode}")
    return result.stdout


class Namespace:
    """A network namespace joined to the machine by a veth pair (a /30 of 10.213.0.0/16
    that no address of the machine's is in): `host` is the machine's end, `address` the
    namespace's. `drop(...)` makes the namespace's nftables drop packets, `heal()` stops."""

    def __init__(self) -> None:
        self.ip = _ip()
        tag = secrets.token_hex(3)
        self.name = f"doorstep-{tag}"
        self.outer, self.inner = f"dst{tag}m", f"dst{tag}k"
        self.host, self.address = self._free_subnet()
        self._made = False

    @staticmethod
    def _free_subnet() -> tuple[str, str]:
        taken = _run("ip", "-o", "-4", "addr", "show") + _run("ip", "-4", "route", "show")
        for _ in range(50):
            subnet = ipaddress.ip_network(f"10.213.{secrets.randbelow(254) + 1}.0/30")
            if f"10.213.{subnet.network_address.packed[2]}." not in taken:
                host, address = list(subnet.hosts())
                return str(host), str(address)
        raise RuntimeError("no free /30 in 10.213.0.0/16")

    def create(self) -> None:
        try:
            _run(self.ip, "netns", "add", self.name)
        except RuntimeError as error:
            pytest.fail(
                f"cannot make a network namespace ({error}): these tests need root "
                "(CI runs as root); they are never skipped"
            )
        self._made = True
        ns = (self.ip, "-n", self.name)
        _run(self.ip, "link", "add", self.outer, "type", "veth", "peer", "name", self.inner)
        _run(self.ip, "link", "set", self.inner, "netns", self.name)
        _run(self.ip, "addr", "add", f"{self.host}/30", "dev", self.outer)
        _run(self.ip, "link", "set", self.outer, "up")
        _run(*ns, "addr", "add", f"{self.address}/30", "dev", self.inner)
        _run(*ns, "link", "set", self.inner, "up")
        _run(*ns, "link", "set", "lo", "up")
        _run(*ns, "route", "add", "default", "via", self.host)
        self.nft(
            "add table inet fault; "
            "add chain inet fault out { type filter hook output priority 0; }; "
            "add chain inet fault in { type filter hook input priority 0; }"
        )

    def remove(self) -> None:
        if not self._made:
            return
        with contextlib.suppress(RuntimeError):  # gone with the namespace, or never made
            _run(self.ip, "link", "del", self.outer)
        _run(self.ip, "netns", "del", self.name)

    def exec(self, *command: str) -> list[str]:
        return [self.ip, "netns", "exec", self.name, *command]

    def nft(self, commands: str) -> None:
        nft = shutil.which("nft") or "/usr/sbin/nft"
        if not Path(nft).exists():
            pytest.fail("the network namespace tests need nftables' `nft` (make system-test)")
        _run(*self.exec(nft, commands))

    def drop(self, what: str) -> None:
        """Drop, both ways, what an nft match names ("meta l4proto udp": the media;
        "": everything; "numgen random mod 100 < 5": one packet in twenty)."""
        self.heal()
        self.nft(
            f'add rule inet fault out oifname != "lo" {what} drop; '
            f'add rule inet fault in iifname != "lo" {what} drop'
        )

    def heal(self) -> None:
        self.nft("flush chain inet fault out; flush chain inet fault in")


@pytest.fixture
def namespace() -> Iterator[Namespace]:
    made = Namespace()
    try:
        made.create()
        yield made
    finally:
        made.remove()


@dataclass
class Station:
    kiosk: Kiosk
    application_id: str


@pytest.fixture
def station(district: DistrictServer, namespace: Namespace, tmp_path: Path) -> Iterator[Station]:
    """A kiosk enrolled at the district's address as seen from the namespace, with one
    application of its visit synced."""
    added = district.cli("station", "add", "北新街服务站", "--group", GROUP, "--json")
    with FaultProxy(district.port, listen_host=namespace.host) as proxy:
        kiosk = Kiosk(tmp_path / "kiosk")
        enroll(kiosk.paths, kiosk.store, proxy.url, added["enrollment_code"])  # type: ignore[index]
        (application_id,) = kiosk.queue(1)
        kiosk.sync()
        yield Station(kiosk, application_id)
        kiosk.store.close()


class KioskCall:
    """`kiosk call --stamp --stats` in the namespace; its JSON lines gathered by a thread."""

    def __init__(self, namespace: Namespace, station: Station, **settings: str) -> None:
        data_dir = station.kiosk.paths.data_dir
        environment = {
            **os.environ,
            "KIOSK_DEVICES__CAMERA": "simulator",
            "KIOSK_CAMERA__WIDTH": "640",
            "KIOSK_CAMERA__HEIGHT": "360",
            **{f"KIOSK_REMOTE__{key.upper()}": value for key, value in settings.items()},
        }
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        command = namespace.exec(
            str(Path(sys.executable).with_name("kiosk")), "--data-dir", str(data_dir),
            "call", "--item", "MI-001", "--title", "医保参保登记",
            "--category", "medical_insurance", "--stamp", "--stats", "--seconds", "600",
        )  # fmt: skip
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=(data_dir / "call.err").open("wb"),
            text=True,
            env=environment,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with contextlib.suppress(ValueError), self._lock:
                self.events.append(json.loads(line))

    def of(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            return [event for event in self.events if event.get("event") == kind]

    def states(self) -> list[str]:
        return [event["state"] for event in self.of("state")]

    def decoded_since(self, connections: int) -> list[int]:
        """Frames the kiosk decoded, by each stats line since its `connections`-th
        connected state (each new peer counts from 0)."""
        with self._lock:
            events = list(self.events)
        seen, counts = 0, []
        for event in events:
            if event.get("event") == "state" and event["state"] == "connected":
                seen += 1
            elif event.get("event") == "stats" and seen == connections:
                counts.append(event["frames_decoded"])
        return counts

    def end(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@pytest.fixture
def kiosk_call(namespace: Namespace, station: Station) -> Iterator[Any]:
    """Start `kiosk call` in the namespace with these `[remote]` settings (ended after)."""
    started: list[KioskCall] = []

    def start(**settings: str) -> KioskCall:
        started.append(KioskCall(namespace, station, **settings))
        return started[-1]

    yield start
    for call in started:
        call.end()


def the_application(district: DistrictServer, station: Station) -> tuple[Any, ...]:
    """The station's application as the kiosk and the district hold it."""
    held = next(row for row in district.applications() if row["id"] == station.application_id)
    kiosk = station.kiosk
    return (
        kiosk.states()[station.application_id],
        kiosk.blobs_of(station.application_id),
        held["state"],
        sorted(held["blobs"]),
    )


def connected_with_frames(browser: Chromium, call: KioskCall, namespace: Namespace) -> None:
    """Taken on the page, connected at the kiosk, newer frames each way (by content),
    the page's media coming from the namespace's address."""
    take_next(browser)
    frames_flow(browser, call, connections=1)
    remote = wait(
        "the page's selected pair", lambda: browser.driver.execute_async_script(REMOTE_ADDRESS_JS)
    )
    assert remote == namespace.address, remote


def frames_flow(browser: Chromium, call: KioskCall, connections: int) -> None:
    wait(
        f"connected at the kiosk ({connections})",
        lambda: call.states().count("connected") >= connections,
        seen=lambda: (call.states(), browser.console_messages()),
    )
    driver = browser.driver
    first = wait("a stamped kiosk frame on the page", lambda: driver.execute_script(READ_SHOWN_JS))
    wait(
        "newer kiosk frames on the page",
        lambda: (driver.execute_script(READ_SHOWN_JS) or 0) > first + 10,
    )
    first_count = wait("the kiosk's stats", lambda: call.decoded_since(connections))[-1]
    wait(
        "the agent's frames decoded at the kiosk",
        lambda: call.decoded_since(connections)[-1] > first_count + 10,
    )


def test_lost_media_comes_back_when_the_line_does(
    district: DistrictServer,
    station: Station,
    namespace: Namespace,
    agent_browser: Chromium,
    kiosk_call: Any,
) -> None:
    before = the_application(district, station)
    call = kiosk_call()
    connected_with_frames(agent_browser, call, namespace)
    call_id = call_desk(agent_browser, "call")

    namespace.drop("meta l4proto udp")
    wait(
        "the kiosk offering again",
        lambda: call.states()[-1:] == ["connecting"],
        MEDIA_END_WAIT_S,
        seen=call.states,
    )
    namespace.heal()
    frames_flow(agent_browser, call, connections=2)
    assert call_desk(agent_browser, "call") == call_id, "not the same call"
    assert call_desk(agent_browser, "ended") is None

    call.end()  # SIGTERM: the kiosk ends it cleanly
    ended_on_both_sides(agent_browser, call, "resident")
    left_as_it_was(district, station, before)


def ended_on_both_sides(agent_browser: Chromium, call: Any, reason: str) -> None:
    """The kiosk's process ended cleanly with the call ended for `reason`, and the page
    says the same."""
    assert call.process.returncode == 0
    assert call.of("state")[-1]["reason"] == reason
    wait("the page's call ended", lambda: call_desk(agent_browser, "ended") == reason)


def left_as_it_was(district: DistrictServer, station: Station, before: Any) -> None:
    """Nothing open in the queue, and the visit's application as it was before the call."""
    wait("nothing open in the queue", lambda: open_calls(district) == [])
    assert the_application(district, station) == before


def test_media_lost_for_good_ends_the_call_for_media(
    district: DistrictServer,
    station: Station,
    namespace: Namespace,
    agent_browser: Chromium,
    kiosk_call: Any,
) -> None:
    before = the_application(district, station)
    call = kiosk_call(reoffers="1")
    connected_with_frames(agent_browser, call, namespace)

    namespace.drop("meta l4proto udp")
    wait(
        "the kiosk's call ended",
        lambda: call.process.poll() is not None,
        MEDIA_END_WAIT_S,
        seen=call.states,
    )
    states = call.states()
    assert states[states.index("connected") :] == ["connected", "connecting", "ended"], states
    ended_on_both_sides(agent_browser, call, "media")
    left_as_it_was(district, station, before)


def test_the_line_cut_whole_ends_the_call_on_both_sides(
    district: DistrictServer,
    station: Station,
    namespace: Namespace,
    agent_browser: Chromium,
    kiosk_call: Any,
) -> None:
    before = the_application(district, station)
    call = kiosk_call()
    connected_with_frames(agent_browser, call, namespace)

    namespace.drop("")
    wait("the page's call ended", lambda: call_desk(agent_browser, "ended") == "gone")
    wait("the kiosk's call ended", lambda: call.process.poll() is not None, seen=call.states)
    assert call.states()[-1] == "ended"
    ended_on_both_sides(agent_browser, call, "gone")
    namespace.heal()
    left_as_it_was(district, station, before)


def test_a_lossy_line_keeps_the_call_with_a_lesser_quality(
    district: DistrictServer,
    station: Station,
    namespace: Namespace,
    agent_browser: Chromium,
    kiosk_call: Any,
) -> None:
    """The word is compared with the best the page showed before the loss (the simulated
    camera's 15 fps is already short of the first word's 24)."""
    call = kiosk_call()
    connected_with_frames(agent_browser, call, namespace)
    seen: set[str] = set()
    for _ in range(5):  # a few of the page's one-second looks
        seen.add(wait("a quality word", lambda: call_desk(agent_browser, "quality")))
        time.sleep(1)
    best_before = min(RANK[word] for word in seen)

    namespace.drop("numgen random mod 100 < 5")
    wait(
        "a lesser quality word, and the loss, on the page",
        lambda: (
            RANK.get(call_desk(agent_browser, "quality"), -1) > best_before
            and call_desk(agent_browser, "stats").get("loss_pct", 0) > 0
        ),
        seen=lambda: (seen, call_desk(agent_browser, "quality"), call_desk(agent_browser, "stats")),
    )
    frames_flow(agent_browser, call, connections=1)  # still flowing, through the loss
    assert call.states()[-1] == "connected", call.states()
    assert call_desk(agent_browser, "ended") is None

    namespace.heal()
    call.end()
    wait("the page's call ended", lambda: call_desk(agent_browser, "ended") == "resident")
    wait("nothing open in the queue", lambda: open_calls(district) == [])
