"""Int8 SOFTMAX exactly as TFLM: gemmlowp fixed-point exp, no lookup table.

tflite-micro's ``micro/kernels/softmax.cc`` runs int8 -> int8 softmax through
the templated ``reference_ops::Softmax`` of ``reference/softmax.h`` (the
int16 LUT path is only for int16 inputs). Preparation
(``softmax_common.cc``, ``quantization_util.cc``):

- the output must be scale 1/256, zero point -128;
- ``PreprocessSoftmaxScaling(beta, input_scale, kScaledDiffIntegerBits=5)``:
  ``real = min(beta * input_scale * 2**26, 2**31 - 1)`` (beta and scale are
  the file's float32 values widened to double), turned into
  ``(input_multiplier, input_left_shift)`` by ``QuantizeMultiplierGreaterThanOne``;
- ``diff_min = -floor(31 * 2**26 / 2**input_left_shift)``
  (``CalculateInputRadius(5, input_left_shift, 31)``): differences below it
  contribute exp = 0.

Per row (``x`` int8, ``max`` its maximum), with ``diff = x - max <= 0``:

1. ``scaled = MultiplyByQuantizedMultiplierGreaterThanOne(diff, ...)``, read
   as a Q5.26 fixed-point number (5 integer bits);
2. ``e = exp_on_negative_values(scaled)`` in Q0.31 (gemmlowp: a Taylor
   polynomial on [-1/4, 0) times a barrel of exp(-2**k) constants);
3. ``sum`` of ``Rescale<12>(e)`` (Q12.19) over the row;
4. ``GetReciprocal(sum, 12)`` -> ``1/sum`` in Q0.31 via Newton-Raphson
   (``one_over_one_plus_x_for_x_in_0_1``) and ``num_bits_over_unit``;
5. ``out = RoundingDivideByPOT(SRDHM(recip, e), num_bits_over_unit + 23) - 128``,
   clamped to int8; ``-128`` where ``diff < diff_min``.

Every gemmlowp helper is spelled out below on int64 arrays holding int32 values.
The op's layout is that of every op of :mod:`tinykws.int8.runtime`:
:class:`SoftmaxParams` from :func:`prepare`, the reference :func:`softmax`
and its Numba twin :func:`kernels.int8_softmax.softmax`, same arguments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinykws.errors import TinyKWSError
from tinykws.int8 import kernel_util
from tinykws.int8.quantize_multiplier import (
    INT32_MAX, INT32_MIN, multiply_by_quantized_multiplier_greater_than_one,
    quantize_multiplier, rounding_divide_by_pot, saturating_rounding_doubling_high_mul as srdhm,
    wrap_int32)
from tinykws.tflite.model import Graph, Operator

SCALED_DIFF_INTEGER_BITS = 5  # kScaledDiffIntegerBits: exp input is Q5.26
ACCUMULATION_INTEGER_BITS = 12  # kAccumulationIntegerBits: the sum is Q12.19


def softmax_params(input_scale: float, beta: float = 1.0) -> tuple[int, int, int]:
    """(input_multiplier, input_left_shift, diff_min) as TFLM's ``SoftmaxPrepare``."""
    real = float(np.float32(beta)) * float(np.float32(input_scale)) * (
        1 << (31 - SCALED_DIFF_INTEGER_BITS))
    real = min(real, (1 << 31) - 1.0)
    if not real > 1.0:  # QuantizeMultiplierGreaterThanOne's TFLITE_CHECK_GT
        raise ValueError(f"softmax input scale {input_scale} (beta {beta}) too small for "
                         "TFLite's fixed-point softmax (needs beta * scale > 2**-26)")
    multiplier, left_shift = quantize_multiplier(real)
    radius = (((1 << SCALED_DIFF_INTEGER_BITS) - 1) * (1 << (31 - SCALED_DIFF_INTEGER_BITS))
              / (1 << left_shift))
    return multiplier, left_shift, -int(np.floor(radius))


@dataclass(frozen=True)
class SoftmaxParams:
    """The int8 fields of TFLM's ``SoftmaxParams`` (beta is folded into the multiplier)."""

    input_multiplier: int
    input_left_shift: int
    diff_min: int


def prepare(graph: Graph, op: Operator) -> SoftmaxParams:
    """:class:`SoftmaxParams` of an int8 SOFTMAX, as TFLM's ``SoftmaxPrepare``."""
    kernel_util.require_int8(graph, op, (op.inputs[0], op.outputs[0]))
    kernel_util.check_same_size(graph, op)
    in_scale, _ = kernel_util.single_quantization(graph, op.inputs[0])
    out_scale, out_zp = kernel_util.single_quantization(graph, op.outputs[0])
    if out_zp != -128 or np.float32(out_scale) != np.float32(1 / 256):
        raise TinyKWSError("int8 SOFTMAX output must have scale 1/256 and zero point -128 "
                           f"(TFLM requires it), got {out_scale} and {out_zp}")
    return SoftmaxParams(*softmax_params(in_scale, op.options.get("beta", 1.0)))


def _saturating_left_shift(x, exponent: int):
    """gemmlowp ``SaturatingRoundingMultiplyByPOT<exponent>`` for exponent > 0 (int32)."""
    threshold = (1 << (31 - exponent)) - 1
    return np.where(x > threshold, INT32_MAX,
                    np.where(x < -threshold, INT32_MIN, x << exponent))


def _rounding_half_sum(a, b):
    """gemmlowp ``RoundingHalfSum`` (int32): ``(a + b + sign) / 2``, C division."""
    total = a + b
    total = total + np.where(total >= 0, 1, -1)
    return np.where(total >= 0, total // 2, -((-total) // 2))


def exp_on_negative_values(a):
    """gemmlowp ``exp_on_negative_values`` for Q5.26 input ``a`` <= 0; Q0.31 output."""
    fractional_bits = 31 - SCALED_DIFF_INTEGER_BITS  # 26
    one_quarter = 1 << (fractional_bits - 2)
    a_mod_quarter_minus_one_quarter = (a & (one_quarter - 1)) - one_quarter  # in [-1/4, 0)
    # Rescale<0> from Q5.26 to Q0.31: a saturating left shift by 5.
    x = _saturating_left_shift(a_mod_quarter_minus_one_quarter, SCALED_DIFF_INTEGER_BITS)
    result = _exp_on_interval_between_negative_one_quarter_and_0_excl(x)
    remainder = wrap_int32(a_mod_quarter_minus_one_quarter - a)
    # Barrel shifter: for each bit 2**k (k = -2..4) of the remainder, multiply
    # by exp(-2**k) in Q0.31.
    barrel = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308),
              (2, 39332535), (3, 720401), (4, 242))
    for exponent, multiplier in barrel:
        bit = remainder & (1 << (fractional_bits + exponent))
        result = np.where(bit != 0, srdhm(result, multiplier), result)
    # (The clamp to 0 below -32 only exists for more than 5 integer bits.)
    return np.where(a == 0, INT32_MAX, result)


def _exp_on_interval_between_negative_one_quarter_and_0_excl(a):
    """gemmlowp: exp(a) for Q0.31 ``a`` in [-1/4, 0), Taylor series around -1/8."""
    constant_term = 1895147668  # exp(-1/8) in Q0.31
    constant_1_over_3 = 715827883  # 1/3 in Q0.31
    x = a + (1 << 28)  # a + 1/8
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    x4_over_4 = rounding_divide_by_pot(x4, 2)
    x4_over_24_plus_x3_over_6_plus_x2_over_2 = rounding_divide_by_pot(
        wrap_int32(srdhm(wrap_int32(x4_over_4 + x3), constant_1_over_3) + x2), 1)
    return wrap_int32(constant_term + srdhm(
        constant_term, wrap_int32(x + x4_over_24_plus_x3_over_6_plus_x2_over_2)))


def _one_over_one_plus_x_for_x_in_0_1(a):
    """gemmlowp: 1 / (1 + a) for Q0.31 ``a`` in [0, 1), by three Newton-Raphson steps."""
    half_denominator = _rounding_half_sum(a, INT32_MAX)  # (1 + a) / 2, Q0.31
    constant_48_over_17 = 1515870810  # Q2.29
    constant_neg_32_over_17 = -1010580540  # Q2.29
    x = wrap_int32(constant_48_over_17 + srdhm(half_denominator, constant_neg_32_over_17))
    one_q2 = 1 << 29
    for _ in range(3):
        half_denominator_times_x = srdhm(half_denominator, x)  # Q2.29
        one_minus = wrap_int32(one_q2 - half_denominator_times_x)
        x = wrap_int32(x + _saturating_left_shift(srdhm(x, one_minus), 2))  # Q4 -> Q2
    # ExactMulByPot<-1> (Q2 -> Q1 on the same raw), then Rescale<0>: shift left by 1.
    return _saturating_left_shift(x, 1)


def get_reciprocal(x, x_integer_digits: int):
    """TFLite ``GetReciprocal``: (1/x as Q0.31 of the normalised x, num_bits_over_unit)."""
    x = np.asarray(x, dtype=np.int64)
    ux = x & 0xFFFFFFFF
    # Leading zeros of the uint32 value (x > 0 here, so at least 1).
    headroom_plus_one = 32 - np.frexp(ux.astype(np.float64))[1]
    num_bits_over_unit = x_integer_digits - headroom_plus_one
    shifted_sum_minus_one = wrap_int32(((ux << headroom_plus_one) & 0xFFFFFFFF) - (1 << 31))
    return _one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one), num_bits_over_unit


def softmax(input_data: np.ndarray, input_multiplier: int, input_left_shift: int,
            diff_min: int) -> np.ndarray:
    """Int8 softmax over the last axis; output scale 1/256, zero point -128.

    input_data : (..., depth) int8. Returns the same shape, int8.
    """
    rows = input_data.reshape(-1, input_data.shape[-1]).astype(np.int64)  # (rows, depth) int64
    diff = rows - rows.max(axis=1, keepdims=True)  # (rows, depth) <= 0
    inside = diff >= diff_min
    scaled = multiply_by_quantized_multiplier_greater_than_one(
        np.where(inside, diff, 0), input_multiplier, input_left_shift)  # Q5.26
    exp = exp_on_negative_values(scaled)  # (rows, depth) Q0.31
    # Rescale<12>: Q0.31 -> Q12.19 is a rounding right shift by 12.
    contrib = rounding_divide_by_pot(exp, ACCUMULATION_INTEGER_BITS)
    sum_of_exps = wrap_int32(np.where(inside, contrib, 0).sum(axis=1, keepdims=True))
    shifted_scale, num_bits_over_unit = get_reciprocal(sum_of_exps, ACCUMULATION_INTEGER_BITS)
    exponent = num_bits_over_unit + 31 - 8
    unsat = rounding_divide_by_pot(srdhm(shifted_scale, exp), exponent)
    out = np.where(inside, np.clip(unsat - 128, -128, 127), -128)
    return out.astype(np.int8).reshape(input_data.shape)
