"""Settings: defaults, the TOML file, environment overrides, and errors that name the key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.config import (
    DeviceBackend,
    StationSettings,
    UiSettings,
    load_settings,
    resolve_data_dir,
    setting_bounds,
)
from kiosk.errors import SettingsError


def test_defaults_need_no_file(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, env={})
    assert settings.ui.language == "zh"
    assert settings.ui.fullscreen
    assert settings.devices.card_reader is DeviceBackend.REAL


def test_the_file_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    (tmp_path / "kiosk.toml").write_text(
        '[station]\ncode = "PD0101"\n[ui]\nlanguage = "en"\nfullscreen = false\n',
        encoding="utf-8",
    )
    settings = load_settings(tmp_path, env={"KIOSK_UI__LANGUAGE": "zh"})
    assert settings.station.code == "PD0101"
    assert settings.ui.language == "zh"
    assert not settings.ui.fullscreen


def test_an_explicit_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read settings file"):
        load_settings(tmp_path, tmp_path / "missing.toml", env={})


def test_the_config_variable_names_the_file(tmp_path: Path) -> None:
    other = tmp_path / "other.toml"
    other.write_text('[ui]\nlarge_text = true\n', encoding="utf-8")
    assert load_settings(tmp_path, env={"KIOSK_CONFIG": str(other)}).ui.large_text


@pytest.mark.parametrize(
    ("content", "line", "key"),
    [
        ('[ui]\nlanguage = "fr"\n', 2, "ui.language"),
        ('[station]\nname_zh = "站"\n\n[devices]\nprinter = "laser"\n', 5, "devices.printer"),
        ('[ui]\nfullscreen = false\ncolour = "red"\n', 3, "ui.colour"),
        ('[nonsense]\nx = 1\n', 1, "nonsense"),
    ],
)
def test_a_bad_value_names_the_key_and_the_line(
    tmp_path: Path, content: str, line: int, key: str
) -> None:
    (tmp_path / "kiosk.toml").write_text(content, encoding="utf-8")
    with pytest.raises(SettingsError) as error:
        load_settings(tmp_path, env={})
    assert f"line {line}: {key}" in str(error.value)


def test_a_bad_choice_says_what_may_be_chosen(tmp_path: Path) -> None:
    (tmp_path / "kiosk.toml").write_text('[printer]\npaper = "letter"\n', encoding="utf-8")
    with pytest.raises(SettingsError, match=r"line 2: printer\.paper: .*'a4', 'roll80'"):
        load_settings(tmp_path, env={})


def test_every_bad_table_is_named_at_once(tmp_path: Path) -> None:
    (tmp_path / "kiosk.toml").write_text(
        '[ui]\nidle_warning_s = 3\n[station]\ncode = "x"\n[log]\nlevel = "LOUD"\n',
        encoding="utf-8",
    )
    with pytest.raises(SettingsError) as error:
        load_settings(tmp_path, env={})
    message = str(error.value)
    assert "line 2: ui.idle_warning_s: Expected `int` >= 10" in message
    assert "line 4: station.code" in message
    assert "line 6: log.level" in message


def test_a_list_may_be_given_comma_separated(tmp_path: Path) -> None:
    (tmp_path / "kiosk.toml").write_text('[camera]\nscenes = "qr, face"\n', encoding="utf-8")
    assert load_settings(tmp_path, env={}).camera.scenes == ("qr", "face")


def test_number_settings_know_their_bounds() -> None:
    assert setting_bounds(UiSettings, "idle_warning_s") == (10, 1800)
    assert setting_bounds(UiSettings, "idle_timeout_s") == (5, 600)
    with pytest.raises(ValueError, match="no bounds"):
        setting_bounds(StationSettings, "code")


def test_broken_toml_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "kiosk.toml").write_text('[ui]\nlanguage = "zh\n', encoding="utf-8")
    with pytest.raises(SettingsError, match="line 2: not valid TOML"):
        load_settings(tmp_path, env={})


def test_a_bad_override_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="KIOSK_UI__FULLSCREEN"):
        load_settings(tmp_path, env={"KIOSK_UI__FULLSCREEN": "perhaps"})


def test_the_data_folder_option_beats_the_variable_beats_the_platform(tmp_path: Path) -> None:
    assert resolve_data_dir(tmp_path / "a", {"KIOSK_DATA_DIR": str(tmp_path / "b")}) == (
        tmp_path / "a"
    )
    assert resolve_data_dir(None, {"KIOSK_DATA_DIR": str(tmp_path / "b")}) == tmp_path / "b"
    assert resolve_data_dir(None, {}).name == "doorstep"


SECTIONS = ["station", "ui", "devices", "log", "other"]
KEYS = ["code", "language", "fullscreen", "printer", "level", "large_text", "name_zh", "x"]
VALUES = st.one_of(
    st.booleans(), st.integers(), st.text(max_size=20), st.floats(allow_nan=False),
    st.lists(st.integers(), max_size=3),
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(SECTIONS),
        st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=4),
        max_size=4,
    ),
    st.dictionaries(
        st.sampled_from(["KIOSK_UI__LANGUAGE", "KIOSK_UI__FULLSCREEN", "KIOSK_NOPE__X"]),
        st.text(max_size=10),
        max_size=2,
    ),
)
def test_any_settings_give_settings_or_a_settings_error(
    tmp_path_factory: pytest.TempPathFactory, tables: dict[str, dict[str, object]],
    env: dict[str, str],
) -> None:
    folder = tmp_path_factory.mktemp("settings")
    lines = []
    for section, values in tables.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {_toml(value)}" for key, value in values.items())
    (folder / "kiosk.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        load_settings(folder, env=env)
    except SettingsError as error:
        assert "line" in str(error) or "KIOSK_" in str(error)


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, str) else repr(value)  # repr is TOML here
