"""Minifloats: tiny floating-point formats ExMy (a sign, E exponent bits, M mantissa bits).

A value is ``(-1)^sign * 2^(e - bias) * (1 + f / 2^M)`` for a stored exponent
``e`` in ``1 .. 2^E - 1`` (normal numbers) and ``(-1)^sign * 2^(1 - bias) * (f / 2^M)``
for ``e = 0`` (subnormals: they fill the gap between 0 and the smallest normal
evenly), with ``bias = 2^(E-1) - 1`` and ``f`` the M-bit mantissa. Total bits:
``1 + E + M``.

Convention here: every bit pattern is a finite number (no infinities or NaNs),
as in the OCP Microscaling formats FP4 (E2M1, largest 6) and FP6 (E3M2,
largest 28; E2M3, largest 7.5). FP8 E4M3FN reserves one code for NaN (its
largest is 448, here 480) and IEEE-style E5M2 reserves a whole binade (57344,
here 114688); since a tensor is scaled onto the format (its ``max|x|`` onto
the largest value), that shifts the grid by at most one binade and keeps its
shape. Rounding is to nearest, ties to even (IEEE 754's default); values
beyond the largest saturate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MinifloatFormat:
    exponent_bits: int
    mantissa_bits: int

    def __post_init__(self):
        if self.exponent_bits < 1 or self.mantissa_bits < 0:
            raise ValueError(f"need at least one exponent bit: E{self.exponent_bits}M{self.mantissa_bits}")

    @property
    def name(self) -> str:
        return f"E{self.exponent_bits}M{self.mantissa_bits}"

    @property
    def bits(self) -> int:
        return 1 + self.exponent_bits + self.mantissa_bits

    @property
    def bias(self) -> int:
        return 2 ** (self.exponent_bits - 1) - 1

    @property
    def max_value(self) -> float:
        """``(2 - 2^-M) * 2^(2^E - 1 - bias)``: the top exponent, all mantissa bits set."""
        m = self.mantissa_bits
        return (2.0 - 2.0 ** -m) * 2.0 ** (2 ** self.exponent_bits - 1 - self.bias)

    @property
    def min_subnormal(self) -> float:
        return 2.0 ** (1 - self.bias - self.mantissa_bits)

    def values(self) -> np.ndarray:
        """Every non-negative value of the format, ascending (for tests and plots)."""
        m = self.mantissa_bits
        f = np.arange(2 ** m)
        sub = f / 2 ** m * 2.0 ** (1 - self.bias)
        normal = [(1 + f / 2 ** m) * 2.0 ** (e - self.bias) for e in range(1, 2 ** self.exponent_bits)]
        return np.concatenate([sub, *normal])


def parse_format(text: str) -> MinifloatFormat:
    """``"E4M3"`` -> ``MinifloatFormat(4, 3)``."""
    t = text.strip().upper()
    try:
        e, m = t[1:].split("M")
        if t[0] != "E":
            raise ValueError
        return MinifloatFormat(int(e), int(m))
    except ValueError:
        raise ValueError(f"not a minifloat format like E4M3: {text!r}") from None


def minifloat_round(x: np.ndarray, fmt: MinifloatFormat) -> np.ndarray:
    """Round ``x`` to the nearest value of ``fmt`` (ties to even), saturating at its largest."""
    x = np.asarray(x, np.float64)
    a = np.minimum(np.abs(x), fmt.max_value)
    # The binade of each value, never below the smallest normal's (subnormals
    # share that quantum): quantum = 2^(e - M).
    e = np.floor(np.log2(np.maximum(a, fmt.min_subnormal)))
    e = np.maximum(e, 1 - fmt.bias)
    quantum = 2.0 ** (e - fmt.mantissa_bits)
    q = a / quantum  # exact: quantum is a power of two
    k = np.floor(q)
    # Bit patterns are consecutive along the grid: the lower neighbour k * quantum
    # has the magnitude code (e + bias - 1) * 2^M + k (subnormals included), the
    # upper one that plus one. A tie goes to the even code. With M >= 1 that is
    # the parity of k (what np.round's half-to-even does); with M = 0 the code's
    # last bit is the exponent's, so 3 rounds to 2 (code 2) in E2M0, not to 4.
    code = (e + fmt.bias - 1) * 2.0 ** fmt.mantissa_bits + k
    up = (q - k > 0.5) | ((q - k == 0.5) & (code % 2 == 1))
    r = np.minimum((k + up) * quantum, fmt.max_value)
    return np.sign(x) * r


# Formats of the study, by total bits (sign included).
STUDY_FORMATS = ("E2M0", "E2M1", "E3M0", "E2M2", "E3M1", "E2M3", "E3M2", "E4M1",
                 "E3M3", "E4M2", "E5M1", "E3M4", "E4M3", "E5M2")
