"""micro_speech's RecognizeCommands, and `tinykws listen` on a long recording."""

import json

import numpy as np
import pytest

from fixtures import make_training_set, noise, tone, write_pcm16, WORD_FREQUENCIES
from tinykws.cli import main
from tinykws.stream.recognize import MAX_RESULTS, RecognizeCommands, probabilities_to_int8

LABELS = ("_silence_", "_unknown_", "yes", "no")


def scores(yes=0, no=0):
    """int8 scores whose +128 values are (255 - yes - no, 0, yes, no)."""
    s = np.array([255 - yes - no, 0, yes, no]) - 128
    return s.astype(np.int8)


def test_nothing_until_minimum_count_and_a_quarter_window():
    r = RecognizeCommands(LABELS)
    assert r.process(scores(yes=255), 0) == ("_silence_", 0, False)
    assert r.process(scores(yes=255), 20)[2] is False  # 2 results
    assert r.process(scores(yes=255), 40)[2] is False  # 3 results, but 40 ms < 250 ms
    label, score, new = r.process(scores(yes=255), 260)
    assert (label, score, new) == ("yes", 255, True)


def test_average_must_exceed_the_threshold():
    r = RecognizeCommands(LABELS, detection_threshold=200)
    for t in range(0, 400, 100):
        label, score, new = r.process(scores(yes=200), t)
    assert (label, score, new) == ("yes", 200, False)  # 200 is not > 200


def test_same_label_is_suppressed_then_fires_again_after_suppression():
    r = RecognizeCommands(LABELS, suppression_ms=1500)
    fired = [t for t in range(0, 4000, 100) if r.process(scores(yes=250), t)[2]]
    # first at 300 ms (4 results over 300 ms); then only once 1500 ms have passed
    assert fired == [300, 1900, 3500]


def test_a_different_label_fires_at_once():
    r = RecognizeCommands(LABELS, average_window_ms=300)
    for t in range(0, 500, 100):
        r.process(scores(yes=250), t)
    new = [t for t in range(500, 1200, 100) if r.process(scores(no=250), t)[2]]
    assert new and new[0] <= 800


def test_queue_holds_at_most_50_results_like_the_c_code():
    r = RecognizeCommands(LABELS, average_window_ms=10_000)
    for t in range(60):
        r.process(scores(), t)
    assert len(r._results) == MAX_RESULTS


def test_results_out_of_order_are_refused():
    r = RecognizeCommands(LABELS)
    r.process(scores(), 100)
    with pytest.raises(ValueError):
        r.process(scores(), 50)


def test_probabilities_map_to_the_int8_softmax_scale():
    np.testing.assert_array_equal(probabilities_to_int8(np.array([0.0, 0.5, 1.0])), [-128, 0, 127])


def test_listen_finds_keywords_in_a_long_recording(tmp_path, capsys):
    # Words are tones in the fixture set; train a model, then hide 3 "yes" and
    # 2 "no" tones in 14 s of quiet noise and listen.
    data = make_training_set(tmp_path / "d", {"yes": 30, "no": 30, "up": 10, "down": 10})
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "run"), "--steps", "150",
                 "--eval-every", "50", "--batch-size", "32", "--schedule", "adam"]) == 0
    parts, truth, t = [], [], 0.0
    for word in ["yes", "no", "yes", "no", "yes"]:
        parts += [noise(1.8, 0.002, seed=len(parts)), tone(WORD_FREQUENCIES[word], 1.0, 0.5)]
        t += 1.8
        truth.append((word, t))
        t += 1.0
    parts.append(noise(1.0, 0.002, seed=99))
    wav = write_pcm16(tmp_path / "long.wav", np.concatenate(parts))
    capsys.readouterr()
    # A 150-step model of tones averages about 200/255 on its words, right at micro_speech's
    # default threshold, so which word first crosses 200 depends on the training run's random
    # draws; 160 is below every word's average and above the noise's (six seeds checked).
    assert main(["listen", str(wav), "--model", str(tmp_path / "run"), "--json",
                 "--threshold", "160"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert [d["label"] for d in found] == [w for w, _ in truth]
    for d, (_, onset) in zip(found, truth):
        assert onset < d["time_s"] < onset + 2.0  # fires while or soon after the word is heard


def test_listen_rejects_a_bad_threshold(tmp_path, capsys):
    wav = write_pcm16(tmp_path / "x.wav", noise(2.0))
    assert main(["listen", str(wav), "--model", str(tmp_path), "--threshold", "300"]) == 2
    assert "threshold" in capsys.readouterr().err
