"""The micro frontend is bit-exact against TensorFlow's op and tflite-micro's C code.

Two ground truths, because two copies of the C frontend exist and differ in how
they build their float tables (see ``MicroFrontendConfig.tables``):

- TensorFlow's ``audio_microfrontend`` op (what TF's training runs): committed
  golden outputs made by ``tests/golden/make_micro_frontend_golden.py``;
- tflite-micro's frontend (what runs on the device), live through
  ``pymicro-features``, which wraps that C code at a 10 ms stride.
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinykws.errors import TinyKWSError
from tinykws.features.kissfft_fixed import kiss_fftr
from tinykws.features.micro_frontend import (
    MicroFrontendConfig, fixed_log, micro_features, micro_features_batch, micro_features_numba,
    sqrt64, window_coefficients)
from tinykws.features.model_input import to_float_model_input, to_int8_model_input

GOLDEN = Path(__file__).parent / "golden" / "micro_frontend_golden.npz"
# Example counts: bounded by default, ten times more under --slow (whose
# hypothesis profile raises the default to 2000).
DEEP = 10 if settings().max_examples >= 1000 else 1
# audio_microfrontend's argument names -> MicroFrontendConfig's.
OP_ARGS = {"sample_rate": "sample_rate", "window_size": "window_ms", "window_step": "stride_ms",
           "num_channels": "num_channels", "lower_band_limit": "lower_band_hz",
           "upper_band_limit": "upper_band_hz", "smoothing_bits": "smoothing_bits",
           "even_smoothing": "even_smoothing", "odd_smoothing": "odd_smoothing",
           "min_signal_remaining": "min_signal_remaining", "enable_pcan": "enable_pcan",
           "pcan_strength": "pcan_strength", "pcan_offset": "pcan_offset", "gain_bits": "gain_bits",
           "enable_log": "enable_log", "scale_shift": "scale_shift"}


def _golden_cases():
    with np.load(GOLDEN, allow_pickle=False) as z:
        configs = json.loads(str(z["configs"]))
        signals = [k.split("/", 1)[1] for k in z.files if k.startswith("input/")]
        for cfg_name, kwargs in configs.items():
            for sig in signals:
                yield pytest.param(cfg_name, kwargs, sig, id=f"{cfg_name}-{sig}")


@pytest.mark.parametrize("cfg_name,kwargs,signal", list(_golden_cases()))
def test_matches_tensorflow_audio_microfrontend_op(cfg_name, kwargs, signal):
    config = MicroFrontendConfig(tables="tensorflow", **{OP_ARGS[k]: v for k, v in kwargs.items()})
    with np.load(GOLDEN, allow_pickle=False) as z:
        x, expected = z[f"input/{signal}"], z[f"output/{cfg_name}/{signal}"]
    np.testing.assert_array_equal(micro_features(x, config), expected)
    np.testing.assert_array_equal(micro_features_numba(x, config), expected)


def _pymicro_features(x: np.ndarray) -> np.ndarray:
    """tflite-micro's frontend via pymicro-features: 30 ms / 10 ms / 40 channels."""
    from pymicro_features import MicroFrontend

    frontend, frames, data = MicroFrontend(), [], x.astype(np.int16).tobytes()
    for i in range(0, len(data), 320):  # 160 samples at a time, as a device would
        out = frontend.process_samples(data[i:i + 320])
        if out.features:
            frames.append(out.features)
    # It returns uint16 * 10/256 as float; * 25.6 recovers the integers exactly.
    return np.round(np.array(frames, dtype=np.float64) * 25.6).astype(np.uint16).reshape(-1, 40)


TFLM_10MS = MicroFrontendConfig(stride_ms=10, tables="tflm")


def _vowel() -> np.ndarray:
    """Speech-like stand-in: a gliding 100-140 Hz pulse train through three
    formant resonances (700, 1200, 2600 Hz), rising and falling in level."""
    t = np.arange(16000) / 16000
    f0 = 120 + 20 * np.sin(2 * np.pi * 2 * t)
    phase = 2 * np.pi * np.cumsum(f0) / 16000
    voice = sum(np.cos(h * phase) * sum(1 / (1 + ((h * 120 - f) / 90) ** 2) for f in (700, 1200, 2600))
                for h in range(1, 60))
    envelope = np.sin(np.pi * t) ** 2
    return (12000 * envelope * voice / np.abs(voice).max()).astype(np.int16)


def _signals():
    rng = np.random.default_rng(7)
    t = np.arange(16000) / 16000
    return {
        "vowel": _vowel(),
        "silence": np.zeros(16000, np.int16),
        "square_full_scale": np.where((np.arange(16000) // 16) % 2, 32767, -32768).astype(np.int16),
        "white_noise": np.clip(rng.normal(0, 5000, 16000), -32768, 32767).astype(np.int16),
        "chirp": (25000 * np.sin(2 * np.pi * (100 * t + 3900 * t ** 2))).astype(np.int16),
        "quiet_noise": rng.integers(-3, 4, 16000).astype(np.int16),
    }


@pytest.mark.parametrize("name", list(_signals()))
def test_matches_tflite_micro_frontend_live(name):
    x = _signals()[name]
    expected = _pymicro_features(x)
    np.testing.assert_array_equal(micro_features(x, TFLM_10MS), expected)
    np.testing.assert_array_equal(micro_features_numba(x, TFLM_10MS), expected)


def test_matches_tflite_micro_on_synthetic_speech(speech_synth_dir):
    from tinykws.audio import load_wav, to_int16

    for path in sorted((speech_synth_dir / "yes").glob("*.wav"))[:3]:
        x = to_int16(load_wav(path))
        np.testing.assert_array_equal(micro_features_numba(x, TFLM_10MS), _pymicro_features(x))


def test_matches_tflite_micro_on_real_speech(real_test_dir):
    from tinykws.audio import load_wav, to_int16

    for word in ("yes", "no", "_silence_"):
        path = sorted((real_test_dir / word).glob("*.wav"))[0]
        x = to_int16(load_wav(path))
        np.testing.assert_array_equal(micro_features_numba(x, TFLM_10MS), _pymicro_features(x))


@settings(max_examples=40 * DEEP)
@given(seed=st.integers(0, 2**32 - 1),
       amplitude=st.sampled_from([1, 30, 1000, 10000, 30000, 32767, 200000]),
       chunks=st.integers(3, 50), extra=st.integers(0, 159))
def test_matches_tflite_micro_on_random_signals(seed, amplitude, chunks, extra):
    # pymicro-features takes whole 10 ms chunks (160 samples), so it gets the
    # whole chunks and ours the ragged tail too: that tail is too short for
    # another frame, so both must give the same frames. Amplitudes above
    # full scale clip, like an overdriven microphone.
    rng = np.random.default_rng(seed)
    x = np.clip(rng.normal(0, amplitude, 160 * chunks + extra), -32768, 32767).astype(np.int16)
    np.testing.assert_array_equal(micro_features_numba(x, TFLM_10MS),
                                  _pymicro_features(x[:160 * chunks]))


def test_the_two_table_flavours_really_differ_somewhere():
    # Why `tables` exists: on noise the two C copies disagree on a few outputs.
    x = _signals()["white_noise"]
    a = micro_features_numba(x, MicroFrontendConfig(tables="tflm"))
    b = micro_features_numba(x, MicroFrontendConfig(tables="tensorflow"))
    assert 0 < np.count_nonzero(a != b) < a.size // 20


@settings(max_examples=25 * DEEP)
@given(seed=st.integers(0, 2**32 - 1), window_ms=st.integers(10, 40), stride_ms=st.integers(5, 20),
       channels=st.integers(8, 40), tables=st.sampled_from(["tflm", "tensorflow"]),
       pcan=st.booleans(), log=st.booleans(), amplitude=st.sampled_from([50, 5000, 32767]))
def test_numba_kernel_equals_numpy_reference(seed, window_ms, stride_ms, channels, tables, pcan,
                                             log, amplitude):
    stride_ms = min(stride_ms, window_ms)
    config = MicroFrontendConfig(window_ms=window_ms, stride_ms=stride_ms, num_channels=channels,
                                 tables=tables, enable_pcan=pcan, enable_log=log)
    x = np.clip(np.random.default_rng(seed).normal(0, amplitude, 3200), -32768, 32767).astype(np.int16)
    np.testing.assert_array_equal(micro_features_numba(x, config), micro_features(x, config))


@settings(max_examples=10 * DEEP)
@given(seed=st.integers(0, 2**32 - 1), clips=st.integers(1, 4), length=st.integers(480, 4000),
       stride_ms=st.sampled_from([10, 20]), tables=st.sampled_from(["tflm", "tensorflow"]))
def test_batch_kernel_equals_numpy_reference(seed, clips, length, stride_ms, tables):
    config = MicroFrontendConfig(stride_ms=stride_ms, tables=tables)
    rng = np.random.default_rng(seed)
    amplitude = rng.choice([10, 3000, 40000], size=(clips, 1))
    x = np.clip(rng.normal(0, 1, (clips, length)) * amplitude, -32768, 32767).astype(np.int16)
    batch = micro_features_batch(x, config)
    assert batch.shape == (clips, config.num_frames(length), 40)
    for clip, features in zip(x, batch):
        np.testing.assert_array_equal(features, micro_features(clip, config))


def test_batch_kernel_equals_one_clip_at_a_time():
    rng = np.random.default_rng(3)
    clips = np.clip(rng.normal(0, 4000, (5, 16000)), -32768, 32767).astype(np.int16)
    batch = micro_features_batch(clips)
    assert batch.shape == (5, 49, 40) and batch.dtype == np.uint16
    for clip, features in zip(clips, batch):
        np.testing.assert_array_equal(features, micro_features_numba(clip))


def test_one_second_at_30_20_ms_is_49_frames_of_40_channels():
    assert micro_features_numba(np.zeros(16000, np.int16)).shape == (49, 40)
    assert MicroFrontendConfig().num_frames(479) == 0


@pytest.mark.parametrize("length", [0, 100, 479])
def test_clips_shorter_than_a_window_give_no_frames(length):
    x = np.ones(length, np.int16)
    assert micro_features(x).shape == (0, 40)
    assert micro_features_numba(x).shape == (0, 40)
    assert micro_features_batch(np.ones((3, length), np.int16)).shape == (3, 0, 40)


@settings(max_examples=200 * DEEP)
@given(num=st.one_of(st.integers(0, 2**32 - 1), st.integers(0, 2**64 - 1)))
def test_kernel_square_root_equals_reference(num):
    # The kernel starts from a float guess; inputs >= 2^52 happen only when C
    # wraps an energy of 2^31 into a negative int32.
    from kernels.micro_frontend_filterbank import isqrt_rounded

    assert int(isqrt_rounded(np.uint64(num))) == sqrt64(num)


@pytest.mark.parametrize("bad", [dict(num_channels=0), dict(stride_ms=0), dict(upper_band_hz=9000.0),
                                 dict(lower_band_hz=8000.0, upper_band_hz=7000.0), dict(tables="x")])
def test_nonsense_configs_are_user_errors(bad):
    with pytest.raises(TinyKWSError, match="bad micro frontend config"):
        MicroFrontendConfig(**bad)


# -- single stages against independent arithmetic ----------------------------------

@settings(max_examples=300 * DEEP)
@given(num=st.one_of(st.integers(0, 2**32 - 1), st.integers(0, 2**64 - 1)))
def test_sqrt64_is_the_square_root_rounded_to_nearest(num):
    # The bit-by-bit root of filterbank.c rounds to nearest (ties cannot
    # happen for integers), capped so the result fits 16 bits (32 for 64-bit
    # inputs).
    root = math.isqrt(num)
    rounded = root + (num - root * root > root)
    assert sqrt64(num) == min(rounded, 0xFFFF if num < 2**32 else 0xFFFFFFFF)


@settings(max_examples=300 * DEEP)
@given(x=st.integers(2, 2**32 - 1), scale_shift=st.integers(0, 8))
def test_fixed_log_is_the_natural_log_scaled(x, scale_shift):
    # log_scale.c: ln(x) * 2^scale_shift from a 128-segment log2 table; off by
    # at most the final rounding plus the table's interpolation error, which
    # reaches 2^s / 445 (x = 2230457035 at s = 6, and near 2^31.5 at s = 8: a
    # scan of 120,000 x per shift); the bound 2^s / 500 used before was too
    # tight and failed on hypothesis's draws now and then.
    assert abs(fixed_log(x, scale_shift) - math.log(x) * 2**scale_shift) <= 0.5 + 2**scale_shift / 400


@pytest.mark.parametrize("size", [160, 400, 480, 512])
def test_window_is_hann_in_q12(size):
    i = np.arange(size)
    hann = (0.5 - 0.5 * np.cos(2 * np.pi * (i + 0.5) / size)) * 4096  # window_util.c's phase
    np.testing.assert_allclose(window_coefficients(size), hann, atol=0.51)


@pytest.mark.parametrize("nfft", [256, 512])
@pytest.mark.parametrize("amplitude", [100, 3000, 16000])
def test_fixed_point_fft_is_the_dft_divided_by_n(nfft, amplitude):
    # KISS FFT's fixed-point scaling divides by the radix at every stage, so
    # the result is rfft(x) / nfft up to a few LSB of accumulated rounding.
    x = np.clip(np.random.default_rng(nfft + amplitude).normal(0, amplitude, nfft), -32768, 32767)
    re, im = kiss_fftr(x.astype(np.int64))
    expected = np.fft.rfft(x) / nfft
    np.testing.assert_allclose(re, expected.real, atol=4)
    np.testing.assert_allclose(im, expected.imag, atol=4)


def test_silence_gives_all_zero_features():
    # Zero energy: the log stage maps values <= 1 to 0.
    assert not micro_features(np.zeros(960, np.int16)).any()


# -- what the model sees --------------------------------------------------------------

def test_int8_model_input_on_hand_computed_values():
    # (v * 256 + 333) // 666 - 128: e.g. v = 331: 85069 // 666 = 127 -> -1.
    v = np.array([0, 1, 2, 331, 332, 660, 663, 666, 65535], np.uint16)
    np.testing.assert_array_equal(to_int8_model_input(v), [-128, -128, -127, -1, 0, 126, 127, 127, 127])
    assert to_int8_model_input(v).dtype == np.int8


def test_float_model_input_on_hand_computed_values():
    v = np.array([0, 1, 64, 256, 65535], np.uint16)
    out = to_float_model_input(v)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.float32([0.0, 0.0390625, 2.5, 10.0, 65535 * 10 / 256]))


def test_int8_model_input_is_micro_speech_formula():
    # q = (v * 256 + 333) // 666 - 128, clamped; 666 = int(25.6 * 26 + 0.5).
    v = np.array([0, 1, 332, 333, 666, 32640, 32768, 65535], np.uint16)
    expected = [(int(x) * 256 + 333) // 666 - 128 for x in v]
    np.testing.assert_array_equal(to_int8_model_input(v), np.clip(expected, -128, 127))
    assert to_int8_model_input(np.array([65535], np.uint16))[0] == 127
    assert to_int8_model_input(np.array([0], np.uint16))[0] == -128


def test_int8_input_approximates_the_float_input_on_the_models_scale():
    # The model's input scale is 26/256 with zero point -128: dequantizing the
    # int8 input gives back the float input to within half a step, plus the
    # small bias of dividing by 666 instead of 665.6.
    v = np.arange(0, 664, dtype=np.uint16)  # beyond 663 the int8 input saturates at 127
    dequantized = (to_int8_model_input(v).astype(np.float64) + 128) * 26 / 256
    bias = 663 * 10 / 256 * (1 - 665.6 / 666)
    np.testing.assert_allclose(dequantized, to_float_model_input(v), atol=26 / 256 / 2 + bias)


def test_float_model_input_is_times_10_over_256():
    assert to_float_model_input(np.array([256], np.uint16))[0] == np.float32(10.0)


def test_pcan_shifts_that_would_be_negative_in_c_are_refused_only_with_pcan():
    # 30 ms at 16 kHz is a 512-point FFT: C shifts by smoothing_bits - 3 and gain_bits - 15.
    MicroFrontendConfig(smoothing_bits=3, gain_bits=15)
    MicroFrontendConfig(smoothing_bits=2, enable_pcan=False)
    with pytest.raises(TinyKWSError, match="PCAN"):
        MicroFrontendConfig(smoothing_bits=2)


def test_the_numba_kernel_imports_nothing_from_the_library():
    import subprocess
    import sys

    code = ("import sys, kernels.micro_frontend; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'tinykws'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_kernel_parameters_carry_the_reference_constants_by_name():
    from tinykws.features.micro_frontend import config as c
    from tinykws.features.micro_frontend.fast import kernel_inputs

    params, tables = kernel_inputs(MicroFrontendConfig(odd_smoothing=0.5))
    assert (params.window_bits, params.noise_reduction_bits, params.log_coeff) == (
        c.WINDOW_BITS, c.NOISE_REDUCTION_BITS, c.LOG_COEFF)
    assert params.odd_smoothing == 8192 and params.input_correction_bits == 3  # msb32(512) - 1 - 6
    np.testing.assert_array_equal(tables.window, window_coefficients(480))
