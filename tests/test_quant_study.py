"""PTQ/QAT integer models: b-bit grids, fake quantization that predicts the integer model, the CLI."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixtures import train_tiny_run
from tinykws.cli import main
from tinykws.errors import TinyKWSError
from tinykws.features.model_input import float_to_int8_input, int8_input_to_float
from tinykws.int8.runtime import Int8Runtime
from tinykws.nn.model import tiny_conv
from tinykws.quant import qat
from tinykws.quant.grid import asymmetric_params
from tinykws.quant.ptq import quantize_model
from tinykws.quant.study import QuantStudySettings


def _model_and_features(seed: int, n: int = 16):
    rng = np.random.default_rng(seed)
    model = tiny_conv(4, rng)
    for p in model.parameters().values():  # larger weights than the 0.01 init: busy activations
        p[...] = rng.normal(0, 0.2, p.shape)
    x = (rng.integers(0, 666, (n, 49, 40, 1)) * 10 / 256).astype(np.float32)  # micro features
    return model, x


@settings(max_examples=12)
@given(st.integers(0, 10_000), st.integers(2, 8))
def test_b_bit_graph_keeps_weights_and_activations_on_b_bit_grids(seed, bits):
    model, x = _model_and_features(seed)
    graph = quantize_model(model, x, softmax=False, bits=bits)
    for t in graph.tensors:
        if t.data is not None and t.dtype == "int8":
            assert np.abs(t.data.astype(int)).max() <= 2 ** (bits - 1) - 1
    values = Int8Runtime(graph, activation_bits=bits).run(float_to_int8_input(x), keep_all=True)
    for op in graph.operators:
        out = values[op.outputs[0]].astype(int)
        assert out.min() >= -128 and out.max() <= -129 + 2 ** bits


def _fake_quant_and_integer(seed, bits, per_row=False, grid="tflite"):
    """A calibrated fake-quant model and the integer graph PTQ builds from its ranges."""
    model, x = _model_and_features(seed)
    fq = qat.fake_quant_model(model, bits, dense_per_channel=per_row, grid=grid)
    qat.calibrate_ranges(fq, x)
    graph = quantize_model(qat.strip(fq), ranges=qat.activation_ranges(fq), softmax=False, bits=bits,
                           dense_per_channel=per_row, grid=grid)
    return fq, graph, x


def _weighted_ops(graph):
    return [op for op in graph.operators if op.op in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")]


@settings(max_examples=12)
@given(st.integers(0, 10_000), st.integers(2, 8), st.booleans(), st.sampled_from(["tflite", "full-range"]))
def test_fake_quant_weights_are_the_integer_weights_exactly(seed, bits, per_row, grid):
    fq, graph, _ = _fake_quant_and_integer(seed, bits, per_row, grid)
    layers = [layer for layer in fq.layers if getattr(layer, "weight_quant", None) is not None]
    for layer, op in zip(layers, _weighted_ops(graph), strict=True):
        w = graph.tensors[op.inputs[1]]
        axis = 3 if op.op == "DEPTHWISE_CONV_2D" else 0  # TinyConv's 1-channel conv is written depthwise
        scales = np.array(w.scale, np.float64).reshape([-1 if a == axis else 1 for a in range(w.data.ndim)])
        expected = (w.data * scales).astype(np.float32)  # (O, KH, KW, C), (1, KH, KW, O) or (K, D)
        if op.op == "DEPTHWISE_CONV_2D":
            expected = expected.transpose(3, 1, 2, 0)
        np.testing.assert_array_equal(layer.effective_weight(), expected)


@settings(max_examples=12)
@given(st.integers(0, 10_000), st.integers(2, 8))
def test_fake_quant_activations_sit_on_the_integer_grid_exactly(seed, bits):
    """Same (scale, zero point); the integer model's outputs, dequantized, pass the quantizer unchanged."""
    fq, graph, x = _fake_quant_and_integer(seed, bits)
    values = Int8Runtime(graph, activation_bits=bits).run(float_to_int8_input(x), keep_all=True)
    for q, op in zip(qat.activation_quantizers(fq), _weighted_ops(graph), strict=True):
        out = graph.tensors[op.outputs[0]]
        assert asymmetric_params(q.lo, q.hi, bits) == (out.scale[0], out.zero_point[0])
        codes = values[op.outputs[0]].astype(np.float64)
        real = ((codes - out.zero_point[0]) * out.scale[0]).astype(np.float32)
        np.testing.assert_array_equal(q.forward(real), real)
    np.testing.assert_array_equal(fq.layers[0].forward(x), int8_input_to_float(float_to_int8_input(x)))


@settings(max_examples=12)
@given(st.integers(0, 10_000), st.integers(2, 8), st.booleans())
def test_fake_quant_forward_predicts_the_integer_model_up_to_requantization(seed, bits, per_row):
    """On the same grids the float forward pass and the integer model still round different sums.

    The integer model requantizes its exact int32 accumulator with TFLite's
    fixed-point multiplier (``MultiplyByQuantizedMultiplier`` rounds twice);
    the float pass sums float32 products. The two land on different sides
    of a rounding boundary for about 0.06 % of the conv outputs (measured
    over 60 models), never more than one code apart.
    """
    fq, graph, x = _fake_quant_and_integer(seed, bits, per_row)
    values = Int8Runtime(graph, activation_bits=bits).run(float_to_int8_input(x), keep_all=True)
    conv = graph.tensors[graph.operators[0].outputs[0]]
    h = x
    for layer in fq.layers[:4]:  # input quant, conv, ReLU, activation quant
        h = layer.forward(h)
    fq_codes = np.round(h / conv.scale[0]).astype(int) + conv.zero_point[0]  # (N, 25, 20, 8)
    conv_codes = values[graph.operators[0].outputs[0]].astype(int)
    assert np.abs(fq_codes - conv_codes).max() <= 1 and (fq_codes == conv_codes).mean() > 0.99
    out = graph.tensors[graph.outputs[0]]
    fq_logits = np.round(fq.forward(x) / out.scale[0]).astype(int) + out.zero_point[0]  # (N, 4)
    assert np.abs(fq_logits - values[graph.outputs[0]].astype(int)).max() <= 1


@settings(max_examples=12)
@given(st.integers(0, 10_000), st.integers(2, 8))
def test_per_row_dense_weights_give_every_row_its_full_grid(seed, bits):
    model, x = _model_and_features(seed)
    graph = quantize_model(model, x, softmax=False, bits=bits, dense_per_channel=True)
    fc = next(op for op in graph.operators if op.op == "FULLY_CONNECTED")
    w = graph.tensors[fc.inputs[1]]
    assert np.abs(w.data.astype(int)).max(axis=1).tolist() == [2 ** (bits - 1) - 1] * 4
    assert len(w.scale) == 4 and len(graph.tensors[fc.inputs[2]].scale) == 4


def test_strip_returns_the_float_weights_and_the_ranges_follow_the_layers():
    model, x = _model_and_features(1)
    fq = qat.fake_quant_model(model, 4)
    qat.calibrate_ranges(fq, x)
    plain = qat.strip(fq)
    for k, v in model.parameters().items():
        np.testing.assert_array_equal(plain.parameters()[k], v)
    (conv_lo, conv_hi), (dense_lo, dense_hi) = qat.activation_ranges(fq)
    assert conv_lo == 0.0 < conv_hi and dense_lo < 0 < dense_hi


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("quant")
    train_tiny_run(root, steps=60)
    argv = ["quantize", str(root / "run"), "--out", str(root / "q"), "--bits", "3,8",
            "--finetune-steps", "20", "--formats", "E2M1,E4M3", "--calibration", "100", "--no-progress"]
    assert main(argv) == 0
    return root, argv


def test_cli_writes_every_mode_width_and_plot(study):
    root, _ = study
    result = json.loads((root / "q" / "quant.json").read_text())
    assert result["complete"] and set(result["ptq"]) == set(result["qat"]) == {"3", "8"}
    assert set(result["minifloat"]) == {"E2M1", "E4M3"}
    assert {g: set(e) for g, e in result["grids"].items()} == {"tflite": {"3"}, "full-range": {"3"}}
    assert result["grids"]["tflite"]["3"] == result["ptq"]["3"]  # the default grid is TFLite's
    for entry in [*result["ptq"].values(), *result["qat"].values(), *result["minifloat"].values()]:
        assert 0 <= entry["testing_accuracy"] <= 1 and 0 <= entry["validation_accuracy"] <= 1
    assert result["settings"]["finetune"]["steps"] == 20
    for name in ("ptq.png", "qat.png", "ptq_vs_qat.png", "minifloat.png", "qat8.tflite"):
        assert (root / "q" / name).stat().st_size > 1000


def test_8_bit_ptq_scores_the_same_as_tinykws_convert(study):
    root, _ = study
    result = json.loads((root / "q" / "quant.json").read_text())
    assert main(["convert", str(root / "run"), "--out", str(root / "c"), "--calibration", "100"]) == 0
    converted = json.loads((root / "c" / "convert.json").read_text())
    assert result["ptq"]["8"]["testing_accuracy"] == converted["int8_test_accuracy"]


def test_qat_8_bit_export_is_bit_exact_in_tflite_micro(study):
    pytest.importorskip("tflite_micro")
    root, _ = study
    tflm = json.loads((root / "q" / "quant.json").read_text())["qat"]["8"]["tflm"]
    assert tflm["bit_exact"] and tflm["examples"] > 0 and tflm["mismatches"] == 0


def test_rerun_resumes_and_only_computes_what_is_missing(study):
    root, argv = study
    path = root / "q" / "quant.json"
    before = json.loads(path.read_text())
    partial = dict(before)
    partial["qat"] = {"8": before["qat"]["8"]}
    path.write_text(json.dumps(partial))
    assert main(argv) == 0
    after = json.loads(path.read_text())
    assert after["ptq"] == before["ptq"] and after["qat"]["8"] == before["qat"]["8"]
    assert after["qat"]["3"]["testing_accuracy"] == before["qat"]["3"]["testing_accuracy"]


def test_other_settings_in_the_same_folder_are_refused(study, capsys):
    root, argv = study
    assert main([*argv[:-1], "--lr", "0.01", "--no-progress"]) == 2
    assert "other settings" in capsys.readouterr().err


@pytest.mark.parametrize("flag, value, words", [("--bits", "0", "bits"), ("--bits", "33", "bits"),
                                                 ("--modes", "ptq,fp", "mode"),
                                                 ("--formats", "E0M2", "format")])
def test_bad_values_are_one_line_errors(study, tmp_path, capsys, flag, value, words):
    root, _ = study
    assert main(["quantize", str(root / "run"), "--out", str(tmp_path / "q"), flag, value]) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1
    assert not (tmp_path / "q").exists()


def test_an_unknown_grid_is_a_one_line_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["quantize", str(tmp_path / "run"), "--out", str(tmp_path / "q"), "--grid", "half-range"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "--grid" in err and err.count("\n") == 1
    with pytest.raises(TinyKWSError, match="grid"):
        QuantStudySettings(grid="half-range")
