"""Int8 sums formed in float32: exact within the bound of kernels.exact_float32."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels.exact_float32 import FLOAT32_EXACT, MAX_ABS_PRODUCT, exact_in_float32


def test_the_bound_is_514_taps_of_int8_products():
    assert exact_in_float32(514)
    assert not exact_in_float32(515)
    assert 514 * MAX_ABS_PRODUCT <= FLOAT32_EXACT < 515 * MAX_ABS_PRODUCT


@settings(max_examples=200, deadline=None)
@given(taps=st.integers(1, 514), seed=st.integers(0, 2 ** 32 - 1), extreme=st.booleans())
def test_float32_sums_within_the_bound_equal_the_int_sums(taps, seed, extreme):
    rng = np.random.default_rng(seed)
    if extreme:  # all products near +-32640, one sign: the partial sums reach the bound
        weights = np.full(taps, -128)
        inputs = np.full(taps, -255) + rng.integers(0, 2, taps)  # odd and even products
    else:
        weights = rng.integers(-128, 128, taps)
        inputs = rng.integers(-255, 256, taps)
    exact = int(np.sum(weights * inputs))
    total = np.float32(0)
    for w, x in zip(weights.astype(np.float32), inputs.astype(np.float32)):
        total = np.float32(total + w * x)  # one rounding per step, as a vector lane does
    assert int(total) == exact

