"""Fair timing: contenders in the same process, alternating, after warm-up, medians.

Timing one implementation and then another lets the machine's state (turbo,
caches, a neighbour's load) drift between them. :func:`compare` instead runs
the contenders in turn, round after round, and reports the median of each, so
that slow drift hits both alike. Each round times a loop of ``number`` calls,
calibrated so one measurement lasts long enough for ``perf_counter`` to be
precise.
"""

from __future__ import annotations

import time
from statistics import median
from typing import Callable


def _calibrate(fn: Callable[[], object], target_s: float) -> int:
    """Smallest power-of-two loop count whose run takes at least ``target_s``."""
    number = 1
    while True:
        start = time.perf_counter()
        for _ in range(number):
            fn()
        if time.perf_counter() - start >= target_s or number >= 1 << 20:
            return number
        number *= 2


def compare(contenders: dict[str, Callable[[], object]], repeats: int = 15,
            warmup: int = 3, target_s: float = 0.02) -> dict[str, float]:
    """Median seconds per call of each contender, measured alternately.

    Parameters
    ----------
    contenders : name -> zero-argument callable doing one unit of work.
    repeats : rounds; every contender is timed once per round.
    warmup : untimed calls first (JIT compilation, caches, allocators).
    target_s : minimum duration of one timed loop.
    """
    for fn in contenders.values():
        for _ in range(warmup):
            fn()
    numbers = {name: _calibrate(fn, target_s) for name, fn in contenders.items()}
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            n = numbers[name]
            start = time.perf_counter()
            for _ in range(n):
                fn()
            samples[name].append((time.perf_counter() - start) / n)
    return {name: median(s) for name, s in samples.items()}
