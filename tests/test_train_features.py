"""Training on any feature mode: the spec travels from `train` to the checkpoint, the .tflite,
model.h, `infer`, `listen` and `mcu`, and the int8 model runs bit-exactly in tflite-micro."""

import json

import numpy as np
import pytest

from fixtures import make_training_set, write_pcm16
from tinykws.cli import main
from tinykws.features.compute import compute_features, features_batch, int8_features
from tinykws.features.spec import MICRO_DEFAULT, FeatureSpec

MLPERF = FeatureSpec.for_mode("mlperf-mfcc")  # 49 x 10


def _one_line_error(capsys, message: str) -> None:
    err = capsys.readouterr().err
    assert err.startswith("tinykws: error:") and err.count("\n") == 1 and message in err, err


@pytest.mark.parametrize("mode", ["micro", "mfcc", "average", "mlperf-mfcc"])
def test_a_batch_of_clips_has_the_features_of_each_clip_alone(mode):
    rng = np.random.default_rng(1)
    clips = rng.normal(0, 4000, (3, 16000)).clip(-32768, 32767).astype(np.int16)
    clips[1] = 0  # silence: MLPerf's peak normalisation leaves it zero
    spec = FeatureSpec.for_mode(mode)
    batch = features_batch(clips, spec)  # (3, frames, width)
    assert batch.shape == (3, *spec.shape) and batch.dtype == np.float32
    for clip, features in zip(clips, batch):
        np.testing.assert_array_equal(features, compute_features(clip / np.float32(32768), spec))


def test_input_of_a_non_micro_model_is_quantized_from_the_calibration_range():
    from tinykws.nn.zoo import build_model
    from tinykws.quant.grid import asymmetric_params
    from tinykws.quant.ptq import quantize_model

    model = build_model("single_fc", 4, np.random.default_rng(0), (*MLPERF.shape, 1))
    x = np.random.default_rng(1).normal(-3.0, 2.0, (20, *MLPERF.shape, 1)).astype(np.float32)
    inp = quantize_model(model, x, features=MLPERF).tensors[0]
    assert (inp.scale[0], inp.zero_point[0]) == asymmetric_params(x.min(), x.max())
    assert inp.zero_point[0] != -128  # the range reaches below 0
    micro = quantize_model(build_model("single_fc", 4, np.random.default_rng(0)), np.abs(x).reshape(
        20, 49, 10, 1).repeat(4, axis=2))
    assert (micro.tensors[0].scale[0], micro.tensors[0].zero_point[0]) == (26 / 256, -128)


def test_mcu_sizes_the_micro_frontend_by_the_spec_and_does_not_guess_other_modes():
    from tinykws.mcu.clip import clip_breakdown

    default = clip_breakdown(80.0, 64e6, 4)
    fine = clip_breakdown(80.0, 64e6, 4, FeatureSpec.for_mode("micro", stride_ms=10))
    assert (default.frames, fine.frames) == (49, 98)
    assert fine.preprocess_ms == pytest.approx(2 * default.preprocess_ms)  # same frames, twice as many
    other = clip_breakdown(80.0, 64e6, 4, MLPERF)
    assert other.preprocess_ms is None and "mlperf-mfcc" in other.preprocess_note
    assert other.total_ms == pytest.approx(80.0 + other.postprocess_ms)


# -- end to end: a DS-CNN on MLPerf Tiny's MFCCs ---------------------------------------


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_training_set(tmp_path_factory.mktemp("sc"), {"yes": 80, "no": 80, "up": 30, "down": 30})


TRAIN = ["--model", "ds_cnn", "--features", "mlperf-mfcc", "--steps", "8", "--eval-every", "4",
         "--batch-size", "16"]


@pytest.fixture(scope="module")
def converted(data, tmp_path_factory):
    """A DS-CNN run on mlperf-mfcc features and its conversion: (run, out folder)."""
    root = tmp_path_factory.mktemp("mlperf")
    run, out = root / "run", root / "int8"
    assert main(["train", "--data", str(data), "--out", str(run), *TRAIN]) == 0
    assert main(["convert", str(run), "--out", str(out), "--calibration", "100"]) == 0
    return run, out


def test_the_run_records_its_features_and_builds_the_model_for_their_shape(converted):
    from tinykws.train.checkpoint import feature_spec_of_meta, load_checkpoint

    run, _ = converted
    model, meta, _ = load_checkpoint(run / "model.npz")
    assert feature_spec_of_meta(meta) == MLPERF
    assert tuple(model.input_shape) == (49, 10, 1)
    assert json.loads((run / "metrics.json").read_text())["config"]["features"] == MLPERF.to_dict()


def test_the_tflite_and_model_h_state_the_features_and_the_input_quantization(converted):
    from tinykws.quant.grid import asymmetric_params
    from tinykws.tflite.feature_metadata import feature_spec_of
    from tinykws.tflite.reader import parse_tflite
    from tinykws.train.evaluate import calibration_set, open_run

    run, out = converted
    graph = parse_tflite((out / "model.tflite").read_bytes())
    assert feature_spec_of(graph) == MLPERF
    inp = graph.tensors[graph.inputs[0]]
    _, _, pipeline = open_run(run)
    x_cal = calibration_set(pipeline, 100)  # the clips convert calibrated on
    assert (inp.scale[0], inp.zero_point[0]) == asymmetric_params(x_cal.min(), x_cal.max())
    header = (out / "model.h").read_text()
    assert '#define TINYKWS_FEATURE_MODE "mlperf-mfcc"' in header
    assert "#define TINYKWS_FEATURE_SIZE 10\n" in header
    assert f"#define TINYKWS_INPUT_ZERO_POINT {inp.zero_point[0]}\n" in header
    assert np.float32(header.split("TINYKWS_INPUT_SCALE ")[1].split("f")[0]) == np.float32(inp.scale[0])
    report = json.loads((out / "convert.json").read_text())
    if report["tflm"] is not None:  # every test clip through our runtime and tflite-micro
        assert report["tflm"]["bit_exact"] and report["tflm"]["examples"] == report["test_examples"]


def test_the_int8_model_is_bit_exact_in_tflite_micro_on_real_clips(converted, real_test_dir):
    """Every intermediate tensor, on real speech, fed through the model's own input quantization."""
    pytest.importorskip("tflite_micro")
    from test_int8_vs_tflm import tflm_interpreter
    from test_int8_zoo_ops_vs_tflm import assert_every_tensor_matches_tflm
    from tinykws.audio import load_wav
    from tinykws.int8.runtime import Int8Runtime
    from tinykws.tflite.reader import parse_tflite

    blob = (converted[1] / "model.tflite").read_bytes()
    graph = parse_tflite(blob)
    inp = graph.tensors[graph.inputs[0]]
    paths = [p for w in ("yes", "no", "up", "_silence_", "_unknown_")
             for p in sorted((real_test_dir / w).glob("*.wav"))[:3]]
    q = np.stack([int8_features(load_wav(p), MLPERF, inp.scale[0], inp.zero_point[0])
                  for p in paths])[..., None]  # (15, 49, 10, 1) int8
    assert len(np.unique(q)) > 50  # the real clips' MFCCs spread over the int8 input
    ours = Int8Runtime(graph).run(q, keep_all=True)
    assert_every_tensor_matches_tflm(tflm_interpreter(blob), ours, q)


def test_infer_computes_the_models_features_from_a_wav(converted, data, capsys):
    from tinykws.audio import load_wav
    from tinykws.int8.runtime import Int8Runtime
    from tinykws.tflite.reader import parse_tflite

    blob = (converted[1] / "model.tflite").read_bytes()
    graph = parse_tflite(blob)
    inp = graph.tensors[graph.inputs[0]]
    wavs = sorted((data / "yes").glob("*.wav"))[:2] + sorted((data / "no").glob("*.wav"))[:1]
    capsys.readouterr()
    assert main(["infer", str(converted[1] / "model.tflite"), *map(str, wavs), "--json"]) == 0
    got = [r["scores"] for r in json.loads(capsys.readouterr().out)]
    q = np.stack([int8_features(load_wav(w), MLPERF, inp.scale[0], inp.zero_point[0])
                  for w in wavs])[..., None]
    assert got == Int8Runtime(graph).run(q).astype(int).tolist()


def test_listen_feeds_each_window_its_own_features(converted, data, tmp_path, capsys):
    from tinykws.audio import load_wav, to_int16
    from tinykws.cli.listen import int8_window_scores
    from tinykws.int8.runtime import Int8Runtime
    from tinykws.stream.listen import window_scores
    from tinykws.tflite.reader import parse_tflite
    from tinykws.train.checkpoint import load_checkpoint

    clip = to_int16(load_wav(sorted((data / "yes").glob("*.wav"))[0]))
    samples = np.concatenate([np.zeros(8000, np.int16), clip, np.zeros(6000, np.int16)])  # 1.875 s
    graph = parse_tflite((converted[1] / "model.tflite").read_bytes())
    inp = graph.tensors[graph.inputs[0]]
    times, scores = int8_window_scores(graph, MLPERF, samples)
    assert len(times) == 1 + (len(samples) - 16000) // 320
    assert times[0] == 990 and np.all(np.diff(times) == 20)  # 49 frames of 30 ms every 20 ms
    for t in (0, 7, len(times) - 1):  # window t is the clip starting at t * 320, alone
        q = int8_features(samples[t * 320:t * 320 + 16000] / np.float32(32768), MLPERF,
                          inp.scale[0], inp.zero_point[0])[None, ..., None]
        np.testing.assert_array_equal(scores[t], Int8Runtime(graph).run(q)[0])
    model, _, _ = load_checkpoint(converted[0] / "model.npz")
    float_times, float_scores = window_scores(model, samples, spec=MLPERF)
    np.testing.assert_array_equal(float_times, times)
    assert float_scores.shape == scores.shape
    wav = write_pcm16(tmp_path / "long.wav", samples)
    capsys.readouterr()
    for model_path in (converted[1] / "model.tflite", converted[0]):
        assert main(["listen", str(wav), "--model", str(model_path), "--json"]) == 0
        assert isinstance(json.loads(capsys.readouterr().out), list)


def test_mcu_reads_the_features_of_the_model(converted, capsys):
    capsys.readouterr()
    assert main(["mcu", str(converted[1] / "model.tflite"), "--kernels", "reference", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["features"] == MLPERF.to_dict()
    clip = report["estimates"][0]["clip"]
    assert clip["preprocess_ms"] is None and clip["frames"] == 49
    assert clip["total_ms"] == pytest.approx(clip["network_ms"] + clip["postprocess_ms"])


def test_resume_with_other_features_is_refused(converted, data, capsys):
    capsys.readouterr()
    argv = ["train", "--data", str(data), "--out", str(converted[0]), *TRAIN, "--resume"]
    assert main([*argv, "--bins", "13"]) == 2
    _one_line_error(capsys, "mlperf-mfcc 30/20 ms, 10 bins")


def test_a_model_that_cannot_take_the_features_is_a_one_line_error(data, tmp_path, capsys):
    # low_latency_conv's first kernel spans 8 bins; 5 MFCCs are too few.
    argv = ["train", "--data", str(data), "--out", str(tmp_path / "r"), "--steps", "2"]
    assert main([*argv, "--model", "low_latency_conv", "--features", "mfcc", "--bins", "5"]) == 2
    _one_line_error(capsys, "low_latency_conv cannot take (49, 5, 1)")
    assert main([*argv, "--features", "mlperf-mfcc"]) == 2  # tiny_conv is micro_speech's 49 x 40
    _one_line_error(capsys, "tiny_conv")
    assert main([*argv, "--features", "mfcc", "--clip-ms", "500"]) == 2
    _one_line_error(capsys, "1 s clips at 16 kHz")
    assert not (tmp_path / "r").exists()


def test_micro_runs_keep_micro_speechs_settings_out_of_cv_settings():
    from tinykws.train.loop import TrainConfig, settings_record

    assert "features" not in settings_record(TrainConfig())
    assert settings_record(TrainConfig(features=MLPERF))["features"] == MLPERF.to_dict()
    assert TrainConfig().features == MICRO_DEFAULT


def test_zoo_refuses_a_model_that_cannot_take_the_features_before_training(data, tmp_path, capsys):
    out = tmp_path / "zoo"
    assert main(["zoo", "--data", str(data), "--out", str(out), "--models", "single_fc,tiny_conv",
                 "--features", "mlperf-mfcc", "--folds", "2", "--steps", "2", "--no-progress"]) == 2
    _one_line_error(capsys, "tiny_conv is built for (49, 40, 1) inputs, not (49, 10, 1)")
    assert not (out / "single_fc").exists()


@pytest.mark.parametrize("study", ["quantize", "prune"])
def test_the_studies_refuse_a_run_on_other_features(converted, tmp_path, study, capsys):
    """Their int8 inputs and QAT's input quantizer are micro_speech's: a one-line error, no files."""
    capsys.readouterr()
    assert main([study, str(converted[0]), "--out", str(tmp_path / study)]) == 2
    _one_line_error(capsys, "takes runs on micro features; this run was trained on mlperf-mfcc")
    assert not (tmp_path / study).exists()
