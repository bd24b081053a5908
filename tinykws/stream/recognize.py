"""micro_speech's post-processing: from per-window scores to detected commands.

A port of ``RecognizeCommands`` (tflite-micro's micro_speech example,
``recognize_commands.cc``). The model runs on the latest 1 s of audio every
stride (20 ms); each run gives int8 scores. The recognizer

1. keeps the results of the last ``average_window_ms`` (at most 50 of them,
   the C queue's capacity);
2. says nothing until it has at least ``minimum_count`` results spanning a
   quarter of the window;
3. averages each label's score (as ``score + 128``, so 0..255, integer division);
4. reports a *new* command when the top average exceeds
   ``detection_threshold`` and either the label differs from the previous
   command or ``suppression_ms`` have passed since it (a previous command of
   label 0, silence, never suppresses).

Defaults are micro_speech's: 1000 ms, 200 (of 255), 1500 ms, 3.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

MAX_RESULTS = 50  # PreviousResultsQueue::kMaxResults


@dataclass
class RecognizeCommands:
    labels: tuple[str, ...]
    average_window_ms: int = 1000
    detection_threshold: int = 200
    suppression_ms: int = 1500
    minimum_count: int = 3
    _results: deque = field(default_factory=deque, repr=False)
    _previous_label: int = 0
    _previous_time: int | None = None

    def process(self, scores: np.ndarray, time_ms: int) -> tuple[str, int, bool]:
        """Feed the int8 scores of the window ending at ``time_ms``.

        Returns ``(label, average score 0..255, is_new_command)``.
        """
        if self._results and time_ms < self._results[0][0]:
            raise ValueError("results must be fed in increasing time order")
        if len(self._results) < MAX_RESULTS:  # a full C queue drops the newest
            self._results.append((time_ms, np.asarray(scores, np.int64) + 128))
        while self._results and self._results[0][0] < time_ms - self.average_window_ms:
            self._results.popleft()
        count = len(self._results)
        if count < self.minimum_count or time_ms - self._results[0][0] < self.average_window_ms // 4:
            return self.labels[self._previous_label], 0, False
        average = sum(s for _, s in self._results) // count  # (labels,) 0..255
        top = int(np.argmax(average)) if average.max() > 0 else 0
        top_score = int(average[top])
        if self._previous_label == 0 or self._previous_time is None:
            since_last = np.inf
        else:
            since_last = time_ms - self._previous_time
        new = top_score > self.detection_threshold and (
            top != self._previous_label or since_last > self.suppression_ms)
        if new:
            self._previous_label, self._previous_time = top, time_ms
        return self.labels[top], top_score, new


def probabilities_to_int8(p: np.ndarray) -> np.ndarray:
    """Float softmax output -> int8 scores on the int8 model's output scale (1/256, zp -128)."""
    return np.clip(np.round(p * 256) - 128, -128, 127).astype(np.int8)


@dataclass(frozen=True)
class RecognizerSettings:
    """The four arguments of micro_speech's ``RecognizeCommands`` constructor."""

    average_window_ms: int = 1000
    detection_threshold: int = 200  # of 255
    suppression_ms: int = 1500
    minimum_count: int = 3

    def check(self) -> None:
        from tinykws.errors import TinyKWSError

        if not 0 <= self.detection_threshold <= 255:
            raise TinyKWSError(f"detection threshold {self.detection_threshold} is outside 0-255")
        if self.average_window_ms < 1 or self.minimum_count < 1 or self.suppression_ms < 0:
            raise TinyKWSError("the averaging window and minimum count must be positive, "
                               "suppression not negative")

    def as_c(self) -> str:
        """The settings as the sketch writes them (``recognize_commands.h``'s argument order)."""
        return ("static RecognizeCommands static_recognizer(error_reporter, "
                f"/*average_window_duration_ms=*/{self.average_window_ms}, "
                f"/*detection_threshold=*/{self.detection_threshold}, "
                f"/*suppression_ms=*/{self.suppression_ms}, "
                f"/*minimum_count=*/{self.minimum_count});")


def new_commands(times_ms: np.ndarray, scores: np.ndarray, settings: RecognizerSettings):
    """Every new command of a whole stream, as :class:`RecognizeCommands` finds them one by one.

    ``times_ms`` (T,) increasing, ``scores`` (T, labels) int8. Returns
    ``(indices, labels, average scores)``, each (D,) int64: the window that
    fired, its label index and its average score. Bit for bit the reference's
    answers (tests compare them); a Numba loop, so a detection-threshold
    sweep over hours of audio takes seconds.
    """
    from kernels.recognize import new_commands as kernel

    times_ms = np.ascontiguousarray(times_ms, np.int64)
    plus128 = np.ascontiguousarray(scores, np.int64) + 128  # (T, labels) 0..255
    return kernel(times_ms, plus128, settings.average_window_ms, settings.detection_threshold,
                  settings.suppression_ms, settings.minimum_count, MAX_RESULTS)
