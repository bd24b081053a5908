"""kernels.float_relu: the one-pass kernels equal their NumPy reference."""

import numpy as np
from hypothesis import given, settings, strategies as st

from kernels.float_relu import (relu_backward, relu_backward_reference, relu_forward,
                                relu_forward_reference)


@settings(max_examples=40, deadline=None)
@given(size=st.integers(1, 300), zeros=st.integers(0, 5), seed=st.integers(0, 2**16),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_relu_kernels_equal_the_numpy_reference(size, zeros, seed, dtype):
    rng = np.random.default_rng(seed)
    x, dy = (rng.normal(0, 1, size).astype(dtype) for _ in range(2))
    x[rng.integers(0, size, zeros)] = 0  # the kink: no gradient passes
    y, keep = relu_forward(x)
    y_ref, keep_ref = relu_forward_reference(x)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(keep.astype(bool), keep_ref)
    np.testing.assert_array_equal(relu_backward(dy, keep), relu_backward_reference(dy, keep_ref))


def test_relu_passes_nan_forward_and_no_gradient_back():
    y, keep = relu_forward(np.array([np.nan, -1.0, 2.0], np.float32))
    assert np.isnan(y[0]) and y[1:].tolist() == [0.0, 2.0]
    assert keep.tolist() == [0, 0, 1]
