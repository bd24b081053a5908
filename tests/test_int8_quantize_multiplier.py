"""TFLite's fixed-point helpers against hand-computed values and exact arithmetic."""

from __future__ import annotations

import math
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from kernels import int8_quantize as nb
from tinykws.int8.quantize_multiplier import (
    INT32_MAX, INT32_MIN, activation_range, fc_per_tensor_multiplier,
    multiply_by_quantized_multiplier, quantize_multiplier, rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul)

int32s = st.integers(INT32_MIN, INT32_MAX)


def round_half_away(q: Fraction) -> int:
    """Exact rational rounding, ties away from zero."""
    sign = -1 if q < 0 else 1
    return sign * int(abs(q) + Fraction(1, 2))


def round_half_up(q: Fraction) -> int:
    """Exact rational rounding, ties toward +infinity."""
    return math.floor(q + Fraction(1, 2))


def test_quantize_multiplier_hand_values():
    assert quantize_multiplier(0.5) == (1 << 30, 0)  # 0.5 = 0.5 * 2**0
    assert quantize_multiplier(1.0) == (1 << 30, 1)  # 1 = 0.5 * 2**1
    assert quantize_multiplier(0.75) == (3 << 29, 0)
    assert quantize_multiplier(0.0) == (0, 0)
    assert quantize_multiplier(2.0 ** -40) == (0, 0)  # shift below -31 flushes to zero
    # A mantissa within half an ulp of 1 rounds up to 2**31 and is renormalised.
    assert quantize_multiplier(1.0 - 2.0 ** -33) == (1 << 30, 1)


@given(st.floats(2.0 ** -30, 2.0 ** 20))
def test_quantize_multiplier_reconstructs_value(real):
    multiplier, shift = quantize_multiplier(real)
    assert (1 << 30) <= multiplier < (1 << 31)
    approx = multiplier * 2.0 ** (shift - 31)
    assert abs(approx - real) <= real * 2.0 ** -31


def test_srdhm_hand_values():
    assert saturating_rounding_doubling_high_mul(INT32_MIN, INT32_MIN) == INT32_MAX
    assert saturating_rounding_doubling_high_mul(1 << 30, 1 << 30) == 1 << 29
    # 3 * 2**30 / 2**31 = 1.5 -> 2 but -1.5 -> -1: the nudge plus C's truncating
    # division round ties toward +infinity, like ARM's VQRDMULH.
    assert saturating_rounding_doubling_high_mul(3, 1 << 30) == 2
    assert saturating_rounding_doubling_high_mul(-3, 1 << 30) == -1
    assert saturating_rounding_doubling_high_mul(-5, 1 << 30) == -2  # -2.5 -> -2


@given(int32s, int32s)
def test_srdhm_is_exact_rounding_of_product(a, b):
    got = int(saturating_rounding_doubling_high_mul(a, b))
    if a == b == INT32_MIN:
        assert got == INT32_MAX
    else:
        assert got == round_half_up(Fraction(a * b, 1 << 31))
    assert int(nb.saturating_rounding_doubling_high_mul(a, b)) == got


def test_rounding_divide_by_pot_ties_away_from_zero():
    assert [int(rounding_divide_by_pot(v, 1)) for v in (5, -5, 3, -3, 4, -4)] == [
        3, -3, 2, -2, 2, -2]
    assert int(rounding_divide_by_pot(-1, 31)) == 0


@given(int32s, st.integers(0, 31))
def test_rounding_divide_by_pot_is_exact_rounding(x, exponent):
    got = int(rounding_divide_by_pot(x, exponent))
    assert got == round_half_away(Fraction(x, 1 << exponent))
    assert int(nb.rounding_divide_by_pot(x, exponent)) == got


@settings(max_examples=300)
@given(st.integers(-(1 << 24), 1 << 24), st.floats(2.0 ** -20, 2.0 ** 4))
def test_multiply_by_quantized_multiplier_within_one_of_exact(x, real):
    """Two roundings (half up, then half away): at most one unit from exact rounding."""
    multiplier, shift = quantize_multiplier(real)
    got = int(multiply_by_quantized_multiplier(x, multiplier, shift))
    exact = Fraction(x) * Fraction(multiplier) * Fraction(2) ** (shift - 31)
    assert abs(got - round_half_away(exact)) <= 1
    assert int(nb.multiply_by_quantized_multiplier(x, multiplier, shift)) == got


def test_double_rounding_differs_from_single_rounding_somewhere():
    """The double-rounding build's signature: x=1 with multiplier 0.5*2**-1 gives
    round(round(0.5) / 2) = round(1 / 2) = 1 rather than round(0.25) = 0."""
    assert int(multiply_by_quantized_multiplier(1, 1 << 30, -1)) == 1


def test_fc_per_tensor_multiplier_hand_value():
    # 0.5 * 0.25 / 0.5 = 0.25 = 0.5 * 2**-1 -> (2**30, -1)
    assert fc_per_tensor_multiplier(0.5, 0.25, 0.5) == (1 << 30, -1)


def test_activation_range_hand_values():
    assert activation_range("NONE", 0.1, 5) == (-128, 127)
    assert activation_range("RELU", 0.1, 5) == (5, 127)
    assert activation_range("RELU6", 0.1, -128) == (-128, -68)  # 6 / 0.1 = 60
    assert activation_range("RELU6", 0.01, 0) == (0, 127)  # 600 clamps to 127


@settings(max_examples=500)
@given(x=st.integers(-(1 << 33), 1 << 33), multiplier=st.integers(0, INT32_MAX),
       right_shift=st.integers(0, 31))
def test_branch_free_right_shift_form_equals_multiply_by_quantized_multiplier(x, multiplier,
                                                                            right_shift):
    # x beyond int32 too: both wrap it as TFLM's int32 sum does.
    expected = int(nb.multiply_by_quantized_multiplier(x, multiplier, -right_shift))
    assert int(nb.multiply_by_quantized_multiplier_right(x, multiplier, right_shift)) == expected
    assert expected == int(multiply_by_quantized_multiplier(x, multiplier, -right_shift))
