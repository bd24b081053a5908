"""The zoo's layers: batch norm, pooling, global mean, residual add.

Every backward pass agrees with central finite differences of its forward
pass (float64, through :func:`test_nn_gradients.check_layer`), over shapes,
windows, strides and paddings drawn by hypothesis; the forward passes agree
with direct loops and with what the layers promise (folded batch norm equals
conv then batch norm).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from test_nn_gradients import check_layer, numeric_grad
from tinykws.nn.batch_norm import BatchNorm, fold_into_conv
from tinykws.nn.conv import Conv2D
from tinykws.nn.pooling import AveragePool2D, GlobalAveragePool, MaxPool2D
from tinykws.nn.residual import Add
from tinykws.padding import compute_padding_height_width

seeds = st.integers(0, 2 ** 16)


@st.composite
def pool_cases(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    padding = draw(st.sampled_from(["SAME", "VALID"]))
    h, w = draw(st.integers(kh, 7)), draw(st.integers(kw, 7))
    shape = (draw(st.integers(1, 2)), h, w, draw(st.integers(1, 3)))
    return (kh, kw), (sh, sw), padding, shape, draw(seeds)


def direct_pool(x, pool, stride, padding, reduce):
    """The pooling as TFLite's reference loop writes it: the window clipped to the image."""
    n, h, w, c = x.shape
    pad, oh, ow = compute_padding_height_width(padding, *stride, 1, 1, h, w, *pool)
    y = np.zeros((n, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            y0, x0 = i * stride[0] - pad.height, j * stride[1] - pad.width
            window = x[:, max(y0, 0):min(y0 + pool[0], h), max(x0, 0):min(x0 + pool[1], w)]
            y[:, i, j] = reduce(window, axis=(1, 2))
    return y


@pytest.mark.parametrize("layer_class, reduce", [(MaxPool2D, np.max), (AveragePool2D, np.mean)])
@settings(max_examples=40)
@given(case=pool_cases())
def test_pooling_forward_matches_the_clipped_window_loop(layer_class, reduce, case):
    pool, stride, padding, shape, seed = case
    x = np.random.default_rng(seed).normal(0, 1, shape)
    layer = layer_class(pool, stride, padding)
    y = layer.forward(x)
    assert y.shape[1:] == layer.output_shape(shape[1:])
    np.testing.assert_allclose(y, direct_pool(x, pool, stride, padding, reduce), rtol=1e-12)


@pytest.mark.parametrize("layer_class", [MaxPool2D, AveragePool2D])
@settings(max_examples=40)
@given(case=pool_cases())
def test_pooling_backward_matches_finite_differences(layer_class, case):
    pool, stride, padding, shape, seed = case
    rng = np.random.default_rng(seed)
    # Distinct values far apart (> 2h): no maximum changes within a finite-difference step.
    x = rng.permutation(np.prod(shape)).reshape(shape) * 0.01 + rng.normal(0, 1e-4, shape)
    check_layer(layer_class(pool, stride, padding), x, rng)


@settings(max_examples=40)
@given(kh=st.integers(1, 4), kw=st.integers(1, 4), extra_h=st.integers(0, 5),
       extra_w=st.integers(0, 5), seed=seeds)
def test_average_pool_tiling_windows_match_the_loop_and_finite_differences(kh, kw, extra_h,
                                                                          extra_w, seed):
    """stride = pool, VALID (DS-CNN's pool): the reshaped-sum path, leftover rows ignored."""
    shape = (2, kh + extra_h, kw + extra_w, 2)
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, shape)
    layer = AveragePool2D((kh, kw))
    assert layer._tiles(shape)
    np.testing.assert_allclose(layer.forward(x), direct_pool(x, (kh, kw), (kh, kw), "VALID",
                                                             np.mean), rtol=1e-12)
    check_layer(layer, x, rng)


def test_average_pool_same_padding_divides_by_the_pixels_inside():
    x = np.arange(1, 10, dtype=np.float64).reshape(1, 3, 3, 1)
    y = AveragePool2D((2, 2), (2, 2), "SAME").forward(x)  # windows: 2x2, 2x1, 1x2, 1x1
    assert y[0, ..., 0].tolist() == [[3.0, 4.5], [7.5, 9.0]]


def test_max_pool_gradient_goes_to_the_first_of_tied_maxima():
    layer = MaxPool2D((1, 3), (1, 3))
    layer.forward(np.array([[[[5.0], [7.0], [7.0]]]]))
    assert layer.backward(np.ones((1, 1, 1, 1))).ravel().tolist() == [0.0, 1.0, 0.0]


@settings(max_examples=20)
@given(n=st.integers(1, 3), h=st.integers(1, 5), w=st.integers(1, 5), c=st.integers(1, 4),
       keep_dims=st.booleans(), seed=seeds)
def test_global_average_pool_is_the_mean_over_h_and_w_with_its_gradient(n, h, w, c, keep_dims,
                                                                       seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (n, h, w, c))
    layer = GlobalAveragePool(keep_dims)
    y = layer.forward(x)
    assert y.shape == (n, *layer.output_shape((h, w, c)))
    np.testing.assert_allclose(y.reshape(n, c), x.reshape(n, h * w, c).mean(axis=1))
    check_layer(layer, x, rng)


@st.composite
def broadcast_pairs(draw):
    """Two shapes NumPy broadcasts together, one maybe with fewer axes or size-1 axes."""
    full = tuple(draw(st.integers(1, 3)) for _ in range(draw(st.integers(1, 4))))
    shapes = []
    for _ in range(2):
        ndim = draw(st.integers(1, len(full)))
        shapes.append(tuple(1 if draw(st.booleans()) else d for d in full[len(full) - ndim:]))
    return shapes, draw(seeds)


@settings(max_examples=40)
@given(case=broadcast_pairs())
def test_broadcasting_add_gradients_match_finite_differences(case):
    (a_shape, b_shape), seed = case
    rng = np.random.default_rng(seed)
    a, b = rng.normal(0, 1, a_shape), rng.normal(0, 1, b_shape)
    layer = Add()
    y = layer.forward(a, b)
    assert y.shape == layer.output_shape(a_shape, b_shape)
    r = rng.normal(0, 1, y.shape)
    da, db = layer.backward(r)
    loss = lambda: float((layer.forward(a, b) * r).sum())  # noqa: E731
    assert da.shape == a_shape and db.shape == b_shape
    np.testing.assert_allclose(da, numeric_grad(loss, a), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(db, numeric_grad(loss, b), rtol=1e-6, atol=1e-8)


@st.composite
def batch_norm_cases(draw):
    rank4 = draw(st.booleans())
    c = draw(st.integers(1, 4))
    shape = ((draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3)), c)
             if rank4 else (draw(st.integers(2, 6)), c))
    return shape, draw(st.booleans()), draw(seeds)


@settings(max_examples=40)
@given(case=batch_norm_cases())
def test_batch_norm_backward_matches_finite_differences(case):
    shape, training, seed = case
    rng = np.random.default_rng(seed)
    if training and np.prod(shape[:-1]) < 2:
        shape = (2,) + shape[1:]  # one value per channel has no variance to differentiate
    layer = BatchNorm(shape[-1])
    layer.state["moving_mean"][...] = rng.normal(0, 1, shape[-1])
    layer.state["moving_variance"][...] = rng.uniform(0.5, 2, shape[-1])
    check_layer(layer, rng.normal(0, 1, shape) * rng.uniform(0.5, 3), rng, training=training)


def test_batch_norm_training_normalises_and_moves_the_statistics_like_keras():
    rng = np.random.default_rng(0)
    x = rng.normal(3, 2, (64, 5, 4, 2)).astype(np.float32)
    layer = BatchNorm(2, momentum=0.9, epsilon=1e-3)
    y = layer.forward(x, training=True)
    np.testing.assert_allclose(y.mean(axis=(0, 1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=(0, 1, 2)), x.var(axis=(0, 1, 2)) /
                               (x.var(axis=(0, 1, 2)) + 1e-3), rtol=1e-4)
    np.testing.assert_allclose(layer.state["moving_mean"], 0.1 * x.mean(axis=(0, 1, 2)),
                               rtol=1e-5)
    np.testing.assert_allclose(layer.state["moving_variance"],
                               0.9 + 0.1 * x.var(axis=(0, 1, 2)), rtol=1e-5)
    moved = layer.state["moving_mean"].copy()
    layer.forward(x, training=False)  # inference reads the statistics, never moves them
    np.testing.assert_array_equal(layer.state["moving_mean"], moved)


@pytest.mark.parametrize("groups", [1, 3])
def test_folded_batch_norm_equals_conv_then_batch_norm_at_inference(groups):
    rng = np.random.default_rng(groups)
    conv = Conv2D(3, 6, (3, 2), (2, 1), "SAME", groups=groups)
    conv.params["weight"][...] = rng.normal(0, 1, conv.params["weight"].shape)
    conv.params["bias"][...] = rng.normal(0, 1, 6)
    bn = BatchNorm(6)
    bn.params["gamma"][...] = rng.normal(1, 0.5, 6)
    bn.params["beta"][...] = rng.normal(0, 1, 6)
    bn.state["moving_mean"][...] = rng.normal(0, 2, 6)
    bn.state["moving_variance"][...] = rng.uniform(0.1, 4, 6)
    x = rng.normal(0, 1, (2, 7, 5, 3)).astype(np.float32)
    folded = fold_into_conv(conv, bn)
    assert folded.spec() == conv.spec()
    np.testing.assert_allclose(folded.forward(x), bn.forward(conv.forward(x)), rtol=1e-4,
                               atol=1e-5)


def test_fold_refuses_a_batch_norm_of_another_width():
    with pytest.raises(ValueError, match="4 channels"):
        fold_into_conv(Conv2D(1, 3, (1, 1)), BatchNorm(4))
