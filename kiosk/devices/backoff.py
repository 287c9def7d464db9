"""Capped exponential backoff for the device services that reopen their device by themselves."""

from __future__ import annotations


class Backoff:
    """Capped exponential delays: first, 2×first, 4×first … up to `cap`."""

    def __init__(self, first: float = 0.25, cap: float = 5.0) -> None:
        self.first, self.cap = first, cap
        self._next = first

    def next(self) -> float:
        delay, self._next = self._next, min(self._next * 2, self.cap)
        return delay

    def reset(self) -> None:
        self._next = self.first
