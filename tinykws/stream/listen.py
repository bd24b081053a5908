"""Slide a model over a long recording and collect detections.

The micro frontend runs once over the whole recording (frames every 20 ms);
window ``t`` is the 49 frames ending at frame ``t`` — the last second of audio
at time ``(t + 1) * 20 ms + 10 ms`` — exactly what micro_speech feeds its
model each stride. Scores go through :class:`RecognizeCommands`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinykws.stream.device import WINDOW_FRAMES, window_end_ms
from tinykws.stream.recognize import RecognizeCommands, probabilities_to_int8


@dataclass(frozen=True)
class Detection:
    label: str
    time_s: float  # end of the audio window that fired
    score: int  # average score 0..255


def window_scores(model, samples: np.ndarray, batch: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Scores of every 1 s window: ``(times_ms (T,), int8 scores (T, labels))``."""
    from tinykws.features.micro_frontend import MicroFrontendConfig, micro_features_numba
    from tinykws.features.model_input import to_float_model_input
    from tinykws.nn.loss import log_softmax

    config = MicroFrontendConfig()
    features = to_float_model_input(micro_features_numba(samples, config))  # (F, 40)
    n = len(features) - WINDOW_FRAMES + 1
    if n <= 0:
        return np.zeros(0, np.int64), np.zeros((0, model.shapes()[-1][0]), np.int8)
    windows = np.lib.stride_tricks.sliding_window_view(features, (WINDOW_FRAMES, 40))[:, 0]  # (n, 49, 40)
    scores = []
    for i in range(0, n, batch):
        logits = model.forward(windows[i:i + batch, :, :, None])
        scores.append(probabilities_to_int8(np.exp(log_softmax(logits))))
    return window_end_ms(n, config), np.concatenate(scores)


def detect(times_ms: np.ndarray, scores: np.ndarray, recognizer: RecognizeCommands,
           keywords_only: bool = True) -> list[Detection]:
    """Run the recognizer over the scores; keep new commands (keywords only by default)."""
    found = []
    for t, s in zip(times_ms, scores):
        label, score, new = recognizer.process(s, int(t))
        if new and (not keywords_only or not label.startswith("_")):
            found.append(Detection(label, t / 1000.0, score))
    return found
