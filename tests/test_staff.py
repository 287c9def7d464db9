"""The staff PIN and its lockout (kiosk.core.staff), `kiosk staff set-pin`, and the
settings staff may change on the kiosk (kiosk.config's local settings)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.cli import main
from kiosk.config import (
    Paths,
    fixed_by_file,
    load_settings,
    local_settings_file,
    read_local_settings,
    save_local_settings,
)
from kiosk.core import staff
from kiosk.core.staff import (
    LOCK_S,
    MAX_LOCK_S,
    TRIES,
    BadPin,
    NoStaffPin,
    StaffError,
    StaffLock,
    Verdict,
    check_new_pin,
    set_pin,
)
from kiosk.errors import SettingsError

PIN = "246810"
CHEAP = 2  # scrypt's cost in these tests: the real one takes tens of milliseconds a check


class Clock:
    """A clock that only moves when told to."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    made = Paths(tmp_path / "data")
    set_pin(made, PIN, cost=CHEAP)
    return made


def wrong(lock: StaffLock, times: int) -> None:
    for _ in range(times):
        lock.check("999999")


def test_the_right_pin_opens_and_the_pin_is_kept_only_as_a_private_salted_hash(
    tmp_path: Path,
) -> None:
    paths = Paths(tmp_path / "data")
    set_pin(paths, PIN)
    kept = paths.staff_pin.read_text(encoding="utf-8")
    assert PIN not in kept
    record = json.loads(kept)
    assert record["kdf"] == "scrypt" and len(bytes.fromhex(record["salt"])) == 16
    assert stat.S_IMODE(paths.staff_pin.stat().st_mode) == 0o600
    lock = StaffLock(paths)
    assert lock.check(PIN).verdict is Verdict.RIGHT
    assert lock.check("135790").verdict is Verdict.WRONG
    set_pin(paths, PIN)
    assert json.loads(paths.staff_pin.read_text(encoding="utf-8"))["salt"] != record["salt"]


@pytest.mark.parametrize(
    "pin", ["", "12345", "1234567890123", "12a456", "000000", "123456", "987654", "890123"]
)
def test_weak_or_malformed_pins_are_refused(pin: str) -> None:
    with pytest.raises(BadPin):
        check_new_pin(pin)


def test_five_wrong_pins_lock_even_the_right_one_until_the_lockout_ends(paths: Paths) -> None:
    clock = Clock()
    lock = StaffLock(paths, clock=clock)
    for tries_left in range(TRIES - 1, 0, -1):
        attempt = lock.check("111111")
        assert attempt.verdict is Verdict.WRONG and attempt.status.tries_left == tries_left
    attempt = lock.check("111111")
    assert attempt.verdict is Verdict.LOCKED and attempt.status.locked_for_s == LOCK_S
    clock.advance(LOCK_S - 1)
    assert lock.check(PIN).verdict is Verdict.LOCKED
    assert lock.status().locked_for_s == 1
    clock.advance(1)
    assert not lock.status().locked
    assert lock.check(PIN).verdict is Verdict.RIGHT
    assert lock.status().tries_left == TRIES


def test_a_right_pin_clears_the_count(paths: Paths) -> None:
    lock = StaffLock(paths, clock=Clock())
    wrong(lock, TRIES - 1)
    assert lock.check(PIN).verdict is Verdict.RIGHT
    wrong(lock, TRIES - 1)
    assert lock.status().tries_left == 1 and not lock.status().locked


def test_each_lockout_in_a_row_lasts_twice_as_long_up_to_the_cap(paths: Paths) -> None:
    clock = Clock()
    lock = StaffLock(paths, clock=clock)
    lengths = []
    for _ in range(6):
        wrong(lock, TRIES)
        lengths.append(lock.status().locked_for_s)
        clock.advance(lengths[-1])
    assert lengths == [300, 600, 1200, 2400, MAX_LOCK_S, MAX_LOCK_S]
    assert lock.check(PIN).verdict is Verdict.RIGHT
    wrong(lock, TRIES)
    assert lock.status().locked_for_s == LOCK_S


def test_a_lockout_outlasts_a_restart(paths: Paths) -> None:
    clock = Clock()
    wrong(StaffLock(paths, clock=clock), TRIES)
    clock.advance(100)
    again = StaffLock(paths, clock=clock)
    assert again.status().locked_for_s == LOCK_S - 100
    assert again.check(PIN).verdict is Verdict.LOCKED
    clock.advance(LOCK_S)
    assert StaffLock(paths, clock=clock).check(PIN).verdict is Verdict.RIGHT


def test_wrong_pins_so_far_outlast_a_restart(paths: Paths) -> None:
    wrong(StaffLock(paths, clock=Clock()), 3)
    assert StaffLock(paths, clock=Clock()).status().tries_left == TRIES - 3


def test_a_clock_that_went_back_restarts_the_lockout_instead_of_stretching_it(
    paths: Paths,
) -> None:
    clock = Clock()
    wrong(StaffLock(paths, clock=clock), TRIES)
    clock.advance(-86_400)
    lock = StaffLock(paths, clock=clock)
    assert lock.status().locked_for_s == LOCK_S
    clock.advance(LOCK_S)
    assert lock.check(PIN).verdict is Verdict.RIGHT


def test_a_try_that_cannot_be_counted_is_not_checked(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(path: Path, content: bytes) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(staff, "write_private_file", disk_full)
    lock = StaffLock(paths, clock=Clock())
    for pin in ("111111", PIN):
        with pytest.raises(StaffError) as caught:
            lock.check(pin)
        assert "No space left" in caught.value.staff_message
    monkeypatch.undo()
    assert lock.status().tries_left == TRIES


def test_a_new_pin_clears_a_lockout(paths: Paths) -> None:
    clock = Clock()
    wrong(StaffLock(paths, clock=clock), TRIES)
    set_pin(paths, "135792", cost=CHEAP)
    assert StaffLock(paths, clock=clock).check("135792").verdict is Verdict.RIGHT


def test_without_a_pin_staff_mode_cannot_be_entered(tmp_path: Path) -> None:
    paths = Paths(tmp_path / "data")
    lock = StaffLock(paths)
    assert not lock.status().pin_set
    attempt = lock.check("246810")
    assert attempt.verdict is Verdict.NO_PIN
    assert not paths.staff_lockout.exists()


def test_an_unusable_pin_file_is_a_clear_error(paths: Paths) -> None:
    paths.staff_pin.write_text('{"format": 1, "kdf": "scrypt", "n": 3}', encoding="utf-8")
    with pytest.raises(NoStaffPin) as caught:
        StaffLock(paths).check(PIN)
    assert "kiosk staff set-pin" in caught.value.action


def test_scrypt_parameters_that_would_eat_the_memory_are_refused(paths: Paths) -> None:
    record = json.loads(paths.staff_pin.read_text(encoding="utf-8"))
    paths.staff_pin.write_text(json.dumps({**record, "n": 2**30}), encoding="utf-8")
    with pytest.raises(NoStaffPin):
        StaffLock(paths).check(PIN)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(garbage=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)))
def test_a_corrupted_lockout_file_locks_for_one_lockout_and_never_crashes(
    tmp_path_factory: pytest.TempPathFactory, garbage: bytes
) -> None:
    paths = Paths(tmp_path_factory.mktemp("data"))
    set_pin(paths, PIN, cost=CHEAP)
    paths.staff_lockout.write_bytes(garbage)
    clock = Clock()
    lock = StaffLock(paths, clock=clock)
    status = lock.status()
    assert status.pin_set and status.locked_for_s == LOCK_S
    clock.advance(LOCK_S)
    assert lock.check(PIN).verdict is Verdict.RIGHT


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{",
        b"[]",
        b'{"format": 1}',
        b'{"format": 1, "failures": -1, "lockouts": 0, "locked_at": 0, "lock_s": 0}',
        b'{"format": 1, "failures": 0, "lockouts": 0, "locked_at": 0, "lock_s": 1e9}',
        b'{"format": 1, "failures": true, "lockouts": 0, "locked_at": 0, "lock_s": 0}',
        b'{"format": 1, "failures": 0, "lockouts": 0, "locked_at": NaN, "lock_s": 0}',
        b"\xff\xfe",
    ],
)
def test_corrupted_lockout_files_count_as_a_fresh_lockout(paths: Paths, content: bytes) -> None:
    paths.staff_lockout.write_bytes(content)
    clock = Clock()
    lock = StaffLock(paths, clock=clock)
    assert lock.status().locked_for_s == LOCK_S
    assert lock.check(PIN).verdict is Verdict.LOCKED
    clock.advance(LOCK_S)
    assert lock.check(PIN).verdict is Verdict.RIGHT


@dataclass
class Model:
    """What the lock should do, in the plainest terms."""

    failures: int = 0
    lockouts: int = 0
    locked_until: float = 0.0
    verdicts: list[Verdict] = field(default_factory=list)

    def attempt(self, right: bool, now: float) -> Verdict:
        if now < self.locked_until:
            return Verdict.LOCKED
        if right:
            self.failures = self.lockouts = 0
            return Verdict.RIGHT
        self.failures += 1
        if self.failures < TRIES:
            return Verdict.WRONG
        self.failures = 0
        self.lockouts += 1
        self.locked_until = now + min(MAX_LOCK_S, LOCK_S * 2 ** (self.lockouts - 1))
        return Verdict.LOCKED


wrong_pins = st.text(alphabet="0123456789", min_size=1, max_size=12).filter(lambda p: p != PIN)
steps = st.one_of(
    wrong_pins.map(lambda pin: ("pin", pin)),
    st.just(("pin", PIN)),
    st.floats(min_value=0, max_value=4000).map(lambda s: ("wait", s)),
    st.just(("restart", None)),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(steps, max_size=40))
def test_any_sequence_of_pins_waits_and_restarts_follows_the_rules(
    tmp_path_factory: pytest.TempPathFactory, sequence: list[tuple[str, object]]
) -> None:
    paths = Paths(tmp_path_factory.mktemp("data"))
    set_pin(paths, PIN, cost=CHEAP)
    clock = Clock()
    lock = StaffLock(paths, clock=clock)
    model = Model()
    for kind, value in sequence:
        if kind == "wait":
            assert isinstance(value, float)
            clock.advance(value)
        elif kind == "restart":
            lock = StaffLock(paths, clock=clock)
        else:
            attempt = lock.check(str(value))
            assert attempt.verdict is model.attempt(value == PIN, clock())
            assert attempt.status.tries_left == TRIES - model.failures
            assert attempt.status.locked_for_s == max(0.0, model.locked_until - clock())


# -- `kiosk staff set-pin` ---------------------------------------------------------------


def kiosk(data_dir: Path, *args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kiosk", "--data-dir", str(data_dir), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "KIOSK_CONFIG": ""},
    )


def test_set_pin_from_standard_input(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    done = kiosk(data_dir, "staff", "set-pin", "--pin-stdin", stdin=f"{PIN}\n")
    assert done.returncode == 0, done.stderr
    assert PIN not in done.stdout + done.stderr
    assert StaffLock(Paths(data_dir)).check(PIN).verdict is Verdict.RIGHT
    refused = kiosk(data_dir, "staff", "set-pin", "--pin-stdin", stdin="123456\n")
    assert refused.returncode == 1
    assert "error:" in refused.stderr and "what to do:" in refused.stderr
    assert StaffLock(Paths(data_dir)).check(PIN).verdict is Verdict.RIGHT


def test_set_pin_asks_twice_without_showing_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    runner = CliRunner()
    result = runner.invoke(
        main,
        ["--data-dir", str(data_dir), "staff", "set-pin"],
        input=f"{PIN}\n135790\n{PIN}\n{PIN}\n",
    )
    assert result.exit_code == 0, result.output
    assert PIN not in result.output
    assert "the same PIN again" in result.output
    assert StaffLock(Paths(data_dir)).check(PIN).verdict is Verdict.RIGHT


# -- the settings staff may change --------------------------------------------------------


def test_staff_settings_sit_between_the_districts_and_the_settings_file(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "district-settings.json").write_text(
        json.dumps({"ui": {"language": "en", "idle_warning_s": 120, "large_text": True}}),
        encoding="utf-8",
    )
    save_local_settings(data_dir, {"ui": {"idle_warning_s": 90, "speech": False}})
    ui = load_settings(data_dir, env={}).ui
    assert (ui.language, ui.idle_warning_s, ui.speech, ui.large_text) == ("en", 90, False, True)
    (data_dir / "kiosk.toml").write_text("[ui]\nidle_warning_s = 45\n", encoding="utf-8")
    assert load_settings(data_dir, env={}).ui.idle_warning_s == 45
    assert fixed_by_file(data_dir, env={}) == {"ui.idle_warning_s"}
    assert fixed_by_file(data_dir, env={"KIOSK_UI__SPEECH": "true"}) == {
        "ui.idle_warning_s",
        "ui.speech",
    }
    assert stat.S_IMODE(local_settings_file(data_dir).stat().st_mode) == 0o600


def test_staff_changes_add_up(tmp_path: Path) -> None:
    save_local_settings(tmp_path, {"ui": {"language": "en"}})
    save_local_settings(tmp_path, {"ui": {"large_text": True}})
    assert read_local_settings(tmp_path) == {"ui": {"language": "en", "large_text": True}}


@pytest.mark.parametrize(
    "changes",
    [
        {"ui": {"fullscreen": False}},
        {"station": {"code": "X1"}},
        {"ui": {"idle_warning_s": 3}},
        {"ui": {"language": "fr"}},
    ],
)
def test_what_staff_may_not_change_is_refused(tmp_path: Path, changes: dict) -> None:
    with pytest.raises(SettingsError):
        save_local_settings(tmp_path, changes)
    assert not local_settings_file(tmp_path).exists()


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[1, 2]",
        '{"ui": 3}',
        '{"ui": {"fullscreen": false, "language": "en", "idle_timeout_s": -4}}',
    ],
)
def test_a_bad_local_settings_file_keeps_only_what_is_valid(tmp_path: Path, content: str) -> None:
    local_settings_file(tmp_path).write_text(content, encoding="utf-8")
    ui = load_settings(tmp_path, env={}).ui
    assert ui.fullscreen is True and ui.idle_timeout_s == 20
    assert ui.language == ("en" if "language" in content else "zh")
