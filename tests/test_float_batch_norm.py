"""Batch norm's training kernels (kernels.float_batch_norm) equal the NumPy reference.

Forward ``y``, the moved statistics, ``dx``, ``dgamma`` and ``dbeta`` in training
mode, :class:`BatchNorm` with its Numba kernels against ``numba=False``, to float32
rounding. The finite-difference check of the layer is in ``test_nn_zoo_layers.py``.
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tinykws.nn.batch_norm import BatchNorm
from tinykws.nn.layers import ReLU
from tinykws.nn.model import Sequential


def _training_pass(layer, x, gamma, beta, dy, need_input_grad, relu=False):
    """The kernels with ``relu`` fused, or the reference followed by the ReLU layer."""
    layer.params["gamma"][...], layer.params["beta"][...] = gamma, beta
    if relu and not layer.numba:
        after = ReLU()
        y = after.forward(layer.forward(x, training=True))
        dx = layer.backward(after.backward(dy), need_input_grad)
    else:
        y = layer.forward(x, training=True, relu=relu)
        dx = layer.backward(dy, need_input_grad)
    return y, dx, layer.grads["gamma"], layer.grads["beta"], *layer.state.values()


@settings(max_examples=40, deadline=None)
@given(shape=st.sampled_from([(2, 3), (7, 1), (3, 4, 5, 6), (1, 2, 3, 64), (5, 25, 5, 8)]),
       offset=st.sampled_from([0.0, 3.0, -100.0]), need_input_grad=st.booleans(),
       relu=st.booleans(), seed=st.integers(0, 2**16))
def test_batch_norm_kernels_equal_the_numpy_reference(shape, offset, need_input_grad, relu,
                                                      seed):
    rng = np.random.default_rng(seed)
    c = shape[-1]
    x = (offset + rng.uniform(0.5, 3) * rng.normal(0, 1, shape)).astype(np.float32)
    dy = rng.normal(0, 1, shape).astype(np.float32)
    gamma, beta = rng.normal(1, 0.3, c), rng.normal(0, 0.3, c)
    if relu:  # at the ReLU's kink either side is right: no gradient where y is about 0
        probe = BatchNorm(c, momentum=0.9, numba=False)
        probe.params["gamma"][...], probe.params["beta"][...] = gamma, beta
        dy[np.abs(probe.forward(x, training=True)) < 1e-3] = 0
    fast, reference = (_training_pass(BatchNorm(c, momentum=0.9, numba=numba), x, gamma, beta,
                                      dy, need_input_grad, relu) for numba in (True, False))
    # x^ carries float32's rounding of x (about |offset| * 6e-8 / std per value, differing
    # between the two since their means differ in the last bits); dgamma sums m such values.
    m = x.size // c
    for i, (got, expected) in enumerate(zip(fast, reference)):  # y, dx, dgamma, dbeta, moving
        if expected is None:
            assert got is None and not need_input_grad
            continue
        assert got.dtype == expected.dtype == np.float32 and got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=2e-4,
                                   atol=1e-4 * np.sqrt(m) if i in (2, 3) else 2e-4)


def test_batch_norm_kernel_keeps_the_variance_of_a_large_mean():
    """x = 1000 + noise of std 0.01: the two-pass variance still finds 1e-4."""
    rng = np.random.default_rng(0)
    x = (1000 + 0.01 * rng.normal(0, 1, (4000, 2))).astype(np.float32)
    layer = BatchNorm(2, momentum=0.0, epsilon=1e-12)
    layer.forward(x, training=True)
    np.testing.assert_allclose(layer.state["moving_variance"],
                               x.astype(np.float64).var(axis=0), rtol=1e-3)


def test_sequential_fuses_a_batch_norm_and_relu_in_training_only():
    """The fused pair gives the two layers' forward and gradients; inference runs them apart."""
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, (6, 3, 2, 4)).astype(np.float32)
    dy = rng.normal(0, 1, x.shape).astype(np.float32)
    bn, relu = BatchNorm(4), ReLU()
    model = Sequential([BatchNorm(4), ReLU(), BatchNorm(4)], x.shape[1:])  # the last: no ReLU
    y = model.forward(x, training=True)
    assert model._fused == {0}
    model.backward(dy)
    y_apart = model.layers[2].forward(relu.forward(bn.forward(x, training=True)), training=True)
    np.testing.assert_allclose(y, y_apart, rtol=1e-6, atol=1e-6)
    model.forward(x)
    assert model._fused == set()
