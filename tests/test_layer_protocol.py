"""Every layer follows one protocol: its own params/grads, backward(dy, need_input_grad)."""

import numpy as np
import pytest

from tinykws.nn.conv import Conv2D, Im2colCache, StridePhaseCache
from tinykws.nn.layers import Dense, Dropout, Flatten, ReLU
from tinykws.nn.model import Sequential, tiny_conv
from tinykws.quant.fake_quant import FakeQuant, QConfig
from tinykws.quant.qat import InputQuant, fake_quant_model


def _every_layer():
    return [Conv2D(1, 2, (3, 3)), Dense(4, 2), ReLU(), Dropout(0.5), Flatten(),
            FakeQuant(QConfig(8, "asymmetric")), InputQuant()]


def test_no_two_layers_share_their_params_or_grads_dicts():
    first, second = _every_layer(), _every_layer()
    for a, b in zip(first, second):
        assert a.params is not b.params and a.grads is not b.grads
    first[2].params["leak"] = np.zeros(1)  # a parameterless layer's dict is its own
    assert "leak" not in second[2].params and "leak" not in ReLU().params


@pytest.mark.parametrize("layer, x", [
    (Dense(6, 3), np.ones((2, 6), np.float32)),
    (Conv2D(1, 2, (3, 3), numba=True), np.ones((2, 5, 5, 1), np.float32)),
    (Conv2D(1, 2, (3, 3), numba=False), np.ones((2, 5, 5, 1), np.float32))])
def test_a_layer_asked_for_no_input_gradient_still_fills_its_grads(layer, x):
    y = layer.forward(x)
    assert layer.backward(np.ones_like(y), need_input_grad=False) is None
    assert set(layer.grads) == {"weight", "bias"}
    np.testing.assert_array_equal(layer.grads["bias"], np.full(layer.params["bias"].shape, y.size // y.shape[-1]))


@pytest.mark.parametrize("layer", [ReLU(), Dropout(0.5), Flatten(), FakeQuant(QConfig(8, "asymmetric")),
                                   InputQuant()])
def test_parameterless_layers_take_the_same_backward_arguments(layer):
    x = np.linspace(0, 20, 24, dtype=np.float32).reshape(2, 3, 4, 1)
    y = layer.forward(x)
    dx = layer.backward(np.ones_like(y), need_input_grad=False)
    assert dx.shape == x.shape and layer.grads == {}


def test_conv2d_paths_keep_their_own_named_caches():
    x = np.random.default_rng(0).normal(size=(1, 6, 6, 2)).astype(np.float32)
    fast, reference = Conv2D(2, 3, (3, 3), (2, 2), numba=True), Conv2D(2, 3, (3, 3), (2, 2), numba=False)
    fast.forward(x)
    reference.forward(x)
    assert isinstance(fast._cache, StridePhaseCache) and isinstance(reference._cache, Im2colCache)
    assert fast._cache.geometry == reference._cache.geometry
    assert (fast._cache.geometry.out_h, fast._cache.geometry.out_w) == (3, 3)


def test_sequential_backward_stops_at_the_first_trainable_layer():
    model = fake_quant_model(tiny_conv(3, np.random.default_rng(0)), 8)
    model.set_rng(np.random.default_rng(2))
    assert isinstance(model.layers[0], InputQuant)
    x = (np.random.default_rng(1).integers(0, 666, (2, 49, 40, 1)) * 10 / 256).astype(np.float32)
    model.forward(x, training=True)
    model.backward(np.ones((2, 3), np.float32))
    assert set(model.gradients()) == set(model.parameters())


def test_a_model_of_parameterless_layers_backpropagates_without_error():
    model = Sequential([ReLU(), Flatten()], (2, 2, 1))
    model.forward(np.ones((1, 2, 2, 1), np.float32))
    model.backward(np.ones((1, 4), np.float32))
    assert model.gradients() == {}
