"""TF's low_latency_svdf: its shapes, its float streaming form, and its int8 model streaming
bit-exactly in tflite-micro on real clips, one frame per invocation."""

import numpy as np
import pytest

from test_ds_cnn import real_clip_features  # noqa: F401  (a fixture)
from tinykws.nn.model import from_spec
from tinykws.nn.svdf import SVDF
from tinykws.nn.zoo import build_model
from tinykws.quant.ptq import quantize_model
from tinykws.tflite.reader import parse_tflite
from tinykws.tflite.writer import serialize_tflite

SVDF_OPS = ["SVDF", "FULLY_CONNECTED", "FULLY_CONNECTED", "FULLY_CONNECTED", "SOFTMAX"]


def _model(labels: int, seed: int, input_shape=(49, 40, 1)):
    """The zoo model with weights larger than TF's initial ones, so that every layer matters."""
    rng = np.random.default_rng(seed)
    model = build_model("low_latency_svdf", labels, rng, input_shape)
    for layer in model.layers:
        for v in layer.params.values():
            v[...] = rng.normal(0, 0.05, v.shape)
    return model


def test_low_latency_svdf_has_tfs_shapes_and_parameter_count():
    model = build_model("low_latency_svdf", 12, np.random.default_rng(0))
    svdf = model.layers[0]
    assert isinstance(svdf, SVDF) and (svdf.units, svdf.rank, svdf.memory) == (1280, 2, 49)
    # weights_frequency, weights_time, bias, then dense 1280 -> 256 -> 256 -> 12
    expected = 40 * 2560 + 2560 * 49 + 1280 + 1280 * 256 + 256 + 256 * 256 + 256 + 256 * 12 + 12
    assert sum(v.size for v in model.parameters().values()) == expected
    assert model.shapes()[-1] == (12,)
    assert from_spec(model.spec()).spec() == model.spec()
    w = svdf.params["weights_time"]
    assert np.abs(w).max() <= 0.02 and 0.004 < w.std() < 0.01  # truncated normal, std 0.01
    mfcc = build_model("low_latency_svdf", 12, np.random.default_rng(0), (49, 10, 1))
    assert mfcc.layers[0].params["weights_feature"].shape == (2560, 10)


def test_float_whole_clip_forward_equals_the_streamed_one():
    model = _model(4, 1)
    x = np.random.default_rng(2).uniform(0, 26, (3, 49, 40, 1)).astype(np.float32)
    svdf, rest = model.layers[0], model.layers[1:]
    state = svdf.initial_state(len(x))
    for t in range(49):
        h, state = svdf.step(x[:, t, :, 0], state)
    for layer in rest:
        h = layer.forward(h)
    np.testing.assert_allclose(h, model.forward(x), rtol=1e-4, atol=1e-4)


@pytest.fixture(scope="module")
def exported(real_clip_features):  # noqa: F811
    from tinykws.features.model_input import to_float_model_input, to_int8_model_input

    model = _model(6, 3)
    x = to_float_model_input(real_clip_features)[..., None]  # (18, 49, 40, 1) float32
    graph = quantize_model(model, x)
    q = to_int8_model_input(real_clip_features)[..., None]  # (18, 49, 40, 1) int8
    return model, x, graph, serialize_tflite(graph), q


def test_the_int8_model_takes_one_frame_and_keeps_its_memory_in_a_variable_tensor(exported):
    _, _, graph, blob, _ = exported
    parsed = parse_tflite(blob)
    assert [op.op for op in parsed.operators] == SVDF_OPS
    assert parsed.tensors[parsed.inputs[0]].shape == (1, 40)
    state = parsed.tensors[parsed.operators[0].inputs[4]]
    assert state.is_variable and state.dtype == "int16" and state.shape == (1, 49 * 2560)
    svdf_out = parsed.tensors[parsed.operators[0].outputs[0]]
    assert svdf_out.zero_point == (-128,)  # the ReLU lives in the output's range
    assert parsed.operators[0].options == {"rank": 2, "activation": "RELU"}
    _, wf, wt, bias, _ = (parsed.tensors[i] for i in parsed.operators[0].inputs)
    assert (wf.dtype, wt.dtype, bias.dtype) == ("int8", "int16", "int32")
    assert np.abs(wf.data).max() == 127 and np.abs(wt.data).max() == 32767  # symmetric, full scale
    assert bias.scale[0] == float(np.float32(state.scale[0] * wt.scale[0]))  # TFLM's Prepare checks it


@pytest.mark.parametrize("backend, clips", [("numba", range(18)), ("numpy", range(0, 18, 6))])
def test_every_tensor_of_every_invocation_matches_tflm_on_real_clips(exported, backend, clips):
    pytest.importorskip("tflite_micro")
    from test_int8_vs_tflm import tflm_interpreter
    from tinykws.int8.runtime import Int8Runtime

    _, _, _, blob, q = exported
    runtime = Int8Runtime(parse_tflite(blob), backend=backend)
    interpreter = tflm_interpreter(blob)
    for i in clips:
        runtime.reset_state()
        interpreter.reset()
        for t in range(49):
            frame = q[i:i + 1, t, :, 0]  # (1, 40) int8
            interpreter.set_input(frame, 0)
            interpreter.invoke()
            ours = runtime.run(frame, keep_all=True)
            assert len(ours) == len(SVDF_OPS) + 2  # the input, every output and the state
            for index, value in ours.items():
                np.testing.assert_array_equal(value, interpreter.GetTensor(index, 0)["tensor_data"],
                                              err_msg=f"clip {i}, frame {t}, tensor {index}")


def test_a_batch_of_clips_streams_as_each_clip_alone_and_ranks_as_the_float_model(exported):
    from tinykws.int8.runtime import Int8Runtime

    model, x, graph, blob, q = exported
    runtime = Int8Runtime(parse_tflite(blob))
    scores = runtime.run_clip(q)  # (18, 6) int8 probabilities
    for i in (0, 7, 17):
        np.testing.assert_array_equal(runtime.run_clip(q[i:i + 1]), scores[i:i + 1])
    values = {}
    runtime.reset_state()
    for t in range(49):
        values = runtime.run(np.ascontiguousarray(q[:, t, :, 0]), keep_all=True)
    logits = values[graph.operators[-2].outputs[0]]  # (18, 6) int8, the last dense layer
    assert len(np.unique(logits)) > 20  # spread over the int8 range, not saturated
    assert (logits.argmax(1) == model.forward(x).argmax(1)).mean() >= 0.8


def test_check_against_tflm_and_litert_stream_a_clip(exported):
    pytest.importorskip("tflite_micro")
    from tinykws.int8.runtime import Int8Runtime
    from tinykws.tflite.interpreters import check_against_tflm, litert_runner

    _, _, _, blob, q = exported
    check = check_against_tflm(blob, q[:6])
    assert check == {"examples": 6, "bit_exact": True, "mismatches": 0}
    pytest.importorskip("ai_edge_litert")
    ours = Int8Runtime(parse_tflite(blob)).run_clip(q[:6])
    litert = litert_runner(blob)  # the reference kernels, reset before each clip
    # ai-edge-litert loads the streaming model and nearly agrees: on these clips its
    # SVDF outputs equal ours after every frame (its state tensor holds the memory
    # differently between invocations), but, as for DS-CNN (test_ds_cnn.py), its
    # per-tensor FULLY_CONNECTED rounds once where tflite-micro rounds twice, so a
    # score may be 1 off.
    diffs = [np.abs(litert(q[i:i + 1]).astype(int) - ours[i:i + 1]).max() for i in range(6)]
    assert max(diffs) <= 1


def test_size_counts_the_svdf_per_invocation_and_its_int16_state(exported):
    from tinykws.size import format_report, size_report

    model, _, _, blob, _ = exported
    r = size_report(model, measure_latency=False)
    svdf = r["layers"][0]
    assert svdf["macs"] == 2560 * (40 + 49)  # one frame's feature filter, the time filter
    assert svdf["flops"] == 2 * svdf["macs"] + 1280
    assert r["ram_state_bytes"] == 2 * 49 * 2560  # 97 % of the Nano 33 BLE's 256 KB
    assert r["ram_peak_int8_bytes"] == 1280 + 256  # one frame in: the first dense layer's buffers
    weights = 2560 * 40 + 2 * 2560 * 49 + 4 * 1280 + 16
    assert r["flash_int8_bytes"] == weights + (1280 * 256 + 256 * 256 + 256 * 6) + 4 * (256 + 256 + 6) + 24
    assert 0 < len(blob) - r["flash_int8_bytes"] < 0.01 * len(blob)  # the file adds its graph
    assert "streaming state:       250,880 B int16" in format_report(r)


def test_train_and_convert_take_low_latency_svdf(tmp_path, capsys):
    """Our training loop trains it and `convert` streams its test clips bit-exactly in tflite-micro."""
    import json

    from fixtures import make_training_set
    from tinykws.cli import main

    data = make_training_set(tmp_path / "d", {"yes": 60, "no": 60, "up": 20})
    run = tmp_path / "run"
    assert main(["train", "--data", str(data), "--out", str(run), "--steps", "40",
                 "--eval-every", "20", "--batch-size", "32", "--model", "low_latency_svdf"]) == 0
    assert main(["size", str(run)]) == 0
    assert "623,876" in capsys.readouterr().out  # 4 labels
    assert main(["convert", str(run), "--out", str(tmp_path / "out"), "--calibration", "100"]) == 0
    report = json.loads((tmp_path / "out" / "convert.json").read_text())
    assert report["operators"] == SVDF_OPS
    if report["tflm"] is not None:
        assert report["tflm"]["bit_exact"] and report["tflm"]["examples"] == report["test_examples"]


def test_the_mcu_estimate_covers_svdf_and_its_arena_matches_tflms(exported):
    pytest.importorskip("tflite_micro")
    from tinykws.mcu.estimate import estimate_model
    from tinykws.tflite.interpreters import tflm_arena_bytes

    _, _, graph, blob, _ = exported
    arena = tflm_arena_bytes(blob)
    estimates = {k: estimate_model(graph, k, model_bytes=len(blob)) for k in ("reference", "cmsis-nn")}
    for est in estimates.values():
        svdf = est.ops[0]
        assert (svdf.op, svdf.macs, svdf.taps, svdf.outputs) == ("SVDF", 2560 * 89, 2560 * 49, 2560 + 1280)
        # the head: activations + the SVDF's two int32 scratch buffers; the tail holds its state
        assert (est.planned_bytes, est.persistent_bytes) == (arena["head"], arena["tail"])
        assert est.persistent_bytes > 2 * 49 * 2560
    assert estimates["cmsis-nn"].network_ms < estimates["reference"].network_ms


def test_infer_scores_a_streaming_model_clip_by_clip_as_tflm_does(exported):
    pytest.importorskip("tflite_micro")
    from tinykws.cli.infer import scores_with

    _, _, _, blob, q = exported
    np.testing.assert_array_equal(scores_with("tinykws", blob, q[:4]), scores_with("tflm", blob, q[:4]))


def test_stream_scores_streams_the_recording_once_with_every_windows_scores(exported, real_test_dir):
    from tinykws.audio import fit_length, load_wav, to_int16
    from tinykws.int8.runtime import Int8Runtime
    from tinykws.stream.device import stream_scores

    _, _, _, blob, _ = exported
    paths = sorted((real_test_dir / "yes").glob("*.wav"))[:2]
    samples = np.concatenate([fit_length(to_int16(load_wav(p)), 16000) for p in paths])  # 2 s
    runtime = Int8Runtime(parse_tflite(blob))
    times, scores, windows = stream_scores(runtime, samples)
    assert len(windows) == len(scores) == len(times) > 40
    np.testing.assert_array_equal(scores, runtime.run_clip(np.ascontiguousarray(windows)))
