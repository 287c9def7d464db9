"""A private CUPS scheduler with cups-pdf printers the tests can break on purpose.

``CupsDaemon`` runs ``cupsd -f`` on its own configuration, spool and socket in a work
folder, so it neither needs nor disturbs the machine's CUPS; clients reach it through
the socket path (``daemon.server``, what `lp -h` and the kiosk's ``[printer] server``
take).

Its printers print through cups-pdf (Debian ``printer-driver-cups-pdf``) into
``daemon.output(name)``. They use a small backend of ours, ``doorstep-test``, in a private
copy of CUPS's program folder: it hands the job to cups-pdf unless the printer's fault
file says otherwise, which is how a test makes a printer fail the way a real one tells
CUPS it failed:

- ``out_of_paper`` / ``paper_jam`` / ``offline``: the backend reports the printer state
  (``STATE: +media-empty-error`` …) and exits with CUPS_BACKEND_STOP, so CUPS stops the
  queue and keeps the job, as with a real printer that ran out of paper mid-job;
- ``hold``: the backend waits (the job stays "processing") until the fault changes, so
  a test can fail a printer in the middle of a job.

cups-pdf reads a per-printer configuration, ``/etc/cups/cups-pdf-NAME.conf`` (its folder is
fixed when it is built), chosen by the device URI ``cups-pdf:/NAME``; the daemon writes one
for each printer it adds and removes it again. Printer names carry a random token so two
runs never share one. cupsd and cups-pdf need root.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import pytest

CUPS_LIB = Path("/usr/lib/cups")
CUPS_PDF_BACKEND = CUPS_LIB / "backend" / "cups-pdf"
CUPS_PDF_CONFIG_DIR = Path("/etc/cups")
CUPS_PDF_PPD = Path("/usr/share/ppd/cups-pdf/CUPS-PDF_opt.ppd")
PACKAGES_HINT = (
    "install the Debian packages cups, cups-client, cups-bsd and printer-driver-cups-pdf"
)

FAULTS = ("out_of_paper", "paper_jam", "offline", "hold")

_BACKEND = """#!/bin/sh
# doorstep-test: cups-pdf, unless the tests switched a fault on for this printer.
if [ $# -eq 0 ]; then
  echo 'direct doorstep-test "Unknown" "Doorstep test printer (cups-pdf)"'
  exit 0
fi
fault_file="{faults}/$PRINTER"
fault=$(cat "$fault_file" 2>/dev/null)
while [ "$fault" = hold ]; do
  sleep 0.05
  fault=$(cat "$fault_file" 2>/dev/null)
done
case "$fault" in
  out_of_paper) echo "STATE: +media-empty-error" >&2; echo "ERROR: out of paper" >&2; exit 4 ;;
  paper_jam) echo "STATE: +media-jam-error" >&2; echo "ERROR: paper jam" >&2; exit 4 ;;
  offline) echo "STATE: +offline-report" >&2; echo "ERROR: printer not answering" >&2; exit 4 ;;
esac
echo "STATE: -media-empty-error,media-jam-error,offline-report" >&2
DEVICE_URI="cups-pdf:/$PRINTER" exec {cups_pdf} "$@"
"""

_CUPSD_CONF = """\
Listen {socket}
Printcap {root}/printcap
LogLevel info
WebInterface No
Browsing Off
DefaultAuthType None
JobRetryInterval 1
<Location />
  Order allow,deny
  Allow all
</Location>
<Location /admin>
  Order allow,deny
  Allow all
</Location>
<Policy default>
  <Limit All>
    Order deny,allow
  </Limit>
</Policy>
"""

_FILES_CONF = """\
ServerRoot {root}
ServerBin {root}/lib
RequestRoot {root}/spool
CacheDir {root}/cache
StateDir {root}/state
TempDir {root}/tmp
AccessLog {root}/log/access_log
ErrorLog {root}/log/error_log
PageLog {root}/log/page_log
SystemGroup root
"""


class CupsError(RuntimeError):
    """The private CUPS could not be started or asked to do something."""


class CupsDaemon:
    """A private cupsd; use as a context manager or call start() and stop()."""

    def __init__(self, workdir: Path | None = None) -> None:
        # CUPS runs its filters as the unprivileged `lp`, which must reach the spool: the
        # work folder is therefore a fresh one in /tmp, not pytest's (which is 0700).
        self._own_dir = workdir is None
        self.root = Path(workdir or tempfile.mkdtemp(prefix="doorstep-cups-"))
        self.server = str(self.root / "cups.sock")
        self._process: subprocess.Popen[bytes] | None = None
        self._printers: set[str] = set()
        self._token = secrets.token_hex(3)
        self._count = 0

    # -- the daemon ---------------------------------------------------------------------

    def start(self) -> None:
        missing = [p for p in (CUPS_PDF_BACKEND, CUPS_PDF_PPD) if not p.exists()]
        if missing or not shutil.which("cupsd", path="/usr/sbin:/usr/bin") or not shutil.which(
            "lpadmin", path="/usr/sbin:/usr/bin"
        ):
            raise CupsError(f"CUPS or cups-pdf is not installed: {PACKAGES_HINT}")
        self._lay_out()
        log = (self.root / "log" / "cupsd.out").open("wb")
        self._process = subprocess.Popen(
            [
                "/usr/sbin/cupsd",
                "-f",
                "-c",
                str(self.root / "cupsd.conf"),
                "-s",
                str(self.root / "cups-files.conf"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise CupsError(f"cupsd exited at start: {self.log_tail()}")
            if Path(self.server).exists() and self._lp("lpstat", "-r", check=False) == 0:
                return
            time.sleep(0.05)
        raise CupsError(f"cupsd did not answer within 15 s: {self.log_tail()}")

    def stop(self) -> None:
        for name in list(self._printers):
            self._forget(name)
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()
        self._process = None
        if self._own_dir:
            shutil.rmtree(self.root, ignore_errors=True)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> CupsDaemon:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def log_tail(self, lines: int = 20) -> str:
        text = ""
        for name in ("cupsd.out", "error_log"):
            path = self.root / "log" / name
            if path.exists():
                text += path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    # -- printers -----------------------------------------------------------------------

    def add_printer(self, label: str = "receipts") -> str:
        """A new cups-pdf printer, enabled and accepting jobs; returns its queue name."""
        name = self.next_name(label)
        self._count += 1
        out = self.output_dir(name)
        out.mkdir(parents=True, exist_ok=True)
        config = CUPS_PDF_CONFIG_DIR / f"cups-pdf-{name}.conf"
        config.write_text(f"Out {out}\nAnonDirName {out}\nLabel 0\n", encoding="utf-8")
        self._printers.add(name)
        self.set_fault(name, None)
        self._lp(
            "lpadmin", "-p", name, "-E", "-v", f"doorstep-test:/{name}", "-P", str(CUPS_PDF_PPD)
        )
        return name

    def next_name(self, label: str) -> str:
        """The name the next `add_printer(label)` will give (for a kiosk set up before)."""
        return f"{label}-{self._token}-{self._count + 1}"

    def remove_printer(self, name: str) -> None:
        """Delete the queue, as when a printer is unplugged and its queue goes with it."""
        self._lp("lpadmin", "-x", name)

    def readd_printer(self, name: str) -> None:
        """Bring back a removed printer under the same name."""
        self._lp(
            "lpadmin", "-p", name, "-E", "-v", f"doorstep-test:/{name}", "-P", str(CUPS_PDF_PPD)
        )

    def disable(self, name: str) -> None:
        self._lp("cupsdisable", name)

    def enable(self, name: str) -> None:
        self._lp("cupsenable", name)

    def set_fault(self, name: str, fault: str | None) -> None:
        """Switch a fault on for the printer's next job (None: print normally)."""
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}")
        path = self.root / "faults" / name
        temporary = path.with_suffix(".tmp")
        temporary.write_text(fault or "", encoding="ascii")
        temporary.replace(path)

    def output_dir(self, name: str) -> Path:
        return self.root / "out" / name

    def outputs(self, name: str) -> list[Path]:
        """The PDFs cups-pdf has written for this printer, oldest first."""
        folder = self.output_dir(name)
        return sorted(folder.glob("*.pdf"), key=lambda p: p.stat().st_mtime_ns)

    def wait_for_outputs(self, name: str, count: int, timeout: float = 30.0) -> list[Path]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.outputs(name)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise CupsError(
            f"{name}: {len(self.outputs(name))} PDFs after {timeout} s, wanted {count}\n"
            + self.log_tail()
        )

    # -- inside -------------------------------------------------------------------------

    def _lay_out(self) -> None:
        root = self.root
        for folder in ("spool", "cache", "state", "log", "out", "faults", "lib/backend"):
            (root / folder).mkdir(parents=True, exist_ok=True)
        (root / "tmp").mkdir(exist_ok=True)
        os.chmod(root / "tmp", 0o1777)
        os.chmod(root, 0o755)
        for part in ("filter", "cgi-bin", "daemon", "monitor", "notifier", "driver"):
            link = root / "lib" / part
            if not link.exists() and (CUPS_LIB / part).exists():
                link.symlink_to(CUPS_LIB / part)
        backend = root / "lib" / "backend" / "doorstep-test"
        backend.write_text(
            _BACKEND.format(faults=root / "faults", cups_pdf=CUPS_PDF_BACKEND), encoding="ascii"
        )
        os.chmod(backend, 0o700)  # 0700: CUPS runs it as root, as cups-pdf needs
        (root / "cupsd.conf").write_text(_CUPSD_CONF.format(socket=self.server, root=root))
        (root / "cups-files.conf").write_text(_FILES_CONF.format(root=root))

    def _forget(self, name: str) -> None:
        (CUPS_PDF_CONFIG_DIR / f"cups-pdf-{name}.conf").unlink(missing_ok=True)
        self._printers.discard(name)

    def _lp(self, *command: str, check: bool = True) -> int:
        env = {**os.environ, "CUPS_SERVER": self.server, "LC_ALL": "C"}
        executable = shutil.which(command[0], path="/usr/sbin:/usr/bin") or command[0]
        result = subprocess.run(
            [executable, *command[1:]], env=env, capture_output=True, text=True, timeout=30
        )
        if check and result.returncode != 0:
            raise CupsError(f"{' '.join(command)}: {result.stderr.strip() or result.stdout}")
        return result.returncode


# -- pytest fixtures (registered in tests/conftest.py) ------------------------------------


@pytest.fixture(scope="session")
def cupsd() -> Iterator[CupsDaemon]:
    """A private CUPS for the whole session. Skipped only for a developer without root
    outside CI; as root or under CI=true a failure to start is an error."""
    daemon = CupsDaemon()
    try:
        daemon.start()
    except (CupsError, OSError) as exc:
        daemon.stop()
        if os.geteuid() != 0 and not os.environ.get("CI"):
            pytest.skip(f"cannot run a private CUPS without root: {exc}")
        raise
    yield daemon
    daemon.stop()


@pytest.fixture
def cups_printer(cupsd: CupsDaemon, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh cups-pdf printer on the private CUPS, named after the test."""
    label = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:40].strip("-")
    name = cupsd.add_printer(label or "printer")
    yield name
    cupsd.set_fault(name, None)
