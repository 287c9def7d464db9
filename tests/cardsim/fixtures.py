"""Pytest fixtures that put emulated social security cards into real PC/SC readers.

Registered from tests/conftest.py (``pytest_plugins``):

- ``pcscd`` (session): a private pcscd with the vpcd readers "Virtual PCD 00 00"
  (slot 0, port 40059) and "Virtual PCD 00 01" (slot 1, port 40060). Any other pcscd is
  stopped first. Tests using it are skipped only when we are not root, not under CI
  and pcscd cannot be started; as root or under CI=true a failure to start is an error.
- ``virtual_card`` (function): ``virtual_card(profile, slot=0, *, mute_timeout=8.0)``
  inserts a card and waits until pcscd shows it; at teardown every card is removed and
  the test waits for the reader to report empty, so the next test starts clean.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Protocol

import pytest

from tests.cardsim.card import CardProfile
from tests.cardsim.pcscd import PcscDaemon, PcscError
from tests.cardsim.vpcd import VirtualCard


class InsertCard(Protocol):
    """The ``virtual_card`` fixture: insert a card into a slot, get its VirtualCard."""

    def __call__(
        self, profile: CardProfile, slot: int = 0, *, mute_timeout: float = 8.0
    ) -> VirtualCard: ...


@pytest.fixture(scope="session")
def pcscd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PcscDaemon]:
    """A private pcscd with two vpcd slots, for the whole session."""
    daemon = PcscDaemon(workdir=tmp_path_factory.mktemp("pcscd"))
    try:
        daemon.start()
    except PcscError as exc:
        daemon.stop()
        # A developer without root may skip; CI runs as root and must never skip.
        if os.geteuid() != 0 and not os.environ.get("CI"):
            pytest.skip(f"cannot start a private pcscd without root: {exc}")
        raise
    yield daemon
    daemon.stop()


@pytest.fixture
def virtual_card(pcscd: PcscDaemon) -> Iterator[InsertCard]:
    """Insert emulated cards into vpcd slots; all are removed again after the test."""
    cards: list[VirtualCard] = []

    def insert(profile: CardProfile, slot: int = 0, *, mute_timeout: float = 8.0) -> VirtualCard:
        card = VirtualCard(
            profile, port=pcscd.port(slot), reader=pcscd.reader(slot), mute_timeout=mute_timeout
        )
        cards.append(card)
        card.insert(wait=True)
        return card

    yield insert
    if not pcscd.running:  # a test stopped the daemon: bring it back for the next test
        pcscd.start()
    for card in reversed(cards):  # the newest first: an older one may share its slot
        card.remove(wait=True)
