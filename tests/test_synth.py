"""The offline synthetic keyword set: plan, speakers, noise inside the clips, layout, resuming."""

import dataclasses
import json

import numpy as np
import pytest
import soundfile as sf

from tinykws.data import synth, synth_noise, synth_voice
from tinykws.data.split import which_set
from tinykws.errors import TinyKWSError

needs_synth = pytest.mark.skipif(not synth_voice.synthesizer_available(),
                                 reason="no eSpeak NG (pip install espeakng-loader)")

SMALL = synth.SynthSettings(speakers=3, keywords=("yes", "no"), repeats=2, others=2,
                            noise_seconds=2.0)


def _quietest_100ms_rms(x: np.ndarray) -> float:
    windows = x[: len(x) // 1600 * 1600].reshape(-1, 1600)  # (n, 100 ms)
    return float(np.sqrt(np.mean(windows ** 2, axis=1)).min())


# -- noise ----------------------------------------------------------------


def test_noise_colours_have_the_expected_spectral_slope():
    rng = np.random.default_rng(0)
    slopes = {}
    for kind in ("white", "pink", "brown"):
        x = synth_noise.make_noise(kind, 4.0, rng)
        f = np.fft.rfftfreq(len(x), 1 / 16000)
        p = np.abs(np.fft.rfft(x)) ** 2
        band = (f > 50) & (f < 5000)
        slopes[kind] = np.polyfit(np.log10(f[band]), np.log10(p[band]), 1)[0]
        assert np.abs(x).max() == pytest.approx(0.5, rel=1e-5)
    # power ~ 1/f^alpha: slopes 0, -1, -2 in log-log
    assert slopes["white"] == pytest.approx(0.0, abs=0.1)
    assert slopes["pink"] == pytest.approx(-1.0, abs=0.1)
    assert slopes["brown"] == pytest.approx(-2.0, abs=0.1)


def test_colored_noise_is_unit_rms_with_nothing_below_the_low_cut():
    x = synth_noise.colored_noise(16000, 2.0, np.random.default_rng(2), low_cut_hz=20.0)
    spectrum = np.abs(np.fft.rfft(x))
    assert np.sqrt(np.mean(x ** 2)) == pytest.approx(1.0)
    assert spectrum[:20].max() < 1e-9 * spectrum[20:].max()  # 1 Hz bins


def test_hum_is_50_hz_mains():
    x = synth_noise.make_noise("hum", 2.0, np.random.default_rng(1))
    f = np.fft.rfftfreq(len(x), 1 / 16000)
    assert f[np.argmax(np.abs(np.fft.rfft(x)))] == pytest.approx(50.0)


def test_room_response_decays_60_db_in_rt60():
    rt60 = 0.4
    h = synth_noise.room_response(rt60, np.random.default_rng(4))
    assert len(h) == int(rt60 * 16000) and h[0] == 1.0
    energy = (h[80:6320].reshape(-1, 160) ** 2).sum(axis=1)  # 10 ms windows from 5 ms on
    t = (80 + 160 * np.arange(len(energy)) + 80) / 16000
    slope_db_per_s = np.polyfit(t, 10 * np.log10(energy), 1)[0]
    assert slope_db_per_s == pytest.approx(-60 / rt60, rel=0.15)


@pytest.mark.parametrize("kind", synth_noise.BED_KINDS)
def test_every_noise_bed_is_unit_rms_and_never_digital_silence(kind):
    track = synth_noise.colored_noise(3 * 16000, 1.0, np.random.default_rng(5))  # a stand-in babble track
    bed = synth_noise.noise_bed(kind, np.random.default_rng(6), track)
    assert bed.shape == (16000,)
    assert np.sqrt(np.mean(bed ** 2)) == pytest.approx(1.0)
    assert _quietest_100ms_rms(bed) > 0.1


def test_a_hum_bed_is_mains_at_50_or_60_hz():
    peaks = set()
    for seed in range(8):
        bed = synth_noise.noise_bed("hum", np.random.default_rng(seed), np.zeros(32000))
        peaks.add(float(np.fft.rfftfreq(16000, 1 / 16000)[np.argmax(np.abs(np.fft.rfft(bed)))]))
    assert peaks <= {50.0, 60.0, 150.0, 180.0} and peaks & {50.0, 60.0}


# -- one clip -------------------------------------------------------------


def test_place_in_clip_puts_the_word_whole_where_asked_at_the_requested_level():
    speech = np.hanning(5000).astype(np.float32)
    for position, expected_start in ((0.0, 0), (1.0, 11000), (0.5, 5500)):
        clip, start = synth_noise.place_in_clip(speech, position, level=0.4)
        assert clip.shape == (16000,) and start == expected_start
        assert np.abs(clip).max() == pytest.approx(0.4, rel=1e-3)
        assert np.count_nonzero(clip[start:start + 5000]) == np.count_nonzero(clip)


@pytest.mark.parametrize("snr_db", [5.0, 17.0, 30.0])
def test_mix_at_snr_sets_speech_power_over_the_word_against_the_bed(snr_db):
    speech = 0.3 * np.sin(np.arange(4000) * 0.1).astype(np.float32)
    clip, start = synth_noise.place_in_clip(speech, 0.25, 0.3)
    bed = synth_noise.colored_noise(16000, 1.0, np.random.default_rng(7))
    word = slice(start, start + 4000)
    mixed = synth_noise.mix_at_snr(clip, word, bed, snr_db)
    assert np.abs(mixed).max() < 0.99  # not scaled down: the mix is clip + g * bed
    noise = mixed.astype(np.float64) - clip
    measured = 10 * np.log10(np.mean(clip[word].astype(np.float64) ** 2) / np.mean(noise ** 2))
    assert measured == pytest.approx(snr_db, abs=0.01)


def test_a_mix_that_would_clip_is_scaled_down_keeping_its_snr():
    clip = np.zeros(16000, np.float32)
    clip[:8000] = 0.9 * np.sign(np.sin(np.arange(8000)))
    bed = synth_noise.colored_noise(16000, 0.0, np.random.default_rng(8))
    mixed = synth_noise.mix_at_snr(clip, slice(0, 8000), bed, 5.0)
    assert np.abs(mixed).max() == pytest.approx(0.99, abs=1e-6)
    gain = np.dot(mixed[:8000], clip[:8000]) / np.dot(clip[:8000], clip[:8000])  # speech scale
    noise = mixed - gain * clip
    measured = 10 * np.log10(np.mean((gain * clip[:8000]) ** 2) / np.mean(noise ** 2))
    assert measured == pytest.approx(5.0, abs=0.3)


# -- the plan -------------------------------------------------------------


@needs_synth
def test_rendered_word_is_speech_length_and_normalised():
    voice = synth_voice.make_voices(1, np.random.default_rng(0))[0]
    x = synth_voice.render_word("yes", voice)
    assert 0.15 < len(x) / 16000 < 1.0
    assert np.abs(x).max() == pytest.approx(1.0)


@needs_synth
def test_the_plan_is_a_function_of_the_settings():
    a, b = synth.make_plan(SMALL), synth.make_plan(SMALL)
    assert a == b and a.fingerprint == b.fingerprint
    others = {synth.make_plan(dataclasses.replace(SMALL, seed=1)).fingerprint,
              synth.make_plan(dataclasses.replace(SMALL, repeats=3)).fingerprint,
              synth.make_plan(dataclasses.replace(SMALL, noise_seconds=3.0)).fingerprint}
    assert len(others) == 3 and a.fingerprint not in others


@needs_synth
def test_each_voice_is_one_speaker_who_says_every_keyword_repeats_times():
    plan = synth.make_plan(SMALL)
    by_speaker = {}
    for take in plan.takes:
        by_speaker.setdefault(take.speaker.speaker_id, []).append(take)
    assert len(by_speaker) == SMALL.speakers
    assert not {v.speaker_id for v in plan.crowd} & set(by_speaker)  # babble talkers are not speakers
    for speaker, takes in by_speaker.items():
        assert {t.speaker for t in takes} == {takes[0].speaker}  # one voice per speaker id
        keyword_takes = sorted((t.word, t.k) for t in takes if t.word in SMALL.keywords)
        assert keyword_takes == [(w, k) for w in ("no", "yes") for k in range(SMALL.repeats)]
        assert len([t for t in takes if t.word not in SMALL.keywords]) == SMALL.others
        # TF's which_set sends every clip of a speaker to the same split
        assert len({which_set(t.path) for t in takes}) == 1
    assert len({t.path for t in plan.takes}) == len(plan.takes)


@needs_synth
def test_takes_vary_around_their_voice():
    plan = synth.make_plan(dataclasses.replace(SMALL, speakers=10))
    takes = plan.takes
    assert all(abs(t.pitch - t.speaker.pitch) <= 6 for t in takes)
    assert all(0.87 <= t.rate / t.speaker.rate <= 1.13 for t in takes)
    assert all(synth.LEVEL[0] <= t.level <= synth.LEVEL[1] for t in takes)
    assert all(synth.SNR_DB[0] <= t.snr_db <= synth.SNR_DB[1] for t in takes)
    assert {t.bed for t in takes} == set(synth_noise.BED_KINDS)
    assert 0 < sum(t.rt60 > 0 for t in takes) < len(takes)  # some rooms dry, some not
    assert len({(t.pitch, t.rate) for t in takes}) > len(takes) // 2
    assert np.std([t.position for t in takes]) > 0.2


# -- rendering a set ------------------------------------------------------


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    if not synth_voice.synthesizer_available():
        pytest.skip("no eSpeak NG")
    return synth.render_dataset(tmp_path_factory.mktemp("synth") / "s", SMALL, workers=1,
                                progress=False)


def test_render_dataset_writes_the_speech_commands_layout(small_set):
    out = small_set
    yes, no = sorted((out / "yes").glob("*.wav")), sorted((out / "no").glob("*.wav"))
    assert len(yes) == len(no) == SMALL.speakers * SMALL.repeats
    others = [p for p in out.iterdir() if p.is_dir() and p.name not in ("yes", "no", "_background_noise_")]
    assert sum(len(list(d.glob("*.wav"))) for d in others) == SMALL.speakers * SMALL.others
    assert sorted(p.name for p in (out / "_background_noise_").iterdir()) == sorted(
        f"{kind}_noise.wav" for kind in synth_noise.BACKGROUND_KINDS)
    info = sf.info(yes[0])
    assert (info.samplerate, info.channels, info.frames, info.subtype) == (16000, 1, 16000, "PCM_16")
    # one id per voice: the same speaker ids appear under every keyword
    assert {p.name for p in yes} == {p.name for p in no}
    saved = json.loads((out / synth.PLAN_FILE).read_text())
    assert saved["fingerprint"] == synth.make_plan(SMALL).fingerprint
    assert saved["clips"] == SMALL.speakers * (2 * SMALL.repeats + SMALL.others)


def test_no_rendered_clip_or_background_is_digital_silence(small_set):
    for path in small_set.rglob("*.wav"):
        x = sf.read(path)[0]
        assert _quietest_100ms_rms(x) > 1.5 / 32768, path  # the noise bed, above 1.5 LSB


def test_a_killed_render_resumes_and_keeps_finished_clips(small_set):
    clips = sorted((small_set / "yes").glob("*.wav"))
    lost, kept = clips[3], clips[4]
    lost.unlink()
    before = kept.stat().st_mtime_ns
    synth.render_dataset(small_set, SMALL, workers=1, progress=False)
    assert lost.exists() and sf.info(lost).frames == 16000
    assert kept.stat().st_mtime_ns == before


def test_a_folder_holding_another_set_is_refused(small_set, tmp_path):
    with pytest.raises(TinyKWSError, match="another synthetic set"):
        synth.render_dataset(small_set, dataclasses.replace(SMALL, seed=1), workers=1,
                             progress=False)
    old = tmp_path / "old"
    (old / "yes").mkdir(parents=True)
    (old / "yes" / "0a1b2c3d_nohash_0.wav").write_bytes(b"")
    with pytest.raises(TinyKWSError, match="no synth_plan.json"):
        synth.render_dataset(old, SMALL, workers=1, progress=False)


@needs_synth
def test_two_worker_processes_render_the_same_set_as_one(small_set, tmp_path):
    # eSpeak NG varies a waveform by a few samples from run to run, so the
    # clips are compared by level, not bit for bit; the plan is what must agree.
    two = synth.render_dataset(tmp_path / "two", SMALL, workers=2, progress=False)
    names = sorted(p.relative_to(small_set) for p in small_set.rglob("*.wav"))
    assert names == sorted(p.relative_to(two) for p in two.rglob("*.wav"))
    assert (two / synth.PLAN_FILE).read_text() == (small_set / synth.PLAN_FILE).read_text()
    ratios = []
    for rel in names:
        if rel.parts[0] != "_background_noise_":
            a, b = sf.read(small_set / rel)[0], sf.read(two / rel)[0]
            ratios.append(np.sqrt(np.mean(b ** 2)) / np.sqrt(np.mean(a ** 2)))
    assert np.all(np.abs(np.log(ratios)) < np.log(1.25))  # each clip within 25 % in level
    assert np.median(ratios) == pytest.approx(1.0, abs=0.03)


def test_the_cli_help_states_the_default_settings(capsys):
    # the parser does not import NumPy, so its help types the defaults: keep them true
    from tinykws.cli import main

    with pytest.raises(SystemExit):
        main(["synth-data", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    d = synth.SynthSettings()
    for flag, value in (("--speakers", d.speakers), ("--words", ",".join(d.keywords)),
                        ("--repeats", d.repeats), ("--others", d.others), ("--seed", d.seed)):
        assert f"{flag} {flag[2:].upper()}" in text and f"(default {value})" in text
