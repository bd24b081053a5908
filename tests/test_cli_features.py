"""`tinykws features WAV --out DIR` writes every plot and the micro arrays."""

import numpy as np
import pytest

from fixtures import noise, tone, write_pcm16
from tinykws.cli import main
from tinykws.features.micro_frontend import micro_features_numba
from tinykws.features.model_input import to_int8_model_input

PLOTS = ["waveform.png", "spectrum.png", "spectrogram.png", "mel.png", "mfcc.png", "micro.png"]


def test_features_writes_plots_and_arrays(tmp_path, capsys):
    samples = tone(440, 1.0, 0.5) + noise(1.0, 0.05)
    wav = write_pcm16(tmp_path / "clip.wav", samples)
    assert main(["features", str(wav), "--out", str(tmp_path / "out")]) == 0
    for name in PLOTS:
        data = (tmp_path / "out" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    micro = np.load(tmp_path / "out" / "micro_features.npy")
    assert micro.shape == (49, 40) and micro.dtype == np.uint16
    np.testing.assert_array_equal(micro, micro_features_numba(samples))
    int8 = np.load(tmp_path / "out" / "micro_features_int8.npy")
    np.testing.assert_array_equal(int8, to_int8_model_input(micro))


def test_features_on_a_shared_synthetic_clip(speech_synth_dir, tmp_path):
    wav = sorted((speech_synth_dir / "yes").glob("*.wav"))[0]
    assert main(["features", str(wav), "--out", str(tmp_path / "o")]) == 0
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == sorted(
        PLOTS + ["micro_features.npy", "micro_features_int8.npy"])


@pytest.mark.parametrize("content", [b"", b"not a wav at all", b"RIFF\x10\x00\x00\x00WAVEfmt "])
def test_a_broken_wav_is_a_one_line_error_and_writes_nothing(tmp_path, capsys, content):
    wav = tmp_path / "bad.wav"
    wav.write_bytes(content)
    assert main(["features", str(wav), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tinykws: error:") and "bad.wav" in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_a_44100_hz_stereo_wav_is_resampled_and_downmixed_with_warnings(tmp_path):
    import soundfile as sf

    t = np.arange(44100) / 44100
    stereo = np.stack([0.3 * np.sin(2 * np.pi * 300 * t)] * 2, axis=1)
    sf.write(tmp_path / "st.wav", stereo, 44100, subtype="PCM_16")
    with pytest.warns(UserWarning) as record:
        assert main(["features", str(tmp_path / "st.wav"), "--out", str(tmp_path / "o")]) == 0
    text = " ".join(str(w.message) for w in record)
    assert "44100" in text and ("stereo" in text or "channel" in text)
    assert np.load(tmp_path / "o" / "micro_features.npy").shape == (49, 40)


def test_features_option_writes_the_model_input_of_that_spec(tmp_path, capsys):
    import json

    from tinykws.audio import load_wav
    from tinykws.features.compute import compute_features
    from tinykws.features.spec import FeatureSpec

    wav = write_pcm16(tmp_path / "clip.wav", tone(700, 1.0, 0.4) + noise(1.0, 0.05))
    out = tmp_path / "out"
    assert main(["features", str(wav), "--out", str(out), "--features", "mfcc",
                 "--stride-ms", "10", "--bins", "13"]) == 0
    spec = FeatureSpec.for_mode("mfcc", stride_ms=10, bins=13)
    values = np.load(out / "features_mfcc.npy")
    assert values.shape == (98, 13) and values.dtype == np.float32
    np.testing.assert_array_equal(values, compute_features(load_wav(wav), spec))
    assert json.loads((out / "features.json").read_text()) == {**spec.to_dict(), "shape": [98, 13]}
    assert (out / "features_mfcc.png").read_bytes()[:4] == b"\x89PNG"
    # The default outputs are still there, at their default settings.
    assert np.load(out / "micro_features.npy").shape == (49, 40)


def test_micro_settings_change_the_micro_arrays(tmp_path):
    from tinykws.features.micro_frontend import MicroFrontendConfig

    samples = tone(300, 1.0, 0.5) + noise(1.0, 0.05)
    wav = write_pcm16(tmp_path / "clip.wav", samples)
    assert main(["features", str(wav), "--out", str(tmp_path / "o"), "--bins", "32",
                 "--stride-ms", "10", "--tables", "tensorflow"]) == 0
    config = MicroFrontendConfig(stride_ms=10, num_channels=32, tables="tensorflow")
    micro = np.load(tmp_path / "o" / "micro_features.npy")
    assert micro.shape == (98, 32)
    np.testing.assert_array_equal(micro, micro_features_numba(samples, config))
    np.testing.assert_array_equal(np.load(tmp_path / "o" / "features_micro.npy"),
                                  micro.astype(np.float32) * np.float32(10 / 256))


@pytest.mark.parametrize("flags, message", [
    (["--features", "average", "--bins", "300"], "only 257 spectrogram bins"),
    (["--features", "mfcc", "--bins", "64"], "at most 40 MFCCs"),
    (["--clip-ms", "20"], "no frames"),
    (["--window-ms", "30.5"], "whole milliseconds"),
    (["--features", "mlperf-mfcc", "--stride-ms", "0.01"], "stride is 0 samples"),
])
def test_bad_feature_settings_are_one_line_errors_and_write_nothing(tmp_path, capsys, flags, message):
    wav = write_pcm16(tmp_path / "clip.wav", tone(440, 1.0, 0.5))
    assert main(["features", str(wav), "--out", str(tmp_path / "out"), *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tinykws: error: bad feature settings") and message in err
    assert err.count("\n") == 1 and not (tmp_path / "out").exists()
