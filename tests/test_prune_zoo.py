"""Pruning any zoo model: channels followed through batch norm, depthwise convs and pooling;
magnitude masks on every weight; 'tinykws prune' on runs of other architectures."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixtures import make_training_set
from tinykws.cli import main
from tinykws.nn.batch_norm import BatchNorm
from tinykws.nn.conv import Conv2D
from tinykws.nn.layers import Dense, Flatten
from tinykws.nn.model import Sequential
from tinykws.nn.residual import Add
from tinykws.nn.zoo import MODELS, build_model
from tinykws.prune.magnitude import apply_masks, l1_unstructured_masks, sparsity
from tinykws.prune.structured import (
    channel_chains, prunable_layers, prune_channels, remove_channels)


def _busy_model(name: str, seed: int = 0):
    """A zoo model with weights and batch-norm statistics large enough that every layer matters."""
    rng = np.random.default_rng(seed)
    model = build_model(name, 4, rng)
    for layer in model.layers:
        for v in layer.params.values():
            v[...] = rng.normal(0, 0.2, v.shape)
        if isinstance(layer, BatchNorm):
            layer.state["moving_mean"][...] = rng.normal(0, 0.3, layer.channels)
            layer.state["moving_variance"][...] = rng.uniform(0.5, 2, layer.channels)
    return model


def _x(seed: int, n: int = 2) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 26, (n, 49, 40, 1)).astype(np.float32)


# Channel pruning does not yet follow channels through a residual block or an SVDF.
UNFOLLOWED = ("low_latency_svdf", "tc_resnet8", "tc_resnet8_mcu", "tc_resnet8_narrow")
FOLLOWED = [n for n in sorted(MODELS) if n not in UNFOLLOWED]


def test_the_prunable_layers_are_those_whose_channels_are_consumed_before_the_logits():
    layers = {name: [type(build_model(name, 4, np.random.default_rng(0)).layers[i]).__name__ + str(i)
                     for i in prunable_layers(build_model(name, 4, np.random.default_rng(0)))]
              for name in FOLLOWED}
    assert layers == {"single_fc": [], "tiny_conv": ["Conv2D0"],
                      "tiny_embedding_conv": ["Conv2D0", "Conv2D3"], "conv": ["Conv2D0", "Conv2D4"],
                      "low_latency_conv": ["Conv2D0", "Dense4", "Dense6"],
                      "ds_cnn": ["Conv2D0", "Conv2D7", "Conv2D13", "Conv2D19", "Conv2D25"]}


def test_a_ds_cnn_channel_drags_its_batch_norms_and_depthwise_conv_to_the_next_pointwise_conv():
    model = build_model("ds_cnn", 4, np.random.default_rng(0))
    first = channel_chains(model)[0]
    kinds = [type(model.layers[j]).__name__ for j in first.followers]
    assert kinds == ["BatchNorm", "Conv2D", "BatchNorm"]  # bn, depthwise 3x3, its bn
    assert model.layers[first.followers[1]].groups == 64 and first.consumer == 7
    last = channel_chains(model)[-1]
    assert isinstance(model.layers[last.consumer], Dense) and last.positions == 1  # pooled to 1x1


@pytest.mark.parametrize("name", UNFOLLOWED)
def test_a_model_channel_pruning_cannot_follow_is_refused_not_guessed(name):
    with pytest.raises(ValueError, match="cannot follow channels"):
        prunable_layers(build_model(name, 4, np.random.default_rng(0)))


@pytest.mark.parametrize("name", [n for n in FOLLOWED if n != "single_fc"])
@settings(max_examples=6)
@given(data=st.data())
def test_removing_channels_equals_zeroing_their_contributions(name, data):
    """The pruned model gives the original's outputs with the removed channels' inputs to their
    consumers zeroed, for any kept set of every prunable layer."""
    seed = data.draw(st.integers(0, 10_000), "seed")
    model = _busy_model(name, seed)
    kept = {}
    for chain in channel_chains(model):
        n = model.layers[chain.producer].params["bias"].size
        chosen = data.draw(st.sets(st.integers(0, n - 1), min_size=1, max_size=n), f"kept {chain.producer}")
        kept[chain.producer] = np.array(sorted(chosen))
    small = remove_channels(model, kept)
    for chain in channel_chains(model):  # zero what the removed channels feed, in the original
        dropped = np.setdiff1d(np.arange(model.layers[chain.producer].params["bias"].size),
                               kept[chain.producer])
        consumer = model.layers[chain.consumer]
        w = consumer.params["weight"]
        if isinstance(consumer, Conv2D):
            w[..., dropped] = 0.0
        else:
            by_channel = w.reshape(w.shape[0], chain.positions, -1)  # (out, H*W, C) view
            by_channel[..., dropped] = 0.0
    x = _x(seed)
    expected = model.forward(x)
    np.testing.assert_allclose(small.forward(x), expected, rtol=1e-4,
                               atol=1e-4 * np.abs(expected).max())  # float32 sums, other order


def test_pruned_ds_cnn_has_every_per_channel_array_shrunk():
    model = _busy_model("ds_cnn")
    small = prune_channels(model, 16)
    shapes = [tuple(v.shape) for v in small.parameters().values()]
    assert shapes[:2] == [(16, 10, 4, 1), (16,)]  # first conv
    for layer in small.layers:
        if isinstance(layer, BatchNorm):
            assert layer.channels == 16 and layer.state["moving_mean"].shape == (16,)
        if isinstance(layer, Conv2D) and layer.groups > 1:
            assert layer.params["weight"].shape == (16, 3, 3, 1) and layer.in_channels == 16
    assert small.layers[-1].params["weight"].shape == (4, 16)  # the classes stay
    assert Sequential(small.layers, small.input_shape).shapes()[-1] == (4,)


def test_keep_counts_can_differ_per_layer_and_logits_are_not_prunable():
    model = _busy_model("low_latency_conv")
    small = prune_channels(model, {0: 10, 4: 5})
    assert [l.params["weight"].shape for l in small.layers if "weight" in l.params] == [
        (10, 49, 8, 1), (5, 33 * 10), (128, 5), (4, 128)]
    with pytest.raises(ValueError, match="not prunable"):
        prune_channels(model, {8: 2})
    with pytest.raises(ValueError, match="no prunable layer"):
        prune_channels(build_model("single_fc", 4, np.random.default_rng(0)), 1)


def test_an_unknown_layer_is_refused_not_guessed():
    model = Sequential([Conv2D(1, 4, (3, 3)), Add(), Flatten(), Dense(4 * 49 * 40, 2)], (49, 40, 1))
    with pytest.raises(ValueError, match="cannot follow channels through layer 1 \\(Add\\)"):
        prunable_layers(model)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_magnitude_masks_cover_every_conv_and_dense_weight(name):
    model = _busy_model(name)
    masks = l1_unstructured_masks(model, 0.7, "global")
    weighted = [k for k in model.parameters() if k.endswith(".weight")]  # a block's too
    assert all(isinstance(model.layers[i], (Conv2D, Dense)) for i in
               {int(k.split(".")[0]) for k in weighted if k.count(".") == 1})
    assert sorted(masks) == sorted(weighted)
    apply_masks(model, masks)
    assert sparsity(model) == pytest.approx(0.7, abs=1e-3)
    for layer in model.layers:  # batch norm's gamma and beta are not weights: left alone
        if isinstance(layer, BatchNorm):
            assert np.count_nonzero(layer.params["gamma"]) == layer.channels


def test_a_copy_keeps_batch_norm_statistics_and_shares_no_arrays():
    model = _busy_model("ds_cnn", 3)
    twin = model.copy()
    x = _x(3)
    np.testing.assert_array_equal(twin.forward(x), model.forward(x))
    twin.layers[1].state["moving_mean"][...] += 1.0
    twin.layers[0].params["weight"][...] = 0.0
    assert not np.array_equal(twin.forward(x), model.forward(x))
    assert np.count_nonzero(model.layers[0].params["weight"])


def train_zoo_run(data, out, name: str):
    """A two-step Adam run of the zoo model ``name`` on ``data``: enough to have a checkpoint."""
    assert main(["train", "--data", str(data), "--out", str(out), "--steps", "2", "--eval-every", "2",
                 "--batch-size", "16", "--schedule", "adam", "--model", name]) == 0
    return out


@pytest.fixture(scope="module")
def zoo_runs(tmp_path_factory):
    """``(root, run(name))``: runs of zoo models on one small synthetic set, each trained when first asked."""
    root = tmp_path_factory.mktemp("zoo")
    data = make_training_set(root / "data", {"yes": 50, "no": 50, "up": 15, "down": 15})
    runs = {}

    def run(name):
        if name not in runs:
            runs[name] = train_zoo_run(data, root / name, name)
        return runs[name]

    return root, run


def _prune(root, run, method: str, amounts: str) -> dict:
    out = root / f"{run.name}-{method}"
    assert main(["prune", str(run), "--out", str(out), "--method", method, "--amounts", amounts,
                 "--finetune-steps", "2", "--calibration", "100", "--repeats", "1", "--no-progress",
                 "--jobs", "1"]) == 0
    return json.loads((out / "prune.json").read_text())


@pytest.mark.parametrize("name, half", [("ds_cnn", 32), ("tiny_embedding_conv", 4),
                                        ("conv", 32)])
def test_structured_pruning_of_a_zoo_run_halves_every_prunable_layer(zoo_runs, name, half):
    from tinykws.size import layer_sizes
    from tinykws.train.checkpoint import load_checkpoint

    root, run = zoo_runs
    result = _prune(root, run(name), "structured", "0.5")
    model, _, _ = load_checkpoint(run(name) / "model.npz")
    layers = prunable_layers(model)
    assert result["complete"] and result["prunable_layers"] == {str(i): 2 * half for i in layers}
    assert set(result["structured"]) == {f"{half}/pruned", f"{half}/finetuned"}
    base, small = result["baseline"], prune_channels(model, half)
    for e in result["structured"].values():
        assert e["channels"] == half and e["kept"] == {str(i): half for i in layers}
        assert e["params"] == sum(s.params for s in layer_sizes(small)) < base["params"]
        assert e["flops"] == sum(s.flops for s in layer_sizes(small)) < base["flops"]
        assert e["tflite_bytes"] < base["tflite_bytes"]
        assert e["mcu_reference_ms"] < base["mcu_reference_ms"] and e["mcu_cmsis_nn_ms"] < base["mcu_cmsis_nn_ms"]
        assert e["cpu_float_us"] > 0 and e["cpu_int8_us"] > 0
        assert e["cpu_int8_sparse_us"] is None and e["cpu_int8_best_us"] == e["cpu_int8_us"]  # no fused path
        if e["tflm"] is not None:
            assert e["tflm"]["bit_exact"] and e["tflm"]["examples"] > 0
    tuned = result["structured"][f"{half}/finetuned"]
    assert tuned["finetune"]["val_balanced_accuracy"] >= \
        result["structured"][f"{half}/pruned"]["float_validation_balanced_accuracy"] - 1e-9


def test_unstructured_pruning_of_a_zoo_run_masks_every_layer(zoo_runs):
    root, run = zoo_runs
    result = _prune(root, run("tiny_embedding_conv"), "unstructured", "0.8")
    assert "prunable_layers" not in result
    for e in result["unstructured"].values():
        assert e["sparsity"] == pytest.approx(0.8, abs=1e-3)
        assert e["params"] == result["baseline"]["params"] and e["nonzero_params"] < result["baseline"]["nonzero_params"]
        assert e["zero_skipping_flops"] < result["baseline"]["zero_skipping_flops"]
        if e["tflm"] is not None:
            assert e["tflm"]["bit_exact"]


def test_structured_pruning_of_a_model_without_prunable_layers_measures_only_the_baseline(zoo_runs):
    root, run = zoo_runs
    result = _prune(root, run("single_fc"), "structured", "0.5")
    assert result["prunable_layers"] == {} and result["structured"] == {}
    assert result["baseline"]["cpu_int8_us"] > 0


def test_fine_tuning_rolls_batch_norm_statistics_back_with_the_weights():
    from tinykws.prune.study import _restore, _snapshot

    model = _busy_model("ds_cnn", 4)
    saved = _snapshot(model)
    x = _x(4)
    before = model.forward(x)
    model.set_rng(np.random.default_rng(0))
    model.forward(x, training=True)  # a training step moves the moving statistics
    assert not np.array_equal(model.forward(x), before)
    _restore(model, saved)
    np.testing.assert_array_equal(model.forward(x), before)
