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
        settings, store = _open_store(context, console_log=True)
    from kiosk.core.catalog_store import load_catalog
    from kiosk.ui.app import run as run_ui

    log.info("Doorstep %s starting (data folder %s)", __version__, context.paths.data_dir)
    try:
        status = run_ui(
            settings,
            lambda: load_catalog(store),
            windowed=windowed,
            screenshot=screenshot,
            quit_after=quit_after,
        )
    finally:
        store.close()
    sys.exit(status)


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
def card() -> None:
    """The card reader: watch readers and cards, read a social security card."""


def _card_logging(context: Context) -> None:
    with _reported():
        settings = context.settings()
    _configure_logging(context.paths, settings.log.level, console=False)


@card.command("watch")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
@click.option("--read", "auto_read", is_flag=True, help="Also read each card (masked).")
@pass_context
def card_watch(context: Context, as_json: bool, auto_read: bool) -> None:
    """Print reader and card events as they happen, until Ctrl-C."""
    import signal
    import threading

    from kiosk.devices.card.service import CardEvent, CardReaderService

    _card_logging(context)

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

    _card_logging(context)
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
