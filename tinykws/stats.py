"""Intervals and paired tests for proportions: how much a number measured on N clips can be trusted.

An accuracy measured on ``n`` clips is a binomial proportion ``k / n``. With
a few hundred clips its uncertainty is several points, so every proportion
tinykws reports carries a 95 % interval, and every comparison of two models
on the same clips says whether the difference is more than noise.

- :func:`wilson_interval`: Wilson's score interval (Wilson 1927), which,
  unlike the textbook ``p +- z sqrt(p(1-p)/n)``, stays inside [0, 1] and
  keeps its coverage near 0 and 1 (Brown, Cai & DasGupta 2001), where recall
  and false-accept rates live.
- :func:`weighted_interval`: a normal interval for a weighted mean of
  independent proportions ``sum_c w_c p_c`` (balanced accuracy is the mean of
  per-class recalls, TF's-distribution accuracy a prior-weighted one), with
  variance ``sum_c w_c^2 p_c (1 - p_c) / n_c``.
- :func:`poisson_rate_interval`: the exact (Garwood 1936) interval of a rate
  of ``k`` events in ``t`` hours, from the chi-square quantiles, for false
  alarms per hour.
- :func:`paired_balanced_test`: the same question for *balanced* accuracy,
  which McNemar's test on plain correctness does not answer (a model that
  answers ``_unknown_`` to everything can be "within noise" of a good one
  on 73 % ``_unknown_`` clips): a class-stratified paired bootstrap of the
  difference in mean per-class recall (Efron & Tibshirani 1993).
- :func:`mcnemar`: McNemar's exact test (McNemar 1947) for two classifiers
  scored on the same clips. Only the clips where exactly one of them is right
  carry information: ``b`` (A right, B wrong) and ``c`` (B right, A wrong).
  Under "no difference" each such clip is a fair coin, so the two-sided
  p-value is ``min(1, 2 * P[Binomial(b + c, 1/2) <= min(b, c)])``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import binom, chi2

Z95 = 1.959963984540054  # the standard normal's 97.5 % quantile
SIGNIFICANCE = 0.05  # the level at which a paired difference is called significant


@dataclass(frozen=True)
class Proportion:
    """A measured proportion with its 95 % interval; ``count``/``total`` when it is a plain ratio."""

    value: float
    low: float
    high: float
    count: int | None = None
    total: int | None = None

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def percent(self) -> str:
        """``'91.2 % [88.0, 93.6]'``, or ``'-'`` when there is nothing to measure."""
        if math.isnan(self.value):
            return "-"
        return f"{100 * self.value:.1f} % [{100 * self.low:.1f}, {100 * self.high:.1f}]"


def wilson_interval(count: int, total: int, z: float = Z95) -> Proportion:
    """``count / total`` with Wilson's score interval.

    centre = (p + z^2 / 2n) / (1 + z^2 / n),
    half   = z / (1 + z^2 / n) * sqrt(p (1 - p) / n + z^2 / 4n^2).
    """
    if total < 0 or not 0 <= count <= total:
        raise ValueError(f"need 0 <= count <= total, got {count} of {total}")
    if total == 0:
        return Proportion(float("nan"), float("nan"), float("nan"), 0, 0)
    n, p = float(total), count / total
    denominator = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    # At k = 0 and k = n the bounds are exactly 0 and 1; rounding must not move them past p.
    low = 0.0 if count == 0 else min(p, centre - half)
    high = 1.0 if count == total else max(p, centre + half)
    return Proportion(p, low, high, int(count), int(total))


def weighted_interval(proportions: np.ndarray, totals: np.ndarray, weights: np.ndarray,
                      z: float = Z95) -> Proportion:
    """``sum_c w_c p_c`` (weights normalised to sum 1) with a normal 95 % interval.

    ``proportions``, ``totals``, ``weights``: ``(C,)``. Classes with no
    examples are dropped (and the remaining weights renormalised).
    """
    p = np.asarray(proportions, np.float64)
    n = np.asarray(totals, np.float64)
    w = np.asarray(weights, np.float64)
    keep = (n > 0) & (w > 0)
    if not keep.any():
        return Proportion(float("nan"), float("nan"), float("nan"))
    p, n, w = p[keep], n[keep], w[keep] / w[keep].sum()
    value = float(w @ p)
    half = z * math.sqrt(float(np.sum(w * w * p * (1 - p) / n)))
    return Proportion(value, max(0.0, value - half), min(1.0, value + half))


def poisson_rate_interval(count: int, hours: float) -> dict:
    """``{"value", "low", "high"}`` events per hour: ``chi2(2k, a/2) / 2t`` to ``chi2(2k+2, 1-a/2) / 2t``."""
    if hours <= 0:
        raise ValueError(f"need a positive duration, got {hours} hours")
    low = 0.0 if count == 0 else float(chi2.ppf(0.025, 2 * count)) / 2
    high = float(chi2.ppf(0.975, 2 * count + 2)) / 2
    return {"value": count / hours, "low": low / hours, "high": high / hours, "count": int(count)}


@dataclass(frozen=True)
class PairedTest:
    """McNemar's exact test of two classifiers on the same clips."""

    a_only: int  # clips A gets right and B wrong
    b_only: int  # clips B gets right and A wrong
    p_value: float

    @property
    def significant(self) -> bool:
        return self.p_value < SIGNIFICANCE

    def as_dict(self) -> dict:
        return {"a_only": self.a_only, "b_only": self.b_only, "p_value": self.p_value,
                "significant": self.significant}

    def verdict(self) -> str:
        """``'significant (p = 0.003)'`` or ``'within noise (p = 0.41)'``."""
        return f"{'significant' if self.significant else 'within noise'} (p = {self.p_value:.2g})"


def mcnemar(correct_a: np.ndarray, correct_b: np.ndarray) -> PairedTest:
    """McNemar's exact two-sided test; ``correct_a``, ``correct_b``: ``(N,)`` bool, the same clips."""
    a = np.asarray(correct_a, bool)
    b = np.asarray(correct_b, bool)
    if a.shape != b.shape:
        raise ValueError(f"paired test needs the same clips, got {a.shape} and {b.shape}")
    a_only, b_only = int(np.sum(a & ~b)), int(np.sum(b & ~a))
    discordant = a_only + b_only
    if discordant == 0:
        return PairedTest(0, 0, 1.0)
    p = 2.0 * float(binom.cdf(min(a_only, b_only), discordant, 0.5))
    return PairedTest(a_only, b_only, min(1.0, p))


def paired_balanced_test(correct_a: np.ndarray, correct_b: np.ndarray, labels: np.ndarray,
                         resamples: int = 2000, seed: int = 0) -> dict:
    """Balanced accuracy of A minus B on the same clips, with a 95 % interval and a two-sided p-value.

    Each resample draws, within every class, as many clips as the class has
    (with replacement) and keeps each clip's pair of outcomes; the p-value is
    ``min(1, 2 min(P[d* <= 0], P[d* >= 0]))`` over the resampled differences.
    Seeded, so the same inputs give the same answer.
    """
    a, b = np.asarray(correct_a, np.float64), np.asarray(correct_b, np.float64)
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    d = np.zeros(resamples)  # (B,) resampled differences
    observed = 0.0
    for c in classes:
        idx = np.flatnonzero(labels == c)
        diff = a[idx] - b[idx]  # (n_c,)
        observed += diff.mean() / len(classes)
        draws = rng.integers(0, len(idx), (resamples, len(idx)))  # (B, n_c)
        d += diff[draws].mean(1) / len(classes)
    if not np.any(a != b):
        p = 1.0
    else:
        p = min(1.0, 2.0 * min(float(np.mean(d <= 0)), float(np.mean(d >= 0))))
    low, high = np.quantile(d, [0.025, 0.975])
    return {"difference": float(observed), "low": float(low), "high": float(high), "p_value": p,
            "significant": p < SIGNIFICANCE, "test": "class-stratified paired bootstrap of balanced accuracy"}
