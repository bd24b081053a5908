"""Fake quantization: round to a b-bit grid in the forward pass, let gradients through.

Quantization-aware training (Jacob et al., 2018) trains a float model whose
forward pass sees exactly the values an integer model will compute with:
each weight and activation is quantized and immediately dequantized,
``x -> s * (clamp(round(x / s) + z, qmin, qmax) - z)``. Rounding has a zero
gradient almost everywhere, so the backward pass uses the **straight-through
estimator** (Bengio et al., 2013): pretend the quantizer was the identity,
``dL/dx = dL/dy`` — or, the *clipped* variant, only where ``x`` fell inside
the representable range (a clamped value would not move if ``x`` moved).

The grids are those of :mod:`tinykws.quant.grid`, the very ones PTQ
(:mod:`tinykws.quant.ptq`) builds the integer model on: float32 scales,
rounding half away from zero (``TfLiteRound``), symmetric weights (per
tensor or per output channel; the ``"tflite"`` or ``"full-range"`` grid) and
asymmetric activations held in int8's lowest ``2^b`` codes. So a
fake-quantized weight is exactly ``s * q`` of the integer model's code ``q``,
and an activation lands exactly on the integer model's grid.

An activation's ``(min, max)`` is not known in advance: :class:`FakeQuant`
tracks it during training as a moving average of each batch's min and max
(``r <- m r + (1 - m) r_batch``), optionally with a percentile of the batch
instead of its extreme (robust to rare outliers). At inference the running
range is frozen: it is what the integer model's scales are made from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinykws.nn.layers import Parameterless
from tinykws.quant.grid import (
    SYMMETRIC_GRIDS, asymmetric_codes, asymmetric_params, channel_ranges, per_channel,
    symmetric_quantize, symmetric_scales, tflite_round)
from tinykws.quant.minifloat import MinifloatFormat, minifloat_round


@dataclass(frozen=True)
class QConfig:
    """How one tensor is fake-quantized.

    ``mode``: ``"symmetric"`` (weights), ``"asymmetric"`` (activations) or
    ``"minifloat"`` (symmetric in scale, ExMy grid; ``fmt`` gives E and M).
    ``grid``: the symmetric grid, ``"tflite"`` or ``"full-range"``
    (:mod:`tinykws.quant.grid`).
    ``axis``: per-channel along this axis, or None for per tensor.
    ``ste``: ``"identity"`` or ``"clipped"`` straight-through gradient.
    ``momentum``: moving-average factor of the activation range.
    ``percentile``: if set, the batch range is this percentile (and
    100 - percentile) instead of max (and min).
    """

    bits: int = 8
    mode: str = "symmetric"
    axis: int | None = None
    ste: str = "identity"
    momentum: float = 0.9
    percentile: float | None = None
    fmt: MinifloatFormat | None = None
    grid: str = "tflite"

    def __post_init__(self):
        if self.mode not in ("symmetric", "asymmetric", "minifloat"):
            raise ValueError(f"mode must be symmetric, asymmetric or minifloat, not {self.mode!r}")
        if self.mode == "minifloat" and self.fmt is None:
            raise ValueError("minifloat mode needs a format (fmt)")
        if self.mode != "minifloat" and not 2 <= self.bits <= 16:
            raise ValueError(f"bits must be between 2 and 16, not {self.bits}")
        if self.grid not in SYMMETRIC_GRIDS:
            raise ValueError(f"grid must be one of {', '.join(SYMMETRIC_GRIDS)}, not {self.grid!r}")
        if self.ste not in ("identity", "clipped"):
            raise ValueError(f"ste must be identity or clipped, not {self.ste!r}")


def fake_quant_symmetric(x: np.ndarray, bits: int, axis: int | None = None,
                         grid: str = "tflite") -> tuple[np.ndarray, np.ndarray]:
    """Symmetric fake quantization on the tensor's own scale; returns ``(x_hat, inside)``.

    ``inside`` marks the elements that were not clamped (for the clipped
    STE; with the scale taken from ``x`` itself, nothing is).
    """
    scales = symmetric_scales(*channel_ranges(x, axis), bits, grid)  # (C,) or (1,) float32
    codes, inside = symmetric_quantize(x, scales, axis, bits, grid)
    s = per_channel(scales, axis, x.ndim).astype(np.float64)
    return (codes * s).astype(x.dtype), inside


def fake_quant_asymmetric(x: np.ndarray, bits: int, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """Asymmetric fake quantization to the grid of ``[lo, hi]``; returns ``(x_hat, inside)``."""
    s, z = asymmetric_params(lo, hi, bits)
    qmin, qmax = asymmetric_codes(bits)
    q = tflite_round(np.asarray(x, np.float64) / s) + z
    inside = (q >= qmin) & (q <= qmax)
    return ((np.clip(q, qmin, qmax) - z) * s).astype(x.dtype), inside


def abs_max(x: np.ndarray, axis: int | None) -> np.ndarray:
    """``max|x|`` over everything (shape ``(1,)``) or per index along ``axis`` (``(C,)``)."""
    lo, hi = channel_ranges(x, axis)
    return np.maximum(-lo, hi)


def fake_quant_minifloat(x: np.ndarray, fmt: MinifloatFormat, axis: int | None = None,
                         peak: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Scale so that ``max|x|`` lands on the format's largest value, round to ExMy, scale back."""
    peak = abs_max(x, axis) if peak is None else np.asarray(peak, np.float64)
    s = per_channel(np.where(peak > 0, peak / fmt.max_value, 1.0), axis, x.ndim)
    y = x / s
    inside = np.abs(y) <= fmt.max_value
    return (minifloat_round(y, fmt) * s).astype(x.dtype), inside


class FakeQuant(Parameterless):
    """A fake-quantization step with its straight-through backward; usable as a layer.

    For weights (``mode="symmetric"`` or ``"minifloat"``), the scale comes
    from the tensor itself at every call. For activations
    (``mode="asymmetric"``) it comes from the running range, updated from
    each training batch and frozen at inference. Before any batch has been
    seen the range is that of the first input.
    """

    def __init__(self, config: QConfig):
        super().__init__()  # nothing to learn: the ranges are tracked, not trained
        self.config = config
        self.lo: float | None = None  # running range (activations)
        self.hi: float | None = None
        self._inside = None

    def spec(self) -> dict:
        c = self.config
        return {"type": "fake_quant", "bits": c.bits, "mode": c.mode, "axis": c.axis,
                "lo": self.lo, "hi": self.hi}

    def observe(self, x: np.ndarray) -> None:
        """Fold one batch's range into the moving average."""
        p = self.config.percentile
        lo = float(x.min() if p is None else np.percentile(x, 100 - p))
        hi = float(x.max() if p is None else np.percentile(x, p))
        if self.lo is None:
            self.lo, self.hi = lo, hi
        else:
            m = self.config.momentum
            self.lo, self.hi = m * self.lo + (1 - m) * lo, m * self.hi + (1 - m) * hi

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        c = self.config
        if c.mode == "symmetric":
            y, self._inside = fake_quant_symmetric(x, c.bits, c.axis, c.grid)
            return y
        if c.mode == "minifloat" and c.axis is not None:  # a weight: its own scale
            y, self._inside = fake_quant_minifloat(x, c.fmt, c.axis)
            return y
        if training or self.lo is None:
            self.observe(x)
        if c.mode == "minifloat":  # an activation: scale from the running range
            y, self._inside = fake_quant_minifloat(x, c.fmt, None, max(abs(self.lo), abs(self.hi)))
            return y
        y, self._inside = fake_quant_asymmetric(x, c.bits, self.lo, self.hi)
        return y

    def backward(self, dy: np.ndarray, need_input_grad: bool = True) -> np.ndarray:
        """Straight-through: ``dy`` everywhere (identity) or where not clamped (clipped)."""
        if self.config.ste == "identity":
            return dy
        return dy * self._inside
