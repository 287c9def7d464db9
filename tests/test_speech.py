"""Spoken prompts: espeak-ng renders Chinese and English prompts to real WAV audio; a
muted speaker says nothing; a missing or failing espeak-ng is logged once and never
raised; quick prompts replace each other instead of piling up processes."""

from __future__ import annotations

import logging
import os
import shutil
import stat
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.core.speech import ESPEAK, Speaker

ESPEAK_PATH = shutil.which(ESPEAK)
needs_espeak = pytest.mark.skipif(
    ESPEAK_PATH is None, reason="espeak-ng is not installed (installer/system-packages.sh)"
)


@pytest.fixture
def speakers() -> Iterator[list[Speaker]]:
    """Speakers made by a test, closed after it."""
    made: list[Speaker] = []
    yield made
    for speaker in made:
        speaker.close()


def fake_espeak(folder: Path, *, seconds: float = 0, status: int = 0, stderr: str = "") -> Path:
    """A stand-in for espeak-ng that records each prompt it was given (its standard
    input) in `folder`/said, one line each, after sleeping `seconds`; a process stopped
    while sleeping records nothing."""
    script = folder / "espeak-ng"
    said = folder / "said"
    script.write_text(
        "#!/bin/sh\n"
        "text=$(cat)\n"
        f"sleep {seconds}\n"
        f'printf "%s\\n" "$text" >> "{said}"\n'
        f'printf "{stderr}" >&2\n'
        f"exit {status}\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def said(folder: Path) -> list[str]:
    path = folder / "said"
    return path.read_text().splitlines() if path.exists() else []


def children_running(binary: Path) -> int:
    """Processes of this test (not yet reaped, not zombies) that run `binary`."""
    count = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        state, parent = fields[0], int(fields[1])
        if parent == os.getpid() and state != "Z" and str(binary).encode() in command:
            count += 1
    return count


@needs_espeak
@pytest.mark.parametrize(
    ("lang", "prompt"),
    [("zh", "请将社保卡插入读卡器。"), ("en", "Please insert your card into the reader.")],
)
def test_a_prompt_renders_to_a_wav_file(
    tmp_path: Path, speakers: list[Speaker], lang: str, prompt: str
) -> None:
    speaker = Speaker()
    speakers.append(speaker)
    out = tmp_path / f"{lang}.wav"
    speaker.say(prompt, lang, wav=out)
    assert speaker.wait_idle(timeout=60)
    with wave.open(str(out), "rb") as audio:
        assert audio.getnchannels() == 1
        assert audio.getnframes() > 0
        assert audio.getnframes() / audio.getframerate() > 0.3
    assert [path.name for path in tmp_path.iterdir()] == [out.name]  # no partial file left


@needs_espeak
def test_both_languages_one_after_the_other(tmp_path: Path, speakers: list[Speaker]) -> None:
    speaker = Speaker()
    speakers.append(speaker)
    durations = []
    for lang, prompt in (("zh", "请选择要办理的事项。"), ("en", "Choose a service.")):
        out = tmp_path / f"{lang}.wav"
        speaker.say(prompt, lang, wav=out)
        assert speaker.wait_idle(timeout=60)
        with wave.open(str(out), "rb") as audio:
            durations.append(audio.getnframes() / audio.getframerate())
    assert all(duration > 0.3 for duration in durations)


@needs_espeak
def test_speaking_aloud_never_raises(speakers: list[Speaker]) -> None:
    """Here, or in CI, there may be no sound device: espeak-ng then fails, quietly."""
    speaker = Speaker()
    speakers.append(speaker)
    speaker.say("您好", "zh")
    assert speaker.wait_idle(timeout=60)


def test_a_muted_speaker_says_nothing(tmp_path: Path, speakers: list[Speaker]) -> None:
    binary = fake_espeak(tmp_path)
    speaker = Speaker(binary=str(binary), muted=True)
    speakers.append(speaker)
    speaker.say("请插卡", "zh")
    speaker.say("Insert your card", "en")
    assert speaker.wait_idle(timeout=10)
    assert said(tmp_path) == []
    speaker.muted = False
    speaker.say("请插卡", "zh")
    assert speaker.wait_idle(timeout=10)
    assert said(tmp_path) == ["请插卡"]


def test_muting_stops_the_prompt_being_spoken(tmp_path: Path, speakers: list[Speaker]) -> None:
    binary = fake_espeak(tmp_path, seconds=30)
    speaker = Speaker(binary=str(binary))
    speakers.append(speaker)
    speaker.say("a long prompt", "en")
    speaker.muted = True
    assert speaker.wait_idle(timeout=10)
    assert said(tmp_path) == []
    assert children_running(binary) == 0


def test_a_missing_espeak_is_logged_once_and_never_raised(
    tmp_path: Path, speakers: list[Speaker], caplog: pytest.LogCaptureFixture
) -> None:
    speaker = Speaker(binary=str(tmp_path / "no-such-espeak-ng"))
    speakers.append(speaker)
    with caplog.at_level(logging.DEBUG, logger="kiosk.core.speech"):
        for prompt in ("one", "two", "three"):
            speaker.say(prompt, "en")
            assert speaker.wait_idle(timeout=10)
    infos = [r for r in caplog.records if r.levelno == logging.INFO]
    assert len(infos) == 1
    assert "silent" in infos[0].getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_espeak_not_on_the_path_is_not_an_error(
    monkeypatch: pytest.MonkeyPatch, speakers: list[Speaker]
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    speaker = Speaker()
    speakers.append(speaker)
    speaker.say("hello", "en")
    assert speaker.wait_idle(timeout=10)


def test_a_failing_espeak_is_logged_once(
    tmp_path: Path, speakers: list[Speaker], caplog: pytest.LogCaptureFixture
) -> None:
    """espeak-ng without a sound device exits 0 but says "error: …" on stderr."""
    binary = fake_espeak(
        tmp_path, stderr="ALSA lib pcm.c: Unknown PCM default\\nerror: no device\\n"
    )
    speaker = Speaker(binary=str(binary))
    speakers.append(speaker)
    with caplog.at_level(logging.INFO, logger="kiosk.core.speech"):
        speaker.say("first prompt", "en")
        assert speaker.wait_idle(timeout=10)
        speaker.say("second prompt", "en")
        assert speaker.wait_idle(timeout=10)
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert messages == ["spoken prompts are silent: espeak-ng: error: no device"]


def test_a_failed_render_leaves_no_file(tmp_path: Path, speakers: list[Speaker]) -> None:
    binary = fake_espeak(tmp_path, status=1)
    speaker = Speaker(binary=str(binary))
    speakers.append(speaker)
    out = tmp_path / "prompt.wav"
    speaker.say("hello", "en", wav=out)
    assert speaker.wait_idle(timeout=10)
    assert not out.exists()
    assert not list(tmp_path.glob("*.part"))


def test_rapid_prompts_do_not_pile_up(tmp_path: Path, speakers: list[Speaker]) -> None:
    binary = fake_espeak(tmp_path, seconds=1)
    speaker = Speaker(binary=str(binary))
    speakers.append(speaker)
    most = 0
    for number in range(40):
        speaker.say(f"prompt {number}", "en")
        most = max(most, children_running(binary))
    assert most <= 1
    assert speaker.wait_idle(timeout=30)
    assert said(tmp_path)[-1] == "prompt 39"  # the newest was spoken to the end
    assert children_running(binary) == 0


def test_say_after_close_does_nothing(tmp_path: Path) -> None:
    binary = fake_espeak(tmp_path)
    speaker = Speaker(binary=str(binary))
    speaker.close()
    speaker.say("hello", "en")
    assert speaker.wait_idle(timeout=1)
    assert said(tmp_path) == []
