"""Speaker-disjoint cross-validation folds, and `tinykws cv` end to end."""

import json
from collections import Counter

import pytest

from fixtures import make_test_set
from tinykws.cli import main
from tinykws.data.speech_commands import SPLITS, index_speech_commands
from tinykws.data.split import fold_which_set, speaker_fold, speaker_id
from tinykws.errors import TinyKWSError


@pytest.fixture(scope="module")
def test_set(tmp_path_factory):
    return make_test_set(tmp_path_factory.mktemp("ts"), n_speakers=60, n_silence=30)


def test_fold_is_a_salted_hash_of_the_speaker():
    a = "yes/0a1b2c3d_nohash_0.wav"
    b = "_unknown_/bed_0a1b2c3d_nohash_3.wav.wav"
    assert speaker_fold(a, "cv", 5) == speaker_fold(b, "cv", 5)
    folds = Counter(speaker_fold(f"x/{i:08x}_nohash_0.wav", "cv", 5) for i in range(5000))
    assert set(folds) == {0, 1, 2, 3, 4} and all(900 < c < 1100 for c in folds.values())
    assert fold_which_set(a, "cv", 5, speaker_fold(a, "cv", 5)) == "testing"


def test_every_clip_is_tested_in_exactly_one_fold_and_folds_are_speaker_disjoint(test_set):
    indexes = [index_speech_commands(test_set, ("yes", "no"), folds=4, fold=k) for k in range(4)]
    tested = Counter(e.path for ix in indexes for e in ix.splits["testing"])
    every = {e.path for e in index_speech_commands(test_set, ("yes", "no")).splits["testing"]}
    assert set(tested) == every and set(tested.values()) == {1}
    for ix in indexes:
        speakers = {s: {speaker_id(e.path) for e in ix.splits[s]} for s in SPLITS}
        assert not speakers["testing"] & (speakers["training"] | speakers["validation"])
        assert not speakers["training"] & speakers["validation"]


@pytest.mark.parametrize("folds,fold,match", [(1, 0, "at least 2 folds"), (3, 3, r"within \[0, 3\)"),
                                              (500, 0, "only 90 speakers")])
def test_bad_fold_settings_are_refused(test_set, folds, fold, match):
    with pytest.raises(TinyKWSError, match=match):
        index_speech_commands(test_set, ("yes", "no"), folds=folds, fold=fold)


def test_cv_end_to_end_pools_every_clip_float_and_int8(test_set, tmp_path):
    out = tmp_path / "cv"
    args = ["cv", "--data", str(test_set), "--folds", "3", "--out", str(out), "--steps", "30",
            "--eval-every", "15", "--batch-size", "16", "--no-progress"]
    assert main(args) == 0
    cv = json.loads((out / "cv.json").read_text())
    assert cv["complete"] and set(cv["fold_reports"]) == {"0", "1", "2"}
    assert cv["pooled"]["float"]["examples"] == 60 * 4 + 30
    assert cv["pooled"]["int8"]["examples"] == 60 * 4 + 30
    spread = cv["spread"]["float"]["balanced_accuracy"]
    assert spread["min"] <= spread["mean"] <= spread["max"] and len(spread["folds"]) == 3
    assert cv["int8_vs_float"]["p_value"] <= 1.0
    op = cv["operating"]
    assert len(op["biases"]) == 3 and op["pooled"]["int8"]["examples"] == 60 * 4 + 30
    assert [p["bias"] for p in op["curve"]] == sorted(p["bias"] for p in op["curve"])
    for name in ("cv_recall.png", "cv_confusion.png", "cv_operating.png", "fold-0/model.npz", "fold-2/predictions.npz"):
        assert (out / name).is_file()
    # A rerun of the same command reuses every fold: nothing is retrained.
    before = (out / "fold-0" / "model.npz").stat().st_mtime_ns
    assert main(args) == 0
    assert (out / "fold-0" / "model.npz").stat().st_mtime_ns == before
    # Other settings in the same folder are refused, not mixed.
    assert main([*args[:-1], "--seed", "1", "--no-progress"]) == 2
