"""The offline synthetic keyword set: layout, format and speaker-disjoint ids."""

import numpy as np
import pytest
import soundfile as sf

from tinykws.data import synth

needs_synth = pytest.mark.skipif(not synth.synthesizer_available(),
                                 reason="no eSpeak NG (pip install espeakng-loader)")


def test_noise_colours_have_the_expected_spectral_slope():
    rng = np.random.default_rng(0)
    slopes = {}
    for kind in ("white", "pink", "brown"):
        x = synth.make_noise(kind, 4.0, rng)
        f = np.fft.rfftfreq(len(x), 1 / 16000)
        p = np.abs(np.fft.rfft(x)) ** 2
        band = (f > 50) & (f < 5000)
        slopes[kind] = np.polyfit(np.log10(f[band]), np.log10(p[band]), 1)[0]
        assert np.abs(x).max() == pytest.approx(0.5, rel=1e-5)
    # power ~ 1/f^alpha: slopes 0, -1, -2 in log-log
    assert slopes["white"] == pytest.approx(0.0, abs=0.1)
    assert slopes["pink"] == pytest.approx(-1.0, abs=0.1)
    assert slopes["brown"] == pytest.approx(-2.0, abs=0.1)


def test_hum_is_50_hz_mains():
    x = synth.make_noise("hum", 2.0, np.random.default_rng(1))
    f = np.fft.rfftfreq(len(x), 1 / 16000)
    assert f[np.argmax(np.abs(np.fft.rfft(x)))] == pytest.approx(50.0)


def test_place_in_clip_keeps_the_word_whole_at_the_requested_level():
    speech = np.hanning(5000).astype(np.float32)
    clip = synth.place_in_clip(speech, np.random.default_rng(3), level=0.4)
    assert clip.shape == (16000,)
    assert np.abs(clip).max() == pytest.approx(0.4, rel=1e-3)
    assert np.count_nonzero(clip) == np.count_nonzero(speech)


@needs_synth
def test_rendered_word_is_speech_length_and_normalised():
    voice = synth.make_voices(1, np.random.default_rng(0))[0]
    x = synth.render_word("yes", voice)
    assert 0.15 < len(x) / 16000 < 1.0
    assert np.abs(x).max() == pytest.approx(1.0)


@needs_synth
def test_render_dataset_writes_the_speech_commands_layout(tmp_path):
    out = synth.render_dataset(tmp_path / "s", n_speakers=3, keywords=("yes", "no"),
                               others_per_speaker=2, noise_seconds=2.0, progress=False)
    yes = sorted((out / "yes").glob("*.wav"))
    assert len(yes) == 3 and len(list((out / "no").glob("*.wav"))) == 3
    others = [p for p in out.iterdir() if p.name not in ("yes", "no", "_background_noise_")]
    assert sum(len(list(d.glob("*.wav"))) for d in others) == 6
    assert sorted(p.name for p in (out / "_background_noise_").iterdir()) == [
        "brown_noise.wav", "hum_noise.wav", "pink_noise.wav", "white_noise.wav"]
    info = sf.info(yes[0])
    assert (info.samplerate, info.channels, info.frames, info.subtype) == (16000, 1, 16000, "PCM_16")
    # one id per voice: the same speaker ids appear under every keyword
    assert {p.name for p in yes} == {p.name for p in (out / "no").glob("*.wav")}


@needs_synth
def test_render_dataset_plan_is_deterministic_for_a_seed(tmp_path):
    # eSpeak NG itself varies a clip by a few samples from run to run (its
    # waveform generator is not reproducible), so the plan is what a seed fixes:
    # speakers, words, levels and positions.
    a = synth.render_dataset(tmp_path / "a", 2, ("yes",), 1, seed=7, noise_seconds=1.0, progress=False)
    b = synth.render_dataset(tmp_path / "b", 2, ("yes",), 1, seed=7, noise_seconds=1.0, progress=False)
    files_a = sorted(p.relative_to(a) for p in a.rglob("*.wav"))
    assert files_a == sorted(p.relative_to(b) for p in b.rglob("*.wav"))
    for rel in files_a:
        xa, xb = sf.read(a / rel)[0], sf.read(b / rel)[0]
        assert np.abs(xa).max() == pytest.approx(np.abs(xb).max(), abs=2e-3)
        onset_a, onset_b = np.flatnonzero(np.abs(xa) > 1e-3)[0], np.flatnonzero(np.abs(xb) > 1e-3)[0]
        assert abs(int(onset_a) - int(onset_b)) < 160  # within 10 ms
