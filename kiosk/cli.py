"""The `kiosk` command: run the kiosk, check the station, manage the catalog.

Global options come before the subcommand: `kiosk --data-dir DIR --config FILE doctor`.
Every subcommand that fails on purpose prints the staff message and what to do, and exits
non-zero (1 for a refused input or a broken store, 2 for wrong usage); with `--json` the
failure is one JSON object `{"error": NAME, "message": ...}` on stdout.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from kiosk import __version__
from kiosk.config import Paths, Settings, load_settings, resolve_data_dir
from kiosk.errors import DoorstepError

if TYPE_CHECKING:  # the real imports wait for the subcommand that needs them
    from kiosk.core.catalog import Catalog, ServiceItem
    from kiosk.devices.camera.sources import FrameSource
    from kiosk.store.db import Store

log = logging.getLogger("kiosk")


@dataclass
class Context:
    paths: Paths
    config_file: Path | None

    def settings(self) -> Settings:
        return load_settings(self.paths.data_dir, self.config_file)


pass_context = click.make_pass_decorator(Context)


def _fail(error: DoorstepError, as_json: bool) -> NoReturn:
    if as_json:
        click.echo(json.dumps({"error": error.name, "message": error.staff_message},
                              ensure_ascii=False))
    else:
        click.echo(f"error: {error.staff_message}", err=True)
        click.echo(f"what to do: {error.action}", err=True)
    sys.exit(1)


@contextmanager
def _reported(as_json: bool = False) -> Iterator[None]:
    """Turn a DoorstepError into a clear message and exit status 1."""
    try:
        yield
    except DoorstepError as error:
        _fail(error, as_json)


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


def _configure_logging(paths: Paths, level: str, console: bool) -> None:
    """Log to a rotating file in the data folder (and to stderr for the running kiosk)."""
    root = logging.getLogger()
    root.setLevel(level)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    paths.logs.mkdir(parents=True, exist_ok=True)
    file_handler = logging.handlers.RotatingFileHandler(
        paths.logs / "kiosk.log", maxBytes=5_000_000, backupCount=5, encoding="utf-8"
    )
    file_handler.setFormatter(formatter)
    root.addHandler(file_handler)
    # One line per HTTP request is noise; the sync logs what matters itself.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if console:
        stream = logging.StreamHandler()
        stream.setFormatter(formatter)
        root.addHandler(stream)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kiosk", message="%(prog)s %(version)s")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="The kiosk's data folder (default: $KIOSK_DATA_DIR, else the platform's).",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The settings file (default: $KIOSK_CONFIG, else kiosk.toml in the data folder).",
)
@click.pass_context
def main(ctx: click.Context, data_dir: Path | None, config_file: Path | None) -> None:
    """Doorstep: the front-desk kiosk of a community service station."""
    ctx.obj = Context(Paths(resolve_data_dir(data_dir)), config_file)


def _open_store(context: Context, *, console_log: bool = False) -> tuple[Settings, Store]:
    from kiosk.store.db import Store

    settings = context.settings()
    _configure_logging(context.paths, settings.log.level, console_log)
    return settings, Store.open(context.paths)


@main.command()
@click.option("--windowed", is_flag=True, help="A normal window instead of full screen.")
@click.option(
    "--screenshot",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Save a PNG of the window once it has drawn the catalog.",
)
@click.option("--quit-after", type=click.FloatRange(min=0.1), help="Quit after SECONDS.")
@pass_context
def run(
    context: Context, windowed: bool, screenshot: Path | None, quit_after: float | None
) -> None:
    """Start the kiosk."""
    with _reported():
        settings = context.settings()
    _configure_logging(context.paths, settings.log.level, console=True)
    from kiosk.ui.app import run as run_ui
    from kiosk.ui.crash import crash_folder, install_crash_reporter

    log.info("Doorstep %s starting (data folder %s)", __version__, context.paths.data_dir)
    install_crash_reporter(crash_folder(context.paths.data_dir))
    # The window draws its start screen first; the store (opened and migrated), the
    # background services and the devices come up behind it, on a worker thread, and the
    # catalog loads once they are up (kiosk.ui.app.run).
    stores: list[Store] = []
    services: list[Any] = []

    def bring_up(bridge: Any) -> Any:
        from kiosk.store.db import Store
        from kiosk.ui.kit import start_kit

        store = Store.open(context.paths)
        stores.append(store)
        started, printer, sync = _start_background_services(context, settings, store)
        services.extend(started)
        return start_kit(settings, context.paths, store, bridge, printer=printer, sync=sync)

    def catalog() -> Any:
        from kiosk.core.catalog_store import load_catalog

        return load_catalog(stores[0])

    try:
        with _reported():
            status = run_ui(
                settings,
                catalog,
                start_kit=bring_up,
                windowed=windowed,
                screenshot=screenshot,
                quit_after=quit_after,
            )
    finally:
        for service in reversed(services):
            service.stop()
        for store in stores:
            store.close()
    sys.exit(status)


def _start_background_services(
    context: Context, settings: Settings, store: Store
) -> tuple[list[Any], Any, Any]:
    """The kiosk's Qt-free background threads: the print service and the district sync
    (when the station is enrolled). Returns them all (each is stopped when the kiosk
    ends), the print service and the sync service (None when not started)."""
    from kiosk.devices.health import reported_health
    from kiosk.devices.printer.backends import backends_from_settings
    from kiosk.devices.printer.jobs import PrintQueue
    from kiosk.devices.printer.service import PrinterBusy, PrinterService
    from kiosk.sync.client import enrollment
    from kiosk.sync.engine import SyncEngine
    from kiosk.sync.service import SyncService

    started: list[Any] = []
    sync_service: SyncService | None = None
    printer: PrinterService | None = PrinterService(
        PrintQueue(store),
        backends_from_settings(settings, context.paths),
        spool=context.paths.spool,
    )
    try:
        printer.start()
        started.append(printer)
    except PrinterBusy:
        log.warning("another process drives the printer; this kiosk will not print")
        printer = None
    if enrollment(store) is None:
        log.warning("this station is not enrolled with a district: applications stay queued")
    else:
        sync_service = SyncService(
            context.paths,
            store,
            engine=SyncEngine(
                context.paths, store, health=lambda: reported_health(settings, printer)
            ),
        )
        sync_service.start()
        started.append(sync_service)
    return started, printer, sync_service


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_context
def doctor(context: Context, as_json: bool) -> None:
    """Check the station: version, data folder, database, catalog and devices."""
    from kiosk.doctor import examine

    with _reported(as_json):
        settings = context.settings()
    report = examine(context.paths, context.config_file, settings)
    if as_json:
        _echo_json(report)
    else:
        _print_doctor(report)
    sys.exit(0 if report["database"]["state"] == "ok" else 1)


def _print_doctor(report: dict[str, Any]) -> None:
    click.echo(f"Doorstep {report['version']}")
    click.echo(f"data folder: {report['data_dir']}")
    database = report["database"]
    click.echo(
        f"database: {database['state']} (schema {database['schema_revision']}, "
        f"newest {database['head_revision']})"
        + (f": {database['error']}" if database["error"] else "")
    )
    if catalog := report["catalog"]:
        sample = " (sample data)" if catalog["sample"] else ""
        click.echo(f"catalog: {catalog['version']}, {catalog['items']} items{sample}")
    for family, device in report["devices"].items():
        found = ", ".join(device["found"]) or "none found"
        problem = f" ({device['error']})" if device["error"] else ""
        click.echo(f"{family.replace('_', ' ')}: {device['backend']}: {found}{problem}")


@main.group()
def catalog() -> None:
    """The service catalog: list, show and import items."""


def _with_catalog(context: Context, as_json: bool, use: Callable[[Catalog], None]) -> None:
    from kiosk.core.catalog_store import load_catalog

    with _reported(as_json):
        _settings, store = _open_store(context)
        try:
            use(load_catalog(store))
        finally:
            store.close()


@catalog.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.option("--category", help="Only this category (e.g. medical_insurance).")
@click.option("--search", "query", help="Only items matching this (Chinese, English, pinyin).")
@pass_context
def catalog_list(context: Context, as_json: bool, category: str | None, query: str | None) -> None:
    """List the items of the catalog in use."""

    def show(loaded: Catalog) -> None:
        items = loaded.search(query) if query else list(loaded)
        if category:
            items = [item for item in items if item.category == category]
        if as_json:
            _echo_json([_summary(item) for item in items])
            return
        for item in items:
            click.echo(f"{item.code:10} {item.category.label('zh'):8} {item.name_zh}")

    _with_catalog(context, as_json, show)


def _summary(item: ServiceItem) -> dict[str, Any]:
    return {
        "code": item.code,
        "name_zh": item.name_zh,
        "name_en": item.name_en,
        "category": item.category.value,
        "handling": [h.value for h in item.handling],
        "promised_days": item.promised_days,
        "offline_ok": item.offline_ok,
    }


@catalog.command("show")
@click.argument("code")
@click.option("--json", "as_json", is_flag=True, help="Print the whole item as JSON.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@pass_context
def catalog_show(context: Context, code: str, as_json: bool, lang: str) -> None:
    """Show the service guide of one item."""

    def show(loaded: Catalog) -> None:
        item = loaded.get(code)
        if as_json:
            _echo_json(item.model_dump(mode="json"))
            return
        click.echo(f"{item.code}  {item.name(lang)}")
        click.echo(f"{'Category' if lang == 'en' else '类别'}: {item.category.label(lang)}")
        click.echo(f"{'Who may apply' if lang == 'en' else '办理对象'}: {item.eligibility(lang)}")
        for condition in item.conditions(lang):
            click.echo(f"  - {condition}")
        click.echo("Materials:" if lang == "en" else "申请材料:")
        for material in item.materials:
            form = material.form.label(lang)
            click.echo(f"  - {material.name(lang)} ({form} ×{material.copies})")
        click.echo(f"{'Time limit' if lang == 'en' else '承诺时限'}: {item.time_limit(lang)}")
        click.echo(f"{'Fee' if lang == 'en' else '收费'}: {item.fee(lang)}")
        handled = ", ".join(h.label(lang) for h in item.handling)
        click.echo(f"{'Handled' if lang == 'en' else '办理方式'}: {handled}")
        body = item.responsible_body(lang)
        click.echo(f"{'Responsible' if lang == 'en' else '实施主体'}: {body}")

    _with_catalog(context, as_json, show)


@catalog.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_context
def catalog_import(context: Context, file: Path) -> None:
    """Check FILE whole and make it the catalog in use (nothing changes if it is refused)."""
    from kiosk.core.catalog_store import import_catalog_file

    with _reported():
        _settings, store = _open_store(context)
        try:
            imported = import_catalog_file(store, file)
        finally:
            store.close()
    click.echo(f"imported catalog {imported.header.version}: {len(imported)} items")


@main.group()
def receipt() -> None:
    """Acceptance receipts (受理回执) as PDF."""


@receipt.command("sample")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the PDF (folders are made).",
)
@click.option("--roll", is_flag=True, help="For an 80 mm receipt roll instead of A4.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
def receipt_sample(out: Path, roll: bool, lang: str) -> None:
    """Render a receipt from sample data (a fictional resident, the sample catalog) to OUT."""
    from kiosk.documents import render_receipt, sample_receipt

    with _reported():
        pdf = render_receipt(sample_receipt(lang), roll=roll)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(pdf)
        except OSError as exc:
            raise DoorstepError(
                f"cannot write {out}: {exc.strerror}",
                action="Choose a file in a folder you can write to.",
            ) from None
    click.echo(f"wrote the sample {'80 mm roll' if roll else 'A4'} receipt to {out}")


@main.group()
def card() -> None:
    """The card reader: watch readers and cards, read a social security card."""


def _device_logging(context: Context, as_json: bool = False) -> Settings:
    """The settings, with logging to the data folder's log file (a device command's)."""
    with _reported(as_json):
        settings = context.settings()
    _configure_logging(context.paths, settings.log.level, console=False)
    return settings


@card.command("watch")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
@click.option("--read", "auto_read", is_flag=True, help="Also read each card (masked).")
@pass_context
def card_watch(context: Context, as_json: bool, auto_read: bool) -> None:
    """Print reader and card events as they happen, until Ctrl-C."""
    import signal
    import threading

    from kiosk.devices.card.service import CardEvent, CardReaderService

    _device_logging(context)

    def show(event: CardEvent) -> None:
        if as_json:
            click.echo(json.dumps(event.to_json(), ensure_ascii=False))
        else:
            click.echo(f"{time.strftime('%H:%M:%S')}  {event.describe()}")
        sys.stdout.flush()

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    service = CardReaderService(show, auto_read=auto_read)
    service.start()
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        service.stop()


@card.command("read")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--reader", help="The reader to use (default: the first one holding a card).")
@click.option("--reveal", is_flag=True, help="Print the personal data unmasked.")
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=0,
    help="Wait up to SECONDS for a card to be inserted.",
)
@pass_context
def card_read(
    context: Context, as_json: bool, reader: str | None, reveal: bool, wait: float
) -> None:
    """Read the social security card in the reader and print who it belongs to."""
    import datetime as dt

    from kiosk.devices.card.pcsc import PcscContext
    from kiosk.devices.card.service import read_identity, wait_for_card

    _device_logging(context)
    pcsc = PcscContext()
    with _reported(as_json):
        pcsc.establish()
        try:
            chosen = wait_for_card(pcsc, reader, timeout_s=wait)
            identity = read_identity(pcsc, chosen, today=dt.date.today())
        finally:
            pcsc.release()
    shown = identity.to_wire() if reveal else identity.to_display()
    if as_json:
        click.echo(json.dumps(shown, ensure_ascii=False))
        return
    width = max(len(key) for key in shown)
    for key, value in shown.items():
        if isinstance(value, list):
            value = ", ".join(value) or "-"
        elif isinstance(value, bool):
            value = "yes" if value else "no"
        click.echo(f"{key:<{width}}  {'-' if value is None else value}")


CAMERAS = ("camera", "document_camera")


@main.group()
def camera() -> None:
    """The camera and the document camera: list them, take a snapshot."""
    import cv2

    # OpenCV prints a warning of its own for every camera it cannot open; these commands
    # say what went wrong themselves.
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


def _camera_source(settings: Settings, device: str) -> tuple[str, FrameSource]:
    """The source `--device` names: a configured camera, or a real device by index or path
    (opened with the camera's size and rate)."""
    from kiosk.devices.camera.sources import OpenCvSource, open_source

    which = device.replace("-", "_")
    if which in CAMERAS:
        return which, open_source(getattr(settings, which), getattr(settings.devices, which))
    section = settings.camera
    return device, OpenCvSource(device, section.width, section.height, section.fps)


@camera.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_context
def camera_list(context: Context, as_json: bool) -> None:
    """Say how each camera is set up and whether it gives frames (each is opened for a
    moment), and list the video devices of this computer. Exits 1 when a camera gives no
    frames."""
    from kiosk.devices.camera.errors import CameraError
    from kiosk.devices.camera.service import snapshot
    from kiosk.devices.camera.v4l import list_video_devices

    settings = _device_logging(context, as_json)
    cameras = []
    for which in CAMERAS:
        _, source = _camera_source(settings, which)
        entry: dict[str, Any] = {
            "name": which,
            "backend": getattr(settings.devices, which).value,
            "source": source.describe(),
            "gives_frames": False,
            "width": None,
            "height": None,
            "error": None,
            "message": None,
        }
        try:
            image = snapshot(source, timeout=5.0)
        except CameraError as error:
            entry.update(error=error.name, message=error.staff_message)
        else:
            entry.update(gives_frames=True, width=image.shape[1], height=image.shape[0])
        cameras.append(entry)
    devices = list_video_devices()
    if as_json:
        _echo_json(
            {"cameras": cameras, "video_devices": [device.as_json() for device in devices]}
        )
    else:
        for entry in cameras:
            click.echo(f"{entry['name'].replace('_', ' ')}: {entry['backend']}: {entry['source']}")
            if entry["gives_frames"]:
                click.echo(f"  gives frames: {entry['width']}x{entry['height']}")
            else:
                click.echo(f"  no frames: {entry['error']}: {entry['message']}")
        click.echo("video devices:" if devices else "video devices: none found")
        for device in devices:
            click.echo(f"  {device.describe()}")
    sys.exit(0 if all(entry["gives_frames"] for entry in cameras) else 1)


@camera.command("snapshot")
@click.option(
    "--device",
    default="camera",
    show_default=True,
    help="camera, document_camera, or a device index or path to open with the real backend.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The picture to write; its extension (.png, .jpg, .bmp, .webp …) sets the format.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Seconds to wait for a frame.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_context
def camera_snapshot(
    context: Context, device: str, out: Path, timeout: float, as_json: bool
) -> None:
    """Take one picture with a camera and write it to a file."""
    import cv2

    from kiosk.devices.camera.service import snapshot
    from kiosk.devices.camera.sources import OpenCvSource

    if not cv2.haveImageWriter(str(out)):
        raise click.BadParameter(
            f"cannot write pictures as {out.suffix or 'a file without an extension'!r}: "
            "name the file .png, .jpg, .bmp or .webp",
            param_hint="--out",
        )
    settings = _device_logging(context, as_json)
    which, source = _camera_source(settings, device)
    # A real camera's first frames are dark while its exposure settles.
    settle = 5 if isinstance(source, OpenCvSource) and source.paced else 0
    with _reported(as_json):
        image = snapshot(source, timeout, settle_frames=settle)
        ok, encoded = cv2.imencode(out.suffix, image)
        if not ok:
            raise DoorstepError(f"OpenCV could not encode the picture as {out.suffix}")
        try:
            out.write_bytes(encoded.tobytes())
        except OSError as exc:
            raise DoorstepError(
                f"cannot write {out}: {exc.strerror}",
                action="Name a file in a folder that exists and can be written.",
            ) from None
    height, width = image.shape[:2]
    if as_json:
        click.echo(
            json.dumps(
                {"device": which, "source": source.describe(), "path": str(out),
                 "width": width, "height": height},
                ensure_ascii=False,
            )
        )
    else:
        click.echo(f"saved a {width}x{height} picture from {source.describe()} to {out}")


@main.group()
def vision() -> None:
    """What the cameras see, on image files: codes, cards, pages, faces."""
    import cv2

    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


_IMAGE = click.Path(dir_okay=False, path_type=Path)


@vision.command("decode")
@click.argument("image", type=_IMAGE)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def vision_decode(image: Path, as_json: bool) -> None:
    """Everything found in IMAGE: QR codes (a medical-insurance voucher or other), a card,
    a document page and faces. A code's text is printed escaped, never followed."""
    from kiosk.devices.vision.images import load_image
    from kiosk.devices.vision.pipeline import analyse, safe_json

    with _reported(as_json):
        picture = load_image(image)
    found = analyse(picture)
    if as_json:
        click.echo(safe_json(found.as_json()))
        return
    height, width = picture.shape[:2]
    click.echo(f"{image}: {width}x{height}")
    for code in found.codes:
        click.echo(f"  code ({code.kind}): {code.display_text}")
    if found.card:
        click.echo(f"  card at {_corners(found.card.corners)}")
    if found.document:
        click.echo(f"  page at {_corners(found.document.corners)}")
    for x, y, w, h in found.faces:
        click.echo(f"  face at x {x}, y {y}, {w}x{h}")
    if not (found.codes or found.card or found.document or found.faces):
        click.echo("  nothing found")


def _corners(corners: Any) -> str:
    return " ".join(f"({x:.0f}, {y:.0f})" for x, y in corners)


@vision.command("card")
@click.argument("image", type=_IMAGE)
@click.option("--out", required=True, type=_IMAGE, help="Where to write the card's face.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def vision_card(image: Path, out: Path, as_json: bool) -> None:
    """Find the card in IMAGE and write its face, flattened and upright, to OUT
    (856x540, 10 px per mm). Exits 1 when there is no card."""
    from kiosk.devices.vision.card import CardNotFound, find_card, flatten_card
    from kiosk.devices.vision.images import load_image, save_image

    with _reported(as_json):
        picture = load_image(image)
        finding = find_card(picture)
        if finding is None:
            raise CardNotFound(f"no card in {image}")
        save_image(out, flatten_card(picture, finding))
    if as_json:
        click.echo(json.dumps({"path": str(out), **finding.as_json()}))
    else:
        click.echo(f"card at {_corners(finding.corners)}; its face is in {out}")


@vision.command("page")
@click.argument("images", nargs=-1, required=True, type=_IMAGE)
@click.option(
    "--out",
    required=True,
    type=_IMAGE,
    help="FILE.pdf for one document of all pages; an image file for one page "
    "(several pages become FILE-1.png, FILE-2.png …).",
)
@click.option("--raw", is_flag=True, help="Flattened and turned only, not cleaned.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def vision_page(images: tuple[Path, ...], out: Path, raw: bool, as_json: bool) -> None:
    """Find the page in each IMAGE, flatten it, turn it upright and clean it for reading;
    write them to OUT. Exits 1 when an image holds no page (and writes nothing)."""
    from kiosk.devices.vision.images import load_image, save_image
    from kiosk.devices.vision.page import (
        PageNotFound,
        clean_page,
        find_page,
        flatten_page,
        pages_to_pdf,
    )

    pages, found = [], []
    with _reported(as_json):
        for image in images:
            picture = load_image(image)
            finding = find_page(picture)
            if finding is None:
                raise PageNotFound(f"no page in {image}")
            flat, finding = flatten_page(picture, finding)
            pages.append(flat if raw else clean_page(flat))
            found.append({"image": str(image), **finding.as_json()})
        if out.suffix.lower() == ".pdf":
            written = [out]
            try:
                pages_to_pdf(pages, out)
            except OSError as exc:
                raise DoorstepError(f"cannot write {out}: {exc.strerror}") from None
        elif len(pages) == 1:
            written = [save_image(out, pages[0])]
        else:
            written = [
                save_image(out.with_name(f"{out.stem}-{n}{out.suffix}"), page)
                for n, page in enumerate(pages, 1)
            ]
    if as_json:
        click.echo(json.dumps({"written": [str(p) for p in written], "pages": found}))
    else:
        for entry in found:
            click.echo(f"{entry['image']}: page at {_corners(entry['corners'])}")
        click.echo("written: " + ", ".join(str(p) for p in written))


@main.group("print")
def print_group() -> None:
    """The printer: a test page, the print jobs and their states, reprints."""


_WAIT = click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    help="Seconds to wait for the job to print.",
)


def _print_and_wait(
    context: Context, queue_job: Callable[[Any], Any], wait: float, as_json: bool
) -> None:
    """Queue a job with `queue_job(queue)`, print it (or leave it to the running kiosk),
    and report how it went: exit 0 once printed, 1 if it could not print (it stays queued
    and prints when the printer is back)."""
    import threading

    from kiosk.devices.printer.backends import backends_from_settings
    from kiosk.devices.printer.jobs import JobState, PrintQueue
    from kiosk.devices.printer.service import (
        PrinterBusy,
        PrinterService,
        PrintEvent,
        PrintEventKind,
    )

    with _reported(as_json):
        settings, store = _open_store(context)
        queue = PrintQueue(store)
        job = queue_job(queue)
    settled = threading.Event()

    def on_event(event: PrintEvent) -> None:
        if event.job is not None and event.job.id == job.id and event.kind in (
            PrintEventKind.DONE,
            PrintEventKind.FAILED,
        ):
            settled.set()

    service = PrinterService(
        queue,
        backends_from_settings(settings, context.paths),
        spool=context.paths.spool,
        on_event=on_event,
        poll_s=0.25,
    )
    driving = True
    try:
        service.start()
    except PrinterBusy:
        driving = False  # the running kiosk prints it
    try:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and not settled.is_set():
            if not driving and queue.get(job.id).state in (JobState.DONE, JobState.FAILED):
                break
            settled.wait(0.25)
    finally:
        if driving:
            service.stop()
    job = queue.get(job.id)
    if as_json:
        click.echo(json.dumps(job.as_json(), ensure_ascii=False))
    elif job.state is JobState.DONE:
        click.echo(f"printed: {job.title} (job {job.id})")
    elif job.state is JobState.FAILED:
        click.echo(f"not printed: {job.title} (job {job.id}): {job.reason}: {job.detail}", err=True)
        click.echo("it stays queued and prints once the printer is back", err=True)
    else:
        where = "the running kiosk is printing it" if not driving else f"still {job.state}"
        click.echo(f"{job.title} (job {job.id}): {where}")
    if job.state is JobState.FAILED:
        sys.exit(1)


@print_group.command("test-page")
@click.option("--printer", help="The CUPS queue (default: the one in the settings).")
@_WAIT
@click.option("--json", "as_json", is_flag=True, help="Print the job as one JSON object.")
@pass_context
def print_test_page(context: Context, printer: str | None, wait: float, as_json: bool) -> None:
    """Print a test page: the station, the printer, Chinese and English text and a code."""
    from datetime import datetime

    from kiosk.documents.test_page import render_test_page

    def queue_job(queue: Any) -> Any:
        settings = context.settings()
        name = printer or settings.printer.name or "(default printer)"
        document = render_test_page(settings.station, name, datetime.now().astimezone())
        return queue.add(document, kind="test_page", title="test page", printer=printer)

    _print_and_wait(context, queue_job, wait, as_json)


@print_group.command("reprint")
@click.argument("key")
@click.option("--printer", help="Another CUPS queue to print on.")
@_WAIT
@click.option("--json", "as_json", is_flag=True, help="Print the new job as one JSON object.")
@pass_context
def print_reprint(
    context: Context, key: str, printer: str | None, wait: float, as_json: bool
) -> None:
    """Print again the document of job KEY (a job id, or a reference such as
    DEMO01-20261124-0007 for its newest job)."""
    _print_and_wait(context, lambda queue: queue.reprint(key, printer=printer), wait, as_json)


@print_group.command("jobs")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=200, show_default=True)
@pass_context
def print_jobs(context: Context, as_json: bool, limit: int) -> None:
    """The print jobs, newest first, with their states (queued, printing, done, failed)
    and, for a failed one, why (offline, out_of_paper, unknown_printer …)."""
    from kiosk.devices.printer.jobs import PrintQueue

    with _reported(as_json):
        _, store = _open_store(context)
        jobs = PrintQueue(store).jobs(limit=limit)
    if as_json:
        _echo_json([job.as_json() for job in jobs])
        return
    if not jobs:
        click.echo("no print jobs")
    for job in jobs:
        reason = f" ({job.reason})" if job.reason else ""
        when = job.created_at.astimezone().strftime("%Y-%m-%d %H:%M")
        click.echo(f"{job.id[:8]}  {when}  {job.state.value}{reason}  {job.title}")


@main.command()
@click.option("--server", required=True, help="The district server's address (https://…).")
@click.option("--code", required=True, help="The one-time enrollment code from the district.")
@click.option("--json", "as_json", is_flag=True, help="Print the district's answer as JSON.")
@pass_context
def enroll(context: Context, server: str, code: str, as_json: bool) -> None:
    """Enroll this station with its district. The station's key pair is made here and its
    private key never leaves the kiosk. Safe to repeat with the same code if the answer
    was lost."""
    from kiosk.sync.client import enroll as enroll_station

    with _reported(as_json):
        _, store = _open_store(context)
        answer = enroll_station(context.paths, store, server, code)
    if as_json:
        click.echo(answer.model_dump_json())
    else:
        click.echo(
            f"enrolled as {answer.station_name} ({answer.station_code}, id {answer.station_id}) "
            f"with {answer.district_name}"
        )


@main.group(invoke_without_command=True)
@click.option("--once", is_flag=True, help="Run one sync pass now and report it.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def sync(ctx: click.Context, once: bool, as_json: bool) -> None:
    """Sync with the district: `kiosk sync --once` runs one pass (upload the queue, fetch
    the district's decisions and catalog); `kiosk sync status` shows where things are."""
    if ctx.invoked_subcommand is not None:
        return
    if not once:
        click.echo(ctx.get_help())
        return
    import asyncio

    from kiosk.devices.health import reported_health
    from kiosk.sync.engine import SyncEngine
    from kiosk.sync.service import read_status

    context: Context = ctx.obj
    with _reported(as_json):
        settings, store = _open_store(context)
        engine = SyncEngine(context.paths, store, health=lambda: reported_health(settings))
        try:
            report = asyncio.run(engine.run_pass())
        except DoorstepError as error:
            engine.record_failure(error)
            raise
    status = read_status(store, online=True)
    if as_json:
        click.echo(json.dumps({"pass": report.as_json(), "status": status.as_json()}))
    else:
        click.echo(
            f"accepted {report.accepted}, rejected {report.rejected}, retry {report.retry}, "
            f"blobs {report.blobs_sent}, changes {report.changes}; {status.queued} still queued"
        )


@sync.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_context
def sync_status(context: Context, as_json: bool) -> None:
    """Where the sync is: enrolled, queued, rejected, last success and last error."""
    from kiosk.sync.service import read_status

    with _reported(as_json):
        _, store = _open_store(context)
        status = read_status(store)
    if as_json:
        click.echo(json.dumps(status.as_json()))
        return
    if not status.enrolled:
        click.echo("not enrolled: run `kiosk enroll --server URL --code CODE`")
    click.echo(f"server: {status.server or '-'}")
    click.echo(f"queued: {status.queued}; rejected: {status.rejected}")
    click.echo(f"last success: {status.last_success or 'never'}")
    if status.last_error:
        click.echo(f"last error ({status.last_error_at}): {status.last_error}")


@main.command("call")
@click.option("--item", "item_code", default="", help="The service item's code.")
@click.option(
    "--standby", is_flag=True,
    help="Make no call: wait for an agent to call this station back, and answer it.",
)
@click.option("--title", default="", help="The item's title, as the agent sees it.")
@click.option("--category", default="", help="The item's category (routes the call).")
@click.option("--chat", "chat", help="Send this chat line once the call is connected.")
@click.option(
    "--answer-captures", is_flag=True,
    help="Answer each capture the agent asks for with a picture from a camera.",
)
@click.option("--seconds", type=click.FloatRange(min=0.1), help="End the call after SECONDS.")
@click.option("--stamp", is_flag=True, help="Draw the time into each frame (bench/video.py).")
@click.option("--stats", is_flag=True, help="Print the media's figures every second.")
@pass_context
def call(
    context: Context, item_code: str, standby: bool, title: str, category: str,
    chat: str | None, answer_captures: bool, seconds: float | None, stamp: bool, stats: bool,
) -> None:
    """Call an agent from the command line with the configured camera (an enrolled
    station): each event one JSON line on stdout; SIGTERM ends the call cleanly. Exits 1
    when no call could be made (not enrolled, offline, no agent)."""
    from kiosk.remote.events import CallRequestInfo
    from kiosk.remote.headless import run_call

    if not item_code and not standby:
        raise click.UsageError("name the item (--item CODE), or wait for a call (--standby)")
    with _reported():
        settings, store = _open_store(context)
    info = CallRequestInfo(item_code=item_code, item_title=title, category=category,
                           source="staff")
    sys.exit(run_call(settings, context.paths, store, info, chat=chat,
                      answer_captures=answer_captures, seconds=seconds, with_stamp=stamp,
                      with_stats=stats, standby=standby))


@main.group()
def applications() -> None:
    """Applications in the local store (for staff, tests and demos)."""


@applications.command("new")
@click.option("--item", "item_code", required=True, help="The service item's code.")
@click.option(
    "--resident-json",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A JSON file with the resident's identity (as `kiosk card read --json --reveal`).",
)
@click.option("--count", type=click.IntRange(1, 100_000), default=1, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the new applications as JSON.")
@pass_context
def applications_new(
    context: Context, item_code: str, resident_json: Path, count: int, as_json: bool
) -> None:
    """Create COUNT queued applications for ITEM with two sample document images each."""
    from kiosk.core.applications import Applications
    from kiosk.core.catalog_store import load_catalog
    from kiosk.core.samples import sample_document_images

    with _reported(as_json):
        settings, store = _open_store(context)
        try:
            resident = json.loads(resident_json.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DoorstepError(
                f"cannot read {resident_json} as JSON: {exc}",
                action="Give a JSON object such as `kiosk card read --json --reveal` prints.",
            ) from None
        if not isinstance(resident, dict):
            raise DoorstepError(f"{resident_json} must hold a JSON object")
        item = load_catalog(store).get(item_code)
        from kiosk.sync.client import enrollment

        enrolled = enrollment(store)
        station = enrolled.station_code if enrolled and enrolled.station_code else (
            settings.station.code
        )
        made = Applications(store, station).queue_many(
            item, resident, count, sample_document_images
        )
    if as_json:
        _echo_json([{"id": a.id, "reference": a.reference, "state": a.state.value} for a in made])
    else:
        click.echo(f"queued {len(made)} application(s) for {item.code}")


@applications.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@pass_context
def applications_list(context: Context, as_json: bool) -> None:
    """Every application in the local store, oldest first (no personal data)."""
    from kiosk.core.applications import Applications

    with _reported(as_json):
        settings, store = _open_store(context)
        views = Applications(store, settings.station.code).views()
    if as_json:
        _echo_json(
            [
                {"id": v.id, "reference": v.reference, "item_code": v.item_code,
                 "state": v.state.value, "reason": v.reason, "materials": v.material_count}
                for v in views
            ]
        )
        return
    for v in views:
        reason = f" ({v.reason})" if v.reason else ""
        click.echo(f"{v.reference}  {v.item_code}  {v.state.value}{reason}")


@main.group()
def ratings() -> None:
    """The 好差评 ratings residents gave (no resident in them), and staff's comments."""


@ratings.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@pass_context
def ratings_list(context: Context, as_json: bool) -> None:
    """Today's ratings, newest first: id, time, score, item, comment, uploaded or not."""
    from datetime import datetime

    from kiosk.core.ratings import Ratings

    with _reported(as_json):
        _, store = _open_store(context)
        views = Ratings(store).on_day(datetime.now().astimezone())
    if as_json:
        _echo_json(
            [
                {"id": v.id, "rated_at": v.rated_at.isoformat(), "score": v.score,
                 "application_id": v.application_id, "item_code": v.item_code,
                 "comment": v.comment, "uploaded": v.uploaded, "queued": v.queued}
                for v in views
            ]
        )
        return
    for v in views:
        when = v.rated_at.astimezone().strftime("%H:%M")
        sent = "uploaded" if v.uploaded and not v.queued else "queued"
        comment = f"  {v.comment}" if v.comment else ""
        click.echo(f"{v.id}  {when}  {v.score}/5  {v.item_code or '-'}  {sent}{comment}")


@ratings.command("comment")
@click.argument("rating_id")
@click.argument("comment")
@pass_context
def ratings_comment(context: Context, rating_id: str, comment: str) -> None:
    """Attach staff's COMMENT (at most 200 characters; "" removes it) to a rating; it
    goes to the district with the next sync, even if the rating went already."""
    from kiosk.core.ratings import Ratings

    with _reported():
        _, store = _open_store(context)
        Ratings(store).comment(rating_id, comment)
    click.echo("comment kept: it goes to the district with the next sync")


@main.group()
def staff() -> None:
    """Staff mode at the kiosk: the PIN that opens it."""


@staff.command("set-pin")
@click.option(
    "--pin-stdin", is_flag=True, help="Read the PIN from the first line of standard input."
)
@pass_context
def staff_set_pin(context: Context, pin_stdin: bool) -> None:
    """Set the staff PIN (6 to 12 digits), asked twice without showing it. Kept only as a
    salted hash; wrong tries and any lockout are cleared."""
    from kiosk.core.staff import set_pin

    if pin_stdin:
        pin = sys.stdin.readline().rstrip("\r\n")
    else:
        pin = click.prompt(
            "new staff PIN", hide_input=True, confirmation_prompt="the same PIN again"
        )
    with _reported():
        set_pin(context.paths, pin)
    click.echo("staff PIN set: staff mode opens with it")
