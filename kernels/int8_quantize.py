"""Numba kernels: TFLite's fixed-point rescaling helpers and QUANTIZE/DEQUANTIZE.

Scalar twins of :mod:`tinykws.int8.quantize_multiplier` (see there for which
TFLite/gemmlowp helper each mirrors and how it rounds) that the other int8
kernels call in their inner loops, plus the element-wise quantize ops of
:mod:`tinykws.int8.quantize` (same names and arguments as the references
there). All arithmetic is on int64 holding int32 values;
C's truncating division and int32 wrap-around are written out explicitly.
"""

from __future__ import annotations

import numpy as np
from numba import njit

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


@njit(cache=True, inline="always")
def wrap_int32(x):
    """Two's-complement wrap of an int64 to the int32 range."""
    return ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


@njit(cache=True, inline="always")
def saturating_rounding_doubling_high_mul(a, b):
    """gemmlowp ``SaturatingRoundingDoublingHighMul``: a * b / 2**31 rounded, ties toward +inf."""
    if a == b and a == INT32_MIN:
        return np.int64(INT32_MAX)
    ab = np.int64(a) * np.int64(b)
    total = ab + ((1 << 30) if ab >= 0 else (1 - (1 << 30)))
    if total >= 0:
        return total >> 31
    return -((-total) >> 31)  # C division truncates toward zero


@njit(cache=True, inline="always")
def rounding_divide_by_pot(x, exponent):
    """gemmlowp ``RoundingDivideByPOT``: x / 2**exponent, ties away from zero."""
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


@njit(cache=True, inline="always")
def multiply_by_quantized_multiplier(x, quantized_multiplier, shift):
    """TFLite double-rounding ``MultiplyByQuantizedMultiplier(int32, int32, int)``."""
    left_shift = shift if shift > 0 else 0
    right_shift = -shift if shift < 0 else 0
    shifted = wrap_int32(np.int64(x) << left_shift)
    return rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(shifted, quantized_multiplier), right_shift)


@njit(cache=True, inline="always")
def multiply_by_quantized_multiplier_right(x, quantized_multiplier, right_shift):
    """:func:`multiply_by_quantized_multiplier` for ``shift = -right_shift <= 0`` and a
    multiplier >= 0 (every TFLite multiplier is), written without branches for vector loops.

    ``x`` is wrapped to int32 as TFLM's int32 sum would be; ``ab = x * M`` then
    cannot be ``INT32_MIN**2``, so the saturation case is gone. Both of the
    doubling high multiply's cases are one floor division: for ``ab >= 0`` it
    is ``(ab + 2**30) / 2**31`` truncated, a floor; for ``ab < 0`` the
    truncation of the negative ``(ab + 1 - 2**30) / 2**31`` is its ceiling,
    ``floor((ab + 1 - 2**30 + 2**31 - 1) / 2**31)``, the same expression. So
    ``high = (ab + 2**30) >> 31``. gemmlowp's rounding division by ``2**e``
    (ties away from zero) is likewise ``(high + 2**(e-1)) >> e`` for
    ``high >= 0`` and one less inside for ``high < 0``. Equal to the general
    helper for every int32 ``x`` (tests/test_int8_quantize_multiplier.py).
    """
    high = (wrap_int32(x) * quantized_multiplier + (1 << 30)) >> 31
    half = (np.int64(1) << right_shift) >> 1  # 2**(e-1), or 0 for e = 0
    negative = 1 if (high < 0 and right_shift > 0) else 0
    return (high + half - negative) >> right_shift


@njit(cache=True)
def affine_quantize(input_data, scale, zero_point):
    """float32 -> int8, ``round(x / float32(scale)) + zero_point`` (ties away from 0).

    input_data : any shape float32. Returns the same shape int8.
    """
    x = input_data.ravel()
    scale32 = np.float32(scale)
    out = np.empty(x.size, np.int8)  # (n,) int8
    for i in range(x.size):
        ratio = np.float64(np.float32(np.float32(x[i]) / scale32))  # the float32 quotient
        r = np.floor(abs(ratio) + 0.5)
        r = min(r, 2.0 ** 31 - 1)
        q = np.int64(r) * (1 if ratio >= 0 else -1) + zero_point
        out[i] = min(max(q, -128), 127)
    return out.reshape(input_data.shape)


@njit(cache=True)
def dequantize(input_data, scale, zero_point):
    """int8 -> float32, ``float(double(scale) * (q - zero_point))``. Same shape."""
    q = input_data.ravel()
    scale64 = np.float64(np.float32(scale))
    out = np.empty(q.size, np.float32)  # (n,) float32
    for i in range(q.size):
        out[i] = np.float32(scale64 * np.float64(np.int64(q[i]) - zero_point))
    return out.reshape(input_data.shape)


@njit(cache=True)
def requantize(input_data, input_zero_point, output_zero_point, effective_scale_multiplier,
               effective_scale_shift):
    """int8 -> int8 with a new scale (``reference_ops::Requantize``). Same shape."""
    q = input_data.ravel()
    out = np.empty(q.size, np.int8)  # (n,) int8
    for i in range(q.size):
        acc = multiply_by_quantized_multiplier(np.int64(q[i]) - input_zero_point,
                                               effective_scale_multiplier,
                                               effective_scale_shift) + output_zero_point
        out[i] = min(max(acc, -128), 127)
    return out.reshape(input_data.shape)
