"""The in-field test: recordings of held-out voices, and how detections are scored."""

import numpy as np
import pytest

from fixtures import make_training_set
from tinykws.cli import main
from tinykws.data.speech_commands import index_speech_commands
from tinykws.stream.infield import Event, build_recording, score
from tinykws.stream.listen import Detection

EVENTS = [Event("yes", 2.0), Event("_unknown_", 5.0), Event("no", 8.0), Event("yes", 11.0)]


def test_hits_false_alarms_precision_recall_and_rate():
    detections = [Detection("yes", 2.6, 220),   # hit
                  Detection("yes", 2.9, 210),   # same utterance again: false alarm
                  Detection("no", 5.5, 230),    # an unknown word heard as "no": false alarm
                  Detection("no", 8.9, 240),    # hit
                  Detection("yes", 14.5, 210)]  # too late for the yes at 11 s: false alarm
    r = score(detections, EVENTS, {"yes", "no"}, duration_s=3600.0)
    assert (r["keywords_spoken"], r["hits"], r["false_alarms"]) == (3, 2, 3)
    assert r["precision"] == pytest.approx(2 / 5) and r["recall"] == pytest.approx(2 / 3)
    assert r["false_alarms_per_hour"] == pytest.approx(3.0)


def test_no_detections_means_no_precision_and_zero_recall():
    r = score([], EVENTS, {"yes", "no"}, duration_s=60.0)
    assert r["precision"] is None and r["recall"] == 0.0 and r["false_alarms_per_hour"] == 0.0


def test_recording_uses_test_split_clips_and_records_their_onsets(tmp_path):
    data = make_training_set(tmp_path / "d", {"yes": 40, "no": 40, "up": 20})
    index = index_speech_commands(data, ("yes", "no"))
    x, events = build_recording(index, np.random.default_rng(0), clips=6, gap_s=(1.0, 1.0))
    testing_words = [e for e in index.splits["testing"] if e.path]
    assert len(events) == min(6, len(testing_words))
    assert len(x) == 16000 * (2 * len(events) + 2)  # a 1 s gap before each clip, 2 s at the end
    assert [e.onset_s for e in events] == [1.0 + 2.0 * k for k in range(len(events))]
    assert np.abs(x).max() <= 1.0


def test_infield_command_runs_end_to_end(tmp_path, capsys):
    data = make_training_set(tmp_path / "d", {"yes": 40, "no": 40, "up": 20})
    main(["train", "--data", str(data), "--out", str(tmp_path / "r"), "--steps", "60",
          "--eval-every", "30", "--batch-size", "32", "--schedule", "adam"])
    capsys.readouterr()
    assert main(["infield", str(tmp_path / "r"), "--data", str(data), "--clips", "8"]) == 0
    out = capsys.readouterr().out
    assert "keywords spoken" in out and "false alarms per hour" in out


def test_pooled_recordings_score_as_one_recording_played_after_the_other():
    from tinykws.stream.infield import pooled

    a = {"events": [{"word": "yes", "onset_s": 1.0}], "duration_s": 10.0,
         "detections_list": [{"label": "yes", "time_s": 1.5, "score": 250}]}
    b = {"events": [{"word": "no", "onset_s": 2.0}, {"word": "yes", "onset_s": 6.0}], "duration_s": 20.0,
         "detections_list": [{"label": "no", "time_s": 2.8, "score": 240},
                             {"label": "no", "time_s": 12.0, "score": 230}]}
    r = pooled([a, b], {"yes", "no"})
    assert (r["keywords_spoken"], r["hits"], r["false_alarms"], r["duration_s"]) == (3, 2, 1, 30.0)
    assert r["recall_per_keyword"]["yes"]["count"] == 1 and r["recall_per_keyword"]["yes"]["total"] == 2
    assert r["false_alarms_per_hour"] == 120.0
