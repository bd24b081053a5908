"""PTQ/QAT integer models: b-bit grids, fake quantization that predicts the integer model, the CLI."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixtures import train_tiny_run
from tinykws.cli import main
from tinykws.convert.ptq import float_to_int8_input, quantize_model
from tinykws.int8.runtime import Int8Runtime
from tinykws.nn.model import tiny_conv
from tinykws.quant import qat


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


@settings(max_examples=12)
@given(st.integers(0, 10_000), st.integers(2, 8))
def test_fake_quant_forward_predicts_the_integer_model_to_one_code(seed, bits):
    """The QAT model's float forward pass is the integer model, up to requantization rounding."""
    model, x = _model_and_features(seed)
    fq = qat.fake_quant_model(model, bits)
    qat.calibrate_ranges(fq, x)
    graph = quantize_model(qat.strip(fq), ranges=qat.activation_ranges(fq), softmax=False, bits=bits)
    values = Int8Runtime(graph, activation_bits=bits).run(float_to_int8_input(x), keep_all=True)
    conv_codes = values[graph.operators[0].outputs[0]].astype(int) + 128  # (N, 25, 20, 8)
    h = x
    for layer in fq.layers[:4]:  # input quant, conv, ReLU, activation quant
        h = layer.forward(h)
    act = qat.activation_quantizers(fq)[0]
    scale = graph.tensors[graph.operators[0].outputs[0]].scale[0]
    fq_codes = np.round(h / scale).astype(int)
    assert np.abs(fq_codes - conv_codes).max() <= 1
    assert (fq_codes == conv_codes).mean() > 0.99
    assert act.lo == pytest.approx(0.0)


@settings(max_examples=12)
@given(st.integers(0, 10_000), st.integers(2, 8), st.booleans())
def test_fake_quant_logits_predict_the_integer_logits_to_one_code(seed, bits, per_row):
    """Through every layer, dense weights per tensor or per output row alike."""
    model, x = _model_and_features(seed)
    fq = qat.fake_quant_model(model, bits, dense_per_channel=per_row)
    qat.calibrate_ranges(fq, x)
    graph = quantize_model(qat.strip(fq), ranges=qat.activation_ranges(fq), softmax=False, bits=bits,
                           dense_per_channel=per_row)
    logits = Int8Runtime(graph, activation_bits=bits).run(float_to_int8_input(x)).astype(int)  # (N, 4)
    out = graph.tensors[graph.outputs[0]]
    fq_codes = np.round(fq.forward(x) / out.scale[0]).astype(int) + out.zero_point[0]
    assert np.abs(fq_codes - logits).max() <= 1


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
