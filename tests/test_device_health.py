"""The staff screen's device checks (kiosk.devices.health.KitChecks) on the simulated kit:
a synthetic camera, the folder printer, the simulated scanner gun and card reader."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from kiosk.config import CameraSettings, DeviceBackend, DeviceSettings, Paths, Settings
from kiosk.devices.discovery import FAMILIES
from kiosk.devices.health import DeviceChecks, KitChecks
from kiosk.devices.printer.jobs import JobKind, PrintQueue
from kiosk.devices.scanner import ScannerGun, SimulatedScanner
from kiosk.store.db import Store

SIMULATED = Settings(
    devices=DeviceSettings(**{family: DeviceBackend.SIMULATOR for family in FAMILIES}),
    camera=CameraSettings(scenes=("card",), width=640, height=480),
)
VOUCHER = "4243754826492874240001310000"


@pytest.fixture
def paths(data_dir: Path) -> Paths:
    return Paths(data_dir)


def checks(paths: Paths, store: Store | None = None, **options: object) -> KitChecks:
    return KitChecks(SIMULATED, paths, store=store, **options)  # type: ignore[arg-type]


def test_kit_checks_are_device_checks(paths: Paths) -> None:
    kit: DeviceChecks = checks(paths)
    assert kit.health("nothing", "en") == (False, "No such device: nothing")


@pytest.mark.parametrize("family", FAMILIES)
def test_every_simulated_device_is_healthy(paths: Paths, family: str) -> None:
    ok, said = checks(paths).health(family, "zh")
    assert ok, said


def test_a_camera_self_test_takes_a_picture(paths: Paths) -> None:
    assert checks(paths).self_test("camera", "en") == (True, "Took a 640×480 picture")


def test_the_printer_self_test_prints_a_test_page(paths: Paths, store: Store) -> None:
    ok, said = checks(paths, store).self_test("printer", "en")
    assert ok, said
    printed = list(paths.printed.glob("*.pdf"))
    assert len(printed) == 1
    (job,) = PrintQueue(store).jobs()
    assert job.kind == JobKind.TEST_PAGE and said == f"The test page printed (job {job.id[:8]})"


def test_a_printer_out_of_paper_is_named_and_its_test_page_waits(
    paths: Paths, store: Store
) -> None:
    paths.printed.mkdir(parents=True)
    (paths.printed / "out_of_paper").touch()
    kit = checks(paths, store, print_wait_s=5.0)
    ok, said = kit.health("printer", "en")
    assert not ok and "out_of_paper" in said
    ok, said = kit.self_test("printer", "en")
    assert not ok and "stays queued" in said
    assert not list(paths.printed.glob("*.pdf"))


def test_the_printer_self_test_needs_the_store(paths: Paths) -> None:
    assert checks(paths).self_test("printer", "en") == (
        False,
        "No local store: nothing can be printed",
    )


def run_scanner_test(
    paths: Paths, lang: str, code: str | None, *, wait_s: float = 30.0
) -> tuple[bool, str]:
    """Run the scanner self-test on a thread and scan `code` until it has seen one."""
    gun = ScannerGun()
    kit = checks(paths, scanner=gun, scan_wait_s=wait_s)
    results: list[tuple[bool, str]] = []
    tester = threading.Thread(target=lambda: results.append(kit.self_test("scanner", lang)))
    tester.start()
    while code is not None and tester.is_alive():
        SimulatedScanner(gun).scan(code)
        tester.join(0.05)
    tester.join()
    return results[0]


def test_the_scanner_self_test_reports_a_voucher(paths: Paths) -> None:
    ok, said = run_scanner_test(paths, "en", VOUCHER)
    assert ok and "e-voucher" in said and VOUCHER not in said


def test_the_scanner_self_test_reports_any_other_code(paths: Paths) -> None:
    ok, said = run_scanner_test(paths, "zh", "DOORSTEP-TEST DEMO01 20261124T101010")
    assert ok and "不是医保电子凭证" in said


def test_the_scanner_self_test_says_when_nothing_was_scanned(paths: Paths) -> None:
    ok, said = run_scanner_test(paths, "en", None, wait_s=0.1)
    assert not ok and said.startswith("No code was scanned within")


def test_the_scanner_self_test_needs_the_gun(paths: Paths) -> None:
    ok, said = checks(paths).self_test("scanner", "en")
    assert not ok and "not connected" in said


def test_the_simulated_card_reader_has_nothing_to_test(paths: Paths) -> None:
    ok, said = checks(paths).self_test("card_reader", "en")
    assert ok and "Simulated" in said
