"""Streaming evaluation: the device loop, the recognizer kernel, matching, streams, calibration."""

import json
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from fixtures import make_training_set, noise, tone
from tinykws.cli import main
from tinykws.data.speech_commands import index_speech_commands
from tinykws.features.micro_frontend import MicroFrontendConfig, micro_features_numba
from tinykws.stream import det
from tinykws.stream.device import StreamingFrontend, device_slices, window_end_ms
from tinykws.stream.recognize import RecognizeCommands, RecognizerSettings, new_commands
from tinykws.stream.recording import StreamSpec, Utterance, build_stream
from tinykws.stream.scoring import Detection, counts, match, score_stream, tf_streaming_stats

LABELS = ("_silence_", "_unknown_", "yes", "no")


# -- the device loop -----------------------------------------------------------

@settings(max_examples=8, deadline=None)
@given(seconds=st.floats(0.05, 1.6), seed=st.integers(0, 2**31), loud=st.booleans())
def test_slice_by_slice_frontend_equals_the_whole_recording_bit_for_bit(seconds, seed, loud):
    rng = np.random.default_rng(seed)
    n = int(seconds * 16000)
    x = noise(n / 16000, 0.3 if loud else 0.01, seed=seed % 1000)[:n]
    x = x + (tone(700.0, n / 16000, 0.4)[:n] if loud else 0)
    samples = np.clip(np.round(x * 32767), -32768, 32767).astype(np.int16)
    samples[rng.integers(0, max(n, 1), 3) % max(n, 1)] = 32767 if n else 0  # full-scale peaks
    frontend = StreamingFrontend()
    frames = [frontend.push(s) for s in device_slices(samples)]
    streamed = np.concatenate(frames) if frames else np.zeros((0, 40), np.uint16)
    np.testing.assert_array_equal(streamed, micro_features_numba(samples))


def test_each_device_slice_after_the_first_yields_exactly_one_frame():
    samples = (noise(0.5, 0.1, seed=3) * 32767).astype(np.int16)
    frontend = StreamingFrontend()
    sizes = [len(frontend.push(s)) for s in device_slices(samples)]
    assert sizes[0] == 1 and set(sizes[1:-1]) == {1}
    assert sum(sizes) == MicroFrontendConfig().num_frames(len(samples))


def test_window_times_are_the_end_of_each_windows_last_frame():
    np.testing.assert_array_equal(window_end_ms(3), [48 * 20 + 30, 49 * 20 + 30, 50 * 20 + 30])


# -- the recognizer kernel against the reference class -------------------------

@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), steps=st.integers(0, 300),
       window=st.sampled_from([20, 100, 250, 500, 1000, 1500]), threshold=st.integers(0, 255),
       suppression=st.sampled_from([0, 100, 500, 1500]), minimum=st.integers(1, 6),
       jitter=st.booleans())
def test_recognizer_kernel_matches_the_reference_class(seed, steps, window, threshold, suppression,
                                                       minimum, jitter):
    rng = np.random.default_rng(seed)
    gaps = rng.integers(10, 60, steps) if jitter else np.full(steps, 20)
    times = np.cumsum(gaps).astype(np.int64)
    # Scores that dwell on one label for a while, like a model hearing a word.
    who = np.repeat(rng.integers(0, 4, steps // 10 + 1), 10)[:steps]
    scores = rng.integers(-128, 128, (steps, 4))
    scores[np.arange(steps), who] = rng.integers(60, 128, steps)
    scores = scores.astype(np.int8)
    s = RecognizerSettings(window, threshold, suppression, minimum)
    reference = RecognizeCommands(LABELS, window, threshold, suppression, minimum)
    expected = [(i, LABELS.index(label), score) for i, (t, row) in enumerate(zip(times, scores))
                for label, score, new in [reference.process(row, int(t))] if new]
    index, label, score = new_commands(times, scores, s)
    assert list(zip(index.tolist(), label.tolist(), score.tolist())) == expected


def test_settings_print_as_the_sketch_constructs_the_recognizer():
    c = RecognizerSettings(750, 230, 1000, 2).as_c()
    assert "/*average_window_duration_ms=*/750" in c and "/*detection_threshold=*/230" in c
    assert "/*suppression_ms=*/1000" in c and c.endswith("/*minimum_count=*/2);")


# -- matching --------------------------------------------------------------------

def _u(label, onset, snr=10.0, speaker="s"):
    return Utterance(label, onset, speaker, label, snr, "x.wav")


UTTERANCES = [_u("yes", 2000), _u("_unknown_", 5000), _u("no", 8000), _u("yes", 11000)]


def test_hits_misses_and_false_alarms_under_the_rule():
    detections = [Detection("yes", 2600, 220),   # hit
                  Detection("yes", 2900, 210),   # the same utterance again: false alarm
                  Detection("no", 5500, 230),    # another word heard as "no": false alarm
                  Detection("no", 9900, 240),    # hit (within 2 s of the onset)
                  Detection("yes", 13100, 210)]  # 2.1 s after the yes at 11 s: false alarm
    claimed, hit = match(detections, UTTERANCES, ("yes", "no"))
    assert claimed.tolist() == [0, -1, 3, -1] and hit.tolist() == [True, False, False, True, False]
    assert counts(detections, UTTERANCES, ("yes", "no")) == (3, 1, 3)
    r = score_stream(detections, UTTERANCES, ("yes", "no"), duration_s=1800.0)
    assert r["miss_rate"]["value"] == pytest.approx(1 / 3)
    assert r["false_alarms_per_hour"]["value"] == pytest.approx(6.0)
    assert r["per_keyword"]["yes"]["miss_rate"]["count"] == 1
    causes = {(c["heard"], c["fired"]): c["count"] for c in r["false_alarms_on"]}
    assert causes == {("yes (again)", "yes"): 1, ("_unknown_", "no"): 1, ("noise", "yes"): 1}
    assert r["misses_fired_instead"] == {"yes -> nothing": 1}


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), n_utt=st.integers(0, 20), n_det=st.integers(0, 40))
def test_numba_matching_counts_equal_the_reference(seed, n_utt, n_det):
    from kernels.recognize import match_counts

    rng = np.random.default_rng(seed)
    onsets = np.sort(rng.integers(0, 60000, n_utt))
    utt = [_u(LABELS[int(rng.integers(1, 4))], int(o)) for o in onsets]
    times = np.sort(rng.integers(0, 62000, n_det))
    dets = [Detection(LABELS[int(rng.integers(2, 4))], int(t), 230) for t in times]
    spoken, misses, false = counts(dets, utt, ("yes", "no"))
    got = match_counts(np.array([d.time_ms for d in dets], np.int64),
                       np.array([LABELS.index(d.label) for d in dets], np.int64),
                       onsets.astype(np.int64),
                       np.array([LABELS.index(u.label) for u in utt], np.int64),
                       np.array([False, False, True, True]), 2000)
    assert got == (misses, false)


def test_tf_streaming_stats_follow_accuracy_utils():
    truth = [_u("yes", 1000), _u("_unknown_", 4000), _u("no", 7000)]
    commands = [Detection("yes", 2500, 250),        # starts 1500: near "yes" at 1000 -> correct
                Detection("yes", 3000, 250),        # starts 2000: "yes" again -> wrong
                Detection("_unknown_", 5200, 250),  # starts 4200: correct
                Detection("yes", 8300, 250),        # starts 7300: near "no" -> wrong
                Detection("no", 20000, 250),        # nothing within 1.5 s -> false positive
                Detection("_silence_", 9000, 250)]  # silence is never a found word
    r = tf_streaming_stats(commands, truth)
    assert (r["correct"], r["wrong"], r["false_positives"]) == (2, 2, 1)
    assert r["matched_percent"] == pytest.approx(400 / 3)  # TF counts a twice-matched utterance twice
    assert r["correct_percent"] == pytest.approx(200 / 3)


# -- streams -------------------------------------------------------------------

@pytest.fixture(scope="module")
def tone_data(tmp_path_factory):
    return make_training_set(tmp_path_factory.mktemp("tones"),
                             {"yes": 100, "no": 100, "up": 30, "down": 30})


def test_stream_is_deterministic_and_its_utterances_are_where_it_says(tone_data):
    index = index_speech_commands(tone_data, ("yes", "no"))
    spec = StreamSpec(minutes=1.0, seed=4, snrs_db=(20.0, 5.0))
    a = build_stream(index, ("yes", "no"), spec)
    b = build_stream(index, ("yes", "no"), spec)
    np.testing.assert_array_equal(a.samples, b.samples)
    assert len(a.samples) == 60 * 16000 and a.utterances == b.utterances
    onsets = [u.onset_ms for u in a.utterances]
    assert all(y - x >= 1000 + 1000 for x, y in zip(onsets, onsets[1:]))  # a gap of >= 1 s
    assert {u.label for u in a.utterances} <= {"yes", "no", "_unknown_"}
    testing = {e.path.rsplit("/", 1)[1] for e in index.splits["testing"] if e.path}
    assert {u.clip for u in a.utterances} <= testing  # only unseen speakers
    c = build_stream(index, ("yes", "no"), replace(spec, seed=5))
    assert not np.array_equal(a.samples, c.samples)


def test_stream_reaches_the_snr_it_records(tone_data):
    index = index_speech_commands(tone_data, ("yes", "no"))
    s = build_stream(index, ("yes",), StreamSpec(minutes=0.5, seed=1, snrs_db=(10.0,),
                                                  unknown_share=0.0))
    x = s.samples.astype(np.float64) / 32768
    for u in s.utterances:
        a = u.onset_ms * 16
        gap_noise = x[a - 8000:a - 1600]  # the 100-500 ms before the word: noise at its level
        speech = x[a:a + 16000]
        snr = 10 * np.log10((np.mean(speech**2) - np.mean(gap_noise**2)) / np.mean(gap_noise**2))
        assert snr == pytest.approx(10.0, abs=1.5)


def test_tf_style_places_words_on_its_stride(tone_data):
    index = index_speech_commands(tone_data, ("yes", "no"))
    s = build_stream(index, ("yes", "no"), StreamSpec(minutes=0.5, style="tf", word_gap_ms=2000))
    assert len(s.utterances) == 30 // 3
    for i, u in enumerate(s.utterances):
        assert 3000 * i <= u.onset_ms < 3000 * i + 2000
    assert s.labels_csv().splitlines()[0].split(", ")[0] in ("yes", "no", "_unknown_")


def test_streams_refuse_missing_keywords_and_too_short_lengths(tone_data):
    from tinykws.errors import TinyKWSError

    index = index_speech_commands(tone_data, ("yes", "no"))
    with pytest.raises(TinyKWSError, match="lack the keywords"):
        build_stream(index, ("maybe",), StreamSpec(minutes=1.0))
    with pytest.raises(TinyKWSError, match="shorter than one 1 s window"):
        build_stream(index, ("yes",), StreamSpec(minutes=0.01))


# -- calibration ---------------------------------------------------------------

def _point(th, misses, fa, hours=2.0):
    return det.Point(RecognizerSettings(1000, th, 1500, 3), 100, misses, fa, hours)


def test_calibration_takes_the_fewest_misses_within_the_target():
    points = [_point(100, 5, 40), _point(180, 20, 3), _point(200, 30, 2), _point(240, 60, 0)]
    chosen, met = det.calibrate(points, target_per_hour=1.0)
    assert met and chosen.settings.detection_threshold == 200
    chosen, met = det.calibrate(points[:2], target_per_hour=1.0)
    assert not met and chosen.settings.detection_threshold == 180  # fewest false alarms
    assert det.miss_at(points, 0.4).settings.detection_threshold == 240  # the only one with none
    assert det.miss_at(points[:3], 0.4) is None


# -- end to end ----------------------------------------------------------------

def test_stream_eval_on_a_run_and_on_its_tflite_agree(tone_data, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data", str(tone_data), "--out", str(run), "--steps", "150",
                 "--eval-every", "50", "--batch-size", "32", "--schedule", "adam"]) == 0
    assert main(["convert", str(run), "--out", str(tmp_path / "c")]) == 0
    capsys.readouterr()
    common = ["--minutes", "1.5", "--seed", "2", "--snr-db", "20"]
    assert main(["stream-eval", str(run), "--out", str(tmp_path / "a"), "--calibrate",
                 "--target-fa-per-hour", "20", *common]) == 0
    out = capsys.readouterr().out
    assert "miss rate" in out and "RecognizeCommands" in out
    r = json.loads((tmp_path / "a" / "stream.json").read_text())
    assert (tmp_path / "a" / "det.png").stat().st_size > 10_000
    assert r["test"]["keyword_utterances"] > 10
    assert r["test"]["miss_rate"]["value"] < 0.3  # tones are easy to catch
    if r["tflm_bit_exact"] is not None:
        assert r["tflm_bit_exact"] is True
    c = r["calibration"]
    assert c["validation"]["false_alarms_per_hour"]["value"] <= 20 or not c["met_on_validation"]
    assert set(r["det"]) == {"250", "500", "750", "1000"} and len(r["det"]["1000"]) == 256
    assert main(["stream-eval", str(tmp_path / "c" / "model.tflite"), "--data", str(tone_data),
                 "--out", str(tmp_path / "b"), *common]) == 0
    t = json.loads((tmp_path / "b" / "stream.json").read_text())
    assert t["test"] == r["test"]  # the same int8 model, the same stream, the same answers


def test_listen_runs_an_int8_tflite_and_refuses_short_recordings(tone_data, tmp_path, capsys):
    from fixtures import write_pcm16

    run = tmp_path / "run"
    main(["train", "--data", str(tone_data), "--out", str(run), "--steps", "100",
          "--eval-every", "50", "--batch-size", "32", "--schedule", "adam"])
    main(["convert", str(run), "--out", str(tmp_path / "c")])
    quiet = noise(1.5, 0.002, seed=1)
    wav = write_pcm16(tmp_path / "long.wav", np.concatenate([quiet, tone(440.0, 1.0, 0.5), quiet]))
    capsys.readouterr()
    assert main(["listen", str(wav), "--model", str(tmp_path / "c" / "model.tflite"), "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert [d["label"] for d in found] == ["yes"]  # 440 Hz is the fixture's "yes"
    short = write_pcm16(tmp_path / "short.wav", noise(0.5, 0.01))
    assert main(["listen", str(short), "--model", str(tmp_path / "c" / "model.tflite")]) == 2
    assert "shorter than one 1 s window" in capsys.readouterr().err
