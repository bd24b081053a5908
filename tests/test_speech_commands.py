"""Indexing a Speech Commands folder with the semantics of TF's prepare_data_index."""

from __future__ import annotations

import math
import os
import pathlib
import warnings
from collections import Counter

import numpy as np
import pytest

from fixtures import make_test_set, make_training_set, noise, pcm16_bytes, tone, wav_bytes, write_pcm16
from tinykws.data.speech_commands import SPLITS, index_speech_commands
from tinykws.data.split import salted_which_set, speaker_id, which_set
from tinykws.errors import TinyKWSError

WORDS = {"yes": 40, "no": 40, "bed": 30, "cat": 30, "dog": 30}


@pytest.fixture(scope="module")
def train_dir(tmp_path_factory):
    return make_training_set(tmp_path_factory.mktemp("sc"), WORDS, clips_per_speaker=2)


@pytest.fixture(scope="module")
def index(train_dir):
    return index_speech_commands(train_dir, ("yes", "no"))


def _error(match: str, *args, **kwargs) -> str:
    with pytest.raises(TinyKWSError, match=match) as exc:
        index_speech_commands(*args, **kwargs)
    assert "\n" not in str(exc.value)
    return str(exc.value)


def _files_by_split(root, words):
    """Clip paths of ``words`` per TF split, straight from the folder."""
    out = {s: [] for s in SPLITS}
    for word in words:
        for p in sorted((root / word).glob("*.wav")):
            out[which_set(str(p))].append(str(p))
    return {split: sorted(paths) for split, paths in out.items()}


# -- training layout ------------------------------------------------------


def test_labels_are_silence_unknown_then_the_wanted_words(index):
    assert index.labels == ("_silence_", "_unknown_", "yes", "no")
    assert index.layout == "training" and index.skipped == 0


def test_wanted_words_go_to_their_hash_split_with_their_label(index, train_dir):
    expected = _files_by_split(train_dir, ("yes", "no"))
    for split in SPLITS:
        wanted = [e for e in index.splits[split] if e.label >= 2]
        assert sorted(e.path for e in wanted) == expected[split]
        assert all(index.labels[e.label] == e.word == os.path.basename(os.path.dirname(e.path))
                   for e in wanted)


@pytest.mark.parametrize("silence,unknown", [(25.0, 25.0), (10.0, 40.0), (0.0, 0.0)])
def test_silence_and_unknown_shares_are_ceil_of_the_wanted_count(train_dir, silence, unknown):
    index = index_speech_commands(train_dir, ("yes", "no"), silence_percentage=silence,
                                  unknown_percentage=unknown)
    wanted = _files_by_split(train_dir, ("yes", "no"))
    others = _files_by_split(train_dir, ("bed", "cat", "dog"))
    for split in SPLITS:
        n = len(wanted[split])
        labels = Counter(e.label for e in index.splits[split])
        assert labels[0] == math.ceil(n * silence / 100)
        assert labels[1] == min(math.ceil(n * unknown / 100), len(others[split]))
        assert len(index.splits[split]) == n + labels[0] + labels[1]


def test_unknowns_are_other_words_of_the_same_split(index, train_dir):
    others = _files_by_split(train_dir, ("bed", "cat", "dog"))
    for split in SPLITS:
        unknown = [e for e in index.splits[split] if e.label == 1]
        assert unknown and {e.path for e in unknown} <= set(others[split])
        assert len({e.path for e in unknown}) == len(unknown)  # no repeats
        assert {e.word for e in unknown} <= {"bed", "cat", "dog"}


def test_silence_examples_have_no_file(index):
    silence = [e for s in SPLITS for e in index.splits[s] if e.label == 0]
    assert silence and all(e.path is None and e.word == "_silence_" for e in silence)


def test_index_is_deterministic_and_seed_dependent(train_dir, index):
    again = index_speech_commands(train_dir, ("yes", "no"))
    assert again.splits == index.splits
    other = index_speech_commands(train_dir, ("yes", "no"), seed=1)
    assert other.splits["training"] != index.splits["training"]
    # Same wanted examples and same counts, other shuffle and other unknown picks.
    for split in SPLITS:
        assert ({e.path for e in other.splits[split] if e.label >= 2}
                == {e.path for e in index.splits[split] if e.label >= 2})
        assert len(other.splits[split]) == len(index.splits[split])


def test_index_does_not_depend_on_directory_listing_order(train_dir, index, monkeypatch):
    original = pathlib.Path.iterdir
    monkeypatch.setattr(pathlib.Path, "iterdir", lambda self: reversed(list(original(self))))
    assert index_speech_commands(train_dir, ("yes", "no")).splits == index.splits


def test_words_are_case_insensitive_and_may_be_a_comma_string(train_dir, index):
    assert index_speech_commands(train_dir, ("YES", " No")).splits == index.splits
    assert index_speech_commands(train_dir, "yes,no").labels == index.labels


def test_background_files_are_loaded_as_float32(index, train_dir):
    assert [os.path.basename(p) for p in index.background_files] == ["noise_0.wav", "noise_1.wav"]
    assert [len(b) for b in index.background] == [48000, 40000]
    assert all(b.dtype == np.float32 for b in index.background)
    np.testing.assert_array_equal(index.background[0] * 32768, noise(3.0, seed=0))


def test_counts_table(index):
    counts = index.counts()
    for split in SPLITS:
        assert sum(counts[split].values()) == len(index.splits[split])


# -- broken clips ---------------------------------------------------------


def test_broken_clips_are_skipped_counted_and_warned_once(tmp_path):
    root = make_training_set(tmp_path, {"yes": 10, "no": 10, "bed": 10})
    (root / "yes" / "empty_nohash_0.wav").write_bytes(b"")
    (root / "yes" / "text_nohash_0.wav").write_bytes(b"not audio at all")
    whole = pcm16_bytes(tone(440.0))
    (root / "no" / "cut_nohash_0.wav").write_bytes(whole[:5000])
    (root / "no" / "nan_nohash_0.wav").write_bytes(
        wav_bytes(np.array([0.1, np.nan], dtype="<f4").tobytes(), format_tag=3, bits=32))
    (root / "bed" / "zero_nohash_0.wav").write_bytes(wav_bytes(b""))
    # Readable but unusual clips are kept (they are resampled / downmixed at load time).
    stereo = np.stack([tone(440.0), tone(440.0)], axis=1)
    (root / "yes" / "stereo_nohash_0.wav").write_bytes(pcm16_bytes(stereo, channels=2))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        index = index_speech_commands(root, ("yes", "no"))
    assert index.skipped == 5
    assert len(caught) == 1 and "skipped 5" in str(caught[0].message)
    paths = {e.path for s in SPLITS for e in index.splits[s] if e.path}
    assert not any(name in p for p in paths for name in ("empty_", "text_", "cut_", "nan_", "zero_"))
    assert sum(1 for s in SPLITS for e in index.splits[s] if e.label == 2) == 11  # 10 + stereo


# -- errors ---------------------------------------------------------------


def test_missing_folder_is_an_error(tmp_path):
    assert str(tmp_path / "nope") in _error("not found", tmp_path / "nope")


def test_a_file_instead_of_a_folder_is_an_error(tmp_path):
    (tmp_path / "f").write_text("x")
    _error("is not a folder", tmp_path / "f")


def test_empty_folder_is_an_error(tmp_path):
    (tmp_path / "yes").mkdir()
    _error("no .wav clips found", tmp_path)


def test_unknown_wanted_word_lists_the_available_words(train_dir):
    message = _error("no folder for wanted word 'maybe'", train_dir, ("yes", "maybe"))
    assert "available words: bed, cat, dog, no, yes" in message


def test_wanted_word_without_readable_clips_is_an_error(tmp_path):
    root = make_training_set(tmp_path, {"yes": 5, "bed": 5})
    (root / "no").mkdir()
    (root / "no" / "a_nohash_0.wav").write_bytes(b"")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _error("no readable .wav clips for wanted word 'no'", root, ("yes", "no"))


def test_training_layout_without_background_noise_is_an_error(tmp_path):
    root = make_training_set(tmp_path, {"yes": 5, "no": 5}, background_seconds=())
    _error("no '_background_noise_' folder", root)
    # Without silence examples the noise is not needed.
    index = index_speech_commands(root, silence_percentage=0)
    assert index.background == () and index.layout == "training"


def test_empty_background_folder_is_an_error(tmp_path):
    root = make_training_set(tmp_path, {"yes": 5, "no": 5}, background_seconds=())
    (root / "_background_noise_").mkdir()
    _error("no background .wav files", root)


def test_background_of_one_second_or_less_is_an_error(tmp_path):
    root = make_training_set(tmp_path, {"yes": 5, "no": 5}, background_seconds=(2.0, 1.0))
    message = _error("more than 16000", root)
    assert "noise_1.wav" in message
    # 16001 samples are enough: TF draws the offset from randint(0, len - 16000).
    write_pcm16(root / "_background_noise_" / "noise_1.wav", noise(16001 / 16000, seed=1))
    assert len(index_speech_commands(root).background[1]) == 16001


@pytest.mark.parametrize("words,match", [(("yes", "yes"), "repeat"), (("_unknown_",), "reserved"),
                                         (("",), "non-empty")])
def test_bad_word_lists_are_errors(train_dir, words, match):
    _error(match, train_dir, words)


def test_bad_percentages_are_errors(train_dir):
    _error("silence percentage", train_dir, silence_percentage=-1)
    _error("exceed 100", train_dir, validation_percentage=60, testing_percentage=50)


def test_mixed_layout_is_an_error(tmp_path):
    root = make_training_set(tmp_path, {"yes": 3, "no": 3})
    write_pcm16(root / "_silence_" / "1.wav", noise(1.0))
    _error("mixed layout", root)


# -- test-set layout ------------------------------------------------------


@pytest.fixture(scope="module")
def test_set_dir(tmp_path_factory):
    return make_test_set(tmp_path_factory.mktemp("ts"))


def test_test_set_layout_puts_every_clip_in_testing_with_its_folder_label(test_set_dir):
    index = index_speech_commands(test_set_dir, ("yes", "no"))
    assert index.layout == "test-set" and index.background == ()
    assert index.splits["training"] == () and index.splits["validation"] == ()
    testing = index.splits["testing"]
    assert len(testing) == 30 * 3 + 30 + 12
    by_word = Counter((e.word, index.labels[e.label]) for e in testing)
    assert by_word == {("yes", "yes"): 30, ("no", "no"): 30, ("up", "_unknown_"): 30,
                       ("_unknown_", "_unknown_"): 30, ("_silence_", "_silence_"): 12}
    assert all(e.path is not None for e in testing)  # silence is recorded, not synthesised


def test_test_set_resplit_is_speaker_disjoint_and_salted(test_set_dir):
    index = index_speech_commands(test_set_dir, ("yes", "no", "up"), resplit_salt="s1")
    speakers = {s: {speaker_id(e.path) for e in index.splits[s]} for s in SPLITS}
    assert not (speakers["training"] & speakers["validation"])
    assert not (speakers["training"] & speakers["testing"])
    assert not (speakers["validation"] & speakers["testing"])
    for split in SPLITS:
        assert all(salted_which_set(e.path, "s1") == split for e in index.splits[split])
    assert sum(len(index.splits[s]) for s in SPLITS) == 30 * 4 + 12
    other = index_speech_commands(test_set_dir, ("yes", "no", "up"), resplit_salt="s2")
    assert other.splits != index.splits


def test_test_set_unknown_wanted_word_is_an_error(test_set_dir):
    _error("available words: no, up, yes", test_set_dir, ("yes", "left"))


# -- the shared data sets -------------------------------------------------


def test_speech_synth_counts_per_split(speech_synth_dir):
    index = index_speech_commands(speech_synth_dir, ("yes", "no"))
    assert index.layout == "training" and index.skipped == 0 and len(index.background) == 4
    root = pathlib.Path(speech_synth_dir)
    wanted = _files_by_split(root, ("yes", "no"))
    others = _files_by_split(root, [d.name for d in root.iterdir()
                                    if d.is_dir() and d.name not in ("yes", "no", "_background_noise_")])
    assert sum(len(v) for v in wanted.values()) == 262 + 262
    counts = index.counts()
    for split in SPLITS:
        n = len(wanted[split])
        assert counts[split]["yes"] + counts[split]["no"] == n
        assert counts[split]["_silence_"] == math.ceil(n / 4)
        assert counts[split]["_unknown_"] == min(math.ceil(n / 4), len(others[split]))


TEN_WORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")


def test_real_test_set_is_read_with_twelve_labels(real_test_dir):
    index = index_speech_commands(real_test_dir, TEN_WORDS)
    assert index.layout == "test-set" and index.skipped == 0
    assert index.labels == ("_silence_", "_unknown_", *TEN_WORDS)
    counts = index.counts()["testing"]
    for label in index.labels:
        assert counts[label] == len(list((pathlib.Path(real_test_dir) / label).glob("*.wav")))
    assert sum(counts.values()) == 3830


def test_real_test_set_resplit_is_speaker_disjoint(real_test_dir):
    index = index_speech_commands(real_test_dir, TEN_WORDS, resplit_salt="tinykws")
    speakers = {s: {speaker_id(e.path) for e in index.splits[s]} for s in SPLITS}
    assert all(speakers[s] for s in SPLITS)
    assert not (speakers["training"] & (speakers["validation"] | speakers["testing"]))
    assert not (speakers["validation"] & speakers["testing"])
    assert sum(len(index.splits[s]) for s in SPLITS) == 3830
    assert 0.7 < len(index.splits["training"]) / 3830 < 0.9
