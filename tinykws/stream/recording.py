"""Test recordings for streaming evaluation: held-out voices over real background, with labels.

A keyword spotter is judged on a stream: words arrive at unknown times among
other words and noise. This module builds such a stream from one split of a
data set, so its speakers are ones the model never heard (the test split, or
the validation split for calibration), and remembers every utterance.

Two recipes:

``style="tinykws"`` (the default)
    Utterances one after another with a gap drawn uniformly from ``gap_ms``
    before each. Each is a keyword with probability ``1 - unknown_share``
    (keywords equally likely) or else another word (an ``_unknown_`` clip).
    Under everything runs a continuous **underlay** of the data set's recorded
    background noise (``_background_noise_``; for the test-set layout the
    recorded ``_silence_`` clips); around each utterance its level is set so that the
    clip's signal-to-noise ratio is one of ``snrs_db`` (drawn per utterance):
    ``SNR = 20 log10(rms(clip) / rms(noise))``. The level changes linearly
    over 50 ms between utterances.
``style="tf"``
    TensorFlow's ``generate_streaming_test_wav.py``: background segments of
    1.5 s every 1 s (250 ms ramps, shorter with shorter noise files), each at a
    volume drawn from ``U(0, background_volume)``; word ``i`` starts at
    ``i * (1 s + word_gap) + U{0, word_gap}``, mixed in at volume 1 with
    500-sample ramps; ``unknown_share`` of them are ``_unknown_``.

Clips are drawn without replacement within each class and reused, in a new
shuffled order, only when a class's clips run out (a long stream from a small
split repeats clips, under other noise; :attr:`Stream.distinct_clips` says
how many). Everything is deterministic given the seed.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field

import numpy as np

from tinykws.audio import fit_length, load_wav, to_int16
from tinykws.data.split import speaker_id
from tinykws.errors import TinyKWSError

SR = 16000
CLIP_MS = 1000
UNKNOWN = "_unknown_"


@dataclass(frozen=True)
class Utterance:
    """One spoken word of the stream."""

    label: str  # a keyword, or "_unknown_" for any other word
    onset_ms: int  # where its 1 s clip starts
    speaker: str
    word: str  # what was said (the keyword, or the other word when its file tells)
    snr_db: float | None  # None for the TF recipe (its noise level is random)
    clip: str  # file name, for tracing a miss back to its recording


@dataclass(frozen=True)
class StreamSpec:
    """How to build a stream (every field is recorded in ``stream.json``)."""

    minutes: float = 30.0
    seed: int = 0
    style: str = "tinykws"  # or "tf"
    snrs_db: tuple[float, ...] = (20.0, 10.0, 5.0)
    gap_ms: tuple[int, int] = (1000, 3000)  # tinykws: gap before each utterance
    unknown_share: float = 0.3  # TF's generate_streaming_test_wav default, 30 %
    word_gap_ms: int = 2000  # tf
    background_volume: float = 0.1  # tf

    def check(self) -> None:
        if self.style not in ("tinykws", "tf"):
            raise TinyKWSError(f"stream style must be 'tinykws' or 'tf', not {self.style!r}")
        if self.minutes * 60 * 1000 < CLIP_MS:
            raise TinyKWSError(f"a stream of {self.minutes * 60:.2f} s is shorter than one 1 s window")
        if not 0 <= self.unknown_share < 1:
            raise TinyKWSError("the unknown share must be in [0, 1)")
        if not self.snrs_db:
            raise TinyKWSError("give at least one SNR")
        if self.gap_ms[0] < 0 or self.gap_ms[1] < self.gap_ms[0]:
            raise TinyKWSError(f"gap range {self.gap_ms} is not an increasing pair of non-negative ms")


@dataclass
class Stream:
    """A recording and what was said in it."""

    samples: np.ndarray  # (n,) int16 at 16 kHz
    utterances: list[Utterance]
    spec: StreamSpec
    split: str
    keywords: tuple[str, ...]
    distinct_clips: int = 0
    speakers: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return len(self.samples) / SR

    def describe(self) -> dict:
        """Everything but the samples, for ``stream.json``."""
        return {"split": self.split, "duration_s": self.duration_s, "keywords": list(self.keywords),
                "spec": asdict(self.spec), "utterances": len(self.utterances),
                "keyword_utterances": sum(u.label in self.keywords for u in self.utterances),
                "distinct_clips": self.distinct_clips, "speakers": self.speakers}

    def labels_csv(self) -> str:
        """The ground truth as TF's ``test_streaming_accuracy`` reads it: ``label, time_ms`` lines."""
        return "".join(f"{u.label}, {u.onset_ms:.6f}\n" for u in self.utterances)


def spoken_word(path: str, folder_word: str) -> str:
    """The word said in a clip: its folder, or for the test set's ``_unknown_`` folder the
    file name's prefix (``backward_0c540988_nohash_0.wav`` -> ``backward``)."""
    if folder_word != UNKNOWN:
        return folder_word
    name = os.path.basename(path)
    prefix = name.split("_nohash_")[0].rsplit("_", 1)
    return prefix[0] if len(prefix) == 2 else UNKNOWN


class _ClipPools:
    """Each class's clips in a shuffled order, reshuffled when used up."""

    def __init__(self, index, split: str, keywords: tuple[str, ...], rng: np.random.Generator):
        self.pools: dict[str, list] = {k: [] for k in (*keywords, UNKNOWN)}
        for e in index.splits[split]:
            if e.path is None or e.label == 0:
                continue  # silence examples are noise, not words
            name = index.labels[e.label]
            # a model word the caller did not ask to spot counts as another word
            self.pools[name if name in keywords else UNKNOWN].append(e)
        for k in keywords:
            if not self.pools[k]:
                raise TinyKWSError(f"split {split!r} has no clips of keyword {k!r}")
        self.rng = rng
        self.order: dict[str, list] = {k: [] for k in self.pools}
        self.used: set[str] = set()

    def has(self, label: str) -> bool:
        return bool(self.pools[label])

    def draw(self, label: str):
        if not self.order[label]:
            self.order[label] = [self.pools[label][i] for i in self.rng.permutation(len(self.pools[label]))]
        example = self.order[label].pop()
        self.used.add(example.path)
        return example


def build_stream(index, keywords: tuple[str, ...], spec: StreamSpec = StreamSpec(),
                 split: str = "testing") -> Stream:
    """Build a stream from ``index``'s ``split`` (see the module docstring)."""
    spec.check()
    missing = [k for k in keywords if k not in index.labels]
    if missing:
        raise TinyKWSError(f"the data's labels {list(index.labels)} lack the keywords {missing}")
    rng = np.random.default_rng(spec.seed)
    pools = _ClipPools(index, split, tuple(keywords), rng)
    background = list(index.background) or [  # the test-set layout unsplit: its silence clips
        fit_length(load_wav(e.path), SR) for e in index.splits[split] if e.label == 0 and e.path]
    background = [b for b in background if np.sqrt(np.mean(np.square(b))) > 1e-5]
    if not background:
        raise TinyKWSError(f"{index.root}: no recorded background noise to put under the stream")
    n = int(round(spec.minutes * 60 * SR))
    build = _tinykws_stream if spec.style == "tinykws" else _tf_stream
    track, utterances = build(n, pools, tuple(keywords), background, spec, rng)
    return Stream(to_int16(np.clip(track, -1.0, 1.0)), utterances, spec, split, tuple(keywords),
                  distinct_clips=len(pools.used), speakers=len({u.speaker for u in utterances}))


def _pick_label(pools: _ClipPools, keywords, unknown_share: float, rng) -> str:
    if pools.has(UNKNOWN) and rng.uniform() < unknown_share:
        return UNKNOWN
    return keywords[int(rng.integers(len(keywords)))]


def _utterance(example, label: str, onset: int, snr_db) -> Utterance:
    return Utterance(label, int(round(onset * 1000 / SR)), speaker_id(example.path),
                     spoken_word(example.path, example.word), snr_db, os.path.basename(example.path))


def _background_segment(background) -> tuple[int, int]:
    """``(segment, ramp)`` in samples: 1.5 s pieces (shorter with shorter noise), 1/6 of it ramps."""
    segment = min(int(1.5 * SR), min(len(b) for b in background))
    return segment, segment // 6


def _background_pieces(n: int, background, segment: int, stride: int, rng):
    """``(start, piece)`` every ``stride`` samples up to ``n``: a random ``segment``-long
    stretch of a random background recording."""
    for start in range(0, n, stride):
        source = background[int(rng.integers(len(background)))]
        offset = int(rng.integers(0, len(source) - segment + 1))
        yield start, source[offset:offset + segment]


def _underlay(n: int, background, rng) -> np.ndarray:
    """Continuous noise ``(n,)`` of unit RMS: background pieces, each scaled to unit RMS,
    cross-faded one into the next."""
    segment, ramp = _background_segment(background)
    stride = segment - ramp  # each piece fades out exactly while the next fades in
    out = np.zeros(n + segment, np.float32)
    # Power-complementary fades (sin^2 + cos^2 = 1): two independent noises
    # overlapping in a fade keep the power of one.
    i = np.arange(segment, dtype=np.float32)
    envelope = np.sin(0.5 * np.pi * np.minimum(1.0, np.minimum(i / ramp, (segment - i) / ramp)))
    for start, piece in _background_pieces(n, background, segment, stride, rng):
        out[start:start + segment] += piece / np.sqrt(np.mean(np.square(piece)) + 1e-12) * envelope
    return out[:n]


def _envelope(length: int, ramp_in: int, ramp_out: int) -> np.ndarray:
    """Linear fade in over ``ramp_in`` samples and out over the last ``ramp_out``: ``(length,)``."""
    i = np.arange(length, dtype=np.float32)
    e = np.ones(length, np.float32)
    if ramp_in:
        e = np.minimum(e, i / ramp_in)
    if ramp_out:
        e = np.minimum(e, (length - i) / ramp_out)
    return e


def _tinykws_stream(n, pools, keywords, background, spec: StreamSpec, rng):
    speech = np.zeros(n, np.float32)
    regions = []  # (start, end, noise gain): an utterance and the gap before it
    utterances = []
    t = 0
    while True:
        gap = int(rng.uniform(*spec.gap_ms) * SR / 1000)
        onset = t + gap
        if onset + SR > n:
            break
        label = _pick_label(pools, keywords, spec.unknown_share, rng)
        example = pools.draw(label)
        clip = fit_length(load_wav(example.path), SR)
        snr = float(spec.snrs_db[int(rng.integers(len(spec.snrs_db)))])
        rms = float(np.sqrt(np.mean(np.square(clip))))
        speech[onset:onset + SR] += clip
        regions.append((t, onset + SR, rms / 10 ** (snr / 20)))  # the underlay has RMS 1
        utterances.append(_utterance(example, label, onset, snr))
        t = onset + SR
    if not utterances:
        raise TinyKWSError(f"a stream of {n / SR:.1f} s holds no whole utterance; make it longer")
    regions[-1] = (regions[-1][0], n, regions[-1][2])  # the tail keeps the last level
    mix = speech + _piecewise(n, regions, [g for _, _, g in regions]) * _underlay(n, background, rng)
    # A loud clip at a low SNR would clip: scale its region (word and noise alike, so
    # the SNR holds) to stay below full scale.
    level = [min(1.0, 0.98 / max(float(np.abs(mix[a:b]).max()), 1e-9)) for a, b, _ in regions]
    return mix * _piecewise(n, regions, level), utterances


def _piecewise(n: int, regions, values, fade: int = SR // 20) -> np.ndarray:
    """``(n,)``: ``values[k]`` over region ``k``, changing linearly over the first 50 ms of
    each region (a gap: only noise there)."""
    knots_t, knots_v = [], []
    for (a, b, _), v in zip(regions, values):
        knots_t += [a, min(a + fade, b - 1), b - 1] if knots_t else [a, b - 1]
        knots_v += [knots_v[-1], v, v] if knots_v else [v, v]
    return np.interp(np.arange(n), knots_t, knots_v).astype(np.float32)


def _tf_stream(n, pools, keywords, background, spec: StreamSpec, rng):
    track = np.zeros(n, np.float32)
    segment, ramp = _background_segment(background)
    stride = segment - 2 * ramp  # TF: 1.5 s segments every 1 s, 250 ms ramps
    envelope = _envelope(segment, ramp, ramp)
    for start, piece in _background_pieces(n, background, segment, stride, rng):
        end = min(start + segment, n)
        volume = rng.uniform(0, spec.background_volume)
        track[start:end] += (piece * envelope * volume)[:end - start]
    gap = spec.word_gap_ms * SR // 1000
    word_stride = SR + gap
    word_envelope = _envelope(SR, 500, 500)
    utterances = []
    for i in range(n // word_stride):
        onset = i * word_stride + int(rng.integers(gap)) if gap else i * word_stride
        label = _pick_label(pools, keywords, spec.unknown_share, rng)
        example = pools.draw(label)
        clip = fit_length(load_wav(example.path), SR)
        end = min(onset + SR, n)
        track[onset:end] += (clip * word_envelope)[:end - onset]
        utterances.append(_utterance(example, label, onset, None))
    if not utterances:
        raise TinyKWSError(f"a stream of {n / SR:.1f} s holds no whole utterance; make it longer")
    return track, utterances
