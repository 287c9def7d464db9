"""The staff PIN that opens staff mode, its lockout, and how long a staff session lasts.

The technician sets the PIN with `kiosk staff set-pin`: 6 to 12 digits, kept only as a
salted scrypt hash in `staff-pin.json` in the data folder (written atomically, mode 0600).
Without that file staff mode cannot be entered (`NoStaffPin`).

`StaffLock.check` takes a PIN typed on the kiosk. After `tries` wrong PINs in a row
(default 5) it refuses every PIN, the right one too, for `lock_s` (default 5 minutes);
each further lockout before a right PIN lasts twice as long as the one before, up to
`max_lock_s` (default an hour). A right PIN clears the count. The count and the lockout
live in `staff-lockout.json` beside the PIN, so a restart does not clear them, and setting
a new PIN does (the technician is there). Each try is counted on disk before the PIN is
checked (and taken back if it was right), so neither a crash nor a disk that cannot be
written gives a free try.

A lockout has to outlast a restart, so it is kept in wall-clock time, the one clock a
restart does not reset. A clock that went back (now before the lockout began) restarts
the lockout from now rather than stretching it; one that jumped forward shortens it, which
takes access to the station PC's clock, and anyone with that has the data folder anyway.

A lockout file that cannot be read, does not parse or holds values that make no sense
(a power cut mid-write cannot do it: the file is replaced atomically; a broken disk or a
hand edit can) counts as a fresh lockout of `lock_s` from now: the safe side, and one
that ends by itself. It is logged, replaced by a good file, and never raised.

Staff mode once open ends after `SESSION_IDLE_S` without a touch: the window's idle
timer (kiosk/ui/idle.py) counts it, with a warning first, as for a resident.

Checking a PIN runs scrypt (tens of milliseconds) and reads and writes files: call it off
the Qt main thread. One `StaffLock` may be shared by threads.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import logging
import math
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from kiosk.config import Paths
from kiosk.errors import DoorstepError
from kiosk.store.crypto import write_private_file

log = logging.getLogger(__name__)

PIN_PATTERN = re.compile(r"[0-9]{6,12}")
MIN_PIN_DIGITS, MAX_PIN_DIGITS = 6, 12
TRIES = 5
LOCK_S = 300.0
MAX_LOCK_S = 3600.0
SESSION_IDLE_S = 300.0

#: scrypt's cost: 2**14 × 8 × 128 bytes = 16 MiB and some tens of milliseconds a check.
SCRYPT_N = 2**14
_SCRYPT_R, _SCRYPT_P, _HASH_BYTES, _SALT_BYTES = 8, 1, 32, 16
_MAX_SCRYPT_BYTES = 2**28
_FORMAT = 1


class StaffError(DoorstepError):
    """Staff mode cannot be entered, or its PIN cannot be set."""

    action = "Ask the technician to set a PIN with `kiosk staff set-pin`."


class NoStaffPin(StaffError):
    """No staff PIN has been set on this kiosk (or its file is unreadable)."""


class BadPin(StaffError):
    """A new staff PIN was refused."""

    action = "Choose 6 to 12 digits that are not all the same and not a simple run."


def check_new_pin(pin: str) -> None:
    """BadPin unless `pin` is 6 to 12 digits, not all one digit and not a run (123456)."""
    if not PIN_PATTERN.fullmatch(pin):
        raise BadPin(f"a staff PIN is {MIN_PIN_DIGITS} to {MAX_PIN_DIGITS} digits")
    steps = {(int(b) - int(a)) % 10 for a, b in itertools.pairwise(pin)}
    if steps <= {0} or steps == {1} or steps == {9}:
        raise BadPin("a staff PIN may not be one digit repeated or a run such as 123456")


def set_pin(paths: Paths, pin: str, *, cost: int = SCRYPT_N) -> None:
    """Keep the salted hash of a new staff PIN (BadPin if it is not a good one), and clear
    the count of wrong PINs and any lockout."""
    check_new_pin(pin)
    salt = secrets.token_bytes(_SALT_BYTES)
    record = {
        "format": _FORMAT,
        "kdf": "scrypt",
        "n": cost,
        "r": _SCRYPT_R,
        "p": _SCRYPT_P,
        "salt": salt.hex(),
        "hash": _scrypt(pin, salt, cost, _SCRYPT_R, _SCRYPT_P).hex(),
    }
    write_private_file(paths.staff_pin, (json.dumps(record) + "\n").encode())
    _LockState().write(paths.staff_lockout)
    log.info("the staff PIN was set")


def pin_is_set(paths: Paths) -> bool:
    return paths.staff_pin.exists()


def _scrypt(pin: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        pin.encode(), salt=salt, n=n, r=r, p=p, maxmem=2 * _MAX_SCRYPT_BYTES, dklen=_HASH_BYTES
    )


def _matches(path: Path, pin: str) -> bool:
    """Whether `pin` is the one whose hash `path` keeps (NoStaffPin if there is none)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        n, r, p = (int(record[key]) for key in ("n", "r", "p"))
        salt, expected = bytes.fromhex(record["salt"]), bytes.fromhex(record["hash"])
        if record.get("format") != _FORMAT or record.get("kdf") != "scrypt":
            raise ValueError("unknown format")
        if not (n >= 2 and n & (n - 1) == 0 and r >= 1 and 1 <= p <= 16):
            raise ValueError("scrypt parameters out of range")
        if 128 * n * r > _MAX_SCRYPT_BYTES:
            raise ValueError("scrypt parameters out of range")
    except FileNotFoundError:
        raise NoStaffPin("no staff PIN has been set on this kiosk") from None
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise NoStaffPin(f"the staff PIN file {path} cannot be used: {exc}") from None
    return hmac.compare_digest(_scrypt(pin, salt, n, r, p), expected)


class Verdict(StrEnum):
    RIGHT = "right"
    WRONG = "wrong"
    LOCKED = "locked"  # not checked: wait for the lockout to end
    NO_PIN = "no_pin"  # not checked: no PIN is set


@dataclass(frozen=True)
class LockStatus:
    """Where the lock stands: whether a PIN is set, how many tries are left before a
    lockout, and how many seconds the lockout still lasts (0: none)."""

    pin_set: bool
    tries_left: int
    locked_for_s: float

    @property
    def locked(self) -> bool:
        return self.locked_for_s > 0


@dataclass(frozen=True)
class Attempt:
    verdict: Verdict
    status: LockStatus


@dataclass
class _LockState:
    failures: int = 0  # wrong PINs in a row since the last lockout or right PIN
    lockouts: int = 0  # lockouts in a row since the last right PIN
    locked_at: float = 0.0  # wall-clock time the last lockout began
    lock_s: float = 0.0  # how long it lasts

    @classmethod
    def parse(cls, raw: Any, tries: int, max_lock_s: float) -> _LockState:
        if not isinstance(raw, dict) or raw.get("format") != _FORMAT:
            raise ValueError("unknown format")
        state = cls(
            failures=raw["failures"],
            lockouts=raw["lockouts"],
            locked_at=raw["locked_at"],
            lock_s=raw["lock_s"],
        )
        integers = all(type(v) is int for v in (state.failures, state.lockouts))
        numbers = all(
            type(v) in (int, float) and math.isfinite(v) for v in (state.locked_at, state.lock_s)
        )
        if not (integers and numbers):
            raise ValueError("values of the wrong type")
        if not (0 <= state.failures < tries and 0 <= state.lockouts <= 64):
            raise ValueError("counts out of range")
        if not 0 <= state.lock_s <= max_lock_s:
            raise ValueError("lockout length out of range")
        return state

    def write(self, path: Path) -> None:
        record = {"format": _FORMAT, **self.__dict__}
        try:
            write_private_file(path, (json.dumps(record) + "\n").encode())
        except OSError as exc:
            raise StaffError(
                f"cannot record staff PIN tries in {path}: {exc.strerror}",
                action="Run `kiosk doctor` and call the technician: the data folder "
                "cannot be written.",
            ) from None


class StaffLock:
    """The staff PIN check with its lockout, in the data folder `paths` names. `clock`
    gives wall-clock seconds (injectable for tests)."""

    def __init__(
        self,
        paths: Paths,
        *,
        tries: int = TRIES,
        lock_s: float = LOCK_S,
        max_lock_s: float = MAX_LOCK_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if tries < 1 or not 0 < lock_s <= max_lock_s:
            raise ValueError("need tries >= 1 and 0 < lock_s <= max_lock_s")
        self._paths = paths
        self._tries = tries
        self._lock_s = lock_s
        self._max_lock_s = max_lock_s
        self._clock = clock
        self._guard = threading.Lock()

    @property
    def tries(self) -> int:
        """How many wrong PINs in a row lock staff mode."""
        return self._tries

    def status(self) -> LockStatus:
        with self._guard:
            return self._status(self._load(), self._clock())

    def check(self, pin: str) -> Attempt:
        """Check a PIN typed at the kiosk. The try is counted as wrong on disk before the
        PIN is checked, and taken back if it was right: a crash or a power cut between
        the two, or a lockout file that cannot be written (StaffError, nothing checked),
        never gives a free try."""
        with self._guard:
            now = self._clock()
            state = self._load()
            if not pin_is_set(self._paths):
                return Attempt(Verdict.NO_PIN, self._status(state, now))
            if self._remaining(state, now) > 0:
                return Attempt(Verdict.LOCKED, self._status(state, now))
            counted = self._counted(state, now)
            counted.write(self._paths.staff_lockout)
            if _matches(self._paths.staff_pin, pin):
                try:
                    _LockState().write(self._paths.staff_lockout)
                except StaffError as error:
                    log.error("%s", error.staff_message)
                log.info("staff mode unlocked")
                return Attempt(Verdict.RIGHT, self._status(_LockState(), now))
            status = self._status(counted, now)
            if status.locked:
                log.warning(
                    "%d wrong staff PINs in a row: staff mode locked for %d s",
                    self._tries,
                    counted.lock_s,
                )
            return Attempt(Verdict.LOCKED if status.locked else Verdict.WRONG, status)

    def _counted(self, state: _LockState, now: float) -> _LockState:
        """The state after one more wrong PIN."""
        if state.failures + 1 < self._tries:
            return replace(state, failures=state.failures + 1)
        lockouts = state.lockouts + 1
        lock_s = min(self._max_lock_s, self._lock_s * 2 ** (lockouts - 1))
        return _LockState(failures=0, lockouts=lockouts, locked_at=now, lock_s=lock_s)

    def _status(self, state: _LockState, now: float) -> LockStatus:
        return LockStatus(
            pin_set=pin_is_set(self._paths),
            tries_left=self._tries - state.failures,
            locked_for_s=self._remaining(state, now),
        )

    def _remaining(self, state: _LockState, now: float) -> float:
        return max(0.0, state.locked_at + state.lock_s - now)

    def _load(self) -> _LockState:
        """The state in the lockout file; a fresh lockout if the file cannot be used, and
        the lockout restarted from now if the clock went back since it began."""
        path = self._paths.staff_lockout
        now = self._clock()
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            state = _LockState.parse(raw, self._tries, self._max_lock_s)
        except FileNotFoundError:
            return _LockState()
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            log.warning("the staff lockout file %s cannot be used (%s): locked", path, exc)
            state = _LockState(lockouts=1, locked_at=now, lock_s=self._lock_s)
            try:
                state.write(path)
            except StaffError as error:
                log.error("%s", error.staff_message)
            return state
        if state.lock_s and now < state.locked_at:
            log.warning("the clock went back during a staff lockout: it starts again")
            state.locked_at = now
            state.write(path)
        return state
