"""FeatureSpec: TF's prepare_model_settings sizes, and one-line refusals of settings without features."""

import json

import numpy as np
import pytest

from tinykws.errors import TinyKWSError
from tinykws.features.compute import compute_features
from tinykws.features.spec import MICRO_DEFAULT, MODES, FeatureSpec


def test_the_default_is_micro_speech():
    assert MICRO_DEFAULT == FeatureSpec.for_mode("micro")
    assert (MICRO_DEFAULT.mode, MICRO_DEFAULT.shape) == ("micro", (49, 40))
    assert (MICRO_DEFAULT.window_samples, MICRO_DEFAULT.stride_samples) == (480, 320)


def test_mlperf_defaults_give_its_49_by_10_input():
    assert FeatureSpec.for_mode("mlperf-mfcc").shape == (49, 10)


@pytest.mark.parametrize("window_ms, stride_ms, frames", [(30, 10, 98), (30, 20, 49), (25, 10, 98),
                                                          (40, 20, 49), (64, 32, 30)])
def test_frames_are_whole_windows_without_padding(window_ms, stride_ms, frames):
    spec = FeatureSpec.for_mode("mfcc", window_ms=window_ms, stride_ms=stride_ms)
    assert spec.frames == frames == 1 + (16000 - spec.window_samples) // spec.stride_samples


@pytest.mark.parametrize("window_ms, bins, average_width, width", [
    (30, 40, 6, 43),  # 257 bins in groups of 6: 42 full groups and one of 5
    (30, 20, 12, 22),
    (64, 40, 12, 43),  # 1024 samples: 513 bins
    (20, 100, 2, 129),  # 320 samples -> 512-point FFT: 257 bins
    (30, 257, 1, 257),
])
def test_average_width_floors_and_the_output_width_ceils(window_ms, bins, average_width, width):
    spec = FeatureSpec.for_mode("average", window_ms=window_ms, bins=bins)
    assert (spec.average_width, spec.width) == (average_width, width)


@pytest.mark.parametrize("mode", MODES)
def test_computed_features_have_the_spec_shape(mode):
    spec = FeatureSpec.for_mode(mode, stride_ms=10)
    x = np.random.default_rng(0).normal(0, 0.1, 16000)
    features = compute_features(x, spec)
    assert features.shape == spec.shape and features.dtype == np.float32
    assert np.isfinite(features).all() and features.std() > 0


def test_a_short_clip_is_padded_and_a_long_one_cut_as_decode_wav_does():
    rng = np.random.default_rng(1)
    x = rng.normal(0, 0.1, 12000)
    spec = FeatureSpec.for_mode("mfcc")
    np.testing.assert_array_equal(compute_features(x, spec),
                                  compute_features(np.pad(x, (0, 4000)), spec))
    np.testing.assert_array_equal(compute_features(np.concatenate([x, x]), spec),
                                  compute_features(np.concatenate([x, x])[:16000], spec))


def test_micro_mode_is_the_frontend_scaled_by_10_over_256():
    from tinykws.audio import to_int16
    from tinykws.features.micro_frontend import micro_features_numba

    x = np.random.default_rng(2).normal(0, 0.1, 16000).astype(np.float32)
    expected = micro_features_numba(to_int16(x)).astype(np.float32) * np.float32(10 / 256)
    np.testing.assert_array_equal(compute_features(x, MICRO_DEFAULT), expected)


def test_json_round_trip():
    spec = FeatureSpec.for_mode("average", window_ms=25.0, stride_ms=12.5, bins=20)
    assert FeatureSpec.from_dict(spec.to_dict()) == spec
    assert FeatureSpec.from_dict(json.loads(spec.to_json())) == spec


@pytest.mark.parametrize("settings, message", [
    (dict(mode="cepstrum"), "unknown feature mode 'cepstrum'; choose from micro, mfcc"),
    (dict(clip_ms=20), "shorter than one 30 ms window: no frames"),
    (dict(window_ms=0.1), "window is 1 samples; need at least 2"),
    (dict(stride_ms=0.01), "stride is 0 samples"),
    (dict(bins=0), "--bins must be at least 1"),
    (dict(mode="mfcc", bins=41), "at most 40 MFCCs"),
    (dict(mode="mlperf-mfcc", bins=64), "at most 40 MFCCs"),
    (dict(mode="mfcc", sample_rate=6000), "at least 8000 Hz"),
    (dict(mode="average", bins=258), "only 257 spectrogram bins"),
    (dict(mode="micro", window_ms=30.5), "whole milliseconds"),
    (dict(mode="micro", tables="float64"), "--tables must be 'tflm' or 'tensorflow'"),
    (dict(mode="micro", window_ms=20, stride_ms=30), "stride_ms must not exceed window_ms"),
    (dict(sample_rate=0), "must be positive"),
])
def test_bad_settings_are_one_line_errors(settings, message):
    with pytest.raises(TinyKWSError) as err:
        FeatureSpec(**settings)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_unknown_keys_in_stored_settings_are_an_error():
    with pytest.raises(TinyKWSError, match="unknown keys"):
        FeatureSpec.from_dict({**MICRO_DEFAULT.to_dict(), "dither": 1})
