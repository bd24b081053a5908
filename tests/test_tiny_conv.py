"""TinyConv is TensorFlow's tiny_conv: shapes, parameter count, initialisation."""

import numpy as np

from tinykws.nn.model import from_spec, tiny_conv, truncated_normal


def test_tiny_conv_shapes_and_16652_parameters_for_4_labels():
    model = tiny_conv(4, np.random.default_rng(0))
    assert model.shapes() == [(25, 20, 8), (25, 20, 8), (25, 20, 8), (4000,), (4,)]
    assert sum(v.size for v in model.parameters().values()) == 16_652
    logits = model.forward(np.zeros((3, 49, 40, 1), np.float32))
    assert logits.shape == (3, 4)


def test_weights_are_truncated_normal_with_std_001_and_biases_zero():
    model = tiny_conv(4, np.random.default_rng(1))
    w = model.parameters()["4.weight"]
    assert np.abs(w).max() <= 0.02
    # a normal truncated at 2 sigma has std 0.88 sigma
    assert abs(w.std() - 0.0088) < 0.0003
    assert not model.parameters()["0.bias"].any() and not model.parameters()["4.bias"].any()


def test_truncated_normal_redraws_the_tails():
    x = truncated_normal(np.random.default_rng(2), (100_000,), 1.0)
    assert np.abs(x).max() <= 2.0 and abs(x.mean()) < 0.02


def test_spec_round_trip_rebuilds_the_same_architecture():
    model = tiny_conv(5, np.random.default_rng(0))
    rebuilt = from_spec(model.spec())
    assert rebuilt.spec() == model.spec()
    rebuilt.load_parameters(model.parameters())
    x = np.random.default_rng(3).normal(size=(2, 49, 40, 1)).astype(np.float32)
    np.testing.assert_array_equal(rebuilt.forward(x), model.forward(x))


def test_dropout_only_in_training():
    model = tiny_conv(4, np.random.default_rng(0))
    model.set_rng(np.random.default_rng(4))
    x = np.random.default_rng(5).normal(size=(2, 49, 40, 1)).astype(np.float32)
    np.testing.assert_array_equal(model.forward(x), model.forward(x))
    assert not np.array_equal(model.forward(x, training=True), model.forward(x))


def test_model_backward_fills_the_same_gradients_without_the_input_gradient():
    # Sequential.backward skips the first conv's dx; its weight gradients must not change.
    from tinykws.nn.loss import softmax_cross_entropy

    model = tiny_conv(4, np.random.default_rng(0))
    x = np.random.default_rng(1).normal(size=(3, 49, 40, 1)).astype(np.float32)
    _, grad = softmax_cross_entropy(model.forward(x), np.array([0, 1, 2]))
    model.backward(grad)
    fast = {k: v.copy() for k, v in model.gradients().items()}
    dy = grad
    for layer in reversed(model.layers):  # every layer's full backward
        dy = layer.backward(dy)
    assert dy.shape == x.shape
    for k, v in model.gradients().items():
        np.testing.assert_allclose(fast[k], v, rtol=1e-6)
