"""Feature settings travel with the model: .tflite metadata written, read back, stated in model.h."""

import numpy as np
import pytest

from tinykws.convert.c_array import c_header
from tinykws.errors import TinyKWSError
from tinykws.features.spec import MICRO_DEFAULT, FeatureSpec
from tinykws.tflite.feature_metadata import FEATURES_METADATA, feature_spec_of, with_feature_spec
from tinykws.tflite.reader import buffer_locations, parse_tflite, read_tflite
from tinykws.tflite.writer import serialize_tflite

MFCC_98x13 = FeatureSpec.for_mode("mfcc", stride_ms=10, bins=13)


@pytest.fixture(scope="module")
def tiny_conv(reference_models_dir):
    return read_tflite(reference_models_dir / "tiny_conv_int8.tflite")


def test_a_tf_made_model_has_no_entry_and_means_micro_defaults(tiny_conv):
    assert tiny_conv.metadata == ()  # TF's CONVERSION_METADATA is not kept
    assert feature_spec_of(tiny_conv) == MICRO_DEFAULT


def test_the_micro_default_is_written_as_no_entry_and_keeps_the_bytes(tiny_conv):
    data = serialize_tflite(with_feature_spec(tiny_conv, MICRO_DEFAULT))
    assert data == serialize_tflite(tiny_conv)
    assert feature_spec_of(parse_tflite(data)) == MICRO_DEFAULT
    assert with_feature_spec(with_feature_spec(tiny_conv, MFCC_98x13), MICRO_DEFAULT).metadata == ()


@pytest.mark.parametrize("spec", [MFCC_98x13, FeatureSpec.for_mode("micro", stride_ms=10),
                                  FeatureSpec.for_mode("average", window_ms=25.5, bins=20),
                                  FeatureSpec.for_mode("mlperf-mfcc"),
                                  FeatureSpec.for_mode("micro", tables="tensorflow", bins=32)])
def test_written_spec_reads_back_equal(tiny_conv, spec):
    graph = parse_tflite(serialize_tflite(with_feature_spec(tiny_conv, spec)))
    assert feature_spec_of(graph) == spec
    assert [name for name, _ in graph.metadata] == [FEATURES_METADATA]


def test_the_entry_is_json_in_its_own_aligned_buffer(tiny_conv):
    data = serialize_tflite(with_feature_spec(tiny_conv, MFCC_98x13))
    start, size = buffer_locations(data)[-1]
    assert data[start:start + size] == MFCC_98x13.to_json().encode()
    assert b'"mode":"mfcc"' in data[start:start + size] and start % 16 == 0


def test_setting_a_spec_twice_keeps_one_entry(tiny_conv):
    spec = FeatureSpec.for_mode("mlperf-mfcc")
    graph = with_feature_spec(with_feature_spec(tiny_conv, MFCC_98x13), spec)
    assert len(graph.metadata) == 1 and feature_spec_of(graph) == spec


@pytest.mark.parametrize("payload", [b"\xff\xfe", b"[1, 2]", b'{"mode": "mfcc", "bins": 99}',
                                     b'{"mode": "micro", "colour": 1}'])
def test_an_unreadable_entry_is_a_one_line_error(tiny_conv, payload):
    from dataclasses import replace

    graph = parse_tflite(serialize_tflite(replace(tiny_conv, metadata=((FEATURES_METADATA, payload),))))
    with pytest.raises(TinyKWSError) as err:
        feature_spec_of(graph, "m.tflite")
    assert str(err.value).startswith("m.tflite: unreadable tinykws_features metadata")
    assert "\n" not in str(err.value)


def test_a_model_with_the_entry_runs_bit_exactly_as_without_it(tiny_conv):
    from tinykws.int8.runtime import Int8Runtime
    from tinykws.tflite.interpreters import litert_runner, tflm_runner

    pytest.importorskip("tflite_micro")
    pytest.importorskip("ai_edge_litert")
    plain = serialize_tflite(tiny_conv)
    tagged = serialize_tflite(with_feature_spec(tiny_conv, MFCC_98x13))
    assert tagged != plain
    x = np.random.default_rng(3).integers(-128, 128, (6, 49, 40, 1), dtype=np.int8)
    ours = Int8Runtime(parse_tflite(tagged)).run(x)
    micro, lite = tflm_runner(tagged), litert_runner(tagged)
    for i in range(len(x)):
        np.testing.assert_array_equal(micro(x[i:i + 1]), ours[i:i + 1])
        np.testing.assert_array_equal(lite(x[i:i + 1]), ours[i:i + 1])
    np.testing.assert_array_equal(ours, Int8Runtime(parse_tflite(plain)).run(x))
    assert len({row.tobytes() for row in ours}) > 1


def _defines(header: str) -> dict[str, str]:
    return {line.split()[1]: line.split(None, 2)[2] for line in header.splitlines()
            if line.startswith("#define ") and len(line.split()) == 3}


def test_model_h_states_the_micro_defaults():
    d = _defines(c_header())
    assert d["TINYKWS_FEATURE_MODE"] == '"micro"' and d["TINYKWS_FEATURE_MODE_MICRO"] == "1"
    assert (d["TINYKWS_FEATURE_COUNT"], d["TINYKWS_FEATURE_SIZE"]) == ("49", "40")
    assert (d["TINYKWS_WINDOW_SAMPLES"], d["TINYKWS_STRIDE_SAMPLES"]) == ("480", "320")
    assert d["TINYKWS_MICRO_TABLES"] == '"tflm"'


def test_model_h_states_another_spec():
    spec = FeatureSpec.for_mode("average", window_ms=20, stride_ms=10, bins=100, sample_rate=8000)
    d = _defines(c_header(spec))
    assert d["TINYKWS_FEATURE_MODE"] == '"average"' and d["TINYKWS_FEATURE_MODE_AVERAGE"] == "1"
    assert d["TINYKWS_FEATURE_MODE_MICRO"] == "0" and "TINYKWS_MICRO_TABLES" not in d
    assert (d["TINYKWS_SAMPLE_RATE"], d["TINYKWS_CLIP_SAMPLES"]) == ("8000", "8000")
    assert (d["TINYKWS_FEATURE_COUNT"], d["TINYKWS_FEATURE_SIZE"]) == (str(spec.frames), "129")
    assert d["TINYKWS_FEATURE_ELEMENT_COUNT"] == str(spec.frames * 129)


def _infer(capsys, model, wav):
    import json

    from tinykws.cli import main

    assert main(["infer", str(model), str(wav), "--json"]) == 0
    return json.loads(capsys.readouterr().out)[0]["scores"]


def test_infer_computes_the_features_the_model_states(tiny_conv, tmp_path, capsys):
    from fixtures import noise, tone, write_pcm16
    from tinykws.audio import load_device_clip
    from tinykws.features.compute import int8_features
    from tinykws.features.micro_frontend import micro_features_numba
    from tinykws.features.model_input import to_int8_model_input
    from tinykws.int8.runtime import Int8Runtime
    from tinykws.tflite.writer import write_tflite

    wav = write_pcm16(tmp_path / "clip.wav", tone(500, 1.0, 0.3) + noise(1.0, 0.1))
    samples = load_device_clip(wav)
    runtime = Int8Runtime(tiny_conv)
    # No entry: micro_speech's frontend and int8 input, as before.
    micro_x = to_int8_model_input(micro_features_numba(samples))[None, ..., None]
    plain = write_tflite(tiny_conv, tmp_path / "plain.tflite")
    assert _infer(capsys, plain, wav) == runtime.run(micro_x)[0].tolist()
    # An mfcc entry of the same 49 x 40 shape: TF's MFCCs quantized with the input's scale.
    spec = FeatureSpec.for_mode("mfcc")
    inp = tiny_conv.tensors[tiny_conv.inputs[0]]
    mfcc_x = int8_features(samples / np.float32(32768), spec, inp.scale[0], inp.zero_point[0])
    assert not np.array_equal(mfcc_x, micro_x[0, ..., 0])
    tagged = write_tflite(with_feature_spec(tiny_conv, spec), tmp_path / "mfcc.tflite")
    assert _infer(capsys, tagged, wav) == runtime.run(mfcc_x[None, ..., None])[0].tolist()


def test_infer_refuses_a_model_whose_input_does_not_fit_its_features(tiny_conv, tmp_path, capsys):
    from fixtures import tone, write_pcm16
    from tinykws.cli import main
    from tinykws.tflite.writer import write_tflite

    wav = write_pcm16(tmp_path / "clip.wav", tone(500, 1.0, 0.3))
    model = write_tflite(with_feature_spec(tiny_conv, FeatureSpec.for_mode("mlperf-mfcc")),
                         tmp_path / "m.tflite")
    assert main(["infer", str(model), str(wav)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tinykws: error:") and "(49, 10)" in err and err.count("\n") == 1


def test_int8_features_round_half_away_from_zero_and_clamp():
    from tinykws.features.compute import compute_features, int8_features

    spec = FeatureSpec.for_mode("mfcc")
    x = np.random.default_rng(4).normal(0, 0.1, 16000)

    values = compute_features(x, spec)
    q = int8_features(x, spec, 0.05, 3)
    scaled = values / np.float32(0.05)  # float32
    expected = np.clip(np.sign(scaled) * np.floor(np.abs(scaled) + 0.5) + 3, -128, 127)
    np.testing.assert_array_equal(q, expected)
    assert q.max() == 127  # the first MFCCs of this clip are above the range
    assert int8_features(x, spec, 0.5, 0)[0, 1] == np.round(values[0, 1] / 0.5)
