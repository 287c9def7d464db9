"""The card reader over the real stack: pyscard → pcscd → vpcd → an emulated card.

The service thread and the `kiosk card` command are driven exactly as on a station; only
the card is ours (tests/cardsim). What cannot happen here — a USB reader pulled out of
its socket — is tried with a PC/SC context double behind the same interface
(`test_card_service_fake.py`).
"""

from __future__ import annotations

import datetime as dt
import json
import queue
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.core.identity import Identity
from kiosk.devices.card.errors import (
    CardError,
    CardExpired,
    CardRemoved,
    NoCard,
    NoReader,
)
from kiosk.devices.card.pcsc import PcscContext
from kiosk.devices.card.service import (
    Backoff,
    CardEvent,
    CardReaderService,
    EventKind,
    read_identity,
)
from tests.cardsim.card import (
    ALL_PROFILES,
    EXPIRED,
    GEN1,
    GEN2,
    GEN3_REFUSING,
    MUTE,
    PULLED_MID_READ,
    CardProfile,
    EmulatedCard,
)
from tests.cardsim.pcscd import PcscDaemon
from tests.cardsim.vpcd import VirtualCard
from tests.personal import NEVER_LOGGED
from tests.test_card_protocol import truth

IDENTITY_KEYS = [
    "card_number", "card_id", "region_code", "spec_version", "issue_date", "expiry_date",
    "ssn", "name", "sex", "ethnicity", "birthplace", "birth_date", "complete", "missing",
]  # fmt: skip

ERRORS = {
    "BANK_CARD": "NotSocialSecurityCard",
    "EXPIRED": "CardExpired",
    "PULLED_MID_READ": "CardRemoved",
    "MUTE": "CardMute",
}
QUICK = [p for p in ALL_PROFILES.values() if not p.mute]


def kiosk(data_dir: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kiosk", "--data-dir", str(data_dir), "card", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# -- kiosk card read ------------------------------------------------------------------------


@pytest.mark.parametrize("profile", QUICK, ids=lambda p: p.label)
def test_card_read_reveal_prints_each_cards_identity(
    pcscd: PcscDaemon, virtual_card: Any, data_dir: Path, profile: CardProfile
) -> None:
    virtual_card(profile)
    result = kiosk(data_dir, "read", "--json", "--reveal")
    printed = json.loads(result.stdout)
    if profile.label in ERRORS:
        assert result.returncode == 1
        assert printed["error"] == ERRORS[profile.label]
        assert printed["message"]
        return
    assert result.returncode == 0, result.stderr
    assert list(printed) == IDENTITY_KEYS
    expected = truth(profile)
    assert {key: printed[key] for key in expected} == expected
    assert printed["complete"] is (not profile.refuse_ef06)
    assert printed["missing"] == [key for key, value in expected.items() if value is None]


@pytest.mark.slow
def test_card_read_of_a_mute_card_says_so(
    pcscd: PcscDaemon, virtual_card: Any, data_dir: Path
) -> None:
    virtual_card(MUTE)
    result = kiosk(data_dir, "read", "--json")
    assert result.returncode == 1
    assert json.loads(result.stdout)["error"] == "CardMute"


def test_card_read_is_masked_unless_revealed(
    pcscd: PcscDaemon, virtual_card: Any, data_dir: Path
) -> None:
    virtual_card(GEN2)
    result = kiosk(data_dir, "read", "--json")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["name"] == GEN2.name[0] + "*" + GEN2.name[-1]
    assert printed["ssn"] == GEN2.ssn[:3] + "*" * 11 + GEN2.ssn[-4:]
    for secret in GEN2.personal_data():
        assert secret not in result.stdout
    human = kiosk(data_dir, "read")
    assert human.returncode == 0
    for secret in GEN2.personal_data():
        assert secret not in human.stdout


def test_card_read_names_the_reader_and_the_missing_card(
    pcscd: PcscDaemon, virtual_card: Any, data_dir: Path
) -> None:
    virtual_card(GEN1, slot=1)
    chosen = kiosk(data_dir, "read", "--json", "--reveal", "--reader", pcscd.reader(1))
    assert json.loads(chosen.stdout)["card_number"] == GEN1.card_number
    empty = kiosk(data_dir, "read", "--json", "--reader", pcscd.reader(0))
    assert empty.returncode == 1
    assert json.loads(empty.stdout)["error"] == "NoCard"
    unknown = kiosk(data_dir, "read", "--json", "--reader", "No Such Reader")
    assert json.loads(unknown.stdout)["error"] == "NoReader"


def test_card_read_without_pcscd_says_pcscd_is_not_running(
    pcscd: PcscDaemon, data_dir: Path
) -> None:
    pcscd.stop()
    try:
        result = kiosk(data_dir, "read", "--json")
    finally:
        pcscd.start()
    assert result.returncode == 1
    assert json.loads(result.stdout)["error"] == "PcscdNotRunning"


def test_card_read_waits_for_a_card(pcscd: PcscDaemon, virtual_card: Any, data_dir: Path) -> None:
    reading = subprocess.Popen(
        [sys.executable, "-m", "kiosk", "--data-dir", str(data_dir), "card", "read", "--json",
         "--reveal", "--wait", "30"],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    time.sleep(1.0)
    virtual_card(GEN2)
    out, _ = reading.communicate(timeout=30)
    assert json.loads(out)["ssn"] == GEN2.ssn


# -- kiosk card watch -----------------------------------------------------------------------


def test_card_watch_prints_events_as_they_happen(
    pcscd: PcscDaemon, virtual_card: Any, data_dir: Path
) -> None:
    watch = subprocess.Popen(
        [sys.executable, "-m", "kiosk", "--data-dir", str(data_dir), "card", "watch", "--json",
         "--read"],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    lines: queue.Queue[dict[str, Any]] = queue.Queue()

    def next_event(kind: str) -> dict[str, Any]:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert watch.stdout is not None
            line = watch.stdout.readline()
            if not line:
                break
            event = json.loads(line)
            lines.put(event)
            if event["event"] == kind:
                return event
        raise AssertionError(f"no {kind} event")

    try:
        assert next_event("reader-added")["reader"] in pcscd.readers
        card = virtual_card(GEN2)
        assert next_event("card-inserted")["atr"]
        read = next_event("card-read")
        assert read["identity"]["name"] == GEN2.name[0] + "*" + GEN2.name[-1]
        card.remove()
        assert next_event("card-removed")["reader"] == pcscd.reader(0)
    finally:
        watch.send_signal(signal.SIGTERM)
        watch.wait(timeout=10)
    assert watch.returncode == 0
    everything = json.dumps(list(lines.queue), ensure_ascii=False)
    for secret in NEVER_LOGGED:
        assert secret not in everything


# -- the service ----------------------------------------------------------------------------


class Events:
    """Collects a service's events and waits for the one a test expects."""

    def __init__(self) -> None:
        self.seen: queue.Queue[CardEvent] = queue.Queue()
        self.log: list[CardEvent] = []

    def __call__(self, event: CardEvent) -> None:
        self.seen.put(event)

    def wait(self, kind: EventKind, reader: str | None = None, timeout: float = 20) -> CardEvent:
        deadline = time.monotonic() + timeout
        while True:
            try:
                event = self.seen.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(
                    f"no {kind} for {reader} within {timeout} s; saw {[e.kind for e in self.log]}"
                ) from None
            self.log.append(event)
            if event.kind is kind and (reader is None or event.reader == reader):
                return event


@pytest.fixture
def service(pcscd: PcscDaemon) -> Iterator[tuple[CardReaderService, Events]]:
    events = Events()
    running = CardReaderService(events, poll_interval=0.2, backoff=Backoff(0.05, 0.5))
    running.start()
    yield running, events
    running.stop()


def test_the_service_reports_readers_cards_and_identities(
    pcscd: PcscDaemon, virtual_card: Any, service: tuple[CardReaderService, Events]
) -> None:
    running, events = service
    events.wait(EventKind.SERVICE_UP)
    for reader in pcscd.readers:
        events.wait(EventKind.READER_ADDED, reader)
    card = virtual_card(GEN2, slot=1)
    assert events.wait(EventKind.CARD_INSERTED, pcscd.reader(1)).atr == GEN2.atr
    identity = events.wait(EventKind.CARD_READ, pcscd.reader(1)).identity
    assert identity is not None and identity.ssn == GEN2.ssn
    card.remove()
    events.wait(EventKind.CARD_REMOVED, pcscd.reader(1))
    virtual_card(GEN3_REFUSING, slot=0)
    partial = events.wait(EventKind.CARD_READ, pcscd.reader(0)).identity
    assert partial is not None and not partial.complete and "name" in partial.missing
    requested = running.request_read(pcscd.reader(0)).result(timeout=20)
    assert requested.card_number == GEN3_REFUSING.card_number


def test_a_card_pulled_mid_read_is_reported_and_the_next_card_reads(
    pcscd: PcscDaemon, virtual_card: Any, service: tuple[CardReaderService, Events]
) -> None:
    _, events = service
    pulled = virtual_card(PULLED_MID_READ)
    failed = events.wait(EventKind.READ_FAILED, pcscd.reader(0))
    assert isinstance(failed.error, CardRemoved)
    pulled.remove()
    events.wait(EventKind.CARD_REMOVED, pcscd.reader(0))
    virtual_card(GEN1)
    read = events.wait(EventKind.CARD_READ, pcscd.reader(0))
    assert read.identity is not None and read.identity.card_number == GEN1.card_number


def test_an_expired_card_is_refused_by_name(
    pcscd: PcscDaemon, virtual_card: Any, service: tuple[CardReaderService, Events]
) -> None:
    _, events = service
    virtual_card(EXPIRED)
    failed = events.wait(EventKind.READ_FAILED, pcscd.reader(0))
    assert isinstance(failed.error, CardExpired)
    assert failed.error.resident_message("zh")


def test_the_service_survives_a_pcscd_restart(
    pcscd: PcscDaemon, virtual_card: Any, service: tuple[CardReaderService, Events]
) -> None:
    running, events = service
    events.wait(EventKind.READER_ADDED, pcscd.reader(0))
    for _ in range(2):
        pcscd.stop()
        events.wait(EventKind.SERVICE_DOWN)
        events.wait(EventKind.READER_REMOVED, pcscd.reader(0))
        pcscd.start()
        events.wait(EventKind.SERVICE_UP)
        events.wait(EventKind.READER_ADDED, pcscd.reader(0))
    virtual_card(GEN2)
    read = events.wait(EventKind.CARD_READ, pcscd.reader(0))
    assert read.identity is not None and read.identity.name == GEN2.name
    assert running.readers[pcscd.reader(0)].slot.value == "card"


def test_a_quick_pcscd_restart_leaves_a_stale_context_that_is_replaced(
    pcscd: PcscDaemon, virtual_card: Any
) -> None:
    events = Events()
    # A long poll: the restart happens while the service is blocked in the old context.
    running = CardReaderService(events, poll_interval=30, backoff=Backoff(0.05, 0.5))
    running.start()
    try:
        events.wait(EventKind.READER_ADDED, pcscd.reader(0))
        pcscd.restart()
        virtual_card(GEN1)
        read = events.wait(EventKind.CARD_READ, pcscd.reader(0), timeout=40)
        assert read.identity is not None
    finally:
        running.stop()


def test_read_requests_without_a_card_fail_by_name(
    pcscd: PcscDaemon, service: tuple[CardReaderService, Events]
) -> None:
    running, events = service
    events.wait(EventKind.READER_ADDED, pcscd.reader(1))
    with pytest.raises(NoCard):
        running.request_read().result(timeout=20)
    with pytest.raises(NoReader):
        running.request_read("No Such Reader").result(timeout=20)


def test_read_identity_on_an_open_context(pcscd: PcscDaemon, virtual_card: Any) -> None:
    virtual_card(GEN2)
    context = PcscContext()
    context.establish()
    try:
        identity = read_identity(context, pcscd.reader(0), today=dt.date.today())
        with pytest.raises(CardError):
            read_identity(context, pcscd.reader(1), today=dt.date.today())
    finally:
        context.release()
    assert identity.complete and identity.card_number == GEN2.card_number


def test_card_commands_write_no_personal_data_to_their_log(
    pcscd: PcscDaemon, virtual_card: Any, data_dir: Path
) -> None:
    virtual_card(GEN2)
    assert kiosk(data_dir, "read", "--json", "--reveal").returncode == 0
    log_text = (data_dir / "logs" / "kiosk.log").read_text(encoding="utf-8")
    assert "card read in" in log_text
    for secret in NEVER_LOGGED:
        assert secret not in log_text


# -- damaged answers through the whole stack --------------------------------------------------


class DamagedCard(EmulatedCard):
    """An emulated card whose answers at chosen positions are replaced by others."""

    plan: ClassVar[dict[int, bytes]] = {}

    def respond(self, apdu: bytes) -> bytes:
        answer = super().respond(apdu)
        return self.plan.get(self.apdu_count, answer)


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    plan=st.dictionaries(
        st.integers(1, 20),
        st.one_of(
            # Not empty: vpcd waits forever for an empty answer, as no real card sends one.
            st.binary(min_size=1, max_size=40),
            st.binary(min_size=2, max_size=2),
            st.builds(
                lambda body, sw: body + sw,
                st.binary(max_size=34),
                st.sampled_from(
                    [b"\x90\x00", b"\x61\x10", b"\x6c\x05", b"\x69\x82", b"\x6a\x83", b"\x62\x82"]
                ),
            ),
        ),
        min_size=1,
        max_size=3,
    )
)
def test_damaged_answers_through_pcscd_end_in_a_named_error_or_a_valid_identity(
    pcscd: PcscDaemon, plan: dict[int, bytes]
) -> None:
    DamagedCard.plan = plan
    card = VirtualCard(GEN2, port=pcscd.port(1), reader=pcscd.reader(1), card_factory=DamagedCard)
    card.insert(wait=True)
    context = PcscContext()
    try:
        context.establish()
        try:
            identity = read_identity(context, pcscd.reader(1), today=dt.date.today())
        except CardError:
            return
        assert isinstance(identity, Identity)  # validated on construction
    finally:
        context.release()
        card.remove(wait=True)
