"""Numba kernel of int8 SOFTMAX; same bits as :mod:`tinykws.int8.softmax` (see there).

The gemmlowp fixed-point pieces (``exp_on_negative_values`` on Q5.26,
``one_over_one_plus_x_for_x_in_0_1``, ``GetReciprocal``) are written as
scalar functions on int64 values holding int32s, and the row loop follows
``reference_ops::Softmax`` in ``reference/softmax.h``: max, sum of exps,
reciprocal, then each output.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from kernels.int8_quantize import (
    INT32_MAX, INT32_MIN, rounding_divide_by_pot, saturating_rounding_doubling_high_mul as srdhm,
    wrap_int32)


@njit(cache=True, inline="always")
def _saturating_left_shift(x, exponent):
    """gemmlowp ``SaturatingRoundingMultiplyByPOT<exponent>``, exponent > 0, int32."""
    threshold = (np.int64(1) << (31 - exponent)) - 1
    if x > threshold:
        return np.int64(INT32_MAX)
    if x < -threshold:
        return np.int64(INT32_MIN)
    return x << exponent


@njit(cache=True)
def exp_on_negative_values(a):
    """exp(a) for Q5.26 ``a`` <= 0, as Q0.31 (gemmlowp)."""
    one_quarter = np.int64(1) << 24
    a_mod = (a & (one_quarter - 1)) - one_quarter  # a mod 1/4, minus 1/4: in [-1/4, 0)
    x = _saturating_left_shift(a_mod, 5) + (1 << 28)  # Q0.31, plus 1/8
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    x4_over_4 = rounding_divide_by_pot(x4, 2)
    poly = rounding_divide_by_pot(
        wrap_int32(srdhm(wrap_int32(x4_over_4 + x3), 715827883) + x2), 1)
    result = wrap_int32(1895147668 + srdhm(1895147668, wrap_int32(x + poly)))
    remainder = wrap_int32(a_mod - a)
    if remainder & (1 << 24):
        result = srdhm(result, 1672461947)  # exp(-1/4)
    if remainder & (1 << 25):
        result = srdhm(result, 1302514674)  # exp(-1/2)
    if remainder & (1 << 26):
        result = srdhm(result, 790015084)  # exp(-1)
    if remainder & (1 << 27):
        result = srdhm(result, 290630308)  # exp(-2)
    if remainder & (1 << 28):
        result = srdhm(result, 39332535)  # exp(-4)
    if remainder & (1 << 29):
        result = srdhm(result, 720401)  # exp(-8)
    if remainder & (1 << 30):
        result = srdhm(result, 242)  # exp(-16)
    if a == 0:
        return np.int64(INT32_MAX)
    return result


@njit(cache=True)
def get_reciprocal(x, x_integer_digits):
    """``GetReciprocal``: (Q0.31 reciprocal of the normalised x, num_bits_over_unit)."""
    ux = x & 0xFFFFFFFF
    headroom_plus_one = 32
    while headroom_plus_one > 0 and (ux >> (32 - headroom_plus_one)) != 0:
        headroom_plus_one -= 1  # count leading zeros of the uint32
    num_bits_over_unit = x_integer_digits - headroom_plus_one
    a = wrap_int32(((ux << headroom_plus_one) & 0xFFFFFFFF) - (np.int64(1) << 31))
    # one_over_one_plus_x_for_x_in_0_1(a)
    total = a + INT32_MAX
    total += 1 if total >= 0 else -1
    half_denominator = total // 2 if total >= 0 else -((-total) // 2)
    z = wrap_int32(1515870810 + srdhm(half_denominator, -1010580540))  # Q2.29
    for _ in range(3):
        one_minus = wrap_int32((1 << 29) - srdhm(half_denominator, z))
        z = wrap_int32(z + _saturating_left_shift(srdhm(z, one_minus), 2))
    return _saturating_left_shift(z, 1), num_bits_over_unit


@njit(cache=True)
def softmax(input_data, input_multiplier, input_left_shift, diff_min):
    """input_data : (..., depth) int8, C-contiguous. Returns the same shape, int8
    (scale 1/256, zero point -128). Arguments as :func:`tinykws.int8.softmax.softmax`.
    """
    depth = input_data.shape[-1]
    rows = input_data.reshape(-1, depth)  # (outer_size, depth) int8
    outer_size = rows.shape[0]
    out = np.empty((outer_size, depth), np.int8)
    exps = np.empty(depth, np.int64)  # (depth,) Q0.31 exp of each scaled difference
    for i in range(outer_size):
        max_in_row = np.int64(-128)
        for c in range(depth):
            max_in_row = max(max_in_row, np.int64(rows[i, c]))
        sum_of_exps = np.int64(0)  # Q12.19
        for c in range(depth):
            input_diff = np.int64(rows[i, c]) - max_in_row
            if input_diff >= diff_min:
                rescaled = srdhm(wrap_int32(input_diff << input_left_shift), input_multiplier)
                exps[c] = exp_on_negative_values(rescaled)
                sum_of_exps = wrap_int32(sum_of_exps + rounding_divide_by_pot(exps[c], 12))
        shifted_scale, num_bits_over_unit = get_reciprocal(sum_of_exps, 12)
        exponent = num_bits_over_unit + 31 - 8
        for c in range(depth):
            input_diff = np.int64(rows[i, c]) - max_in_row
            if input_diff >= diff_min:
                unsat = rounding_divide_by_pot(srdhm(shifted_scale, exps[c]), exponent)
                out[i, c] = min(max(unsat - 128, -128), 127)
            else:
                out[i, c] = -128
    return out.reshape(input_data.shape)
