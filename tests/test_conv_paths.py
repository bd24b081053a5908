"""The depthwise, pixel and pointwise paths of Conv2D equal the im2col reference to float32 rounding.

Forward ``y``, input gradient ``dx``, weight and bias gradients of the kernels
of :mod:`kernels.float_conv_pixels` (a depthwise layer, ``groups ==
in_channels``, with any depth multiplier, and an ungrouped one with many
filters) and of the one-matrix-product 1x1 path, against the same layer with ``numba=False``
(im2col + BLAS), over kernel sizes, strides and both paddings. Their
finite-difference checks are in ``test_nn_gradients.py``; the stride-phase
path's comparison is there too.
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels.float_conv_pixels import conv2d_forward_pixels
from test_nn_gradients import _conv_pass
from tinykws.nn.conv import PIXEL_PATH_MIN_FILTERS, Conv2D


def _fast_and_reference(data, cin, cout, kernel, groups):
    sh, sw = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    padding = data.draw(st.sampled_from(["SAME", "VALID"]))
    h, w = data.draw(st.integers(kernel[0], 12)), data.draw(st.integers(kernel[1], 12))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    x = rng.normal(0, 1, (data.draw(st.integers(1, 3)), h, w, cin)).astype(np.float32)
    weight = rng.normal(0, 1, (cout, *kernel, cin // groups)).astype(np.float32)
    bias = rng.normal(0, 1, cout).astype(np.float32)
    layers = [Conv2D(cin, cout, kernel, (sh, sw), padding, groups, numba=numba)
              for numba in (True, False)]
    dy = rng.normal(0, 1, (x.shape[0], *layers[0].output_shape(x.shape[1:]))).astype(np.float32)
    passes = [_conv_pass(layer, x, weight, bias, dy) for layer in layers]
    return layers[0].path, passes


def _assert_close(fast, reference):
    for got, expected in zip(fast, reference):  # y, dx, dw, db
        assert got.dtype == expected.dtype == np.float32
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_depthwise_kernels_equal_the_im2col_reference(data):
    # (one channel would be an ungrouped layer: groups == 1)
    channels, multiplier = data.draw(st.integers(2, 9)), data.draw(st.sampled_from([1, 1, 2, 3]))
    kernel = (data.draw(st.integers(1, 5)), data.draw(st.integers(1, 5)))
    path, (fast, reference) = _fast_and_reference(data, channels, channels * multiplier, kernel,
                                                  groups=channels)
    assert path == "depthwise"
    _assert_close(fast, reference)


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_pointwise_product_equals_the_im2col_reference(data):
    cin, cout = data.draw(st.integers(1, 9)), data.draw(st.integers(1, 9))
    path, (fast, reference) = _fast_and_reference(data, cin, cout, (1, 1), groups=1)
    assert path == "pointwise"
    _assert_close(fast, reference)


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_pixel_kernels_equal_the_im2col_reference(data):
    cin = data.draw(st.integers(2, 3))  # one input channel takes im2col
    cout = PIXEL_PATH_MIN_FILTERS + data.draw(st.integers(0, 8))
    kernel = (data.draw(st.integers(1, 6)), data.draw(st.integers(2, 5)))
    path, (fast, reference) = _fast_and_reference(data, cin, cout, kernel, groups=1)
    assert path == "pixels"  # at most 12 x 12 outputs: few enough
    _assert_close(fast, reference)


def test_depthwise_forward_is_the_direct_sum_with_skipped_padding_taps():
    """One 3x3 SAME channel by hand: the corner output sums only its 4 taps inside the image."""
    x = np.arange(1, 13, dtype=np.float32).reshape(1, 3, 4, 1)  # rows 1..4, 5..8, 9..12
    weight = np.ones((3, 3, 1, 1), np.float32)
    y = conv2d_forward_pixels(x, weight, np.array([0.5], np.float32), 1, 1, 1, 1, 3, 4, True)
    assert y[0, 0, 0, 0] == 0.5 + 1 + 2 + 5 + 6
    assert y[0, 1, 1, 0] == 0.5 + sum(range(1, 4)) + sum(range(5, 8)) + sum(range(9, 12))
    assert y[0, 2, 3, 0] == 0.5 + 7 + 8 + 11 + 12


def test_ds_cnn_layers_take_the_im2col_depthwise_and_pointwise_paths():
    first = Conv2D(1, 64, (10, 4), (2, 2))
    first.forward(np.zeros((1, 49, 10, 1), np.float32))  # 25 x 5 outputs, one input channel
    assert first.path == "im2col"
    first = Conv2D(2, 64, (10, 4), (2, 2))
    first.forward(np.zeros((1, 49, 10, 2), np.float32))
    assert first.path == "pixels"
    first = Conv2D(1, 64, (10, 4), (2, 2), numba=True)
    first.forward(np.zeros((1, 49, 10, 1), np.float32))
    assert first.path == "pixels"
    first = Conv2D(1, 64, (10, 4), (2, 2))
    first.forward(np.zeros((1, 49, 80, 1), np.float32))  # 25 x 40 outputs: long rows
    assert first.path == "stride_phase"
    assert Conv2D(64, 64, (3, 3), groups=64).path == "depthwise"
    assert Conv2D(64, 64, (1, 1)).path == "pointwise"
    assert Conv2D(1, 8, (10, 8), (2, 2)).path == "stride_phase"
    assert Conv2D(4, 8, (3, 3), groups=2).path == "im2col"
    assert Conv2D(64, 64, (3, 3), groups=64, numba=False).path == "im2col"
