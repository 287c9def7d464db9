"""What every benchmark shares: timing, and the one line format `make bench` prints.

    bench: NAME = VALUE UNIT | floor VALUE UNIT | ratio R | target T

The floor is the same work done the plainest way, measured in the same run, so the ratio
means something on a shared, noisy machine where absolute times do not.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_seconds(work: Callable[[], object], repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        work()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def report(name: str, value: float, floor: float, unit: str, target: str) -> None:
    ratio = value / floor if floor else float("inf")
    print(
        f"bench: {name} = {value:.3f} {unit} | floor {floor:.3f} {unit} | "
        f"ratio {ratio:.2f} | target {target}",
        flush=True,
    )
