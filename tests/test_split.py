"""TF's stable hash split, and the salted speaker split for the test-set layout."""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from pathlib import Path

import pytest

from tinykws.data.split import hash_percentage, salted_which_set, speaker_id, which_set

# sha1 hex digests written out by hand from `printf %s KEY | sha1sum`, and the
# percentage their low 27 bits (the last 7 hex digits, masked) give.
HAND_COMPUTED = [
    # key, sha1 hexdigest, percentage, partition with 10 % / 10 %
    ("bobby", "4501c3b0336cf2d19ed69a8d0ec436ee3f88b31b", 94.1747873587518, "training"),
    ("0c540988", "4b5d5647a0acb42ff62d9d21c9425aaa796cfc71", 17.82158700988879, "testing"),
    ("022cd682", "6bd46ae77d02933cc48b29101f8b02d910f778d5", 12.083593845990254, "testing"),
    ("sam", "f16bed56189e249fe4ca8ed10a1ecae60e8ceac0", 81.88071311921412, "training"),
    ("x", "11f6ad8ec52a2984abaafd7c3b516503785c2072", 4.498375985759318, "validation"),
]


@pytest.mark.parametrize("key,digest,percentage,expected", HAND_COMPUTED)
def test_which_set_on_hand_computed_hashes(key, digest, percentage, expected):
    assert hashlib.sha1(key.encode()).hexdigest() == digest
    low_27_bits = int(digest[-7:], 16) & (2**27 - 1)
    assert math.isclose(low_27_bits * 100 / (2**27 - 1), percentage, rel_tol=1e-15)
    assert hash_percentage(key) == pytest.approx(percentage, rel=1e-15)
    assert which_set(f"/data/yes/{key}_nohash_0.wav") == expected


def test_everything_from_nohash_on_and_the_folder_are_ignored():
    names = ["bobby_nohash_0.wav", "bobby_nohash_17.wav", "bobby_nohash_x_y.wav"]
    sets = {which_set(f"/a/{word}/{n}") for word in ("yes", "no") for n in names}
    assert sets == {which_set("bobby")}


def test_thresholds_put_validation_before_testing():
    # "x" hashes to 4.498 %: below 5 % it is validation, above 4 % (+ testing) testing.
    assert which_set("x_nohash_0.wav", 5, 10) == "validation"
    assert which_set("x_nohash_0.wav", 4, 10) == "testing"
    assert which_set("x_nohash_0.wav", 4, 0.4) == "training"
    assert which_set("bobby_nohash_0.wav", 100, 0) == "validation"
    assert which_set("bobby_nohash_0.wav", 0, 100) == "testing"


def test_split_fractions_follow_the_percentages():
    n = 20000
    counts = Counter(which_set(f"{i:08x}_nohash_0.wav", 10, 20) for i in range(n))
    for split, p in (("validation", 0.1), ("testing", 0.2), ("training", 0.7)):
        sigma = math.sqrt(n * p * (1 - p))  # binomial standard deviation
        assert abs(counts[split] - n * p) < 5 * sigma


def test_speaker_id_of_each_naming_scheme():
    assert speaker_id("/d/yes/0c540988_nohash_0.wav") == "0c540988"
    assert speaker_id("/d/_unknown_/backward_0c540988_nohash_4.wav.wav") == "0c540988"
    assert speaker_id("/d/_silence_/1024.wav") == "1024.wav"


def test_salted_split_keeps_a_speaker_together_across_folders_and_names():
    for salt in ("a", "b", "tinykws"):
        sets = {salted_which_set(p, salt) for p in
                ("/d/yes/022cd682_nohash_0.wav", "/d/go/022cd682_nohash_1.wav",
                 "/d/_unknown_/bed_022cd682_nohash_0.wav.wav")}
        assert len(sets) == 1


def test_salted_split_is_sha1_of_salt_plus_speaker():
    digest = hashlib.sha1(b"pepper0c540988").hexdigest()
    percentage = (int(digest[-7:], 16) & (2**27 - 1)) * 100 / (2**27 - 1)
    expected = "validation" if percentage < 10 else "testing" if percentage < 20 else "training"
    assert salted_which_set("0c540988_nohash_3.wav", "pepper") == expected


def test_different_salts_give_different_splits():
    names = [f"{i:08x}_nohash_0.wav" for i in range(300)]
    a = [salted_which_set(n, "one") for n in names]
    b = [salted_which_set(n, "two") for n in names]
    assert a != b
    assert a == [salted_which_set(n, "one") for n in names]


def test_real_test_set_keyword_clips_all_hash_to_testing(real_test_dir):
    # The published test set was cut from TF's testing partition: a fact our hash must reproduce.
    clips = [p for p in Path(real_test_dir).glob("*/*.wav") if p.parent.name != "_silence_"]
    keyword = [p for p in clips if p.parent.name != "_unknown_"]
    assert len(keyword) > 3000
    assert {which_set(p) for p in keyword} == {"testing"}
    # The _unknown_ clips prefix the word; their speakers hash to testing too.
    unknown = [p for p in clips if p.parent.name == "_unknown_"]
    assert {which_set(f"{speaker_id(p)}_nohash_0.wav") for p in unknown} == {"testing"}
