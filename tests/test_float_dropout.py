"""kernels.float_dropout: the one-pass kernels equal their NumPy reference, and keep at the rate."""

import numpy as np
from hypothesis import given, settings, strategies as st

from kernels.float_dropout import (dropout_backward, dropout_backward_reference, dropout_forward,
                                   dropout_forward_reference, keep_threshold)


@settings(max_examples=40, deadline=None)
@given(size=st.integers(1, 300), keep=st.floats(0.05, 1.0), seed=st.integers(0, 2**16),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_dropout_kernels_equal_the_numpy_reference(size, keep, seed, dtype):
    rng = np.random.default_rng(seed)
    x, dy = (rng.normal(0, 1, size).astype(dtype) for _ in range(2))
    bits = rng.integers(0, 2**32, size, dtype=np.uint32)
    threshold = keep_threshold(keep)
    scale = np.asarray(1.0, dtype) / np.asarray(keep, dtype)
    y, kept = dropout_forward(x, bits, np.uint64(threshold), scale)
    y_ref, kept_ref = dropout_forward_reference(x, bits, threshold, scale)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(kept.astype(bool), kept_ref)
    np.testing.assert_array_equal(dropout_backward(dy, kept, scale),
                                  dropout_backward_reference(dy, kept_ref, scale))


def test_threshold_keeps_the_words_below_keep_times_two_to_the_32():
    assert keep_threshold(1.0) == 2**32  # every uint32 word is kept
    assert keep_threshold(0.5) == 2**31
    bits = np.array([0, 2**31 - 1, 2**31, 2**32 - 1], np.uint32)
    _, kept = dropout_forward(np.ones(4, np.float32), bits, np.uint64(2**31), np.float32(2))
    assert kept.tolist() == [1, 1, 0, 0]


def test_kept_fraction_is_the_keep_probability():
    rng = np.random.default_rng(0)
    bits = rng.bit_generator.random_raw(100_000).view(np.uint32)  # 200,000 words
    _, kept = dropout_forward(np.ones(bits.size, np.float32), bits,
                              np.uint64(keep_threshold(0.8)), np.float32(1.25))
    assert abs(kept.mean() - 0.8) < 0.005  # 5 standard deviations
