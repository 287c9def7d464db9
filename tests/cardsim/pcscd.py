"""A private pcscd with vpcd virtual readers, and small PC/SC helpers for the tests.

``PcscDaemon`` writes its own reader.conf.d directory (one vpcd entry per pair of
slots), stops any other pcscd - the daemon's socket is always /run/pcscd/pcscd.comm, so
only one can run - and runs ``pcscd -f -c DIR`` with its log in a work folder.

Reader names and ports, for the default base port 0x9C7B (40059)::

    slot 0  "Virtual PCD 00 00"    port 40059
    slot 1  "Virtual PCD 00 01"    port 40060
    slot 2  "Virtual PCD 2 00 00"  port 40061   (pairs=2)
    slot 3  "Virtual PCD 2 00 01"  port 40062   (pairs=2)

Two vpcd entries must differ in FRIENDLYNAME (pcscd would name both pairs "Virtual PCD
00 0x") and must load the driver from different files: pcscd loads a library once per
path and vpcd keeps one connection table per loaded copy, so a second entry sharing the
library silently takes over the first entry's slots (the first pair's readers then talk
to the second pair's ports). Each further pair therefore gets a private copy of
libifdvpcd.so in the work folder.

pcscd runs without ``-a``: APDU logging would put the cards' personal data in its log.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO

from smartcard import scard

log = logging.getLogger(__name__)

PCSCD_SOCKET = Path("/run/pcscd/pcscd.comm")
PCSCD_PIDFILE = Path("/run/pcscd/pcscd.pid")
VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
DEFAULT_BASE_PORT = 0x9C7B
"""vpcd's port for slot 0 (40059); slot n listens on DEFAULT_BASE_PORT + n."""

_PACKAGES_HINT = "install the Debian packages `pcscd` and `vsmartcard-vpcd`"


class PcscError(RuntimeError):
    """pcscd could not be started, or a PC/SC call failed."""


class PcscUnavailable(PcscError):
    """pcscd or the vpcd driver is not installed."""


def friendly_name(pair: int) -> str:
    """The FRIENDLYNAME of the vpcd entry for slot pair ``pair`` (0-based)."""
    return "Virtual PCD" if pair == 0 else f"Virtual PCD {pair + 1}"


def reader_name(slot: int) -> str:
    """The PC/SC reader name of vpcd slot ``slot`` (0-based over all pairs)."""
    if slot < 0:
        raise ValueError("slot must be 0 or more")
    pair, index = divmod(slot, 2)
    return f"{friendly_name(pair)} 00 {index:02X}"


def find_pcscd() -> str:
    """The path of the pcscd binary; PcscUnavailable when it or the vpcd driver is missing."""
    binary = shutil.which("pcscd") or next(
        (str(p) for p in (Path("/usr/sbin/pcscd"), Path("/sbin/pcscd")) if p.exists()), None
    )
    if binary is None:
        raise PcscUnavailable(f"pcscd is not installed: {_PACKAGES_HINT}")
    if not VPCD_DRIVER.exists():
        raise PcscUnavailable(f"the vpcd driver {VPCD_DRIVER} is missing: {_PACKAGES_HINT}")
    return binary


def _check(hresult: int, what: str) -> None:
    if hresult != scard.SCARD_S_SUCCESS:
        raise PcscError(f"{what} failed: 0x{hresult & 0xFFFFFFFF:08X}")


@contextlib.contextmanager
def pcsc_context() -> Iterator[int]:
    """A PC/SC context (pyscard's scard module), released on exit."""
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    _check(hresult, "SCardEstablishContext")
    try:
        yield context
    finally:
        scard.SCardReleaseContext(context)


def list_readers() -> list[str]:
    """The readers pcscd lists now (empty when there are none)."""
    with pcsc_context() as context:
        hresult, readers = scard.SCardListReaders(context, [])
        if hresult == scard.SCARD_E_NO_READERS_AVAILABLE:
            return []
        _check(hresult, "SCardListReaders")
        return list(readers)


def wait_for_card(
    reader: str, *, present: bool, atr: bytes | None = None, timeout: float = 10.0
) -> None:
    """Block until pcscd reports ``reader`` holding a card (with ``atr``, when given) or
    empty. TimeoutError when that does not happen within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    with pcsc_context() as context:
        known = scard.SCARD_STATE_UNAWARE
        while True:
            remaining = max(0, int((deadline - time.monotonic()) * 1000))
            hresult, states = scard.SCardGetStatusChange(context, remaining, [(reader, known)])
            if hresult == scard.SCARD_S_SUCCESS:
                _, event, card_atr = states[0]
                if event & scard.SCARD_STATE_UNKNOWN:
                    raise PcscError(f"pcscd does not know the reader {reader!r}")
                if present:
                    done = bool(event & scard.SCARD_STATE_PRESENT) and (
                        atr is None or bytes(card_atr) == atr
                    )
                else:
                    done = bool(event & scard.SCARD_STATE_EMPTY)
                if done:
                    return
                known = event & ~scard.SCARD_STATE_CHANGED
            elif hresult != scard.SCARD_E_TIMEOUT:
                _check(hresult, "SCardGetStatusChange")
            if time.monotonic() >= deadline:
                wanted = "a card" if present else "no card"
                raise TimeoutError(f"{reader!r} did not report {wanted} within {timeout} s")


def _is_live_pcscd(pid: int) -> bool:
    """True for a running (not zombie) process named exactly pcscd."""
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    state = stat.rpartition(")")[2].split()[0]
    return comm == "pcscd" and state not in ("Z", "X")


def other_pcscd_pids(exclude: int | None = None) -> list[int]:
    """The pids of running pcscd processes (from the pid file and /proc), but ``exclude``."""
    pids: set[int] = set()
    with contextlib.suppress(OSError, ValueError):
        pids.add(int(PCSCD_PIDFILE.read_text().strip()))
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            pids.add(int(entry.name))
    return sorted(pid for pid in pids if pid != exclude and _is_live_pcscd(pid))


def stop_other_pcscd(timeout: float = 5.0) -> list[int]:
    """Stop every running pcscd (SIGTERM, then SIGKILL); return the pids it stopped."""
    pids = other_pcscd_pids()
    for pid in pids:
        log.info("stopping the pcscd already running (pid %d)", pid)
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        except PermissionError as exc:
            raise PcscError(f"another pcscd (pid {pid}) runs and we may not stop it") from exc
    deadline = time.monotonic() + timeout
    while any(_is_live_pcscd(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in pids:
        if _is_live_pcscd(pid):
            log.warning("pcscd pid %d ignored SIGTERM; killing it", pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    while any(_is_live_pcscd(pid) for pid in pids) and time.monotonic() < deadline + 2:
        time.sleep(0.05)
    if pids and not other_pcscd_pids():
        _remove_stale_files()
    return pids


def _remove_stale_files() -> None:
    for path in (PCSCD_SOCKET, PCSCD_PIDFILE):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


class PcscDaemon:
    """A private pcscd serving ``pairs`` vpcd entries (two slots each).

    ``workdir`` holds reader.conf.d/, driver copies and pcscd.log; when None a temporary
    folder is made and removed again by ``stop()``.
    """

    def __init__(
        self,
        pairs: int = 1,
        base_port: int = DEFAULT_BASE_PORT,
        workdir: Path | None = None,
        *,
        debug: bool = False,
    ) -> None:
        if pairs < 1:
            raise ValueError("at least one pair of slots")
        self.pairs = pairs
        self.base_port = base_port
        self.debug = debug
        self._own_workdir = workdir is None
        self._workdir = workdir
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    # --- layout -------------------------------------------------------------------------

    @property
    def readers(self) -> list[str]:
        """The reader names this daemon serves, slot 0 first."""
        return [reader_name(slot) for slot in range(2 * self.pairs)]

    @property
    def ports(self) -> list[int]:
        """The vpcd TCP ports, slot 0 first."""
        return [self.base_port + slot for slot in range(2 * self.pairs)]

    def reader(self, slot: int = 0) -> str:
        """The reader name of ``slot``."""
        return self.readers[self._slot(slot)]

    def port(self, slot: int = 0) -> int:
        """The vpcd port a card connects to for ``slot``."""
        return self.ports[self._slot(slot)]

    def _slot(self, slot: int) -> int:
        if not 0 <= slot < 2 * self.pairs:
            raise ValueError(f"slot {slot} is not one of 0..{2 * self.pairs - 1}")
        return slot

    @property
    def workdir(self) -> Path:
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="doorstep-pcscd-"))
        return self._workdir

    @property
    def conf_dir(self) -> Path:
        return self.workdir / "reader.conf.d"

    @property
    def log_path(self) -> Path:
        return self.workdir / "pcscd.log"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self.running and self._process else None

    def _write_conf(self) -> None:
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        entries = []
        for pair in range(self.pairs):
            driver = VPCD_DRIVER
            if pair:
                driver = self.workdir / "drivers" / f"libifdvpcd-{pair + 1}.so"
                driver.parent.mkdir(exist_ok=True)
                shutil.copyfile(VPCD_DRIVER, driver)
            port = self.base_port + 2 * pair
            entries.append(
                f'FRIENDLYNAME "{friendly_name(pair)}"\n'
                f"DEVICENAME   /dev/null:0x{port:04X}\n"
                f"LIBPATH      {driver}\n"
                f"CHANNELID    0x{port:04X}\n"
            )
        (self.conf_dir / "vpcd").write_text("\n".join(entries))

    def log_tail(self, lines: int = 20) -> str:
        """The end of pcscd's log, for error messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    # --- life cycle ---------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> None:
        """Stop any other pcscd, start ours and wait until it lists all our readers."""
        if self.running:
            return
        binary = find_pcscd()
        stop_other_pcscd()
        self._write_conf()
        command = [binary, "-f", "-c", str(self.conf_dir)]
        if self.debug:
            command.append("-d")
        log_file = self.log_path.open("ab")
        self._log_file = log_file
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.info("started pcscd (pid %d) with %d vpcd slots", self._process.pid, 2 * self.pairs)
        deadline = time.monotonic() + timeout
        expected = set(self.readers)
        while True:
            if self._process.poll() is not None:
                tail = self.log_tail()
                self._close_log()
                self._process = None
                raise PcscError(f"pcscd exited at start (are we root?); its log:\n{tail}")
            with contextlib.suppress(PcscError):
                if expected <= set(list_readers()):
                    return
            if time.monotonic() >= deadline:
                tail = self.log_tail()
                self.stop()
                raise PcscError(f"pcscd did not list {sorted(expected)} in {timeout} s:\n{tail}")
            time.sleep(0.05)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop our pcscd: SIGTERM, then SIGKILL if it does not exit in ``timeout`` s."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("pcscd (pid %d) ignored SIGTERM; killing it", process.pid)
                process.kill()
                process.wait()
                if not other_pcscd_pids():
                    _remove_stale_files()
            log.info("stopped pcscd (pid %d)", process.pid)
        self._close_log()
        if self._own_workdir and self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def restart(self, timeout: float = 10.0) -> None:
        """Stop and start again; every connected virtual card is dropped by vpcd."""
        own, self._own_workdir = self._own_workdir, False
        try:
            self.stop()
        finally:
            self._own_workdir = own
        self.start(timeout)

    def _close_log(self) -> None:
        log_file, self._log_file = self._log_file, None
        if log_file is not None:
            log_file.close()

    def __enter__(self) -> PcscDaemon:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
