"""DET curves and post-processing calibration over scored streams.

The model's scores of a stream are computed once; what a deployment then
tunes is ``RecognizeCommands``: the averaging window, the detection
threshold, the suppression time and the minimum count. Each setting gives a
pair (miss rate, false alarms per hour), and the counts behind the pair add up
over streams (one per cross-validation fold, each scored by its own model).

- :func:`sweep` evaluates a grid of settings: the recognizer
  (:func:`tinykws.stream.recognize.new_commands`) and the matching rule
  (:mod:`tinykws.stream.scoring`) run as Numba loops, so the full grid over
  hours of audio takes seconds.
- :func:`det_curve` is the **DET curve**: miss rate against false alarms
  per hour as the threshold sweeps 0..255, one curve per averaging window
  (suppression and minimum count held). Read off it, :func:`miss_at` gives the
  miss rate at a false-alarm rate, with the threshold chosen *on the same
  audio*: a description of the model, optimistic for a deployment.
- :func:`calibrate` is the deployment's answer: pick the setting on streams of
  **validation** speakers, for a target false-alarm rate, then report it on
  the test speakers. Rule: among settings whose validation rate is at most
  the target, the fewest misses (ties: fewer false alarms, then the higher
  threshold); when none reaches the target, the fewest false alarms.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from tinykws.stats import poisson_rate_interval, wilson_interval
from tinykws.stream.recognize import RecognizerSettings, new_commands
from tinykws.stream.scoring import MATCH_WINDOW_MS

WINDOWS_MS = (250, 500, 750, 1000)  # 1000: the C queue's 50 results at 20 ms
SUPPRESSIONS_MS = (500, 1000, 1500)
MINIMUM_COUNTS = (1, 3, 5)
THRESHOLDS = tuple(range(256))


@dataclass
class ScoredStream:
    """A stream's int8 scores and its ground truth, ready for sweeps."""

    times_ms: np.ndarray  # (T,) int64
    scores: np.ndarray  # (T, labels) int8
    labels: tuple[str, ...]
    onsets_ms: np.ndarray  # (U,) int64, sorted
    utterance_labels: np.ndarray  # (U,) int64 index into labels, -1 for "_unknown_" not a label
    keywords: tuple[str, ...]
    duration_s: float

    @property
    def is_keyword(self) -> np.ndarray:
        return np.array([l in self.keywords for l in self.labels], bool)  # (labels,)


def scored_stream(times_ms, scores, labels, stream) -> ScoredStream:
    labels = tuple(labels)
    lookup = {l: i for i, l in enumerate(labels)}
    return ScoredStream(np.asarray(times_ms, np.int64), np.asarray(scores, np.int8), labels,
                        np.array([u.onset_ms for u in stream.utterances], np.int64),
                        np.array([lookup.get(u.label, -1) for u in stream.utterances], np.int64),
                        tuple(stream.keywords), stream.duration_s)


def counts(s: ScoredStream, settings: RecognizerSettings,
           window_ms: int = MATCH_WINDOW_MS) -> tuple[int, int, int]:
    """``(keyword utterances, misses, false alarms)`` of one stream at one setting."""
    from kernels.recognize import match_counts

    index, label, _ = new_commands(s.times_ms, s.scores, settings)
    keyword = s.is_keyword
    fired = keyword[label]  # only keywords raise an alarm; silence and unknown are quiet
    utt = np.where(s.utterance_labels >= 0, s.utterance_labels, 0)  # label 0 is never a keyword
    misses, false_alarms = match_counts(s.times_ms[index[fired]], label[fired], s.onsets_ms, utt,
                                        keyword, window_ms)
    return int(keyword[utt].sum()), int(misses), int(false_alarms)


@dataclass(frozen=True)
class Point:
    """One setting's pooled result."""

    settings: RecognizerSettings
    keyword_utterances: int
    misses: int
    false_alarms: int
    hours: float

    @property
    def miss_rate(self) -> float:
        return self.misses / self.keyword_utterances if self.keyword_utterances else 0.0

    @property
    def false_alarms_per_hour(self) -> float:
        return self.false_alarms / self.hours

    def as_dict(self) -> dict:
        return {"settings": asdict(self.settings),
                "miss_rate": wilson_interval(self.misses, self.keyword_utterances).as_dict(),
                "false_alarms_per_hour": poisson_rate_interval(self.false_alarms, self.hours),
                "misses": self.misses, "false_alarms": self.false_alarms,
                "keyword_utterances": self.keyword_utterances, "hours": self.hours}


def evaluate(streams: list[ScoredStream], settings: RecognizerSettings) -> Point:
    """One setting over several streams: the counts summed."""
    total = np.sum([counts(s, settings) for s in streams], axis=0)
    return Point(settings, int(total[0]), int(total[1]), int(total[2]),
                 sum(s.duration_s for s in streams) / 3600.0)


def sweep(streams: list[ScoredStream], windows=WINDOWS_MS, thresholds=THRESHOLDS,
          suppressions=SUPPRESSIONS_MS, minimum_counts=MINIMUM_COUNTS, progress=None) -> list[Point]:
    """Every combination of the four settings (see the module docstring)."""
    points = []
    for w in windows:
        for sup in suppressions:
            for m in minimum_counts:
                for th in thresholds:
                    points.append(evaluate(streams, RecognizerSettings(w, th, sup, m)))
                if progress is not None:
                    progress.update(1)
    return points


def det_curve(streams, windows=WINDOWS_MS, suppression_ms: int = 1500, minimum_count: int = 3,
              thresholds=THRESHOLDS) -> dict[int, list[Point]]:
    """Per averaging window, the points of a full threshold sweep."""
    return {w: [evaluate(streams, RecognizerSettings(w, th, suppression_ms, minimum_count))
                for th in thresholds] for w in windows}


def miss_at(points: list[Point], false_alarms_per_hour: float) -> Point | None:
    """The point with the fewest misses whose false-alarm rate is at most the given one."""
    fine = [p for p in points if p.false_alarms_per_hour <= false_alarms_per_hour]
    if not fine:
        return None
    return min(fine, key=lambda p: (p.misses, p.false_alarms, -p.settings.detection_threshold))


def calibrate(validation: list[Point], target_per_hour: float) -> tuple[Point, bool]:
    """The chosen setting on validation streams, and whether it meets the target."""
    chosen = miss_at(validation, target_per_hour)
    if chosen is not None:
        return chosen, True
    return min(validation, key=lambda p: (p.false_alarms, p.misses,
                                          -p.settings.detection_threshold)), False
