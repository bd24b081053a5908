"""Every backward pass agrees with finite differences of its forward pass.

For a random projection ``L = sum(r * f(x))`` the analytic gradient from
``backward(r)`` must equal ``(L(x + h e) - L(x - h e)) / 2h`` for every
coordinate ``e`` (float64, central differences).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinykws.nn.conv import Conv2D
from tinykws.padding import compute_out_size, compute_padding_with_offset
from tinykws.nn.layers import Dense, Dropout, Flatten, ReLU
from tinykws.nn.loss import softmax_cross_entropy


def numeric_grad(f, x, h=1e-6):
    g = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        up = f()
        x[i] = old - h
        down = f()
        x[i] = old
        g[i] = (up - down) / (2 * h)
    return g


def check_layer(layer, x, rng, training=False):
    layer.params = {k: v.astype(np.float64) for k, v in layer.params.items()}
    for k, v in layer.params.items():
        v[...] = rng.normal(0, 1, v.shape)
    y = layer.forward(x, training)
    r = rng.normal(0, 1, y.shape)
    dx = layer.backward(r)
    grads = dict(layer.grads)
    loss = lambda: float((layer.forward(x, training) * r).sum())  # noqa: E731
    np.testing.assert_allclose(dx, numeric_grad(loss, x), rtol=1e-5, atol=1e-7)
    for name, p in layer.params.items():
        np.testing.assert_allclose(grads[name], numeric_grad(loss, p), rtol=1e-5, atol=1e-7)


def check_model(model, x, labels, rng):
    """A whole model in training mode (batch statistics), dropout off: every parameter's
    ``dL/dparam`` by backprop equals finite differences of the cross-entropy loss."""
    for layer in model.layers:
        if isinstance(layer, Dropout):
            layer.rate = 0.0
        layer.params = {k: v.astype(np.float64) for k, v in layer.params.items()}
        for v in layer.params.values():
            v[...] += rng.normal(0, 0.3, v.shape)
    _, dlogits = softmax_cross_entropy(model.forward(x, training=True), labels)
    model.backward(dlogits)
    grads = model.gradients()
    loss = lambda: softmax_cross_entropy(model.forward(x, training=True), labels)[0]  # noqa: E731
    for name, param in model.parameters().items():
        np.testing.assert_allclose(grads[name], numeric_grad(loss, param), rtol=1e-4, atol=1e-7,
                                   err_msg=name)


@settings(max_examples=30)
@given(data=st.data())
def test_conv2d_backward_matches_finite_differences(data):
    groups = data.draw(st.sampled_from([1, 2, 3]))
    cin = groups * data.draw(st.integers(1, 2))
    cout = groups * data.draw(st.integers(1, 2))
    kh, kw = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    sh, sw = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    padding = data.draw(st.sampled_from(["SAME", "VALID"]))
    h, w = data.draw(st.integers(kh, 7)), data.draw(st.integers(kw, 7))
    n = data.draw(st.integers(1, 2))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    numba = data.draw(st.booleans())  # ungrouped layers: Numba kernels or the im2col reference
    layer = Conv2D(cin, cout, (kh, kw), (sh, sw), padding, groups, numba=numba)
    check_layer(layer, rng.normal(0, 1, (n, h, w, cin)), rng)


def _conv_pass(layer, x, w, b, dy):
    layer.params = {"weight": w, "bias": b}
    y = layer.forward(x, training=True)
    dx = layer.backward(dy)
    return y, dx, layer.grads["weight"], layer.grads["bias"]


@settings(max_examples=40)
@given(data=st.data())
def test_conv2d_numba_kernels_equal_the_im2col_reference(data):
    """Forward, dx, dw and db of the Numba path match im2col + BLAS to float32 rounding."""
    cin, cout = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 9))
    kh, kw = data.draw(st.integers(1, 10)), data.draw(st.integers(1, 8))
    sh, sw = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    padding = data.draw(st.sampled_from(["SAME", "VALID"]))
    h, w = data.draw(st.integers(kh, 20)), data.draw(st.integers(kw, 20))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    x = rng.normal(0, 1, (data.draw(st.integers(1, 3)), h, w, cin)).astype(np.float32)
    weight = rng.normal(0, 1, (cout, kh, kw, cin)).astype(np.float32)
    bias = rng.normal(0, 1, cout).astype(np.float32)
    layers = [Conv2D(cin, cout, (kh, kw), (sh, sw), padding, numba=numba)
              for numba in (True, False)]
    dy = rng.normal(0, 1, (x.shape[0], *layers[0].output_shape(x.shape[1:]))).astype(np.float32)
    fast, reference = (_conv_pass(layer, x, weight, bias, dy) for layer in layers)
    for got, expected in zip(fast, reference):
        assert got.dtype == expected.dtype == np.float32
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)


def test_conv2d_numba_kernels_equal_the_reference_on_a_tiny_conv_batch():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (20, 49, 40, 1)).astype(np.float32)
    weight = rng.normal(0, 0.01, (8, 10, 8, 1)).astype(np.float32)
    bias = rng.normal(0, 0.01, 8).astype(np.float32)
    layers = [Conv2D(1, 8, (10, 8), (2, 2), "SAME", numba=numba) for numba in (True, False)]
    dy = rng.normal(0, 1, (20, 25, 20, 8)).astype(np.float32)
    for got, expected in zip(*(_conv_pass(layer, x, weight, bias, dy) for layer in layers)):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


@settings(max_examples=20)
@given(n=st.integers(1, 4), fin=st.integers(1, 6), fout=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_dense_backward_matches_finite_differences(n, fin, fout, seed):
    rng = np.random.default_rng(seed)
    check_layer(Dense(fin, fout), rng.normal(0, 1, (n, fin)), rng)


@settings(max_examples=20)
@given(seed=st.integers(0, 2**16))
def test_relu_flatten_and_dropout_backward_match_finite_differences(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (2, 3, 4, 2))
    x[np.abs(x) < 1e-3] = 0.5  # keep away from ReLU's kink
    check_layer(ReLU(), x, rng)
    check_layer(Flatten(), x, rng)
    drop = Dropout(0.5)
    drop.rng = np.random.default_rng(seed)
    y = drop.forward(x, training=True)  # fix one mask, then check the linear map it defines
    mask = drop.backward(np.ones_like(y))
    assert set(np.unique(mask)) <= {0.0, 2.0}
    np.testing.assert_array_equal(y, x * mask)


@settings(max_examples=20)
@given(n=st.integers(1, 5), k=st.integers(2, 6), seed=st.integers(0, 2**16))
def test_softmax_cross_entropy_gradient_matches_finite_differences(n, k, seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 3, (n, k))
    labels = rng.integers(0, k, n)
    _, grad = softmax_cross_entropy(logits, labels)
    np.testing.assert_allclose(grad, numeric_grad(lambda: softmax_cross_entropy(logits, labels)[0], logits),
                               rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("size,kernel,stride,expected", [
    (49, 10, 2, (25, 4, 5)),  # TinyConv's time axis: the odd extra row goes after
    (40, 8, 2, (20, 3, 3)),
    (5, 3, 1, (5, 1, 1)),
    (4, 1, 3, (2, 0, 0)),
])
def test_same_padding_is_tensorflows_split(size, kernel, stride, expected):
    out = compute_out_size("SAME", size, kernel, stride)
    before, offset = compute_padding_with_offset(stride, 1, size, kernel, out)
    assert (out, before, before + offset) == expected


def test_conv2d_matches_a_direct_loop():
    rng = np.random.default_rng(0)
    layer = Conv2D(2, 3, (3, 2), (2, 1), "SAME")
    layer.params["weight"][...] = rng.normal(0, 1, layer.params["weight"].shape)
    layer.params["bias"][...] = rng.normal(0, 1, 3)
    x = rng.normal(0, 1, (1, 5, 4, 2)).astype(np.float32)
    y = layer.forward(x)
    oh, ow = compute_out_size("SAME", 5, 3, 2), compute_out_size("SAME", 4, 2, 1)
    (top, _), (left, _) = (compute_padding_with_offset(2, 1, 5, 3, oh),
                           compute_padding_with_offset(1, 1, 4, 2, ow))
    ref = np.zeros((1, oh, ow, 3))
    for o in range(3):
        for i in range(oh):
            for j in range(ow):
                acc = layer.params["bias"][o]
                for a in range(3):
                    for b in range(2):
                        r, c = i * 2 + a - top, j + b - left
                        if 0 <= r < 5 and 0 <= c < 4:
                            acc += x[0, r, c] @ layer.params["weight"][o, a, b]
                ref[0, i, j, o] = acc
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)
