"""Pruning: magnitude masks, channel removal, and the study behind 'tinykws prune'."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixtures import train_tiny_run
from tinykws.cli import main
from tinykws.nn.model import tiny_conv
from tinykws.prune.magnitude import apply_masks, l1_unstructured_masks, prunable, sparsity
from tinykws.prune.structured import channels_to_keep, filter_norms, prune_channels
from tinykws.prune.study import channels_kept, zero_skipping_flops


def _model(seed: int, labels: int = 4):
    rng = np.random.default_rng(seed)
    model = tiny_conv(labels, rng)
    for p in model.parameters().values():  # distinct magnitudes, busy activations
        p[...] = rng.normal(0, 0.2, p.shape)
    return model


def _features(seed: int, n: int = 8) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 666, (n, 49, 40, 1)) * 10 / 256).astype(np.float32)  # (N, 49, 40, 1)


@settings(max_examples=20)
@given(st.integers(0, 10_000), st.floats(0.0, 0.99), st.sampled_from(["layer", "global"]))
def test_masks_remove_exactly_the_asked_share_of_weights(seed, amount, scope):
    model = _model(seed)
    masks = l1_unstructured_masks(model, amount, scope)
    removed = sum(int((~m).sum()) for m in masks.values())
    total = sum(m.size for m in masks.values())
    if scope == "layer":
        assert removed == sum(int(amount * m.size) for m in masks.values())
    else:
        assert removed == int(amount * total)


@settings(max_examples=20)
@given(st.integers(0, 10_000), st.floats(0.05, 0.95))
def test_layer_masks_remove_the_smallest_magnitudes_of_each_layer(seed, amount):
    model = _model(seed)
    for name, mask in l1_unstructured_masks(model, amount, "layer").items():
        w = np.abs(prunable(model)[name])
        if mask.all() or not mask.any():
            continue
        assert w[~mask].max() <= w[mask].min()


def test_global_masks_share_one_threshold_across_layers():
    model = _model(3)
    masks = l1_unstructured_masks(model, 0.9, "global")
    weights = prunable(model)
    kept_min = min(np.abs(weights[k])[m].min() for k, m in masks.items())
    removed_max = max(np.abs(weights[k])[~m].max() for k, m in masks.items())
    assert removed_max <= kept_min
    # the conv's taps and the dense weights end at different sparsities
    per_layer = {k: 1 - m.mean() for k, m in masks.items()}
    assert max(per_layer.values()) - min(per_layer.values()) > 0.01


def test_amount_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError, match="sparsity"):
        l1_unstructured_masks(_model(0), 1.5)


def test_applied_masks_zero_the_weights_and_leave_biases():
    model = _model(1)
    biases = {k: v.copy() for k, v in model.parameters().items() if k.endswith(".bias")}
    apply_masks(model, l1_unstructured_masks(model, 0.8))
    assert sparsity(model) == pytest.approx(0.8, abs=1e-3)
    for k, v in biases.items():
        np.testing.assert_array_equal(model.parameters()[k], v)


def test_zero_skipping_flops_count_only_nonzero_weights():
    model = _model(2)
    dense = zero_skipping_flops(model)
    apply_masks(model, l1_unstructured_masks(model, 0.75))
    # 2 FLOPs per MAC; the bias adds (25*20*8 + 4) outputs either way
    bias = 25 * 20 * 8 + 4
    assert zero_skipping_flops(model) - bias == pytest.approx((dense - bias) / 4, rel=1e-3)


@settings(max_examples=15)
@given(st.integers(0, 10_000), st.integers(1, 8), st.sampled_from([1, 2]))
def test_channel_pruning_equals_zeroing_the_removed_filters(seed, keep, p):
    """Removing filters is exact: same logits as the full model with those filters zeroed."""
    model = _model(seed)
    x = _features(seed)
    small = prune_channels(model, keep, p)
    kept = channels_to_keep(model.layers[0], keep, p)
    dropped = np.setdiff1d(np.arange(8), kept)
    model.layers[0].params["weight"][dropped] = 0.0
    model.layers[0].params["bias"][dropped] = 0.0
    np.testing.assert_allclose(small.forward(x), model.forward(x), rtol=1e-4, atol=1e-3)  # float32 sums


def test_channel_pruning_shrinks_conv_and_dense_inputs_not_classes():
    small = prune_channels(_model(4), 3)
    conv, dense = small.layers[0], small.layers[-1]
    assert conv.params["weight"].shape == (3, 10, 8, 1)
    assert dense.params["weight"].shape == (4, 25 * 20 * 3)
    assert sum(v.size for v in small.parameters().values()) == 3 * 80 + 3 + 4 * 1500 + 4


def test_kept_channels_are_the_largest_by_the_chosen_norm():
    model = _model(5)
    conv = model.layers[0]
    w = conv.params["weight"].reshape(8, -1)
    # make filter 6 large in L1 but small in L2 (many small taps) and filter 2 the opposite
    w[6] = 0.3
    w[2] = 0.0
    w[2, 0] = 10.0
    l1 = channels_to_keep(conv, 1, 1)
    l2 = channels_to_keep(conv, 1, 2)
    assert l1.tolist() == [6] and l2.tolist() == [2]
    assert filter_norms(conv, 1)[6] == pytest.approx(0.3 * 80)


@pytest.mark.parametrize("amount, keep", [(0.125, 7), (0.5, 4), (0.875, 1), (0.99, 1), (0.0, 8)])
def test_structured_amounts_map_to_kept_channels(amount, keep):
    assert channels_kept(8, amount) == keep


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("prune")
    train_tiny_run(root, steps=60)
    outs = {}
    for method, amounts in (("unstructured", "0.5,0.9"), ("structured", "0.5,0.875")):
        argv = ["prune", str(root / "run"), "--out", str(root / method), "--method", method,
                "--amounts", amounts, "--finetune-steps", "20", "--calibration", "100",
                "--repeats", "2", "--no-progress"]
        assert main(argv) == 0
        outs[method] = (json.loads((root / method / "prune.json").read_text()), argv)
    return root, outs


def test_unstructured_study_has_every_amount_with_and_without_fine_tuning(study):
    _, outs = study
    result, _ = outs["unstructured"]
    assert result["complete"]
    assert set(result["unstructured"]) == {"0.5/pruned", "0.5/finetuned", "0.9/pruned", "0.9/finetuned"}
    base = result["baseline"]["nonzero_params"]
    for key, e in result["unstructured"].items():
        assert e["sparsity"] == pytest.approx(float(key.split("/")[0]), abs=1e-3)
        assert e["params"] == result["baseline"]["params"]  # shapes unchanged
        assert e["nonzero_params"] < base
        assert e["zero_skipping_flops"] < result["baseline"]["zero_skipping_flops"]


def test_fine_tuned_masks_keep_pruned_weights_at_zero(study):
    _, outs = study
    result, _ = outs["unstructured"]
    pruned = result["unstructured"]["0.9/pruned"]
    tuned = result["unstructured"]["0.9/finetuned"]
    assert tuned["sparsity"] == pytest.approx(pruned["sparsity"])
    assert tuned["nonzero_params"] <= pruned["nonzero_params"]
    assert tuned["finetune"]["val_balanced_accuracy"] >= pruned["float_validation_balanced_accuracy"] - 1e-9


def test_structured_study_removes_channels_and_their_flops(study):
    _, outs = study
    result, _ = outs["structured"]
    assert set(result["structured"]) == {"4/pruned", "4/finetuned", "1/pruned", "1/finetuned"}
    e4, e1 = result["structured"]["4/pruned"], result["structured"]["1/pruned"]
    assert e4["params"] == 4 * 80 + 4 + 4 * 2000 + 4
    assert e1["flops"] < e4["flops"] < result["baseline"]["flops"]
    assert e1["tflite_bytes"] < e4["tflite_bytes"] < result["baseline"]["tflite_bytes"]


def test_every_pruned_model_is_bit_exact_in_tflite_micro(study):
    pytest.importorskip("tflite_micro")
    _, outs = study
    for result, _ in outs.values():
        for method in ("unstructured", "structured"):
            for key, e in result[method].items():
                assert e["tflm"]["bit_exact"] and e["tflm"]["examples"] > 0, (method, key)


def test_study_records_the_most_common_label_floor(study):
    from tinykws.train.evaluate import open_run
    from tinykws.train.metrics import majority_accuracy

    root, outs = study
    result, _ = outs["structured"]
    assert majority_accuracy(np.array([0, 2, 2, 1, 2])) == 0.6
    _, y = open_run(root / "run", None, None)[2].split_arrays("testing")
    assert result["majority"]["testing_accuracy"] == np.bincount(y).max() / len(y)


def test_study_writes_the_four_plots(study):
    root, _ = study
    for method in ("unstructured", "structured"):
        for name in ("prune_params.png", "prune_flops.png", "prune_cpu.png"):
            assert (root / method / name).stat().st_size > 1000


def test_rerun_resumes_without_recomputing(study):
    root, outs = study
    result, argv = outs["structured"]
    path = root / "structured" / "prune.json"
    partial = json.loads(path.read_text())
    del partial["structured"]["1/finetuned"]
    path.write_text(json.dumps(partial))
    assert main(argv) == 0
    after = json.loads(path.read_text())

    def measured(e):  # all but the int8 timings, which are taken anew for every model
        return {k: v for k, v in e.items() if not k.startswith("cpu_int8")}

    assert measured(after["structured"]["4/pruned"]) == measured(result["structured"]["4/pruned"])
    assert after["structured"]["1/finetuned"]["channels"] == 1 and after["complete"]


def test_every_model_is_saved_and_timed_dense_and_sparse(study):
    from tinykws.tflite.reader import parse_tflite

    root, outs = study
    for method, (result, _) in outs.items():
        for e in [result["baseline"], *result[method].values()]:
            blob = (root / method / e["tflite"]).read_bytes()
            assert len(blob) == e["tflite_bytes"] and parse_tflite(blob).operators
            assert e["cpu_int8_us"] > 0 and e["cpu_int8_sparse_us"] > 0
            assert e["cpu_int8_best_us"] == min(e["cpu_int8_us"], e["cpu_int8_sparse_us"])


@pytest.mark.parametrize("args, words", [(["--amounts", "1.5", "--method", "unstructured"], "sparsity"),
                                         (["--method", "random"], "method"),
                                         (["--finetune-steps", "0"], "finetune-steps"),
                                         (["--amounts", "0.5"], "one --method")])
def test_bad_values_are_one_line_errors(study, tmp_path, capsys, args, words):
    root, _ = study
    assert main(["prune", str(root / "run"), "--out", str(tmp_path / "p"), *args]) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1
    assert not (tmp_path / "p").exists()


def test_every_pruned_model_is_compared_with_the_unpruned_one_on_the_same_clips(study):
    _, outs = study
    result, _ = outs["unstructured"]
    base = np.array(result["baseline"]["int8_testing_predicted"])
    for key, entry in result["unstructured"].items():
        t = result["paired"]["unstructured"][key]["testing"]
        mine = np.array(entry["int8_testing_predicted"])
        truth = np.array(result["baseline"]["int8_testing_report"]["confusion"]).sum()
        assert len(mine) == len(base) == truth
        assert t["mcnemar"]["a_only"] + t["mcnemar"]["b_only"] <= int(np.sum(mine != base))
        assert 0.0 <= t["p_value"] <= 1.0 and t["significant"] == (t["p_value"] < 0.05)
        assert t["low"] <= t["difference"] <= t["high"]
        if np.array_equal(mine, base):
            assert t["difference"] == 0.0 and not t["significant"]
