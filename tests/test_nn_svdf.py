"""The SVDF layer: its backward agrees with finite differences, its forward with
direct loops over TF's definition, and streaming it frame by frame ends where
the whole-clip forward is."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from test_nn_gradients import check_layer
from tinykws.nn.model import from_spec
from tinykws.nn.svdf import SVDF


@st.composite
def svdf_cases(draw):
    bins, units, rank = draw(st.integers(1, 5)), draw(st.integers(1, 4)), draw(st.integers(1, 3))
    memory = draw(st.integers(1, 5))
    frames = draw(st.integers(memory, memory + 3))
    return SVDF(bins, units, rank, memory), (draw(st.integers(1, 3)), frames, bins, 1), \
        draw(st.integers(0, 2 ** 16))


@settings(max_examples=40, deadline=None)
@given(svdf_cases())
def test_svdf_backward_matches_finite_differences(case):
    layer, shape, seed = case
    rng = np.random.default_rng(seed)
    check_layer(layer, rng.normal(0, 1, shape), rng)


def direct_svdf(layer, x):
    """TF's definition in loops: feature filter per frame, time filter over the last
    ``memory`` frames, sum over each unit's rank, bias."""
    wf, wt, b = (layer.params[k] for k in ("weights_feature", "weights_time", "bias"))
    n, frames = x.shape[:2]
    y = np.zeros((n, layer.units))
    for i in range(n):
        for u in range(layer.units):
            total = b[u]
            for r in range(layer.rank):
                f = u * layer.rank + r
                for t in range(layer.memory):
                    frame = x[i, frames - layer.memory + t, :, 0]
                    total += wt[f, t] * (wf[f] @ frame)
            y[i, u] = total
    return y


@settings(max_examples=30, deadline=None)
@given(svdf_cases())
def test_svdf_forward_is_tfs_filter_pair_summed_over_rank(case):
    layer, shape, seed = case
    rng = np.random.default_rng(seed)
    for v in layer.params.values():
        v[...] = rng.normal(0, 1, v.shape)
    x = rng.normal(0, 1, shape).astype(np.float32)
    np.testing.assert_allclose(layer.forward(x), direct_svdf(layer, x), rtol=1e-4, atol=1e-4)


@settings(max_examples=30, deadline=None)
@given(svdf_cases())
def test_streaming_the_frames_ends_at_the_whole_clip_forward(case):
    layer, shape, seed = case
    rng = np.random.default_rng(seed)
    for v in layer.params.values():
        v[...] = rng.normal(0, 1, v.shape).astype(np.float32)
    x = rng.normal(0, 1, shape).astype(np.float32)
    state = layer.initial_state(shape[0])
    for t in range(shape[1]):
        y, state = layer.step(x[:, t, :, 0], state)
    np.testing.assert_allclose(y, layer.forward(x), rtol=1e-5, atol=1e-5)


def test_frames_before_the_memory_do_not_reach_the_output():
    rng = np.random.default_rng(1)
    layer = SVDF(4, 3, 2, memory=5)
    for v in layer.params.values():
        v[...] = rng.normal(0, 1, v.shape)
    x = rng.normal(0, 1, (2, 8, 4, 1))
    changed = x.copy()
    changed[:, :3] += 10
    np.testing.assert_allclose(layer.forward(changed), layer.forward(x))
    changed[:, 3] += 1  # the oldest frame of the memory
    assert not np.allclose(layer.forward(changed), layer.forward(x))


def test_svdf_spec_round_trips_and_refuses_short_inputs():
    layer = SVDF(40, 8, 2, 49)
    rebuilt = from_spec({"input_shape": [49, 40, 1], "layers": [layer.spec()]}).layers[0]
    assert rebuilt.spec() == layer.spec()
    assert {k: v.shape for k, v in rebuilt.params.items()} == {
        "weights_feature": (16, 40), "weights_time": (16, 49), "bias": (8,)}
    assert layer.output_shape((49, 40, 1)) == (8,)
    with pytest.raises(ValueError, match="memory of 49 frames"):
        layer.output_shape((30, 40, 1))
    with pytest.raises(ValueError, match="40 bins"):
        layer.output_shape((49, 10, 1))
