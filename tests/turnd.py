"""A private coturn for the tests, configured from the district's own hardened file.

``TurnServer`` runs Debian's ``turnserver`` on 127.0.0.1 with a random free port, a test
secret and its own log and pid files in a work folder. Its configuration is
``installer/coturn/turnserver.conf`` itself with only what a test host must differ in
replaced (the ports, the secret and realm, the files, TLS), so the tests exercise the
production hardening: the REST secret, the denied peer ranges, no TCP relay, no CLI.

One difference is deliberate and only here: ``loopback_peers=True`` (the default) adds
``allow-loopback-peers`` and ``allowed-peer-ip=127.0.0.1``. On one host coturn relays
from 127.0.0.1, so in a relayed call each side's peer *is* a loopback address (the other
side's relay address); production coturn must refuse exactly that, or anyone with a
credential could reach services listening on the TURN host. ``loopback_peers=False``
runs the production rules unchanged, to show that it does.

``TurnClient`` speaks just enough TURN (RFC 8656) over UDP to ask for an allocation and a
permission and see coturn's answer, which is how the tests check credentials and peer
rules without a WebRTC stack around them.
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # aioice and district.turn load when a test first uses them
    from aioice import stun

    from district.turn import TurnSettings

TURNSERVER = "/usr/bin/turnserver"
PRODUCTION_CONF = Path(__file__).resolve().parent.parent / "installer/coturn/turnserver.conf"
HOST = "127.0.0.1"
REALM = "doorstep.test"
PACKAGES_HINT = "install the Debian package coturn"

#: Settings of the production file a test host replaces (every other line is kept).
_REPLACED = {
    "listening-port",
    "tls-listening-port",
    "listening-ip",
    "relay-ip",
    "external-ip",
    "min-port",
    "max-port",
    "static-auth-secret",
    "realm",
    "cert",
    "pkey",
    "log-file",
    "pidfile",
}
_RELAY_PORTS = 100
_UDP_TRANSPORT = 17 << 24  # REQUESTED-TRANSPORT: UDP


class TurnError(RuntimeError):
    """The private coturn could not be started (the text holds its log's tail)."""


def _free_port() -> int:
    """A port free for both UDP and TCP on the loopback (coturn listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((HOST, 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((HOST, port))
                except OSError:
                    continue
                return port
    raise TurnError("no port free for both UDP and TCP on 127.0.0.1")


def configuration_for_tests(
    *,
    port: int,
    relay_ports: tuple[int, int],
    secret: str,
    log_file: Path,
    pid_file: Path,
    loopback_peers: bool,
) -> str:
    """The production configuration with a test host's ports, secret and files."""
    kept = []
    for line in PRODUCTION_CONF.read_text(encoding="utf-8").splitlines():
        key = line.split("=", 1)[0].strip()
        if line.startswith("#") or not key or key in _REPLACED:
            continue
        kept.append(line)
    local = [
        f"listening-ip={HOST}",
        f"relay-ip={HOST}",
        f"listening-port={port}",
        f"min-port={relay_ports[0]}",
        f"max-port={relay_ports[1]}",
        f"static-auth-secret={secret}",
        f"realm={REALM}",
        f"log-file={log_file}",
        f"pidfile={pid_file}",
        "no-tls",  # no certificate on a test host; TLS is coturn's own, not ours to test
        "no-dtls",
    ]
    if loopback_peers:
        local += ["allow-loopback-peers", f"allowed-peer-ip={HOST}"]
    return "\n".join([*kept, *local]) + "\n"


class TurnServer:
    """A private coturn; use as a context manager or call start() and stop()."""

    def __init__(self, workdir: Path | None = None, *, loopback_peers: bool = True) -> None:
        self._own_dir = workdir is None
        self.root = Path(workdir or tempfile.mkdtemp(prefix="doorstep-turn-"))
        self.loopback_peers = loopback_peers
        self.secret = secrets.token_hex(16)
        self.host = HOST
        self.port = 0
        self.log_file = self.root / "turnserver.log"
        self._output = self.root / "turnserver.out"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"turn:{self.host}:{self.port}?transport=udp"

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def settings(self, ttl_s: int = 600, policy: str = "relay") -> TurnSettings:
        """The district's TURN settings for this server (through from_env, as in use)."""
        from district.turn import TurnSettings

        return TurnSettings.from_env(self.environment(ttl_s, policy))

    def environment(self, ttl_s: int = 600, policy: str = "relay") -> dict[str, str]:
        """DISTRICT_TURN_* for a `district serve` process that should use this server."""
        return {
            "DISTRICT_TURN_URLS": self.url,
            "DISTRICT_TURN_SECRET": self.secret,
            "DISTRICT_TURN_TTL_S": str(ttl_s),
            "DISTRICT_ICE_POLICY": policy,
        }

    # -- the daemon ---------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> None:
        if not os.access(TURNSERVER, os.X_OK):
            raise TurnError(f"{TURNSERVER} is missing: {PACKAGES_HINT}")
        self.root.mkdir(parents=True, exist_ok=True)
        # A port can be taken between the probe and coturn's bind on a busy machine: a
        # start that gets no answer is tried again on fresh ports before it fails.
        for attempt in range(3):
            self.port = _free_port()
            first = random.randrange(20_000, 32_000 - _RELAY_PORTS, 2)
            conf = self.root / "turnserver.conf"
            conf.write_text(
                configuration_for_tests(
                    port=self.port,
                    relay_ports=(first, first + _RELAY_PORTS - 1),
                    secret=self.secret,
                    log_file=self.log_file,
                    pid_file=self.root / "turnserver.pid",
                    loopback_peers=self.loopback_peers,
                ),
                encoding="utf-8",
            )
            with self._output.open("ab") as output:
                self._process = subprocess.Popen(
                    [TURNSERVER, "-c", str(conf)],
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            if self._wait_ready(timeout):
                return
            failed_to_bind = "Address already in use" in self.log_tail(200)
            self._terminate()
            if not failed_to_bind or attempt == 2:
                break
        raise TurnError(f"coturn did not answer on {self.host}:{self.port}:\n{self.log_tail()}")

    def _wait_ready(self, timeout: float) -> bool:
        """Whether coturn answers a STUN Binding request (any answer) within `timeout`."""
        from aioice import stun

        assert self._process is not None
        deadline = time.monotonic() + timeout
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.settimeout(0.2)
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    raise TurnError(
                        f"coturn exited at start ({self._process.returncode}):\n" + self.log_tail()
                    )
                request = stun.Message(stun.Method.BINDING, stun.Class.REQUEST)
                probe.sendto(bytes(request), self.address)
                try:
                    data = probe.recv(2048)
                except (TimeoutError, ConnectionRefusedError):
                    time.sleep(0.1)
                    continue
                if stun.parse_message(data).transaction_id == request.transaction_id:
                    return True
        return False

    def stop(self) -> None:
        self._terminate()
        if self._own_dir:
            shutil.rmtree(self.root, ignore_errors=True)

    def _terminate(self) -> None:
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()
        self._process = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> TurnServer:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def log_text(self) -> str:
        text = ""
        for path in (self._output, self.log_file):
            if path.exists():
                text += path.read_text(encoding="utf-8", errors="replace")
        return text

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:]) or "(no log)"


class TurnRefused(Exception):
    """coturn answered a request with an error (`code` is the STUN error code)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code} {reason}")
        self.code = code


class TurnClient:
    """One TURN allocation over UDP, blocking: enough to see what coturn allows."""

    def __init__(self, server: tuple[str, int], username: str, password: str) -> None:
        self.server = server
        self.username = username
        self.password = password
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.connect(server)
        self._key: bytes | None = None
        self._nonce: bytes | None = None
        self._realm = ""

    def close(self) -> None:
        self._socket.close()

    def __enter__(self) -> TurnClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def allocate(self) -> tuple[str, int]:
        """A UDP relay address; raises TurnRefused (401 for a credential coturn refuses)."""
        from aioice import stun

        attributes = {"LIFETIME": 60, "REQUESTED-TRANSPORT": _UDP_TRANSPORT}
        response = self._request(stun.Method.ALLOCATE, attributes)
        return response.attributes["XOR-RELAYED-ADDRESS"]

    def permit(self, peer: str) -> None:
        """Ask to relay to `peer`; raises TurnRefused (403 for a peer coturn denies)."""
        from aioice import stun

        self._request(stun.Method.CREATE_PERMISSION, {"XOR-PEER-ADDRESS": (peer, 9)})

    def _request(self, method: stun.Method, attributes: dict[str, object]) -> stun.Message:
        from aioice import stun
        from aioice.turn import make_integrity_key

        for _ in range(2):  # the first may only fetch the realm and nonce (401) or a new nonce
            request = stun.Message(method, stun.Class.REQUEST, attributes=dict(attributes))
            if self._key is not None:
                request.attributes["USERNAME"] = self.username
                request.attributes["REALM"] = self._realm
                request.attributes["NONCE"] = self._nonce
                request.add_message_integrity(self._key)
            response = self._transact(request)
            if response.message_class == stun.Class.RESPONSE:
                return response
            code, reason = response.attributes.get("ERROR-CODE", (0, "no error code"))
            stale = code == 438 or (code == 401 and self._key is None)
            if stale and "NONCE" in response.attributes:
                self._nonce = response.attributes["NONCE"]
                self._realm = response.attributes.get("REALM", self._realm)
                self._key = make_integrity_key(self.username, self._realm, self.password)
                continue
            raise TurnRefused(code, reason)
        raise TurnRefused(code, reason)

    def _transact(self, request: stun.Message, timeout: float = 10.0) -> stun.Message:
        from aioice import stun

        data = bytes(request)
        deadline = time.monotonic() + timeout
        self._socket.settimeout(0.5)
        while time.monotonic() < deadline:
            self._socket.send(data)
            try:
                while True:
                    response = stun.parse_message(self._socket.recv(4096))
                    if response.transaction_id == request.transaction_id:
                        return response
            except TimeoutError:
                continue
        raise TimeoutError(f"no TURN answer from {self.server[0]}:{self.server[1]}")


# -- pytest fixtures (registered in tests/conftest.py) ------------------------------------


@pytest.fixture(scope="session")
def turnd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TurnServer]:
    """A private coturn for the whole session, relaying between loopback peers. Skipped
    only for a developer without coturn outside CI; under CI=true a failure is an error."""
    server = TurnServer(tmp_path_factory.mktemp("turnd"))
    try:
        server.start()
    except (TurnError, OSError) as exc:
        server.stop()
        if not os.environ.get("CI") and not os.access(TURNSERVER, os.X_OK):
            pytest.skip(str(exc))
        raise
    yield server
    server.stop()
