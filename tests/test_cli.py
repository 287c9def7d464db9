"""The `kiosk` command as staff and technicians run it: a real process each time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from kiosk import __version__
from tests.catalog_files import VALID, generated

KIOSK = [sys.executable, "-m", "kiosk"]
CA_HEADER = '[[item]]\ncode = "CA-001"'


def kiosk(data_dir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [*KIOSK, "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "KIOSK_CONFIG": ""},
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def catalog_codes(data_dir: Path) -> list[str]:
    listed = json.loads(kiosk(data_dir, "catalog", "list", "--json").stdout)
    return [item["code"] for item in listed]


def test_version(data_dir: Path) -> None:
    assert kiosk(data_dir, "--version").stdout.strip() == f"kiosk {__version__}"


def test_doctor_reports_in_json(data_dir: Path) -> None:
    fresh: dict[str, Any] = json.loads(kiosk(data_dir, "doctor", "--json").stdout)
    assert fresh["catalog"] is None
    catalog_codes(data_dir)  # installs the sample catalog
    report: dict[str, Any] = json.loads(kiosk(data_dir, "doctor", "--json").stdout)
    assert report["catalog"]["items"] >= 200 and report["catalog"]["sample"] is True
    assert "catalog:" in kiosk(data_dir, "doctor").stdout
    assert report["version"] == __version__
    assert report["data_dir"] == str(data_dir.resolve())
    assert report["database"]["state"] == "ok"
    assert report["database"]["schema_revision"] == report["database"]["head_revision"]
    assert set(report["devices"]) == {
        "card_reader", "camera", "document_camera", "scanner", "printer"
    }
    for device in report["devices"].values():
        assert set(device) == {"backend", "found", "error"}


def test_doctor_says_so_when_the_database_is_broken(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    (data_dir / "kiosk.sqlite3").write_bytes(b"garbage" * 1000)
    result = kiosk(data_dir, "doctor", "--json", check=False)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["database"]["state"] == "error"
    assert report["database"]["error"]


def test_a_fresh_kiosk_lists_the_sample_catalog(data_dir: Path) -> None:
    items = json.loads(kiosk(data_dir, "catalog", "list", "--json").stdout)
    assert len(items) >= 200
    assert {"code", "name_zh", "name_en", "category"} <= set(items[0])
    found = json.loads(kiosk(data_dir, "catalog", "list", "--json", "--search", "jyjl").stdout)
    assert any(item["name_zh"] == "门急诊就医记录册申领" for item in found)


def test_catalog_show_prints_the_guide(data_dir: Path) -> None:
    code = catalog_codes(data_dir)[0]
    shown = kiosk(data_dir, "catalog", "show", code).stdout
    assert code in shown and "申请材料" in shown
    item = json.loads(kiosk(data_dir, "catalog", "show", code, "--json").stdout)
    assert item["code"] == code
    english = kiosk(data_dir, "catalog", "show", code, "--lang", "en").stdout
    assert "Materials" in english
    missing = kiosk(data_dir, "catalog", "show", "ZZ-999", check=False)
    assert missing.returncode == 1 and "ZZ-999" in missing.stderr


def test_a_good_import_replaces_the_catalog(data_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "catalog.toml"
    source.write_text(VALID, encoding="utf-8")
    assert "2 items" in kiosk(data_dir, "catalog", "import", str(source)).stdout
    assert catalog_codes(data_dir) == ["MI-001", "CA-001"]


@pytest.mark.parametrize(
    ("content", "marker"),
    [
        (VALID.replace('category = "civil_affairs"', 'category = "astrology"'), "astrology"),
        (VALID.replace("promised_days = 0", "promised_days = = 0"), "promised_days = ="),
        (VALID.replace('name_en = "Minimum living allowance application"\n', ""), CA_HEADER),
        (VALID.replace('code = "CA-001"', 'code = "MI-001"'), 'code = "MI-001"\nname_zh = "最低'),
    ],
    ids=["unknown category", "broken syntax", "missing field", "duplicate code"],
)
def test_a_broken_import_names_the_line_and_changes_nothing(
    data_dir: Path, tmp_path: Path, content: str, marker: str
) -> None:
    line = content[: content.index(marker)].count("\n") + 1
    before = catalog_codes(data_dir)
    source = tmp_path / "broken.toml"
    source.write_text(content, encoding="utf-8")
    result = kiosk(data_dir, "catalog", "import", str(source), check=False)
    assert result.returncode == 1
    assert f"broken.toml line {line}:" in result.stderr
    assert catalog_codes(data_dir) == before


@pytest.mark.parametrize(
    "content",
    [b"\xff\xfe not utf-8 \x00", b"", b"[catalog]\n" * 5],
    ids=["binary", "empty", "junk"],
)
def test_files_that_are_no_catalog_at_all_are_refused(
    data_dir: Path, tmp_path: Path, content: bytes
) -> None:
    before = catalog_codes(data_dir)
    source = tmp_path / "odd.toml"
    source.write_bytes(content)
    result = kiosk(data_dir, "catalog", "import", str(source), check=False)
    assert result.returncode == 1 and "odd.toml" in result.stderr
    absent = kiosk(data_dir, "catalog", "import", str(tmp_path / "absent.toml"), check=False)
    assert absent.returncode == 1
    assert catalog_codes(data_dir) == before


def test_a_killed_import_leaves_the_catalog_as_it_was(data_dir: Path, tmp_path: Path) -> None:
    """SIGKILL the import once its transaction is writing (the WAL grows), several times."""
    before = catalog_codes(data_dir)
    source = tmp_path / "big.toml"
    source.write_text(generated(6000), encoding="utf-8")
    wal = data_dir / "kiosk.sqlite3-wal"
    killed_mid_write = 0
    for _ in range(4):
        baseline = wal.stat().st_size if wal.exists() else 0
        process = subprocess.Popen(
            [*KIOSK, "--data-dir", str(data_dir), "catalog", "import", str(source)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            if wal.exists() and wal.stat().st_size > baseline + 512 * 1024:
                process.send_signal(signal.SIGKILL)
                break
            time.sleep(0.002)
        process.wait(timeout=60)
        if process.returncode == -signal.SIGKILL:
            killed_mid_write += 1
            assert catalog_codes(data_dir) == before
    assert killed_mid_write, "the import always finished before it could be killed"


def test_a_bad_settings_file_stops_start_up_naming_key_and_line(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    (data_dir / "kiosk.toml").write_text('[ui]\nlanguage = "klingon"\n', encoding="utf-8")
    result = kiosk(data_dir, "catalog", "list", check=False)
    assert result.returncode == 1
    assert "line 2: ui.language" in result.stderr
    as_json = kiosk(data_dir, "doctor", "--json", check=False)
    assert json.loads(as_json.stdout)["error"] == "SettingsError"


def test_the_data_dir_variable_is_honoured(data_dir: Path) -> None:
    result = subprocess.run(
        [*KIOSK, "doctor", "--json"], capture_output=True, text=True, timeout=60,
        env={**os.environ, "KIOSK_DATA_DIR": str(data_dir)}, check=True,
    )
    assert json.loads(result.stdout)["data_dir"] == str(data_dir.resolve())
