"""Fake quantization: round to a b-bit grid in the forward pass, let gradients through.

Quantization-aware training (Jacob et al., 2018) trains a float model whose
forward pass sees exactly the values an integer model will compute with:
each weight and activation is quantized and immediately dequantized,
``x -> s * (clamp(round(x / s) + z, qmin, qmax) - z)``. Rounding has a zero
gradient almost everywhere, so the backward pass uses the **straight-through
estimator** (Bengio et al., 2013): pretend the quantizer was the identity,
``dL/dx = dL/dy`` — or, the *clipped* variant, only where ``x`` fell inside
the representable range (a clamped value would not move if ``x`` moved).

Two grids, as TFLite uses them:

- **symmetric** (weights): ``s = max|x| / (2^(b-1) - 1)``, ``z = 0``, codes
  clamped to ``[-2^(b-1), 2^(b-1) - 1]``; per tensor, or per channel along an
  axis (one ``s`` per output channel of a convolution);
- **asymmetric unsigned** (activations): ``s = (max - min) / (2^b - 1)``,
  ``z = round(-min / s)``, codes in ``[0, 2^b - 1]``. The range always
  includes 0, so that 0 (ReLU's floor, the padding value) is exact. After a
  ReLU, ``min = 0`` and ``z = 0``.

An activation's ``(min, max)`` is not known in advance: :class:`FakeQuant`
tracks it during training as a moving average of each batch's min and max
(``r <- m r + (1 - m) r_batch``), optionally with a percentile of the batch
instead of its extreme (robust to rare outliers). At inference the running
range is frozen: it is what the integer model's scales are made from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinykws.quant.minifloat import MinifloatFormat, minifloat_round


@dataclass(frozen=True)
class QConfig:
    """How one tensor is fake-quantized.

    ``mode``: ``"symmetric"`` (weights), ``"asymmetric"`` (activations) or
    ``"minifloat"`` (symmetric in scale, ExMy grid; ``fmt`` gives E and M).
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

    def __post_init__(self):
        if self.mode not in ("symmetric", "asymmetric", "minifloat"):
            raise ValueError(f"mode must be symmetric, asymmetric or minifloat, not {self.mode!r}")
        if self.mode == "minifloat" and self.fmt is None:
            raise ValueError("minifloat mode needs a format (fmt)")
        if self.mode != "minifloat" and not 2 <= self.bits <= 16:
            raise ValueError(f"bits must be between 2 and 16, not {self.bits}")
        if self.ste not in ("identity", "clipped"):
            raise ValueError(f"ste must be identity or clipped, not {self.ste!r}")


def _per_channel(values: np.ndarray, axis: int | None, ndim: int) -> np.ndarray:
    """Reshape per-channel values to broadcast against an ``ndim`` array along ``axis``."""
    if axis is None:
        return values.reshape(())
    shape = [1] * ndim
    shape[axis] = -1
    return values.reshape(shape)


def abs_max(x: np.ndarray, axis: int | None) -> np.ndarray:
    """``max|x|`` over everything, or per index along ``axis``: shape ``()`` or ``(C,)``."""
    if axis is None:
        return np.abs(x).max(initial=0.0)
    return np.abs(np.moveaxis(x, axis, 0)).reshape(x.shape[axis], -1).max(axis=1, initial=0.0)


def symmetric_scale(peak: np.ndarray, bits: int) -> np.ndarray:
    """``s = max|x| / (2^(b-1) - 1)``; a channel of zeros gets ``s = 1`` (any s is exact)."""
    peak = np.asarray(peak, np.float64)
    return np.where(peak > 0, peak / (2 ** (bits - 1) - 1), 1.0)


def asymmetric_params(lo: float, hi: float, bits: int) -> tuple[float, int]:
    """``(s, z)`` of the unsigned grid covering ``[min(lo, 0), max(hi, 0)]``."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if hi == lo:
        return 1.0, 0
    scale = (hi - lo) / (2 ** bits - 1)
    return scale, int(np.clip(np.round(-lo / scale), 0, 2 ** bits - 1))


def fake_quant_symmetric(x: np.ndarray, bits: int, axis: int | None = None,
                         scale: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric fake quantization; returns ``(x_hat, inside)``.

    ``inside`` marks the elements that were not clamped (for the clipped
    STE). ``scale`` defaults to the tensor's own ``max|x| / (2^(b-1) - 1)``.
    """
    s = symmetric_scale(abs_max(x, axis), bits) if scale is None else np.asarray(scale, np.float64)
    s = _per_channel(s, axis, x.ndim)
    qmin, qmax = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    q = np.round(x / s)  # (shape of x) float64, integer valued
    inside = (q >= qmin) & (q <= qmax)
    return (np.clip(q, qmin, qmax) * s).astype(x.dtype), inside


def fake_quant_asymmetric(x: np.ndarray, bits: int, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """Asymmetric unsigned fake quantization to ``[lo, hi]``; returns ``(x_hat, inside)``."""
    s, z = asymmetric_params(lo, hi, bits)
    q = np.round(x / s) + z
    inside = (q >= 0) & (q <= 2 ** bits - 1)
    return ((np.clip(q, 0, 2 ** bits - 1) - z) * s).astype(x.dtype), inside


def fake_quant_minifloat(x: np.ndarray, fmt: MinifloatFormat, axis: int | None = None,
                         peak: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Scale so that ``max|x|`` lands on the format's largest value, round to ExMy, scale back."""
    peak = abs_max(x, axis) if peak is None else np.asarray(peak, np.float64)
    s = _per_channel(np.where(peak > 0, peak / fmt.max_value, 1.0), axis, x.ndim)
    y = x / s
    inside = np.abs(y) <= fmt.max_value
    return (minifloat_round(y, fmt) * s).astype(x.dtype), inside


class FakeQuant:
    """A fake-quantization step with its straight-through backward; usable as a layer.

    For weights (``mode="symmetric"`` or ``"minifloat"``), the scale comes
    from the tensor itself at every call. For activations
    (``mode="asymmetric"``) it comes from the running range, updated from
    each training batch and frozen at inference. Before any batch has been
    seen the range is that of the first input.
    """

    params: dict = {}
    grads: dict = {}

    def __init__(self, config: QConfig):
        self.config = config
        self.lo: float | None = None  # running range (activations)
        self.hi: float | None = None
        self._inside = None

    def spec(self) -> dict:
        c = self.config
        return {"type": "fake_quant", "bits": c.bits, "mode": c.mode, "axis": c.axis,
                "lo": self.lo, "hi": self.hi}

    def output_shape(self, input_shape):
        return input_shape

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
            y, self._inside = fake_quant_symmetric(x, c.bits, c.axis)
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

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """Straight-through: ``dy`` everywhere (identity) or where not clamped (clipped)."""
        if self.config.ste == "identity":
            return dy
        return dy * self._inside
