"""`tinykws convert`: int8 PTQ that runs bit-exactly in tflite-micro, and the Arduino array."""

import json
import shutil
import subprocess

import numpy as np
import pytest

from fixtures import train_tiny_run
from tinykws.cli import main
from tinykws.features.model_input import float_to_int8_input
from tinykws.quant.grid import asymmetric_params, symmetric_weights
from tinykws.data.pipeline import FeaturePipeline
from tinykws.data.speech_commands import index_speech_commands
from tinykws.int8.runtime import Int8Runtime
from tinykws.tflite.reader import parse_tflite



def _tflm():
    """tflite-micro's Python runtime; skips the calling test when it is not installed."""
    return pytest.importorskip("tflite_micro", reason="tflite-micro not installed").runtime


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    root = tmp_path_factory.mktemp("conv")
    data, _ = train_tiny_run(root)
    assert main(["convert", str(root / "run"), "--out", str(root / "out"), "--calibration", "100"]) == 0
    return root, data


def _test_inputs(data):
    x, y = FeaturePipeline(index_speech_commands(data, ("yes", "no"))).split_arrays("testing")
    return float_to_int8_input(x), y


def test_convert_writes_a_model_smaller_than_micro_speechs(converted):
    root, _ = converted
    blob = (root / "out" / "model.tflite").read_bytes()
    report = json.loads((root / "out" / "convert.json").read_text())
    assert report["model_bytes"] == len(blob) <= 18_712
    assert report["operators"] == ["DEPTHWISE_CONV_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"]
    graph = parse_tflite(blob)
    inp, out = graph.tensors[graph.inputs[0]], graph.tensors[graph.outputs[0]]
    assert inp.scale == (26 / 256,) and inp.zero_point == (-128,)
    assert out.scale == (1 / 256,) and out.zero_point == (-128,)
    assert abs(report["int8_test_accuracy"] - report["float_test_accuracy"]) <= 0.05


def _assert_every_tensor_matches_tflite_micro(blob: bytes, x: np.ndarray) -> None:
    """Every tensor of our runtime equals tflite-micro's, on every example of ``x``."""
    tflm = _tflm()
    ours = Int8Runtime(parse_tflite(blob)).run(x, keep_all=True)
    interpreter = tflm.Interpreter.from_bytes(
        blob, intrepreter_config=tflm.InterpreterConfig.kPreserveAllTensors)
    for i in range(len(x)):
        interpreter.set_input(x[i:i + 1], 0)
        interpreter.invoke()
        for index, value in ours.items():
            np.testing.assert_array_equal(value[i:i + 1], interpreter.GetTensor(index, 0)["tensor_data"])


def test_every_test_clip_and_every_tensor_bit_exact_in_tflite_micro(converted):
    _tflm()
    root, data = converted
    blob = (root / "out" / "model.tflite").read_bytes()
    x, _ = _test_inputs(data)
    _assert_every_tensor_matches_tflite_micro(blob, x)


def test_per_channel_dense_weights_are_bit_exact_in_tflite_micro(converted):
    _tflm()
    root, data = converted
    out = root / "out_per_row"
    assert main(["convert", str(root / "run"), "--out", str(out), "--calibration", "100",
                 "--dense-weights", "per-channel"]) == 0
    blob = (out / "model.tflite").read_bytes()
    graph = parse_tflite(blob)
    fc = next(op for op in graph.operators if op.op == "FULLY_CONNECTED")
    weights, bias = graph.tensors[fc.inputs[1]], graph.tensors[fc.inputs[2]]
    assert len(weights.scale) == len(bias.scale) == weights.shape[0] == 4
    assert np.abs(weights.data).max(axis=1).tolist() == [127] * 4  # every row uses its full grid
    x, _ = _test_inputs(data)
    _assert_every_tensor_matches_tflite_micro(blob, x)
    report = json.loads((out / "convert.json").read_text())
    assert report["dense_weights"] == "per-channel"
    assert report["tflm"] == {"examples": len(x), "bit_exact": True, "mismatches": 0}


def test_litert_reference_kernels_agree(converted):
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert not installed")
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    root, data = converted
    blob = (root / "out" / "model.tflite").read_bytes()
    x, _ = _test_inputs(data)
    interpreter = Interpreter(model_content=blob, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interpreter.allocate_tensors()
    ours = Int8Runtime(parse_tflite(blob)).run(x)
    for i in range(len(x)):
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x[i:i + 1])
        interpreter.invoke()
        np.testing.assert_array_equal(
            interpreter.get_tensor(interpreter.get_output_details()[0]["index"]), ours[i:i + 1])


@pytest.mark.skipif(shutil.which("g++") is None, reason="no C++ compiler")
def test_model_cc_compiles_and_holds_the_model_bytes(converted, tmp_path):
    root, _ = converted
    src = (root / "out" / "model.cc").read_text()
    assert "alignas(16) const unsigned char g_model[]" in src
    main_cc = tmp_path / "main.cc"
    main_cc.write_text('#include "model.h"\n#include <cstdio>\n#include <cstdint>\n'
                       'int main() { std::printf("%d %d %s\\n", g_model_len, '
                       '(int)(reinterpret_cast<std::uintptr_t>(g_model) % 16), '
                       'reinterpret_cast<const char*>(g_model) + 4); }\n')
    exe = tmp_path / "check"
    subprocess.run(["g++", "-std=c++11", "-I", str(root / "out"), str(main_cc),
                    str(root / "out" / "model.cc"), "-o", str(exe)], check=True)
    length, alignment, ident = subprocess.run([str(exe)], capture_output=True, text=True,
                                              check=True).stdout.split()
    assert int(length) == (root / "out" / "model.tflite").stat().st_size
    assert alignment == "0" and ident.startswith("TFL3")


def test_infer_gives_the_same_scores_in_all_three_runtimes(converted, capsys):
    _tflm()
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert not installed")
    root, data = converted
    wavs = sorted(str(p) for p in (data / "yes").glob("*.wav"))[:2] + \
        sorted(str(p) for p in (data / "no").glob("*.wav"))[:2]
    results = {}
    for runtime in ("tinykws", "tflm", "litert"):
        capsys.readouterr()
        assert main(["infer", str(root / "out" / "model.tflite"), *wavs, "--runtime", runtime, "--json"]) == 0
        results[runtime] = json.loads(capsys.readouterr().out)
    assert results["tinykws"] == results["tflm"] == results["litert"]
    assert [r["file"] for r in results["tinykws"]] == wavs


def test_infer_refuses_a_non_tflite_file(tmp_path, capsys):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\x00" * 64)
    wav = tmp_path / "x.wav"
    assert main(["infer", str(bad), str(wav)]) == 2
    assert capsys.readouterr().err.startswith("tinykws: error:")


def test_quantization_parameters_follow_the_recipe():
    assert asymmetric_params(0.0, 25.5) == (pytest.approx(0.1), -128)
    scale, zp = asymmetric_params(-1.0, 3.0)
    assert scale == pytest.approx(4 / 255) and zp == round(-128 + 1 / scale)
    w = np.array([[1.0, -0.5], [0.0, 0.0], [0.25, 0.1]])
    q, s = symmetric_weights(w, axis=0)
    np.testing.assert_allclose(s, [1 / 127, 1.0, 0.25 / 127], rtol=1e-6)
    assert q[0].tolist() == [127, -64] and q[2, 0] == 127 and not q[1].any()


def test_shared_synthetic_model_bit_exact_on_every_test_clip(speech_synth_dir, tmp_path):
    tflm = _tflm()
    assert main(["train", "--data", str(speech_synth_dir), "--out", str(tmp_path / "run"), "--steps", "60",
                 "--eval-every", "30", "--schedule", "adam"]) == 0
    assert main(["convert", str(tmp_path / "run"), "--out", str(tmp_path / "out")]) == 0
    blob = (tmp_path / "out" / "model.tflite").read_bytes()
    x, _ = _test_inputs(speech_synth_dir)
    ours = Int8Runtime(parse_tflite(blob)).run(x)
    interpreter = tflm.Interpreter.from_bytes(blob)
    for i in range(len(x)):
        interpreter.set_input(x[i:i + 1], 0)
        interpreter.invoke()
        np.testing.assert_array_equal(interpreter.get_output(0), ours[i:i + 1])
