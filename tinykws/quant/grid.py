"""Quantization grids: the one definition PTQ and fake quantization both use.

A grid maps a real value to an integer code and back, ``real = s (q - z)``.
Two kinds, as TFLite's int8 models use them (Jacob et al., 2018; TFLite's
quantization spec):

- **asymmetric** (activations): ``2^b`` codes, int8's lowest
  (``-128 .. -129 + 2^b``; all of int8 at 8 bits), covering
  ``[min(lo, 0), max(hi, 0)]``: ``s = (hi - lo) / (2^b - 1)``,
  ``z = round(-128 - lo / s)``, clamped to the codes. The range always
  includes 0, so 0 (ReLU's floor, the padding value) is exact; after a ReLU
  ``lo = 0`` and ``z = -128``. This is ``GetAsymmetricQuantizationParams``
  of TFLite's ``quantization_utils.cc``.
- **symmetric** (weights): ``z = 0``, one scale per tensor or per output
  channel, in one of two named variants of :data:`SYMMETRIC_GRIDS`:

  - ``"tflite"`` (the default, what TFLite's converter does):
    ``s = max|x| / (2^(b-1) - 1)``, codes ``-(2^(b-1) - 1) .. 2^(b-1) - 1``:
    -128 is never used, so the grid is symmetric about 0;
  - ``"full-range"`` (the assignment's tests): ``s = max(-min / 2^(b-1),
    max / (2^(b-1) - 1))``, codes ``-2^(b-1) .. 2^(b-1) - 1``: the extra
    negative code is used when the weights lean negative. At 2 bits, weights
    in ``[-2.2, 1.1]`` get ``s = 1.1`` and codes -2..1 (TFLite's: ``s = 2.2``,
    codes -1..1, so 1.1 has no code of its own).

Rounding is half away from zero, :func:`tflite_round` (TFLite's
``TfLiteRound``, i.e. ``std::round``), not NumPy's half to even. Scales are
float32, the value a ``.tflite`` file stores, so a fake-quantized tensor is
exactly what the integer model holds.
"""

from __future__ import annotations

import numpy as np

SYMMETRIC_GRIDS = ("tflite", "full-range")


def tflite_round(x: np.ndarray) -> np.ndarray:
    """Round half away from zero (``TfLiteRound`` / ``std::round``); float in, float out."""
    x = np.asarray(x, np.float64)
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def f32(x: float) -> float:
    """The float32 value a .tflite file will store, as a Python float."""
    return float(np.float32(x))


def check_grid(grid: str) -> None:
    """Refuse a symmetric grid name that is not one of :data:`SYMMETRIC_GRIDS`."""
    if grid not in SYMMETRIC_GRIDS:
        raise ValueError(f"grid must be one of {', '.join(SYMMETRIC_GRIDS)}, not {grid!r}")


# -- asymmetric: activations ------------------------------------------------------

def asymmetric_codes(bits: int) -> tuple[int, int]:
    """``(qmin, qmax)`` of a ``bits``-bit activation grid held in int8: ``(-128, -129 + 2^b)``."""
    return -128, -129 + 2 ** bits


def asymmetric_params(lo: float, hi: float, bits: int = 8) -> tuple[float, int]:
    """``(scale, zero_point)`` covering ``[min(lo, 0), max(hi, 0)]`` with ``2^bits`` int8 codes."""
    qmin, qmax = asymmetric_codes(bits)
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if hi == lo:
        return 1.0, qmin
    scale = f32((hi - lo) / (qmax - qmin))
    zero_point = int(np.clip(tflite_round(qmin - lo / scale), qmin, qmax))
    return scale, zero_point


# -- symmetric: weights -----------------------------------------------------------

def symmetric_codes(bits: int, grid: str = "tflite") -> tuple[int, int]:
    """``(qmin, qmax)`` of a symmetric ``bits``-bit grid."""
    qmax = 2 ** (bits - 1) - 1
    return (-qmax if grid == "tflite" else -qmax - 1), qmax


def channel_ranges(w: np.ndarray, axis: int | None) -> tuple[np.ndarray, np.ndarray]:
    """``(min, max)`` of ``w`` over everything (shape ``(1,)``) or per index along ``axis`` (``(C,)``)."""
    if axis is None:
        flat = np.asarray(w).reshape(1, -1)
    else:
        flat = np.moveaxis(np.asarray(w), axis, 0).reshape(w.shape[axis], -1)  # (C, rest)
    return flat.min(axis=1, initial=0.0), flat.max(axis=1, initial=0.0)


def symmetric_scales(lo: np.ndarray, hi: np.ndarray, bits: int, grid: str = "tflite") -> np.ndarray:
    """float32 scales (same shape as ``lo``) of the named symmetric grid for ranges ``[lo, hi]``.

    A channel of zeros gets ``s = 1`` (any scale represents it exactly).
    """
    check_grid(grid)
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    qmin, qmax = symmetric_codes(bits, grid)
    if grid == "tflite":
        scale = np.maximum(-lo, hi) / qmax  # max|x| / (2^(b-1) - 1)
    else:
        scale = np.maximum(lo / qmin, hi / qmax)  # max(-min / 2^(b-1), max / (2^(b-1) - 1))
    return np.where(scale > 0, scale, 1.0).astype(np.float32)


def per_channel(values: np.ndarray, axis: int | None, ndim: int) -> np.ndarray:
    """Reshape ``(C,)`` (or ``(1,)``) values to broadcast against an ``ndim`` array along ``axis``."""
    values = np.asarray(values)
    if axis is None:
        return values.reshape(())
    shape = [1] * ndim
    shape[axis] = -1
    return values.reshape(shape)


def symmetric_quantize(w: np.ndarray, scales: np.ndarray, axis: int | None, bits: int,
                       grid: str = "tflite") -> tuple[np.ndarray, np.ndarray]:
    """``(codes, inside)``: int64 codes of ``w`` on the grid, and where ``w`` was not clamped."""
    qmin, qmax = symmetric_codes(bits, grid)
    s = per_channel(scales, axis, np.ndim(w)).astype(np.float64)
    q = tflite_round(np.asarray(w, np.float64) / s)  # (shape of w), integer valued
    return np.clip(q, qmin, qmax).astype(np.int64), (q >= qmin) & (q <= qmax)


def symmetric_weights(w: np.ndarray, axis: int | None, bits: int = 8,
                      grid: str = "tflite") -> tuple[np.ndarray, np.ndarray]:
    """int8 codes of ``w`` and their float32 scales, per channel along ``axis`` or per tensor."""
    scales = symmetric_scales(*channel_ranges(w, axis), bits, grid)  # (C,) or (1,)
    codes, _ = symmetric_quantize(w, scales, axis, bits, grid)
    return codes.astype(np.int8), scales
