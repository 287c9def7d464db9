"""Spoken prompts: the kiosk reads its instructions aloud, in Mandarin or English, through
espeak-ng (Debian package `espeak-ng`; voices "cmn" and "en").

`Speaker.say` hands a prompt to the speaker's own worker thread and returns at once. One
prompt is spoken at a time, and only the newest matters: a new prompt replaces any that is
waiting and stops the one being spoken (its espeak-ng process is terminated), so prompts
never pile up behind a resident who taps quickly. Asked for a WAV file instead of sound,
the worker runs espeak-ng with `-w`, and the file appears whole once espeak-ng succeeded
(a replaced render leaves no file).

Speech is a help, never a condition: if espeak-ng is missing or fails (no sound device,
say), the speaker logs that once at INFO and carries on silently; `say` never blocks and
never raises. `muted` silences the sound device (rendering files goes on).

Prompts are fixed texts from the interface's string table, never personal data; they go
to espeak-ng on its standard input (not its command line) and are never logged.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Final

logger = logging.getLogger(__name__)

ESPEAK: Final = "espeak-ng"
VOICES: Final[dict[str, str]] = {"zh": "cmn", "en": "en"}
#: Words a minute; espeak-ng's own 175 is quick for older listeners.
DEFAULT_SPEED_WPM: Final = 150
#: A prompt still speaking after this long is stuck, and is killed.
MAX_PROMPT_S: Final = 60.0


@dataclass(frozen=True, repr=False)
class _Prompt:
    text: str
    voice: str
    wav: Path | None

    def __repr__(self) -> str:
        return f"_Prompt({len(self.text)} characters, {self.voice}, wav={self.wav})"


class Speaker:
    """Speaks one prompt at a time on a worker thread; the newest prompt wins."""

    def __init__(
        self,
        *,
        binary: str | None = None,
        muted: bool = False,
        speed_wpm: int = DEFAULT_SPEED_WPM,
    ) -> None:
        self._binary = binary or shutil.which(ESPEAK) or ESPEAK
        self._speed = speed_wpm
        self._muted = muted
        self._condition = threading.Condition()
        self._pending: _Prompt | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._current_is_render = False
        self._busy = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self._failure_reported = False

    @property
    def muted(self) -> bool:
        """Whether prompts stay unspoken. Muting drops the waiting prompt and stops the
        one being spoken aloud."""
        return self._muted

    @muted.setter
    def muted(self, muted: bool) -> None:
        with self._condition:
            self._muted = muted
            if muted:
                if self._pending is not None and self._pending.wav is None:
                    self._pending = None
                self._stop_current(only_spoken=True)
                self._condition.notify_all()

    def say(self, key_text: str, lang: str, *, wav: Path | None = None) -> None:
        """Speak `key_text` (a prompt's text from the string table) in `lang` ("zh" or
        "en"), or render it to the WAV file `wav`. Returns at once; replaces any prompt
        not yet finished. Does nothing while muted, unless rendering a file."""
        voice = VOICES.get(lang, VOICES["en"])
        with self._condition:
            if self._closed or (self._muted and wav is None) or not key_text.strip():
                return
            self._pending = _Prompt(key_text, voice, wav)
            self._stop_current()
            self._start_worker()
            self._condition.notify_all()

    def stop(self) -> None:
        """Drop the waiting prompt and stop the one being spoken."""
        with self._condition:
            self._pending = None
            self._stop_current()
            self._condition.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no prompt is waiting or being spoken; False if `timeout` (seconds)
        ran out first. For tests and shutdown, never for the UI thread."""
        with self._condition:
            return self._condition.wait_for(
                lambda: self._pending is None and not self._busy, timeout
            )

    def close(self, timeout: float = 5.0) -> None:
        """Stop speaking and end the worker thread."""
        with self._condition:
            self._closed = True
            self._pending = None
            self._stop_current()
            self._condition.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _start_worker(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="speech", daemon=True)
            self._thread.start()

    def _stop_current(self, *, only_spoken: bool = False) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        if only_spoken and self._current_is_render:
            return
        process.terminate()

    def _work(self) -> None:
        while True:
            with self._condition:
                self._condition.wait_for(lambda: self._pending is not None or self._closed)
                if self._closed:
                    self._busy = False
                    self._condition.notify_all()
                    return
                prompt, self._pending = self._pending, None
                self._busy = True
            try:
                self._speak(prompt)
            except Exception:  # speech must never take the kiosk down
                logger.exception("a spoken prompt failed")
            with self._condition:
                self._busy = False
                self._condition.notify_all()

    def _speak(self, prompt: _Prompt) -> None:
        partial = prompt.wav.with_name(f".{prompt.wav.name}.part") if prompt.wav else None
        command = [self._binary, "-v", prompt.voice, "-s", str(self._speed), "--stdin"]
        if partial is not None:
            command += ["-w", str(partial)]
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        except OSError as error:
            self._failed(f"{self._binary} cannot be run ({error.strerror or error})")
            return
        with self._condition:
            self._process = process
            self._current_is_render = partial is not None
            superseded = (
                self._closed or self._pending is not None or (self._muted and partial is None)
            )
        if superseded:
            process.terminate()
        try:
            _, errors = process.communicate(prompt.text.encode("utf-8"), timeout=MAX_PROMPT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            _, errors = process.communicate()
        finally:
            with self._condition:
                self._process = None
        self._finish(process.returncode, errors, prompt.wav, partial)

    def _finish(
        self, returncode: int, errors: bytes, wav: Path | None, partial: Path | None
    ) -> None:
        problem = _espeak_problem(returncode, errors)
        if partial is not None and wav is not None:
            if returncode == 0 and problem is None and partial.is_file():
                partial.replace(wav)
            else:
                partial.unlink(missing_ok=True)
        if returncode < 0:
            logger.debug("a prompt was replaced before it ended")
        elif problem is not None:
            self._failed(problem)

    def _failed(self, reason: str) -> None:
        if self._failure_reported:
            logger.debug("spoken prompt failed: %s", reason)
            return
        self._failure_reported = True
        logger.info("spoken prompts are silent: %s", reason)


def _espeak_problem(returncode: int, errors: bytes) -> str | None:
    """What went wrong, from espeak-ng's exit status and standard error; None if nothing.
    espeak-ng exits 0 when it cannot open the sound device, but says "error: …"."""
    lines = errors.decode("utf-8", "replace").splitlines()
    said = next((line for line in lines if line.lower().startswith("error")), None)
    if returncode > 0:
        return f"espeak-ng exited with status {returncode}" + (f" ({said[:200]})" if said else "")
    if said is not None:
        return f"espeak-ng: {said[:200]}"
    return None
