"""kernels.float_channel_sums: the bias gradient's kernel equals the NumPy reference."""

import numpy as np
from hypothesis import given, settings, strategies as st

from kernels.float_channel_sums import channel_sums, channel_sums_reference


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 400), channels=st.integers(1, 70), seed=st.integers(0, 2**16),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_channel_sums_equal_the_numpy_reference(rows, channels, seed, dtype):
    dy = np.random.default_rng(seed).normal(0, 1, (rows, channels)).astype(dtype)
    got, expected = channel_sums(dy), channel_sums_reference(dy)
    assert got.dtype == expected.dtype == dtype and got.shape == (channels,)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * np.sqrt(rows))


def test_channel_sums_are_accumulated_in_float64():
    """2**24 + 2 ones: a float32 running sum stops at 2**24; a float64 one counts them all."""
    dy = np.ones((2**24 + 2, 1), np.float32)
    assert channel_sums(dy)[0] == np.float32(2**24 + 2)
