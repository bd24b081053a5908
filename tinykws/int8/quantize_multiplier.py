"""Fixed-point rescaling exactly as TFLite does it: multiplier, shift, rounding.

An int8 kernel accumulates in int32 and must multiply the accumulator by a
real factor ``M`` (e.g. input_scale * weight_scale / output_scale) without
floating point. TFLite writes ``M = m * 2**shift`` with ``m`` in [0.5, 1)
stored as the Q0.31 integer ``quantized_multiplier = round(m * 2**31)``, then
multiplies in two rounding steps. Each function here mirrors one helper:

- :func:`quantize_multiplier` — ``QuantizeMultiplier`` in
  ``tensorflow/lite/kernels/internal/quantization_util.cc`` (``std::frexp``,
  then ``TfLiteRound`` = ``std::round``: half away from zero; a mantissa that
  rounds up to 2**31 is halved and the shift bumped; shifts below -31 flush
  to zero).
- :func:`saturating_rounding_doubling_high_mul` — gemmlowp's
  ``SaturatingRoundingDoublingHighMul`` (ARM ``VQRDMULH``): ``(a*b + nudge) / 2**31``
  with C's truncating division and ``nudge = 2**30`` or ``1 - 2**30`` by sign.
  That works out to round half *up* (toward +infinity): 1.5 -> 2 but
  -1.5 -> -1. The one overflow case ``INT32_MIN * INT32_MIN`` saturates to
  ``INT32_MAX``.
- :func:`rounding_divide_by_pot` — gemmlowp's ``RoundingDivideByPOT``: an
  arithmetic right shift rounding half away from zero (not to even).
- :func:`multiply_by_quantized_multiplier` — TFLite's double-rounding
  ``MultiplyByQuantizedMultiplier`` (``common.cc``, the build without
  ``TFLITE_SINGLE_ROUNDING``, which is how the tflite-micro Python package is
  built): left-shift first for positive shifts, then the two steps above.

All functions take NumPy integer arrays (or scalars) and compute in int64,
wrapping to int32 where C would.
"""

from __future__ import annotations

import math

import numpy as np

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def tflite_round(x: float) -> float:
    """``TfLiteRound`` on a double: ``std::round``, half away from zero."""
    return math.copysign(math.floor(abs(x) + 0.5), x)


def quantize_multiplier(real_multiplier: float) -> tuple[int, int]:
    """``QuantizeMultiplier``: real factor -> (Q0.31 multiplier, shift).

    ``real_multiplier ~= multiplier * 2**(shift - 31)``; ``shift`` > 0 means
    a left shift. Zero (and anything below ~2**-32) becomes (0, 0).
    """
    if real_multiplier == 0.0:
        return 0, 0
    mantissa, shift = math.frexp(real_multiplier)  # mantissa in [0.5, 1)
    q_fixed = int(tflite_round(mantissa * (1 << 31)))
    if q_fixed == 1 << 31:  # mantissa rounded up to 1.0
        q_fixed //= 2
        shift += 1
    if shift < -31:  # every bit would be shifted out: flush to zero
        return 0, 0
    return q_fixed, shift


def wrap_int32(x):
    """Two's-complement wrap of int64 values to int32 range (what C's int32 does)."""
    x = np.asarray(x, dtype=np.int64)
    return ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def saturating_rounding_doubling_high_mul(a, b):
    """gemmlowp ``SaturatingRoundingDoublingHighMul(int32 a, int32 b)``.

    The int32 nearest ``a * b / 2**31``; ties toward +infinity (see module doc).
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    ab = a * b  # exact: |a*b| <= 2**62
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    total = ab + nudge
    # C integer division truncates toward zero (Python's >> floors).
    high = np.where(total >= 0, total >> 31, -((-total) >> 31))
    overflow = (a == b) & (a == INT32_MIN)
    return np.where(overflow, INT32_MAX, high)


def rounding_divide_by_pot(x, exponent):
    """gemmlowp ``RoundingDivideByPOT``: ``x / 2**exponent``, ties away from zero."""
    x = np.asarray(x, dtype=np.int64)
    exponent = np.asarray(exponent, dtype=np.int64)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def multiply_by_quantized_multiplier(x, quantized_multiplier, shift):
    """TFLite ``MultiplyByQuantizedMultiplier(int32 x, multiplier, shift)``, double rounding.

    ``x * quantized_multiplier * 2**(shift - 31)`` rounded as TFLite does:
    ``x << max(shift, 0)`` (wrapping in int32), the doubling high multiply,
    then a rounding right shift by ``max(-shift, 0)``.
    """
    shift = np.asarray(shift, dtype=np.int64)
    left_shift = np.maximum(shift, 0)
    right_shift = np.maximum(-shift, 0)
    shifted = wrap_int32(np.asarray(x, dtype=np.int64) << left_shift)
    return rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(shifted, quantized_multiplier), right_shift)


def multiply_by_quantized_multiplier_greater_than_one(x, quantized_multiplier, left_shift):
    """TFLite ``MultiplyByQuantizedMultiplierGreaterThanOne`` (double-rounding build).

    Used by softmax: ``SRDHM(x * 2**left_shift, multiplier)`` with no final shift.
    """
    shifted = wrap_int32(np.asarray(x, dtype=np.int64) << np.int64(left_shift))
    return saturating_rounding_doubling_high_mul(shifted, quantized_multiplier)


def quantize_multipliers(real_multipliers) -> tuple[np.ndarray, np.ndarray]:
    """:func:`quantize_multiplier` of each value: (multipliers int32, shifts int32)."""
    pairs = [quantize_multiplier(float(m)) for m in np.ravel(real_multipliers)]
    multipliers = np.array([p[0] for p in pairs], dtype=np.int32)
    shifts = np.array([p[1] for p in pairs], dtype=np.int32)
    return multipliers, shifts


def conv_output_multipliers(input_scale: float, filter_scales, output_scale: float,
                            n_channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (multiplier, shift) as TFLM's ``PopulateConvolutionQuantizationParams``.

    ``effective_scale = double(input_scale) * double(filter_scale) /
    double(output_scale)`` for each output channel, all operands being the
    float32 values from the file widened to double; a single filter scale is
    broadcast to every channel. Also used by per-channel FULLY_CONNECTED.
    """
    filter_scales = np.asarray(filter_scales, dtype=np.float32).astype(np.float64)
    if filter_scales.size == 1:
        filter_scales = np.repeat(filter_scales, n_channels)
    effective = (float(np.float32(input_scale)) * filter_scales
                 / float(np.float32(output_scale)))
    return quantize_multipliers(effective)


def fc_per_tensor_multiplier(input_scale: float, filter_scale: float,
                             output_scale: float) -> tuple[int, int]:
    """(multiplier, shift) of per-tensor FULLY_CONNECTED.

    TFLM's ``CalculateOpDataFullyConnected`` (``fully_connected_common.cc``)
    calls the five-argument ``GetQuantizedConvolutionMultipler`` of
    ``kernels/kernel_util.cc`` (the one taking the bias, even when it is
    null), which computes ``double(input_scale) * double(filter_scale) /
    double(output_scale)``, then :func:`quantize_multiplier`. Beware the
    four-argument overload beside it: it multiplies the two scales in float32
    first, which changes the multiplier's last bits and, rarely, an output;
    ``tests/test_int8_vs_tflm.py`` has an input that tells the two apart.
    """
    return quantize_multiplier(float(np.float32(input_scale)) * float(np.float32(filter_scale))
                               / float(np.float32(output_scale)))


def activation_range(activation: str, scale: float, zero_point: int,
                     qmin: int = -128, qmax: int = 127) -> tuple[int, int]:
    """(quantized_activation_min, quantized_activation_max) as ``CalculateActivationRangeQuantized``.

    The fused activation's real bounds (0 for RELU, 6 for RELU6, -1/1 for
    RELU_N1_TO_1) are quantized with the output's scale: ``round(f / scale)``
    in float32 (``TfLiteRound`` on a float), plus the zero point, then
    intersected with the type's range.
    """
    def quantize(f: float) -> int:
        return zero_point + int(tflite_round(float(np.float32(f) / np.float32(scale))))

    if activation == "NONE":
        return qmin, qmax
    if activation == "RELU":
        return max(qmin, quantize(0.0)), qmax
    if activation == "RELU6":
        return max(qmin, quantize(0.0)), min(qmax, quantize(6.0))
    if activation == "RELU_N1_TO_1":
        return max(qmin, quantize(-1.0)), min(qmax, quantize(1.0))
    raise ValueError(f"unknown fused activation {activation!r}")


def output_stage(acc, bias_data, output_multiplier, output_shift, output_offset: int,
                 quantized_activation_min: int, quantized_activation_max: int) -> np.ndarray:
    """TFLM's int8 epilogue: + bias, ``MultiplyByQuantizedMultiplier``, + output_offset, clamp.

    acc : (..., C_out) integer accumulators (last axis the output channel);
    bias_data : (C_out,) int32 or None; output_multiplier, output_shift :
    (C_out,) per channel or (1,) per tensor. Returns int8 of acc's shape.

    Accumulators: TFLM sums in int32. The NumPy references sum in int64 and
    the Numba kernels in int32; both give TFLM's bits, because
    :func:`multiply_by_quantized_multiplier` wraps its input to int32 first
    and a sum wrapped once at the end equals the sum wrapped at every step
    (arithmetic modulo 2**32). And with int8 operands a sum of up to 65,793
    taps cannot wrap at all (``|filter * (input + offset)| <= 128 * 255``).
    """
    acc = np.asarray(acc, np.int64)
    if bias_data is not None:
        acc = acc + np.asarray(bias_data, np.int64)
    acc = multiply_by_quantized_multiplier(acc, np.asarray(output_multiplier, np.int64),
                                           np.asarray(output_shift, np.int64))
    acc = acc + output_offset
    return np.clip(acc, quantized_activation_min, quantized_activation_max).astype(np.int8)
