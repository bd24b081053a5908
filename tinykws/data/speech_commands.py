"""An index of a Speech Commands folder: which clip is in which split, with which label.

This mirrors ``AudioProcessor.prepare_data_index`` and
``prepare_background_data`` of TensorFlow's
``tensorflow/examples/speech_commands/input_data.py``.

**Training layout** (the official archive): one folder per word, plus
``_background_noise_/`` with long noise recordings.

- Labels are ``("_silence_", "_unknown_", *wanted_words)``, indices 0, 1, 2, ...
- Each clip goes to a split by :func:`tinykws.data.split.which_set`.
- Per split, with ``n`` the number of wanted-word clips in it:
  ``ceil(n * silence_percentage / 100)`` silence examples (no file: the
  augmentation makes them from background noise) and
  ``ceil(n * unknown_percentage / 100)`` unknown examples, the first ones of a
  seeded shuffle of that split's other-word clips. With the defaults both are
  25 % *of the wanted-word count*, so each is 1/6 of the final split.
- Then every split is shuffled. The shuffles use Python's ``random.Random(seed)``
  in TF's order (unknowns of validation, testing, training; then the three
  splits in that order), so given the same file order the index is TF's.

The one difference from TF: TF takes files in the order its glob returns
them, which depends on the file system; here paths are sorted first, so the
index depends only on the names, the options and the seed.

**Test-set layout** (the canonical test set): word folders plus
``_silence_/`` (real recorded silence) and ``_unknown_/`` (other words), no
``_background_noise_/``. Every clip is an evaluation example labelled by its
folder (a word folder that is not wanted counts as ``_unknown_``), silence
examples have a real path, and the silence/unknown percentages do not apply.
All clips go to ``testing``; with ``resplit_salt`` they are split by speaker
with :func:`tinykws.data.split.salted_which_set` so the set can be trained on.
Then the recorded ``_silence_`` clips of the *training* split are the
background-noise source of augmentation (the layout has no
``_background_noise_/``), and training draws its examples with TF's class
shares from the whole pools (:mod:`tinykws.data.sampling`) instead of
keeping every clip at its natural share (73 % ``_unknown_`` in v0.02's test set).

**Cross-validation folds** (either layout): with ``folds=K`` and ``fold=k``
the speakers are dealt into ``K`` folds by a salted hash
(:func:`tinykws.data.split.speaker_fold`); fold ``k`` is ``testing``, and
``validation_percentage`` of the other speakers (another salted hash) are
``validation``. Every clip is in the test split of exactly one fold.

Clips that cannot be read are skipped, counted in ``DatasetIndex.skipped``
and reported by one warning. The check is cheap: the RIFF header is read for
every clip and only clips that are not 16 kHz mono 16-bit PCM are decoded.
"""

from __future__ import annotations

import math
import os
import random
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from tinykws.audio import fit_length, load_wav
from tinykws.data.folders import BACKGROUND_NOISE_DIR, check_clips, clip_folders, wav_files
from tinykws.data.split import fold_which_set, salted_which_set, speaker_id, which_set
from tinykws.errors import TinyKWSError

SILENCE_LABEL = "_silence_"
SILENCE_INDEX = 0
UNKNOWN_LABEL = "_unknown_"
UNKNOWN_INDEX = 1
RANDOM_SEED = 59185  # TF's RANDOM_SEED
CLIP_SAMPLES = 16000  # one second at 16 kHz
SPLITS = ("training", "validation", "testing")
_TF_SPLIT_ORDER = ("validation", "testing", "training")  # the order TF fills and shuffles splits
_RESERVED = (SILENCE_LABEL, UNKNOWN_LABEL, BACKGROUND_NOISE_DIR)
DEFAULT_FOLD_SALT = "cv"  # the fold hash's salt when no --resplit-salt is given
TF_SHARE_PERCENTAGE = 25.0  # TF's --silence_percentage and --unknown_percentage defaults


@dataclass(frozen=True)
class Example:
    """One example of a split. ``path`` is None for a silence example made from noise."""

    path: str | None
    word: str  # folder name (lower case), or "_silence_"
    label: int  # index into DatasetIndex.labels


@dataclass(frozen=True)
class DatasetIndex:
    """Everything known about a data folder before any clip is decoded."""

    root: str
    layout: str  # "training" or "test-set"
    labels: tuple[str, ...]  # ("_silence_", "_unknown_", *wanted_words)
    splits: dict[str, tuple[Example, ...]]  # "training" / "validation" / "testing"
    background: tuple[np.ndarray, ...]  # each (n_i,) float32, n_i > CLIP_SAMPLES
    skipped: int  # broken clips left out
    background_files: tuple[str, ...] = field(default=())  # paths, parallel to background
    silence_percentage: float = TF_SHARE_PERCENTAGE  # kept for class-prior sampling and reports
    unknown_percentage: float = TF_SHARE_PERCENTAGE

    def counts(self) -> dict[str, dict[str, int]]:
        """Examples per split and label: ``counts()[split][label]``."""
        table = {split: {label: 0 for label in self.labels} for split in SPLITS}
        for split in SPLITS:
            for example in self.splits[split]:
                table[split][self.labels[example.label]] += 1
        return table


def index_speech_commands(
    data_dir: str | os.PathLike,
    wanted_words: Iterable[str] = ("yes", "no"),
    *,
    silence_percentage: float = TF_SHARE_PERCENTAGE,
    unknown_percentage: float = TF_SHARE_PERCENTAGE,
    validation_percentage: float = 10.0,
    testing_percentage: float = 10.0,
    seed: int = RANDOM_SEED,
    resplit_salt: str | None = None,
    folds: int | None = None,
    fold: int | None = None,
) -> DatasetIndex:
    """Index a Speech Commands folder (either layout; see the module docstring).

    Raises :class:`TinyKWSError` for a missing or empty folder, a wanted word
    that is not there (listing the words that are) or has no readable clip,
    a training layout without ``_background_noise_/`` while silence is asked
    for, background files of one second or less, and fold settings that do
    not fit (fewer than 2 folds, more folds than speakers, a fold out of range).
    """
    root = Path(data_dir)
    if not root.is_dir():
        what = "is not a folder" if root.exists() else "not found"
        raise TinyKWSError(f"{root}: data folder {what}")
    words = _normalise_wanted(wanted_words)
    for name, value in (("silence", silence_percentage), ("unknown", unknown_percentage),
                        ("validation", validation_percentage), ("testing", testing_percentage)):
        if not 0 <= value <= 100:
            raise TinyKWSError(f"{name} percentage must be within [0, 100], got {value}")
    if validation_percentage + testing_percentage > 100:
        raise TinyKWSError("validation + testing percentages exceed 100")
    if (folds is None) != (fold is None):
        raise TinyKWSError("folds and fold go together")
    if folds is not None and folds < 2:
        raise TinyKWSError(f"cross-validation needs at least 2 folds, got {folds}")
    if folds is not None and not 0 <= fold < folds:
        raise TinyKWSError(f"fold must be within [0, {folds}), got {fold}")

    folders = clip_folders(root)  # {word (lower case): sorted clip paths}
    if not any(folders.values()):
        raise TinyKWSError(f"{root}: no .wav clips found (expected {root}/<word>/*.wav)")
    has_background = (root / BACKGROUND_NOISE_DIR).is_dir()
    is_test_set = SILENCE_LABEL in folders or UNKNOWN_LABEL in folders
    if is_test_set and has_background:
        raise TinyKWSError(f"{root}: mixed layout: '{BACKGROUND_NOISE_DIR}' beside "
                           f"'{SILENCE_LABEL}'/'{UNKNOWN_LABEL}' folders")
    if not is_test_set and silence_percentage > 0 and not has_background:
        raise TinyKWSError(f"{root}: no '{BACKGROUND_NOISE_DIR}' folder; it is needed to make "
                           f"silence examples (or ask for 0 % silence)")

    valid, skipped = check_clips(folders)
    available = sorted(w for w in folders if w not in _RESERVED)
    for word in words:
        if word not in folders:
            raise TinyKWSError(f"{root}: no folder for wanted word '{word}'; "
                               f"available words: {', '.join(available)}")
        if not valid[word]:
            raise TinyKWSError(f"{root / word}: no readable .wav clips for wanted word '{word}'")

    labels = (SILENCE_LABEL, UNKNOWN_LABEL, *words)
    if folds is not None:
        speakers = {speaker_id(p) for paths in valid.values() for p in paths}
        if folds > len(speakers):
            raise TinyKWSError(f"{root}: {folds} folds but only {len(speakers)} speakers")
    split_of = _split_rule(is_test_set, resplit_salt, folds, fold, validation_percentage,
                           testing_percentage)
    if is_test_set:
        splits = _test_set_splits(valid, words, split_of)
        background_files = tuple(e.path for e in splits["training"] if e.label == SILENCE_INDEX)
        background = tuple(fit_length(load_wav(p), CLIP_SAMPLES) for p in background_files)
    else:
        splits = _training_splits(valid, words, silence_percentage, unknown_percentage, seed,
                                  split_of)
        background, background_files = (_load_background(root / BACKGROUND_NOISE_DIR)
                                        if has_background else ((), ()))
    if skipped:
        _, problem = skipped[0]
        warnings.warn(f"{root}: skipped {len(skipped)} unreadable clip(s) (first: {problem})",
                      stacklevel=2)
    return DatasetIndex(
        root=str(root),
        layout="test-set" if is_test_set else "training",
        labels=labels,
        splits=splits,
        background=background,
        skipped=len(skipped),
        background_files=background_files,
        silence_percentage=float(silence_percentage),
        unknown_percentage=float(unknown_percentage),
    )


def _normalise_wanted(wanted_words: Iterable[str]) -> tuple[str, ...]:
    if isinstance(wanted_words, str):
        wanted_words = wanted_words.split(",")
    words = tuple(w.strip().lower() for w in wanted_words)
    if not words or any(not w for w in words):
        raise TinyKWSError(f"wanted words must be non-empty names, got {list(wanted_words)!r}")
    if len(set(words)) != len(words):
        raise TinyKWSError(f"wanted words repeat: {', '.join(words)}")
    for word in words:
        if word in _RESERVED:
            raise TinyKWSError(f"'{word}' is a reserved folder name, not a word to spot")
    return words


def _split_rule(is_test_set: bool, resplit_salt: str | None, folds: int | None, fold: int | None,
                validation_percentage: float, testing_percentage: float) -> Callable[[str], str]:
    """``path -> split``: a fold, a salted speaker re-split, all testing, or TF's hash split."""
    if folds is not None:
        salt = resplit_salt if resplit_salt is not None else DEFAULT_FOLD_SALT
        return lambda path: fold_which_set(path, salt, folds, fold, validation_percentage)
    if is_test_set and resplit_salt is not None:
        return lambda path: salted_which_set(path, resplit_salt, validation_percentage,
                                             testing_percentage)
    if is_test_set:
        return lambda path: "testing"
    return lambda path: which_set(path, validation_percentage, testing_percentage)


def _training_splits(valid: dict[str, list[str]], words: tuple[str, ...],
                     silence_percentage: float, unknown_percentage: float, seed: int,
                     split_of: Callable[[str], str]) -> dict[str, tuple[Example, ...]]:
    rng = random.Random(seed)  # TF seeds Python's global `random`; we keep our own instance
    word_index = {word: i + 2 for i, word in enumerate(words)}
    wanted: dict[str, list[Example]] = {split: [] for split in SPLITS}
    unknown: dict[str, list[Example]] = {split: [] for split in SPLITS}
    for path in sorted(p for paths in valid.values() for p in paths):
        word = os.path.basename(os.path.dirname(path)).lower()
        split = split_of(path)
        if word in word_index:
            wanted[split].append(Example(path, word, word_index[word]))
        else:
            unknown[split].append(Example(path, word, UNKNOWN_INDEX))
    for split in _TF_SPLIT_ORDER:
        n = len(wanted[split])
        # TF's arithmetic, in TF's order: ceil(n * percentage / 100).
        silence_count = int(math.ceil(n * silence_percentage / 100))
        wanted[split].extend(Example(None, SILENCE_LABEL, SILENCE_INDEX) for _ in range(silence_count))
        rng.shuffle(unknown[split])
        unknown_count = int(math.ceil(n * unknown_percentage / 100))
        wanted[split].extend(unknown[split][:unknown_count])
    for split in _TF_SPLIT_ORDER:
        rng.shuffle(wanted[split])
    return {split: tuple(wanted[split]) for split in SPLITS}


def _test_set_splits(valid: dict[str, list[str]], words: tuple[str, ...],
                     split_of: Callable[[str], str]) -> dict[str, tuple[Example, ...]]:
    word_index = {word: i + 2 for i, word in enumerate(words)}
    word_index[SILENCE_LABEL] = SILENCE_INDEX
    splits: dict[str, list[Example]] = {split: [] for split in SPLITS}
    for word in sorted(valid):
        for path in valid[word]:
            splits[split_of(path)].append(Example(path, word, word_index.get(word, UNKNOWN_INDEX)))
    return {split: tuple(splits[split]) for split in SPLITS}


def _load_background(folder: Path) -> tuple[tuple[np.ndarray, ...], tuple[str, ...]]:
    paths = sorted(wav_files(folder))
    if not paths:
        raise TinyKWSError(f"{folder}: no background .wav files")
    arrays = []
    for path in paths:
        noise = load_wav(path)  # (n,) float32; a broken noise file is an error, not a skip
        # TF draws the window start from randint(0, len - 16000), which needs len > 16000.
        if len(noise) <= CLIP_SAMPLES:
            raise TinyKWSError(f"{path}: background noise of {len(noise)} samples; more than "
                               f"{CLIP_SAMPLES} (1 s at 16 kHz) are needed")
        arrays.append(noise)
    return tuple(arrays), tuple(paths)
