"""The printer: the print queue in the local store, the print service thread, and its
backends — CUPS for real (a private cupsd printing through cups-pdf, tests/cupsd.py) and
the folder printer of the demo.

The faults are the ones a real printer reports to CUPS: out of paper or jammed in the
middle of a job (CUPS stops the queue and keeps the job), a queue deleted with a job on
it (CUPS cancels the job), CUPS itself not running. In every case the job must stay in the
local queue, show why it has not printed, and print exactly once when the printer is back.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from reportlab.pdfgen.canvas import Canvas

from kiosk.config import Paths
from kiosk.devices.printer.backends import (
    CupsBackend,
    FolderBackend,
    Progress,
    problem_from_reasons,
)
from kiosk.devices.printer.errors import (
    REASONS,
    OutOfPaper,
    PaperJam,
    PrinterError,
    PrinterOffline,
    PrintSystemDown,
    UnknownPrinter,
)
from kiosk.devices.printer.jobs import JobState, PrintJobNotFound, PrintQueue
from kiosk.devices.printer.service import PrinterBusy, PrinterService, PrintEvent, PrintEventKind
from kiosk.store.db import Store
from tests.cupsd import CupsDaemon
from tests.pdfcheck import assert_fonts_embedded, page_info, qr_codes, text_of

TIMEOUT = 30.0


def pdf(text: str) -> bytes:
    """A one-page PDF with `text` on it (plain Latin: what survives cups-pdf's rewrite)."""
    from io import BytesIO

    buffer = BytesIO()
    canvas = Canvas(buffer)
    canvas.setFont("Helvetica", 14)
    canvas.drawString(72, 700, text)
    canvas.save()
    return buffer.getvalue()


def wait_until(condition: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s")


@pytest.fixture
def paths(data_dir: Path) -> Paths:
    return Paths(data_dir)


@pytest.fixture
def queue(store: Store) -> PrintQueue:
    return PrintQueue(store)


class Events:
    def __init__(self) -> None:
        self.seen: list[PrintEvent] = []
        self._lock = threading.Lock()

    def __call__(self, event: PrintEvent) -> None:
        with self._lock:
            self.seen.append(event)

    def kinds(self) -> list[PrintEventKind]:
        with self._lock:
            return [event.kind for event in self.seen]


@pytest.fixture
def run_service(queue: PrintQueue, paths: Paths) -> Iterator[Callable[..., PrinterService]]:
    started: list[PrinterService] = []

    def start(backend_for: Callable[[str | None], object], **options: object) -> PrinterService:
        options.setdefault("poll_s", 0.05)
        options.setdefault("fault_poll_cap_s", 0.2)
        options.setdefault("idle_poll_s", 0.2)
        service = PrinterService(queue, backend_for, spool=paths.spool, **options)  # type: ignore[arg-type]
        service.start()
        started.append(service)
        return service

    yield start
    for service in started:
        service.stop()


def state_of(queue: PrintQueue, job_id: str) -> tuple[JobState, str | None]:
    job = queue.get(job_id)
    return job.state, job.reason


# -- CUPS, for real ---------------------------------------------------------------------


def test_cups_reports_a_ready_printer_and_names_an_unknown_one(
    cupsd: CupsDaemon, cups_printer: str
) -> None:
    status = CupsBackend(cups_printer, cupsd.server).status()
    assert status.ready and status.name == cups_printer
    with pytest.raises(UnknownPrinter):
        CupsBackend("no-such-printer", cupsd.server).status()
    assert cups_printer in CupsBackend(None, cupsd.server).destinations()


def test_cups_not_running_is_named(tmp_path: Path) -> None:
    backend = CupsBackend("receipts", str(tmp_path / "no-cups.sock"))
    with pytest.raises(PrintSystemDown):
        backend.status()
    with pytest.raises(PrintSystemDown):
        backend.submit(tmp_path / "x.pdf", "x")


def test_a_job_prints_through_cups_and_cups_pdf(
    cupsd: CupsDaemon, cups_printer: str, queue: PrintQueue, run_service
) -> None:
    events = Events()
    service = run_service(lambda p: CupsBackend(p or cups_printer, cupsd.server), on_event=events)
    job = service.print_document(
        pdf("Receipt DEMO01-20261124-0001"),
        kind="receipt",
        title="receipt DEMO01-20261124-0001",
        reference="DEMO01-20261124-0001",
    )
    wait_until(lambda: queue.get(job.id).state is JobState.DONE)
    [printed] = cupsd.wait_for_outputs(cups_printer, 1)
    assert "DEMO01-20261124-0001" in text_of(printed)
    done = queue.get(job.id)
    assert done.attempts == 1 and done.done_at is not None and done.reason is None
    assert PrintEventKind.DONE in events.kinds()
    assert not list(Path(service._spool).glob("*.pdf")), "the staged PDF was not removed"


@pytest.mark.parametrize(
    ("fault", "reason", "error"),
    [("out_of_paper", "out_of_paper", OutOfPaper), ("paper_jam", "paper_jam", PaperJam)],
)
def test_a_printer_that_stops_mid_job_keeps_the_job_and_prints_it_when_back(
    cupsd: CupsDaemon,
    cups_printer: str,
    queue: PrintQueue,
    run_service,
    fault: str,
    reason: str,
    error: type[PrinterError],
) -> None:
    events = Events()
    run_service(lambda p: CupsBackend(cups_printer, cupsd.server), on_event=events)
    cupsd.set_fault(cups_printer, "hold")  # the printer takes the job and is busy with it
    job = queue.add(pdf("mid-job"), kind="receipt", title="receipt MID-JOB")
    wait_until(lambda: queue.get(job.id).state is JobState.PRINTING)
    cupsd.set_fault(cups_printer, fault)  # … and then runs out of paper / jams
    wait_until(lambda: state_of(queue, job.id) == (JobState.FAILED, reason))
    failed = queue.get(job.id)
    assert failed.backend_job is not None, "CUPS still holds the job: it must not be resent"
    assert any(isinstance(e.error, error) for e in events.seen if e.kind is PrintEventKind.FAILED)
    assert cupsd.outputs(cups_printer) == []
    time.sleep(0.5)  # a few passes while the printer is down: nothing is sent again
    assert queue.get(job.id).attempts == 1

    cupsd.set_fault(cups_printer, None)  # paper loaded, the technician resumes the printer
    cupsd.enable(cups_printer)
    wait_until(lambda: queue.get(job.id).state is JobState.DONE)
    assert len(cupsd.wait_for_outputs(cups_printer, 1)) == 1
    time.sleep(0.5)
    assert len(cupsd.outputs(cups_printer)) == 1, "printed twice"


def test_a_printer_that_disappears_mid_job_gets_the_job_again_when_it_returns(
    cupsd: CupsDaemon, cups_printer: str, queue: PrintQueue, run_service
) -> None:
    run_service(lambda p: CupsBackend(cups_printer, cupsd.server))
    cupsd.set_fault(cups_printer, "hold")
    job = queue.add(pdf("gone"), kind="receipt", title="receipt GONE")
    wait_until(lambda: queue.get(job.id).state is JobState.PRINTING)
    cupsd.remove_printer(cups_printer)  # unplugged: its queue goes, CUPS cancels the job
    wait_until(lambda: state_of(queue, job.id) == (JobState.FAILED, "unknown_printer"))
    assert queue.get(job.id).backend_job is None  # lost by CUPS: to be sent again
    later = queue.add(pdf("after"), kind="receipt", title="receipt AFTER")
    time.sleep(0.3)
    assert state_of(queue, later.id) == (JobState.FAILED, "unknown_printer")

    cupsd.set_fault(cups_printer, None)
    cupsd.readd_printer(cups_printer)
    wait_until(lambda: queue.get(later.id).state is JobState.DONE)
    assert queue.get(job.id).state is JobState.DONE
    printed = cupsd.wait_for_outputs(cups_printer, 2)
    time.sleep(0.5)
    assert len(cupsd.outputs(cups_printer)) == 2
    # in queue order: the older job first
    assert "gone" in text_of(printed[0]) and "after" in text_of(printed[1])


def test_jobs_queued_while_cups_is_down_print_when_it_starts(
    tmp_path: Path, queue: PrintQueue, run_service
) -> None:
    daemon = CupsDaemon()
    name = daemon.next_name("late")
    run_service(lambda p: CupsBackend(name, daemon.server))
    jobs = [queue.add(pdf(f"job {n}"), kind="receipt", title=f"receipt {n}") for n in range(3)]
    wait_until(
        lambda: all(state_of(queue, j.id) == (JobState.FAILED, "print_system_down") for j in jobs)
    )
    with daemon:
        assert daemon.add_printer("late") == name
        wait_until(lambda: all(queue.get(j.id).state is JobState.DONE for j in jobs))
        printed = daemon.wait_for_outputs(name, 3)
        assert [text_of(p).strip() for p in printed] == ["job 0", "job 1", "job 2"]


def test_a_stopped_kiosk_prints_its_queue_after_a_restart(
    cupsd: CupsDaemon, cups_printer: str, queue: PrintQueue, paths: Paths
) -> None:
    cupsd.disable(cups_printer)
    first = PrinterService(
        queue, lambda p: CupsBackend(cups_printer, cupsd.server), spool=paths.spool, poll_s=0.05
    )
    with first:
        job = first.print_document(pdf("restart"), kind="receipt", title="receipt RESTART")
        wait_until(lambda: state_of(queue, job.id) == (JobState.FAILED, "offline"))
    cupsd.enable(cups_printer)
    again = PrinterService(
        PrintQueue(Store.open(paths)),
        lambda p: CupsBackend(cups_printer, cupsd.server),
        spool=paths.spool,
        poll_s=0.05,
    )
    with again:
        wait_until(lambda: queue.get(job.id).state is JobState.DONE)
    assert len(cupsd.wait_for_outputs(cups_printer, 1)) == 1


def test_staff_reprint_prints_the_same_document_again(
    cupsd: CupsDaemon, cups_printer: str, queue: PrintQueue, run_service
) -> None:
    run_service(lambda p: CupsBackend(cups_printer, cupsd.server))
    job = queue.add(
        pdf("DEMO01-20261124-0042"),
        kind="receipt",
        title="receipt",
        reference="DEMO01-20261124-0042",
    )
    wait_until(lambda: queue.get(job.id).state is JobState.DONE)
    again = queue.reprint("DEMO01-20261124-0042")
    assert again.reprint_of == job.id and again.document_sha256 == job.document_sha256
    wait_until(lambda: queue.get(again.id).state is JobState.DONE)
    first, second = cupsd.wait_for_outputs(cups_printer, 2)
    assert text_of(first) == text_of(second)
    with pytest.raises(PrintJobNotFound):
        queue.reprint("DEMO01-19990101-0001")


@pytest.mark.parametrize("roll", [False, True], ids=["a4", "roll80"])
def test_a_receipt_comes_out_of_cups_as_a_reader_needs_it(
    cupsd: CupsDaemon, cups_printer: str, queue: PrintQueue, run_service, tmp_path: Path,
    roll: bool,
) -> None:
    """The receipt as the printer gets it: cups-pdf turns what CUPS sends the printer back
    into a PDF, which must still carry the reference as text and as a readable QR code,
    with its fonts embedded."""
    from kiosk.documents import render_receipt, sample_receipt

    data = sample_receipt()
    run_service(lambda p: CupsBackend(cups_printer, cupsd.server))
    job = queue.add(
        render_receipt(data, roll=roll), kind="receipt", title=f"receipt {data.reference}",
        reference=data.reference,
    )
    wait_until(lambda: queue.get(job.id).state is JobState.DONE)
    [printed] = cupsd.wait_for_outputs(cups_printer, 1)
    assert data.reference in text_of(printed)
    assert qr_codes(printed, tmp_path) == [data.reference]
    assert_fonts_embedded(printed)
    pages, width, _ = page_info(printed)
    assert pages == 1
    assert abs(width - (226.8 if roll else 595.3)) < 2  # 80 mm, or A4


def test_the_print_commands(
    cupsd: CupsDaemon, cups_printer: str, data_dir: Path, tmp_path: Path
) -> None:
    """`kiosk print test-page`, `kiosk print jobs --json` and `kiosk print reprint`, on the
    private CUPS, as staff would run them."""
    from click.testing import CliRunner

    from kiosk.cli import main

    config = tmp_path / "kiosk.toml"
    config.write_text(
        f'[printer]\nname = "{cups_printer}"\nserver = "{cupsd.server}"\n', encoding="utf-8"
    )
    runner = CliRunner()
    base = ["--data-dir", str(data_dir), "--config", str(config)]
    result = runner.invoke(main, [*base, "print", "test-page", "--json"])
    assert result.exit_code == 0, result.output
    job = json.loads(result.output)
    assert job["state"] == "done" and job["kind"] == "test_page"
    [page] = cupsd.wait_for_outputs(cups_printer, 1)
    assert "Printer test page" in text_of(page)
    assert qr_codes(page, tmp_path)[0].startswith("DOORSTEP-TEST DEMO01 ")

    result = runner.invoke(main, [*base, "print", "reprint", job["id"], "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["reprint_of"] == job["id"]
    cupsd.wait_for_outputs(cups_printer, 2)

    result = runner.invoke(
        main, [*base, "print", "test-page", "--printer", "nowhere", "--wait", "10"]
    )
    assert result.exit_code == 1
    assert "unknown_printer" in result.output

    result = runner.invoke(main, [*base, "print", "jobs", "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert [j["state"] for j in listed] == ["failed", "done", "done"]  # newest first
    assert listed[0]["reason"] == "unknown_printer" and listed[0]["printer"] == "nowhere"

    result = runner.invoke(main, [*base, "print", "reprint", "NO-SUCH-JOB"])
    assert result.exit_code == 1 and "no print job" in result.output

    result = runner.invoke(main, [*base, "doctor", "--json"])
    found = json.loads(result.output)["devices"]["printer"]["found"]
    assert f"{cups_printer} (ready) [in use]" in found


# -- the service, whatever the printer -------------------------------------------------


def test_only_one_process_drives_the_printer(
    queue: PrintQueue, paths: Paths, tmp_path: Path
) -> None:
    folder = tmp_path / "printed"
    with PrinterService(queue, lambda p: FolderBackend(folder), spool=paths.spool):
        second = PrinterService(queue, lambda p: FolderBackend(folder), spool=paths.spool)
        with pytest.raises(PrinterBusy):
            second.start()


def test_the_folder_printer_holds_jobs_through_a_fault(
    queue: PrintQueue, run_service, tmp_path: Path
) -> None:
    folder = tmp_path / "printed"
    folder.mkdir()
    (folder / "out_of_paper").touch()
    events = Events()
    run_service(lambda p: FolderBackend(folder), on_event=events)
    job = queue.add(pdf("folder"), kind="test_page", title="test page")
    wait_until(lambda: state_of(queue, job.id) == (JobState.FAILED, "out_of_paper"))
    assert PrintEventKind.PRINTER_FAULT in events.kinds()
    (folder / "out_of_paper").unlink()
    wait_until(lambda: queue.get(job.id).state is JobState.DONE)
    assert [p.name.startswith("test_page-") for p in folder.glob("*.pdf")] == [True]
    assert PrintEventKind.PRINTER_READY in events.kinds()


class Exploding:
    """A backend whose every call fails in a way nobody planned for."""

    name = "exploding"

    def __init__(self) -> None:
        self.calls = 0

    def status(self):
        self.calls += 1
        raise ValueError("the driver fell over")


def test_the_service_survives_a_backend_that_throws(queue: PrintQueue, run_service) -> None:
    backend = Exploding()
    service = run_service(lambda p: backend)
    job = queue.add(pdf("x"), kind="receipt", title="receipt X")
    wait_until(lambda: backend.calls >= 3)
    assert service.health().running
    assert queue.get(job.id).state is JobState.QUEUED  # kept, untouched


def test_a_job_is_safe_in_the_store_before_any_printing(store: Store, paths: Paths) -> None:
    queue = PrintQueue(store)
    job = queue.add(pdf("kept"), kind="receipt", title="receipt KEPT", reference="R-1")
    reopened = PrintQueue(Store.open(paths))
    assert reopened.get(job.id).state is JobState.QUEUED
    assert b"kept" in reopened.document(job.id) or reopened.document(job.id).startswith(b"%PDF")
    # the PDF is sealed at rest like every blob
    sealed = store.blobs.path(job.document_sha256).read_bytes()
    assert not sealed.startswith(b"%PDF")


# -- printer states, generated ----------------------------------------------------------

_KEYWORDS = [
    "none", "media-empty", "media-needed", "media-jam", "cover-open", "door-open",
    "toner-empty", "marker-supply-empty", "offline", "paused", "shutdown",
    "connecting-to-device", "toner-low", "media-low", "other", "moving-to-paused",
]


@given(
    state=st.sampled_from([3, 4, 5]) | st.integers(-5, 20),
    reasons=st.lists(
        st.sampled_from(_KEYWORDS).flatmap(
            lambda k: st.sampled_from([k, f"{k}-error", f"{k}-warning", f"{k}-report"])
        )
        | st.text(max_size=40),
        max_size=6,
    ),
    accepting=st.booleans(),
    message=st.text(max_size=100),
)
def test_any_printer_state_maps_to_a_known_reason_or_ready(
    state: int, reasons: list[str], accepting: bool, message: str
) -> None:
    problem = problem_from_reasons(state, reasons, accepting, message)
    if problem is not None:
        assert problem.reason in REASONS
    if "media-empty-error" in reasons:
        assert isinstance(problem, OutOfPaper)
    if state == 5 or not accepting:
        assert problem is not None
    if state == 3 and accepting and all(r in ("none", "toner-low-warning") for r in reasons):
        assert problem is None


def test_printer_states_as_cups_reports_them() -> None:
    assert problem_from_reasons(3, ["none"], True) is None
    assert isinstance(problem_from_reasons(5, ["media-empty-error", "paused"], True), OutOfPaper)
    assert isinstance(problem_from_reasons(5, ["paused"], True), PrinterOffline)
    assert isinstance(problem_from_reasons(3, ["offline-report"], True), PrinterOffline)
    assert problem_from_reasons(3, ["media-low-report"], True) is None
    assert isinstance(problem_from_reasons(3, ["none"], False), PrinterOffline)


def test_folder_backend_progress(tmp_path: Path) -> None:
    backend = FolderBackend(tmp_path / "p")
    document = tmp_path / "d.pdf"
    document.write_bytes(pdf("x"))
    job = backend.submit(document, "receipt DEMO01")
    assert backend.job(job).progress is Progress.DONE
    assert backend.job("nope").progress is Progress.LOST
