"""The zoo's TensorFlow architectures: shapes, training, and int8 export bit-exact in tflite-micro."""

import numpy as np
import pytest

from fixtures import make_training_set
from tinykws.cli import main
from tinykws.errors import TinyKWSError
from tinykws.nn.zoo import MODELS, build_model
from tinykws.quant.ptq import quantize_model
from tinykws.tflite.interpreters import check_against_tflm, litert_runner
from tinykws.tflite.writer import serialize_tflite


def _params(model) -> int:
    return sum(v.size for v in model.parameters().values())


def test_parameter_counts_follow_tf_models_py():
    rng = np.random.default_rng(0)
    k = 12
    # weights + biases layer by layer, from TF's create_*_model shapes
    assert _params(build_model("single_fc", k, rng)) == 49 * 40 * k + k
    assert _params(build_model("tiny_conv", k, rng)) == 10 * 8 * 8 + 8 + 25 * 20 * 8 * k + k
    conv2_out = (-(-25 // 8), -(-20 // 8))  # SAME, stride 8: ceil
    assert build_model("tiny_embedding_conv", k, rng).shapes()[3] == (*conv2_out, 8)
    assert _params(build_model("tiny_embedding_conv", k, rng)) == (
        10 * 8 * 8 + 8 + 10 * 8 * 8 * 8 + 8 + conv2_out[0] * conv2_out[1] * 8 * k + k)
    assert _params(build_model("conv", k, rng)) == (
        20 * 8 * 64 + 64 + 10 * 4 * 64 * 64 + 64 + 25 * 20 * 64 * k + k)  # max pool 2x2: 25 x 20
    width = 40 - 8 + 1  # VALID over all 49 frames
    assert build_model("low_latency_conv", k, rng).shapes()[0] == (1, width, 186)
    assert _params(build_model("low_latency_conv", k, rng)) == (
        49 * 8 * 186 + 186 + width * 186 * 128 + 128 + 128 * 128 + 128 + 128 * k + k)


def test_weights_start_as_tf_initialises_them():
    m = build_model("single_fc", 4, np.random.default_rng(1))
    w = m.layers[-1].params["weight"]
    assert np.abs(w).max() <= 2 * 0.001 and 0.0004 < w.std() < 0.001  # truncated normal, std 0.001
    assert not m.layers[-1].params["bias"].any()


def test_unknown_names_and_inputs_a_model_cannot_take_are_refused():
    rng = np.random.default_rng(0)
    with pytest.raises(TinyKWSError, match="the zoo has tiny_conv, single_fc"):
        build_model("resnet1000", 4, rng)
    with pytest.raises(TinyKWSError, match="cannot take"):
        build_model("low_latency_conv", 4, rng, input_shape=(49, 6, 1))  # 8-bin kernel, 6 bins
    with pytest.raises(TinyKWSError, match="built for"):
        build_model("tiny_conv", 4, rng, input_shape=(49, 10, 1))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_zoo_model_exports_bit_exact_in_tflite_micro(name):
    pytest.importorskip("tflite_micro", reason="tflite-micro not installed")
    rng = np.random.default_rng(3)
    model = build_model(name, 4, rng)
    for layer in model.layers:  # larger weights than the initial ones, so every layer matters
        for v in layer.params.values():
            v[...] = rng.normal(0, 0.05, v.shape)
    for layer in model.layers:  # batch norm: moving statistics as training would leave them
        for key, v in getattr(layer, "state", {}).items():  # a residual block's: "body.1.moving_mean"
            v[...] = rng.normal(0, 0.1, v.shape) if key.endswith("moving_mean") else rng.uniform(0.5, 2, v.shape)
    x = rng.uniform(0, 26, (104, 49, 40, 1)).astype(np.float32)
    blob = serialize_tflite(quantize_model(model, x[:100]))
    from tinykws.features.model_input import float_to_int8_input

    q = float_to_int8_input(x[100:])
    check = check_against_tflm(blob, q)
    assert check["bit_exact"], check
    np.testing.assert_array_equal(litert_runner(blob)(q[:1]), _ours(blob, q[:1]))


def _ours(blob, q):
    from tinykws.int8.runtime import Int8Runtime
    from tinykws.tflite.reader import parse_tflite

    return Int8Runtime(parse_tflite(blob)).run_clip(q)


def test_train_takes_a_zoo_model_and_refuses_to_resume_it_as_another(tmp_path, capsys):
    data = make_training_set(tmp_path / "d", {"yes": 40, "no": 40, "up": 12})
    run = tmp_path / "run"
    args = ["train", "--data", str(data), "--out", str(run), "--steps", "60", "--eval-every", "30",
            "--batch-size", "32"]
    assert main([*args, "--model", "tiny_embedding_conv"]) == 0
    capsys.readouterr()
    assert main(["size", str(run)]) == 0
    assert "6,164" in capsys.readouterr().out  # the trained run is a tiny_embedding_conv
    assert main([*args, "--steps", "90", "--resume"]) == 2  # the default model is another one
    assert "settings differ from the saved run (model)" in capsys.readouterr().err
    assert main([*args, "--model", "tiny_embedding_conv", "--steps", "90", "--resume"]) == 0


def test_a_checkpoint_keeps_batch_norm_statistics(tmp_path):
    from tinykws.train.checkpoint import load_checkpoint, save_checkpoint

    rng = np.random.default_rng(5)
    model = build_model("ds_cnn", 4, rng)
    model.set_rng(rng)
    model.forward(rng.uniform(0, 26, (16, 49, 40, 1)).astype(np.float32), training=True)
    x = rng.uniform(0, 26, (3, 49, 40, 1)).astype(np.float32)
    meta = {"labels": ["_silence_", "_unknown_", "yes", "no"]}
    loaded, _, _ = load_checkpoint(save_checkpoint(tmp_path / "m.npz", model, meta))
    np.testing.assert_array_equal(loaded.forward(x), model.forward(x))  # inference uses the moving stats
    assert any(np.any(l.state["moving_mean"]) for l in loaded.layers if getattr(l, "state", None))


def test_a_global_average_pool_exports_as_mean_bit_exact_in_tflite_micro():
    """conv -> ReLU -> global average pool -> dense: the pool becomes MEAN over H and W."""
    pytest.importorskip("tflite_micro", reason="tflite-micro not installed")
    from tinykws.features.model_input import float_to_int8_input
    from tinykws.nn.conv import Conv2D
    from tinykws.nn.layers import Dense, ReLU
    from tinykws.nn.model import TINY_CONV_INPUT, Sequential
    from tinykws.nn.pooling import GlobalAveragePool

    rng = np.random.default_rng(5)
    model = Sequential([Conv2D(1, 6, (5, 5), (2, 2)), ReLU(), GlobalAveragePool(), Dense(6, 4)],
                       TINY_CONV_INPUT)
    for layer in model.layers:
        for v in layer.params.values():
            v[...] = rng.normal(0, 0.1, v.shape)
    x = rng.uniform(0, 26, (108, 49, 40, 1)).astype(np.float32)
    graph = quantize_model(model, x[:100])
    assert [op.op for op in graph.operators][1:] == ["MEAN", "FULLY_CONNECTED", "SOFTMAX"]
    check = check_against_tflm(serialize_tflite(graph), float_to_int8_input(x[100:]))
    assert check == {"examples": 8, "bit_exact": True, "mismatches": 0}
