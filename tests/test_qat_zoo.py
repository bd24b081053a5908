"""Quantization-aware training of any zoo model: batch norm folded first, depthwise weights per
channel, pooling on its input's grid, so the fake-quant forward is the integer model's."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from test_prune_zoo import _busy_model, zoo_runs  # noqa: F401 (a fixture)
from tinykws.cli import main
from tinykws.features.model_input import float_to_int8_input
from tinykws.int8.runtime import Int8Runtime
from tinykws.nn.batch_norm import BatchNorm
from tinykws.nn.conv import Conv2D
from tinykws.nn.layers import Dense, Flatten, ReLU
from tinykws.nn.model import Sequential
from tinykws.nn.pooling import AveragePool2D, GlobalAveragePool
from tinykws.quant import qat
from tinykws.quant.fake_quant import FakeQuant, QConfig
from tinykws.quant.grid import asymmetric_params
from tinykws.quant.ptq import quantize_model
from tinykws.tflite.model import Graph, Operator, Tensor


def _calibrated(name: str, seed: int, bits: int):
    """A busy zoo model, its calibrated fake-quant copy, the integer graph of its ranges, inputs."""
    model = _busy_model(name, seed)
    for layer in model.layers:  # smaller weights than _busy_model's: no layer saturates
        if "weight" in layer.params:
            layer.params["weight"] *= 0.3
    rng = np.random.default_rng(seed)
    x = (rng.integers(0, 666, (16, 49, 40, 1)) * 10 / 256).astype(np.float32)  # micro features
    fq = qat.fake_quant_model(model, bits)
    qat.calibrate_ranges(fq, x)
    graph = quantize_model(qat.strip(fq), ranges=qat.activation_ranges(fq), softmax=False, bits=bits)
    return model, fq, graph, x


@pytest.mark.parametrize("name", ["ds_cnn", "conv"])
@pytest.mark.parametrize("seed, bits", [(0, 8), (1, 8), (2, 4), (3, 3)])
def test_every_rounding_point_of_the_fake_quant_forward_is_the_integer_models(name, seed, bits):
    """Layer by layer, fed the integer model's own input to it, the fake-quant forward lands on the
    integer model's codes: pools exactly, convs and dense layers but for requantization (TFLite's
    fixed-point multiplier rounds an exact int32 sum, the float pass a float32 one: at most one
    code apart, on well under 1 % of the outputs)."""
    _, fq, graph, x = _calibrated(name, seed, bits)
    values = Int8Runtime(graph, activation_bits=bits).run(float_to_int8_input(x), keep_all=True)
    ops = [op for op in graph.operators if op.op not in ("RESHAPE", "MAX_POOL_2D")]
    h, k, differ, total = x, 0, 0, 0
    for layer in fq.layers:
        h = layer.forward(h)
        if not isinstance(layer, (FakeQuant, qat.QuantAveragePool)):
            continue
        out = graph.tensors[ops[k].outputs[0]]
        integer = values[ops[k].outputs[0]].astype(int).reshape(h.shape)
        codes = np.round(h / out.scale[0]).astype(int) + out.zero_point[0]
        if ops[k].op == "AVERAGE_POOL_2D":
            np.testing.assert_array_equal(codes, integer)
        assert np.abs(codes - integer).max() <= 1, ops[k].op
        differ, total = differ + int((codes != integer).sum()), total + codes.size
        h = ((integer - out.zero_point[0]) * out.scale[0]).astype(np.float32)  # the integer input
        k += 1
    assert k == len(ops) and differ / total < 0.01


@pytest.mark.parametrize("name", ["ds_cnn", "conv"])
def test_the_fake_quant_logits_are_the_integer_logits_within_two_codes(name):
    for seed in range(3):
        _, fq, graph, x = _calibrated(name, seed, 8)
        out = graph.tensors[graph.outputs[0]]
        logits = np.round(fq.forward(x) / out.scale[0]).astype(int) + out.zero_point[0]  # (N, 4)
        integer = Int8Runtime(graph).run(float_to_int8_input(x)).astype(int)
        assert np.abs(logits - integer).max() <= 2


@pytest.mark.parametrize("bits", [8, 4])
def test_folded_and_depthwise_weights_are_the_integer_weights_exactly(bits):
    _, fq, graph, _ = _calibrated("ds_cnn", 4, bits)
    layers = [layer for layer in fq.layers if getattr(layer, "weight_quant", None) is not None]
    weighted = [op for op in graph.operators if op.op in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")]
    assert sum(op.op == "DEPTHWISE_CONV_2D" for op in weighted) == 5  # the first conv (1 channel in) too
    for layer, op in zip(layers, weighted, strict=True):
        w = graph.tensors[op.inputs[1]]
        axis = 3 if op.op == "DEPTHWISE_CONV_2D" else 0
        scales = np.array(w.scale, np.float64).reshape([-1 if a == axis else 1 for a in range(w.data.ndim)])
        expected = (w.data * scales).astype(np.float32)  # (O, KH, KW, C), (1, KH, KW, O) or (K, D)
        if op.op == "DEPTHWISE_CONV_2D":
            expected = expected.transpose(3, 1, 2, 0)
        np.testing.assert_array_equal(layer.effective_weight(), expected)


def test_batch_norm_is_folded_when_qat_starts_and_the_float_model_is_unchanged():
    model, fq, _, x = _calibrated("ds_cnn", 5, 8)
    assert not any(isinstance(layer, BatchNorm) for layer in fq.layers)
    plain = qat.strip(fq)
    assert len(plain.layers) == len(model.layers) - 9  # nine batch norms
    np.testing.assert_allclose(plain.forward(x), model.forward(x), rtol=1e-4,
                               atol=1e-4 * np.abs(model.forward(x)).max())
    assert isinstance(plain.layers[-3], AveragePool2D)  # the quantized pool strips to the pool
    before = {k: v.copy() for k, v in model.parameters().items()}
    fq.set_rng(np.random.default_rng(0))
    fq.forward(x, training=True)  # the original model is not touched by QAT's copy
    for k, v in model.parameters().items():
        np.testing.assert_array_equal(v, before[k])


@settings(max_examples=25)
@given(st.integers(0, 10_000), st.integers(2, 8), st.integers(4, 9), st.integers(4, 9),
       st.integers(1, 4), st.integers(1, 3), st.sampled_from(["SAME", "VALID"]))
def test_the_quantized_average_pool_is_tflites_average_pool(seed, bits, h, w, pool, stride, padding):
    """On any grid, window and padding (partial SAME windows included), bit for bit."""
    rng = np.random.default_rng(seed)
    source = FakeQuant(QConfig(bits, "asymmetric"))
    source.lo, source.hi = float(rng.uniform(-2, 0)), float(rng.uniform(0.1, 3))
    s, z = asymmetric_params(source.lo, source.hi, bits)
    codes = rng.integers(-128, -128 + 2 ** bits, (3, h, w, 2)).astype(np.int8)  # (N, H, W, C)
    layer = qat.QuantAveragePool(AveragePool2D((pool, pool), (stride, stride), padding), source, bits)
    y = layer.forward(((codes.astype(np.float64) - z) * s).astype(np.float32))
    oh, ow, _ = layer.output_shape((h, w, 2))
    graph = Graph((Tensor("x", (1, h, w, 2), "int8", (s,), (z,)),
                   Tensor("y", (1, oh, ow, 2), "int8", (s,), (z,))),
                  (Operator("AVERAGE_POOL_2D", (0,), (1,), {
                      "padding": padding, "stride_h": stride, "stride_w": stride,
                      "filter_height": pool, "filter_width": pool, "activation": "NONE"}),), (0,), (1,))
    integer = Int8Runtime(graph, activation_bits=bits).run(codes).astype(int)
    np.testing.assert_array_equal(np.round(y / s).astype(int) + z, integer)
    dx = layer.backward(np.ones_like(y))  # straight through: the float pool's gradient
    assert dx.shape == codes.shape and dx.sum() == pytest.approx(y.size)


def test_a_layer_without_an_integer_rule_is_refused():
    model = Sequential([Conv2D(1, 4, (3, 3)), ReLU(), GlobalAveragePool(), Dense(4, 2)], (49, 40, 1))
    with pytest.raises(ValueError, match="no rule for layer 2 \\(GlobalAveragePool\\)"):
        qat.fake_quant_model(model, 8)
    pool_first = Sequential([AveragePool2D((2, 2)), Flatten(), Dense(24 * 20, 2)], (49, 40, 1))
    with pytest.raises(ValueError, match="average pool before"):
        qat.fake_quant_model(pool_first, 8)


@pytest.mark.parametrize("name, pool", [("ds_cnn", "AVERAGE_POOL_2D"), ("tiny_embedding_conv", None),
                                        ("conv", "MAX_POOL_2D")])
def test_the_quantization_study_takes_a_zoo_run_and_reports_its_costs(zoo_runs, name, pool):
    from tinykws.size import layer_sizes
    from tinykws.tflite.reader import parse_tflite
    from tinykws.train.checkpoint import load_checkpoint

    root, run = zoo_runs
    out = root / f"{name}-quant"
    assert main(["quantize", str(run(name)), "--out", str(out), "--bits", "4,8", "--formats", "E4M3",
                 "--finetune-steps", "2", "--calibration", "100", "--no-progress", "--jobs", "1"]) == 0
    result = json.loads((out / "quant.json").read_text())
    assert result["complete"] and set(result["ptq"]) == set(result["qat"]) == {"4", "8"}
    sizes = layer_sizes(load_checkpoint(run(name) / "model.npz")[0])
    model = result["model"]
    assert model["architecture"] == name and model["cpu_float_us"] > 0
    assert (model["params"], model["flops"]) == (sum(s.params for s in sizes), sum(s.flops for s in sizes))
    for entry in (result["ptq"]["8"], result["qat"]["8"]):
        assert entry["tflite_bytes"] > model["params"] - sum(s.params for s in sizes if "batch_norm" in s.name)
        assert entry["cpu_int8_us"] > 0 and 0 < entry["mcu_cmsis_nn_ms"] < entry["mcu_reference_ms"]
    blob = (out / "qat8.tflite").read_bytes()
    assert len(blob) == result["qat"]["8"]["tflite_bytes"]
    ops = {op.op for op in parse_tflite(blob).operators}
    assert (pool in ops) if pool else not ops & {"AVERAGE_POOL_2D", "MAX_POOL_2D"}
    tflm = result["qat"]["8"]["tflm"]
    if tflm is not None:
        assert tflm["bit_exact"] and tflm["examples"] > 0
    for entry in [*result["ptq"].values(), *result["qat"].values(), *result["minifloat"].values()]:
        assert 0 <= entry["testing_balanced_accuracy"] <= 1


def test_a_run_whose_model_qat_cannot_follow_is_a_one_line_error(zoo_runs, tmp_path, capsys):
    import shutil

    from tinykws.train.checkpoint import load_checkpoint, save_checkpoint

    _, run = zoo_runs
    shutil.copytree(run("tiny_embedding_conv"), tmp_path / "run")
    _, meta, _ = load_checkpoint(tmp_path / "run" / "model.npz")
    odd = Sequential([Conv2D(1, 4, (3, 3)), ReLU(), GlobalAveragePool(), Dense(4, len(meta["labels"]))],
                     (49, 40, 1))
    save_checkpoint(tmp_path / "run" / "model.npz", odd, meta)
    capsys.readouterr()  # the training's progress
    assert main(["quantize", str(tmp_path / "run"), "--out", str(tmp_path / "q"), "--modes", "qat",
                 "--calibration", "100"]) == 2
    err = capsys.readouterr().err
    assert "quantization-aware training: " in err and "(GlobalAveragePool)" in err and err.count("\n") == 1
    assert not (tmp_path / "q" / "quant.json").exists()
