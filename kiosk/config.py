"""The kiosk's settings: one declared schema with defaults, read from a TOML file and
overridden by environment variables; and the paths every part of the kiosk uses.

Where things come from, strongest first:

- the data folder: the global `--data-dir DIR` option, then `KIOSK_DATA_DIR`, then the
  platform's user data folder (`~/.local/share/doorstep` on Linux);
- the settings file: the global `--config FILE` option, then `KIOSK_CONFIG`, then
  `kiosk.toml` inside the data folder (a missing file means all defaults);
- each setting: an environment variable `KIOSK_<SECTION>__<KEY>` (for example
  `KIOSK_UI__LANGUAGE=en`), then the settings file, then the settings station staff
  changed on the kiosk's staff screen (`local-settings.json` in the data folder), then
  the settings the district published for the station (`district-settings.json`), then
  the default below.

Staff may change only the `STATION_CHANGEABLE` settings (the residents' default language,
large text, spoken prompts and the idle times). The staff screen writes them to
`local-settings.json` (atomically, with `save_local_settings`); a value there that is not
changeable or not valid is ignored, and a file that cannot be read counts as empty. The
technician's settings file still wins: a key it sets is not the staff's to change
(`fixed_by_file` names such keys, so the staff screen can say so).

A bad file or override stops start-up with a SettingsError that names the key and, for
the file, the line.

The schema is msgspec's: its structs are built and checked in a few milliseconds, where a
pydantic schema of the same settings cost the kiosk a tenth of a second on every start
(bench/ui.py's cold start). msgspec reports the first problem of each table, and checks
what it converts (`validate`, `load_settings`), not sections made in code: give those
the declared types (`DeviceBackend.SIMULATOR`, not "simulator").
"""

from __future__ import annotations

import json
import os
import re
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import platformdirs
from msgspec import Meta, Struct, field

from kiosk.errors import SettingsError
from kiosk.tomlfile import TomlLines, syntax_error_line

APP_NAME = "doorstep"
ENV_PREFIX = "KIOSK_"
SETTINGS_FILE_NAME = "kiosk.toml"


class SettingProblem(ValueError):
    """A setting that is not valid together with the others of its table (raised in a
    section's `__post_init__`; `key` names the setting to point at)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


class _Section(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A table of the settings file: unknown keys are errors, values never change."""


class StationSettings(_Section):
    """Who this station is. The code appears in every application reference."""

    code: Annotated[str, Meta(pattern=r"^[A-Z0-9]{2,12}$")] = "DEMO01"
    name_zh: Annotated[str, Meta(min_length=1, max_length=60)] = "示例街道家门口服务站"
    name_en: Annotated[str, Meta(min_length=1, max_length=120)] = "Sample Street Service Station"
    phone: Annotated[str, Meta(pattern=r"^[0-9-]{3,20}$")] = "12345"


class UiSettings(_Section):
    """How the kiosk looks to residents."""

    language: Literal["zh", "en"] = "zh"
    fullscreen: bool = True
    large_text: bool = False
    # Spoken prompts (espeak-ng); residents can mute them on the screen.
    speech: bool = True
    # A visit left alone this long is warned about, then wiped this much later.
    idle_warning_s: Annotated[int, Meta(ge=10, le=1800)] = 60
    idle_timeout_s: Annotated[int, Meta(ge=5, le=600)] = 20


class DeviceBackend(StrEnum):
    REAL = "real"
    SIMULATOR = "simulator"


class DeviceSettings(_Section):
    """Which backend drives each device of the five-piece kit."""

    card_reader: DeviceBackend = DeviceBackend.REAL
    camera: DeviceBackend = DeviceBackend.REAL
    document_camera: DeviceBackend = DeviceBackend.REAL
    scanner: DeviceBackend = DeviceBackend.REAL
    printer: DeviceBackend = DeviceBackend.REAL


# The synthetic scenes a simulated camera can show: the values of
# kiosk.devices.camera.scene.SceneKind, kept here as strings so that reading the settings
# needs neither NumPy nor OpenCV (tests/test_camera.py checks the two agree).
SceneName = Literal["empty", "card", "voucher", "qr", "page", "face"]


class CameraSettings(_Section):
    """One camera: the real device to open, the size and rate asked of it, and what its
    simulator shows. `devices.camera` / `devices.document_camera` choose the backend.

    `device` is an index ("0") or a path OpenCV can open; on Linux prefer the stable
    `/dev/v4l/by-id/...-video-index0` link (`kiosk camera list` shows it), since indexes
    move when cameras are plugged in another order. `simulator_path` (a video file or a
    folder of images) is relative to the assets folder unless absolute. `scenes` may be
    given as a comma-separated string (an environment variable, say).
    """

    device: Annotated[str, Meta(min_length=1, max_length=500)] = "0"
    width: Annotated[int, Meta(ge=160, le=7680)] = 1280
    height: Annotated[int, Meta(ge=120, le=4320)] = 720
    fps: Annotated[float, Meta(ge=1, le=120)] = 15.0
    simulator: Literal["synthetic", "video", "images"] = "synthetic"
    simulator_path: Annotated[str, Meta(max_length=1000)] = ""
    scenes: Annotated[tuple[SceneName, ...], Meta(max_length=50)] = (
        "face",
        "card",
        "voucher",
        "empty",
    )
    hold_s: Annotated[float, Meta(ge=0.1, le=3600)] = 3.0  # each scene or image, simulated

    def __post_init__(self) -> None:
        if self.simulator != "synthetic" and not self.simulator_path:
            raise SettingProblem(
                "simulator_path",
                f"simulator = {self.simulator!r} needs a video file or image folder",
            )
        if not self.scenes:
            raise SettingProblem("scenes", "name at least one scene")


class DocumentCameraSettings(CameraSettings):
    """The document camera (高拍仪): a CameraSettings with its own defaults, so that a
    `[document_camera]` table naming only some keys keeps these for the rest."""

    device: Annotated[str, Meta(min_length=1, max_length=500)] = "1"
    width: Annotated[int, Meta(ge=160, le=7680)] = 1920
    height: Annotated[int, Meta(ge=120, le=4320)] = 1080
    scenes: Annotated[tuple[SceneName, ...], Meta(max_length=50)] = ("page",)


class PrinterSettings(_Section):
    """The printer: a CUPS queue (`devices.printer = "real"`), or for the demo and tests a
    folder the simulated printer writes PDFs into (`"simulator"`)."""

    # The CUPS queue; empty: CUPS's default printer.
    name: Annotated[str, Meta(max_length=127, pattern=r"^[^\s/#]*$")] = ""
    # The CUPS server (host[:port] or a socket path); empty: the machine's own CUPS.
    server: Annotated[str, Meta(max_length=500)] = ""
    # The simulated printer's folder; empty: `printed/` in the data folder.
    folder: Annotated[str, Meta(max_length=1000)] = ""
    # What receipts are printed on: A4 sheets or the 80 mm roll of a receipt printer.
    paper: Literal["a4", "roll80"] = "a4"


class RemoteSettings(_Section):
    """Remote video assistance (kiosk/remote). `microphone` and `speaker` name the audio
    devices the call uses (ALSA or PulseAudio names, as `arecord -L` / `aplay -L` list
    them); empty means the station has none, and a call is video and the text panel. The
    district may switch calls off for a station and decide whether they may be recorded
    (the resident is still asked each time)."""

    enabled: bool = True
    microphone: Annotated[str, Meta(max_length=200)] = ""
    speaker: Annotated[str, Meta(max_length=200)] = ""
    audio_format: Literal["alsa", "pulse"] = "alsa"
    recording_allowed: bool = False
    #: how many fresh offers a lost media path gets before the call ends (aiortc cannot
    #: restart ICE, so each try is a new peer connection under the same call id)
    reoffers: Annotated[int, Meta(ge=0, le=10)] = 3


class LogSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class Settings(_Section):
    """Every setting of the kiosk, in sections that match the TOML file's tables."""

    station: StationSettings = field(default_factory=StationSettings)
    ui: UiSettings = field(default_factory=UiSettings)
    devices: DeviceSettings = field(default_factory=DeviceSettings)
    camera: CameraSettings = field(default_factory=CameraSettings)
    document_camera: DocumentCameraSettings = field(default_factory=DocumentCameraSettings)
    printer: PrinterSettings = field(default_factory=PrinterSettings)
    log: LogSettings = field(default_factory=LogSettings)
    remote: RemoteSettings = field(default_factory=RemoteSettings)


#: Each table of the settings file and the section that checks it.
SECTIONS: Mapping[str, type[_Section]] = {
    each.name: each.type for each in msgspec.structs.fields(Settings)
}


class InvalidSettings(Exception):
    """Settings that did not pass the schema: each problem's place (table, key) and what
    is wrong, in words for the technician."""

    def __init__(self, problems: list[tuple[tuple[str, ...], str]]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


def validate(tables: Mapping[str, Any]) -> Settings:
    """Settings from their tables (strings are read as the numbers and booleans a key
    wants, as environment variables give them); InvalidSettings naming every bad table's
    first problem, and every unknown table."""
    sections: dict[str, _Section] = {}
    problems: list[tuple[tuple[str, ...], str]] = []
    for table, values in tables.items():
        section = SECTIONS.get(table)
        if section is None:
            problems.append(((table,), "unknown setting"))
            continue
        try:
            sections[table] = msgspec.convert(_split_lists(section, values), section, strict=False)
        except msgspec.ValidationError as exc:
            problems.append(_explain(table, section, exc))
    if problems:
        raise InvalidSettings(problems)
    return Settings(**sections)


def setting_bounds(section: type[_Section], key: str) -> tuple[float, float]:
    """The least and greatest value the schema allows for a number setting."""
    (meta,) = (m for m in _metadata(section, key) if isinstance(m, Meta))
    if meta.ge is None or meta.le is None:
        raise ValueError(f"{section.__name__}.{key} has no bounds")
    return meta.ge, meta.le


def _fields(section: type[_Section]) -> dict[str, Any]:
    return {each.name: each.type for each in msgspec.structs.fields(section)}


def _metadata(section: type[_Section], key: str) -> tuple[Any, ...]:
    return typing.get_args(_fields(section)[key])[1:]


def _split_lists(section: type[_Section], values: Any) -> Any:
    """`values` with a comma-separated string given for a list setting made a list."""
    if not isinstance(values, dict):
        return values
    fields = _fields(section)
    split = dict(values)
    for key, value in values.items():
        kind = fields.get(key)
        if isinstance(value, str) and kind is not None and _origin(kind) is tuple:
            split[key] = [part.strip() for part in value.split(",") if part.strip()]
    return split


def _origin(kind: Any) -> Any:
    if typing.get_origin(kind) is Annotated:
        kind = typing.get_args(kind)[0]
    return typing.get_origin(kind) or kind


_PLACE = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_UNKNOWN_FIELD = re.compile(r"^Object contains unknown field `(?P<key>[^`]*)`$")


def _explain(
    table: str, section: type[_Section], exc: msgspec.ValidationError
) -> tuple[tuple[str, ...], str]:
    """Where in `table` msgspec's error is, and what it means."""
    if isinstance(exc.__cause__, SettingProblem):
        return (table, exc.__cause__.key), str(exc.__cause__)
    match = _PLACE.match(str(exc))
    message, path = (match["message"], match["path"] or "") if match else (str(exc), "")
    key = re.split(r"[.\[]", path.removeprefix("."), maxsplit=1)[0]
    if unknown := _UNKNOWN_FIELD.match(message):
        return (table, unknown["key"]), "unknown setting"
    if not key:
        return (table,), f"{message} (a table of settings is needed)"
    choices = _choices(_fields(section).get(key))
    if choices and message.startswith("Invalid enum value"):
        message = f"{message}: choose one of {', '.join(repr(c) for c in choices)}"
    return (table, key), message


def _choices(kind: Any) -> tuple[Any, ...]:
    """The values a Literal or enum setting (or a list of them) allows; () for others."""
    while typing.get_origin(kind) in (Annotated, tuple):
        kind = typing.get_args(kind)[0]
    if typing.get_origin(kind) is Literal:
        return typing.get_args(kind)
    if isinstance(kind, type) and issubclass(kind, Enum):
        return tuple(member.value for member in kind)
    return ()


@dataclass(frozen=True)
class Paths:
    """Every file and folder the kiosk keeps, derived from the data folder."""

    data_dir: Path

    @property
    def database(self) -> Path:
        return self.data_dir / "kiosk.sqlite3"

    @property
    def blobs(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def station_key(self) -> Path:
        """The key that encrypts personal data at rest; kept apart from the database."""
        return self.data_dir / "keys" / "station.key"

    @property
    def backups(self) -> Path:
        return self.data_dir / "backups"

    @property
    def logs(self) -> Path:
        return self.data_dir / "logs"

    @property
    def spool(self) -> Path:
        """Print jobs' PDFs while the print system reads them, and the printer lock."""
        return self.data_dir / "spool"

    @property
    def printed(self) -> Path:
        """Where the simulated printer puts what it prints, unless the settings say."""
        return self.data_dir / "printed"

    @property
    def settings_file(self) -> Path:
        return self.data_dir / SETTINGS_FILE_NAME

    @property
    def local_settings(self) -> Path:
        """The settings station staff changed on the kiosk (see the module's docstring)."""
        return local_settings_file(self.data_dir)

    @property
    def staff_pin(self) -> Path:
        """The staff PIN's salted hash (`kiosk staff set-pin`)."""
        return self.data_dir / "staff-pin.json"

    @property
    def staff_lockout(self) -> Path:
        """Wrong staff PINs so far and the lockout they caused, kept across restarts."""
        return self.data_dir / "staff-lockout.json"


def assets_dir() -> Path:
    """The shipped assets (fonts, sample catalog): `KIOSK_ASSETS_DIR`, else the checkout's."""
    override = os.environ.get(f"{ENV_PREFIX}ASSETS_DIR")
    return Path(override) if override else Path(__file__).resolve().parent.parent / "assets"


def resolve_data_dir(option: Path | None, env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if option is not None:
        return option.expanduser().resolve()
    if value := env.get(f"{ENV_PREFIX}DATA_DIR"):
        return Path(value).expanduser().resolve()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def load_settings(
    data_dir: Path, config_file: Path | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Read the settings file (if any) and the environment overrides, and validate them."""
    env = os.environ if env is None else env
    if config_file is None and (value := env.get(f"{ENV_PREFIX}CONFIG")):
        config_file = Path(value)
    explicit = config_file is not None
    path = config_file if config_file is not None else Paths(data_dir).settings_file

    text = ""
    if path.exists() or explicit:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SettingsError(f"cannot read settings file {path}: {exc}") from None
    try:
        from_file = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, message = syntax_error_line(exc)
        raise SettingsError(f"{path} line {line}: {message}") from None

    merged, sources = _apply_env(_with_station_defaults(from_file, data_dir), env)
    try:
        return validate(merged)
    except InvalidSettings as exc:
        lines = TomlLines(text)
        problems = []
        for location, message in exc.problems:
            key = ".".join(location)
            if location[:2] in sources:
                problems.append(f"{sources[location[:2]]} (setting {key}): {message}")
            else:
                problems.append(f"{path} line {lines.locate(location)}: {key}: {message}")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(problems)) from None


#: The tables the district may set for its stations (the kit, cameras and where files are
#: stay the station's own business).
DISTRICT_MANAGED = ("station", "ui", "printer", "log", "remote")


def district_settings_file(data_dir: Path) -> Path:
    """Where sync keeps the settings the district published for this station."""
    return data_dir / "district-settings.json"


#: The settings station staff may change on the kiosk's staff screen, by table.
STATION_CHANGEABLE: Mapping[str, tuple[str, ...]] = {
    "ui": ("language", "large_text", "speech", "idle_warning_s", "idle_timeout_s"),
}


def local_settings_file(data_dir: Path) -> Path:
    """Where the staff screen keeps the settings staff changed on this kiosk."""
    return data_dir / "local-settings.json"


def _with_station_defaults(from_file: dict[str, Any], data_dir: Path) -> dict[str, Any]:
    """The settings file's tables over the staff's local settings over the district's:
    what the station's own file (and then the environment) says wins. A district or local
    file that cannot be read is ignored (sync only writes a district file it has checked,
    the staff screen only a local one it has checked)."""
    layers = (_read_tables(district_settings_file(data_dir)), read_local_settings(data_dir))
    merged = dict(from_file)
    for table in dict.fromkeys((*DISTRICT_MANAGED, *STATION_CHANGEABLE)):
        defaults: dict[str, Any] = {}
        for layer in layers:
            values = layer.get(table)
            if isinstance(values, dict):
                defaults.update(values)
        if defaults:
            local = from_file.get(table)
            merged[table] = {**defaults, **(local if isinstance(local, dict) else {})}
    return merged


def _read_tables(path: Path) -> dict[str, Any]:
    try:
        tables = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return tables if isinstance(tables, dict) else {}


def read_local_settings(data_dir: Path) -> dict[str, dict[str, Any]]:
    """The settings staff changed on this kiosk, by table: only changeable keys holding
    valid values (anything else in the file is ignored)."""
    found = _read_tables(local_settings_file(data_dir))
    kept: dict[str, dict[str, Any]] = {}
    for table, keys in STATION_CHANGEABLE.items():
        values = found.get(table)
        if not isinstance(values, dict):
            continue
        for key in keys:
            if key in values and _valid(table, key, values[key]):
                kept.setdefault(table, {})[key] = values[key]
    return kept


def _valid(table: str, key: str, value: Any) -> bool:
    try:
        validate({table: {key: value}})
    except InvalidSettings:
        return False
    return True


def save_local_settings(data_dir: Path, changes: Mapping[str, Mapping[str, Any]]) -> None:
    """Keep the settings staff changed (`{"ui": {"language": "en"}}`) over those they
    changed before, atomically; SettingsError if one may not be changed or is not valid."""
    merged = read_local_settings(data_dir)
    for table, values in changes.items():
        allowed = STATION_CHANGEABLE.get(table, ())
        refused = sorted(set(values) - set(allowed))
        if refused:
            raise SettingsError(f"staff may not change {table}.{', '.join(refused)}")
        merged.setdefault(table, {}).update(values)
    try:
        validate(merged)
    except InvalidSettings as exc:
        problems = "; ".join(f"{'.'.join(where)}: {message}" for where, message in exc.problems)
        raise SettingsError(f"not valid settings: {problems}") from None
    content = json.dumps(merged, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    # Imported here: the cryptography it brings is not needed to start the window.
    from kiosk.store.crypto import write_private_file

    write_private_file(local_settings_file(data_dir), content.encode("utf-8"))


def fixed_by_file(
    data_dir: Path, config_file: Path | None = None, env: Mapping[str, str] | None = None
) -> set[str]:
    """The changeable settings ("ui.language" …) that the settings file or an environment
    variable sets, which therefore win over what staff choose."""
    env = os.environ if env is None else env
    if config_file is None and (value := env.get(f"{ENV_PREFIX}CONFIG")):
        config_file = Path(value)
    path = config_file if config_file is not None else Paths(data_dir).settings_file
    try:
        from_file = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        from_file = {}
    _, from_env = _apply_env({}, env)
    fixed = set()
    for table, keys in STATION_CHANGEABLE.items():
        values = from_file.get(table)
        for key in keys:
            if (isinstance(values, dict) and key in values) or (table, key) in from_env:
                fixed.add(f"{table}.{key}")
    return fixed


def check_district_settings(tables: Mapping[str, Any]) -> dict[str, Any]:
    """The managed tables of a settings document from the district, checked against the
    schema (SettingsError naming the problem if they are not valid settings)."""
    managed = {t: v for t, v in tables.items() if t in DISTRICT_MANAGED}
    unknown = sorted(set(tables) - set(DISTRICT_MANAGED))
    if unknown:
        raise SettingsError(f"the district may not set these tables: {', '.join(unknown)}")
    try:
        validate(managed)
    except InvalidSettings as exc:
        count = len(exc.problems)
        raise SettingsError(f"the district's settings are not valid: {count} problem(s)") from None
    return managed


def _apply_env(
    data: dict[str, Any], env: Mapping[str, str]
) -> tuple[dict[str, Any], dict[tuple[str, ...], str]]:
    """Overlay `KIOSK_SECTION__KEY` variables; return the data and which variable set what."""
    merged = {key: dict(value) if isinstance(value, dict) else value for key, value in data.items()}
    sources: dict[tuple[str, ...], str] = {}
    for variable, value in env.items():
        if not variable.startswith(ENV_PREFIX) or "__" not in variable:
            continue
        section, _, key = variable.removeprefix(ENV_PREFIX).lower().partition("__")
        table = merged.setdefault(section, {})
        if not isinstance(table, dict):
            raise SettingsError(f"{variable}: [{section}] in the settings file is not a table")
        table[key] = value
        sources[(section, key)] = variable
    return merged, sources
