"""Which partition a clip belongs to: TF's stable hash split, and a salted speaker split.

Speech Commands names a clip ``<speaker>_nohash_<k>.wav``. TensorFlow's
``input_data.which_set`` hashes the file name with everything from
``_nohash_`` on removed, so all clips of one speaker land in the same
partition, and the partition of a clip never changes when files are added:

1. ``key = basename`` with the regular expression ``_nohash_.*$`` removed;
2. ``h = int(sha1(key).hexdigest(), 16) % 2**27``;
3. ``p = h * 100 / (2**27 - 1)``, a percentage in ``[0, 100]``;
4. ``p < validation%`` gives validation, else ``p < validation% + testing%``
   gives testing, else training.

The canonical *test set* was built from the clips that fall in TF's testing
partition, so ``which_set`` sends every one of its keyword clips to testing.
To train on it anyway, :func:`salted_which_set` splits it by speaker with the
same arithmetic on ``sha1(salt + speaker)``: a different salt gives a
different, equally speaker-disjoint split.
"""

from __future__ import annotations

import hashlib
import os
import re

MAX_NUM_WAVS_PER_CLASS = 2**27 - 1  # TF's constant; the modulus is one more
_NOHASH = re.compile(r"_nohash_.*$")


def hash_percentage(key: str) -> float:
    """A stable percentage in ``[0, 100]`` from the sha1 of ``key`` (UTF-8)."""
    digest = hashlib.sha1(key.encode("utf-8")).hexdigest()
    return (int(digest, 16) % (MAX_NUM_WAVS_PER_CLASS + 1)) * (100.0 / MAX_NUM_WAVS_PER_CLASS)


def partition(percentage: float, validation_percentage: float, testing_percentage: float) -> str:
    """Validation first, then testing, then training, as TF orders the thresholds."""
    if percentage < validation_percentage:
        return "validation"
    if percentage < testing_percentage + validation_percentage:
        return "testing"
    return "training"


def which_set(filename: str | os.PathLike, validation_percentage: float = 10,
              testing_percentage: float = 10) -> str:
    """TF's ``which_set``: ``'training'``, ``'validation'`` or ``'testing'`` for a clip path."""
    key = _NOHASH.sub("", os.path.basename(os.fspath(filename)))
    return partition(hash_percentage(key), validation_percentage, testing_percentage)


def speaker_id(filename: str | os.PathLike) -> str:
    """The speaker of a clip, read from its file name.

    ``0c540988_nohash_0.wav`` (word folders) and
    ``backward_0c540988_nohash_0.wav.wav`` (the test set's ``_unknown_``
    folder, which prefixes the word) both give ``0c540988``: the last
    ``_``-separated field before ``_nohash_``. A name without ``_nohash_``
    (the test set's ``_silence_/1024.wav``) is its own group: the whole name.
    """
    base = os.path.basename(os.fspath(filename))
    if "_nohash_" not in base:
        return base
    return _NOHASH.sub("", base).rsplit("_", 1)[-1]


def salted_which_set(filename: str | os.PathLike, salt: str,
                     validation_percentage: float = 10, testing_percentage: float = 10) -> str:
    """A speaker-disjoint partition keyed on ``sha1(salt + speaker_id(filename))``.

    Same thresholds as :func:`which_set`; the salt makes it a split of its
    own, independent of the one the data set was built with.
    """
    key = f"{salt}{speaker_id(filename)}"
    return partition(hash_percentage(key), validation_percentage, testing_percentage)


def speaker_fold(filename: str | os.PathLike, salt: str, folds: int) -> int:
    """The cross-validation fold ``0 .. folds-1`` of a clip's speaker.

    ``floor(p * folds / 100)`` of the salted speaker percentage ``p`` (the
    arithmetic of :func:`salted_which_set`), so each fold takes about
    ``1 / folds`` of the speakers and a speaker is in one fold only.
    """
    p = hash_percentage(f"{salt}{speaker_id(filename)}")
    return min(int(p * folds / 100.0), folds - 1)


def fold_which_set(filename: str | os.PathLike, salt: str, folds: int, fold: int,
                   validation_percentage: float = 10) -> str:
    """The partition of a clip when fold ``fold`` of ``folds`` is the test set.

    The fold's speakers are ``'testing'``; of the others, those whose
    speaker hash under a second salt (``salt + '/validation'``) falls below
    ``validation_percentage`` are ``'validation'``, the rest ``'training'``.
    The second hash does not depend on ``fold``: a validation speaker is
    validation in every fold but its own test fold.
    """
    if speaker_fold(filename, salt, folds) == fold:
        return "testing"
    return salted_which_set(filename, f"{salt}/validation", validation_percentage, 0)
